//! Reading a release's snapshot (issue 24: accept, then work). A manual
//! promotion is stored and answered without Git. The snapshot is read
//! right after, in the background ([`read_early`]) — what the trigger
//! environment holds as of the request (SPEC §4.1), also for a release
//! that waits in its product's queue — after a fetch shared by every
//! release of the same repository that was requested before it started
//! (one fetch per repository for a burst of requests). The driver takes
//! that read when the release starts ([`read_pending`]) and stores it
//! once, before anything else runs; a driver with no early read in this
//! process (after a restart, or on another replica) reads it then. A
//! snapshot that cannot be read fails the trigger environment with the
//! reason, so the release ends FAILED and nothing downstream runs; a retry
//! reads it again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ferry_model::membership::Member;
use ferry_release::{EnvironmentStatus, EventKind, IssueKind, NewEvent, Release, now};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::record::issue;
use crate::create::{TriggerState, members, take_snapshot};
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

/// How long an early read waits for its driver: one that never comes (the
/// release ended in the queue, or another replica drives it) is dropped
/// at the next read started after that.
const EARLY_READ_KEPT: Duration = Duration::from_secs(3600);

/// A snapshot read under way (or done), with when it started.
type EarlyRead = (Instant, JoinHandle<Result<TriggerState, Error>>);

/// Snapshot reads started when their release was stored, by release id.
#[derive(Default)]
pub(crate) struct EarlyReads(Mutex<HashMap<String, EarlyRead>>);

impl EarlyReads {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, EarlyRead>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn take(&self, id: &str) -> Option<JoinHandle<Result<TriggerState, Error>>> {
        self.map().remove(id).map(|(_, task)| task)
    }

    /// Whether the early read of release `id` has ended (and waits for its
    /// driver).
    pub(crate) fn finished(&self, id: &str) -> bool {
        self.map()
            .get(id)
            .is_some_and(|(_, task)| task.is_finished())
    }
}

/// Starts reading the snapshot of a just-stored release whose snapshot is
/// pending, as of now (see the module comment).
pub(crate) fn read_early(inner: &Arc<Inner>, release: &Release) {
    if !release.snapshot.pending || release.termination.is_some() {
        return;
    }
    let since = SystemTime::now();
    let task = {
        let inner = Arc::clone(inner);
        let release = release.clone();
        tokio::spawn(async move { read_now(&inner, &release, since).await })
    };
    let mut reads = inner.early_reads.map();
    reads.retain(|_, (at, task)| {
        let keep = at.elapsed() < EARLY_READ_KEPT;
        if !keep {
            task.abort();
        }
        keep
    });
    reads.insert(release.id.clone(), (Instant::now(), task));
}

/// Reads the trigger environment of `r` after a fetch started at or after
/// `since`: the applications recorded in it at creation, with their
/// templates as configured now.
async fn read_now(
    inner: &Arc<Inner>,
    r: &Release,
    since: SystemTime,
) -> Result<TriggerState, Error> {
    let environment = &r.snapshot.environment;
    let cfg = inner.config();
    let recorded: Vec<&str> = r
        .environment(environment)
        .map(|e| e.applications.iter().map(|a| a.key.as_str()).collect())
        .unwrap_or_default();
    let apps: Vec<Member> = members(&inner.membership(&cfg), &r.product).map(|pm| {
        pm.in_environment(environment)
            .filter(|m| recorded.contains(&m.key.as_str()))
            .cloned()
            .collect()
    })?;
    take_snapshot(inner, &cfg, environment, apps, None, None, since).await
}

/// Attempts at a read that fails for a reason that may pass (network,
/// a fetch that timed out), with a doubling delay from the first.
const ATTEMPTS: u32 = 4;
const FIRST_DELAY: Duration = Duration::from_millis(500);

/// Reads the release's snapshot if it is still pending. `Ok(true)` when
/// the snapshot is there (read now or before); `Ok(false)` when it could
/// not be read (the trigger environment is FAILED with the issue) or the
/// release was stopped meanwhile.
pub(super) async fn read_pending(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    cancel: &CancellationToken,
) -> Result<bool, Error> {
    let r = handle.get().await;
    if !r.snapshot.pending {
        return Ok(true);
    }
    let environment = r.snapshot.environment.clone();
    let mut delay = FIRST_DELAY;
    let mut attempt = 1;
    let mut early = inner.early_reads.take(&r.id);
    let failure = loop {
        let read = match early.take() {
            Some(task) => match task.await {
                Ok(read) => read,
                Err(e) => Err(Error::Internal(format!("the snapshot read failed: {e}"))),
            },
            None => read_now(inner, &r, SystemTime::now()).await,
        };
        match read {
            Ok((snapshot, version, trigger)) => {
                let message = format!(
                    "snapshot of `{environment}` read at {} ({})",
                    trigger.sha, trigger.branch
                );
                handle
                    .update(|r| {
                        r.snapshot = snapshot;
                        r.version = version;
                        r.trigger = trigger;
                        let read = NewEvent::new(EventKind::Release, r.status.to_string())
                            .message(message);
                        ((), vec![read])
                    })
                    .await?;
                return Ok(true);
            }
            Err(e) if attempt < ATTEMPTS && transient(&e) => {
                tracing::warn!(release = %r.id, error = %e, attempt, "reading the snapshot; trying again");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = cancel.cancelled() => return Ok(false),
                }
                delay *= 2;
                attempt += 1;
            }
            Err(e) => break e,
        }
    };
    if cancel.is_cancelled() {
        return Ok(false);
    }
    let message = format!("reading the snapshot of `{environment}`: {failure}");
    handle
        .update(|r| {
            if let Some(e) = r.environment_mut(&environment) {
                e.issues.push(issue(IssueKind::Git, message.clone()));
                e.status = EnvironmentStatus::Failed;
                e.finished_at = Some(now());
            }
            ((), vec![])
        })
        .await?;
    Ok(false)
}

/// Whether trying again later may read it.
fn transient(e: &Error) -> bool {
    match e {
        Error::Git(e) => e.is_transient(),
        Error::GitOps(ferry_gitops::Error::Git(e)) => e.is_transient(),
        _ => false,
    }
}
