//! The sender: claims due deliveries from the outbox, POSTs them, and
//! records each try — delivered, again later (exponential backoff with
//! jitter, a receiver's `Retry-After` honoured), or given up (the dead
//! letter) after the subscription's tries or an answer that says trying
//! again cannot help (a 4xx other than 408, 425 and 429).
//!
//! Claims are held for a while in the store, so several replicas share
//! the work and a sender that dies mid-delivery leaves its rows to be
//! claimed again once the claim runs out: at least once, same id.
//! Errors are written for admins, so they never carry the URL (Slack's and
//! Teams' URLs are secrets) and pass through `ferry_security::redact`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_store::{DeliveryOutcome, OutboxRow, Store};
use tokio::sync::{Notify, Semaphore};

use crate::notice::Notification;
use crate::render::render;
use crate::subscription::Subscription;

/// How tries are spaced.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// After the first failed try.
    pub initial: Duration,
    /// At most.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(2),
            max: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The wait after try `attempt` (from 1) failed: doubling, ±20 %.
    pub fn after(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        base.mul_f64(0.8 + 0.4 * fastrand::f64())
    }
}

/// How long a sender with tries in flight waits at most for half its
/// slots to be free before its next round.
const ROUND_GAP: Duration = Duration::from_millis(50);

/// How long delivered rows are kept for the admin list before they are
/// deleted; dead letters are kept.
pub const KEEP_DELIVERED: Duration = Duration::from_secs(7 * 24 * 3600);
/// How often delivered rows past [`KEEP_DELIVERED`] are deleted.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// How a [`Courier`] runs.
#[derive(Debug, Clone)]
pub struct CourierSettings {
    /// This sender's name in claims (the replica's instance id).
    pub holder: String,
    pub backoff: Backoff,
    /// How often the outbox is looked at when nothing wakes the courier.
    pub poll: Duration,
    /// Deliveries in flight at once.
    pub parallel: usize,
    /// How long a claim lasts (a sender that dies holding one delays its
    /// rows this long); default: the longest try plus 30 s.
    pub claim: Option<Duration>,
    /// Delivered rows older than this are deleted, every `prune_every`
    /// (dead letters stay).
    pub keep_delivered: Duration,
    pub prune_every: Duration,
}

impl CourierSettings {
    pub fn new(holder: impl Into<String>) -> CourierSettings {
        CourierSettings {
            holder: holder.into(),
            backoff: Backoff::default(),
            poll: Duration::from_secs(1),
            parallel: 32,
            claim: None,
            keep_delivered: KEEP_DELIVERED,
            prune_every: PRUNE_EVERY,
        }
    }
}

/// Sends the outbox's deliveries.
#[derive(Clone)]
pub struct Courier {
    store: Store,
    subscriptions: Arc<HashMap<String, Subscription>>,
    client: reqwest::Client,
    settings: Arc<CourierSettings>,
    wake: Arc<Notify>,
    /// A claim lasts this long: longer than any try.
    claim: Duration,
}

impl Courier {
    /// `wake` is notified by the outbox writer when it stored deliveries.
    pub fn new(
        store: Store,
        subscriptions: &[Subscription],
        settings: CourierSettings,
        wake: Arc<Notify>,
    ) -> Courier {
        let longest = subscriptions
            .iter()
            .map(|s| s.timeout)
            .max()
            .unwrap_or(crate::subscription::DEFAULT_TIMEOUT);
        Courier {
            store,
            subscriptions: Arc::new(
                subscriptions
                    .iter()
                    .map(|s| (s.name.clone(), s.clone()))
                    .collect(),
            ),
            client: reqwest::Client::builder()
                .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
                // Redirects could carry a signed body elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            claim: settings.claim.unwrap_or(longest + Duration::from_secs(30)),
            settings: Arc::new(settings),
            wake,
        }
    }

    /// Sends due deliveries until `stop`; on the way out, gives its claims
    /// up so another sender can take them at once. A round — recording
    /// what the finished tries came to and claiming the next rows — is one
    /// write, made when at least half the slots are free (or none is
    /// busy): on SQLite every write waits for the engine's saves and makes
    /// them wait, so rounds are few and large rather than one per try.
    pub async fn run(self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        let slots = Arc::new(Semaphore::new(self.settings.parallel.max(1)));
        // Tries in flight per subscription: a receiver that hangs holds
        // at most its share of the slots, never the others' deliveries.
        let per_subscription = (self.settings.parallel / 4).max(1);
        let in_flight: Arc<std::sync::Mutex<HashMap<String, usize>>> = Arc::default();
        let mut tasks = tokio::task::JoinSet::new();
        let mut done = Vec::new();
        let floor = (self.settings.parallel / 2).max(1);
        let mut last_round = tokio::time::Instant::now();
        let mut prune = tokio::time::interval(self.settings.prune_every);
        prune.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            while let Some(r) = tasks.try_join_next() {
                done.extend(r.ok());
            }
            let free = slots.available_permits();
            // With tries in flight and few slots free, wait for more to
            // finish (their outcomes go with the next round's claim) — a
            // little only: slots held by hanging receivers must not keep
            // the others' deliveries waiting.
            if free < floor && !tasks.is_empty() && last_round.elapsed() < ROUND_GAP {
                tokio::select! {
                    _ = &mut stop => break,
                    Some(r) = tasks.join_next() => done.extend(r.ok()),
                    () = tokio::time::sleep_until(last_round + ROUND_GAP) => {}
                }
                continue;
            }
            last_round = tokio::time::Instant::now();
            let full: Vec<String> = in_flight
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .filter(|(_, n)| **n >= per_subscription)
                .map(|(s, _)| s.clone())
                .collect();
            let skip: Vec<&str> = full.iter().map(String::as_str).collect();
            let claimed = self.round(&mut done, free as u32, &skip).await;
            let busy = !claimed.is_empty();
            for row in claimed {
                let counts = Arc::clone(&in_flight);
                let sub = row.subscription.clone();
                let room = {
                    let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
                    let n = c.entry(sub.clone()).or_insert(0);
                    let room = *n < per_subscription;
                    *n += usize::from(room);
                    room
                };
                if !room {
                    if let Err(e) = self
                        .store
                        .unclaim_delivery(&row.id, &self.settings.holder)
                        .await
                    {
                        tracing::warn!(delivery = %row.id, error = %e, "handing a delivery back");
                    }
                    continue;
                }
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    break;
                };
                let me = self.clone();
                tasks.spawn(async move {
                    let outcome = me.attempt(&row).await;
                    if let Some(n) = counts
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_mut(&sub)
                    {
                        *n = n.saturating_sub(1);
                    }
                    drop(permit);
                    (row, outcome)
                });
            }
            if busy && slots.available_permits() >= floor {
                continue;
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(self.settings.poll) => {}
                Some(r) = tasks.join_next(), if !tasks.is_empty() => done.extend(r.ok()),
                _ = prune.tick() => self.prune().await,
            }
        }
        tasks.abort_all();
        while let Some(r) = tasks.join_next().await {
            done.extend(r.ok());
        }
        self.record(&mut done).await;
        if let Err(e) = self
            .store
            .release_delivery_claims(&self.settings.holder)
            .await
        {
            tracing::warn!(error = %e, "giving delivery claims up");
        }
    }

    /// Deletes delivered rows past their keeping time (every replica may:
    /// a delete of what is gone already deletes nothing).
    async fn prune(&self) {
        match self
            .store
            .prune_deliveries(self.settings.keep_delivered)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "delivered notifications pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning delivered notifications"),
        }
    }

    /// One round in one write: records the outcomes in `done` and claims
    /// up to `limit` due rows (none of the subscriptions in `skip`). A
    /// fault leaves the claims to run out: the rows are tried again.
    async fn round(
        &self,
        done: &mut Vec<(OutboxRow, DeliveryOutcome)>,
        limit: u32,
        skip: &[&str],
    ) -> Vec<OutboxRow> {
        log_outcomes(done);
        let outcomes: Vec<(String, DeliveryOutcome)> = done
            .drain(..)
            .map(|(row, outcome)| (row.id, outcome))
            .collect();
        match self
            .store
            .finish_and_claim(&self.settings.holder, &outcomes, self.claim, limit, skip)
            .await
        {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, tries = outcomes.len(), "recording tries and claiming deliveries");
                Vec::new()
            }
        }
    }

    /// Records the outcomes of finished tries in one write. A fault leaves
    /// the claims to run out: the rows are tried again.
    async fn record(&self, done: &mut Vec<(OutboxRow, DeliveryOutcome)>) {
        if done.is_empty() {
            return;
        }
        log_outcomes(done);
        let outcomes: Vec<(String, DeliveryOutcome)> = done
            .drain(..)
            .map(|(row, outcome)| (row.id, outcome))
            .collect();
        if let Err(e) = self
            .store
            .finish_deliveries(&self.settings.holder, &outcomes)
            .await
        {
            tracing::warn!(error = %e, tries = outcomes.len(), "recording deliveries");
        }
    }

    /// One try of `row`, recorded.
    pub async fn deliver(&self, row: OutboxRow) {
        let outcome = self.attempt(&row).await;
        self.record(&mut vec![(row, outcome)]).await;
    }

    async fn attempt(&self, row: &OutboxRow) -> DeliveryOutcome {
        let Some(sub) = self.subscriptions.get(&row.subscription) else {
            return DeliveryOutcome::Dead {
                error: format!(
                    "subscription `{}` is no longer in the settings",
                    row.subscription
                ),
                status: None,
            };
        };
        let n: Notification = match serde_json::from_str(&row.payload) {
            Ok(n) => n,
            Err(e) => {
                return DeliveryOutcome::Dead {
                    error: format!("stored notification cannot be read: {e}"),
                    status: None,
                };
            }
        };
        let now = ferry_release::now().unix_timestamp();
        let req = render(sub, &n, now);
        let mut call = self
            .client
            .post(sub.url.expose())
            .timeout(sub.timeout)
            .header(reqwest::header::CONTENT_TYPE, req.content_type)
            .body(req.body);
        for (k, v) in &req.headers {
            call = call.header(*k, v);
        }
        let last_try = row.attempts >= sub.max_attempts;
        let fail = |error: String, status: Option<u16>, wait: Option<Duration>| {
            let error = ferry_security::redact(&error);
            if last_try {
                DeliveryOutcome::Dead {
                    error: format!("{error} (gave up after {} tries)", row.attempts),
                    status,
                }
            } else {
                DeliveryOutcome::Retry {
                    after: wait
                        .map(|w| w.min(self.settings.backoff.max))
                        .unwrap_or_else(|| self.settings.backoff.after(row.attempts)),
                    error,
                    status,
                }
            }
        };
        match call.send().await {
            Ok(resp) => {
                let status = resp.status();
                let code = status.as_u16();
                if status.is_success() {
                    return DeliveryOutcome::Delivered { status: code };
                }
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let text = resp.text().await.unwrap_or_default();
                let error = format!(
                    "HTTP {code}{}",
                    if text.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", crate::render::cut(text.trim(), 200))
                    }
                );
                if status.is_client_error() && !matches!(code, 408 | 425 | 429) {
                    DeliveryOutcome::Dead {
                        error: ferry_security::redact(&error),
                        status: Some(code),
                    }
                } else {
                    fail(error, Some(code), retry_after)
                }
            }
            Err(e) => fail(describe(&e), None, None),
        }
    }
}

fn log_outcomes(done: &[(OutboxRow, DeliveryOutcome)]) {
    for (row, outcome) in done {
        match outcome {
            DeliveryOutcome::Delivered { .. } => {}
            DeliveryOutcome::Retry { error, .. } => tracing::info!(
                delivery = %row.id, attempt = row.attempts, %error, "notification not delivered, will retry"
            ),
            DeliveryOutcome::Dead { error, .. } => tracing::warn!(
                delivery = %row.id, attempt = row.attempts, %error, "notification given up"
            ),
        }
    }
}

/// A transport error in words, without the URL (it may be the secret).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "the answer broke off"
    } else if e.is_request() {
        "the request failed"
    } else {
        "sending failed"
    };
    // The source chain names the cause (reset, refused) but reqwest's own
    // message would name the URL: it is dropped.
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        let b = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(10),
        };
        for _ in 0..50 {
            let first = b.after(1).as_secs_f64();
            assert!((0.8..=1.2).contains(&first), "{first}");
            let third = b.after(3).as_secs_f64();
            assert!((3.2..=4.8).contains(&third), "{third}");
            let late = b.after(30).as_secs_f64();
            assert!((8.0..=12.0).contains(&late), "{late}");
        }
    }
}
