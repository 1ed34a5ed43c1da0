//! Reading a release's snapshot in its driver (issue 24: accept, then
//! work). A manual promotion is stored and answered without Git; the
//! driver reads what its trigger environment holds — after a fetch shared
//! by every release that needs the same repository — before anything else
//! runs, and stores it once. A snapshot that cannot be read fails the
//! trigger environment with the reason, so the release ends FAILED and
//! nothing downstream runs; a retry reads it again.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::membership::Member;
use ferry_release::{EnvironmentStatus, EventKind, IssueKind, NewEvent, now};
use tokio_util::sync::CancellationToken;

use super::record::issue;
use crate::create::{members, take_snapshot};
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

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
    let failure = loop {
        let cfg = inner.config();
        // The applications recorded in the trigger environment at creation,
        // read with their templates as configured now.
        let recorded: Vec<&str> = r
            .environment(&environment)
            .map(|e| e.applications.iter().map(|a| a.key.as_str()).collect())
            .unwrap_or_default();
        let apps: Result<Vec<Member>, Error> =
            members(&inner.membership(&cfg), &r.product).map(|pm| {
                pm.in_environment(&environment)
                    .filter(|m| recorded.contains(&m.key.as_str()))
                    .cloned()
                    .collect()
            });
        let read = match apps {
            Ok(apps) => take_snapshot(inner, &cfg, &environment, apps, None, None).await,
            Err(e) => Err(e),
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
