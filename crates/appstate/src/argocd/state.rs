//! An Argo CD Application → ferry's [`AppState`] (SPEC §6): sync status,
//! the revision of the promoted source, health with its message, the
//! resources that are not healthy, and the link into Argo CD's UI.

use super::types::ArgoApplication;
use crate::{AppRef, AppState, Health, ResourceHealth, SyncStatus};

/// The state of `app` as ferry reports it. `ui_base` is Argo CD's UI root.
pub fn app_state(doc: &ArgoApplication, app: &AppRef, ui_base: &str) -> AppState {
    let status = &doc.status;
    let sync = SyncStatus::parse(status.sync.status.as_deref().unwrap_or(""));
    let health = Health::parse(status.health.status.as_deref().unwrap_or(""));
    let unhealthy: Vec<ResourceHealth> = status
        .resources
        .iter()
        .flatten()
        .filter_map(|r| {
            let h = r.health.as_ref()?;
            let health = Health::parse(h.status.as_deref()?);
            (health != Health::Healthy).then(|| ResourceHealth {
                kind: r.kind.clone(),
                namespace: r.namespace.clone().filter(|n| !n.is_empty()),
                name: r.name.clone(),
                health,
                message: h.message.clone().filter(|m| !m.is_empty()),
            })
        })
        .collect();
    // Argo CD often leaves the application's own health message empty and
    // puts the reason on the resource; a failed sync puts it on the
    // operation. Take the first that says something.
    let failed_operation = status
        .operation_state
        .as_ref()
        .filter(|o| matches!(o.phase.as_deref(), Some("Failed" | "Error")));
    let message = status
        .health
        .message
        .clone()
        .filter(|m| !m.is_empty())
        .or_else(|| {
            unhealthy
                .iter()
                .find(|r| r.health == health)
                .and_then(|r| r.message.clone())
        })
        .or_else(|| failed_operation.and_then(|o| o.message.clone()));
    AppState {
        sync,
        revision: revision_of(doc, app),
        health,
        message,
        link: Some(ui_link(ui_base, doc)),
        unhealthy,
    }
}

/// The synced revision of the promoted source: `status.sync.revision`, or
/// for a multi-source application the entry of `revisions` at the index
/// of the source with the application's repository and path.
fn revision_of(doc: &ArgoApplication, app: &AppRef) -> Option<String> {
    let sync = &doc.status.sync;
    if let Some(r) = sync.revision.as_ref().filter(|r| !r.is_empty()) {
        return Some(r.clone());
    }
    let revisions = sync.revisions.as_ref()?;
    let index = doc
        .spec
        .get("sources")
        .and_then(serde_json::Value::as_array)
        .and_then(|sources| {
            sources.iter().position(|s| {
                s.get("repoURL").and_then(serde_json::Value::as_str) == Some(app.repo_url.as_str())
                    && s.get("path").and_then(serde_json::Value::as_str) == Some(app.path.as_str())
            })
        })
        .unwrap_or(0);
    revisions.get(index).cloned()
}

/// `<base>/applications/<namespace>/<name>` (or without the namespace when
/// Argo CD did not say), as Argo CD's UI routes it.
pub fn ui_link(ui_base: &str, doc: &ArgoApplication) -> String {
    let base = ui_base.trim_end_matches('/');
    match doc.metadata.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => format!("{base}/applications/{ns}/{}", doc.metadata.name),
        None => format!("{base}/applications/{}", doc.metadata.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_ref() -> AppRef {
        AppRef {
            name: "web-qa".into(),
            namespace: Some("web-qa".into()),
            repo_url: "https://git.example/gitops.git".into(),
            path: "apps/web/qa".into(),
            target_revision: "main".into(),
        }
    }

    #[test]
    fn degraded_reads_message_resources_and_link() {
        let doc: ArgoApplication = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-qa", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "https://git.example/gitops.git", "path": "apps/web/qa"}},
            "status": {
                "sync": {"status": "Synced", "revision": "abc"},
                "health": {"status": "Degraded"},
                "resources": [
                    {"version": "v1", "kind": "Service", "namespace": "web-qa", "name": "web", "status": "Synced", "health": {"status": "Healthy"}},
                    {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web-qa", "name": "web", "status": "Synced",
                     "health": {"status": "Degraded", "message": "Deployment \"web\" exceeded its progress deadline"}},
                    {"version": "v1", "kind": "ConfigMap", "namespace": "web-qa", "name": "cfg", "status": "Synced"}
                ]
            }
        }))
        .unwrap();
        let s = app_state(&doc, &app_ref(), "https://argocd.example/");
        assert_eq!(s.sync, SyncStatus::Synced);
        assert_eq!(s.health, Health::Degraded);
        assert_eq!(s.revision.as_deref(), Some("abc"));
        assert_eq!(
            s.message.as_deref(),
            Some("Deployment \"web\" exceeded its progress deadline")
        );
        assert_eq!(s.unhealthy.len(), 1);
        assert_eq!(
            s.unhealthy[0].to_string(),
            "Deployment web-qa/web: Degraded: Deployment \"web\" exceeded its progress deadline"
        );
        assert_eq!(
            s.link.as_deref(),
            Some("https://argocd.example/applications/argocd/web-qa")
        );
    }

    #[test]
    fn multi_source_revision_is_the_promoted_sources() {
        let doc: ArgoApplication = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web-qa"},
            "spec": {"sources": [
                {"repoURL": "https://charts.example", "chart": "web"},
                {"repoURL": "https://git.example/gitops.git", "path": "apps/web/qa"}
            ]},
            "status": {"sync": {"status": "OutOfSync", "revisions": ["1.2.3", "def"]},
                       "health": {"status": "Suspended"},
                       "operationState": {"phase": "Failed", "message": "one or more objects failed to apply"}}
        }))
        .unwrap();
        let s = app_state(&doc, &app_ref(), "https://argocd.example");
        assert_eq!(s.revision.as_deref(), Some("def"));
        assert_eq!(s.sync, SyncStatus::OutOfSync);
        assert_eq!(s.health, Health::Suspended);
        assert_eq!(
            s.message.as_deref(),
            Some("one or more objects failed to apply")
        );
        assert_eq!(
            s.link.as_deref(),
            Some("https://argocd.example/applications/web-qa")
        );
    }
}
