//! Reading and editing the release record, shared by every part of the
//! drive: how a step ended, issue constructors, and the lookups and status
//! changes of an environment's applications and steps. A leaf: it calls no
//! other part of the drive.

use ferry_release::{EnvironmentStatus, Issue, IssueKind, Release, StepRun, StepStatus, now};

use crate::Error;
use crate::handle::ReleaseHandle;
use crate::params::failed_environments;

/// How a step ended, for the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Passed,
    Failed,
    Terminated,
}

pub(super) fn issue(kind: IssueKind, message: impl Into<String>) -> Issue {
    Issue {
        kind,
        message: message.into(),
        application: None,
        step: None,
        details: None,
        manifest: None,
        link: None,
        at: now(),
        // Set to the release's attempt when the change is applied.
        attempt: 0,
    }
}

/// An issue about one application.
pub(super) fn app_issue(kind: IssueKind, app: &str, message: impl Into<String>) -> Issue {
    Issue {
        application: Some(app.to_owned()),
        ..issue(kind, message)
    }
}

/// Records an issue on an environment of the release.
pub(super) fn push_issue(r: &mut Release, env: &str, issue: Issue) {
    if let Some(e) = r.environment_mut(env) {
        e.issues.push(issue);
    }
}

pub(super) fn failure_facts(r: &Release) -> (String, String) {
    let message = r
        .environments
        .iter()
        .flat_map(|e| {
            // This attempt's: an earlier attempt's issue is history.
            e.issues
                .iter()
                .filter(|i| !i.is_earlier(r.attempt))
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

/// Sets an application's status and re-derives its environment's.
pub(super) fn set_app_status(r: &mut Release, env: &str, app: &str, status: EnvironmentStatus) {
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
pub(super) fn app_of<'r>(
    r: &'r Release,
    env: &str,
    app: &str,
) -> Option<&'r ferry_release::ApplicationRun> {
    r.environment(env)?
        .applications
        .iter()
        .find(|a| a.name == app)
}

pub(super) fn app_mut<'r>(
    r: &'r mut Release,
    env: &str,
    app: &str,
) -> Option<&'r mut ferry_release::ApplicationRun> {
    r.environment_mut(env)?
        .applications
        .iter_mut()
        .find(|a| a.name == app)
}

pub(super) fn step_mut<'r>(
    r: &'r mut Release,
    env: &str,
    app: &str,
    idx: usize,
) -> Option<&'r mut StepRun> {
    app_mut(r, env, app)?.steps.get_mut(idx)
}

/// Whether `e` only stops this driver — the process stops, its lease was
/// lost, a save could not be made: the release stays as stored and is
/// resumed. Any other error is a failure of the release, recorded on it
/// ([`fail_application`], [`fail_environment`], [`fail_release`]).
pub(super) fn stops_driver(handle: &ReleaseHandle, e: &Error) -> bool {
    matches!(e, Error::ShuttingDown | Error::Unavailable(_)) || handle.stop_token().is_cancelled()
}

/// The steps (or hooks) still running when an error stopped what ran them
/// end FAILED with `why`: nothing follows them any more (SPEC §12). Steps
/// that never started are left for the release's end to settle.
fn stop_running(steps: &mut [StepRun], why: &str) {
    for s in steps {
        if !s.status.is_final() && s.status != StepStatus::Pending {
            s.status = StepStatus::Failed;
            s.message = Some(why.to_owned());
            s.finished_at = Some(now());
        }
    }
}

/// An application that an error (not a storage fault) stopped: FAILED,
/// with what was running, and an `internal` issue saying why.
pub(super) fn fail_application(r: &mut Release, env: &str, app: &str, why: &str) {
    if let Some(a) = app_mut(r, env, app) {
        stop_running(&mut a.steps, why);
    }
    push_issue(r, env, app_issue(IssueKind::Internal, app, why));
    set_app_status(r, env, app, EnvironmentStatus::Failed);
}

/// An environment that an error stopped: FAILED and finished, with its
/// running applications, steps and hooks, and an `internal` issue.
pub(super) fn fail_environment(r: &mut Release, env: &str, why: &str) {
    let Some(e) = r.environment_mut(env) else {
        return;
    };
    stop_running(&mut e.hooks, why);
    for a in &mut e.applications {
        if matches!(
            a.status,
            EnvironmentStatus::Running | EnvironmentStatus::Suspended
        ) {
            stop_running(&mut a.steps, why);
            a.status = EnvironmentStatus::Failed;
        }
    }
    e.issues.push(issue(IssueKind::Internal, why));
    e.status = EnvironmentStatus::Failed;
    e.finished_at = Some(now());
}

/// A release whose driver met an error outside any environment (a release
/// hook, its end): what still runs fails, the error is an issue of the
/// trigger environment, and the caller stores it finished.
pub(super) fn fail_release(r: &mut Release, why: &str) {
    stop_running(&mut r.hooks, why);
    let running: Vec<String> = r
        .environments
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EnvironmentStatus::Running | EnvironmentStatus::Suspended
            )
        })
        .map(|e| e.name.clone())
        .collect();
    for env in &running {
        fail_environment(r, env, why);
    }
    if running.is_empty()
        && let Some(e) = r.environments.iter_mut().find(|e| e.trigger)
    {
        e.issues.push(issue(IssueKind::Internal, why));
    }
}
