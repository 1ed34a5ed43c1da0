//! Workflows in a release: a pre- or post-action step (its arguments, the
//! pre-action's outputs), and following any run — started here, or attached
//! to after a restart — into the release's step record, with the failing
//! step's log and the rendered manifest when it fails. A newer run of the
//! same workflow in the same environment replaces an older one.

use std::sync::Arc;

use ferry_release::{
    EnvironmentStatus, Issue, IssueKind, Release, StepPhase, StepRun, StepStatus, WorkflowNode, now,
};
use ferry_workflow::{NodeKind, RunId, WorkflowTemplate};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::record::{Outcome, app_mut, app_of, issue, set_app_status, step_mut};
use crate::handle::ReleaseHandle;
use crate::params::{CommitFacts, action_params};
use crate::{Error, Inner, blocking};

/// Runs one workflow to its end, mirroring its steps into the release.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_workflow_step(
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

pub(super) enum WorkflowResult {
    Succeeded(std::collections::BTreeMap<String, String>),
    Failed(Issue),
    Terminated,
}

/// The run a step was following when its driver stopped (a restart, a
/// lost lease): the step is still RUNNING with the run's id.
pub(super) fn running_run(step: Option<&StepRun>) -> Option<RunId> {
    step.filter(|s| s.status.is_active())
        .and_then(|s| s.run_id.clone())
        .map(RunId)
}

/// Starts `workflow` (or follows the run it started before), follows it to
/// the end and records it through `step`.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run_workflow(
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
    // The run in the step's trace, from its start to its end.
    let span = tracing::info_span!(
        target: crate::trace::TARGET,
        "workflow.run",
        workflow = %workflow,
        executor = inner.runner.executor(),
        run = tracing::field::Empty,
    );
    follow_workflow(
        inner,
        handle,
        workflow,
        params,
        replace_key,
        previous,
        cancel,
        step,
        suspended,
    )
    .instrument(span)
    .await
}

#[allow(clippy::too_many_arguments)]
async fn follow_workflow(
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
    let trace = crate::trace::current();
    let span = tracing::Span::current();
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
                span.record("run", run.0.as_str());
                tracing::info!(release = %handle.id, run = %run.0, "following the workflow run started before");
                Some(run)
            }
            Err(_) => None,
        },
        None => None,
    };
    // The runner failing (it cannot start the run, follow it or say how it
    // ended) fails the step with the runner's error, recorded like any
    // other failure: the step never stays RUNNING in a release that goes
    // on or ends (SPEC §12).
    let runner_failed = |e: ferry_workflow::RunnerError| {
        let (status, kind) = match e {
            ferry_workflow::RunnerError::Template(_) => (StepStatus::Error, IssueKind::Workflow),
            _ => (StepStatus::Failed, IssueKind::Internal),
        };
        let message = format!("workflow `{workflow}` could not be run: {e}");
        let step = &step;
        async move {
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
            Ok(WorkflowResult::Failed(issue(kind, message)))
        }
    };
    let run = match attached {
        Some(run) => run,
        None => {
            let run = match inner.runner.start(&template, params).await {
                Ok(run) => run,
                Err(e) => return runner_failed(e).await,
            };
            span.record("run", run.0.as_str());
            handle
                .update(|r| {
                    step(r, &|s: &mut StepRun| {
                        s.status = StepStatus::Running;
                        s.run_id = Some(run.0.clone());
                        s.started_at = Some(now());
                        s.finished_at = None;
                        s.attempts += 1;
                        s.nodes.clear();
                        s.trace_id = trace.clone();
                    });
                    ((), vec![])
                })
                .await?;
            run
        }
    };
    let mut updates = match inner.runner.subscribe(&run).await {
        Ok(updates) => updates,
        Err(e) => {
            // Not followed, so not left running either.
            let _ = inner.runner.terminate(&run).await;
            return runner_failed(e).await;
        }
    };
    let mut was_suspended = false;
    let terminated = loop {
        tokio::select! {
            next = updates.next() => {
                let Some(u) = next else { break false };
                if !matches!(u.kind, NodeKind::Pod | NodeKind::Suspend) {
                    if u.suspended != was_suspended {
                        was_suspended = u.suspended;
                        let now_suspended = was_suspended;
                        handle.update(|r| {
                            suspended(r, now_suspended);
                            step(r, &|s: &mut StepRun| waiting(s, now_suspended));
                            ((), vec![])
                        }).await?;
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
                        step(r, &|s: &mut StepRun| waiting(s, any_suspended));
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
    let outcome = inner.runner.wait(&run).await;
    if let Some(key) = &replace_key {
        let mut map = inner.workflows.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(key).is_some_and(|(id, _)| id == &handle.id) {
            map.remove(key);
        }
    }
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            let _ = inner.runner.terminate(&run).await;
            return runner_failed(e).await;
        }
    };
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

/// A running workflow step waits (SUSPENDED, like its application) while
/// the workflow is suspended, and runs again once resumed.
fn waiting(s: &mut StepRun, suspended: bool) {
    if s.status.is_active() {
        s.status = if suspended {
            StepStatus::Suspended
        } else {
            StepStatus::Running
        };
    }
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
