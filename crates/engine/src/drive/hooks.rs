//! Release and environment hooks (SPEC §4.6): one workflow each, recorded
//! as a hook step; a hook that already succeeded is not run again.

use std::sync::Arc;

use ferry_release::{Release, StepPhase, StepRun, StepStatus};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::record::failure_facts;
use super::workflow::{WorkflowResult, run_workflow, running_run};
use crate::handle::ReleaseHandle;
use crate::params::hook_params;
use crate::trace::step_span;
use crate::{Error, Inner};

/// An environment's `onFail` hook, with the failure's arguments.
pub(super) async fn on_fail_hook(
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
        &handle.stop_token().child_token(),
    )
    .await
}

/// Runs a hook (release-level when `env` is `None`); true when it passed.
/// A hook that already succeeded (before a restart) is not run again.
pub(super) async fn run_hook(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: Option<&str>,
    which: &str,
    workflow: &str,
    failure: Option<(&str, &str)>,
    cancel: &CancellationToken,
) -> Result<bool, Error> {
    let name = format!("{which}: {workflow}");
    // A hook is a step of its own: one trace per run (SPEC §10).
    let span = step_span(&handle.id, env, "", StepPhase::Hook, &name);
    run_hook_in_span(inner, handle, env, name, workflow, failure, cancel)
        .instrument(span)
        .await
}

async fn run_hook_in_span(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: Option<&str>,
    name: String,
    workflow: &str,
    failure: Option<(&str, &str)>,
    cancel: &CancellationToken,
) -> Result<bool, Error> {
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
