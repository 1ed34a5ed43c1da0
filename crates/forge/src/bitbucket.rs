//! Bitbucket Cloud 2.0 (reference §4).
//!
//! Statuses are "build" statuses identified by a `key` per commit; a status
//! with the same key replaces the previous one, which is exactly a context.
//! Keys are kept short (a long context is hashed) because Bitbucket limits
//! their length.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::client::{Client, encode_segment, header, owner_repo};
use crate::webhook::{self, Delivery, PullRequestAction, PullRequestEvent, WebhookEvent};
use crate::{
    CommitStatus, Forge, ForgeError, ForgeKind, NewPullRequest, OpenedPullRequest,
    PullRequestState, Secret, StatusState, WebhookError,
};

pub const DEFAULT_API_URL: &str = "https://api.bitbucket.org/2.0";

/// Longest status key sent as is.
const MAX_KEY: usize = 40;

pub struct Bitbucket {
    client: Client,
    /// `Bearer <token>` (access tokens), or Basic `username:token` (API tokens).
    username: Option<String>,
    token: Secret,
    webhook_secret: Secret,
}

impl Bitbucket {
    pub fn new(
        api_url: &str,
        username: Option<String>,
        token: Secret,
        webhook_secret: Secret,
        timeout: Duration,
    ) -> Result<Bitbucket, ForgeError> {
        Ok(Bitbucket {
            client: Client::new(ForgeKind::Bitbucket, api_url, timeout)?,
            username,
            token,
            webhook_secret,
        })
    }

    fn headers(&self) -> Result<reqwest::header::HeaderMap, ForgeError> {
        match &self.username {
            None => header("authorization", &format!("Bearer {}", self.token.expose())),
            Some(user) => {
                let pair = format!("{user}:{}", self.token.expose());
                header(
                    "authorization",
                    &format!("Basic {}", base64(pair.as_bytes())),
                )
            }
        }
    }
}

/// Bitbucket's states: `INPROGRESS`, `SUCCESSFUL`, `FAILED`, `STOPPED`.
pub(crate) fn state_word(s: StatusState) -> &'static str {
    match s {
        StatusState::Pending | StatusState::Running | StatusState::Waiting => "INPROGRESS",
        StatusState::Success => "SUCCESSFUL",
        StatusState::Failure => "FAILED",
        StatusState::Error => "STOPPED",
    }
}

/// The status key of a context: the context itself when short enough,
/// else `ferry-` and a hash of it (stable, so updates replace).
pub(crate) fn status_key(context: &str) -> String {
    if context.len() <= MAX_KEY {
        context.to_owned()
    } else {
        let h = hex::encode(Sha256::digest(context.as_bytes()));
        format!("ferry-{}", &h[..32])
    }
}

#[async_trait]
impl Forge for Bitbucket {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Bitbucket
    }

    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError> {
        let (w, s) = owner_repo(repo)?;
        let body = json!({
            "key": status_key(&status.context),
            "state": state_word(status.state),
            "url": status.target_url,
            "name": status.context,
            "description": crate::truncate_chars(&status.description, crate::MAX_DESCRIPTION),
        });
        self.client
            .send(
                Method::POST,
                &format!("/repositories/{w}/{s}/commit/{sha}/statuses/build"),
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
        let (w, s) = owner_repo(repo)?;
        let body = json!({
            "title": pr.title,
            "description": pr.body,
            "source": {"branch": {"name": pr.head}},
            "destination": {"branch": {"name": pr.base}},
            "close_source_branch": true,
        });
        let path = format!("/repositories/{w}/{s}/pullrequests");
        let answer = self
            .client
            .send(Method::POST, &path, self.headers()?, Some(&body))
            .await?;
        let v = &answer.body;
        let number = v.get("id").and_then(Value::as_u64);
        let url = v
            .get("links")
            .and_then(|l| l.get("html"))
            .and_then(|h| h.get("href"))
            .and_then(Value::as_str);
        match (number, url) {
            (Some(number), Some(url)) => Ok(OpenedPullRequest {
                number,
                url: url.to_owned(),
            }),
            _ => Err(ForgeError::Decode {
                forge: ForgeKind::Bitbucket,
                call: format!("POST {path}"),
                message: "the answer has no `id` and `links.html.href`".into(),
            }),
        }
    }

    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError> {
        let (w, s) = owner_repo(repo)?;
        let q = format!("source.branch.name=\"{head}\" AND state=\"OPEN\"");
        let found = |pr: &Value| -> Option<OpenedPullRequest> {
            let src = pr.get("source")?.get("branch")?.get("name")?.as_str()?;
            let dst = pr
                .get("destination")?
                .get("branch")?
                .get("name")?
                .as_str()?;
            (src == head && dst == base).then_some(())?;
            Some(OpenedPullRequest {
                number: pr.get("id")?.as_u64()?,
                url: pr
                    .get("links")?
                    .get("html")?
                    .get("href")?
                    .as_str()?
                    .to_owned(),
            })
        };
        // Bitbucket pages in the body: `next` is the full URL of the next
        // page (followed only on the API's own origin).
        let mut url = format!(
            "{}/repositories/{w}/{s}/pullrequests?state=OPEN&pagelen=50&q={}",
            self.client.base(),
            encode_segment(&q)
        );
        for _ in 0..crate::github::MAX_PAGES {
            let answer = self
                .client
                .send_url(Method::GET, &url, self.headers()?, None)
                .await?;
            let values = answer.body.get("values").and_then(Value::as_array);
            if let Some(pr) = values.and_then(|items| items.iter().find_map(found)) {
                return Ok(Some(pr));
            }
            match answer.body.get("next").and_then(Value::as_str) {
                Some(next) if self.client.is_own(next) => url = next.to_owned(),
                _ => break,
            }
        }
        Ok(None)
    }

    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError> {
        let (w, s) = owner_repo(repo)?;
        let answer = self
            .client
            .send(
                Method::GET,
                &format!("/repositories/{w}/{s}/pullrequests/{number}"),
                self.headers()?,
                None,
            )
            .await?;
        let v = &answer.body;
        Ok(match v.get("state").and_then(Value::as_str) {
            Some("MERGED") => PullRequestState::Merged {
                merge_commit: v
                    .get("merge_commit")
                    .and_then(|m| m.get("hash"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            },
            Some("DECLINED") | Some("SUPERSEDED") => PullRequestState::Closed,
            _ => PullRequestState::Open,
        })
    }

    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let (w, s) = owner_repo(repo)?;
        self.client
            .send(
                Method::POST,
                &format!("/repositories/{w}/{s}/pullrequests/{number}/comments"),
                self.headers()?,
                Some(&json!({ "content": { "raw": body } })),
            )
            .await?;
        Ok(())
    }

    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError> {
        let (w, s) = owner_repo(repo)?;
        // Declining takes no message on Bitbucket Cloud: the reason goes
        // in the comment.
        self.client
            .send(
                Method::POST,
                &format!("/repositories/{w}/{s}/pullrequests/{number}/decline"),
                self.headers()?,
                None,
            )
            .await?;
        Ok(())
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        verify_webhook(&self.webhook_secret, headers, body)
    }
}

/// `X-Hub-Signature: sha256=<hex>` (Bitbucket puts SHA-256 under this name).
pub(crate) fn verify_webhook(
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    webhook::check_hex_signature(
        secret,
        webhook::header(headers, "x-hub-signature"),
        "sha256=",
        body,
        "X-Hub-Signature",
    )
}

/// The repository's web URL, and the `https://bitbucket.org/<full_name>`
/// clone URL derived from it.
fn repo_urls(v: &Value) -> Vec<String> {
    let mut urls = webhook::urls_at(v, &["repository.links.html.href"]);
    if let Ok(full) = webhook::str_at(v, "repository.full_name") {
        let derived = format!("https://bitbucket.org/{full}.git");
        if !urls.contains(&derived) {
            urls.push(derived);
        }
    }
    urls
}

pub(crate) fn parse_webhook(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Delivery, WebhookError> {
    let event = webhook::header(headers, "x-event-key")
        .ok_or_else(|| WebhookError::Malformed("the X-Event-Key header is missing".into()))?
        .to_owned();
    let id = webhook::delivery_id(headers, &["x-request-uuid"], body);
    let v = webhook::json(body)?;
    let mut events = Vec::new();
    if event == "repo:push" {
        let urls = webhook::need_urls(repo_urls(&v))?;
        let changes = v
            .get("push")
            .and_then(|p| p.get("changes"))
            .and_then(Value::as_array)
            .ok_or_else(|| WebhookError::Malformed("`push.changes` is missing".into()))?;
        for c in changes {
            let new = c.get("new").filter(|n| !n.is_null());
            let Some(new) = new else {
                events.push(WebhookEvent::Ignored {
                    reason: "a branch or tag was deleted".into(),
                });
                continue;
            };
            let kind = webhook::str_at(new, "type")?;
            let name = webhook::str_at(new, "name")?;
            let hash = webhook::str_at(new, "target.hash")?;
            if kind == "branch" {
                events.push(webhook::push_event(
                    urls.clone(),
                    &format!("refs/heads/{name}"),
                    hash,
                ));
            } else {
                events.push(WebhookEvent::Ignored {
                    reason: format!("`{name}` is a {kind}, not a branch"),
                });
            }
        }
    } else if let Some(action) = event.strip_prefix("pullrequest:") {
        let urls = webhook::need_urls(repo_urls(&v))?;
        let number = webhook::u64_at(&v, "pullrequest.id")?;
        let kind = match action {
            "fulfilled" => PullRequestAction::Merged,
            "rejected" => PullRequestAction::Closed,
            _ => PullRequestAction::Other,
        };
        events.push(WebhookEvent::PullRequest(PullRequestEvent {
            repo_urls: urls,
            number,
            action: kind,
            raw_action: event.clone(),
        }));
    } else {
        events.push(WebhookEvent::Ignored {
            reason: format!("`{event}` events are not used"),
        });
    }
    Ok(Delivery { id, event, events })
}

/// Standard base64 with padding (the Basic header).
pub(crate) fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_keys_and_base64() {
        assert_eq!(state_word(StatusState::Running), "INPROGRESS");
        assert_eq!(state_word(StatusState::Error), "STOPPED");
        assert_eq!(status_key("ferry/shop/qa"), "ferry/shop/qa");
        let long = status_key(&format!("ferry/{}/production", "p".repeat(40)));
        assert!(long.len() <= MAX_KEY && long.starts_with("ferry-"));
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
    }
}
