//! One release in memory while the engine drives it: every change goes
//! through [`ReleaseHandle::update`], which recomputes the release status,
//! turns every status change into an event, and persists both atomically
//! before anyone acts on the change.
//!
//! [`ReleaseHandle::defer`] is for a change that nothing acts on before the
//! next `update` (an environment marked RUNNING right before its first step
//! starts, a step's success right before the next step starts): it is
//! persisted, with its events, by that next `update` — one save instead of
//! two, the engine's main cost per environment besides Git. A crash in
//! between loses only the deferred bookkeeping, never a record of an
//! action: every action is preceded by an `update`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ferry_release::{
    Event, EventKind, NewEvent, Release, ReleaseStatus, TerminationReason, Timestamp,
};
use tokio::sync::{Mutex, broadcast, watch};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::clock::Clock;
use crate::store::{ReleaseStore, StoreError};

pub(crate) struct ReleaseHandle {
    pub id: String,
    /// Never changes; lets queue decisions skip other products' releases
    /// without copying them.
    pub product: String,
    /// Held by [`ReleaseHandle::update`] and [`ReleaseHandle::defer`] for
    /// the whole of a change, its save and the save's retries, so changes
    /// are stored in the order they were made; [`ReleaseHandle::get`] does
    /// not wait for it, so reading a release being driven answers at once
    /// even while its save waits for the storage to come back.
    writer: Mutex<()>,
    state: Mutex<State>,
    store: Arc<dyn ReleaseStore>,
    events: broadcast::Sender<Event>,
    /// Once cancelled nothing more is recorded: what was running stays as
    /// stored and is resumed, exactly as after a crash. A child of the
    /// engine's shutdown token, cancelled on its own when a save cannot be
    /// made ([`ReleaseHandle::abandoned`]): the driver then stops as if
    /// the process stopped, and the release is resumed from the store.
    stop: CancellationToken,
    abandoned: std::sync::atomic::AtomicBool,
    /// The engine's clock: the flow timeout's account reads it.
    clock: Clock,
    /// When the stored release's flow timeout runs out; `None` while it
    /// stands still (held, issue 20) — the driver's timer follows it.
    deadline: watch::Sender<Option<Timestamp>>,
}

/// Backoff of a save's retries while the storage is unavailable: from
/// the first to the last delay, doubling; short enough that a release
/// moves on within a second of the fault clearing (issue 23).
const SAVE_RETRY_FIRST: Duration = Duration::from_millis(50);
const SAVE_RETRY_LAST: Duration = Duration::from_secs(1);
/// Saves are retried until the release's flow timeout, and at least this
/// long (a release past its timeout still records its end through a
/// short fault).
const SAVE_RETRY_AT_LEAST: Duration = Duration::from_secs(60);
/// How long an operation asked of a driven release (terminate) waits for
/// the driver's pending save before it answers that the storage is
/// unavailable.
pub(crate) const OPERATION_WAIT: Duration = Duration::from_millis(1500);

/// Who saves: the driver (retries until the flow timeout, then gives the
/// release up) or an operation someone asked for (retries briefly, then
/// answers "unavailable").
#[derive(Debug, Clone, Copy)]
enum Saver {
    Driver,
    Request,
}

/// Whether a store error says the storage is unavailable for now (worth
/// retrying), rather than refusing the save.
pub(crate) fn unavailable(e: &StoreError) -> bool {
    e.downcast_ref::<ferry_store::Error>()
        .is_some_and(ferry_store::Error::is_unavailable)
}

/// The release as the engine sees it, and what of it is not stored yet.
struct State {
    release: Release,
    /// The statuses as last stored (events are the difference to these).
    stored: Statuses,
    /// Events returned by deferred changes, stored with the next update.
    deferred_events: Vec<NewEvent>,
}

/// Status, event kind and whether the status is final, by
/// (level, environment, application, `index:name` of a step or hook).
type Statuses = BTreeMap<StatusKey, (String, EventKind, bool)>;
type StatusKey = (u8, String, String, String);

/// Where a status change goes among the events of one save: in the order
/// things happen — a release or environment starts before its parts and
/// finishes after them, steps in their order.
fn event_order(key: &StatusKey, finished: bool) -> (u8, String, u8, u8, String, u8, usize) {
    let (level, env, app, item) = key;
    let index = item
        .split_once(':')
        .and_then(|(i, _)| i.parse().ok())
        .unwrap_or(0);
    let end = |done: bool| if done { 2 } else { 0 };
    match level {
        0 => (
            if finished { 3 } else { 0 },
            String::new(),
            0,
            0,
            String::new(),
            0,
            0,
        ),
        1 => (2, String::new(), 0, 0, String::new(), 0, index),
        2 => (1, env.clone(), end(finished), 0, String::new(), 0, 0),
        3 => (1, env.clone(), 1, 1, String::new(), 0, index),
        4 => (1, env.clone(), 1, 0, app.clone(), end(finished), 0),
        _ => (1, env.clone(), 1, 0, app.clone(), 1, index),
    }
}

/// Every status in a release, by a stable key, to diff before/after.
fn statuses(r: &Release) -> Statuses {
    let mut out = BTreeMap::new();
    out.insert(
        (0, String::new(), String::new(), String::new()),
        (
            r.status.to_string(),
            EventKind::Release,
            r.status.is_final(),
        ),
    );
    for (i, h) in r.hooks.iter().enumerate() {
        out.insert(
            (1, String::new(), String::new(), format!("{i}:{}", h.name)),
            (h.status.to_string(), EventKind::Hook, h.status.is_final()),
        );
    }
    for e in &r.environments {
        out.insert(
            (2, e.name.clone(), String::new(), String::new()),
            (
                e.status.to_string(),
                EventKind::Environment,
                e.status.is_final(),
            ),
        );
        for (i, h) in e.hooks.iter().enumerate() {
            out.insert(
                (3, e.name.clone(), String::new(), format!("{i}:{}", h.name)),
                (h.status.to_string(), EventKind::Hook, h.status.is_final()),
            );
        }
        for a in &e.applications {
            out.insert(
                (4, e.name.clone(), a.name.clone(), String::new()),
                (
                    a.status.to_string(),
                    EventKind::Application,
                    a.status.is_final(),
                ),
            );
            for (i, s) in a.steps.iter().enumerate() {
                out.insert(
                    (5, e.name.clone(), a.name.clone(), format!("{i}:{}", s.name)),
                    (s.status.to_string(), EventKind::Step, s.status.is_final()),
                );
            }
        }
    }
    out
}

/// How many issues each environment has.
fn issue_counts(r: &Release) -> Vec<usize> {
    r.environments.iter().map(|e| e.issues.len()).collect()
}

/// Issues added by a change carry the release's attempt (issues are never
/// removed, so those past the counts before the change are the new ones).
fn stamp_new_issues(r: &mut Release, before: &[usize]) {
    let attempt = r.attempt;
    for (i, e) in r.environments.iter_mut().enumerate() {
        let known = before.get(i).copied().unwrap_or(0);
        for issue in e.issues.iter_mut().skip(known) {
            if issue.attempt == 0 {
                issue.attempt = attempt;
            }
        }
    }
}

/// The release status from its parts (SPEC §4.3).
pub(crate) fn recompute_status(r: &mut Release, queued: bool) {
    let envs: Vec<_> = r.environments.iter().map(|e| e.status).collect();
    r.status = ReleaseStatus::aggregate(
        &envs,
        queued,
        r.termination.is_some(),
        r.finished_at.is_none(),
    );
    // A release replaced under the `supersede` policy ends SUPERSEDED, not
    // TERMINATED (issue 20); its termination names the newer release. One
    // the `terminate` policy replaced stays TERMINATED (SPEC §4.5).
    if r.status == ReleaseStatus::Terminated
        && r.termination
            .as_ref()
            .is_some_and(|t| t.reason == TerminationReason::Superseded && t.release.is_some())
    {
        r.status = ReleaseStatus::Superseded;
    }
}

impl ReleaseHandle {
    pub fn new(
        release: Release,
        store: Arc<dyn ReleaseStore>,
        events: broadcast::Sender<Event>,
        shutdown: &CancellationToken,
        clock: Clock,
    ) -> Arc<Self> {
        let deadline = watch::Sender::new(release.timeout_deadline());
        Arc::new(ReleaseHandle {
            id: release.id.clone(),
            product: release.product.clone(),
            writer: Mutex::new(()),
            state: Mutex::new(State {
                stored: statuses(&release),
                release,
                deferred_events: Vec::new(),
            }),
            store,
            events,
            stop: shutdown.child_token(),
            abandoned: std::sync::atomic::AtomicBool::new(false),
            clock,
            deadline,
        })
    }

    /// Follows when the stored release's flow timeout runs out (`None`
    /// while it stands still).
    pub fn deadline(&self) -> watch::Receiver<Option<Timestamp>> {
        self.deadline.subscribe()
    }

    /// Cancelled when nothing more may be recorded through this handle (the
    /// engine shuts down, or a save could not be made): a driver's tokens
    /// are its children.
    pub fn stop_token(&self) -> &CancellationToken {
        &self.stop
    }

    /// Whether a save could not be made (the storage stayed unavailable
    /// past the retries, or refused it): the driver stopped without
    /// recording more, and the release is to be resumed from the store.
    pub fn abandoned(&self) -> bool {
        self.abandoned.load(std::sync::atomic::Ordering::Acquire)
    }

    /// A copy of the current state.
    pub async fn get(&self) -> Release {
        self.state.lock().await.release.clone()
    }

    /// Applies `change` in memory only; the next [`ReleaseHandle::update`]
    /// stores it (see the module documentation for when that is safe).
    pub async fn defer<T>(&self, change: impl FnOnce(&mut Release) -> (T, Vec<NewEvent>)) -> T {
        let _writer = self.writer.lock().await;
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let queued = state.release.status == ReleaseStatus::Queued;
        let issues = issue_counts(&state.release);
        let (value, mut extra) = change(&mut state.release);
        stamp_new_issues(&mut state.release, &issues);
        let still_queued = queued && state.release.status == ReleaseStatus::Queued;
        recompute_status(&mut state.release, still_queued);
        state.release.account_pauses(self.clock.now());
        state.deferred_events.append(&mut extra);
        value
    }

    /// Applies `change`, derives the release status, records an event for
    /// every status that changed (plus the events `change` returns), and
    /// persists it all in one transaction, together with what was deferred
    /// before. The change only reaches memory when the store accepted it.
    pub async fn update<T>(
        &self,
        change: impl FnOnce(&mut Release) -> (T, Vec<NewEvent>),
    ) -> Result<T, Error> {
        self.update_as(Saver::Driver, None, |r| Ok(change(r))).await
    }

    /// [`ReleaseHandle::update`] for an operation someone asked for
    /// (terminate, retry, a queue hand-over): it waits at most
    /// [`OPERATION_WAIT`] for a pending save and for the storage, then
    /// fails with [`Error::Unavailable`] — changing nothing, and leaving
    /// the driver as it was — so the caller can answer "try again".
    pub async fn update_for_request<T>(
        &self,
        change: impl FnOnce(&mut Release) -> (T, Vec<NewEvent>),
    ) -> Result<T, Error> {
        self.update_as(Saver::Request, None, |r| Ok(change(r)))
            .await
    }

    /// [`ReleaseHandle::update_for_request`] for a request with an
    /// `Idempotency-Key` (`None`: without): the key is stored with the
    /// change, in one transaction (issue 23). When it was used less than a
    /// day ago nothing changes and [`Error::Answered`] names the first
    /// answer.
    pub async fn update_for_keyed_request<T>(
        &self,
        key: Option<&ferry_store::IdempotentRequest>,
        change: impl FnOnce(&mut Release) -> (T, Vec<NewEvent>),
    ) -> Result<T, Error> {
        self.update_as(Saver::Request, key, |r| Ok(change(r))).await
    }

    /// [`ReleaseHandle::update_for_keyed_request`] for a change that may
    /// refuse on the state it applies to: a refusal (`Err`) stores nothing
    /// — not the change, not the `Idempotency-Key` — so a repeat of the
    /// refused request is decided again instead of replaying an answer it
    /// never had.
    pub async fn try_update_for_keyed_request<T>(
        &self,
        key: Option<&ferry_store::IdempotentRequest>,
        change: impl FnOnce(&mut Release) -> Result<(T, Vec<NewEvent>), Error>,
    ) -> Result<T, Error> {
        self.update_as(Saver::Request, key, change).await
    }

    async fn update_as<T>(
        &self,
        saver: Saver,
        key: Option<&ferry_store::IdempotentRequest>,
        change: impl FnOnce(&mut Release) -> Result<(T, Vec<NewEvent>), Error>,
    ) -> Result<T, Error> {
        let _writer = match saver {
            Saver::Driver => self.writer.lock().await,
            Saver::Request => tokio::time::timeout(OPERATION_WAIT, self.writer.lock())
                .await
                .map_err(|_| {
                    Error::Unavailable(format!(
                        "release {} is waiting for the storage to save its last change",
                        self.id
                    ))
                })?,
        };
        if self.stop.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        let (value, next, after, all, finished_steps) = {
            let guard = self.state.lock().await;
            let before = &guard.stored;
            let mut next = guard.release.clone();
            let queued = next.status == ReleaseStatus::Queued;
            let issues = issue_counts(&next);
            // A refused change leaves the copy behind: nothing is stored.
            let (value, mut extra) = change(&mut next)?;
            stamp_new_issues(&mut next, &issues);
            let still_queued = queued && next.status == ReleaseStatus::Queued;
            recompute_status(&mut next, still_queued);
            // Time held by windows, freezes and soak time does not count
            // against the flow timeout (issue 20): paused and resumed in
            // the save that holds or releases the release.
            next.account_pauses(self.clock.now());
            let after = statuses(&next);
            let mut changed: Vec<(&StatusKey, &String, EventKind, bool)> = after
                .iter()
                .filter(|(key, (status, _, _))| before.get(*key).map(|(s, _, _)| s) != Some(status))
                .map(|(key, (status, kind, finished))| (key, status, *kind, *finished))
                .collect();
            changed.sort_by_cached_key(|(key, _, _, finished)| event_order(key, *finished));
            let finished_steps: Vec<(String, String, String)> = changed
                .iter()
                .filter(|(_, _, kind, finished)| *kind == EventKind::Step && *finished)
                .map(|((_, env, app, step), _, _, _)| (env.clone(), app.clone(), step.clone()))
                .collect();
            let mut events = Vec::new();
            for (key, status, kind, _) in changed {
                let (_, env, app, step) = key;
                let mut ev = NewEvent::new(kind, status.clone());
                if !env.is_empty() {
                    ev = ev.environment(env.clone());
                }
                if !app.is_empty() {
                    ev = ev.application(app.clone());
                }
                if !step.is_empty() {
                    ev = ev.step(
                        step.split_once(':')
                            .map_or(step.as_str(), |(_, n)| n)
                            .to_owned(),
                    );
                }
                events.push(ev);
            }
            // A change may say why a status changed: its own event of the
            // same kind, place and status gives the derived one its
            // message (one event, in its place), e.g. an environment held
            // by a window (issue 20).
            for ev in &mut events {
                if let Some(i) = extra.iter().position(|x| {
                    (x.kind, &x.environment, &x.application, &x.step, &x.status)
                        == (
                            ev.kind,
                            &ev.environment,
                            &ev.application,
                            &ev.step,
                            &ev.status,
                        )
                }) {
                    ev.message = extra.remove(i).message;
                }
            }
            // Events of deferred changes first: they happened first. They
            // stay queued if the save fails (nothing was stored then).
            let mut all = guard.deferred_events.clone();
            all.append(&mut events);
            all.append(&mut extra);
            (value, next, after, all, finished_steps)
        };
        // Not under the state lock: readers of the release answer from the
        // state as stored meanwhile.
        let stored = self.save(saver, key, &next, all).await?;
        crate::stats::record_finished(&next, &finished_steps);
        self.deadline.send_if_modified(|d| {
            let now = next.timeout_deadline();
            let changed = *d != now;
            *d = now;
            changed
        });
        {
            let mut guard = self.state.lock().await;
            guard.deferred_events.clear();
            guard.release = next;
            guard.stored = after;
        }
        for e in stored {
            // Nobody listening is fine.
            let _ = self.events.send(e);
        }
        Ok(value)
    }

    /// Stores `next` with `events`, retrying with backoff while the
    /// storage is unavailable (issue 23), until the release's flow timeout
    /// (at least [`SAVE_RETRY_AT_LEAST`]). A save that cannot be made
    /// abandons the handle: nothing more is recorded through it, its
    /// driver stops, and the release is resumed from what is stored — the
    /// in-memory state never moves ahead of the store.
    async fn save(
        &self,
        saver: Saver,
        key: Option<&ferry_store::IdempotentRequest>,
        next: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, Error> {
        // While held the timeout stands still: retried as long as the
        // deadline stored allows, at least the minimum.
        let flow_left = next.flow_timeout().deadline - self.clock.now();
        let budget = match saver {
            Saver::Driver => Duration::try_from(flow_left)
                .unwrap_or_default()
                .max(SAVE_RETRY_AT_LEAST),
            Saver::Request => OPERATION_WAIT,
        };
        let started = tokio::time::Instant::now();
        let mut delay = SAVE_RETRY_FIRST;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let saved = match key {
                None => self.store.save(next, events.clone()).await,
                Some(key) => match self.store.save_idempotent(next, events.clone(), key).await {
                    Ok(ferry_store::Saved::Stored(stored)) => Ok(stored),
                    Ok(ferry_store::Saved::Remembered(first)) => {
                        return Err(Error::Answered(first));
                    }
                    Err(e) => Err(e),
                },
            };
            let error = match saved {
                Ok(stored) => {
                    if attempts > 1 {
                        tracing::info!(release = %self.id, attempts, waited = ?started.elapsed(), "saved once the storage was back");
                    }
                    return Ok(stored);
                }
                Err(e) => e,
            };
            let retry = unavailable(&error) && started.elapsed() + delay < budget;
            if attempts == 1 || !retry {
                tracing::warn!(release = %self.id, error = %error, retrying = retry, "saving the release failed");
            }
            if !retry {
                return Err(match saver {
                    Saver::Driver => {
                        self.abandon();
                        Error::Store(error)
                    }
                    // Nothing changed: the driver goes on as it was.
                    Saver::Request if unavailable(&error) => Error::Unavailable(error.to_string()),
                    Saver::Request => Error::Store(error),
                });
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stop.cancelled() => return Err(Error::ShuttingDown),
            }
            delay = (delay * 2).min(SAVE_RETRY_LAST);
        }
    }

    fn abandon(&self) {
        self.abandoned
            .store(true, std::sync::atomic::Ordering::Release);
        self.stop.cancel();
    }
}
