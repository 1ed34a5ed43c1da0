//! Commit statuses of releases (SPEC §8).
//!
//! For the trigger commit of every release, and for the head commit of
//! every promotion pull request, the [`StatusPublisher`] keeps one status
//! per target environment (`ferry/<product>/<environment>`) and one for
//! the release (`ferry/<product>`), linked to the release view.
//!
//! Delivery is per (repository, commit, context) *slot*: the slot holds the
//! latest wanted status and what was last delivered, and at most one task
//! delivers for it at a time. A publish that wants the status already
//! wanted (same state and description) costs nothing (coalescing: a burst
//! of engine events becomes one call per change of what the status says),
//! and the delivering task always sends the newest wanted
//! status — when a newer one arrives while an older one is being sent or
//! retried, the newer one is sent next. So the last state always wins, and
//! no stale state can land after it. Failed calls are retried with backoff
//! and jitter, honouring `Retry-After` and rate-limit headers.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_release::{
    EnvironmentRun, EnvironmentStatus, Event, Release, ReleaseStatus, StepPhase, StepStatus,
};
use tokio::sync::broadcast;

use crate::registry::Registry;
use crate::retry::RetryPolicy;
use crate::{CommitStatus, MAX_DESCRIPTION, StatusState, truncate_chars};

/// Idle slots kept before finished ones are forgotten.
const MAX_SLOTS: usize = 100_000;
/// Delivery delays kept for [`StatusStats`] (the benchmark's percentiles).
const MAX_SAMPLES: usize = 1_000_000;
/// Calls in flight at once, over all forges. GitHub allows 100 concurrent
/// requests before its secondary rate limit; a burst of releases must
/// queue here (where waiting updates still coalesce) rather than open
/// thousands of connections.
pub const MAX_IN_FLIGHT: usize = 32;

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
struct SlotKey {
    repo_url: String,
    sha: String,
    context: String,
}

struct Slot {
    wanted: CommitStatus,
    /// When `wanted` was set: the start of its delivery delay.
    wanted_at: Instant,
    /// Bumped on every change of `wanted`.
    generation: u64,
    /// The status last delivered.
    sent: Option<CommitStatus>,
    /// A task is delivering for this slot.
    busy: bool,
}

/// Counters of the publisher (metrics, the benchmark).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusStats {
    /// Wanted state changes (what a perfectly coalescing publisher sends).
    pub changes: u64,
    /// HTTP calls made, retries included.
    pub calls: u64,
    /// Statuses delivered.
    pub delivered: u64,
    /// Calls that failed (and were retried or given up).
    pub failed_calls: u64,
    /// Statuses given up on (an error that retrying cannot fix).
    pub abandoned: u64,
    /// Statuses the forge's state machine does not take (GitLab): not
    /// sent, or refused by the forge; never counted as delivered.
    pub refused: u64,
    /// Delay from a state change to its delivery, per delivered status.
    pub delays: Vec<Duration>,
}

#[derive(Default)]
struct Counters {
    changes: AtomicU64,
    calls: AtomicU64,
    delivered: AtomicU64,
    failed_calls: AtomicU64,
    abandoned: AtomicU64,
    refused: AtomicU64,
    delays: Mutex<Vec<Duration>>,
}

/// Publishes releases as commit statuses. Cheap to clone.
#[derive(Clone)]
pub struct StatusPublisher {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    base_url: String,
    policy: RetryPolicy,
    slots: Mutex<HashMap<SlotKey, Slot>>,
    counters: Counters,
    in_flight: tokio::sync::Semaphore,
}

impl StatusPublisher {
    /// `base_url` is the server's public URL (release links).
    pub fn new(registry: Arc<Registry>, base_url: &str, policy: RetryPolicy) -> StatusPublisher {
        StatusPublisher {
            inner: Arc::new(Inner {
                registry,
                base_url: base_url.trim_end_matches('/').to_owned(),
                policy,
                slots: Mutex::new(HashMap::new()),
                counters: Counters::default(),
                in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            }),
        }
    }

    pub fn stats(&self) -> StatusStats {
        let c = &self.inner.counters;
        StatusStats {
            changes: c.changes.load(Ordering::Relaxed),
            calls: c.calls.load(Ordering::Relaxed),
            delivered: c.delivered.load(Ordering::Relaxed),
            failed_calls: c.failed_calls.load(Ordering::Relaxed),
            abandoned: c.abandoned.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            delays: c.delays.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        }
    }

    /// Whether every slot has delivered its wanted state (or given up) and
    /// no delivery is running.
    pub fn is_idle(&self) -> bool {
        self.inner
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .all(|s| !s.busy)
    }

    /// Waits until [`is_idle`](Self::is_idle).
    pub async fn idle(&self) {
        while !self.is_idle() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Brings the statuses of `release` up to date. Returns at once: the
    /// calls run in the background.
    pub fn publish(&self, release: &Release) {
        for (repo_url, sha, status) in statuses(release, &self.inner.base_url) {
            if self.inner.registry.for_repo(&repo_url).is_none() {
                continue;
            }
            let key = SlotKey {
                repo_url,
                sha,
                context: status.context.clone(),
            };
            let start = {
                let mut slots = self.inner.slots.lock().unwrap_or_else(|p| p.into_inner());
                if slots.len() > MAX_SLOTS {
                    slots.retain(|_, s| {
                        s.busy || !s.sent.as_ref().is_some_and(|c| c.state.is_final())
                    });
                }
                match slots.get_mut(&key) {
                    // Unchanged state *and* description: nothing to send.
                    // A new description in the same state (RUNNING: from
                    // the pre-action to the commit to the sync wait) is
                    // sent, so the forge says what is happening (SPEC §8).
                    Some(slot) if slot.wanted == status => false,
                    Some(slot) => {
                        slot.wanted = status;
                        slot.wanted_at = Instant::now();
                        slot.generation += 1;
                        self.inner.counters.changes.fetch_add(1, Ordering::Relaxed);
                        !std::mem::replace(&mut slot.busy, true)
                    }
                    None => {
                        slots.insert(
                            key.clone(),
                            Slot {
                                wanted: status,
                                wanted_at: Instant::now(),
                                generation: 0,
                                sent: None,
                                busy: true,
                            },
                        );
                        self.inner.counters.changes.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                }
            };
            if start {
                let inner = Arc::clone(&self.inner);
                tokio::spawn(async move { deliver(inner, key).await });
            }
        }
    }

    /// Follows engine events until the channel closes or `stop` completes:
    /// each release with news is fetched (through `fetch`) and published.
    /// Events of one burst are handled once per release; if the channel
    /// lagged, every release still open is published again, so no final
    /// state is missed.
    pub async fn follow<F, Fut>(
        &self,
        mut events: broadcast::Receiver<Event>,
        fetch: F,
        stop: impl Future<Output = ()>,
    ) where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Option<Release>>,
    {
        let mut open: HashSet<String> = HashSet::new();
        tokio::pin!(stop);
        loop {
            let first = tokio::select! {
                r = events.recv() => r,
                () = &mut stop => return,
            };
            let mut ids: Vec<String> = Vec::new();
            let mut lagged = false;
            let mut push = |r: Result<Event, broadcast::error::RecvError>| match r {
                Ok(e) => {
                    if !ids.contains(&e.release_id) {
                        ids.push(e.release_id);
                    }
                    true
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    lagged = true;
                    true
                }
                Err(broadcast::error::RecvError::Closed) => false,
            };
            if !push(first) {
                return;
            }
            loop {
                match events.try_recv() {
                    Ok(e) => {
                        push(Ok(e));
                    }
                    Err(broadcast::error::TryRecvError::Lagged(n)) => {
                        push(Err(broadcast::error::RecvError::Lagged(n)));
                    }
                    Err(_) => break,
                }
            }
            if lagged {
                tracing::warn!(
                    "commit statuses fell behind the engine; republishing open releases"
                );
                for id in &open {
                    if !ids.contains(id) {
                        ids.push(id.clone());
                    }
                }
            }
            for id in ids {
                match fetch(id.clone()).await {
                    Some(r) => {
                        if r.is_active() {
                            open.insert(id);
                        } else {
                            open.remove(&id);
                        }
                        self.publish(&r);
                    }
                    None => {
                        open.remove(&id);
                    }
                }
            }
        }
    }
}

/// The delivery task of one slot: sends the newest wanted status until
/// the slot's last delivered state is the wanted one, or the forge
/// refuses it.
///
/// Retryable failures (transport, 5xx, 429, rate limits) are retried with
/// backoff for as long as it takes — the last state must win, and a final
/// state given up after a burst of errors would leave the context pending
/// for good; a newer wanted status replaces the one being retried. Calls
/// that fail for good (4xx) are given up and counted as abandoned. A
/// transition the forge's state machine does not take (GitLab) is not
/// sent, or comes back [`ForgeError::Refused`]: counted as refused and
/// logged, never as delivered, and the slot keeps what was delivered
/// before; the next state change is tried again.
async fn deliver(inner: Arc<Inner>, key: SlotKey) {
    let mut attempt = 0u32;
    loop {
        // Waiting for a turn is where a burst coalesces: the status read
        // after the permit is the newest wanted one.
        let Ok(permit) = inner.in_flight.acquire().await else {
            release_slot(&inner, &key);
            return;
        };
        let (status, delivered, generation, wanted_at) = {
            let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
            let Some(slot) = slots.get_mut(&key) else {
                return;
            };
            if slot.sent.as_ref() == Some(&slot.wanted) {
                slot.busy = false;
                return;
            }
            (
                slot.wanted.clone(),
                slot.sent.clone(),
                slot.generation,
                slot.wanted_at,
            )
        };
        let Some(target) = inner.registry.for_repo(&key.repo_url) else {
            release_slot(&inner, &key);
            return;
        };
        let result = match target.forge.transition(delivered.as_ref(), &status) {
            Err(reason) => Err(crate::ForgeError::Refused {
                forge: target.forge.kind(),
                call: format!("status {} on {}", key.context, key.sha),
                message: reason,
            }),
            Ok(()) => {
                attempt += 1;
                inner.counters.calls.fetch_add(1, Ordering::Relaxed);
                target
                    .forge
                    .set_commit_status(&target.repo, &key.sha, &status)
                    .await
            }
        };
        drop(permit);
        let finished = |inner: &Inner| {
            let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get_mut(&key) {
                Some(slot) if slot.generation == generation => {
                    slot.busy = false;
                    true
                }
                Some(_) => false,
                None => true,
            }
        };
        match result {
            Ok(()) => {
                attempt = 0;
                inner.counters.delivered.fetch_add(1, Ordering::Relaxed);
                {
                    let mut d = inner
                        .counters
                        .delays
                        .lock()
                        .unwrap_or_else(|p| p.into_inner());
                    if d.len() < MAX_SAMPLES {
                        d.push(wanted_at.elapsed());
                    }
                }
                let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(slot) = slots.get_mut(&key) {
                    slot.sent = Some(status.clone());
                    if slot.generation == generation {
                        slot.busy = false;
                        return;
                    }
                }
            }
            Err(e @ crate::ForgeError::Refused { .. }) => {
                attempt = 0;
                inner.counters.refused.fetch_add(1, Ordering::Relaxed);
                crate::stats::record_refused(target.forge.kind());
                tracing::info!(context = %key.context, commit = %key.sha, reason = %e,
                    "commit status not delivered: the forge does not take this transition");
                if finished(&inner) {
                    return;
                }
            }
            Err(e) if e.is_retryable() => {
                inner.counters.failed_calls.fetch_add(1, Ordering::Relaxed);
                let wait = target.retry.unwrap_or(inner.policy).delay(attempt, &e);
                if attempt.is_multiple_of(10) {
                    tracing::warn!(context = %key.context, commit = %key.sha, error = %e, attempt,
                        "commit status still not delivered; retrying");
                } else {
                    tracing::debug!(context = %key.context, error = %e,
                        wait_ms = wait.as_millis() as u64, "commit status call failed; retrying");
                }
                tokio::time::sleep(wait).await;
            }
            Err(e) => {
                inner.counters.failed_calls.fetch_add(1, Ordering::Relaxed);
                inner.counters.abandoned.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(context = %key.context, commit = %key.sha, error = %e,
                    "commit status not delivered");
                attempt = 0;
                if finished(&inner) {
                    return;
                }
            }
        }
    }
}

fn release_slot(inner: &Inner, key: &SlotKey) {
    let mut slots = inner.slots.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(slot) = slots.get_mut(key) {
        slot.busy = false;
    }
}

/// The statuses `release` should have: (repository URL, commit, status).
pub fn statuses(release: &Release, base_url: &str) -> Vec<(String, String, CommitStatus)> {
    let base = base_url.trim_end_matches('/');
    let page = format!(
        "{base}/products/{}/releases/{}",
        release.product, release.number
    );
    let mut set = vec![CommitStatus {
        state: release_state(release.status),
        context: format!("ferry/{}", release.product),
        description: truncate_chars(&describe_release(release), MAX_DESCRIPTION),
        target_url: page.clone(),
    }];
    for e in release.environments.iter().filter(|e| !e.trigger) {
        set.push(CommitStatus {
            state: environment_state(e.status),
            context: format!("ferry/{}/{}", release.product, e.name),
            description: truncate_chars(&describe_environment(release, e), MAX_DESCRIPTION),
            target_url: format!("{page}#env-{}", e.name),
        });
    }
    let mut commits: Vec<(String, String)> = Vec::new();
    if !release.trigger.sha.is_empty() && !release.trigger.repo_url.is_empty() {
        commits.push((
            release.trigger.repo_url.clone(),
            release.trigger.sha.clone(),
        ));
    }
    for e in &release.environments {
        for a in &e.applications {
            let Some(pr) = &a.pull_request else { continue };
            let head = pr.head.clone().or_else(|| a.promotion_commit.clone());
            if let Some(head) = head.filter(|_| pr.number > 0) {
                let c = (a.repo_url.clone(), head);
                if !commits.contains(&c) {
                    commits.push(c);
                }
            }
        }
    }
    let mut out = Vec::with_capacity(commits.len() * set.len());
    for (repo, sha) in commits {
        for s in &set {
            out.push((repo.clone(), sha.clone(), s.clone()));
        }
    }
    out
}

/// SPEC §8: `pending` while QUEUED, PENDING or SUSPENDED (and `Running`
/// while RUNNING or TERMINATING, `Waiting` while SUSPENDED, sent as
/// `pending` where the forge has no word for them); `success`; `failure`;
/// `error` for TERMINATED.
pub fn release_state(s: ReleaseStatus) -> StatusState {
    match s {
        ReleaseStatus::Queued => StatusState::Pending,
        ReleaseStatus::Suspended => StatusState::Waiting,
        ReleaseStatus::Running | ReleaseStatus::Terminating => StatusState::Running,
        ReleaseStatus::Succeeded => StatusState::Success,
        ReleaseStatus::Failed => StatusState::Failure,
        // Replaced by a newer release (issue 20): it did not fail, and it
        // will not deploy — ended without success, as TERMINATED.
        ReleaseStatus::Terminated | ReleaseStatus::Superseded => StatusState::Error,
    }
}

pub fn environment_state(s: EnvironmentStatus) -> StatusState {
    match s {
        EnvironmentStatus::Pending => StatusState::Pending,
        EnvironmentStatus::Suspended => StatusState::Waiting,
        EnvironmentStatus::Running => StatusState::Running,
        EnvironmentStatus::Successful => StatusState::Success,
        EnvironmentStatus::Failed => StatusState::Failure,
        EnvironmentStatus::Terminated => StatusState::Error,
    }
}

fn version_of(r: &Release) -> String {
    r.version.clone().unwrap_or_else(|| "-".into())
}

/// What the release is doing, in a line.
pub fn describe_release(r: &Release) -> String {
    let head = match &r.rollback_for {
        Some(of) => format!(
            "release #{} ({}, rollback of #{})",
            r.number,
            version_of(r),
            of.number
        ),
        None => format!("release #{} ({})", r.number, version_of(r)),
    };
    let names = |want: EnvironmentStatus| -> String {
        r.environments
            .iter()
            .filter(|e| !e.trigger && e.status == want)
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match r.status {
        ReleaseStatus::Queued => format!("{head}: queued behind another release"),
        ReleaseStatus::Running => {
            let running = names(EnvironmentStatus::Running);
            if running.is_empty() {
                format!("{head}: running")
            } else {
                format!("{head}: promoting to {running}")
            }
        }
        ReleaseStatus::Suspended => match r
            .environments
            .iter()
            .filter(|e| e.status == EnvironmentStatus::Suspended)
            .find_map(|e| e.hold.as_ref().map(|h| (e, h)))
        {
            // Held by a closed window or a freeze (issue 20): say why.
            Some((e, h)) => format!("{head}: {}: {}", e.name, h.reason),
            None => format!(
                "{head}: waiting for approval in {}",
                names(EnvironmentStatus::Suspended)
            ),
        },
        ReleaseStatus::Succeeded => format!("{head}: promoted to every environment"),
        ReleaseStatus::Failed => {
            let failed = format!("{head}: failed in {}", names(EnvironmentStatus::Failed));
            match r.rolled_back_by.as_slice() {
                [] => failed,
                links => format!(
                    "{failed}; rolled back by {}",
                    links
                        .iter()
                        .map(|l| format!("release #{}", l.number))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        ReleaseStatus::Terminating => format!("{head}: terminating"),
        ReleaseStatus::Terminated => format!("{head}: terminated"),
        ReleaseStatus::Superseded => match &r.termination {
            Some(t) => format!("{head}: superseded by {}", t.by),
            None => format!("{head}: superseded"),
        },
    }
}

/// What is happening in one environment (`staging: running pre-action smoke-tests`).
pub fn describe_environment(r: &Release, e: &EnvironmentRun) -> String {
    let env = &e.name;
    match e.status {
        EnvironmentStatus::Pending => {
            if r.status == ReleaseStatus::Queued {
                format!("{env}: queued behind another release")
            } else if e.depends_on.is_empty() {
                format!("{env}: waiting to start")
            } else {
                format!("{env}: waiting for {}", e.depends_on.join(", "))
            }
        }
        EnvironmentStatus::Running => {
            if let Some(h) = e.hooks.iter().find(|h| h.status == StepStatus::Running) {
                return format!("{env}: running hook {}", h.name);
            }
            for a in &e.applications {
                let Some(s) = a
                    .steps
                    .iter()
                    .find(|s| s.status.is_active())
                    .or_else(|| a.steps.iter().find(|s| s.status == StepStatus::Pending))
                else {
                    continue;
                };
                return match s.phase {
                    StepPhase::PreAction => format!("{env}: running pre-action {}", s.name),
                    StepPhase::PostAction => format!("{env}: running post-action {}", s.name),
                    StepPhase::Action if s.name == "pr" => {
                        format!("{env}: opening a pull request for {}", a.name)
                    }
                    StepPhase::Action => {
                        format!("{env}: committing {} to {}", version_of(r), a.name)
                    }
                    StepPhase::Sync => {
                        format!("{env}: waiting for {} to sync and be healthy", a.name)
                    }
                    StepPhase::Hook => format!("{env}: running hook {}", s.name),
                };
            }
            format!("{env}: running")
        }
        EnvironmentStatus::Suspended if e.hold.is_some() => {
            let reason = e
                .hold
                .as_ref()
                .map(|h| h.reason.as_str())
                .unwrap_or_default();
            format!("{env}: {reason}")
        }
        EnvironmentStatus::Suspended => {
            // Held by ferry itself: an approval gate (issue 20).
            if let Some(reason) = e.waiting_reason() {
                return format!("{env}: {reason}");
            }
            let pr = e
                .applications
                .iter()
                .filter(|a| a.status == EnvironmentStatus::Suspended)
                .find_map(|a| a.pull_request.as_ref().filter(|p| p.number > 0));
            // A `pr` action whose pull request the forge could not open
            // yet: the engine waits and opens it again.
            let opening = e
                .applications
                .iter()
                .filter(|a| a.status == EnvironmentStatus::Suspended && a.pull_request.is_none())
                .find(|a| {
                    a.steps.iter().any(|s| {
                        s.phase == StepPhase::Action && s.name == "pr" && s.status.is_active()
                    })
                });
            match (pr, opening) {
                (Some(p), _) => {
                    format!("{env}: waiting for pull request #{} to be merged", p.number)
                }
                (None, Some(a)) => format!(
                    "{env}: the pull request for {} could not be opened yet; trying again",
                    a.name
                ),
                (None, None) => format!("{env}: waiting for approval"),
            }
        }
        EnvironmentStatus::Successful => format!("{env}: {} promoted", version_of(r)),
        EnvironmentStatus::Failed => match e.issues.last() {
            Some(i) => format!("{env}: failed: {}", i.message),
            None => format!("{env}: failed"),
        },
        EnvironmentStatus::Terminated => match &r.termination {
            Some(t) if r.status == ReleaseStatus::Superseded => {
                format!("{env}: superseded by {}", t.by)
            }
            _ => format!("{env}: terminated"),
        },
    }
}
