//! Several replicas on one database (issue 11, SPEC §10 scale-out).
//!
//! Each unfinished release is driven by one replica at a time: the holder
//! of its *lease* (see `ferry_store`'s `lease` module for the columns and
//! the compare-and-set statements). Here is what the engine does with it:
//!
//! - a driver takes the lease before it drives ([`acquire`]) and gives it
//!   up when it stops ([`give_up`]); a release whose lease another live
//!   replica holds is not driven here;
//! - a keeper task renews every lease this replica holds, and stops the
//!   local driver of any lease it finds lost (a replica that was paused
//!   past its expiry and taken over); it also looks for releases whose
//!   holder stopped renewing (killed, partitioned) and resumes them here
//!   through the ordinary resume path, so they continue exactly where the
//!   store says they stood — the commit trailers make a promotion pushed
//!   just before the holder died be found, not pushed again;
//! - every save is made on behalf of this replica ([`LeasedStore`]): the
//!   store refuses it when another replica holds the lease, so a driver
//!   that lost its lease can never write again, even between renewals.
//!
//! The engine sees all of this through [`ReleaseStore::leases`]; an engine
//! on a store without leases (tests, tools) drives every release it
//! resumes, as before. SQLite (one replica) runs the same code: its one
//! replica always wins the compare-and-set.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_release::{Event, NewEvent, Release};

use crate::store::{Created, ReleaseStore, StoreError};
use crate::{Error, Inner, drive};

/// Timing of leases. A holder that dies is replaced after at most
/// `ttl + scan_every` (the default: 8 s, within the 10 s of issue 11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseSettings {
    /// How long a lease runs without renewal.
    pub ttl: Duration,
    /// How often the holder renews (a third of `ttl` leaves two
    /// renewals' room for a slow database).
    pub renew_every: Duration,
    /// How often a replica looks for releases nobody drives.
    pub scan_every: Duration,
}

impl Default for LeaseSettings {
    fn default() -> Self {
        LeaseSettings {
            ttl: Duration::from_secs(6),
            renew_every: Duration::from_secs(2),
            scan_every: Duration::from_secs(2),
        }
    }
}

/// The lease operations the engine needs; [`LeasedStore`] implements them.
#[async_trait]
pub trait Leases: Send + Sync {
    /// This replica's instance id (the `lease_owner` it writes).
    fn instance(&self) -> &str;
    fn lease_settings(&self) -> LeaseSettings;
    /// Takes (or extends) the lease of `id` unless another live replica
    /// holds it.
    async fn acquire(&self, id: &str) -> Result<bool, StoreError>;
    /// Takes the lease of `id` even from a live holder (an operation asked
    /// of this replica on a release another one drives).
    async fn take(&self, id: &str) -> Result<bool, StoreError>;
    /// Renews every lease held; returns the ids still held.
    async fn renew(&self) -> Result<Vec<String>, StoreError>;
    async fn give_up(&self, id: &str) -> Result<(), StoreError>;
    /// Started, unfinished releases nobody drives.
    async fn orphans(&self) -> Result<Vec<String>, StoreError>;
    /// Whether another replica holds a running lease on `id`.
    async fn held_elsewhere(&self, id: &str) -> Result<bool, StoreError>;
    /// Started, unfinished releases of `product` on any replica.
    async fn started_of_product(&self, product: &str) -> Result<Vec<String>, StoreError>;
}

/// The store of a replica: `ferry_store::Store` whose saves are made on
/// behalf of this replica's leases and whose cursors move by
/// compare-and-set.
pub struct LeasedStore {
    store: ferry_store::Store,
    instance: String,
    settings: LeaseSettings,
}

impl LeasedStore {
    pub fn new(store: ferry_store::Store, instance: &str, settings: LeaseSettings) -> LeasedStore {
        LeasedStore {
            store,
            instance: instance.to_owned(),
            settings,
        }
    }
}

#[async_trait]
impl ReleaseStore for LeasedStore {
    fn freezes(&self) -> Option<&ferry_store::Store> {
        Some(&self.store)
    }

    async fn create(
        &self,
        release: Release,
        trigger_key: Option<String>,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        ReleaseStore::create(&self.store, release, trigger_key, events).await
    }

    async fn create_idempotent(
        &self,
        release: Release,
        request: &ferry_store::IdempotentRequest,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        ReleaseStore::create_idempotent(&self.store, release, request, events).await
    }

    async fn idempotent_answer(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<ferry_store::Remembered>, StoreError> {
        ReleaseStore::idempotent_answer(&self.store, scope, key).await
    }

    /// Refused (`LeaseLost`) when another replica holds the lease.
    async fn save(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(self
            .store
            .save_held(release, events, &self.instance)
            .await?)
    }

    async fn save_idempotent(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        request: &ferry_store::IdempotentRequest,
    ) -> Result<ferry_store::Saved, StoreError> {
        Ok(self
            .store
            .save_held_idempotent(release, events, &self.instance, request)
            .await?)
    }

    async fn get(&self, id: &str) -> Result<Option<Release>, StoreError> {
        ReleaseStore::get(&self.store, id).await
    }

    async fn repair_finished(&self) -> Result<Vec<String>, StoreError> {
        ReleaseStore::repair_finished(&self.store).await
    }

    async fn active_ids(&self) -> Result<Vec<String>, StoreError> {
        ReleaseStore::active_ids(&self.store).await
    }

    async fn queued_of_product(&self, product: &str) -> Result<Vec<Release>, StoreError> {
        ReleaseStore::queued_of_product(&self.store, product).await
    }

    async fn stalled_queues(&self) -> Result<Vec<String>, StoreError> {
        ReleaseStore::stalled_queues(&self.store).await
    }

    async fn last_success_in(
        &self,
        product: &str,
        environment: &str,
        before: u64,
    ) -> Result<Option<Release>, StoreError> {
        ReleaseStore::last_success_in(&self.store, product, environment, before).await
    }

    async fn cursor_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        ReleaseStore::cursor_get(&self.store, key).await
    }

    async fn product_gate(
        &self,
        product: &str,
    ) -> Result<Option<ferry_store::ProductGate>, StoreError> {
        ReleaseStore::product_gate(&self.store, product).await
    }

    async fn cursor_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        ReleaseStore::cursor_set(&self.store, key, value).await
    }

    async fn cursor_compare_and_set(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        Ok(self
            .store
            .cursor_compare_and_set(key, expected, value)
            .await?)
    }

    fn leases(&self) -> Option<&dyn Leases> {
        Some(self)
    }
}

#[async_trait]
impl Leases for LeasedStore {
    fn instance(&self) -> &str {
        &self.instance
    }

    fn lease_settings(&self) -> LeaseSettings {
        self.settings
    }

    async fn acquire(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .lease_acquire(id, &self.instance, self.settings.ttl)
            .await?)
    }

    async fn take(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self
            .store
            .lease_take(id, &self.instance, self.settings.ttl)
            .await?)
    }

    async fn renew(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .store
            .lease_renew(&self.instance, self.settings.ttl)
            .await?)
    }

    async fn give_up(&self, id: &str) -> Result<(), StoreError> {
        Ok(self.store.lease_release(id, &self.instance).await?)
    }

    async fn orphans(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.store.lease_orphans(self.settings.ttl, 100).await?)
    }

    async fn held_elsewhere(&self, id: &str) -> Result<bool, StoreError> {
        Ok(match self.store.lease_of(id).await? {
            Some(l) => l.live && l.holder.as_deref() != Some(self.instance.as_str()),
            None => false,
        })
    }

    async fn started_of_product(&self, product: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.store.started_of_product(product).await?)
    }
}

/// The leases this replica's drivers hold (only drivers that took their
/// lease are checked by the keeper: one that is about to take it is not
/// "lost").
/// Each driver's hold on its lease is numbered, so that a driver that
/// stops gives up only its own hold, never that of a successor driving the
/// same release here (a retry started the moment the release finished).
#[derive(Default)]
pub(crate) struct LeaseState {
    held: Mutex<HashMap<String, u64>>,
    next: AtomicU64,
}

impl LeaseState {
    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A driver's hold on its release's lease (see [`acquire`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hold(u64);

/// Takes the lease of `id` before a driver starts; `Some` when the driver
/// may go on (always without leases).
pub(crate) async fn acquire(inner: &Arc<Inner>, id: &str) -> Option<Hold> {
    let hold = Hold(inner.lease.next.fetch_add(1, Ordering::Relaxed) + 1);
    let Some(leases) = inner.store.leases() else {
        return Some(hold);
    };
    match leases.acquire(id).await {
        Ok(true) => {
            inner.lease.held().insert(id.to_owned(), hold.0);
            Some(hold)
        }
        Ok(false) => {
            tracing::info!(release = %id, "driven by another replica; not driven here");
            None
        }
        Err(e) => {
            tracing::warn!(release = %id, error = %e, "taking the lease failed; not driven here");
            None
        }
    }
}

/// Gives the lease of `id` up when its local driver stops (after it left
/// the running set), so that another replica can take a release left
/// unfinished (this replica stopping), or retry a finished one, at once
/// rather than after the expiry.
pub(crate) async fn give_up(inner: &Arc<Inner>, id: &str, hold: Hold) {
    let Some(leases) = inner.store.leases() else {
        return;
    };
    let mine = {
        let mut held = inner.lease.held();
        let mine = held.get(id) == Some(&hold.0);
        if mine {
            held.remove(id);
        }
        mine
    };
    if mine && let Err(e) = leases.give_up(id).await {
        tracing::warn!(release = %id, error = %e, "giving the lease up failed; it expires");
    }
}

/// Gives up every lease held here (a stopping replica; nothing is
/// recorded after the shutdown, so no driver writes afterwards).
pub(crate) async fn give_up_all(inner: &Arc<Inner>) {
    let held: Vec<(String, u64)> = inner
        .lease
        .held()
        .iter()
        .map(|(id, n)| (id.clone(), *n))
        .collect();
    for (id, n) in held {
        give_up(inner, &id, Hold(n)).await;
    }
}

/// Releases of `product` started and not finished on other replicas,
/// besides `local` (those driven here), read from the store: the
/// per-product queue and `terminate` concurrency must see them.
pub(crate) async fn active_elsewhere(
    inner: &Arc<Inner>,
    product: &str,
    local: &[Release],
) -> Result<Vec<Release>, Error> {
    let Some(leases) = inner.store.leases() else {
        return Ok(Vec::new());
    };
    // A failed read is an error, not "nothing elsewhere": deciding on it
    // could start a second release of the product (issue 23).
    let ids = leases
        .started_of_product(product)
        .await
        .map_err(crate::store_error)?;
    let mut out = Vec::new();
    for id in ids {
        if local.iter().any(|r| r.id == id) || inner.is_driving(&id) {
            continue;
        }
        if let Some(r) = inner.store.get(&id).await.map_err(crate::store_error)?
            && r.is_active()
        {
            out.push(r);
        }
    }
    Ok(out)
}

/// Takes the store's gate of `product` for a concurrency decision (queue,
/// terminate, queue hand-over), after the in-process lock: together they
/// order the decisions about one product across every replica. Hold the
/// returned gate until the decision is stored, then [`release_gate`].
pub(crate) async fn product_gate(
    inner: &Arc<Inner>,
    product: &str,
) -> Result<Option<ferry_store::ProductGate>, Error> {
    inner
        .store
        .product_gate(product)
        .await
        .map_err(crate::store_error)
}

/// Releases a gate taken with [`product_gate`]; a failure only means the
/// lock is freed when its connection is (rolled back or closed).
pub(crate) async fn release_gate(gate: Option<ferry_store::ProductGate>) {
    if let Some(gate) = gate
        && let Err(e) = gate.release().await
    {
        tracing::warn!(error = %e, "releasing a product gate failed");
    }
}

/// For an operation (terminate) asked of this replica on a release another
/// live replica drives: takes the lease over and resumes the release here,
/// so the operation runs on a local driver. The other replica's next save
/// is refused and its keeper stops its driver. `true` when the release is
/// driven here now.
pub(crate) async fn drive_here(inner: &Arc<Inner>, id: &str) -> Result<bool, Error> {
    let Some(leases) = inner.store.leases() else {
        return Ok(false);
    };
    if !leases.held_elsewhere(id).await.map_err(Error::Store)? {
        return Ok(false);
    }
    if !leases.take(id).await.map_err(Error::Store)? {
        return Ok(false);
    }
    let Some(release) = inner.store.get(id).await.map_err(Error::Store)? else {
        return Ok(false);
    };
    tracing::info!(release = %id, "taken over from another replica for an operation");
    drive::resume(inner, release);
    Ok(inner.is_driving(id))
}

/// Moves trigger cursor `key` from `expected` to `value` by
/// compare-and-set; `false` when another replica moved it first (that
/// replica handles the commits from there; this one stops its round).
pub(crate) async fn advance_cursor(
    inner: &Arc<Inner>,
    key: &str,
    expected: &mut Option<String>,
    value: &str,
) -> Result<bool, Error> {
    if expected.as_deref() == Some(value) {
        return Ok(true);
    }
    let moved = inner
        .store
        .cursor_compare_and_set(key, expected.as_deref(), value)
        .await
        .map_err(Error::Store)?;
    if moved {
        *expected = Some(value.to_owned());
    } else {
        tracing::debug!(cursor = %key, "moved by another replica");
    }
    Ok(moved)
}

/// Starts the keeper: renews this replica's leases, stops drivers whose
/// lease was lost, and takes over releases nobody drives.
pub(crate) fn spawn_keeper(inner: &Arc<Inner>) {
    let Some(leases) = inner.store.leases() else {
        return;
    };
    let settings = leases.lease_settings();
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let mut renew = tokio::time::interval(settings.renew_every);
        let mut scan = tokio::time::interval(settings.scan_every);
        renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = inner.shutdown.cancelled() => return,
                _ = renew.tick() => renew_once(&inner).await,
                _ = scan.tick() => take_over_orphans(&inner).await,
            }
        }
    });
}

async fn renew_once(inner: &Arc<Inner>) {
    let Some(leases) = inner.store.leases() else {
        return;
    };
    let before: HashMap<String, u64> = inner.lease.held().clone();
    if before.is_empty() {
        return;
    }
    let still = match leases.renew().await {
        Ok(ids) => ids.into_iter().collect::<HashSet<_>>(),
        Err(e) => {
            // The database is unreachable: the leases run out unless it
            // comes back; saves are refused by then anyway.
            tracing::warn!(error = %e, "renewing leases failed");
            return;
        }
    };
    for (id, hold) in before.iter().filter(|(id, _)| !still.contains(*id)) {
        // Not held any more: finished (the driver gives it up itself) or
        // taken over by another replica. Only the hold seen before the
        // renewal is dropped, never a newer driver's.
        {
            let mut held = inner.lease.held();
            if held.get(id) != Some(hold) {
                continue;
            }
            held.remove(id);
        }
        let cancel = inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|d| d.cancel.clone());
        if let Some(cancel) = cancel {
            tracing::warn!(release = %id, "lease lost to another replica; stopping the local driver");
            cancel.cancel();
        }
    }
}

async fn take_over_orphans(inner: &Arc<Inner>) {
    let Some(leases) = inner.store.leases() else {
        return;
    };
    let ids = match leases.orphans().await {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(error = %e, "looking for releases nobody drives failed");
            return;
        }
    };
    for id in ids {
        if inner.shutdown.is_cancelled() {
            return;
        }
        if inner.is_driving(&id) {
            continue;
        }
        match inner.store.get(&id).await {
            Ok(Some(release)) if release.is_active() => {
                tracing::info!(release = %id, "taking over a release whose holder stopped");
                drive::resume(inner, release);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(release = %id, error = %e, "reading a release to take over"),
        }
    }
}
