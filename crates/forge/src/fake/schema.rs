//! The vendored request-body schemas, compiled once.

use std::sync::OnceLock;

use serde_json::{Value, json};

/// Which published schema a body must satisfy.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Body {
    /// GitHub `repos/create-commit-status`.
    GithubStatus,
    /// GitHub `pulls/create`.
    GithubPull,
    /// Gitea `CreateStatusOption`.
    GiteaStatus,
    /// Gitea `CreatePullRequestOption`.
    GiteaPull,
    /// Azure DevOps `GitStatus`.
    AzureStatus,
    /// Azure DevOps `GitPullRequest`.
    AzurePull,
    /// GitHub `pulls/update`.
    GithubPullUpdate,
    /// GitHub `issues/create-comment`.
    GithubIssueComment,
    /// Gitea `EditPullRequestOption`.
    GiteaPullEdit,
    /// Gitea `CreateIssueCommentOption`.
    GiteaIssueComment,
    /// Azure DevOps `GitPullRequestCommentThread`.
    AzureThread,
}

const GITHUB_STATUS: &str =
    include_str!("../../tests/data/schemas/github/repos-create-commit-status.request.json");
const GITHUB_PULL: &str = include_str!("../../tests/data/schemas/github/pulls-create.request.json");
const GITHUB_PULL_UPDATE: &str =
    include_str!("../../tests/data/schemas/github/pulls-update.request.json");
const GITHUB_ISSUE_COMMENT: &str =
    include_str!("../../tests/data/schemas/github/issues-create-comment.request.json");
const GITEA: &str = include_str!("../../tests/data/schemas/gitea/swagger-definitions.json");
const AZURE: &str = include_str!("../../tests/data/schemas/azuredevops/git-7.1-definitions.json");

fn compile(schema: &str, definition: Option<&str>) -> jsonschema::Validator {
    let mut v: Value = match serde_json::from_str(schema) {
        Ok(v) => v,
        Err(e) => panic!("vendored schema is not JSON: {e}"),
    };
    if let Some(name) = definition {
        // Swagger 2.0 definitions: validate against one of them, with the
        // others reachable through `#/definitions/…`.
        let defs = v.get("definitions").cloned().unwrap_or(Value::Null);
        v = json!({"$ref": format!("#/definitions/{name}"), "definitions": defs});
    }
    match jsonschema::draft4::new(&v) {
        Ok(val) => val,
        Err(e) => panic!("vendored schema does not compile: {e}"),
    }
}

fn validator(body: Body) -> &'static jsonschema::Validator {
    static V: OnceLock<Vec<jsonschema::Validator>> = OnceLock::new();
    let all = V.get_or_init(|| {
        vec![
            compile(GITHUB_STATUS, None),
            compile(GITHUB_PULL, None),
            compile(GITEA, Some("CreateStatusOption")),
            compile(GITEA, Some("CreatePullRequestOption")),
            compile(AZURE, Some("GitStatus")),
            compile(AZURE, Some("GitPullRequest")),
            compile(GITHUB_PULL_UPDATE, None),
            compile(GITHUB_ISSUE_COMMENT, None),
            compile(GITEA, Some("EditPullRequestOption")),
            compile(GITEA, Some("CreateIssueCommentOption")),
            compile(AZURE, Some("GitPullRequestCommentThread")),
        ]
    });
    &all[body as usize]
}

/// The schema's complaints about `instance` (empty when it validates).
pub(crate) fn check(body: Body, instance: &Value) -> Vec<String> {
    validator(body)
        .iter_errors(instance)
        .map(|e| format!("{:?}: {} at {}", body, e, e.instance_path()))
        .collect()
}
