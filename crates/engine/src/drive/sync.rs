//! The sync wait (SPEC §4.2 c): until the application is synced at the
//! promotion commit and healthy, woken by the state provider's updates,
//! failing on Degraded or at the flow timeout with the last state seen.

use std::sync::Arc;

use ferry_appstate::{AppRef, Health};
use ferry_release::{
    EnvironmentStatus, IssueKind, Release, StepRun, StepStatus, TerminationReason, now,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::record::{
    Outcome, app_issue, app_mut, app_of, issue, push_issue, set_app_status, step_mut,
};
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

/// A step's next attempt begins now, in the trace `trace`.
fn start_attempt(s: &mut StepRun, trace: &Option<String>) {
    s.status = StepStatus::Running;
    s.started_at = Some(now());
    s.attempts += 1;
    s.trace_id = trace.clone();
}

/// Waits until the application is synced at the promotion commit and healthy (SPEC §4.2 c).
pub(super) async fn run_sync(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    ends_app: bool,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    // The wait in the step's trace: how long Argo CD (or the branch) took.
    let span = tracing::info_span!(
        target: crate::trace::TARGET,
        "sync.wait",
        provider = inner.appstate.name(),
        application = %app,
    );
    wait_synced(inner, handle, env, app, idx, ends_app, cancel)
        .instrument(span)
        .await
}

async fn wait_synced(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    ends_app: bool,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let trace = crate::trace::current();
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
                        a.observed_at = Some(now());
                    }
                    if let Some(s) = step_mut(r, env, app, idx) {
                        if first {
                            start_attempt(s, &trace);
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
                                start_attempt(s, &trace);
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
