//! Gitea and Forgejo, API v1 (reference §3). There is no public default
//! instance, so `apiUrl` (`https://HOST/api/v1`) is required.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::json;

use crate::client::{Client, header, owner_repo};
use crate::webhook::{self, Delivery};
use crate::{
    CommitStatus, Forge, ForgeError, ForgeKind, NewPullRequest, OpenedPullRequest,
    PullRequestState, Secret, WebhookError,
};

/// Open pull requests per page when looking for a promotion's (Gitea's
/// default `MAX_RESPONSE_ITEMS`).
const PR_PAGE: usize = 50;
/// Pages read at most: 1,000 open pull requests.
const OPEN_PR_PAGES: usize = 20;

pub struct Gitea {
    client: Client,
    token: Secret,
    webhook_secret: Secret,
}

impl Gitea {
    pub fn new(
        api_url: &str,
        token: Secret,
        webhook_secret: Secret,
        timeout: Duration,
    ) -> Result<Gitea, ForgeError> {
        Ok(Gitea {
            client: Client::new(ForgeKind::Gitea, api_url, timeout)?,
            token,
            webhook_secret,
        })
    }

    fn headers(&self) -> Result<reqwest::header::HeaderMap, ForgeError> {
        header("authorization", &format!("token {}", self.token.expose()))
    }
}

/// Gitea's status states are GitHub's four: `pending`, `success`,
/// `failure`, `error`.
#[cfg(test)]
use crate::{StatusState, github::state_word};

#[async_trait]
impl Forge for Gitea {
    fn kind(&self) -> ForgeKind {
        ForgeKind::Gitea
    }

    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError> {
        let (o, r) = owner_repo(repo)?;
        let body = crate::github::status_body(status);
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
            "head": pr.head,
            "base": pr.base,
            "title": pr.title,
            "body": pr.body,
        });
        let path = format!("/repos/{o}/{r}/pulls");
        let answer = self
            .client
            .send(Method::POST, &path, self.headers()?, Some(&body))
            .await?;
        crate::github::opened(
            &answer.body,
            "number",
            "html_url",
            &format!("POST {path}"),
            ForgeKind::Gitea,
        )
    }

    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError> {
        let (o, r) = owner_repo(repo)?;
        // Gitea does not filter by branch: read the open pull requests page
        // by page (`Link` rel="next"; 50 is its default page maximum) until
        // the branch is found.
        let items = self
            .client
            .get_pages(
                &format!("/repos/{o}/{r}/pulls?state=open&limit={PR_PAGE}&page=1"),
                &self.headers()?,
                OPEN_PR_PAGES,
                |pr| crate::github::matches_branches(pr, head, base),
            )
            .await?;
        Ok(crate::github::find_in_list(
            &serde_json::Value::Array(items),
            head,
            base,
        ))
    }

    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError> {
        let (o, r) = owner_repo(repo)?;
        let answer = self
            .client
            .send(
                Method::GET,
                &format!("/repos/{o}/{r}/pulls/{number}"),
                self.headers()?,
                None,
            )
            .await?;
        Ok(crate::github::github_like_state(&answer.body))
    }

    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        crate::github::comment_github_like(&self.client, self.headers()?, repo, number, body).await
    }

    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError> {
        crate::github::close_github_like(&self.client, self.headers()?, repo, number).await
    }

    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), WebhookError> {
        verify_webhook(&self.webhook_secret, headers, body)
    }
}

/// `X-Gitea-Signature` (Forgejo: `X-Forgejo-Signature`): lowercase hex
/// HMAC-SHA256 of the body, no prefix.
pub(crate) fn verify_webhook(
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    let given = webhook::header(headers, "x-gitea-signature")
        .or_else(|| webhook::header(headers, "x-forgejo-signature"));
    webhook::check_hex_signature(secret, given, "", body, "X-Gitea-Signature")
}

const REPO_URLS: &[&str] = &[
    "repository.clone_url",
    "repository.html_url",
    "repository.ssh_url",
];

pub(crate) fn parse_webhook(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Delivery, WebhookError> {
    let event = webhook::header(headers, "x-gitea-event")
        .or_else(|| webhook::header(headers, "x-forgejo-event"))
        .ok_or_else(|| WebhookError::Malformed("the X-Gitea-Event header is missing".into()))?
        .to_owned();
    let id = webhook::delivery_id(headers, &["x-gitea-delivery", "x-forgejo-delivery"], body);
    let v = webhook::json(body)?;
    let events = vec![crate::github::github_like_event(&event, &v, REPO_URLS)?];
    Ok(Delivery { id, event, events })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_giteas_words() {
        assert_eq!(state_word(StatusState::Running), "pending");
        assert_eq!(state_word(StatusState::Failure), "failure");
    }
}
