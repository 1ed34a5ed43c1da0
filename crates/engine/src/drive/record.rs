//! Reading and editing the release record, shared by every part of the
//! drive: how a step ended, issue constructors, and the lookups and status
//! changes of an environment's applications and steps. A leaf: it calls no
//! other part of the drive.

use ferry_release::{EnvironmentStatus, Issue, IssueKind, Release, StepRun, now};

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
