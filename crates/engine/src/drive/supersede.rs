//! Concurrency `supersede` (issue 20): the newest release of a product
//! replaces the older ones that wait — queued, or suspended (at a pull
//! request, an approval, a window, a suspend step or a soak time) — so a
//! backlog of intermediate builds is skipped. An older release that is
//! working (a workflow running, a Git write under way) is never
//! interrupted: the newer one queues behind it, and the older is replaced
//! as soon as it waits (the watch below), or runs to its end.
//!
//! A replaced release ends SUPERSEDED: its termination names the newer
//! release, and what it left open (pull requests, promotion branches) is
//! closed when its driver ends, with a comment naming the newer release
//! (`leftovers.rs`). Rollback releases ferry started (`rollback.rs`)
//! neither replace nor are replaced: they repair an environment.

use std::sync::Arc;

use ferry_model::resource::ConcurrencyPolicy;
use ferry_release::{
    EventKind, NewEvent, Release, ReleaseRef, ReleaseStatus, Termination, TerminationReason, now,
};

use super::release::{active_of_product, queued_of_product};
use crate::{Error, Inner};

/// Whether `product`'s concurrency policy is `supersede`.
pub(crate) fn applies(inner: &Inner, product: &str) -> bool {
    inner
        .config()
        .config
        .product(product)
        .is_some_and(|p| p.concurrency().policy == ConcurrencyPolicy::Supersede)
}

/// Whether `r` waits: it has not ended, and nothing of it works now.
fn waits(r: &Release) -> bool {
    r.termination.is_none()
        && r.finished_at.is_none()
        && matches!(r.status, ReleaseStatus::Queued | ReleaseStatus::Suspended)
}

/// Under `supersede`, replaces every release of `product` older than its
/// newest that waits. Returns the numbers of the releases replaced.
/// Called when a release is created, when a release being driven starts
/// waiting, and every queue scan interval (so a replacement missed by a
/// restart is made within it).
pub(crate) async fn supersede_waiting(
    inner: &Arc<Inner>,
    product: &str,
) -> Result<Vec<u64>, Error> {
    if !applies(inner, product) {
        return Ok(Vec::new());
    }
    let lock = inner.product_lock(product);
    let _guard = lock.lock().await;
    // Other replicas decide about this product too (issue 11).
    let gate = crate::lease::product_gate(inner, product).await?;
    let decided: Result<Vec<u64>, Error> = async {
        let mut all = active_of_product(inner, product).await?;
        for q in queued_of_product(inner, product).await? {
            if !all.iter().any(|r| r.id == q.id) {
                all.push(q);
            }
        }
        all.retain(|r| r.rollback_for.is_none());
        let Some(newest) = all.iter().max_by_key(|r| r.number).cloned() else {
            return Ok(Vec::new());
        };
        let mut replaced = Vec::new();
        for r in all.iter().filter(|r| r.number < newest.number && waits(r)) {
            if supersede_one(inner, &r.id, &newest).await? {
                replaced.push(r.number);
            }
        }
        Ok(replaced)
    }
    .await;
    crate::lease::release_gate(gate).await;
    let replaced = decided?;
    if !replaced.is_empty() {
        tracing::info!(product = %product, replaced = ?replaced, "superseded waiting releases");
    }
    Ok(replaced)
}

/// Replaces release `id` by `newest` if it still waits when its record is
/// read under its writer (a release that started working meanwhile is
/// left alone: nothing is stopped in the middle of a write). Whether it
/// was replaced.
async fn supersede_one(inner: &Arc<Inner>, id: &str, newest: &Release) -> Result<bool, Error> {
    let termination = Termination {
        reason: TerminationReason::Superseded,
        by: format!("release #{}", newest.number),
        at: now(),
        release: Some(ReleaseRef {
            id: newest.id.clone(),
            number: newest.number,
        }),
    };
    let audit =
        NewEvent::new(EventKind::Audit, ReleaseStatus::Superseded.as_str()).message(format!(
            "superseded by release #{} ({})",
            newest.number,
            newest.version.as_deref().unwrap_or("version not read yet")
        ));
    let driving = inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .map(|d| (Arc::clone(&d.handle), d.cancel.clone()));
    if let Some((handle, cancel)) = driving {
        let replaced = handle
            .update_for_request(|r| {
                if waits(r) {
                    r.termination = Some(termination.clone());
                    (true, vec![audit.clone()])
                } else {
                    (false, vec![])
                }
            })
            .await?;
        if replaced {
            // Stops the waits; the driver ends the release (closing what
            // it left open) and hands the queue on.
            cancel.cancel();
        }
        return Ok(replaced);
    }
    // Not driven here: a queued release ends at once (nothing of it ran).
    // One suspended under another replica is replaced by that replica's
    // own watch.
    let Some(release) = inner.store.get(id).await.map_err(crate::store_error)? else {
        return Ok(false);
    };
    if release.status != ReleaseStatus::Queued || !waits(&release) {
        return Ok(false);
    }
    let handle = inner.handle(release);
    handle
        .update_for_request(|r| {
            r.termination = Some(termination.clone());
            let at = now();
            r.end_unrun_steps(at);
            r.finished_at = Some(at);
            ((), vec![audit.clone()])
        })
        .await?;
    Ok(true)
}

/// Replaces waiting releases as soon as a release this replica drives
/// starts waiting (its status becomes SUSPENDED) while a newer one of its
/// product is queued; and, every queue scan interval (and once at
/// start), for every product under `supersede`, so a replacement missed —
/// a restart, a release another replica drives — is made then.
pub(crate) fn spawn_watch(inner: &Arc<Inner>) {
    let inner = Arc::clone(inner);
    let mut events = inner.events.subscribe();
    tokio::spawn(async move {
        let mut scan = tokio::time::interval(inner.settings.queue_scan_interval);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let event = tokio::select! {
                e = events.recv() => e,
                _ = scan.tick() => {
                    scan_all(&inner).await;
                    continue;
                }
                () = inner.shutdown.cancelled() => return,
            };
            let event = match event {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            if event.kind != EventKind::Release || event.status != ReleaseStatus::Suspended.as_str()
            {
                continue;
            }
            let product = inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&event.release_id)
                .map(|d| d.handle.product.clone());
            let Some(product) = product.filter(|p| applies(&inner, p)) else {
                continue;
            };
            let inner = Arc::clone(&inner);
            tokio::spawn(async move {
                if let Err(e) = supersede_waiting(&inner, &product).await {
                    tracing::warn!(product = %product, error = %e, "superseding waiting releases");
                }
            });
        }
    });
}

/// [`supersede_waiting`] for every product whose policy is `supersede`.
async fn scan_all(inner: &Arc<Inner>) {
    let products: Vec<String> = inner
        .config()
        .config
        .products
        .iter()
        .filter(|p| p.concurrency().policy == ConcurrencyPolicy::Supersede)
        .map(|p| p.name().to_owned())
        .collect();
    for product in products {
        if let Err(e) = supersede_waiting(inner, &product).await {
            tracing::debug!(product = %product, error = %e, "superseding waiting releases");
        }
    }
}
