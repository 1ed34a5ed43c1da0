//! GitHub and GitHub Enterprise Server (reference §1).
//!
//! `apiUrl` defaults to `https://api.github.com`; GHES is
//! `https://HOST/api/v3` and takes the same paths.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::{Value, json};

use crate::client::{Client, encode_segment, header, owner_repo};
use crate::webhook::{self, Delivery, PullRequestAction, PullRequestEvent, WebhookEvent};
use crate::{
    CommitStatus, Forge, ForgeError, ForgeKind, NewPullRequest, OpenedPullRequest,
    PullRequestState, Secret, StatusState, WebhookError,
};

pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// Pages of a list read at most when looking for a pull request.
pub(crate) const MAX_PAGES: usize = 20;

pub struct GitHub {
    client: Client,
    token: Secret,
    webhook_secret: Secret,
}

impl GitHub {
    pub fn new(
        api_url: &str,
        token: Secret,
        webhook_secret: Secret,
        timeout: Duration,
    ) -> Result<GitHub, ForgeError> {
        Ok(GitHub {
            client: Client::new(ForgeKind::Github, api_url, timeout)?,
            token,
            webhook_secret,
        })
    }

    fn headers(&self) -> Result<reqwest::header::HeaderMap, ForgeError> {
        let mut h = header("authorization", &format!("Bearer {}", self.token.expose()))?;
        h.insert(
            "accept",
            HeaderValue::from_static("application/vnd.github+json"),
        );
        h.insert(
            "x-github-api-version",
            HeaderValue::from_static("2022-11-28"),
        );
        Ok(h)
    }
}

/// GitHub's status states: `error`, `failure`, `pending`, `success`.
pub(crate) fn state_word(s: StatusState) -> &'static str {
    match s {
        StatusState::Pending | StatusState::Running | StatusState::Waiting => "pending",
        StatusState::Success => "success",
        StatusState::Failure => "failure",
        StatusState::Error => "error",
    }
}

/// The body of `POST /repos/{o}/{r}/statuses/{sha}`; Gitea and Forgejo
/// document the same one.
pub(crate) fn status_body(status: &CommitStatus) -> serde_json::Value {
    json!({
        "state": state_word(status.state),
        "target_url": status.target_url,
        "description": crate::truncate_chars(&status.description, crate::MAX_DESCRIPTION),
        "context": status.context,
    })
}

#[async_trait]
impl Forge for GitHub {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Github
    }

    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError> {
        let (o, r) = owner_repo(repo)?;
        let body = status_body(status);
        self.client
            .send(
                Method::POST,
                &format!("/repos/{o}/{r}/statuses/{sha}"),
                self.headers()?,
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn open_pull_request(
        &self,
        repo: &str,
        pr: &NewPullRequest,
    ) -> Result<OpenedPullRequest, ForgeError> {
        let (o, r) = owner_repo(repo)?;
        let body = json!({
            "title": pr.title,
            "head": pr.head,
            "base": pr.base,
            "body": pr.body,
        });
        let call = format!("POST /repos/{o}/{r}/pulls");
        let answer = self
            .client
            .send(
                Method::POST,
                &format!("/repos/{o}/{r}/pulls"),
                self.headers()?,
                Some(&body),
            )
            .await?;
        opened(&answer.body, "number", "html_url", &call, ForgeKind::Github)
    }

    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError> {
        let (o, r) = owner_repo(repo)?;
        // GitHub filters by `owner:branch` itself; the pages are followed
        // (`Link` rel="next") in case it returns more than one.
        let path = format!(
            "/repos/{o}/{r}/pulls?state=open&head={}&base={}&per_page=100",
            encode_segment(&format!("{}:{head}", repo.split('/').next().unwrap_or(""))),
            encode_segment(base)
        );
        let items = self
            .client
            .get_pages(&path, &self.headers()?, MAX_PAGES, |pr| {
                matches_branches(pr, head, base)
            })
            .await?;
        Ok(find_in_list(&Value::Array(items), head, base))
    }

    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError> {
        let (o, r) = owner_repo(repo)?;
        let path = format!("/repos/{o}/{r}/pulls/{number}");
        let answer = self
            .client
            .send(Method::GET, &path, self.headers()?, None)
            .await?;
        Ok(github_like_state(&answer.body))
    }

    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        comment_github_like(&self.client, self.headers()?, repo, number, body).await
    }

    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError> {
        close_github_like(&self.client, self.headers()?, repo, number).await
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        verify_webhook(&self.webhook_secret, headers, body)
    }
}

/// A comment on pull request `number`, as GitHub and Gitea take it: a pull
/// request is an issue for comments (same number).
pub(crate) async fn comment_github_like(
    client: &Client,
    headers: reqwest::header::HeaderMap,
    repo: &str,
    number: u64,
    body: &str,
) -> Result<(), ForgeError> {
    let (o, r) = owner_repo(repo)?;
    client
        .send(
            Method::POST,
            &format!("/repos/{o}/{r}/issues/{number}/comments"),
            headers,
            Some(&json!({ "body": body })),
        )
        .await?;
    Ok(())
}

/// Closes pull request `number` without merging, as GitHub and Gitea take
/// it (`PATCH …/pulls/{n}` with `state: closed`).
pub(crate) async fn close_github_like(
    client: &Client,
    headers: reqwest::header::HeaderMap,
    repo: &str,
    number: u64,
) -> Result<(), ForgeError> {
    let (o, r) = owner_repo(repo)?;
    client
        .send(
            Method::PATCH,
            &format!("/repos/{o}/{r}/pulls/{number}"),
            headers,
            Some(&json!({ "state": "closed" })),
        )
        .await?;
    Ok(())
}

/// `{number, html_url}`-style answers of GitHub and Gitea.
pub(crate) fn opened(
    v: &Value,
    number: &str,
    url: &str,
    call: &str,
    forge: ForgeKind,
) -> Result<OpenedPullRequest, ForgeError> {
    let n = v.get(number).and_then(Value::as_u64);
    let u = v.get(url).and_then(Value::as_str);
    match (n, u) {
        (Some(number), Some(url)) => Ok(OpenedPullRequest {
            number,
            url: url.to_owned(),
        }),
        _ => Err(ForgeError::Decode {
            forge,
            call: call.to_owned(),
            message: format!("the answer has no `{number}` and `{url}`"),
        }),
    }
}

/// Whether a pull request of a list goes from `head` into `base`.
pub(crate) fn matches_branches(pr: &Value, head: &str, base: &str) -> bool {
    let r = |side: &str| {
        pr.get(side)
            .and_then(|s| s.get("ref"))
            .and_then(Value::as_str)
    };
    r("head") == Some(head) && r("base") == Some(base)
}

/// The first item of a list answer whose `head.ref`/`base.ref` match
/// (GitHub filters server-side too; Gitea does not).
pub(crate) fn find_in_list(v: &Value, head: &str, base: &str) -> Option<OpenedPullRequest> {
    v.as_array()?.iter().find_map(|pr| {
        if !matches_branches(pr, head, base) {
            return None;
        }
        Some(OpenedPullRequest {
            number: pr.get("number")?.as_u64()?,
            url: pr.get("html_url")?.as_str()?.to_owned(),
        })
    })
}

/// GitHub and Gitea: `merged` wins, then `state` `closed`, else open.
pub(crate) fn github_like_state(v: &Value) -> PullRequestState {
    let merged = v.get("merged").and_then(Value::as_bool).unwrap_or(false)
        || v.get("merged_at").is_some_and(|m| !m.is_null());
    if merged {
        return PullRequestState::Merged {
            merge_commit: v
                .get("merge_commit_sha")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
    }
    match v.get("state").and_then(Value::as_str) {
        Some("closed") => PullRequestState::Closed,
        _ => PullRequestState::Open,
    }
}

pub(crate) fn verify_webhook(
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    webhook::check_hex_signature(
        secret,
        webhook::header(headers, "x-hub-signature-256"),
        "sha256=",
        body,
        "X-Hub-Signature-256",
    )
}

const REPO_URLS: &[&str] = &[
    "repository.clone_url",
    "repository.html_url",
    "repository.ssh_url",
    "repository.git_url",
];

pub(crate) fn parse_webhook(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Delivery, WebhookError> {
    let event = webhook::header(headers, "x-github-event")
        .ok_or_else(|| WebhookError::Malformed("the X-GitHub-Event header is missing".into()))?
        .to_owned();
    let id = webhook::delivery_id(headers, &["x-github-delivery"], body);
    let v = webhook::json(body)?;
    let events = vec![github_like_event(&event, &v, REPO_URLS)?];
    Ok(Delivery { id, event, events })
}

/// The `push` and `pull_request` payloads GitHub and Gitea share.
pub(crate) fn github_like_event(
    event: &str,
    v: &Value,
    url_paths: &[&str],
) -> Result<WebhookEvent, WebhookError> {
    match event {
        "push" => {
            let urls = webhook::need_urls(webhook::urls_at(v, url_paths))?;
            let git_ref = webhook::str_at(v, "ref")?;
            let after = webhook::str_at(v, "after")?;
            Ok(webhook::push_event(urls, git_ref, after))
        }
        "pull_request" => {
            let urls = webhook::need_urls(webhook::urls_at(v, url_paths))?;
            let action = webhook::str_at(v, "action")?.to_owned();
            let number = webhook::u64_at(v, "number")?;
            let merged = v
                .get("pull_request")
                .and_then(|p| p.get("merged"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let kind = match (action.as_str(), merged) {
                ("closed", true) => PullRequestAction::Merged,
                ("closed", false) => PullRequestAction::Closed,
                _ => PullRequestAction::Other,
            };
            Ok(WebhookEvent::PullRequest(PullRequestEvent {
                repo_urls: urls,
                number,
                action: kind,
                raw_action: action,
            }))
        }
        other => Ok(WebhookEvent::Ignored {
            reason: format!("`{other}` events are not used"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_githubs_words() {
        assert_eq!(state_word(StatusState::Running), "pending");
        assert_eq!(state_word(StatusState::Error), "error");
        assert_eq!(state_word(StatusState::Failure), "failure");
    }

    #[test]
    fn merged_wins_over_closed() {
        let v = json!({"state": "closed", "merged": true, "merge_commit_sha": "abc"});
        assert_eq!(
            github_like_state(&v),
            PullRequestState::Merged {
                merge_commit: Some("abc".into())
            }
        );
        assert_eq!(
            github_like_state(&json!({"state": "closed", "merged": false})),
            PullRequestState::Closed
        );
        assert_eq!(
            github_like_state(&json!({"state": "open", "merged": false})),
            PullRequestState::Open
        );
    }
}
