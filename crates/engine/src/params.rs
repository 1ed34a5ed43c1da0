//! Workflow arguments (SPEC §4.6, §5).

use std::collections::BTreeMap;

use ferry_release::{ApplicationRun, Release};

/// Arguments of a pre- or post-action of `app` in `environment`. A
/// post-action (`post`) always gets the four `COMMIT_*` arguments — empty
/// when there is no promotion commit (`pr`, `none`, nothing to change) —
/// because templates declare them, and a declared argument without a
/// value fails the workflow on Argo and on the local executor alike.
pub(crate) fn action_params(
    release: &Release,
    release_url: &str,
    runtime: &str,
    environment: &str,
    app: &ApplicationRun,
    post: bool,
    commit: Option<&CommitFacts>,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("APP_NAME".into(), app.name.clone());
    p.insert(
        "APP_NAMESPACE".into(),
        app.namespace.clone().unwrap_or_default(),
    );
    p.insert("REPO_URL".into(), app.repo_url.clone());
    p.insert("BRANCH".into(), app.target_revision.clone());
    p.insert("PATH".into(), app.path.clone());
    p.insert("RUNTIME".into(), runtime.to_owned());
    p.insert("ENVIRONMENT".into(), environment.to_owned());
    p.insert("PRODUCT_NAME".into(), release.product.clone());
    p.insert("RELEASE_ID".into(), release.id.clone());
    p.insert("RELEASE_URL".into(), release_url.to_owned());
    if post {
        let c = commit.cloned().unwrap_or_default();
        p.insert("COMMIT_SHA".into(), c.sha);
        p.insert("COMMIT_AUTHOR".into(), c.author);
        p.insert("COMMIT_MESSAGE".into(), c.message);
        p.insert("COMMIT_DATE".into(), c.date);
    }
    p
}

/// The promotion commit, for post-actions (empty for `pr` and `none`).
#[derive(Debug, Clone, Default)]
pub(crate) struct CommitFacts {
    pub sha: String,
    pub author: String,
    pub message: String,
    pub date: String,
}

/// Arguments of a hook.
pub(crate) fn hook_params(
    release: &Release,
    release_url: &str,
    failure: Option<(&str, &str)>,
) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    p.insert("RELEASE_URL".into(), release_url.to_owned());
    p.insert("RELEASE_ID".into(), release.id.clone());
    p.insert("PRODUCT_NAME".into(), release.product.clone());
    p.insert(
        "VERSION".into(),
        release.version.clone().unwrap_or_default(),
    );
    p.insert("COMMIT_SHA".into(), release.trigger.sha.clone());
    p.insert("PROMOTION_FLOW_NAME".into(), release.flow.clone());
    if let Some((message, failed)) = failure {
        p.insert("ERROR_MESSAGE".into(), message.to_owned());
        p.insert("FAILED_ENVIRONMENTS".into(), failed.to_owned());
    }
    p
}

/// `[{name, status}]` of the environments that failed or were terminated.
pub(crate) fn failed_environments(release: &Release) -> String {
    let list: Vec<serde_json::Value> = release
        .environments
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                ferry_release::EnvironmentStatus::Failed
                    | ferry_release::EnvironmentStatus::Terminated
            )
        })
        .map(|e| serde_json::json!({"name": e.name, "status": e.status.as_str()}))
        .collect();
    serde_json::Value::Array(list).to_string()
}
