//! Discovery (SPEC §6): Applications that live only in Argo CD join the
//! configuration when they carry the product annotation. They become the
//! model's [`Application`]s with an [`Origin`] naming the instance
//! (`argocd://<instance>/<namespace>/<name>`), so diagnostics say where
//! they came from and the state router binds them to that instance.

use ferry_model::resource::{Application, ApplicationSpec, ObjectMeta};
use ferry_model::{Diagnostic, Origin};

use super::types::ArgoApplication;

/// Product membership (SPEC §1.1).
pub const PRODUCT_ANNOTATION: &str = "codefresh.io/product";

/// Binds an Application to an Argo CD instance by name.
pub const INSTANCE_ANNOTATION: &str = "ferry.io/argocd-instance";

const ORIGIN_SCHEME: &str = "argocd://";

/// Where a discovered application is said to come from.
pub fn origin_file(instance: &str, doc: &ArgoApplication) -> String {
    format!(
        "{ORIGIN_SCHEME}{instance}/{}/{}",
        doc.metadata.namespace.as_deref().unwrap_or("-"),
        doc.metadata.name
    )
}

/// The instance a discovered application came from.
pub fn instance_of(app: &Application) -> Option<&str> {
    app.origin
        .file
        .strip_prefix(ORIGIN_SCHEME)
        .and_then(|rest| rest.split('/').next())
}

/// The annotated applications among `docs`, as model Applications; one
/// whose spec ferry cannot read is reported and left out.
pub fn discover(
    instance: &str,
    docs: &[impl AsRef<ArgoApplication>],
) -> (Vec<Application>, Vec<Diagnostic>) {
    let mut apps = Vec::new();
    let mut diagnostics = Vec::new();
    for doc in docs {
        let doc = doc.as_ref();
        if doc.annotation(PRODUCT_ANNOTATION).is_none() {
            continue;
        }
        let origin = Origin {
            file: origin_file(instance, doc),
            pos: Default::default(),
        };
        match serde_json::from_value::<ApplicationSpec>(doc.spec.clone()) {
            Ok(spec) => apps.push(Application {
                metadata: ObjectMeta {
                    name: doc.metadata.name.clone(),
                    namespace: doc.metadata.namespace.clone(),
                    labels: doc.metadata.labels.clone().unwrap_or_default().into(),
                    annotations: doc.metadata.annotations.clone().unwrap_or_default().into(),
                    ..ObjectMeta::default()
                },
                spec,
                origin,
            }),
            Err(e) => diagnostics.push(Diagnostic::error(
                &origin,
                "spec",
                format!("discovered application cannot be read: {e}"),
            )),
        }
    }
    (apps, diagnostics)
}

impl AsRef<ArgoApplication> for ArgoApplication {
    fn as_ref(&self) -> &ArgoApplication {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_annotated_applications_are_discovered() {
        let docs: Vec<ArgoApplication> = serde_json::from_value(serde_json::json!([
            {"metadata": {"name": "web-dev", "namespace": "argocd",
                          "annotations": {"codefresh.io/product": "shop"}, "labels": {"team": "a"}},
             "spec": {"project": "default",
                      "source": {"repoURL": "https://git.example/gitops.git", "path": "apps/web/dev", "targetRevision": "main"},
                      "destination": {"server": "https://kubernetes.default.svc", "namespace": "web-dev"},
                      "syncPolicy": {"automated": {"prune": true}}}},
            {"metadata": {"name": "infra"},
             "spec": {"source": {"repoURL": "x"}, "destination": {"name": "in-cluster"}}},
            {"metadata": {"name": "broken", "annotations": {"codefresh.io/product": "shop"}},
             "spec": {"source": {"path": "no-repo"}}}
        ]))
        .unwrap();
        let (apps, diags) = discover("east", &docs);
        assert_eq!(apps.len(), 1);
        let a = &apps[0];
        assert_eq!(a.name(), "web-dev");
        assert_eq!(a.target_revision(), "main");
        assert_eq!(a.metadata.labels.get("team").map(String::as_str), Some("a"));
        assert_eq!(a.origin.file, "argocd://east/argocd/web-dev");
        assert_eq!(instance_of(a), Some("east"));
        assert_eq!(diags.len(), 1);
        assert!(
            diags[0].to_string().starts_with("argocd://east/-/broken:"),
            "{}",
            diags[0]
        );
    }
}
