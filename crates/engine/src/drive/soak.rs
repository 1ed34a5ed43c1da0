//! Soak time (concurrency `minInterval`, issue 20): a promotion into an
//! environment starts no sooner than the product's `minInterval` for it
//! after the previous successful promotion there ended. Meanwhile the
//! environment waits SUSPENDED with a hold of kind `soak` saying until
//! when (as a closed window's hold does, `gate.rs`); under `supersede` a
//! newer release replaces it while it waits (`supersede.rs`), so when
//! the soak time is over only the newest release goes on — a batch.
//!
//! The decision reads the engine's clock (`crate::clock`), so tests move
//! time instead of waiting for it.

use std::sync::Arc;

use ferry_release::{EnvironmentStatus, EventKind, Hold, HoldKind, NewEvent, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

/// Until when `env` of the release must wait, and why; `None` when it
/// may start now.
async fn soak_until(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
) -> Result<Option<Hold>, Error> {
    let r = handle.get().await;
    let trigger = r.environment(env).is_none_or(|e| e.trigger);
    if trigger || r.rollback_for.is_some() {
        // A rollback repairs at once; nothing is promoted into the
        // trigger environment.
        return Ok(None);
    }
    let Some(interval) = inner
        .config()
        .config
        .product(&r.product)
        .and_then(|p| p.concurrency().min_interval(env))
    else {
        return Ok(None);
    };
    let Some(previous) = inner
        .store
        .last_success_in(&r.product, env, r.number)
        .await
        .map_err(crate::store_error)?
    else {
        return Ok(None);
    };
    let Some(ended) = previous.environment(env).and_then(|e| e.finished_at) else {
        return Ok(None);
    };
    let interval = time::Duration::try_from(interval).unwrap_or(time::Duration::MAX);
    let until = ended.saturating_add(interval);
    let now = inner.clock.now();
    if now >= until {
        return Ok(None);
    }
    Ok(Some(Hold {
        kind: HoldKind::Soak,
        reason: format!(
            "soak time: {} after release #{} promoted {env} (minInterval), until {}",
            human(interval),
            previous.number,
            rfc3339(until)
        ),
        until: Some(until),
        by: format!("release #{}", previous.number),
        since: now,
    }))
}

fn rfc3339(t: Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

fn human(d: time::Duration) -> String {
    let s = d.whole_seconds();
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// Waits out `env`'s soak time, SUSPENDED with the reason; `false` when
/// the wait was cancelled (terminated, superseded, or the driver stops).
pub(super) async fn wait(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    cancel: &CancellationToken,
) -> Result<bool, Error> {
    let Some(mut hold) = soak_until(inner, handle, env).await? else {
        return Ok(true);
    };
    let until = hold.until.unwrap_or(hold.since);
    let already = handle
        .get()
        .await
        .environment(env)
        .and_then(|e| e.hold.clone())
        .filter(|h| h.kind == HoldKind::Soak);
    match already {
        // Resumed while it waited: the same wait.
        Some(h) if h.until == hold.until && h.by == hold.by => {}
        _ => {
            if let Some(h) = already.filter(|h| h.by == hold.by) {
                hold.since = h.since;
            }
            let note = NewEvent::new(
                EventKind::Environment,
                EnvironmentStatus::Suspended.as_str(),
            )
            .environment(env)
            .message(hold.reason.clone());
            handle
                .update(|r| {
                    if let Some(e) = r.environment_mut(env) {
                        e.status = EnvironmentStatus::Suspended;
                        e.hold = Some(hold.clone());
                    }
                    ((), vec![note.clone()])
                })
                .await?;
        }
    }
    tokio::select! {
        () = inner.clock.sleep_until(until) => Ok(true),
        () = cancel.cancelled() => Ok(false),
    }
}
