//! Pull-request promotions through a forge (SPEC §4.2 b, `pr` action).
//!
//! The engine knows no forge: it is given a [`PullRequests`] hook (the
//! server adapts the forge registry to it). With a hook that handles the
//! application's repository, the promotion branch becomes a real pull
//! request — opened with a title and a body that say what it promotes,
//! recorded on the release (number, URL, head commit), and waited for
//! until it is merged (the release continues) or closed without merge
//! (FAILED with a `forge` issue). The wait wakes on pull-request webhooks
//! ([`crate::Engine::notify_pull_request`]) and polls the forge as a
//! fallback, so a lost webhook only delays the release. Without a hook,
//! the engine keeps the forge-less behaviour: the branch counts as merged
//! once the promotion commit is on the target branch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_release::{ApplicationRun, ApplicationSnapshot, Release};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{Error, Inner, blocking};

/// Why a forge call failed (the forge's own error, already free of secrets).
pub type PullRequestError = Box<dyn std::error::Error + Send + Sync>;

/// A pull request to open.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequestSpec {
    pub repo_url: String,
    /// The branch the promotion commit is on.
    pub head: String,
    /// The branch it merges into (the application's target revision).
    pub base: String,
    pub title: String,
    pub body: String,
    /// The release the pull request promotes, and its product's
    /// `spec.releaseNotes`: what an implementation needs to add the release
    /// notes to the body (the server's forge adapter does).
    pub release_id: String,
    /// The release view (`<base-url>/products/<p>/releases/<n>`).
    pub release_url: String,
    pub release_notes: Option<ferry_model::resource::ReleaseNotesSpec>,
}

/// A pull request the forge opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedPullRequest {
    pub number: u64,
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
    /// Closed without merge.
    Closed,
}

/// What the engine needs from forges for `pr` promotions.
#[async_trait]
pub trait PullRequests: Send + Sync + 'static {
    /// Whether a forge is configured for this repository.
    fn handles(&self, repo_url: &str) -> bool;
    async fn open(&self, spec: &PullRequestSpec) -> Result<OpenedPullRequest, PullRequestError>;
    async fn state(
        &self,
        repo_url: &str,
        number: u64,
    ) -> Result<PullRequestState, PullRequestError>;
    /// Leaves `comment` on pull request `number` and closes it without
    /// merging (the release it promotes was terminated or superseded).
    /// Answers where it stands: `Closed`, or `Merged` when someone merged
    /// it before — then it is left as it is.
    async fn close(
        &self,
        repo_url: &str,
        number: u64,
        comment: &str,
    ) -> Result<PullRequestState, PullRequestError>;

    /// How often an open pull request is checked when no webhook arrives.
    fn poll_interval(&self, _repo_url: &str) -> Duration {
        Duration::from_secs(60)
    }

    /// Whether a failed [`open`](Self::open) may succeed when tried again
    /// (the forge answered 5xx or 429, or did not answer): the promotion
    /// then waits SUSPENDED, with an issue saying so, and opens again —
    /// `open` finds a request an earlier try opened after all — instead
    /// of failing the environment.
    fn is_transient(&self, _error: &PullRequestError) -> bool {
        false
    }

    /// The wait before opening a pull request in `repo_url` again after
    /// `failures` transient failures.
    fn reopen_delay(&self, _repo_url: &str, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(10);
        Duration::from_secs(5)
            .saturating_mul(1 << exp)
            .min(Duration::from_secs(300))
    }
}

/// Promotions waiting on a pull request, woken by webhooks.
#[derive(Default)]
pub(crate) struct Waiters {
    waiting: Mutex<Vec<Waiter>>,
}

struct Waiter {
    repo_url: String,
    number: u64,
    wake: Arc<Notify>,
}

impl Waiters {
    fn register(&self, repo_url: &str, number: u64) -> Arc<Notify> {
        let wake = Arc::new(Notify::new());
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Waiter {
                repo_url: repo_url.to_owned(),
                number,
                wake: Arc::clone(&wake),
            });
        wake
    }

    fn unregister(&self, wake: &Arc<Notify>) {
        self.waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|w| !Arc::ptr_eq(&w.wake, wake));
    }

    /// Wakes the waits on pull request `number` of a repository for which
    /// `repo_matches` holds; returns how many were woken.
    pub(crate) fn wake(&self, number: u64, repo_matches: &dyn Fn(&str) -> bool) -> usize {
        let waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        for w in waiting
            .iter()
            .filter(|w| w.number == number && repo_matches(&w.repo_url))
        {
            // A stored permit: a wake-up between two checks is not lost.
            w.wake.notify_one();
            n += 1;
        }
        n
    }
}

/// The pull request already recorded for this promotion, if it is still
/// usable: same head commit and not closed (a retry after a close opens a
/// new one).
pub(crate) async fn reusable(
    prs: &Arc<dyn PullRequests>,
    app: &ApplicationRun,
    head: &str,
) -> Option<ferry_release::PullRequest> {
    let recorded = app
        .pull_request
        .clone()
        .filter(|p| p.number > 0 && p.head.as_deref() == Some(head))?;
    match prs.state(&app.repo_url, recorded.number).await {
        Ok(PullRequestState::Closed) => None,
        _ => Some(recorded),
    }
}

/// Waits until pull request `number` is merged or closed; `None` when
/// cancelled (terminate, shutdown).
pub(crate) async fn wait(
    inner: &Arc<Inner>,
    prs: &Arc<dyn PullRequests>,
    repo_url: &str,
    number: u64,
    cancel: &CancellationToken,
) -> Result<Option<PullRequestState>, Error> {
    let wake = inner.pr_waiters.register(repo_url, number);
    let result = loop {
        match prs.state(repo_url, number).await {
            Ok(PullRequestState::Open) => {}
            Ok(done) => break Some(done),
            Err(e) => tracing::warn!(pull_request = number, error = %e, "checking a pull request"),
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(prs.poll_interval(repo_url)) => {}
            () = cancel.cancelled() => break None,
        }
    };
    inner.pr_waiters.unregister(&wake);
    Ok(result)
}

/// Most characters of diff put into a pull request body (GitHub refuses
/// bodies over 65,536 characters).
const MAX_DIFF: usize = 50_000;

/// The diff of the promotion: the changes that make the application hold
/// the snapshot, planned on the commit the promotion was built on.
pub(crate) async fn diff_summary(
    inner: &Arc<Inner>,
    app: &ApplicationRun,
    snapshot: Option<ApplicationSnapshot>,
    base: Option<ferry_git::Oid>,
) -> String {
    let (Some(snapshot), Some(base)) = (snapshot, base) else {
        return String::new();
    };
    let workspace = Arc::clone(&inner.workspace);
    let (repo, path) = (app.repo_url.clone(), app.path.clone());
    let diff = blocking(move || {
        let mirror = workspace.mirror(&repo)?;
        let reader = mirror.at_commit(base)?;
        let changes = ferry_gitops::plan_changes(&reader, &path, &snapshot)?;
        Ok(changes
            .iter()
            .map(ferry_gitops::unified_diff)
            .collect::<String>())
    })
    .await;
    match diff {
        Ok(d) if d.chars().count() > MAX_DIFF => {
            let mut cut: String = d.chars().take(MAX_DIFF).collect();
            cut.push_str("\n… (diff shortened)\n");
            cut
        }
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(error = %e, "diff of a pull request promotion");
            String::new()
        }
    }
}

/// Title and body of the pull request promoting `release` to `environment`.
pub(crate) fn describe(
    inner: &Inner,
    release: &Release,
    environment: &str,
    app: &ApplicationRun,
    diff: &str,
) -> (String, String) {
    let version = release.version.as_deref().unwrap_or("-");
    let title = format!(
        "ferry: promote {} {version} to {environment}",
        release.product
    );
    let url = inner.release_url(&release.product, release.number);
    // Sections in order; further sections (release notes) are pushed here.
    let mut sections = vec![format!(
        "Release [#{n}]({url}) of **{product}** promotes version `{version}` to **{environment}** \
         (application `{app}`, flow `{flow}`).\n\nMerge this pull request to continue the release; \
         closing it without merging fails the release.",
        n = release.number,
        product = release.product,
        app = app.name,
        flow = release.flow,
    )];
    if !release.trigger.sha.is_empty() {
        let subject = release.trigger.message.lines().next().unwrap_or("");
        sections.push(format!(
            "Trigger commit: `{}` {subject} ({})",
            release.trigger.sha, release.trigger.author
        ));
    }
    if diff.is_empty() {
        sections.push("### Changes\n\nNo file changes could be shown.".into());
    } else {
        sections.push(format!("### Changes\n\n```diff\n{diff}```"));
    }
    (title, sections.join("\n\n"))
}
