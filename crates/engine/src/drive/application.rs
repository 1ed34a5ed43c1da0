//! One application in one environment: its steps in order (pre-action →
//! action → sync wait → post-action), skipping those that already
//! succeeded, until one does not pass.

use std::sync::Arc;

use ferry_release::{EnvironmentStatus, StepPhase, StepStatus};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::action::run_action;
use super::record::{Outcome, app_of, set_app_status};
use super::sync::run_sync;
use super::workflow::run_workflow_step;
use crate::handle::ReleaseHandle;
use crate::trace::step_span;
use crate::{Error, Inner};

pub(super) async fn run_application(
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
        // One trace per attempt of a step (SPEC §10).
        let span = step_span(&handle.id, Some(env), app, step.phase, &step.name);
        outcome = async {
            Ok::<_, Error>(match step.phase {
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
            })
        }
        .instrument(span)
        .await?;
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
