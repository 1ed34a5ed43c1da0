//! An environment's gate (issue 20): before anything of the environment
//! runs, a closed promotion window or an active freeze holds it. The hold
//! is recorded — the environment SUSPENDED, the reason on it and on the
//! status event — and the drive waits here until nothing holds it; the
//! environment then starts with an event saying why it may.

use std::sync::Arc;

use ferry_release::{EnvironmentStatus, EventKind, Hold, NewEvent};
use tokio_util::sync::CancellationToken;

use crate::gates::GATE_RECHECK;
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

/// Waits until nothing holds `env`. `None`: nothing held it; else the
/// message of its start (why it may go now), for the caller to store with
/// the start. A stop (terminate, shutdown) while held is
/// [`Error::ShuttingDown`]: the environment stays as stored.
pub(super) async fn wait_open(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    cancel: &CancellationToken,
) -> Result<Option<String>, Error> {
    let mut held: Option<Hold> = handle.get().await.environment(env).and_then(|e| {
        (e.status == EnvironmentStatus::Suspended)
            .then(|| e.hold.clone())
            .flatten()
    });
    loop {
        // Subscribed before looking, so a change made meanwhile wakes us.
        let mut changed = inner.gate_changed.subscribe();
        let r = handle.get().await;
        if r.termination.is_some() || cancel.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        let hold = match inner.hold_for(&r, env).await {
            Ok(hold) => hold,
            // Freezes cannot be read now: hold on (never write through a
            // freeze nobody could read), look again shortly.
            Err(e) => {
                tracing::warn!(release = %handle.id, environment = %env, error = %e, "reading the freezes; the environment waits");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    () = cancel.cancelled() => return Err(Error::ShuttingDown),
                }
                continue;
            }
        };
        let Some(mut hold) = hold else {
            let Some(was) = held else {
                return Ok(None);
            };
            let why = match &r.break_glass {
                Some(b) => format!("let through by break-glass of {}: {}", b.by, b.reason),
                None => format!("no longer held ({})", was.reason),
            };
            return Ok(Some(why));
        };
        let same = held
            .as_ref()
            .is_some_and(|h| h.kind == hold.kind && h.by == hold.by && h.until == hold.until);
        if !same {
            if let Some(h) = &held
                && h.kind == hold.kind
                && h.by == hold.by
            {
                hold.since = h.since;
            }
            let reason = hold.reason.clone();
            let stored = hold.clone();
            handle
                .update(|r| {
                    if let Some(e) = r.environment_mut(env) {
                        e.status = EnvironmentStatus::Suspended;
                        e.hold = Some(stored);
                    }
                    (
                        (),
                        vec![
                            NewEvent::new(EventKind::Environment, "SUSPENDED")
                                .environment(env)
                                .message(reason),
                        ],
                    )
                })
                .await?;
            tracing::info!(release = %handle.id, environment = %env, reason = %hold.reason, "held before its first write");
            held = Some(hold.clone());
        }
        let until = hold.until;
        tokio::select! {
            () = async {
                match until {
                    Some(at) => inner.clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = changed.changed() => {}
            () = tokio::time::sleep(GATE_RECHECK) => {}
            () = cancel.cancelled() => return Err(Error::ShuttingDown),
        }
    }
}
