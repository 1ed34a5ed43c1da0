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

use ferry_release::{Event, EventKind, NewEvent, Release, ReleaseStatus};
use tokio::sync::{Mutex, broadcast};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::store::ReleaseStore;

pub(crate) struct ReleaseHandle {
    pub id: String,
    /// Never changes; lets queue decisions skip other products' releases
    /// without copying them.
    pub product: String,
    state: Mutex<State>,
    store: Arc<dyn ReleaseStore>,
    events: broadcast::Sender<Event>,
    /// Once the engine shuts down nothing more is recorded: what was
    /// running stays RUNNING in the store and resumes on the next start,
    /// exactly as after a crash.
    shutdown: CancellationToken,
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

/// The release status from its parts (SPEC §4.3).
pub(crate) fn recompute_status(r: &mut Release, queued: bool) {
    let envs: Vec<_> = r.environments.iter().map(|e| e.status).collect();
    r.status = ReleaseStatus::aggregate(
        &envs,
        queued,
        r.termination.is_some(),
        r.finished_at.is_none(),
    );
}

impl ReleaseHandle {
    pub fn new(
        release: Release,
        store: Arc<dyn ReleaseStore>,
        events: broadcast::Sender<Event>,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        Arc::new(ReleaseHandle {
            id: release.id.clone(),
            product: release.product.clone(),
            state: Mutex::new(State {
                stored: statuses(&release),
                release,
                deferred_events: Vec::new(),
            }),
            store,
            events,
            shutdown,
        })
    }

    /// A copy of the current state.
    pub async fn get(&self) -> Release {
        self.state.lock().await.release.clone()
    }

    /// Applies `change` in memory only; the next [`ReleaseHandle::update`]
    /// stores it (see the module documentation for when that is safe).
    pub async fn defer<T>(&self, change: impl FnOnce(&mut Release) -> (T, Vec<NewEvent>)) -> T {
        let mut guard = self.state.lock().await;
        let state = &mut *guard;
        let queued = state.release.status == ReleaseStatus::Queued;
        let (value, mut extra) = change(&mut state.release);
        let still_queued = queued && state.release.status == ReleaseStatus::Queued;
        recompute_status(&mut state.release, still_queued);
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
        let mut guard = self.state.lock().await;
        if self.shutdown.is_cancelled() {
            return Err(Error::ShuttingDown);
        }
        let before = &guard.stored;
        let mut next = guard.release.clone();
        let queued = next.status == ReleaseStatus::Queued;
        let (value, mut extra) = change(&mut next);
        let still_queued = queued && next.status == ReleaseStatus::Queued;
        recompute_status(&mut next, still_queued);
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
        // Events of deferred changes first: they happened first. They stay
        // queued if the save fails (nothing was stored then).
        let mut all = guard.deferred_events.clone();
        all.append(&mut events);
        all.append(&mut extra);
        let stored = self.store.save(&next, all).await.map_err(Error::Store)?;
        crate::stats::record_finished(&next, &finished_steps);
        guard.deferred_events.clear();
        guard.release = next;
        guard.stored = after;
        drop(guard);
        for e in stored {
            // Nobody listening is fine.
            let _ = self.events.send(e);
        }
        Ok(value)
    }
}
