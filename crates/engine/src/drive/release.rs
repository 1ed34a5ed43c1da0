//! One release from start to end (SPEC §4.5): the driver task and its
//! lease, resuming after a restart, the per-product queue hand-over,
//! terminate and retry, the flow timeout, environments in dependency order
//! (independent ones in parallel), and the release's end with its hooks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ferry_release::{
    EnvironmentStatus, EventKind, IssueKind, NewEvent, Release, ReleaseStatus, StepRun, StepStatus,
    Termination, TerminationReason, now,
};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::environment::run_environment;
use super::hooks::run_hook;
use super::record::{fail_environment, fail_release, failure_facts, issue, stops_driver};
use crate::handle::ReleaseHandle;
use crate::{Driving, Error, Inner};

/// Starts driving a stored release.
pub(crate) fn start(inner: &Arc<Inner>, release: Release) {
    let handle = inner.handle(release);
    // Stopped by a terminate, a lost lease, a save that cannot be made, or
    // the engine's shutdown.
    let cancel = handle.stop_token().child_token();
    {
        let mut running = inner.running.lock().unwrap_or_else(|p| p.into_inner());
        if running.contains_key(&handle.id) {
            return;
        }
        running.insert(
            handle.id.clone(),
            Driving {
                cancel: cancel.clone(),
                handle: Arc::clone(&handle),
            },
        );
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let id = handle.id.clone();
        let product = handle.get().await.product;
        let Some(hold) = crate::lease::acquire(&inner, &id).await else {
            // Another replica drives it (issue 11).
            inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
            return;
        };
        match run_release(&inner, &handle, cancel).await {
            Ok(()) | Err(Error::ShuttingDown) => {}
            Err(e) if stops_driver(&handle, &e) => {
                tracing::warn!(release = %id, error = %e, "release driver stopped");
            }
            // Not a storage fault (a release hook's runner, a bug): the
            // release fails with the error as its issue — never left
            // RUNNING with nobody driving it, nor ended with steps running.
            Err(e) => {
                tracing::error!(release = %id, error = %e, "release failed on an error");
                let why = format!("ferry could not go on: {e}");
                let failed = handle
                    .update(|r| {
                        fail_release(r, &why);
                        r.finished_at = Some(now());
                        ((), vec![])
                    })
                    .await;
                if let Err(e) = failed {
                    tracing::error!(release = %id, error = %e, "recording the failure");
                }
            }
        }
        inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        crate::lease::give_up(&inner, &id, hold).await;
        if handle.abandoned() && !inner.shutdown.is_cancelled() {
            // A save could not be made (issue 23): nothing more was
            // recorded, the release stands in the store as it was, and is
            // resumed from there — by the lease keeper of this or another
            // replica once its lease is free, or here once the storage
            // answers when there are no leases. Its product's queue does
            // not move: it is still active.
            tracing::warn!(release = %id, "driver stopped: a save could not be made; the release resumes from the store");
            if inner.store.leases().is_none() {
                let inner = Arc::clone(&inner);
                tokio::spawn(async move { resume_when_stored(&inner, &id).await });
            }
        } else if !inner.shutdown.is_cancelled() {
            start_next_queued(&inner, &product).await;
        }
    });
}

/// Resumes release `id` from the store once the store answers (an engine
/// without leases whose driver stopped on a save that could not be made).
async fn resume_when_stored(inner: &Arc<Inner>, id: &str) {
    let mut delay = Duration::from_millis(200);
    loop {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = inner.shutdown.cancelled() => return,
        }
        match inner.store.get(id).await {
            Ok(Some(release)) if release.is_active() && !inner.is_driving(id) => {
                tracing::info!(release = %id, "resuming after the storage came back");
                resume(inner, release);
                return;
            }
            Ok(_) => return,
            Err(_) => delay = (delay * 2).min(Duration::from_secs(2)),
        }
    }
}

/// Re-enters a release after a restart: steps that were running when the
/// process stopped start again (workflows from the beginning; the Git
/// action finds its commit by its trailers).
pub(crate) fn resume(inner: &Arc<Inner>, mut release: Release) {
    let runs_go_on = inner.runner.outlives_process();
    for env in &mut release.environments {
        for hook in &mut env.hooks {
            interrupted(hook, runs_go_on);
        }
        for app in &mut env.applications {
            for step in &mut app.steps {
                interrupted(step, runs_go_on);
            }
        }
    }
    for hook in &mut release.hooks {
        interrupted(hook, runs_go_on);
    }
    if release.status == ReleaseStatus::Queued {
        let inner = Arc::clone(inner);
        let product = release.product.clone();
        tokio::spawn(async move { start_next_queued(&inner, &product).await });
        return;
    }
    start(inner, release);
}

/// A step the stopped driver was running starts again — unless it was
/// following a workflow run that goes on without ferry (`runs_go_on`): it
/// stays RUNNING with its `run_id`, and `run_workflow` attaches to it.
fn interrupted(step: &mut StepRun, runs_go_on: bool) {
    if runs_go_on && step.run_id.is_some() && step.status.is_active() {
        return;
    }
    if step.status.is_active() {
        step.status = StepStatus::Pending;
        step.message = Some("interrupted by a restart of ferry; started again".into());
    }
}

/// Releases of `product` being driven now, here or (read from the
/// store) on other replicas.
pub(crate) async fn active_of_product(
    inner: &Arc<Inner>,
    product: &str,
) -> Result<Vec<Release>, Error> {
    let handles: Vec<Arc<ReleaseHandle>> = inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .filter(|d| d.handle.product == product)
        .map(|d| Arc::clone(&d.handle))
        .collect();
    let mut out = Vec::new();
    for h in handles {
        let r = h.get().await;
        if r.is_active() {
            out.push(r);
        }
    }
    let elsewhere = crate::lease::active_elsewhere(inner, product, &out).await?;
    out.extend(elsewhere);
    Ok(out)
}

pub(crate) async fn queued_of_product(
    inner: &Arc<Inner>,
    product: &str,
) -> Result<Vec<Release>, Error> {
    inner
        .store
        .queued_of_product(product)
        .await
        .map_err(crate::store_error)
}

/// Starts the oldest queued release of `product` when none is active. A
/// queue read or hand-over that the storage cannot serve now is tried
/// again until it can (issue 23): a queued release whose hand-over was
/// lost would wait until some other release of its product ends.
async fn start_next_queued(inner: &Arc<Inner>, product: &str) {
    let mut delay = Duration::from_millis(100);
    loop {
        match hand_over(inner, product).await {
            Ok(()) => return,
            Err(Error::Unavailable(e)) if !inner.shutdown.is_cancelled() => {
                tracing::warn!(product = %product, error = %e, "the queue hand-over waits for the storage");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = inner.shutdown.cancelled() => return,
                }
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => {
                tracing::warn!(product = %product, error = %e, "handing the queue over");
                return;
            }
        }
    }
}

/// Starts the oldest queued release of `product` when nothing of the
/// product is active; whether it started one. With `stalled_in_store`,
/// only when the store, read under the gate, also has no started release
/// of the product (the periodic scan: without leases, a release whose
/// driver stopped on a save and waits to resume is in no driver's set).
async fn hand_over_as(
    inner: &Arc<Inner>,
    product: &str,
    stalled_in_store: bool,
) -> Result<bool, Error> {
    let lock = inner.product_lock(product);
    let _guard = lock.lock().await;
    let gate = crate::lease::product_gate(inner, product).await?;
    let next: Result<Option<Release>, Error> = async {
        if stalled_in_store
            && !inner
                .store
                .stalled_queues()
                .await
                .map_err(crate::store_error)?
                .iter()
                .any(|p| p == product)
        {
            return Ok(None);
        }
        if !active_of_product(inner, product).await?.is_empty() {
            return Ok(None);
        }
        // A rollback ferry started for a failed release goes first
        // (issue 20): it repairs an environment a newer release would
        // otherwise be promoted over before the repair.
        let queued = queued_of_product(inner, product).await?;
        let rollback = queued.iter().position(|r| r.rollback_for.is_some());
        Ok(queued.into_iter().nth(rollback.unwrap_or(0)))
    }
    .await;
    let next = match next {
        Ok(Some(next)) => next,
        other => {
            crate::lease::release_gate(gate).await;
            return other.map(|_| false);
        }
    };
    let handle = inner.handle(next);
    let started = handle
        .update_for_request(|r| {
            r.status = ReleaseStatus::Running;
            ((), vec![])
        })
        .await;
    crate::lease::release_gate(gate).await;
    started?;
    start(inner, handle.get().await);
    Ok(true)
}

async fn hand_over(inner: &Arc<Inner>, product: &str) -> Result<(), Error> {
    hand_over_as(inner, product, false).await.map(|_| ())
}

/// Every [`crate::EngineSettings::queue_scan_interval`] (and once at
/// start), products whose queue waits while nothing of theirs is active —
/// a hand-over lost to a fault, a replica that stopped between a
/// release's end and its hand-over — get their oldest queued release
/// started (issue 23: no release stays QUEUED for nothing).
pub(crate) fn spawn_queue_keeper(inner: &Arc<Inner>) {
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        loop {
            let products = match inner.store.stalled_queues().await {
                Ok(products) => products,
                Err(e) => {
                    tracing::debug!(error = %e, "looking for stalled queues");
                    Vec::new()
                }
            };
            for product in products {
                match hand_over_as(&inner, &product, true).await {
                    Ok(true) => {
                        tracing::warn!(product = %product, "a queue that waited with nothing active was handed on");
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(product = %product, error = %e, "handing a stalled queue on")
                    }
                }
            }
            tokio::select! {
                () = tokio::time::sleep(inner.settings.queue_scan_interval) => {}
                () = inner.shutdown.cancelled() => return,
            }
        }
    });
}

/// Beyond the queue limit the oldest queued releases are terminated.
pub(crate) async fn enforce_queue_limit(inner: &Arc<Inner>, product: &str, limit: u32) {
    let queued = match queued_of_product(inner, product).await {
        Ok(queued) => queued,
        Err(e) => {
            tracing::warn!(product = %product, error = %e, "reading the queue");
            return;
        }
    };
    let excess = queued.len().saturating_sub(limit as usize);
    for r in queued.into_iter().take(excess) {
        let _ = terminate(inner, &r.id, "ferry", TerminationReason::Queue, None).await;
    }
}

/// SPEC §4.5 terminate; `key`: the request's `Idempotency-Key`, stored
/// with the termination (issue 23).
pub(crate) async fn terminate(
    inner: &Arc<Inner>,
    id: &str,
    by: &str,
    reason: TerminationReason,
    key: Option<&ferry_store::IdempotentRequest>,
) -> Result<Release, Error> {
    let driving = inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .map(|d| (Arc::clone(&d.handle), d.cancel.clone()));
    let termination = Termination {
        reason,
        by: by.to_owned(),
        at: now(),
        release: None,
    };
    let audit = NewEvent::new(EventKind::Audit, "TERMINATING")
        .message(format!("terminate requested by {by} ({reason:?})"));
    match driving {
        Some((handle, cancel)) => {
            handle
                .update_for_keyed_request(key, |r| {
                    if r.termination.is_none() {
                        r.termination = Some(termination.clone());
                    }
                    ((), vec![audit])
                })
                .await?;
            cancel.cancel();
            Ok(handle.get().await)
        }
        None => {
            // Driven by another replica: take it over and terminate here.
            if crate::lease::drive_here(inner, id).await? {
                return Box::pin(terminate(inner, id, by, reason, key)).await;
            }
            let release = inner
                .store
                .get(id)
                .await
                .map_err(crate::store_error)?
                .ok_or_else(|| Error::NotFound(id.to_owned()))?;
            if !release.is_active() {
                return Err(Error::Conflict {
                    id: id.to_owned(),
                    status: release.status.to_string(),
                    action: "terminate",
                });
            }
            // Not driven here (queued): nothing runs, so it ends at once.
            let handle = inner.handle(release);
            handle
                .update_for_keyed_request(key, |r| {
                    r.termination = Some(termination.clone());
                    let at = now();
                    r.end_unrun_steps(at);
                    r.finished_at = Some(at);
                    ((), vec![audit])
                })
                .await?;
            Ok(handle.get().await)
        }
    }
}

/// SPEC §4.5 retry: FAILED or TERMINATED releases resume from the point of
/// failure; what succeeded is kept. `key`: the request's
/// `Idempotency-Key`, stored with the retry (issue 23).
pub(crate) async fn retry(
    inner: &Arc<Inner>,
    id: &str,
    by: &str,
    key: Option<&ferry_store::IdempotentRequest>,
) -> Result<Release, Error> {
    if inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains_key(id)
    {
        return Err(Error::Conflict {
            id: id.to_owned(),
            status: "RUNNING".into(),
            action: "retry",
        });
    }
    let release = inner
        .store
        .get(id)
        .await
        .map_err(crate::store_error)?
        .ok_or_else(|| Error::NotFound(id.to_owned()))?;
    if !matches!(
        release.status,
        ReleaseStatus::Failed | ReleaseStatus::Terminated
    ) || release.is_active()
    {
        return Err(Error::Conflict {
            id: id.to_owned(),
            status: release.status.to_string(),
            action: "retry",
        });
    }
    let handle = inner.handle(release);
    handle
        .update_for_keyed_request(key, |r| {
            r.termination = None;
            r.finished_at = None;
            // History is append-only (SPEC §12): the issues of the attempt
            // that ends stay, numbered, and the next attempt's get the
            // next number. Issues stored before attempts were counted are
            // the ending attempt's (a retry used to remove older ones).
            for i in r.environments.iter_mut().flat_map(|e| e.issues.iter_mut()) {
                if i.attempt == 0 {
                    i.attempt = r.attempt;
                }
            }
            r.attempt += 1;
            let attempt = r.attempt;
            r.hooks
                .retain(|h| h.status == StepStatus::Success && !h.name.starts_with("onFail"));
            for env in &mut r.environments {
                if env.status == EnvironmentStatus::Successful {
                    continue;
                }
                // Environments that never started too: their steps ended
                // SKIPPED or TERMINATED with the release, and run now.
                env.status = EnvironmentStatus::Pending;
                env.finished_at = None;
                env.hooks
                    .retain(|h| h.status == StepStatus::Success && !h.name.starts_with("onFail"));
                for app in &mut env.applications {
                    if app.status != EnvironmentStatus::Successful {
                        app.status = EnvironmentStatus::Pending;
                        for s in &mut app.steps {
                            if s.status != StepStatus::Success {
                                // What went wrong stays in the issues.
                                s.status = StepStatus::Pending;
                                s.finished_at = None;
                                s.message = None;
                            }
                        }
                    }
                }
            }
            (
                (),
                vec![
                    NewEvent::new(EventKind::Audit, "RUNNING")
                        .message(format!("retry requested by {by} (attempt {attempt})")),
                ],
            )
        })
        .await?;
    let release = handle.get().await;
    start(inner, release.clone());
    Ok(release)
}

async fn run_release(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    cancel: CancellationToken,
) -> Result<(), Error> {
    let release = handle.get().await;
    // The flow timeout counts from creation (SPEC §1.6), but not while the
    // release is held by windows, freezes or soak time (issue 20): the
    // handle follows the deadline of the stored account, on the engine's
    // clock.
    {
        let inner = Arc::clone(inner);
        let id = release.id.clone();
        let cancel = cancel.clone();
        let mut deadline = handle.deadline();
        tokio::spawn(async move {
            if !runs_out(&inner.clock, &mut deadline, &cancel).await {
                return;
            }
            // Tried again while the storage cannot record it.
            while let Err(Error::Unavailable(_)) =
                terminate(&inner, &id, "ferry", TerminationReason::Timeout, None).await
            {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    () = cancel.cancelled() => return,
                }
            }
        });
    }
    // Accept, then work (issue 24): a manual release reads its snapshot
    // here, before anything runs.
    let snapshot_read = release.termination.is_some()
        || super::snapshot::read_pending(inner, handle, &cancel).await?;
    if release.termination.is_none()
        && snapshot_read
        && let Some(hook) = release.graph.hooks.on_start.clone()
        && !run_hook(inner, handle, None, "onStart", &hook, None, &cancel).await?
    {
        handle
            .update(|r| {
                for e in &mut r.environments {
                    if e.trigger {
                        e.issues.push(issue(
                            IssueKind::Workflow,
                            format!("release onStart hook `{hook}` failed"),
                        ));
                        e.status = EnvironmentStatus::Failed;
                    }
                }
                ((), vec![])
            })
            .await?;
    }
    let mut tasks: JoinSet<Result<(), Error>> = JoinSet::new();
    let mut names = HashMap::new();
    let mut launched: HashSet<String> = HashSet::new();
    loop {
        if cancel.is_cancelled() {
            break;
        }
        let r = handle.get().await;
        if r.termination.is_some() {
            break;
        }
        let ready: Vec<String> = r
            .environments
            .iter()
            .filter(|e| !launched.contains(&e.name) && !e.status.is_final())
            .filter(|e| {
                e.depends_on.iter().all(|d| {
                    r.environment(d)
                        .is_some_and(|x| x.status == EnvironmentStatus::Successful)
                })
            })
            .map(|e| e.name.clone())
            .collect();
        for env in ready {
            launched.insert(env.clone());
            let (inner, handle, cancel) = (Arc::clone(inner), Arc::clone(handle), cancel.clone());
            let name = env.clone();
            let task =
                tasks.spawn(async move { run_environment(&inner, &handle, &env, &cancel).await });
            names.insert(task.id(), name);
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            done = tasks.join_next_with_id() => {
                if let Some(done) = done {
                    environment_ended(handle, &names, done).await?;
                }
            }
            () = cancel.cancelled() => {}
        }
    }
    while let Some(done) = tasks.join_next_with_id().await {
        environment_ended(handle, &names, done).await?;
    }
    if handle.stop_token().is_cancelled() {
        // The process stops, or a save could not be made: leave the
        // release as stored; it resumes from there.
        return Ok(());
    }
    finish(inner, handle).await
}

/// Waits until the flow timeout runs out (`true`), following its
/// deadline as saves move it (`None`: standing still); `false` when the
/// driver stops first.
async fn runs_out(
    clock: &crate::Clock,
    deadline: &mut tokio::sync::watch::Receiver<Option<ferry_release::Timestamp>>,
    cancel: &CancellationToken,
) -> bool {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            () = async {
                match at {
                    Some(at) => clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => return true,
            changed = deadline.changed() => {
                if changed.is_err() {
                    return false;
                }
            }
            () = cancel.cancelled() => return false,
        }
    }
}

/// An environment task ended. An error that only stops the driver leaves
/// the environment as stored (it resumes); any other — not a storage
/// fault — fails the environment with it, recorded, so that the release
/// goes on with what does not depend on it and never ends with it RUNNING.
async fn environment_ended(
    handle: &Arc<ReleaseHandle>,
    names: &HashMap<tokio::task::Id, String>,
    done: Result<(tokio::task::Id, Result<(), Error>), tokio::task::JoinError>,
) -> Result<(), Error> {
    let (id, error) = match done {
        Ok((_, Ok(()))) => return Ok(()),
        Ok((_, Err(e))) if stops_driver(handle, &e) => {
            tracing::warn!(release = %handle.id, error = %e, "environment task stopped");
            return Ok(());
        }
        Ok((id, Err(e))) => (id, e.to_string()),
        Err(e) => (e.id(), format!("environment task: {e}")),
    };
    let env = names.get(&id).cloned().unwrap_or_default();
    tracing::error!(release = %handle.id, environment = %env, error = %error, "environment failed on an error");
    let why = format!("ferry could not go on: {error}");
    handle
        .update(|r| {
            fail_environment(r, &env, &why);
            ((), vec![])
        })
        .await
}

/// Ends a release: terminated environments are marked, release hooks run,
/// `finishedAt` is set (the status follows from SPEC §4.3).
async fn finish(inner: &Arc<Inner>, handle: &Arc<ReleaseHandle>) -> Result<(), Error> {
    handle
        .update(|r| {
            let terminated = r.termination.is_some();
            let timeout = matches!(
                r.termination.as_ref().map(|t| t.reason),
                Some(TerminationReason::Timeout)
            );
            for e in &mut r.environments {
                let interrupted = matches!(
                    e.status,
                    EnvironmentStatus::Running | EnvironmentStatus::Suspended
                ) || (e.status == EnvironmentStatus::Terminated
                    && e.finished_at.is_none());
                if terminated && interrupted {
                    e.status = EnvironmentStatus::Terminated;
                    e.finished_at = Some(now());
                    if timeout && !e.issues.iter().any(|i| i.kind == IssueKind::Timeout) {
                        e.issues.push(issue(
                            IssueKind::Timeout,
                            "the flow timeout passed before this environment finished",
                        ));
                    }
                }
            }
            ((), vec![])
        })
        .await?;
    // An environment that failed after its promotion commit, under
    // `onFailure: rollback`, gets its previous snapshot promoted back
    // (issue 20) — started once, linked before the end is stored.
    super::rollback::roll_back_failed(inner, handle).await?;
    let r = handle.get().await;
    let failed = r.termination.is_some()
        || r.environments.iter().any(|e| {
            matches!(
                e.status,
                EnvironmentStatus::Failed | EnvironmentStatus::Terminated
            )
        });
    let hook = if failed {
        r.graph.hooks.on_fail.clone().map(|h| ("onFail", h))
    } else {
        r.graph.hooks.on_success.clone().map(|h| ("onSuccess", h))
    };
    // A terminated (or superseded) release leaves nothing open behind it
    // (SPEC §12): its pull requests are closed, its branches deleted.
    if r.termination.is_some() {
        super::leftovers::close(inner, handle).await?;
    }
    let mut hook_failed = false;
    if let Some((which, name)) = hook {
        // Hooks after a terminate run on their own token.
        let token = handle.stop_token().child_token();
        let failure = failed.then(|| failure_facts(&r));
        let ok = run_hook(
            inner,
            handle,
            None,
            which,
            &name,
            failure.as_ref().map(|(m, f)| (m.as_str(), f.as_str())),
            &token,
        )
        .await?;
        hook_failed = !ok;
    }
    handle
        .update(|r| {
            if hook_failed && r.termination.is_none() {
                // A failing hook fails its release (SPEC §4.6).
                if let Some(e) = r.environments.iter_mut().find(|e| e.trigger) {
                    e.status = EnvironmentStatus::Failed;
                    e.issues
                        .push(issue(IssueKind::Workflow, "a release hook failed"));
                }
            }
            // A finished release has no PENDING or RUNNING step (SPEC §12).
            let at = now();
            r.end_unrun_steps(at);
            r.finished_at = Some(at);
            ((), vec![])
        })
        .await
}
