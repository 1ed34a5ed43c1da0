//! The application stream: one long-lived `GET /api/v1/stream/applications`
//! per instance keeps a cache of every application current, and wakes
//! whoever waits on an application the moment an event about it arrives.
//!
//! The stream starts with an `ADDED` for every application and never ends
//! on its own; when it does end (a restart of Argo CD, a proxy timeout, a
//! network fault) the watcher reconnects with exponential backoff and the
//! fresh `ADDED` burst brings the cache up to date. While disconnected
//! the provider falls back to single GETs, so a dead stream costs latency,
//! never correctness.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::watch;

use super::client::Client;
use super::types::{ArgoApplication, StreamMessage};

/// Longest stream message accepted (one application document).
const MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// Every application of an instance as last seen, by name (a name may exist
/// in several namespaces when apps-in-any-namespace is on).
#[derive(Default)]
pub(crate) struct Cache {
    apps: RwLock<HashMap<String, Vec<Arc<ArgoApplication>>>>,
    /// Per application name, bumped on every event about it.
    wakers: Mutex<HashMap<String, watch::Sender<u64>>>,
    /// Bumped on every event (discovery listens to this).
    any: Option<watch::Sender<u64>>,
    connected: AtomicBool,
    connects: AtomicU64,
    events: AtomicU64,
}

impl Cache {
    pub(crate) fn new() -> Cache {
        Cache {
            any: Some(watch::channel(0).0),
            ..Cache::default()
        }
    }

    /// The application `name` (in `namespace` when given).
    pub(crate) fn get(&self, name: &str, namespace: Option<&str>) -> Option<Arc<ArgoApplication>> {
        let apps = self.apps.read().unwrap_or_else(|p| p.into_inner());
        let list = apps.get(name)?;
        match namespace {
            Some(ns) => list
                .iter()
                .find(|a| a.metadata.namespace.as_deref().is_none_or(|n| n == ns))
                .cloned(),
            None => list.first().cloned(),
        }
    }

    /// Every application currently known.
    pub(crate) fn all(&self) -> Vec<Arc<ArgoApplication>> {
        let apps = self.apps.read().unwrap_or_else(|p| p.into_inner());
        apps.values().flatten().cloned().collect()
    }

    /// Stores `app` and wakes whoever waits on it (news: a stream event,
    /// a hard refresh's answer).
    pub(crate) fn put(&self, app: ArgoApplication) {
        let name = app.metadata.name.clone();
        self.store(app);
        self.wake(&name);
    }

    /// Stores `app` without waking anyone: the answer to a waiter's own
    /// GET, which must not wake that waiter into another GET.
    pub(crate) fn store(&self, app: ArgoApplication) {
        let mut apps = self.apps.write().unwrap_or_else(|p| p.into_inner());
        let list = apps.entry(app.metadata.name.clone()).or_default();
        list.retain(|a| a.metadata.namespace != app.metadata.namespace);
        list.push(Arc::new(app));
    }

    fn remove(&self, app: &ArgoApplication) {
        let name = &app.metadata.name;
        {
            let mut apps = self.apps.write().unwrap_or_else(|p| p.into_inner());
            if let Some(list) = apps.get_mut(name) {
                list.retain(|a| a.metadata.namespace != app.metadata.namespace);
                if list.is_empty() {
                    apps.remove(name);
                }
            }
        }
        self.wake(name);
    }

    fn wake(&self, name: &str) {
        self.events.fetch_add(1, Ordering::Relaxed);
        let wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = wakers.get(name) {
            tx.send_modify(|n| *n += 1);
        }
        drop(wakers);
        if let Some(any) = &self.any {
            any.send_modify(|n| *n += 1);
        }
    }

    /// A receiver bumped on every event about `name`.
    pub(crate) fn subscribe(&self, name: &str) -> watch::Receiver<u64> {
        let mut wakers = self.wakers.lock().unwrap_or_else(|p| p.into_inner());
        // Senders nobody listens to any more are dropped on the way, so
        // finished waits do not accumulate.
        if wakers.len() > 64 {
            wakers.retain(|_, tx| tx.receiver_count() > 0);
        }
        wakers
            .entry(name.to_owned())
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    pub(crate) fn subscribe_any(&self) -> Option<watch::Receiver<u64>> {
        self.any.as_ref().map(watch::Sender::subscribe)
    }

    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// How many times the stream was opened.
    pub(crate) fn connects(&self) -> u64 {
        self.connects.load(Ordering::SeqCst)
    }

    /// How many application events were applied.
    pub(crate) fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// Applies one line of the stream. Returns false for an error message.
    fn apply(&self, line: &[u8], instance: &str) -> bool {
        let line = line.trim_ascii();
        if line.is_empty() {
            return true;
        }
        let msg: StreamMessage = match serde_json::from_slice(line) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(instance, error = %e, "Argo CD stream: a message that is not JSON; skipped");
                return true;
            }
        };
        if let Some(err) = msg.error {
            tracing::warn!(
                instance,
                code = err.http_code.unwrap_or(0),
                message = err.message.as_deref().unwrap_or(""),
                "Argo CD stream reported an error"
            );
            return false;
        }
        if let Some(ev) = msg.result {
            match ev.kind.as_str() {
                "DELETED" => self.remove(&ev.application),
                _ => self.put(ev.application),
            }
        }
        true
    }
}

/// Reconnect delays: `initial`, doubling up to `max`; back to `initial`
/// once a connection delivered a message.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
        }
    }
}

/// Runs the stream until the task is aborted.
pub(crate) async fn run(
    client: Arc<Client>,
    cache: Arc<Cache>,
    app_namespace: Option<String>,
    backoff: Backoff,
    instance: String,
) {
    let mut delay = backoff.initial;
    loop {
        match client.stream(app_namespace.as_deref()).await {
            Ok(mut resp) => {
                cache.connects.fetch_add(1, Ordering::SeqCst);
                cache.connected.store(true, Ordering::SeqCst);
                tracing::info!(instance = %instance, "Argo CD application stream connected");
                let mut buf: Vec<u8> = Vec::new();
                loop {
                    match resp.chunk().await {
                        Ok(Some(bytes)) => {
                            buf.extend_from_slice(&bytes);
                            let mut start = 0;
                            let mut ok = true;
                            while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
                                ok &= cache.apply(&buf[start..start + pos], &instance);
                                start += pos + 1;
                                delay = backoff.initial;
                            }
                            buf.drain(..start);
                            if !ok {
                                break;
                            }
                            if buf.len() > MAX_MESSAGE {
                                tracing::warn!(instance = %instance, "Argo CD stream: message too large; reconnecting");
                                break;
                            }
                        }
                        Ok(None) => {
                            cache.apply(&buf, &instance);
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(instance = %instance, error = %e.without_url(), "Argo CD stream interrupted");
                            break;
                        }
                    }
                }
                cache.connected.store(false, Ordering::SeqCst);
            }
            Err(e) => tracing::warn!(error = %e, "Argo CD stream: cannot connect"),
        }
        tokio::time::sleep(jitter(delay)).await;
        delay = (delay * 2).min(backoff.max);
    }
}

/// Up to a quarter more, so many ferry replicas do not reconnect in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|t| t.subsec_nanos())
        .unwrap_or(0);
    d + d.mul_f64(f64::from(nanos % 1000) / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, name: &str, health: &str) -> String {
        format!(
            r#"{{"result":{{"type":"{kind}","application":{{"metadata":{{"name":"{name}","namespace":"argocd"}},"spec":{{}},"status":{{"health":{{"status":"{health}"}}}}}}}}}}"#
        )
    }

    #[test]
    fn events_update_the_cache_and_wake_waiters() {
        let cache = Cache::new();
        let mut rx = cache.subscribe("web");
        assert!(cache.apply(event("ADDED", "web", "Progressing").as_bytes(), "t"));
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        let app = cache.get("web", Some("argocd")).unwrap();
        assert_eq!(app.status.health.status.as_deref(), Some("Progressing"));
        assert!(cache.get("web", Some("other")).is_none());
        cache.apply(event("MODIFIED", "web", "Healthy").as_bytes(), "t");
        assert!(rx.has_changed().unwrap());
        assert_eq!(
            cache
                .get("web", None)
                .unwrap()
                .status
                .health
                .status
                .as_deref(),
            Some("Healthy")
        );
        cache.apply(event("MODIFIED", "api", "Healthy").as_bytes(), "t");
        rx.borrow_and_update();
        assert!(!rx.has_changed().unwrap(), "an event about another app");
        cache.apply(event("DELETED", "web", "Healthy").as_bytes(), "t");
        assert!(cache.get("web", None).is_none());
        assert_eq!(cache.all().len(), 1);
    }

    #[test]
    fn a_waiters_own_get_does_not_wake_it() {
        let cache = Cache::new();
        let mut rx = cache.subscribe("web");
        let app: ArgoApplication =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "web"}})).unwrap();
        cache.store(app.clone());
        assert!(!rx.has_changed().unwrap());
        assert!(cache.get("web", None).is_some());
        cache.put(app);
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
    }

    #[test]
    fn garbage_is_skipped_and_errors_end_the_connection() {
        let cache = Cache::new();
        assert!(cache.apply(b"{not json", "t"));
        assert!(cache.apply(b"   ", "t"));
        assert!(!cache.apply(
            br#"{"error":{"grpc_code":16,"http_code":401,"message":"invalid session","http_status":"Unauthorized","details":[]}}"#,
            "t"
        ));
        assert_eq!(cache.events(), 0);
    }
}
