//! One environment of a release: its `onStart` hook, its applications in
//! parallel, then the aggregate status and its `onSuccess`/`onFail` hook.

use std::collections::HashMap;
use std::sync::Arc;

use ferry_release::{EnvironmentStatus, EventKind, IssueKind, NewEvent, Release, now};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::application::run_application;
use super::approval::wait_for_approval;
use super::hooks::{on_fail_hook, run_hook};
use super::record::{Outcome, fail_application, issue, stops_driver};
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

pub(super) async fn run_environment(
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
    let hooks = step.as_ref().map(|s| s.hooks.clone()).unwrap_or_default();
    // An approval gate (issue 20) holds the environment before anything
    // of it runs; approved, it may still wait for its window.
    match wait_for_approval(inner, handle, env, cancel).await? {
        Outcome::Passed => {}
        Outcome::Failed | Outcome::Terminated => {
            return end_environment(inner, handle, env, &hooks, None).await;
        }
    }
    // Then a soak time (`minInterval`), then a closed window or a freeze,
    // hold it before anything runs (issue 20); the trigger environment is
    // not written to.
    if !e.trigger && !super::soak::wait(inner, handle, env, cancel).await? {
        return Ok(());
    }
    let opened = if e.trigger {
        None
    } else {
        super::gate::wait_open(inner, handle, env, cancel).await?
    };
    let has_on_start = step.as_ref().is_some_and(|s| s.hooks.on_start.is_some());
    let start = |r: &mut Release| {
        if let Some(e) = r.environment_mut(env) {
            e.status = EnvironmentStatus::Running;
            e.hold = None;
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
    if let Some(why) = opened {
        // Stored now, with why it may go: the hold it leaves is visible
        // until then.
        handle
            .update(|r| {
                start(r);
                (
                    (),
                    vec![
                        NewEvent::new(EventKind::Environment, "RUNNING")
                            .environment(env)
                            .message(why),
                    ],
                )
            })
            .await?;
    } else if has_on_start || e.applications.is_empty() {
        handle.update(start).await?;
    } else {
        // Stored by the first step's own save, before that step acts.
        handle.defer(start).await;
    }
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
    let mut names = HashMap::new();
    for app in &e.applications {
        let (inner, handle, cancel, env, name) = (
            Arc::clone(inner),
            Arc::clone(handle),
            cancel.clone(),
            env.to_owned(),
            app.name.clone(),
        );
        let task =
            apps.spawn(async move { run_application(&inner, &handle, &env, &name, &cancel).await });
        names.insert(task.id(), app.name.clone());
    }
    while let Some(done) = apps.join_next_with_id().await {
        let (id, error) = match done {
            Ok((_, Ok(()))) => continue,
            Ok((id, Err(e))) if !stops_driver(handle, &e) => (id, e.to_string()),
            Ok((_, Err(e))) => return Err(e),
            Err(e) => (e.id(), format!("application task: {e}")),
        };
        // An error that is not a storage fault (Git, a pull request wait,
        // a bug) fails this application like any failure, recorded; the
        // others run on and the environment ends as usual.
        let app = names.get(&id).cloned().unwrap_or_default();
        tracing::error!(release = %handle.id, environment = %env, application = %app, error = %error, "application failed on an error");
        let why = format!("ferry could not go on: {error}");
        handle
            .update(|r| {
                fail_application(r, env, &app, &why);
                ((), vec![])
            })
            .await?;
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
    if r.termination.is_some() || handle.stop_token().is_cancelled() {
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
                &handle.stop_token().child_token(),
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
