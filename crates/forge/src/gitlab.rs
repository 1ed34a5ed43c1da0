//! GitLab, gitlab.com and self-managed (reference §2).
//!
//! Projects are addressed by their URL-encoded full path
//! (`group%2Fsub%2Fproject`), merge requests by their `iid`.
//!
//! Commit statuses: GitLab keeps one status per pipeline+name+ref+user
//! while it is `pending` or `running` and moves it through a state machine
//! (`Ci::CreateCommitStatusService`: `pending` → `enqueue`, `running` →
//! `enqueue` + `run`, `success`, `failed` → `drop`, `canceled` → `cancel`):
//! pending → running → success/failed/canceled, nothing back, and no
//! repeated state — not even with a new description, which it refuses
//! with 400 "Cannot transition status via :run from :running". After a
//! final state the next status starts a new one. [`Forge::transition`]
//! tells the publisher which changes GitLab takes; a refused transition is
//! [`ForgeError::Refused`]: not delivered, counted and logged as such.
//! A waiting (SUSPENDED) environment is `running` here, as GitLab has no
//! way back to `pending`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use crate::client::{Client, encode_segment, header};
use crate::webhook::{self, Delivery, PullRequestAction, PullRequestEvent, WebhookEvent};
use crate::{
    CommitStatus, Forge, ForgeError, ForgeKind, NewPullRequest, OpenedPullRequest,
    PullRequestState, Secret, StatusState, WebhookError,
};

pub const DEFAULT_API_URL: &str = "https://gitlab.com/api/v4";

pub struct GitLab {
    client: Client,
    token: Secret,
    webhook_secret: Secret,
}

impl GitLab {
    pub fn new(
        api_url: &str,
        token: Secret,
        webhook_secret: Secret,
        timeout: Duration,
    ) -> Result<GitLab, ForgeError> {
        Ok(GitLab {
            client: Client::new(ForgeKind::Gitlab, api_url, timeout)?,
            token,
            webhook_secret,
        })
    }

    fn headers(&self) -> Result<reqwest::header::HeaderMap, ForgeError> {
        header("private-token", self.token.expose())
    }
}

/// GitLab's status states: `pending`, `running`, `success`, `failed`, `canceled`.
pub(crate) fn state_word(s: StatusState) -> &'static str {
    match s {
        StatusState::Pending => "pending",
        StatusState::Running | StatusState::Waiting => "running",
        StatusState::Success => "success",
        StatusState::Failure => "failed",
        StatusState::Error => "canceled",
    }
}

/// Whether GitLab's state machine takes `to` on a status last left at
/// `from` (GitLab's words; `None`: no status yet).
pub(crate) fn check_transition(from: Option<&str>, to: &str) -> Result<(), String> {
    let is_final = |s: &str| matches!(s, "success" | "failed" | "canceled");
    match from {
        // Nothing yet, or a finished status: GitLab starts a new one.
        None => Ok(()),
        Some(f) if is_final(f) => Ok(()),
        Some("pending") if to != "pending" => Ok(()),
        Some("running") if is_final(to) => Ok(()),
        Some(f) => Err(format!(
            "GitLab keeps a `{f}` status until it moves on (pending → running → \
             success/failed/canceled) and refuses `{to}`, a new description included"
        )),
    }
}

fn project(repo: &str) -> Result<String, ForgeError> {
    if repo.is_empty() || repo.starts_with('/') || repo.ends_with('/') || !repo.contains('/') {
        return Err(ForgeError::Repository {
            repo: repo.to_owned(),
            message: "expected the project's full path `group/project`".into(),
        });
    }
    Ok(encode_segment(repo))
}

#[async_trait]
impl Forge for GitLab {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Gitlab
    }

    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError> {
        let id = project(repo)?;
        let body = json!({
            "state": state_word(status.state),
            "name": status.context,
            "target_url": status.target_url,
            "description": crate::truncate_chars(&status.description, crate::MAX_DESCRIPTION),
        });
        let sent = self
            .client
            .send(
                Method::POST,
                &format!("/projects/{id}/statuses/{sha}"),
                self.headers()?,
                Some(&body),
            )
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(ForgeError::Status {
                status: 400,
                message,
                call,
                ..
            }) if message.contains("Cannot transition status") => Err(ForgeError::Refused {
                forge: ForgeKind::Gitlab,
                call,
                message,
            }),
            // "Another update to this commit status is in progress": GitLab
            // holds a lock per commit for up to ten seconds; try again.
            Err(ForgeError::Status {
                status: 409,
                message,
                call,
                forge,
                retry_after,
            }) => Err(ForgeError::Status {
                status: 409,
                message,
                call,
                forge,
                retry_after: retry_after.or(Some(Duration::from_secs(1))),
            }),
            Err(e) => Err(e),
        }
    }

    fn transition(
        &self,
        delivered: Option<&CommitStatus>,
        wanted: &CommitStatus,
    ) -> Result<(), String> {
        check_transition(
            delivered.map(|d| state_word(d.state)),
            state_word(wanted.state),
        )
    }

    async fn open_pull_request(
        &self,
        repo: &str,
        pr: &NewPullRequest,
    ) -> Result<OpenedPullRequest, ForgeError> {
        let id = project(repo)?;
        let body = json!({
            "source_branch": pr.head,
            "target_branch": pr.base,
            "title": pr.title,
            "description": pr.body,
        });
        let path = format!("/projects/{id}/merge_requests");
        let answer = self
            .client
            .send(Method::POST, &path, self.headers()?, Some(&body))
            .await?;
        crate::github::opened(
            &answer.body,
            "iid",
            "web_url",
            &format!("POST {path}"),
            ForgeKind::Gitlab,
        )
    }

    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError> {
        let id = project(repo)?;
        let matches = |mr: &Value| {
            mr.get("source_branch").and_then(Value::as_str) == Some(head)
                && mr.get("target_branch").and_then(Value::as_str) == Some(base)
        };
        let items = self
            .client
            .get_pages(
                &format!(
                    "/projects/{id}/merge_requests?state=opened&source_branch={}&target_branch={}&per_page=100",
                    encode_segment(head),
                    encode_segment(base)
                ),
                &self.headers()?,
                crate::github::MAX_PAGES,
                matches,
            )
            .await?;
        Ok(items.iter().find_map(|mr| {
            matches(mr).then_some(())?;
            Some(OpenedPullRequest {
                number: mr.get("iid")?.as_u64()?,
                url: mr.get("web_url")?.as_str()?.to_owned(),
            })
        }))
    }

    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError> {
        let id = project(repo)?;
        let answer = self
            .client
            .send(
                Method::GET,
                &format!("/projects/{id}/merge_requests/{number}"),
                self.headers()?,
                None,
            )
            .await?;
        let v = &answer.body;
        Ok(match v.get("state").and_then(Value::as_str) {
            Some("merged") => PullRequestState::Merged {
                merge_commit: ["merge_commit_sha", "squash_commit_sha"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(Value::as_str))
                    .map(str::to_owned),
            },
            Some("closed") => PullRequestState::Closed,
            _ => PullRequestState::Open,
        })
    }

    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let id = project(repo)?;
        self.client
            .send(
                Method::POST,
                &format!("/projects/{id}/merge_requests/{number}/notes"),
                self.headers()?,
                Some(&json!({ "body": body })),
            )
            .await?;
        Ok(())
    }

    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError> {
        let id = project(repo)?;
        self.client
            .send(
                Method::PUT,
                &format!("/projects/{id}/merge_requests/{number}"),
                self.headers()?,
                Some(&json!({ "state_event": "close" })),
            )
            .await?;
        Ok(())
    }

    fn verify(&self, headers: &http::HeaderMap, _body: &[u8]) -> Result<(), WebhookError> {
        verify_webhook(&self.webhook_secret, headers)
    }
}

pub(crate) fn verify_webhook(
    secret: &Secret,
    headers: &http::HeaderMap,
) -> Result<(), WebhookError> {
    webhook::check_token(
        secret,
        webhook::header(headers, "x-gitlab-token"),
        "X-Gitlab-Token",
    )
}

const REPO_URLS: &[&str] = &[
    "project.git_http_url",
    "project.git_ssh_url",
    "project.web_url",
    "repository.git_http_url",
    "repository.git_ssh_url",
    "repository.homepage",
];

pub(crate) fn parse_webhook(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Delivery, WebhookError> {
    let event = webhook::header(headers, "x-gitlab-event")
        .ok_or_else(|| WebhookError::Malformed("the X-Gitlab-Event header is missing".into()))?
        .to_owned();
    // Idempotency-Key stays the same across GitLab's retries of one event.
    let id = webhook::delivery_id(headers, &["idempotency-key", "x-gitlab-event-uuid"], body);
    let v = webhook::json(body)?;
    let ev = match event.as_str() {
        "Push Hook" => {
            let urls = webhook::need_urls(webhook::urls_at(&v, REPO_URLS))?;
            webhook::push_event(
                urls,
                webhook::str_at(&v, "ref")?,
                webhook::str_at(&v, "after")?,
            )
        }
        "Merge Request Hook" => {
            let urls = webhook::need_urls(webhook::urls_at(&v, REPO_URLS))?;
            let number = webhook::u64_at(&v, "object_attributes.iid")?;
            let state = webhook::str_at(&v, "object_attributes.state")?;
            let action = v
                .get("object_attributes")
                .and_then(|o| o.get("action"))
                .and_then(Value::as_str)
                .unwrap_or(state)
                .to_owned();
            let kind = match (action.as_str(), state) {
                ("merge", _) | (_, "merged") => PullRequestAction::Merged,
                ("close", _) | (_, "closed") => PullRequestAction::Closed,
                _ => PullRequestAction::Other,
            };
            WebhookEvent::PullRequest(PullRequestEvent {
                repo_urls: urls,
                number,
                action: kind,
                raw_action: action,
            })
        }
        other => WebhookEvent::Ignored {
            reason: format!("`{other}` events are not used"),
        },
    };
    Ok(Delivery {
        id,
        event,
        events: vec![ev],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_machine() {
        for (from, to, ok) in [
            (None, "pending", true),
            (None, "running", true),
            (None, "success", true),
            (Some("pending"), "pending", false),
            (Some("pending"), "running", true),
            (Some("pending"), "failed", true),
            (Some("running"), "running", false),
            (Some("running"), "pending", false),
            (Some("running"), "success", true),
            (Some("running"), "canceled", true),
            (Some("success"), "running", true),
            (Some("failed"), "pending", true),
        ] {
            assert_eq!(check_transition(from, to).is_ok(), ok, "{from:?} → {to}");
        }
    }

    #[test]
    fn states_and_projects() {
        assert_eq!(state_word(StatusState::Running), "running");
        assert_eq!(state_word(StatusState::Waiting), "running");
        assert_eq!(state_word(StatusState::Error), "canceled");
        assert_eq!(state_word(StatusState::Failure), "failed");
        assert_eq!(project("group/sub/proj").unwrap(), "group%2Fsub%2Fproj");
        assert!(project("proj").is_err());
    }
}
