//! Driving a release through its flow (SPEC §4.2–4.6).
//!
//! One task per release schedules environments whose dependencies
//! succeeded; each environment runs its applications' pipelines in
//! parallel. Every transition goes through [`ReleaseHandle::update`], so it
//! is stored before the next action starts; a restart re-enters the same
//! code and skips what already succeeded.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ferry_appstate::{AppRef, Health};
use ferry_git::{CommitSpec, PushOptions, PushTarget, Signature, promotion_message};
use ferry_model::resource::Action;
use ferry_release::{
    ApplicationSnapshot, EnvironmentStatus, EventKind, Issue, IssueKind, NewEvent, PullRequest,
    Release, ReleaseStatus, StepPhase, StepRun, StepStatus, Termination, TerminationReason,
    WorkflowNode, now,
};
use ferry_workflow::{NodeKind, RunId, WorkflowTemplate};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::handle::ReleaseHandle;
use crate::params::{CommitFacts, action_params, failed_environments, hook_params};
use crate::pullrequest;
use crate::{Driving, Error, Inner, blocking};

/// How a step ended, for the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Passed,
    Failed,
    Terminated,
}

fn issue(kind: IssueKind, message: impl Into<String>) -> Issue {
    Issue {
        kind,
        message: message.into(),
        application: None,
        step: None,
        details: None,
        manifest: None,
        link: None,
        at: now(),
    }
}

/// An issue about one application.
fn app_issue(kind: IssueKind, app: &str, message: impl Into<String>) -> Issue {
    Issue {
        application: Some(app.to_owned()),
        ..issue(kind, message)
    }
}

/// Records an issue on an environment of the release.
fn push_issue(r: &mut Release, env: &str, issue: Issue) {
    if let Some(e) = r.environment_mut(env) {
        e.issues.push(issue);
    }
}

/// Starts driving a stored release.
pub(crate) fn start(inner: &Arc<Inner>, release: Release) {
    let cancel = inner.shutdown.child_token();
    let handle = ReleaseHandle::new(
        release,
        Arc::clone(&inner.store),
        inner.events.clone(),
        inner.shutdown.clone(),
    );
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
            Err(e) => tracing::error!(release = %id, error = %e, "release driver stopped"),
        }
        inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        crate::lease::give_up(&inner, &id, hold).await;
        if !inner.shutdown.is_cancelled() {
            start_next_queued(&inner, &product).await;
        }
    });
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
    if runs_go_on && step.run_id.is_some() && step.status == StepStatus::Running {
        return;
    }
    if step.status == StepStatus::Running {
        step.status = StepStatus::Pending;
        step.message = Some("interrupted by a restart of ferry; started again".into());
    }
}

/// Releases of `product` being driven now.
pub(crate) async fn active_of_product(inner: &Arc<Inner>, product: &str) -> Vec<Release> {
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
    let elsewhere = crate::lease::active_elsewhere(inner, product, &out).await;
    out.extend(elsewhere);
    out
}

async fn queued_of_product(inner: &Arc<Inner>, product: &str) -> Vec<Release> {
    match inner.store.queued_of_product(product).await {
        Ok(queued) => queued,
        Err(e) => {
            tracing::warn!(product = %product, error = %e, "reading the queue");
            Vec::new()
        }
    }
}

/// Starts the oldest queued release of `product` when none is active.
async fn start_next_queued(inner: &Arc<Inner>, product: &str) {
    let lock = inner.product_lock(product);
    let _guard = lock.lock().await;
    let gate = match crate::lease::product_gate(inner, product).await {
        Ok(gate) => gate,
        Err(e) => {
            tracing::warn!(product = %product, error = %e, "taking the product gate");
            return;
        }
    };
    let next = if active_of_product(inner, product).await.is_empty() {
        queued_of_product(inner, product).await.into_iter().next()
    } else {
        None
    };
    let Some(next) = next else {
        crate::lease::release_gate(gate).await;
        return;
    };
    let handle = ReleaseHandle::new(
        next,
        Arc::clone(&inner.store),
        inner.events.clone(),
        inner.shutdown.clone(),
    );
    let started = handle
        .update(|r| {
            r.status = ReleaseStatus::Running;
            ((), vec![])
        })
        .await;
    crate::lease::release_gate(gate).await;
    if started.is_ok() {
        start(inner, handle.get().await);
    }
}

/// Beyond the queue limit the oldest queued releases are terminated.
pub(crate) async fn enforce_queue_limit(inner: &Arc<Inner>, product: &str, limit: u32) {
    let queued = queued_of_product(inner, product).await;
    let excess = queued.len().saturating_sub(limit as usize);
    for r in queued.into_iter().take(excess) {
        let _ = terminate(inner, &r.id, "ferry", TerminationReason::Queue).await;
    }
}

/// SPEC §4.5 terminate.
pub(crate) async fn terminate(
    inner: &Arc<Inner>,
    id: &str,
    by: &str,
    reason: TerminationReason,
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
    };
    let audit = NewEvent::new(EventKind::Audit, "TERMINATING")
        .message(format!("terminate requested by {by} ({reason:?})"));
    match driving {
        Some((handle, cancel)) => {
            handle
                .update(|r| {
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
                return Box::pin(terminate(inner, id, by, reason)).await;
            }
            let release = inner
                .store
                .get(id)
                .await
                .map_err(Error::Store)?
                .ok_or_else(|| Error::NotFound(id.to_owned()))?;
            if !release.is_active() {
                return Err(Error::Conflict {
                    id: id.to_owned(),
                    status: release.status.to_string(),
                    action: "terminate",
                });
            }
            // Not driven here (queued): nothing runs, so it ends at once.
            let handle = ReleaseHandle::new(
                release,
                Arc::clone(&inner.store),
                inner.events.clone(),
                inner.shutdown.clone(),
            );
            handle
                .update(|r| {
                    r.termination = Some(termination.clone());
                    r.finished_at = Some(now());
                    ((), vec![audit])
                })
                .await?;
            Ok(handle.get().await)
        }
    }
}

/// SPEC §4.5 retry: FAILED or TERMINATED releases resume from the point of
/// failure; what succeeded is kept.
pub(crate) async fn retry(inner: &Arc<Inner>, id: &str, by: &str) -> Result<Release, Error> {
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
        .map_err(Error::Store)?
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
    let handle = ReleaseHandle::new(
        release,
        Arc::clone(&inner.store),
        inner.events.clone(),
        inner.shutdown.clone(),
    );
    handle
        .update(|r| {
            r.termination = None;
            r.finished_at = None;
            r.hooks
                .retain(|h| h.status == StepStatus::Success && !h.name.starts_with("onFail"));
            for env in &mut r.environments {
                if matches!(
                    env.status,
                    EnvironmentStatus::Failed
                        | EnvironmentStatus::Terminated
                        | EnvironmentStatus::Running
                        | EnvironmentStatus::Suspended
                ) {
                    env.status = EnvironmentStatus::Pending;
                    env.issues.clear();
                    env.finished_at = None;
                    env.hooks.retain(|h| {
                        h.status == StepStatus::Success && !h.name.starts_with("onFail")
                    });
                    for app in &mut env.applications {
                        if app.status != EnvironmentStatus::Successful {
                            app.status = EnvironmentStatus::Pending;
                            for s in &mut app.steps {
                                if s.status != StepStatus::Success {
                                    s.status = StepStatus::Pending;
                                    s.finished_at = None;
                                }
                            }
                        }
                    }
                }
            }
            (
                (),
                vec![
                    NewEvent::new(EventKind::Audit, "RUNNING")
                        .message(format!("retry requested by {by}")),
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
    // The flow timeout counts from creation (SPEC §1.6).
    let elapsed = (now() - release.created_at).whole_seconds().max(0) as u64;
    let remaining = Duration::from_secs(release.graph.timeout_seconds.saturating_sub(elapsed));
    {
        let inner = Arc::clone(inner);
        let id = release.id.clone();
        let cancel = cancel.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = tokio::time::sleep(remaining) => {
                    let _ = terminate(&inner, &id, "ferry", TerminationReason::Timeout).await;
                }
                () = cancel.cancelled() => {}
            }
        });
    }
    if release.termination.is_none()
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
            tasks.spawn(async move { run_environment(&inner, &handle, &env, &cancel).await });
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            done = tasks.join_next() => {
                if let Some(Ok(Err(e))) = done {
                    tracing::error!(error = %e, "environment task failed");
                }
            }
            () = cancel.cancelled() => {}
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(e)) = done {
            tracing::error!(error = %e, "environment task failed");
        }
    }
    if inner.shutdown.is_cancelled() {
        // The process stops: leave the release as stored; it resumes on start.
        return Ok(());
    }
    finish(inner, handle).await
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
    let mut hook_failed = false;
    if let Some((which, name)) = hook {
        // Hooks after a terminate run on their own token.
        let token = inner.shutdown.child_token();
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
            r.finished_at = Some(now());
            ((), vec![])
        })
        .await
}

fn failure_facts(r: &Release) -> (String, String) {
    let message = r
        .environments
        .iter()
        .flat_map(|e| {
            e.issues
                .iter()
                .map(move |i| format!("{}: {}", e.name, i.message))
        })
        .next()
        .or_else(|| {
            r.termination
                .as_ref()
                .map(|t| format!("terminated ({:?}) by {}", t.reason, t.by))
        })
        .unwrap_or_else(|| "the release failed".into());
    (message, failed_environments(r))
}

async fn run_environment(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let r = handle.get().await;
    let Some(e) = r.environment(env).cloned() else {
        return Ok(());
    };
    let step = r.graph.step(env).cloned();
    let has_on_start = step.as_ref().is_some_and(|s| s.hooks.on_start.is_some());
    let start = |r: &mut Release| {
        if let Some(e) = r.environment_mut(env) {
            e.status = EnvironmentStatus::Running;
            e.started_at.get_or_insert_with(now);
            // Applications start together with their environment (one
            // save instead of one per application), unless a hook runs first.
            if !has_on_start {
                for a in &mut e.applications {
                    if !a.status.is_final() {
                        a.status = EnvironmentStatus::Running;
                    }
                }
            }
        }
        ((), vec![])
    };
    if has_on_start || e.applications.is_empty() {
        handle.update(start).await?;
    } else {
        // Stored by the first step's own save, before that step acts.
        handle.defer(start).await;
    }
    let hooks = step.as_ref().map(|s| s.hooks.clone()).unwrap_or_default();
    if let Some(h) = &hooks.on_start
        && !run_hook(inner, handle, Some(env), "onStart", h, None, cancel).await?
    {
        return end_environment(
            inner,
            handle,
            env,
            &hooks,
            Some("environment onStart hook failed"),
        )
        .await;
    }
    if e.applications.is_empty() {
        handle
            .update(|r| {
                if let Some(e) = r.environment_mut(env) {
                    e.status = EnvironmentStatus::Successful;
                    e.finished_at = Some(now());
                }
                (
                    (),
                    vec![
                        NewEvent::new(EventKind::Environment, "SUCCESSFUL")
                            .environment(env)
                            .message("the product has no application here"),
                    ],
                )
            })
            .await?;
        return Ok(());
    }
    let mut apps: JoinSet<Result<(), Error>> = JoinSet::new();
    for app in &e.applications {
        let (inner, handle, cancel, env, app) = (
            Arc::clone(inner),
            Arc::clone(handle),
            cancel.clone(),
            env.to_owned(),
            app.name.clone(),
        );
        apps.spawn(async move { run_application(&inner, &handle, &env, &app, &cancel).await });
    }
    while let Some(done) = apps.join_next().await {
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(e) => return Err(Error::Internal(format!("application task: {e}"))),
        }
    }
    end_environment(inner, handle, env, &hooks, None).await
}

/// Aggregates the environment, runs `onSuccess`/`onFail`, marks it finished.
async fn end_environment(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    hooks: &ferry_model::resource::Hooks,
    failure: Option<&str>,
) -> Result<(), Error> {
    let r = handle.get().await;
    if r.termination.is_some() || inner.shutdown.is_cancelled() {
        // Termination marks and hooks are handled when the release finishes…
        if let Some(h) = &hooks.on_fail
            && r.termination.is_some()
        {
            on_fail_hook(inner, handle, env, h, &r).await?;
        }
        return Ok(());
    }
    let e = r.environment(env).cloned();
    let apps_status = e
        .as_ref()
        .map(|e| EnvironmentStatus::aggregate(e.applications.iter().map(|a| a.status)));
    let ok = failure.is_none() && apps_status == Some(EnvironmentStatus::Successful);
    let mut hook_ok = true;
    if ok {
        if let Some(h) = &hooks.on_success {
            hook_ok = run_hook(
                inner,
                handle,
                Some(env),
                "onSuccess",
                h,
                None,
                &inner.shutdown.child_token(),
            )
            .await?;
        }
    } else if let Some(h) = &hooks.on_fail {
        on_fail_hook(inner, handle, env, h, &r).await?;
    }
    handle
        .update(|r| {
            if let Some(e) = r.environment_mut(env) {
                if let Some(msg) = failure {
                    e.issues.push(issue(IssueKind::Workflow, msg));
                }
                if !hook_ok {
                    e.issues.push(issue(
                        IssueKind::Workflow,
                        "environment onSuccess hook failed",
                    ));
                }
                e.status = if ok && hook_ok {
                    EnvironmentStatus::Successful
                } else {
                    EnvironmentStatus::Failed
                };
                e.finished_at = Some(now());
            }
            ((), vec![])
        })
        .await
}

/// Sets an application's status and re-derives its environment's.
fn set_app_status(r: &mut Release, env: &str, app: &str, status: EnvironmentStatus) {
    if let Some(e) = r.environment_mut(env) {
        if let Some(a) = e.applications.iter_mut().find(|a| a.name == app) {
            a.status = status;
        }
        if !e.status.is_final() {
            let agg = EnvironmentStatus::aggregate(e.applications.iter().map(|a| a.status));
            // Not final until the environment's hooks ran.
            e.status = match agg {
                EnvironmentStatus::Successful | EnvironmentStatus::Pending => {
                    EnvironmentStatus::Running
                }
                other => other,
            };
        }
    }
}

/// An application of an environment of the release, by name.
fn app_of<'r>(r: &'r Release, env: &str, app: &str) -> Option<&'r ferry_release::ApplicationRun> {
    r.environment(env)?
        .applications
        .iter()
        .find(|a| a.name == app)
}

fn app_mut<'r>(
    r: &'r mut Release,
    env: &str,
    app: &str,
) -> Option<&'r mut ferry_release::ApplicationRun> {
    r.environment_mut(env)?
        .applications
        .iter_mut()
        .find(|a| a.name == app)
}

fn step_mut<'r>(r: &'r mut Release, env: &str, app: &str, idx: usize) -> Option<&'r mut StepRun> {
    app_mut(r, env, app)?.steps.get_mut(idx)
}

async fn run_application(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let current = handle.get().await;
    let already_running =
        app_of(&current, env, app).is_some_and(|a| a.status == EnvironmentStatus::Running);
    if !already_running {
        handle
            .update(|r| {
                set_app_status(r, env, app, EnvironmentStatus::Running);
                ((), vec![])
            })
            .await?;
    }
    let steps = {
        let r = handle.get().await;
        app_of(&r, env, app)
            .map(|a| a.steps.clone())
            .unwrap_or_default()
    };
    let mut outcome = Outcome::Passed;
    // When the sync check is the last step, its success also ends the
    // application: one save instead of two.
    let mut ended_by_last_step = false;
    let last = steps.len().saturating_sub(1);
    for (idx, step) in steps.iter().enumerate() {
        if matches!(step.status, StepStatus::Success | StepStatus::Skipped) {
            continue;
        }
        if cancel.is_cancelled() {
            outcome = Outcome::Terminated;
            break;
        }
        outcome = match step.phase {
            StepPhase::PreAction | StepPhase::PostAction => {
                run_workflow_step(inner, handle, env, app, idx, &step.name, step.phase, cancel)
                    .await?
            }
            StepPhase::Action => run_action(inner, handle, env, app, idx, cancel).await?,
            StepPhase::Sync => {
                let ends_app = idx == last;
                let o = run_sync(inner, handle, env, app, idx, ends_app, cancel).await?;
                ended_by_last_step = ends_app && o == Outcome::Passed;
                o
            }
            StepPhase::Hook => Outcome::Passed,
        };
        if outcome != Outcome::Passed {
            break;
        }
    }
    let status = match outcome {
        Outcome::Passed => EnvironmentStatus::Successful,
        Outcome::Failed => EnvironmentStatus::Failed,
        Outcome::Terminated => EnvironmentStatus::Terminated,
    };
    if ended_by_last_step {
        return Ok(());
    }
    handle
        .update(|r| {
            set_app_status(r, env, app, status);
            ((), vec![])
        })
        .await
}

/// An environment's `onFail` hook, with the failure's arguments.
async fn on_fail_hook(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    hook: &str,
    r: &Release,
) -> Result<bool, Error> {
    let facts = failure_facts(r);
    run_hook(
        inner,
        handle,
        Some(env),
        "onFail",
        hook,
        Some((&facts.0, &facts.1)),
        &inner.shutdown.child_token(),
    )
    .await
}

/// Runs one workflow to its end, mirroring its steps into the release.
#[allow(clippy::too_many_arguments)]
async fn run_workflow_step(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    workflow: &str,
    phase: StepPhase,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let r = handle.get().await;
    let Some(a) = app_of(&r, env, app).cloned() else {
        return Ok(Outcome::Failed);
    };
    let commit = if phase == StepPhase::PostAction {
        commit_facts(inner, &a).await
    } else {
        None
    };
    let mut params = action_params(
        &r,
        &inner.release_url(&r.product, r.number),
        &inner.settings.runtime,
        env,
        &a,
        phase == StepPhase::PostAction,
        commit.as_ref(),
    );
    if phase == StepPhase::PostAction {
        for (k, v) in &a.outputs {
            params.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    let key = (r.product.clone(), env.to_owned(), workflow.to_owned());
    let previous = running_run(a.steps.get(idx));
    let result = run_workflow(
        inner,
        handle,
        workflow,
        &params,
        Some(key),
        previous,
        cancel,
        |r, f| {
            if let Some(s) = step_mut(r, env, app, idx) {
                f(s);
            }
        },
        |r, suspended| {
            set_app_status(
                r,
                env,
                app,
                if suspended {
                    EnvironmentStatus::Suspended
                } else {
                    EnvironmentStatus::Running
                },
            );
        },
    )
    .await?;
    match result {
        WorkflowResult::Succeeded(outputs) => {
            if phase == StepPhase::PreAction && !outputs.is_empty() {
                handle
                    .update(|r| {
                        if let Some(a) = app_mut(r, env, app) {
                            a.outputs.extend(outputs);
                        }
                        ((), vec![])
                    })
                    .await?;
            }
            Ok(Outcome::Passed)
        }
        WorkflowResult::Failed(mut iss) => {
            iss.application = Some(app.to_owned());
            handle
                .update(|r| {
                    if let Some(e) = r.environment_mut(env) {
                        e.issues.push(iss);
                    }
                    ((), vec![])
                })
                .await?;
            Ok(Outcome::Failed)
        }
        WorkflowResult::Terminated => Ok(Outcome::Terminated),
    }
}

enum WorkflowResult {
    Succeeded(std::collections::BTreeMap<String, String>),
    Failed(Issue),
    Terminated,
}

/// The run a step was following when its driver stopped (a restart, a
/// lost lease): the step is still RUNNING with the run's id.
fn running_run(step: Option<&StepRun>) -> Option<RunId> {
    step.filter(|s| s.status == StepStatus::Running)
        .and_then(|s| s.run_id.clone())
        .map(RunId)
}

/// Starts `workflow` (or follows the run it started before), follows it to
/// the end and records it through `step`.
#[allow(clippy::too_many_arguments)]
async fn run_workflow(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    workflow: &str,
    params: &std::collections::BTreeMap<String, String>,
    replace_key: Option<(String, String, String)>,
    previous: Option<RunId>,
    cancel: &CancellationToken,
    step: impl Fn(&mut Release, &dyn Fn(&mut StepRun)) + Send + Sync,
    suspended: impl Fn(&mut Release, bool) + Send + Sync,
) -> Result<WorkflowResult, Error> {
    let cfg = inner.config();
    let fail = |status: StepStatus, message: String| {
        let message2 = message.clone();
        (status, message2, issue(IssueKind::Workflow, message))
    };
    let template = match cfg.config.workflow_template(workflow) {
        None => Err(fail(
            StepStatus::Error,
            format!("workflow `{workflow}` does not exist (no WorkflowTemplate of that name)"),
        )),
        Some(w) => WorkflowTemplate::from_value(&w.manifest, &w.origin.file)
            .map_err(|e| {
                fail(
                    StepStatus::Error,
                    format!("workflow `{workflow}` is invalid: {e}"),
                )
            })
            .map(|t| (t, w.manifest.clone())),
    };
    let (template, manifest) = match template {
        Ok(t) => t,
        Err((status, message, iss)) => {
            handle
                .update(|r| {
                    step(r, &|s: &mut StepRun| {
                        s.status = status;
                        s.message = Some(message.clone());
                        s.finished_at = Some(now());
                    });
                    ((), vec![])
                })
                .await?;
            return Ok(WorkflowResult::Failed(iss));
        }
    };
    // A newer run of the same workflow in the same environment replaces an older one.
    let my_token = cancel.child_token();
    if let Some(key) = &replace_key {
        let old = inner
            .workflows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), (handle.id.clone(), my_token.clone()));
        if let Some((old_release, old_token)) = old
            && old_release != handle.id
        {
            old_token.cancel();
        }
    }
    // A run this step started before a restart (or on a replica that lost
    // the release) may still be going on where runs outlive ferry: follow
    // it rather than start the workflow a second time.
    let attached = match previous {
        Some(run) => match inner.runner.attach(&run).await {
            Ok(()) => {
                tracing::info!(release = %handle.id, run = %run.0, "following the workflow run started before");
                Some(run)
            }
            Err(_) => None,
        },
        None => None,
    };
    let run = match attached {
        Some(run) => run,
        None => {
            let run = inner.runner.start(&template, params).await?;
            handle
                .update(|r| {
                    step(r, &|s: &mut StepRun| {
                        s.status = StepStatus::Running;
                        s.run_id = Some(run.0.clone());
                        s.started_at = Some(now());
                        s.finished_at = None;
                        s.attempts += 1;
                        s.nodes.clear();
                    });
                    ((), vec![])
                })
                .await?;
            run
        }
    };
    let mut updates = inner.runner.subscribe(&run).await?;
    let mut was_suspended = false;
    let terminated = loop {
        tokio::select! {
            next = updates.next() => {
                let Some(u) = next else { break false };
                if !matches!(u.kind, NodeKind::Pod | NodeKind::Suspend) {
                    if u.suspended != was_suspended {
                        was_suspended = u.suspended;
                        handle.update(|r| { suspended(r, was_suspended); ((), vec![]) }).await?;
                    }
                    continue;
                }
                let node = WorkflowNode { name: u.path.clone(), status: map_status(u.status), message: u.message.clone(), exit_code: u.exit_code };
                let any_suspended = u.suspended;
                handle.update(|r| {
                    step(r, &|s: &mut StepRun| {
                        match s.nodes.iter_mut().find(|n| n.name == node.name) {
                            Some(n) => *n = node.clone(),
                            None => s.nodes.push(node.clone()),
                        }
                    });
                    if any_suspended != was_suspended {
                        suspended(r, any_suspended);
                    }
                    ((), vec![])
                }).await?;
                was_suspended = any_suspended;
            }
            () = my_token.cancelled() => break true,
        }
    };
    if terminated {
        // Only terminating the release (or a newer run replacing this one)
        // stops the run. A shutdown or a lost lease stops only this driver:
        // a run that outlives ferry goes on and is attached to again.
        let replaced = !cancel.is_cancelled();
        let terminating = handle.get().await.termination.is_some();
        if !replaced && !terminating && inner.runner.outlives_process() {
            return Err(Error::ShuttingDown);
        }
        let _ = inner.runner.terminate(&run).await;
    }
    let outcome = inner.runner.wait(&run).await?;
    if let Some(key) = &replace_key {
        let mut map = inner.workflows.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(key).is_some_and(|(id, _)| id == &handle.id) {
            map.remove(key);
        }
    }
    let status = if terminated {
        StepStatus::Terminated
    } else {
        map_status(outcome.status)
    };
    let message = outcome.message.clone();
    handle
        .update(|r| {
            step(r, &|s: &mut StepRun| {
                s.status = status;
                s.message = message.clone();
                s.finished_at = Some(now());
            });
            if was_suspended {
                suspended(r, false);
            }
            ((), vec![])
        })
        .await?;
    match status {
        StepStatus::Success | StepStatus::Skipped => {
            let _ = inner.runner.forget(&run).await;
            Ok(WorkflowResult::Succeeded(outcome.outputs.global))
        }
        StepStatus::Terminated => Ok(WorkflowResult::Terminated),
        _ => {
            // The failing step and its log (SPEC §4.4).
            let steps = inner.runner.steps(&run).await.unwrap_or_default();
            let failing = steps.iter().rfind(|u| {
                matches!(u.kind, NodeKind::Pod | NodeKind::Suspend)
                    && matches!(
                        u.status,
                        ferry_workflow::StepStatus::Failed | ferry_workflow::StepStatus::Error
                    )
            });
            let mut iss = issue(
                IssueKind::Workflow,
                format!(
                    "workflow `{workflow}` {}: {}",
                    status.as_str().to_lowercase(),
                    message.clone().unwrap_or_else(|| "failed".into())
                ),
            );
            if let Some(f) = failing {
                iss.step = Some(f.path.clone());
                if let Ok(log) = inner.runner.logs(&run, &f.path).await {
                    iss.details = Some(log.text);
                }
            }
            iss.manifest = Some(rendered_manifest(&manifest, &run.0, params));
            Ok(WorkflowResult::Failed(iss))
        }
    }
}

/// The workflow as it ran (SPEC §4.4, an issue's "rendered manifest"): the
/// WorkflowTemplate as a `Workflow` named after the run, with the
/// arguments ferry passed filled into `spec.arguments.parameters` (declared
/// ones get their value; the others are listed after them).
fn rendered_manifest(
    template: &serde_json::Value,
    run: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> String {
    let mut wf = template.clone();
    if let Some(obj) = wf.as_object_mut() {
        obj.insert("kind".into(), serde_json::Value::from("Workflow"));
        let meta = obj
            .entry("metadata")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("name".into(), serde_json::Value::from(run));
        }
        let spec = obj.entry("spec").or_insert_with(|| serde_json::json!({}));
        if let Some(spec) = spec.as_object_mut() {
            let args = spec
                .entry("arguments")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(args) = args.as_object_mut() {
                let list = args
                    .entry("parameters")
                    .or_insert_with(|| serde_json::json!([]));
                if let Some(list) = list.as_array_mut() {
                    let mut seen = std::collections::HashSet::new();
                    for p in list.iter_mut() {
                        let Some(name) = p.get("name").and_then(|n| n.as_str()).map(str::to_owned)
                        else {
                            continue;
                        };
                        if let (Some(v), Some(p)) = (params.get(&name), p.as_object_mut()) {
                            p.insert("value".into(), serde_json::Value::from(v.as_str()));
                        }
                        seen.insert(name);
                    }
                    for (k, v) in params {
                        if !seen.contains(k) {
                            list.push(serde_json::json!({"name": k, "value": v}));
                        }
                    }
                }
            }
        }
    }
    serde_json::to_string_pretty(&wf).unwrap_or_default()
}

fn map_status(s: ferry_workflow::StepStatus) -> StepStatus {
    use ferry_workflow::StepStatus as W;
    match s {
        W::Pending => StepStatus::Pending,
        W::Running => StepStatus::Running,
        W::Success => StepStatus::Success,
        W::Failed => StepStatus::Failed,
        W::Error => StepStatus::Error,
        W::Terminated => StepStatus::Terminated,
        W::Skipped => StepStatus::Skipped,
    }
}

/// Runs a hook (release-level when `env` is `None`); true when it passed.
/// A hook that already succeeded (before a restart) is not run again.
async fn run_hook(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: Option<&str>,
    which: &str,
    workflow: &str,
    failure: Option<(&str, &str)>,
    cancel: &CancellationToken,
) -> Result<bool, Error> {
    let name = format!("{which}: {workflow}");
    let r = handle.get().await;
    let existing = match env {
        None => r.hooks.iter().find(|h| h.name == name),
        Some(e) => r
            .environment(e)
            .and_then(|e| e.hooks.iter().find(|h| h.name == name)),
    };
    if existing.is_some_and(|h| h.status == StepStatus::Success) {
        return Ok(true);
    }
    if existing.is_none() {
        handle
            .update(|r| {
                let run = StepRun::pending(name.clone(), StepPhase::Hook);
                match env {
                    None => r.hooks.push(run),
                    Some(e) => {
                        if let Some(e) = r.environment_mut(e) {
                            e.hooks.push(run);
                        }
                    }
                }
                ((), vec![])
            })
            .await?;
    }
    let params = hook_params(&r, &inner.release_url(&r.product, r.number), failure);
    let previous = running_run(existing);
    let name_ref = name.clone();
    let env_owned = env.map(str::to_owned);
    let result = run_workflow(
        inner,
        handle,
        workflow,
        &params,
        None,
        previous,
        cancel,
        move |r, f| {
            let hooks = match &env_owned {
                None => Some(&mut r.hooks),
                Some(e) => r.environment_mut(e).map(|e| &mut e.hooks),
            };
            if let Some(h) = hooks.and_then(|h| h.iter_mut().find(|h| h.name == name_ref)) {
                f(h);
            }
        },
        |_, _| {},
    )
    .await?;
    match result {
        WorkflowResult::Succeeded(_) => Ok(true),
        WorkflowResult::Terminated => Ok(false),
        WorkflowResult::Failed(iss) => {
            let env = env.map(str::to_owned);
            handle
                .update(|r| {
                    let target = match &env {
                        Some(e) => r.environment_mut(e),
                        None => r.environments.iter_mut().find(|e| e.trigger),
                    };
                    if let Some(e) = target {
                        e.issues.push(iss);
                    }
                    ((), vec![])
                })
                .await?;
            Ok(false)
        }
    }
}

async fn commit_facts(
    inner: &Arc<Inner>,
    app: &ferry_release::ApplicationRun,
) -> Option<CommitFacts> {
    let commit = app.promotion_commit.clone()?;
    if app.pull_request.is_some() {
        return None;
    }
    let workspace = Arc::clone(&inner.workspace);
    let repo = app.repo_url.clone();
    blocking(move || {
        let mirror = workspace.mirror(&repo)?;
        let info = mirror.commit_info(&commit)?;
        Ok(CommitFacts {
            sha: info.id.to_string(),
            author: format!("{} <{}>", info.author.name, info.author.email),
            message: info.message.clone(),
            date: info.author.time.to_rfc3339(),
        })
    })
    .await
    .ok()
}

/// The snapshot entry for a target application: by key, or the only one
/// when source and target each have exactly one application.
fn snapshot_for<'r>(
    r: &'r Release,
    env: &str,
    app: &ferry_release::ApplicationRun,
) -> Option<&'r ApplicationSnapshot> {
    if let Some(s) = r.snapshot.applications.get(&app.key) {
        return Some(s);
    }
    let one_target = r
        .environment(env)
        .is_some_and(|e| e.applications.len() == 1);
    if one_target && r.snapshot.applications.len() == 1 {
        return r.snapshot.applications.values().next();
    }
    None
}

/// The promotion action (SPEC §4.2 b).
async fn run_action(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let r = handle.get().await;
    let Some(a) = app_of(&r, env, app).cloned() else {
        return Ok(Outcome::Failed);
    };
    let action = r.graph.step(env).map_or(Action::Commit, |s| s.action());
    let mark = |status: StepStatus, message: Option<String>| {
        move |r: &mut Release| {
            if let Some(s) = step_mut(r, env, app, idx) {
                if status == StepStatus::Running {
                    s.started_at = Some(now());
                    s.attempts += 1;
                } else {
                    s.finished_at = Some(now());
                }
                s.status = status;
                s.message = message.clone();
            }
        }
    };
    handle
        .update(|r| ((mark(StepStatus::Running, None))(r), vec![]))
        .await?;
    if action == Action::None {
        handle
            .update(|r| {
                (
                    (mark(
                        StepStatus::Success,
                        Some("no Git change (action none)".into()),
                    ))(r),
                    vec![],
                )
            })
            .await?;
        return Ok(Outcome::Passed);
    }
    let Some(snapshot) = snapshot_for(&r, env, &a).cloned() else {
        let msg = format!(
            "no application with key `{}` in the source environment `{}` to promote from",
            a.key, r.graph.trigger_environment
        );
        handle
            .update(|r| {
                (mark(StepStatus::Failed, Some(msg.clone())))(r);
                push_issue(r, env, app_issue(IssueKind::Git, app, msg.clone()));
                ((), vec![])
            })
            .await?;
        return Ok(Outcome::Failed);
    };
    let pr_branch = PushTarget::pull_request_branch(&r.product, env, r.number);
    let spec = CommitSpec {
        author: Signature::new(
            inner.settings.commit_author_name.clone(),
            inner.settings.commit_author_email.clone(),
        ),
        committer: None,
        message: promotion_message(
            &r.product,
            r.version.as_deref().unwrap_or("-"),
            env,
            app,
            &r.id,
        ),
    };
    let workspace = Arc::clone(&inner.workspace);
    let (repo, path, revision) = (
        a.repo_url.clone(),
        a.path.clone(),
        a.target_revision.clone(),
    );
    let pushed = blocking(move || {
        let mirror = workspace.mirror(&repo)?;
        // `targetRevision: HEAD` (or none) deploys the default branch.
        let base = mirror.branch_for(&revision)?;
        let target2 = match action {
            Action::Pr => PushTarget::new_branch(base, pr_branch),
            _ => PushTarget::branch(base),
        };
        let promote = || {
            ferry_gitops::promote(
                &mirror,
                &target2,
                &path,
                &snapshot,
                &spec,
                // Several replicas push to one repository at once (issue 11):
                // each lost race means another commit landed, so a push can
                // lose as often as the other replicas have pushes waiting;
                // with the default jittered backoff between attempts, 30
                // attempts outlast such a burst by many seconds.
                &PushOptions {
                    max_attempts: 30,
                    ..PushOptions::default()
                },
            )
        };
        // No fetch first: the push is fast-forward only, so a mirror behind
        // the remote gets the push rejected and the push loop fetches and
        // plans again. Only an outcome decided on the mirror alone —
        // nothing to change, or an error such as a branch not there yet —
        // is checked again after a fetch (unless one just ran).
        let done = match promote() {
            Ok(done) if done.commit.is_some() => done,
            first => {
                if mirror.fetch_since(recent_fetch())? {
                    promote()?
                } else {
                    first?
                }
            }
        };
        Ok((done, target2))
    })
    .await;
    let (outcome, target) = match pushed {
        Ok(o) => o,
        Err(e) => {
            let msg = e.to_string();
            handle
                .update(|r| {
                    (mark(StepStatus::Failed, Some(msg.clone())))(r);
                    if let Some(e) = r.environment_mut(env) {
                        let mut i = issue(
                            IssueKind::Git,
                            format!(
                                "promotion commit failed: {}",
                                msg.lines().next().unwrap_or("")
                            ),
                        );
                        i.application = Some(app.to_owned());
                        i.details = Some(msg.clone());
                        e.issues.push(i);
                    }
                    ((), vec![])
                })
                .await?;
            return Ok(Outcome::Failed);
        }
    };
    let commit = outcome.commit.map(|c| c.to_string());
    if action == Action::Pr && commit.is_some() {
        let branch = target.branch.clone();
        if let Some(prs) = inner
            .pull_requests
            .clone()
            .filter(|p| p.handles(&a.repo_url))
        {
            // A forge opens the pull request and says when it is merged.
            let head = commit.clone().unwrap_or_default();
            let pr = match pullrequest::reusable(&prs, &a, &head).await {
                Some(pr) => Ok(pr),
                None => {
                    let diff = pullrequest::diff_summary(
                        inner,
                        &a,
                        snapshot_for(&r, env, &a).cloned(),
                        outcome.base,
                    )
                    .await;
                    let (title, body) = pullrequest::describe(inner, &r, env, &a, &diff);
                    let spec = pullrequest::PullRequestSpec {
                        repo_url: a.repo_url.clone(),
                        head: branch.clone(),
                        base: target.base.clone(),
                        title,
                        body,
                        release_id: r.id.clone(),
                        release_url: inner.release_url(&r.product, r.number),
                        release_notes: inner
                            .config()
                            .config
                            .product(&r.product)
                            .and_then(|p| p.spec.release_notes.clone()),
                    };
                    prs.open(&spec).await.map(|o| PullRequest {
                        number: o.number,
                        url: o.url,
                        branch: branch.clone(),
                        head: Some(head.clone()),
                    })
                }
            };
            let pr = match pr {
                Ok(pr) => pr,
                Err(e) => {
                    let msg = format!("opening the pull request for branch `{branch}` failed: {e}");
                    handle
                        .update(|r| {
                            (mark(StepStatus::Failed, Some(msg.clone())))(r);
                            if let Some(a) = app_mut(r, env, app) {
                                a.promotion_commit = commit.clone();
                            }
                            push_issue(r, env, app_issue(IssueKind::Forge, app, msg.clone()));
                            ((), vec![])
                        })
                        .await?;
                    return Ok(Outcome::Failed);
                }
            };
            let (number, url) = (pr.number, pr.url.clone());
            handle
                .update(|r| {
                    if let Some(s) = step_mut(r, env, app, idx) {
                        s.message = Some(format!(
                            "waiting for pull request #{number} to be merged: {url}"
                        ));
                    }
                    if let Some(a) = app_mut(r, env, app) {
                        a.promotion_commit = commit.clone();
                        a.pull_request = Some(pr.clone());
                    }
                    set_app_status(r, env, app, EnvironmentStatus::Suspended);
                    ((), vec![])
                })
                .await?;
            let end = pullrequest::wait(inner, &prs, &a.repo_url, number, cancel).await?;
            return match end {
                Some(pullrequest::PullRequestState::Merged { merge_commit }) => {
                    handle
                        .update(|r| {
                            (mark(
                                StepStatus::Success,
                                Some(format!("pull request #{number} merged")),
                            ))(r);
                            // The merge (or squash) commit is what lands on
                            // the target branch: the sync step waits for it.
                            if let (Some(a), Some(m)) = (app_mut(r, env, app), &merge_commit) {
                                a.promotion_commit = Some(m.clone());
                            }
                            set_app_status(r, env, app, EnvironmentStatus::Running);
                            ((), vec![])
                        })
                        .await?;
                    Ok(Outcome::Passed)
                }
                Some(_) => {
                    let msg = format!("pull request #{number} was closed without being merged");
                    handle
                        .update(|r| {
                            (mark(StepStatus::Failed, Some(msg.clone())))(r);
                            let mut i = app_issue(IssueKind::Forge, app, msg.clone());
                            i.link = Some(url.clone());
                            push_issue(r, env, i);
                            ((), vec![])
                        })
                        .await?;
                    Ok(Outcome::Failed)
                }
                None => {
                    handle
                        .update(|r| ((mark(StepStatus::Terminated, None))(r), vec![]))
                        .await?;
                    Ok(Outcome::Terminated)
                }
            };
        }
        let msg = format!("waiting for the pull request branch `{branch}` to be merged");
        handle
            .update(|r| {
                if let Some(s) = step_mut(r, env, app, idx) {
                    s.message = Some(msg.clone());
                }
                if let Some(a) = app_mut(r, env, app) {
                    a.promotion_commit = commit.clone();
                    a.pull_request = Some(PullRequest {
                        number: 0,
                        url: String::new(),
                        branch: branch.clone(),
                        head: commit.clone(),
                    });
                }
                set_app_status(r, env, app, EnvironmentStatus::Suspended);
                ((), vec![])
            })
            .await?;
        let merged = wait_for_merge(
            inner,
            &a,
            commit.as_deref().unwrap_or_default(),
            &branch,
            cancel,
        )
        .await?;
        return match merged {
            Some(true) => {
                handle
                    .update(|r| {
                        (mark(
                            StepStatus::Success,
                            Some(format!("pull request branch `{branch}` merged")),
                        ))(r);
                        set_app_status(r, env, app, EnvironmentStatus::Running);
                        ((), vec![])
                    })
                    .await?;
                Ok(Outcome::Passed)
            }
            Some(false) => {
                let msg =
                    format!("pull request branch `{branch}` was deleted without being merged");
                handle
                    .update(|r| {
                        (mark(StepStatus::Failed, Some(msg.clone())))(r);
                        push_issue(r, env, app_issue(IssueKind::Git, app, msg.clone()));
                        ((), vec![])
                    })
                    .await?;
                Ok(Outcome::Failed)
            }
            None => {
                handle
                    .update(|r| ((mark(StepStatus::Terminated, None))(r), vec![]))
                    .await?;
                Ok(Outcome::Terminated)
            }
        };
    }
    let message = match (&commit, outcome.reused) {
        (None, _) => "nothing to change".to_owned(),
        (Some(c), true) => format!("commit {} was already pushed", &c[..c.len().min(12)]),
        (Some(c), false) => format!("pushed {}", &c[..c.len().min(12)]),
    };
    let done = |r: &mut Release| {
        (mark(StepStatus::Success, Some(message.clone())))(r);
        if let Some(a) = app_mut(r, env, app) {
            a.promotion_commit = commit.clone();
        }
        ((), vec![])
    };
    if a.steps.get(idx + 1).map(|s| s.phase) == Some(StepPhase::Sync) {
        // The sync check only observes; its first save stores this too. A
        // crash before it re-runs the action, which finds its pushed commit
        // by the trailers instead of pushing again.
        handle.defer(done).await;
    } else {
        handle.update(done).await?;
    }
    Ok(Outcome::Passed)
}

/// How recent a fetch of the target repository must be for a "nothing to
/// change" decided on the mirror to stand without fetching again.
///
/// Commits are pushed fast-forward only, so a stale mirror is caught by the
/// remote whenever there is something to push; only "nothing to change"
/// rests on the mirror alone, and that decision already races any push
/// landing between a fetch and the read after it. A fetch that started this
/// recently (typically the snapshot's, moments ago) therefore adds no risk a
/// new one would remove.
const ACTION_FETCH_FRESHNESS: Duration = Duration::from_millis(250);

fn recent_fetch() -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    now.checked_sub(ACTION_FETCH_FRESHNESS).unwrap_or(now)
}

/// Without a forge, a pull request is its branch: merged once the promotion
/// commit is on the target branch; abandoned when the branch disappears
/// unmerged. `None` when cancelled.
async fn wait_for_merge(
    inner: &Arc<Inner>,
    app: &ferry_release::ApplicationRun,
    commit: &str,
    branch: &str,
    cancel: &CancellationToken,
) -> Result<Option<bool>, Error> {
    loop {
        let workspace = Arc::clone(&inner.workspace);
        let (repo, target, commit2, branch2) = (
            app.repo_url.clone(),
            app.target_revision.clone(),
            commit.to_owned(),
            branch.to_owned(),
        );
        let state = blocking(move || {
            let mirror = workspace.mirror(&repo)?;
            mirror.fetch()?;
            let tip = mirror.resolve(&target)?;
            let c = mirror.resolve(&commit2)?;
            if mirror.is_ancestor(c, tip)? {
                return Ok(Some(true));
            }
            let branch_exists = mirror.resolve(&branch2).is_ok();
            Ok(if branch_exists { None } else { Some(false) })
        })
        .await;
        match state {
            Ok(Some(done)) => return Ok(Some(done)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "checking the pull request branch"),
        }
        tokio::select! {
            () = tokio::time::sleep(inner.settings.sync_interval) => {}
            () = cancel.cancelled() => return Ok(None),
        }
    }
}

/// A step's next attempt begins now.
fn start_attempt(s: &mut StepRun) {
    s.status = StepStatus::Running;
    s.started_at = Some(now());
    s.attempts += 1;
}

/// Waits until the application is synced at the promotion commit and healthy (SPEC §4.2 c).
async fn run_sync(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    ends_app: bool,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let r = handle.get().await;
    let Some(a) = app_of(&r, env, app).cloned() else {
        return Ok(Outcome::Failed);
    };
    // The step is marked RUNNING with the first observation's save (one
    // save instead of two when the application is already synced).
    let mut marked = false;
    let app_ref = AppRef {
        name: a.name.clone(),
        namespace: a.namespace.clone(),
        repo_url: a.repo_url.clone(),
        path: a.path.clone(),
        target_revision: a.target_revision.clone(),
    };
    let commit = a.promotion_commit.clone();
    // A provider with a push source (Argo CD's stream) wakes the wait the
    // moment the application changes; the interval stays as the fallback.
    let mut updates = inner.appstate.updates(&app_ref);
    // What the provider said last, for the timeout issue.
    let mut last: Option<ferry_appstate::AppState> = None;
    loop {
        if let Some(rx) = updates.as_mut() {
            rx.borrow_and_update();
        }
        match inner.appstate.observe(&app_ref, commit.as_deref()).await {
            Ok(obs) => {
                last = Some(obs.state.clone());
                let healthy = obs.state.health == Health::Healthy;
                // Degraded fails only once our commit is deployed: an older
                // revision's trouble may be what this promotion fixes.
                let degraded = obs.state.health == Health::Degraded && obs.synced_at_commit;
                let suspended = obs.state.health == Health::Suspended;
                let done = obs.synced_at_commit && healthy;
                let first = !marked;
                marked = true;
                let state = obs.state.clone();
                let change = |r: &mut Release| {
                    if let Some(a) = app_mut(r, env, app) {
                        a.sync = Some(state.sync.as_str().to_owned());
                        a.health = Some(state.health.as_str().to_owned());
                    }
                    if let Some(s) = step_mut(r, env, app, idx) {
                        if first {
                            start_attempt(s);
                        }
                        if done {
                            s.status = StepStatus::Success;
                            s.finished_at = Some(now());
                            s.message = Some(format!(
                                "synced at {} and healthy",
                                state.revision.as_deref().unwrap_or("?")
                            ));
                        } else if degraded {
                            s.status = StepStatus::Failed;
                            s.finished_at = Some(now());
                            s.message = state.message.clone();
                        }
                    }
                    if done && ends_app {
                        set_app_status(r, env, app, EnvironmentStatus::Successful);
                    }
                    if degraded {
                        if let Some(e) = r.environment_mut(env) {
                            let mut i = issue(
                                IssueKind::Application,
                                format!(
                                    "{app} is Degraded: {}",
                                    state.message.clone().unwrap_or_default()
                                ),
                            );
                            i.application = Some(app.to_owned());
                            i.link = state.link.clone();
                            i.details = state_details(&state);
                            e.issues.push(i);
                        }
                    } else if !done {
                        set_app_status(
                            r,
                            env,
                            app,
                            if suspended {
                                EnvironmentStatus::Suspended
                            } else {
                                EnvironmentStatus::Running
                            },
                        );
                    }
                    ((), vec![])
                };
                if done && ends_app {
                    // Only an observation happened: the environment's end
                    // (or another application's next save) stores this.
                    handle.defer(change).await;
                } else {
                    handle.update(change).await?;
                }
                if done {
                    return Ok(Outcome::Passed);
                }
                if degraded {
                    return Ok(Outcome::Failed);
                }
            }
            Err(e) => {
                tracing::warn!(application = %app, error = %e, "reading application state");
                if !marked {
                    // The step has started even if the provider does not
                    // answer yet; this save also stores what was deferred
                    // (the action's success), so the store does not lag
                    // behind while the provider is down.
                    marked = true;
                    handle
                        .update(|r| {
                            if let Some(s) = step_mut(r, env, app, idx) {
                                start_attempt(s);
                            }
                            ((), vec![])
                        })
                        .await?;
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(inner.settings.sync_interval) => {}
            () = provider_update(&mut updates) => {}
            () = cancel.cancelled() => {
                // Not synced and healthy within the flow timeout: FAILED
                // with the last known state (a user's terminate stays a
                // termination).
                let timed_out = matches!(
                    handle.get().await.termination.as_ref().map(|t| t.reason),
                    Some(TerminationReason::Timeout)
                );
                handle.update(|r| {
                    if let Some(s) = step_mut(r, env, app, idx) {
                        s.status = if timed_out { StepStatus::Failed } else { StepStatus::Terminated };
                        s.finished_at = Some(now());
                    }
                    if timed_out {
                        let seen = last.as_ref().map_or_else(|| "no state was read".to_owned(), last_seen);
                        let mut i = app_issue(
                            IssueKind::Timeout,
                            app,
                            format!(
                                "{app} was not synced at {} and healthy before the flow timeout; last seen: {seen}",
                                commit.as_deref().unwrap_or("its target revision")
                            ),
                        );
                        i.link = last.as_ref().and_then(|s| s.link.clone());
                        i.details = last.as_ref().and_then(state_details);
                        push_issue(r, env, i);
                    }
                    ((), vec![])
                }).await?;
                return Ok(if timed_out { Outcome::Failed } else { Outcome::Terminated });
            }
        }
    }
}

/// Resolves when the provider pushes news about the application; never
/// when it has no push source (or it went away).
async fn provider_update(updates: &mut Option<tokio::sync::watch::Receiver<u64>>) {
    if let Some(rx) = updates.as_mut()
        && rx.changed().await.is_ok()
    {
        return;
    }
    std::future::pending::<()>().await
}

/// `OutOfSync at 1a2b3c4d5e6f, Progressing: waiting for rollout`
fn last_seen(state: &ferry_appstate::AppState) -> String {
    let mut out = state.sync.as_str().to_owned();
    if let Some(r) = &state.revision {
        out.push_str(&format!(" at {}", &r[..r.len().min(12)]));
    }
    out.push_str(&format!(", {}", state.health.as_str()));
    if let Some(m) = &state.message {
        out.push_str(&format!(": {m}"));
    }
    out
}

/// The provider's message and the resources that are not healthy, for an
/// issue's details.
fn state_details(state: &ferry_appstate::AppState) -> Option<String> {
    let mut lines: Vec<String> = state.message.iter().cloned().collect();
    if !state.unhealthy.is_empty() {
        lines.push("unhealthy resources:".into());
        lines.extend(state.unhealthy.iter().map(|r| format!("  {r}")));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}
