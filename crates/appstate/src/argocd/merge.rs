//! Merging discovered applications into the configuration read from the
//! configuration source.
//!
//! The manifest wins: a team that writes an Application down has decided
//! what it is, and the configuration source is reviewed and versioned
//! while Argo CD's copy may have been edited by hand. Where the two
//! disagree on what ferry uses (promoted repository, path, branch,
//! destination, product) the difference is reported as a warning at the
//! manifest, so `ferry validate` and the configuration status show it
//! without rejecting an otherwise good configuration.

use ferry_model::resource::Application;
use ferry_model::{Diagnostic, Loaded};

use super::discovery::{PRODUCT_ANNOTATION, instance_of};

/// What a merge did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeReport {
    /// Discovered applications added to the configuration.
    pub added: usize,
    /// Discovered applications that a manifest already defines.
    pub already_defined: usize,
    /// Disagreements, also appended to the configuration's diagnostics.
    pub conflicts: Vec<Diagnostic>,
}

/// Adds `discovered` to `loaded` (manifests win; see the module docs).
pub fn merge(loaded: &mut Loaded, discovered: Vec<Application>) -> MergeReport {
    let mut report = MergeReport::default();
    for app in discovered {
        let existing = loaded
            .config
            .applications
            .iter()
            .find(|m| same_application(m, &app));
        match existing {
            Some(m) if instance_of(m).is_none() => {
                report.already_defined += 1;
                for (field, ours, theirs) in differences(m, &app) {
                    report.conflicts.push(Diagnostic::warning(
                        &m.origin,
                        field,
                        format!(
                            "application `{}` differs from its copy in Argo CD ({}): `{ours}` here, `{theirs}` there; the manifest is used",
                            m.name(),
                            app.origin.file
                        ),
                    ));
                }
            }
            Some(m) => report.conflicts.push(Diagnostic::warning(
                &app.origin,
                "metadata.name",
                format!(
                    "application `{}` is also discovered at {}; the first one is used",
                    app.name(),
                    m.origin.file
                ),
            )),
            None => {
                loaded.config.applications.push(app);
                report.added += 1;
            }
        }
    }
    loaded.config.reindex();
    loaded.diagnostics.extend(report.conflicts.iter().cloned());
    report
}

/// Same name, and same namespace where both say one. Manifests often
/// leave `metadata.namespace` out while Argo CD always has it.
fn same_application(a: &Application, b: &Application) -> bool {
    a.name() == b.name()
        && match (&a.metadata.namespace, &b.metadata.namespace) {
            (Some(x), Some(y)) => x == y,
            _ => true,
        }
}

/// (field, manifest value, Argo CD value) for each used field that differs.
fn differences(m: &Application, d: &Application) -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    let show = |v: Option<&str>| v.unwrap_or("(unset)").to_owned();
    let (ms, ds) = (m.promoted_source(), d.promoted_source());
    let pairs: [(&'static str, Option<&str>, Option<&str>); 6] = [
        (
            "spec.source.repoURL",
            ms.map(|s| s.repo_url.as_str()),
            ds.map(|s| s.repo_url.as_str()),
        ),
        (
            "spec.source.path",
            ms.and_then(|s| s.path.as_deref()),
            ds.and_then(|s| s.path.as_deref()),
        ),
        (
            "spec.source.targetRevision",
            Some(m.target_revision()),
            Some(d.target_revision()),
        ),
        (
            "spec.destination.namespace",
            m.spec.destination.namespace.as_deref(),
            d.spec.destination.namespace.as_deref(),
        ),
        (
            "spec.destination",
            m.spec
                .destination
                .name
                .as_deref()
                .or(m.spec.destination.server.as_deref()),
            d.spec
                .destination
                .name
                .as_deref()
                .or(d.spec.destination.server.as_deref()),
        ),
        (
            "metadata.annotations",
            m.metadata
                .annotations
                .get(PRODUCT_ANNOTATION)
                .map(String::as_str),
            d.metadata
                .annotations
                .get(PRODUCT_ANNOTATION)
                .map(String::as_str),
        ),
    ];
    for (field, a, b) in pairs {
        if a != b {
            out.push((field, show(a), show(b)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::discovery::discover;
    use crate::argocd::types::ArgoApplication;

    const MANIFESTS: &str = r#"apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [web-dev, api-dev]}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-dev
  annotations: {codefresh.io/product: shop}
spec:
  source: {repoURL: 'https://git.example/gitops.git', path: apps/web/dev, targetRevision: main}
  destination: {name: in-cluster, namespace: web-dev}
"#;

    fn argo(name: &str, path: &str) -> ArgoApplication {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "argocd", "annotations": {"codefresh.io/product": "shop"}},
            "spec": {"source": {"repoURL": "https://git.example/gitops.git", "path": path, "targetRevision": "main"},
                     "destination": {"name": "in-cluster", "namespace": name}}
        }))
        .unwrap()
    }

    #[test]
    fn discovered_applications_join_and_conflicts_are_reported() {
        let mut loaded = ferry_model::load(&[ferry_model::SourceFile {
            path: "apps.yaml".into(),
            text: MANIFESTS.into(),
        }]);
        assert!(!loaded.has_errors());
        let (apps, _) = discover(
            "east",
            &[
                argo("web-dev", "apps/web/elsewhere"),
                argo("api-dev", "apps/api/dev"),
            ],
        );
        let report = merge(&mut loaded, apps);
        assert_eq!(report.added, 1);
        assert_eq!(report.already_defined, 1);
        assert_eq!(report.conflicts.len(), 1, "{:?}", report.conflicts);
        let text = report.conflicts[0].to_string();
        assert!(
            text.starts_with("apps.yaml:9:9: warning: spec.source.path:"),
            "{text}"
        );
        assert!(
            text.contains("`apps/web/dev` here, `apps/web/elsewhere` there"),
            "{text}"
        );
        assert!(text.contains("argocd://east/argocd/web-dev"), "{text}");
        // The merged application is a member of the product in its environment.
        let membership = ferry_model::Membership::compute(&loaded.config);
        let shop = membership.product("shop").unwrap();
        let names: Vec<&str> = shop
            .in_environment("dev")
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["web-dev", "api-dev"]);
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.message.contains("elsewhere"))
        );

        // The same application discovered twice (two instances): the first stays.
        let (again, _) = discover("west", &[argo("api-dev", "apps/api/dev")]);
        let report = merge(&mut loaded, again);
        assert_eq!(report.added, 0);
        assert!(report.conflicts[0].message.contains("also discovered"));
    }
}
