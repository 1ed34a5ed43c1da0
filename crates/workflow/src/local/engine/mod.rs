//! Walks a WorkflowTemplate: `steps` groups in order with their items in
//! parallel, DAG tasks as soon as their `depends` can be decided, leaves as child
//! processes with retries and deadlines, `suspend` until a resume. Every node
//! publishes RUNNING when it starts and its final status when it ends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::process::{self, CappedBuf, Exit, Spawn};
use super::validate::{split_depends_atom, task_deps, validate, workflow_parameters};
use super::{LocalConfig, LocalRun, Stop, lock};
use crate::duration::parse_duration;
use crate::expr::{self, Expr};
use crate::runner::Parameters;
use crate::status::{NodeKind, NodePhase, RunOutcome, RunOutputs, StepStatus, StepUpdate};
use crate::subst::substitute;
use crate::template::{Arguments, ContinueOn, DagTask, Template, WorkflowStep, WorkflowTemplate};
use crate::timestamp::Timestamp;

mod call;
mod dag;
mod leaf;
mod steps;
mod suspend;

use call::{Call, Launch, launch};
use dag::run_dag;
use leaf::run_leaf;
use steps::run_steps;
use suspend::run_suspend;

type Scope = HashMap<String, String>;
type BoxFuture = Pin<Box<dyn Future<Output = NodeResult> + Send>>;

/// Everything the nodes of one run share.
struct Ctx {
    run: Arc<LocalRun>,
    wt: Arc<WorkflowTemplate>,
    config: Arc<LocalConfig>,
    dir: PathBuf,
    workflow_vars: Scope,
    /// Output parameters exported with `globalName` so far.
    globals: Mutex<BTreeMap<String, String>>,
    /// `{{workflow.status}}`, set once the entrypoint finished (for `onExit`).
    workflow_status: Mutex<Option<&'static str>>,
    step_seq: AtomicU64,
}

/// How a node ended.
#[derive(Debug, Clone)]
struct NodeResult {
    status: StepStatus,
    phase: NodePhase,
    message: Option<String>,
    outputs: BTreeMap<String, String>,
    result: Option<String>,
    exit_code: Option<i32>,
}

impl NodeResult {
    fn new(status: StepStatus, phase: NodePhase, message: Option<String>) -> Self {
        NodeResult {
            status,
            phase,
            message,
            outputs: BTreeMap::new(),
            result: None,
            exit_code: None,
        }
    }
    fn success() -> Self {
        Self::new(StepStatus::Success, NodePhase::Succeeded, None)
    }
    fn error(message: String) -> Self {
        Self::new(StepStatus::Error, NodePhase::Error, Some(message))
    }
    fn failed(message: String) -> Self {
        Self::new(StepStatus::Failed, NodePhase::Failed, Some(message))
    }
    fn stopped(stop: Stop) -> Self {
        match stop {
            Stop::Deadline => Self::failed("workflow exceeded spec.activeDeadlineSeconds".into()),
            _ => Self::new(
                StepStatus::Terminated,
                NodePhase::Failed,
                Some("terminated".into()),
            ),
        }
    }
    fn is_bad(&self) -> bool {
        matches!(
            self.status,
            StepStatus::Failed | StepStatus::Error | StepStatus::Terminated
        )
    }
}

/// Identity of a node while it runs.
struct Node {
    path: String,
    name: String,
    template: String,
    kind: NodeKind,
    started: Timestamp,
}

impl Ctx {
    fn stop(&self) -> Stop {
        *self.run.stop_tx.borrow()
    }

    fn lookup(&self, scope: &Scope, key: &str) -> Option<String> {
        if let Some(v) = scope.get(key).or_else(|| self.workflow_vars.get(key)) {
            return Some(v.clone());
        }
        if key == "workflow.status" {
            return lock(&self.workflow_status).map(String::from);
        }
        let g = key.strip_prefix("workflow.outputs.parameters.")?;
        lock(&self.globals).get(g).cloned()
    }

    fn subst(&self, scope: &Scope, at: &str, text: &str) -> Result<String, String> {
        substitute(text, &|k| self.lookup(scope, k)).map_err(|e| format!("{at}: {e}"))
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        n: &Node,
        status: StepStatus,
        phase: NodePhase,
        message: Option<String>,
        exit_code: Option<i32>,
        attempt: u32,
        suspended: bool,
    ) {
        self.run.record.publish(StepUpdate {
            path: n.path.clone(),
            name: n.name.clone(),
            template: n.template.clone(),
            kind: n.kind,
            phase,
            status,
            suspended,
            started_at: Some(n.started),
            finished_at: status.is_final().then(Timestamp::now),
            message,
            exit_code,
            attempt,
        });
    }

    fn emit_result(&self, n: &Node, r: &NodeResult, attempt: u32) {
        self.emit(
            n,
            r.status,
            r.phase,
            r.message.clone(),
            r.exit_code,
            attempt,
            false,
        );
    }
}

/// Runs a whole workflow and publishes its outcome. Owns the run directory,
/// which is removed when the run ends.
pub(crate) async fn drive(
    run: Arc<LocalRun>,
    wt: Arc<WorkflowTemplate>,
    params: Parameters,
    config: Arc<LocalConfig>,
    dir: TempDir,
) {
    let id = run.record.id.clone();
    let started = run
        .record
        .outcome()
        .started_at
        .unwrap_or_else(Timestamp::now);
    let entry = wt.spec.entrypoint.clone().unwrap_or_default();
    let mut problems = validate(&wt);
    let values = workflow_parameters(&wt, &params).unwrap_or_else(|e| {
        problems.extend(e);
        BTreeMap::new()
    });
    let mut workflow_vars: Scope = values
        .into_iter()
        .map(|(k, v)| (format!("workflow.parameters.{k}"), v))
        .collect();
    workflow_vars.insert("workflow.name".into(), id.0.clone());
    workflow_vars.insert("workflow.uid".into(), id.0.clone());
    workflow_vars.insert("workflow.namespace".into(), "local".into());
    workflow_vars.insert("workflow.creationTimestamp".into(), started.to_string());
    let ctx = Arc::new(Ctx {
        run: run.clone(),
        wt: wt.clone(),
        config,
        dir: dir.path().to_path_buf(),
        workflow_vars,
        globals: Mutex::new(BTreeMap::new()),
        workflow_status: Mutex::new(None),
        step_seq: AtomicU64::new(0),
    });

    let result = if problems.is_empty() {
        let deadline = match wt
            .spec
            .active_deadline_seconds
            .as_ref()
            .map(|d| d.0.trim().parse::<u64>())
        {
            Some(Ok(secs)) => {
                let run = run.clone();
                Some(tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(secs)).await;
                    run.stop_tx.send_if_modified(|s| {
                        let fire = *s == Stop::None;
                        if fire {
                            *s = Stop::Deadline;
                        }
                        fire
                    });
                }))
            }
            _ => None,
        };
        let r = run_template(
            ctx.clone(),
            entry.clone(),
            BTreeMap::new(),
            id.0.clone(),
            id.0.clone(),
        )
        .await;
        let r = match wt.spec.on_exit.clone() {
            Some(exit) if ctx.stop() != Stop::Terminated => run_exit_handler(&ctx, exit, r).await,
            _ => r,
        };
        if let Some(d) = deadline {
            d.abort();
        }
        r
    } else {
        // The workflow itself is invalid: one ERROR node says everything wrong.
        let r = NodeResult::error(problems.join("; "));
        let node = Node {
            path: id.0.clone(),
            name: id.0.clone(),
            template: entry,
            kind: NodeKind::Other,
            started,
        };
        ctx.emit_result(&node, &r, 1);
        r
    };
    let outputs = RunOutputs {
        global: lock(&ctx.globals).clone(),
        entrypoint: result.outputs.clone(),
    };
    run.record.finish(RunOutcome {
        status: result.status,
        suspended: false,
        phase: Some(result.phase),
        message: result.message,
        started_at: Some(started),
        finished_at: Some(Timestamp::now()),
        outputs,
    });
    drop(ctx);
    // Removing the directory touches the disk; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
}

/// Runs `spec.onExit` after the entrypoint, whatever its outcome (unless the
/// run was terminated), with `{{workflow.status}}` set. A failing exit handler
/// fails a run that had succeeded, as on Argo.
async fn run_exit_handler(ctx: &Arc<Ctx>, exit: String, main: NodeResult) -> NodeResult {
    // A workflow deadline stopped the entrypoint; the exit handler still runs,
    // it is typically the notification that says so.
    ctx.run.stop_tx.send_if_modified(|s| {
        let reset = *s == Stop::Deadline;
        if reset {
            *s = Stop::None;
        }
        reset
    });
    *lock(&ctx.workflow_status) = Some(match main.status {
        StepStatus::Success => "Succeeded",
        StepStatus::Error => "Error",
        _ => "Failed",
    });
    let path = format!("{}.onExit", ctx.run.record.id.0);
    let er = run_template(ctx.clone(), exit, BTreeMap::new(), path, "onExit".into()).await;
    if main.status == StepStatus::Success && er.is_bad() {
        let msg = format!(
            "exit handler {}{}",
            er.status,
            er.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        );
        return NodeResult {
            outputs: main.outputs,
            ..NodeResult::new(er.status, er.phase, Some(msg))
        };
    }
    main
}

/// Runs template `name` as node `path`, with `args` as its input parameters.
fn run_template(
    ctx: Arc<Ctx>,
    name: String,
    args: BTreeMap<String, String>,
    path: String,
    display: String,
) -> BoxFuture {
    Box::pin(async move {
        let wt = ctx.wt.clone();
        let Some((ti, tmpl)) = wt.template(&name) else {
            return NodeResult::error(format!("no template named {name:?}"));
        };
        let stop = ctx.stop();
        if stop != Stop::None {
            return NodeResult::stopped(stop);
        }
        let kind = if tmpl.steps.is_some() {
            NodeKind::Steps
        } else if tmpl.dag.is_some() {
            NodeKind::Dag
        } else if tmpl.suspend.is_some() {
            NodeKind::Suspend
        } else {
            NodeKind::Pod
        };
        let node = Node {
            path,
            name: display,
            template: name,
            kind,
            started: Timestamp::now(),
        };
        ctx.emit(
            &node,
            StepStatus::Running,
            NodePhase::Running,
            None,
            None,
            1,
            false,
        );
        let mut attempt = 1;
        let res = match resolve_inputs(&ctx, ti, tmpl, &args) {
            Err(msg) => NodeResult::error(msg),
            Ok(scope) => {
                if let Some(groups) = &tmpl.steps {
                    run_steps(&ctx, ti, tmpl, groups, scope, &node).await
                } else if let Some(dag) = &tmpl.dag {
                    run_dag(&ctx, ti, tmpl, dag, scope, &node).await
                } else if tmpl.suspend.is_some() {
                    run_suspend(&ctx, ti, tmpl, scope, &node).await
                } else {
                    let (r, a) = run_leaf(&ctx, ti, tmpl, scope, &node).await;
                    attempt = a;
                    r
                }
            }
        };
        if res.status == StepStatus::Success {
            for p in &tmpl.outputs.parameters {
                if let (Some(g), Some(v)) = (&p.global_name, res.outputs.get(&p.name)) {
                    lock(&ctx.globals).insert(g.clone(), v.clone());
                }
            }
        }
        ctx.emit_result(&node, &res, attempt);
        res
    })
}

/// Input parameters of a template invocation: passed argument, else `value`,
/// else `default`; none of them is an ERROR naming the parameter.
fn resolve_inputs(
    ctx: &Ctx,
    ti: usize,
    tmpl: &Template,
    args: &BTreeMap<String, String>,
) -> Result<Scope, String> {
    let mut scope = Scope::new();
    let empty = Scope::new();
    for (pi, p) in tmpl.inputs.parameters.iter().enumerate() {
        let at = format!("spec.templates[{ti}].inputs.parameters[{pi}] ({})", p.name);
        let v = match args.get(&p.name) {
            Some(v) => v.clone(),
            None => match p.value.as_ref().or(p.default.as_ref()) {
                Some(v) => ctx.subst(&empty, &at, &v.0)?,
                None => return Err(format!("{at}: required input parameter was not passed")),
            },
        };
        if let Some(allowed) = &p.allowed
            && !allowed.iter().any(|a| a.0 == v)
        {
            return Err(format!(
                "{at}: value {v:?} is not one of the allowed values"
            ));
        }
        scope.insert(format!("inputs.parameters.{}", p.name), v);
    }
    Ok(scope)
}

/// Substitutes a step's or task's argument values.
fn resolve_args(
    ctx: &Ctx,
    scope: &Scope,
    at: &str,
    args: &Arguments,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (i, p) in args.parameters.iter().enumerate() {
        let pat = format!("{at}.arguments.parameters[{i}]");
        let Some(v) = p.value.as_ref().or(p.default.as_ref()) else {
            return Err(format!("{pat} ({}): no value", p.name));
        };
        out.insert(p.name.clone(), ctx.subst(scope, &pat, &v.0)?);
    }
    Ok(out)
}

/// Evaluates a `when` after substitution; `Ok(false)` skips the node.
fn check_when(ctx: &Ctx, scope: &Scope, at: &str, when: Option<&str>) -> Result<bool, String> {
    match when {
        None => Ok(true),
        Some(w) => {
            let text = ctx.subst(scope, &format!("{at}.when"), w)?;
            expr::eval_when(&text).map_err(|e| format!("{at}.when: {text:?}: {e}"))
        }
    }
}

/// Publishes a child node that never ran (skipped, omitted, or invalid) and
/// returns its result.
fn settle_child(
    ctx: &Ctx,
    path: String,
    name: &str,
    template: Option<&str>,
    r: NodeResult,
) -> NodeResult {
    let kind = if r.status == StepStatus::Skipped {
        NodeKind::Skipped
    } else {
        NodeKind::Other
    };
    let node = Node {
        path,
        name: name.to_string(),
        template: template.unwrap_or_default().to_string(),
        kind,
        started: Timestamp::now(),
    };
    ctx.emit_result(&node, &r, 1);
    r
}

/// Makes a finished child's outputs visible as `{{prefix.NAME.…}}`.
fn record_child(scope: &mut Scope, prefix: &str, name: &str, r: &NodeResult) {
    for (k, v) in &r.outputs {
        scope.insert(format!("{prefix}.{name}.outputs.parameters.{k}"), v.clone());
    }
    if let Some(res) = &r.result {
        scope.insert(format!("{prefix}.{name}.outputs.result"), res.clone());
    }
    if let Some(c) = r.exit_code {
        scope.insert(format!("{prefix}.{name}.exitCode"), c.to_string());
    }
    scope.insert(
        format!("{prefix}.{name}.status"),
        r.phase.as_str().to_string(),
    );
}

/// The worst of several child results, for the parent: TERMINATED, then ERROR, then FAILED.
fn worst<'a>(results: impl Iterator<Item = (&'a str, &'a NodeResult)>) -> Option<NodeResult> {
    let rank = |s: StepStatus| match s {
        StepStatus::Terminated => 3,
        StepStatus::Error => 2,
        StepStatus::Failed => 1,
        _ => 0,
    };
    let (name, r) = results
        .filter(|(_, r)| r.is_bad())
        .max_by_key(|(_, r)| rank(r.status))?;
    let msg = format!(
        "child {name:?} {}{}",
        r.status,
        r.message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    Some(NodeResult::new(r.status, r.phase, Some(msg)))
}

/// Output parameters of a steps/dag template, lifted from its children.
fn lifted_outputs(
    ctx: &Ctx,
    ti: usize,
    tmpl: &Template,
    scope: &Scope,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (oi, p) in tmpl.outputs.parameters.iter().enumerate() {
        let at = format!("spec.templates[{ti}].outputs.parameters[{oi}]");
        let src = p
            .value_from
            .as_ref()
            .and_then(|v| v.parameter.as_ref())
            .map(|s| (format!("{at}.valueFrom.parameter"), s.as_str()));
        let src = src.or_else(|| {
            p.value
                .as_ref()
                .map(|v| (format!("{at}.value"), v.0.as_str()))
        });
        let Some((field, text)) = src else { continue };
        let v = match ctx.subst(scope, &field, text) {
            Ok(v) => v,
            Err(e) => match p.value_from.as_ref().and_then(|v| v.default.as_ref()) {
                Some(d) => d.0.clone(),
                None => return Err(e),
            },
        };
        out.insert(p.name.clone(), v);
    }
    Ok(out)
}

/// True when `continueOn` lets the parent go on despite this result.
fn tolerated(c: Option<&ContinueOn>, r: &NodeResult) -> bool {
    c.is_some_and(|c| {
        (c.failed && r.status == StepStatus::Failed) || (c.error && r.status == StepStatus::Error)
    })
}

fn finish_with_outputs(ctx: &Ctx, ti: usize, tmpl: &Template, scope: &Scope) -> NodeResult {
    match lifted_outputs(ctx, ti, tmpl, scope) {
        Ok(outputs) => NodeResult {
            outputs,
            ..NodeResult::success()
        },
        Err(e) => NodeResult::error(e),
    }
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

fn template_deadline(
    ctx: &Ctx,
    ti: usize,
    tmpl: &Template,
    scope: &Scope,
) -> Result<Option<Duration>, String> {
    let Some(d) = &tmpl.active_deadline_seconds else {
        return Ok(None);
    };
    let at = format!("spec.templates[{ti}].activeDeadlineSeconds");
    let text = ctx.subst(scope, &at, &d.0)?;
    let secs: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{at}: {text:?} is not a whole number of seconds"))?;
    Ok(Some(Duration::from_secs(secs)))
}
