//! Whether the store can be written now (issue 23): the state behind
//! `/readyz`, the API's fail-fast answer (503 with `Retry-After` while the
//! storage is down) and the web UI's banner.
//!
//! A prober writes one small row ([`ferry_store::Store::probe_write`])
//! every second — every half second while the storage is down, so that
//! its return is seen at once — each bounded by [`PROBE_TIMEOUT`]: a
//! database that does not answer counts as down as surely as one that
//! refuses. Anyone who meets a storage fault may [`StorageHealth::mark_down`]
//! at once rather than wait for the next probe.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::cancel::CancelFlag;

/// How long a probe may take before the storage counts as down.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(700);
const PROBE_EVERY: Duration = Duration::from_secs(1);
const PROBE_EVERY_WHILE_DOWN: Duration = Duration::from_millis(500);

/// The storage's state as last seen. Cheap to clone.
#[derive(Clone)]
pub struct StorageHealth {
    tx: Arc<watch::Sender<State>>,
    /// The data directory (Git mirrors, workflow scratch space), probed
    /// with the store: a full disk may still take a SQLite write into
    /// space its WAL already holds, but no Git fetch or commit.
    data_dir: Option<Arc<std::path::Path>>,
    /// When the last probe finished, and how many were made: readiness
    /// answers from a recent probe instead of writing on every call.
    probed: Arc<std::sync::Mutex<Probed>>,
    /// One probe at a time for [`StorageHealth::recent`]: callers that
    /// come while one runs share its result.
    probing: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Debug, Default)]
struct Probed {
    at: Option<Instant>,
    count: u64,
}

/// Down since when, and why; `None`: writable.
#[derive(Debug, Clone, Default)]
struct State {
    down: Option<(Instant, String)>,
}

impl Default for StorageHealth {
    fn default() -> Self {
        StorageHealth {
            tx: Arc::new(watch::channel(State::default()).0),
            data_dir: None,
            probed: Arc::default(),
            probing: Arc::default(),
        }
    }
}

impl StorageHealth {
    /// Probes `data_dir` too (a small file written and synced).
    pub fn with_data_dir(data_dir: &std::path::Path) -> StorageHealth {
        StorageHealth {
            data_dir: Some(Arc::from(data_dir)),
            ..StorageHealth::default()
        }
    }

    /// `Some((for how long, why))` while the storage cannot be written.
    pub fn down(&self) -> Option<(Duration, String)> {
        self.tx
            .borrow()
            .down
            .as_ref()
            .map(|(since, why)| (since.elapsed(), why.clone()))
    }

    pub fn is_down(&self) -> bool {
        self.tx.borrow().down.is_some()
    }

    /// Records that a write failed because the storage is unavailable.
    pub fn mark_down(&self, why: impl Into<String>) {
        let why = why.into();
        self.tx.send_if_modified(|s| {
            if s.down.is_some() {
                return false;
            }
            tracing::warn!(reason = %why, "the store cannot be written; mutating requests answer 503 until it can");
            s.down = Some((Instant::now(), why));
            true
        });
    }

    /// Records that a write succeeded.
    pub fn mark_up(&self) {
        self.tx.send_if_modified(|s| match s.down.take() {
            Some((since, _)) => {
                tracing::info!(after = ?since.elapsed(), "the store can be written again");
                true
            }
            None => false,
        });
    }

    /// Resolves when the storage is (or becomes) down.
    pub async fn went_down(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|s| s.down.is_some()).await;
    }

    /// Whether the store can be written, as known from a probe at most
    /// `max_age` old — the prober's, or one made now when there is none
    /// that recent (one at a time: callers meanwhile share its result).
    /// For `/readyz`: load balancers polling it often cause at most one
    /// write per `max_age`, not one each. A fault met since the probe
    /// ([`StorageHealth::mark_down`]) counts at once.
    pub async fn recent(&self, store: &ferry_store::Store, max_age: Duration) -> bool {
        let fresh = |h: &StorageHealth| {
            h.probed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .at
                .is_some_and(|at| at.elapsed() <= max_age)
        };
        if !fresh(self) {
            let _one = self.probing.lock().await;
            if !fresh(self) {
                return self.probe(store).await;
            }
        }
        !self.is_down()
    }

    /// How many probes were made (for tests and metrics).
    pub fn probes(&self) -> u64 {
        self.probed.lock().unwrap_or_else(|p| p.into_inner()).count
    }

    /// One probe, bounded by [`PROBE_TIMEOUT`]; records and returns
    /// whether the store could be written.
    pub async fn probe(&self, store: &ferry_store::Store) -> bool {
        let writable = self.probe_once(store).await;
        let mut probed = self.probed.lock().unwrap_or_else(|p| p.into_inner());
        probed.at = Some(Instant::now());
        probed.count += 1;
        writable
    }

    async fn probe_once(&self, store: &ferry_store::Store) -> bool {
        let data_dir = self.data_dir.clone();
        let both = async {
            store.probe_write().await.map_err(|e| e.to_string())?;
            if let Some(dir) = data_dir {
                tokio::task::spawn_blocking(move || write_probe_file(&dir))
                    .await
                    .map_err(|e| e.to_string())??;
            }
            Ok::<(), String>(())
        };
        match tokio::time::timeout(PROBE_TIMEOUT, both).await {
            Ok(Ok(())) => {
                self.mark_up();
                true
            }
            Ok(Err(e)) => {
                self.mark_down(e.to_string());
                false
            }
            Err(_) => {
                self.mark_down(format!(
                    "a one-row write did not finish within {} ms",
                    PROBE_TIMEOUT.as_millis()
                ));
                false
            }
        }
    }

    /// Probes the store (and data directory) until `stop` is set.
    pub fn spawn_prober(&self, store: ferry_store::Store, stop: CancelFlag) {
        let health = self.clone();
        tokio::spawn(async move {
            loop {
                health.probe(&store).await;
                let pause = if health.is_down() {
                    PROBE_EVERY_WHILE_DOWN
                } else {
                    PROBE_EVERY
                };
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stop.cancelled() => return,
                }
            }
        });
    }
}

/// Writes and syncs a small file in `dir`, then removes it.
fn write_probe_file(dir: &std::path::Path) -> Result<(), String> {
    use std::io::Write;
    let path = dir.join(".ferry-write-probe");
    let written = std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_data()));
    let _ = std::fs::remove_file(&path);
    written.map_err(|e| {
        format!(
            "the data directory {} cannot be written: {e}",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn marks_and_probes() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_store::Store::open_sqlite_file(&dir.path().join("h.db"))
            .await
            .unwrap();
        let health = StorageHealth::default();
        assert!(!health.is_down());
        health.mark_down("disk full");
        let (_, why) = health.down().unwrap();
        assert_eq!(why, "disk full");
        // `went_down` resolves at once while down.
        tokio::time::timeout(Duration::from_millis(100), health.went_down())
            .await
            .unwrap();
        assert!(health.probe(&store).await);
        assert!(!health.is_down());
        store.close().await;
        // A closed pool cannot be written.
        assert!(!health.probe(&store).await);
        assert!(health.is_down());
    }

    /// Readiness polled often writes at most once per `max_age`, and
    /// still says whether the store can be written (issue 23).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn recent_probes_are_shared_and_still_true() {
        let dir = tempfile::tempdir().unwrap();
        let store = ferry_store::Store::open_sqlite_file(&dir.path().join("h.db"))
            .await
            .unwrap();
        let health = StorageHealth::default();
        let max_age = Duration::from_millis(400);
        // 50 callers at once: one probe.
        let calls: Vec<_> = (0..50)
            .map(|_| {
                let (health, store) = (health.clone(), store.clone());
                tokio::spawn(async move { health.recent(&store, max_age).await })
            })
            .collect();
        for call in calls {
            assert!(call.await.unwrap());
        }
        assert_eq!(health.probes(), 1);
        // Polled every 10 ms for 1 s: a probe per 400 ms, not 100.
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(1) {
            assert!(health.recent(&store, max_age).await);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let made = health.probes();
        assert!((2..=5).contains(&made), "{made} probes in 1 s");
        // A fault is seen at once when someone met it …
        health.mark_down("a save failed");
        assert!(!health.recent(&store, max_age).await);
        // … and by the next probe when nobody did: a closed pool cannot
        // be written, and within `max_age` readiness says so.
        assert!(health.probe(&store).await);
        store.close().await;
        assert!(
            health.recent(&store, max_age).await,
            "still the last probe's"
        );
        tokio::time::sleep(max_age + Duration::from_millis(50)).await;
        assert!(!health.recent(&store, max_age).await);
        assert!(health.is_down());
    }
}
