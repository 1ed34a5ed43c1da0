//! The forges of the settings, adapted to what the engine needs for `pr`
//! promotions ([`ferry_engine::PullRequests`]), and the commit-status
//! publisher fed by engine events.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ferry_engine::{
    Engine, OpenedPullRequest, PullRequestError, PullRequestSpec, PullRequestState, PullRequests,
};
use ferry_forge::{ForgeError, NewPullRequest, Registry, RetryPolicy, StatusPublisher};

/// Pull requests through the forge of each repository.
pub struct ForgePullRequests {
    registry: Arc<Registry>,
    policy: RetryPolicy,
    notes: Option<PullRequestNotes>,
}

/// What the adapter needs to put a release's notes into its pull requests.
pub struct PullRequestNotes {
    pub store: ferry_store::Store,
    pub builder: Arc<ferry_notes::NotesBuilder>,
}

/// GitHub refuses bodies over 65,536 characters; the others take at least
/// as much. The notes get what the engine's part leaves.
const BODY_LIMIT: usize = 65_536;

impl ForgePullRequests {
    /// Pull request bodies also carry the release notes (SPEC §7).
    pub fn with_notes(mut self, notes: PullRequestNotes) -> ForgePullRequests {
        self.notes = Some(notes);
        self
    }

    /// The engine's body (release, version, diff) followed by the release
    /// notes, cut to what the forge accepts with a link to the full notes;
    /// notes that cannot be had are one line, never a failed promotion.
    async fn body_with_notes(&self, spec: &PullRequestSpec) -> String {
        let Some(n) = &self.notes else {
            return spec.body.clone();
        };
        let heading = "\n\n### Release notes\n\n";
        let budget = BODY_LIMIT.saturating_sub(spec.body.chars().count() + heading.len());
        let url = format!("{}/notes", spec.release_url);
        let notes = ferry_notes::pr_body(
            &n.store,
            &n.builder,
            &spec.release_id,
            spec.release_notes.clone(),
            budget,
            Some(&url),
        )
        .await;
        format!("{}{heading}{notes}", spec.body)
    }

    /// Opening a pull request is retried as commit statuses are (the
    /// forge entry's `retryInitialMs`/`retryMaxMs`, else 0.5 s doubling to
    /// 60 s, 12 tries); past that the engine keeps the environment
    /// SUSPENDED and opens again later ([`PullRequests::is_transient`]).
    pub fn new(registry: Arc<Registry>) -> ForgePullRequests {
        ForgePullRequests {
            registry,
            notes: None,
            policy: RetryPolicy::default(),
        }
    }

    fn target(&self, repo_url: &str) -> Result<ferry_forge::registry::ForRepo, PullRequestError> {
        self.registry.for_repo(repo_url).ok_or_else(|| {
            format!(
                "no forge is configured for {}",
                ferry_git::redact_url(repo_url)
            )
            .into()
        })
    }
}

#[async_trait]
impl PullRequests for ForgePullRequests {
    fn handles(&self, repo_url: &str) -> bool {
        self.registry.for_repo(repo_url).is_some()
    }

    async fn open(&self, spec: &PullRequestSpec) -> Result<OpenedPullRequest, PullRequestError> {
        let t = self.target(&spec.repo_url)?;
        let pr = NewPullRequest {
            title: spec.title.clone(),
            body: self.body_with_notes(spec).await,
            head: spec.head.clone(),
            base: spec.base.clone(),
        };
        // A promotion interrupted between opening its pull request and
        // recording it finds the one it opened. When the forge cannot say
        // (5xx, 429, no answer), nothing is opened blindly: the engine
        // tries again later.
        let adopt = |o: ferry_forge::OpenedPullRequest| OpenedPullRequest {
            number: o.number,
            url: o.url,
        };
        match t
            .forge
            .find_open_pull_request(&t.repo, &pr.head, &pr.base)
            .await
        {
            Ok(Some(o)) => return Ok(adopt(o)),
            Ok(None) => {}
            Err(e) if e.is_retryable() => return Err(Box::new(e)),
            Err(e) => tracing::warn!(error = %e, "looking for an open pull request"),
        }
        // A POST that timed out may have opened the pull request: only
        // answers that certainly changed nothing (5xx, 429, refused
        // connections) are tried again at once; a forge that says the
        // request exists (an earlier try did open it) gets it adopted.
        let policy = t.retry.unwrap_or(self.policy);
        let mut attempt = 1;
        loop {
            match t.forge.open_pull_request(&t.repo, &pr).await {
                Ok(o) => return Ok(adopt(o)),
                Err(e) if exists_already(&e) => {
                    if let Ok(Some(o)) = t
                        .forge
                        .find_open_pull_request(&t.repo, &pr.head, &pr.base)
                        .await
                    {
                        return Ok(adopt(o));
                    }
                    return Err(Box::new(e));
                }
                Err(e) if retry_open(&e) && attempt < policy.max_attempts => {
                    tokio::time::sleep(policy.delay(attempt, &e)).await;
                    attempt += 1;
                }
                Err(e) => return Err(Box::new(e)),
            }
        }
    }

    async fn state(
        &self,
        repo_url: &str,
        number: u64,
    ) -> Result<PullRequestState, PullRequestError> {
        let t = self.target(repo_url)?;
        let s = t.forge.pull_request_state(&t.repo, number).await?;
        Ok(match s {
            ferry_forge::PullRequestState::Open => PullRequestState::Open,
            ferry_forge::PullRequestState::Merged { merge_commit } => {
                PullRequestState::Merged { merge_commit }
            }
            ferry_forge::PullRequestState::Closed => PullRequestState::Closed,
        })
    }

    /// Reads where the pull request stands (a merged one is left alone),
    /// then leaves the comment and closes it. Each call is retried as
    /// statuses are (answers that certainly changed nothing), a few times
    /// only: the release's end waits on it, and what cannot be closed is
    /// reported on the release for a person to close.
    async fn close(
        &self,
        repo_url: &str,
        number: u64,
        comment: &str,
    ) -> Result<PullRequestState, PullRequestError> {
        let t = self.target(repo_url)?;
        let mut policy = t.retry.unwrap_or(self.policy);
        policy.max_attempts = policy.max_attempts.min(CLOSE_ATTEMPTS);
        let state = retried(policy, || t.forge.pull_request_state(&t.repo, number)).await?;
        match state {
            ferry_forge::PullRequestState::Merged { merge_commit } => {
                return Ok(PullRequestState::Merged { merge_commit });
            }
            ferry_forge::PullRequestState::Closed => return Ok(PullRequestState::Closed),
            ferry_forge::PullRequestState::Open => {}
        }
        retried(policy, || {
            t.forge.comment_on_pull_request(&t.repo, number, comment)
        })
        .await?;
        retried(policy, || t.forge.close_pull_request(&t.repo, number)).await?;
        Ok(PullRequestState::Closed)
    }

    fn poll_interval(&self, repo_url: &str) -> Duration {
        self.registry
            .for_repo(repo_url)
            .map_or(Duration::from_secs(60), |t| t.poll_interval)
    }

    /// 5xx, 429, rate limits and calls that got no answer (a timed-out
    /// POST included: the next open finds a request it did open).
    fn is_transient(&self, error: &PullRequestError) -> bool {
        error
            .downcast_ref::<ForgeError>()
            .is_some_and(ForgeError::is_retryable)
    }

    /// The forge entry's backoff, continued from where `open`'s own
    /// retries stopped (so at its cap: a minute by default).
    fn reopen_delay(&self, repo_url: &str, failures: u32) -> Duration {
        let p = self
            .registry
            .for_repo(repo_url)
            .and_then(|t| t.retry)
            .unwrap_or(self.policy);
        p.backoff(failures.saturating_add(p.max_attempts))
    }
}

/// The forge's answer that a pull request from this branch is open already
/// (GitHub 422 "A pull request already exists", GitLab, Gitea and Azure
/// DevOps 409).
fn exists_already(e: &ForgeError) -> bool {
    match e {
        ForgeError::Status { status: 409, .. } => true,
        ForgeError::Status {
            status: 422,
            message,
            ..
        } => message.contains("already exists"),
        _ => false,
    }
}

/// Tries of each call when closing a pull request.
const CLOSE_ATTEMPTS: u32 = 4;

/// `call` until it succeeds, fails for good, or `policy`'s tries are used
/// (only answers that certainly changed nothing are tried again).
async fn retried<T, F, Fut>(policy: RetryPolicy, call: F) -> Result<T, ForgeError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, ForgeError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if retry_open(&e) && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.delay(attempt, &e)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn retry_open(e: &ForgeError) -> bool {
    match e {
        ForgeError::Transport { timeout, .. } => !timeout,
        other => other.is_retryable(),
    }
}

/// Publishes commit statuses for every release event until `stop`.
pub fn spawn_status_publisher(
    publisher: StatusPublisher,
    engine: Engine,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let events = engine.subscribe();
    tokio::spawn(async move {
        publisher
            .follow(
                events,
                |id| {
                    let engine = engine.clone();
                    async move { engine.release(&id).await.ok().flatten() }
                },
                stop,
            )
            .await;
    });
}
