//! The outbox writer: release events → stored deliveries.
//!
//! It reads the events from the store, not from the engine's broadcast:
//! the broadcast only says *which* release has news (and may lag or miss
//! events across a restart); the store's history is the truth. For the
//! releases with news in a round (gathered for [`GATHER`]), in one
//! transaction, the deliveries of each one's events since its stored
//! progress are inserted and its progress is moved by compare-and-set
//! (`Store::enqueue_notification_batch`), so a crash between an event and
//! its deliveries loses nothing (the backlog scan at start finds the
//! release again) and two replicas store each delivery once. One write
//! per round, not one per release: on SQLite every write waits for the
//! engine's saves and makes them wait.
//! Nothing here is on the engine's path: the engine only records events.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ferry_release::Event;
use ferry_store::{NewDelivery, ProgressMove, Store};
use tokio::sync::{Notify, broadcast};

use crate::mapping::{State, map_events};
use crate::notice::{Notification, ReleaseRef, dedup_id};
use crate::subscription::Subscription;

/// How long an event may wait to be announced: older events found (a
/// release from before notifications were turned on, a long outage) are
/// passed over, not sent late.
pub const MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How often the store is scanned for releases with events not yet turned
/// into deliveries (besides the engine's wake-ups).
const SCAN_EVERY: Duration = Duration::from_secs(30);
/// Events of several releases arriving together are handled in one round.
const GATHER: Duration = Duration::from_millis(200);

/// Turns release events into deliveries of the subscriptions.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    subscriptions: Arc<[Subscription]>,
    base_url: String,
    /// Woken when deliveries were stored.
    stored: Arc<Notify>,
}

impl Outbox {
    pub fn new(
        store: Store,
        subscriptions: Arc<[Subscription]>,
        base_url: &str,
        stored: Arc<Notify>,
    ) -> Outbox {
        Outbox {
            store,
            subscriptions,
            base_url: base_url.trim_end_matches('/').to_owned(),
            stored,
        }
    }

    /// Follows `events` (the engine's live events: which releases changed)
    /// and the store's backlog until `stop`.
    pub async fn run(
        self,
        mut events: broadcast::Receiver<Event>,
        stop: impl Future<Output = ()> + Send,
    ) {
        tokio::pin!(stop);
        self.scan().await;
        let mut scan = tokio::time::interval(SCAN_EVERY);
        scan.tick().await;
        loop {
            let mut dirty = BTreeSet::new();
            tokio::select! {
                _ = &mut stop => return,
                _ = scan.tick() => { self.scan().await; continue; }
                e = events.recv() => match e {
                    Ok(e) => { dirty.insert(e.release_id); }
                    Err(broadcast::error::RecvError::Lagged(_)) => { self.scan().await; continue; }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
            // Gather what else arrives meanwhile.
            let until = tokio::time::Instant::now() + GATHER;
            loop {
                match tokio::time::timeout_at(until, events.recv()).await {
                    Ok(Ok(e)) => {
                        dirty.insert(e.release_id);
                    }
                    Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                        self.scan().await;
                        break;
                    }
                    Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
                }
            }
            let dirty: Vec<String> = dirty.into_iter().collect();
            if let Err(e) = self.catch_up_all(&dirty).await {
                // The scan finds the releases again.
                tracing::warn!(releases = dirty.len(), error = %e, "storing notifications");
            }
        }
    }

    /// Catches up every release the store lists with events not yet
    /// turned into deliveries.
    pub async fn scan(&self) {
        let since = ferry_release::now() - MAX_AGE;
        let since = i64::try_from(since.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        loop {
            let ids = match self.store.notification_backlog(since, 200).await {
                Ok(ids) => ids,
                Err(e) => {
                    tracing::warn!(error = %e, "listing releases to announce");
                    return;
                }
            };
            let full = ids.len() == 200;
            if let Err(e) = self.catch_up_all(&ids).await {
                tracing::warn!(releases = ids.len(), error = %e, "storing notifications");
                return;
            }
            if !full {
                return;
            }
        }
    }

    /// Stores the deliveries of the events of releases `ids` since their
    /// progress, in one write; returns how many were stored. A release
    /// whose progress another replica moved meanwhile is caught up again
    /// on its own.
    pub async fn catch_up_all(&self, ids: &[String]) -> Result<usize, ferry_store::Error> {
        let mut moves = Vec::with_capacity(ids.len());
        for id in ids {
            match self.prepare(id).await {
                Ok(Some(m)) => moves.push(m),
                Ok(None) => {}
                // The others go on; the scan finds this one again.
                Err(e) => tracing::warn!(release = %id, error = %e, "reading events to announce"),
            }
        }
        let moved = self.store.enqueue_notification_batch(&moves).await?;
        let mut stored = 0;
        let mut lost = Vec::new();
        for (m, ok) in moves.iter().zip(moved) {
            if ok {
                stored += m.deliveries.len();
            } else {
                lost.push(m.release_id.as_str());
            }
        }
        self.wake(stored);
        for id in lost {
            stored += self.catch_up(id).await?;
        }
        Ok(stored)
    }

    /// Stores the deliveries of release `id`'s events since its progress;
    /// returns how many were stored.
    pub async fn catch_up(&self, id: &str) -> Result<usize, ferry_store::Error> {
        // A compare-and-set lost to another replica is tried again on the
        // new progress (which then usually has nothing left to do).
        for _ in 0..5 {
            let Some(m) = self.prepare(id).await? else {
                return Ok(0);
            };
            let n = m.deliveries.len();
            if self
                .store
                .enqueue_notification_batch(std::slice::from_ref(&m))
                .await?
                .first()
                .copied()
                .unwrap_or(false)
            {
                self.wake(n);
                return Ok(n);
            }
        }
        Ok(0)
    }

    /// Wakes the senders when deliveries were stored.
    fn wake(&self, stored: usize) {
        if stored > 0 {
            self.stored.notify_waiters();
            self.stored.notify_one();
        }
    }

    /// What release `id`'s events since its stored progress come to: the
    /// deliveries and the progress to store with them; `None` when it has
    /// no new event (or is gone).
    async fn prepare(&self, id: &str) -> Result<Option<ProgressMove>, ferry_store::Error> {
        let progress = self.store.notification_progress(id).await?;
        let after = progress.as_ref().map_or(0, |p| p.last_seq);
        let events = self.store.events(id, after, 0).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(None);
        };
        let Some(release) = self.store.get(id).await? else {
            return Ok(None);
        };
        let mut state: State = progress
            .as_ref()
            .and_then(|p| serde_json::from_str(&p.state).ok())
            .unwrap_or_default();
        let oldest = ferry_release::now() - MAX_AGE;
        let mut deliveries = Vec::new();
        for m in map_events(&release, &events, &mut state) {
            if m.at < oldest {
                continue;
            }
            for s in self.subscriptions.iter() {
                if !s.filter.accepts(
                    m.event,
                    m.subject,
                    &release.product,
                    m.environment.as_deref(),
                ) {
                    continue;
                }
                let n = self.notification(&release, &m, &s.name);
                deliveries.push(NewDelivery {
                    id: n.id.clone(),
                    subscription: s.name.clone(),
                    release_id: release.id.clone(),
                    seq: m.seq,
                    event_type: n.type_name(),
                    product: release.product.clone(),
                    environment: m.environment.clone(),
                    payload: serde_json::to_string(&n).unwrap_or_default(),
                });
            }
        }
        Ok(Some(ProgressMove {
            release_id: id.to_owned(),
            from: progress.map(|p| p.last_seq),
            to_seq: last,
            state: serde_json::to_string(&state).unwrap_or_else(|_| "{}".into()),
            deliveries,
        }))
    }

    fn notification(
        &self,
        release: &ferry_release::Release,
        m: &crate::mapping::Mapped,
        subscription: &str,
    ) -> Notification {
        let rollback_of = match &release.kind {
            ferry_release::ReleaseKind::Rollback { from_release } => Some(from_release.clone()),
            _ => None,
        };
        Notification {
            id: dedup_id(&release.id, m.seq, subscription),
            subscription: subscription.to_owned(),
            subject: m.subject,
            event: m.event,
            time: m
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            release: ReleaseRef {
                id: release.id.clone(),
                product: release.product.clone(),
                number: release.number,
                version: release.version.clone(),
                initiator: release.initiator.clone(),
                url: format!(
                    "{}/products/{}/releases/{}",
                    self.base_url, release.product, release.number
                ),
                rollback_of,
            },
            environment: m.environment.clone(),
            status: m.status.clone(),
            reason: m.reason.clone(),
            log: m.log.clone(),
            seq: m.seq,
        }
    }
}
