//! Git forges (SPEC §8, §10): commit statuses, pull requests and inbound
//! webhooks for GitHub (and GitHub Enterprise), GitLab, Gitea/Forgejo,
//! Bitbucket Cloud and Azure DevOps Repos.
//!
//! Each forge is one module behind the [`Forge`] trait, with the request
//! shapes its REST API documents (checked against the vendors' own
//! descriptions and payloads in `tests/data/`). [`Registry`] picks the forge of a repository URL by the longest
//! matching `repoPrefix`; [`StatusPublisher`] turns releases into commit
//! statuses (coalesced, retried, last state wins); [`webhook`] verifies and
//! parses push and pull-request deliveries.
//!
//! Nothing here knows the engine: the server adapts [`Forge`] to the
//! engine's pull-request hook and feeds engine events to the publisher.

mod azure;
mod bitbucket;
mod client;
#[cfg(feature = "fake")]
pub mod fake;
mod gitea;
mod github;
mod gitlab;
pub mod registry;
pub mod retry;
pub mod stats;
pub mod status;
pub mod webhook;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use azure::AzureDevOps;
pub use bitbucket::Bitbucket;
pub use gitea::Gitea;
pub use github::GitHub;
pub use gitlab::GitLab;
pub use registry::{ForgeEntry, Registry, RegistryError, repo_key};
pub use retry::RetryPolicy;
pub use status::{StatusPublisher, StatusStats};
pub use webhook::{
    Delivery, PullRequestAction, PullRequestEvent, PushEvent, WebhookError, WebhookEvent,
};

/// Which forge API an entry speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForgeKind {
    /// GitHub and GitHub Enterprise Server.
    Github,
    /// GitLab.com and self-managed GitLab.
    Gitlab,
    /// Gitea and Forgejo (same API).
    Gitea,
    /// Bitbucket Cloud.
    Bitbucket,
    /// Azure DevOps Services (and Server) Repos. Written `azuredevops` (as
    /// Flux and Argo CD's notifications name it); `azure` and
    /// `azure-devops` are accepted too.
    #[serde(rename = "azuredevops", alias = "azure", alias = "azure-devops")]
    AzureDevOps,
}

impl ForgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ForgeKind::Github => "github",
            ForgeKind::Gitlab => "gitlab",
            ForgeKind::Gitea => "gitea",
            ForgeKind::Bitbucket => "bitbucket",
            ForgeKind::AzureDevOps => "azuredevops",
        }
    }

    /// The kind named in a webhook URL (`/webhooks/{kind}`) or a setting.
    pub fn parse(s: &str) -> Option<ForgeKind> {
        match s {
            "github" => Some(ForgeKind::Github),
            "gitlab" => Some(ForgeKind::Gitlab),
            "gitea" | "forgejo" => Some(ForgeKind::Gitea),
            "bitbucket" => Some(ForgeKind::Bitbucket),
            "azuredevops" | "azure-devops" | "azure" => Some(ForgeKind::AzureDevOps),
            _ => None,
        }
    }

    /// Every kind, for messages that list them.
    pub const ALL: [ForgeKind; 5] = [
        ForgeKind::Github,
        ForgeKind::Gitlab,
        ForgeKind::Gitea,
        ForgeKind::Bitbucket,
        ForgeKind::AzureDevOps,
    ];

    /// The names accepted for `kind` (and in webhook URLs), for messages.
    pub const NAMES: &'static str = "github, gitlab, gitea (or forgejo), bitbucket or azuredevops";

    /// The largest webhook body this forge sends, which the webhook
    /// endpoint must accept. GitHub documents its cap ("payloads are capped
    /// at 25 MB"); GitLab, Gitea/Forgejo, Bitbucket Cloud and Azure DevOps
    /// document none (GitLab and Bitbucket keep payloads small by listing
    /// at most 20 and 5 commits), so they get the same 25 MB: a delivery is
    /// never refused for a size its forge considers normal.
    pub fn max_webhook_body(self) -> usize {
        match self {
            ForgeKind::Github
            | ForgeKind::Gitlab
            | ForgeKind::Gitea
            | ForgeKind::Bitbucket
            | ForgeKind::AzureDevOps => 25 * 1024 * 1024,
        }
    }
}

impl fmt::Display for ForgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value that must never be printed (tokens, webhook secrets).
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (a header, an HMAC key).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The state of a commit status, before each forge's own words for it.
///
/// SPEC §8 maps release and environment statuses to four states; `Running`
/// is kept apart from `Pending` because GitLab has a word for it (and
/// refuses to repeat `pending`), and because "started" is a change a
/// developer wants to see. `Waiting` is a started environment that waits
/// (SUSPENDED: a pull request, an approval): `pending` where the forge
/// has no better word, but `running` on GitLab, whose state machine has no
/// way back from `running` to `pending`. Forges without `running` send
/// `pending` for all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    Pending,
    Running,
    Waiting,
    Success,
    Failure,
    Error,
}

impl StatusState {
    /// Whether nothing will follow this state unless the release is retried.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StatusState::Success | StatusState::Failure | StatusState::Error
        )
    }
}

/// One commit status to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitStatus {
    pub state: StatusState,
    /// `ferry/<product>` or `ferry/<product>/<environment>`.
    pub context: String,
    /// What is happening, at most [`MAX_DESCRIPTION`] characters.
    pub description: String,
    /// The release view, anchored at the environment.
    pub target_url: String,
}

/// GitHub rejects longer descriptions with 422 (reference §1); the other
/// forges accept more, but one limit keeps statuses alike everywhere.
pub const MAX_DESCRIPTION: usize = 140;

/// A pull request to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPullRequest {
    pub title: String,
    pub body: String,
    /// The branch with the promotion commit.
    pub head: String,
    /// The branch it is merged into (the application's target revision).
    pub base: String,
}

/// A pull request the forge opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPullRequest {
    /// GitHub/Gitea number, GitLab iid, Bitbucket id.
    pub number: u64,
    /// Its page on the forge.
    pub url: String,
}

/// Where a pull request stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullRequestState {
    Open,
    /// Merged; the merge (or squash) commit when the forge names one.
    Merged {
        merge_commit: Option<String>,
    },
    /// Closed (declined, superseded) without being merged.
    Closed,
}

/// Why a forge call failed. Messages name the call and the forge's answer;
/// they never contain a token (tokens only ever go into headers).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ForgeError {
    #[error("{call}: {forge} answered {status}: {message}")]
    Status {
        forge: ForgeKind,
        call: String,
        status: u16,
        message: String,
        /// How long the forge asked us to wait (Retry-After, rate-limit reset).
        retry_after: Option<Duration>,
    },
    #[error("{call}: {message}")]
    Transport {
        call: String,
        message: String,
        timeout: bool,
    },
    #[error("{call}: unexpected answer from {forge}: {message}")]
    Decode {
        forge: ForgeKind,
        call: String,
        message: String,
    },
    #[error("repository {repo}: {message}")]
    Repository { repo: String, message: String },
    /// The forge refused a commit-status transition its state machine does
    /// not allow (GitLab's 400 "Cannot transition status"): not delivered,
    /// and asking again will not change that.
    #[error("{call}: {forge} refused the transition: {message}")]
    Refused {
        forge: ForgeKind,
        call: String,
        message: String,
    },
}

impl ForgeError {
    /// Whether trying again may succeed: transport failures, timeouts, 5xx,
    /// 429, 408, and 403s that are rate limits.
    pub fn is_retryable(&self) -> bool {
        match self {
            ForgeError::Transport { .. } => true,
            ForgeError::Status {
                status,
                retry_after,
                ..
            } => *status >= 500 || *status == 429 || *status == 408 || retry_after.is_some(),
            ForgeError::Decode { .. }
            | ForgeError::Repository { .. }
            | ForgeError::Refused { .. } => false,
        }
    }

    /// The wait the forge asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ForgeError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One forge API. Repositories are named as the forge does: `owner/repo`
/// (GitLab: the full `group/sub/project` path; Bitbucket: `workspace/slug`).
#[async_trait]
pub trait Forge: Send + Sync + 'static {
    fn kind(&self) -> ForgeKind;

    /// Sets (creates or replaces) the status `status.context` on commit `sha`.
    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError>;

    /// Opens a pull (merge) request from `pr.head` into `pr.base`.
    async fn open_pull_request(
        &self,
        repo: &str,
        pr: &NewPullRequest,
    ) -> Result<OpenedPullRequest, ForgeError>;

    /// The open pull request from `head` into `base`, if there is one: a
    /// promotion interrupted between opening its pull request and
    /// recording it adopts the one it opened instead of opening another.
    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError>;

    /// Where pull request `number` stands.
    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError>;

    /// Leaves `body` (Markdown) as a comment on pull request `number`.
    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError>;

    /// Closes pull request `number` without merging it: what ferry does
    /// to the pull request of a release that was terminated or superseded
    /// (GitHub and Gitea `state: closed`, GitLab `state_event: close`,
    /// Bitbucket decline, Azure DevOps `abandoned`).
    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError>;

    /// Whether the forge accepts `wanted` on a context whose last delivered
    /// status is `delivered` (`None`: nothing delivered yet, as far as this
    /// process knows). `Err` says why not; the publisher then counts the
    /// status as refused, not delivered. Most forges take any sequence;
    /// GitLab runs a state machine.
    fn transition(
        &self,
        _delivered: Option<&CommitStatus>,
        _wanted: &CommitStatus,
    ) -> Result<(), String> {
        Ok(())
    }

    /// Checks that a webhook delivery was signed with this forge's secret
    /// (constant-time); `Err(Unauthenticated)` otherwise.
    fn verify(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<(), WebhookError>;

    /// The events of a verified webhook delivery.
    fn parse(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        webhook::parse(self.kind(), headers, body)
    }
}

/// Shortens `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(truncate_chars("abc", 3), "abc");
        assert_eq!(truncate_chars("abcd", 3), "ab…");
        let long = "é".repeat(200);
        let t = truncate_chars(&long, MAX_DESCRIPTION);
        assert_eq!(t.chars().count(), MAX_DESCRIPTION);
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "\"***\"");
    }
}
