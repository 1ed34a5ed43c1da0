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

/// What steps and DAG tasks have in common: how to call a template.
struct Call<'a> {
    /// Field path of the step or task, for messages.
    at: String,
    path: String,
    name: &'a str,
    template: Option<&'a str>,
    arguments: &'a Arguments,
    when: Option<&'a str>,
    with_items: Option<&'a Vec<serde_json::Value>>,
    with_param: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn step(at: String, path: String, s: &'a WorkflowStep) -> Self {
        Call {
            at,
            path,
            name: &s.name,
            template: s.template.as_deref(),
            arguments: &s.arguments,
            when: s.when.as_deref(),
            with_items: s.with_items.as_ref(),
            with_param: s.with_param.as_deref(),
        }
    }

    fn task(at: String, path: String, t: &'a DagTask) -> Self {
        Call {
            at,
            path,
            name: &t.name,
            template: t.template.as_deref(),
            arguments: &t.arguments,
            when: t.when.as_deref(),
            with_items: t.with_items.as_ref(),
            with_param: t.with_param.as_deref(),
        }
    }
}

/// Text of a fan-out item as `{{item}}` sees it: scalars as themselves,
/// lists and maps as compact JSON.
fn item_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The items of `withItems`/`withParam`; `None` when the call has neither.
fn fan_out(ctx: &Ctx, scope: &Scope, c: &Call) -> Result<Option<Vec<serde_json::Value>>, String> {
    if let Some(items) = c.with_items {
        return Ok(Some(items.clone()));
    }
    let Some(param) = c.with_param else {
        return Ok(None);
    };
    let text = ctx.subst(scope, &format!("{}.withParam", c.at), param)?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => Ok(Some(items)),
        _ => Err(format!("{}.withParam: {text:?} is not a JSON list", c.at)),
    }
}

/// Either the call was settled without running (skipped, invalid — already
/// published), or here is the future that runs it.
enum Launch {
    Settled(NodeResult),
    Running(BoxFuture),
}

/// Evaluates `when` and the arguments of one invocation in `scope`.
fn launch_one(ctx: &Arc<Ctx>, scope: &Scope, c: &Call, path: String, display: String) -> Launch {
    let ready = check_when(ctx, scope, &c.at, c.when).and_then(|go| {
        if go {
            resolve_args(ctx, scope, &c.at, c.arguments).map(Some)
        } else {
            Ok(None)
        }
    });
    let settled = match ready {
        Err(e) => NodeResult::error(e),
        Ok(None) => NodeResult::new(
            StepStatus::Skipped,
            NodePhase::Skipped,
            Some("when condition was false".into()),
        ),
        Ok(Some(args)) => {
            let tname = c.template.unwrap_or_default().to_string();
            return Launch::Running(run_template(ctx.clone(), tname, args, path, display));
        }
    };
    Launch::Settled(settle_child(ctx, path, &display, c.template, settled))
}

/// Starts a step or task, fanned out over its items if it has any. A fanned
/// out call runs every item in parallel (`name(0:a)`, `name(1:b)` …) and
/// succeeds when all of them do.
fn launch(ctx: &Arc<Ctx>, scope: &Scope, c: &Call) -> Launch {
    let items = match fan_out(ctx, scope, c) {
        Err(e) => {
            let r = NodeResult::error(e);
            return Launch::Settled(settle_child(ctx, c.path.clone(), c.name, c.template, r));
        }
        Ok(None) => return launch_one(ctx, scope, c, c.path.clone(), c.name.to_string()),
        Ok(Some(items)) => items,
    };
    let mut settled: Vec<(String, NodeResult)> = Vec::new();
    let mut running: Vec<(String, BoxFuture)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut item_scope = scope.clone();
        item_scope.insert("item".into(), item_text(item));
        if let serde_json::Value::Object(fields) = item {
            for (k, v) in fields {
                item_scope.insert(format!("item.{k}"), item_text(v));
            }
        }
        let label = format!("({i}:{})", item_text(item));
        let display = format!("{}{label}", c.name);
        match launch_one(
            ctx,
            &item_scope,
            c,
            format!("{}{label}", c.path),
            display.clone(),
        ) {
            Launch::Settled(r) => settled.push((display, r)),
            Launch::Running(f) => running.push((display, f)),
        }
    }
    Launch::Running(Box::pin(async move {
        let mut set = JoinSet::new();
        for (display, f) in running {
            set.spawn(async move { (display, f.await) });
        }
        let mut results = settled;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => results.push(r),
                Err(e) => results.push((
                    String::new(),
                    NodeResult::error(format!("internal error: {e}")),
                )),
            }
        }
        if let Some(bad) = worst(results.iter().map(|(n, r)| (n.as_str(), r))) {
            return bad;
        }
        if !results.is_empty() && results.iter().all(|(_, r)| r.status == StepStatus::Skipped) {
            return NodeResult::new(StepStatus::Skipped, NodePhase::Skipped, None);
        }
        NodeResult::success()
    }))
}

/// True when `continueOn` lets the parent go on despite this result.
fn tolerated(c: Option<&ContinueOn>, r: &NodeResult) -> bool {
    c.is_some_and(|c| {
        (c.failed && r.status == StepStatus::Failed) || (c.error && r.status == StepStatus::Error)
    })
}

async fn run_steps(
    ctx: &Arc<Ctx>,
    ti: usize,
    tmpl: &Template,
    groups: &[Vec<WorkflowStep>],
    mut scope: Scope,
    node: &Node,
) -> NodeResult {
    for (gi, group) in groups.iter().enumerate() {
        let stop = ctx.stop();
        if stop != Stop::None {
            return NodeResult::stopped(stop);
        }
        let mut set: JoinSet<(usize, NodeResult)> = JoinSet::new();
        let mut results: Vec<Option<NodeResult>> = vec![None; group.len()];
        for (si, step) in group.iter().enumerate() {
            let at = format!("spec.templates[{ti}].steps[{gi}][{si}]");
            let path = format!("{}[{gi}].{}", node.path, step.name);
            match launch(ctx, &scope, &Call::step(at, path, step)) {
                Launch::Settled(r) => results[si] = Some(r),
                Launch::Running(f) => {
                    set.spawn(async move { (si, f.await) });
                }
            }
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((si, r)) => results[si] = Some(r),
                Err(e) => return NodeResult::error(format!("internal error running a step: {e}")),
            }
        }
        for (step, r) in group.iter().zip(&results) {
            if let Some(r) = r {
                record_child(&mut scope, "steps", &step.name, r);
            }
        }
        let named = group
            .iter()
            .zip(&results)
            .filter_map(|(s, r)| r.as_ref().map(|r| (s, r)))
            .filter(|(s, r)| !tolerated(s.continue_on.as_ref(), r))
            .map(|(s, r)| (s.name.as_str(), r));
        if let Some(bad) = worst(named) {
            return bad;
        }
    }
    finish_with_outputs(ctx, ti, tmpl, &scope)
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

/// Truth of one `depends` operand given the finished tasks' phases.
fn depends_truth(
    atom: &str,
    phases: &HashMap<String, NodePhase>,
    tasks: &[DagTask],
) -> Result<bool, String> {
    let (task, result) = split_depends_atom(atom);
    let phase = *phases
        .get(task)
        .ok_or_else(|| format!("task {task:?} has not finished"))?;
    let continue_on = tasks
        .iter()
        .find(|t| t.name == task)
        .and_then(|t| t.continue_on.as_ref());
    use NodePhase::*;
    Ok(match result {
        // A bare name means the task went well (Argo: Succeeded, Skipped or
        // Daemoned), or failed in a way its `continueOn` accepts.
        None => {
            matches!(phase, Succeeded | Skipped)
                || continue_on
                    .is_some_and(|c| (c.failed && phase == Failed) || (c.error && phase == Error))
        }
        Some("Succeeded") => phase == Succeeded,
        Some("Failed") => phase == Failed,
        Some("Errored") => phase == Error,
        Some("Skipped") => phase == Skipped,
        Some("Omitted") => phase == Omitted,
        Some("Completed") => matches!(phase, Succeeded | Failed),
        Some("Daemoned") => false,
        Some(other) => return Err(format!("unsupported task result .{other}")),
    })
}

/// The `depends` condition of a task: `dependencies` (each must go well) and
/// `depends` together.
fn task_condition(task: &crate::template::DagTask) -> Option<Expr> {
    let mut cond: Option<Expr> = task.depends.as_deref().and_then(|d| expr::parse(d).ok());
    for d in &task.dependencies {
        let atom = Expr::Atom {
            text: d.clone(),
            quoted: false,
        };
        cond = Some(match cond {
            None => atom,
            Some(c) => Expr::And(Box::new(c), Box::new(atom)),
        });
    }
    cond
}

async fn run_dag(
    ctx: &Arc<Ctx>,
    ti: usize,
    tmpl: &Template,
    dag: &crate::template::Dag,
    mut scope: Scope,
    node: &Node,
) -> NodeResult {
    let tasks = &dag.tasks;
    let deps: Vec<Vec<String>> = tasks.iter().map(task_deps).collect();
    let conds: Vec<Option<Expr>> = tasks.iter().map(task_condition).collect();
    let mut phases: HashMap<String, NodePhase> = HashMap::new();
    let mut results: Vec<Option<NodeResult>> = vec![None; tasks.len()];
    let mut started: HashSet<usize> = HashSet::new();
    let mut set: JoinSet<(usize, NodeResult)> = JoinSet::new();
    loop {
        let mut progressed = true;
        while progressed && ctx.stop() == Stop::None {
            progressed = false;
            for (ki, task) in tasks.iter().enumerate() {
                if started.contains(&ki) || !deps[ki].iter().all(|d| phases.contains_key(d)) {
                    continue;
                }
                started.insert(ki);
                progressed = true;
                let at = format!("spec.templates[{ti}].dag.tasks[{ki}]");
                let path = format!("{}.{}", node.path, task.name);
                let tname = task.template.as_deref();
                let go = match &conds[ki] {
                    None => Ok(true),
                    Some(c) => c
                        .eval(&mut |a| depends_truth(a, &phases, tasks))
                        .map_err(|e| format!("{at}.depends: {e}")),
                };
                let settled = match go {
                    Err(e) => Some(settle_child(
                        ctx,
                        path,
                        &task.name,
                        tname,
                        NodeResult::error(e),
                    )),
                    Ok(false) => {
                        let r = NodeResult::new(
                            StepStatus::Skipped,
                            NodePhase::Omitted,
                            Some("its depends condition was not met".into()),
                        );
                        Some(settle_child(ctx, path, &task.name, tname, r))
                    }
                    Ok(true) => match launch(ctx, &scope, &Call::task(at, path, task)) {
                        Launch::Settled(r) => Some(r),
                        Launch::Running(f) => {
                            set.spawn(async move { (ki, f.await) });
                            None
                        }
                    },
                };
                if let Some(r) = settled {
                    phases.insert(task.name.clone(), r.phase);
                    record_child(&mut scope, "tasks", &task.name, &r);
                    results[ki] = Some(r);
                }
            }
        }
        match set.join_next().await {
            None => break,
            Some(Err(e)) => {
                return NodeResult::error(format!("internal error running a task: {e}"));
            }
            Some(Ok((ki, r))) => {
                phases.insert(tasks[ki].name.clone(), r.phase);
                record_child(&mut scope, "tasks", &tasks[ki].name, &r);
                results[ki] = Some(r);
            }
        }
    }
    let stop = ctx.stop();
    if stop != Stop::None {
        return NodeResult::stopped(stop);
    }
    // A failure another task reacts to (`x.Failed`, `x.Errored`, `x.Completed`)
    // is handled; any other failure fails the DAG.
    let handled: HashSet<&str> = conds
        .iter()
        .flatten()
        .flat_map(|c| c.atoms())
        .filter_map(|a| match split_depends_atom(a) {
            (t, Some("Failed" | "Errored" | "Completed")) => Some(t),
            _ => None,
        })
        .collect();
    let unhandled = tasks
        .iter()
        .zip(&results)
        .filter_map(|(t, r)| r.as_ref().map(|r| (t.name.as_str(), r)))
        .filter(|(n, r)| r.status == StepStatus::Terminated || !handled.contains(n))
        .filter(|(n, r)| {
            let c = tasks
                .iter()
                .find(|t| t.name == *n)
                .and_then(|t| t.continue_on.as_ref());
            !tolerated(c, r)
        });
    if let Some(bad) = worst(unhandled) {
        return bad;
    }
    finish_with_outputs(ctx, ti, tmpl, &scope)
}

async fn run_suspend(
    ctx: &Arc<Ctx>,
    ti: usize,
    tmpl: &Template,
    scope: Scope,
    node: &Node,
) -> NodeResult {
    let at = format!("spec.templates[{ti}].suspend.duration");
    let duration = match tmpl.suspend.as_ref().and_then(|s| s.duration.as_ref()) {
        None => None,
        Some(d) => match ctx
            .subst(&scope, &at, &d.0)
            .and_then(|d| parse_duration(&d).map_err(|e| format!("{at}: {e}")))
        {
            Ok(d) => Some(d),
            Err(e) => return NodeResult::error(e),
        },
    };
    let deadline = match template_deadline(ctx, ti, tmpl, &scope) {
        Ok(d) => d,
        Err(e) => return NodeResult::error(e),
    };
    let (tx, rx) = oneshot::channel();
    lock(&ctx.run.suspended).insert(node.path.clone(), (node.name.clone(), tx));
    ctx.emit(
        node,
        StepStatus::Running,
        NodePhase::Running,
        Some("suspended; waiting for a resume".into()),
        None,
        1,
        true,
    );
    let mut stop_rx = ctx.run.stop_tx.subscribe();
    let wait = sleep_opt(duration.into_iter().chain(deadline).min());
    let expired_is_failure = deadline.is_some() && duration.is_none_or(|d| Some(d) > deadline);
    let r = tokio::select! {
        _ = rx => NodeResult { message: Some("resumed".into()), ..NodeResult::success() },
        _ = wait => if expired_is_failure {
            NodeResult::failed("suspend exceeded its activeDeadlineSeconds".into())
        } else {
            NodeResult { message: Some("suspend duration elapsed".into()), ..NodeResult::success() }
        },
        s = super::stopped(&mut stop_rx) => NodeResult::stopped(s),
    };
    lock(&ctx.run.suspended).remove(&node.path);
    if r.status == StepStatus::Success {
        return match lifted_outputs(ctx, ti, tmpl, &scope) {
            Ok(outputs) => NodeResult { outputs, ..r },
            Err(e) => NodeResult::error(e),
        };
    }
    r
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

/// Retry settings of a leaf after substitution.
struct Retry {
    limit: u32,
    backoff: Option<Duration>,
    factor: f64,
    max_duration: Option<Duration>,
    errors_only: bool,
}

fn retry_settings(ctx: &Ctx, ti: usize, tmpl: &Template, scope: &Scope) -> Result<Retry, String> {
    let mut r = Retry {
        limit: 0,
        backoff: None,
        factor: 1.0,
        max_duration: None,
        errors_only: false,
    };
    let Some(rs) = &tmpl.retry_strategy else {
        return Ok(r);
    };
    let at = format!("spec.templates[{ti}].retryStrategy");
    if let Some(l) = &rs.limit {
        let t = ctx.subst(scope, &format!("{at}.limit"), &l.0)?;
        r.limit = t
            .trim()
            .parse()
            .map_err(|_| format!("{at}.limit: {t:?} is not a whole number"))?;
    }
    r.errors_only = matches!(
        rs.retry_policy.as_deref(),
        Some("OnError" | "OnTransientError")
    );
    if let Some(b) = &rs.backoff {
        let dur = |field: &str,
                   v: &Option<crate::template::IntOrString>|
         -> Result<Option<Duration>, String> {
            match v {
                None => Ok(None),
                Some(v) => {
                    let t = ctx.subst(scope, &format!("{at}.backoff.{field}"), &v.0)?;
                    parse_duration(&t)
                        .map(Some)
                        .map_err(|e| format!("{at}.backoff.{field}: {e}"))
                }
            }
        };
        r.backoff = dur("duration", &b.duration)?;
        r.max_duration = dur("maxDuration", &b.max_duration)?;
        if let Some(f) = &b.factor {
            let t = ctx.subst(scope, &format!("{at}.backoff.factor"), &f.0)?;
            r.factor = t
                .trim()
                .parse()
                .map_err(|_| format!("{at}.backoff.factor: {t:?} is not a number"))?;
        }
    }
    Ok(r)
}

/// What one attempt of a leaf needs, after substitution.
struct Prepared {
    spawn: Spawn,
    program: String,
}

fn prepare(
    ctx: &Ctx,
    ti: usize,
    tmpl: &Template,
    scope: &Scope,
    step_dir: &Path,
    deadline: Option<Duration>,
) -> Result<Prepared, String> {
    let (field, p) = match (&tmpl.script, &tmpl.container) {
        (Some(s), _) => ("script", s),
        (None, Some(c)) => ("container", c),
        (None, None) => return Err(format!("spec.templates[{ti}]: nothing to run")),
    };
    let at = format!("spec.templates[{ti}].{field}");
    let list = |name: &str, items: &[String]| -> Result<Vec<String>, String> {
        items
            .iter()
            .enumerate()
            .map(|(i, s)| ctx.subst(scope, &format!("{at}.{name}[{i}]"), s))
            .collect()
    };
    let mut argv = list("command", &p.command)?;
    let args = list("args", &p.args)?;
    let cwd = match &p.working_dir {
        None => step_dir.to_path_buf(),
        Some(w) => {
            let w = PathBuf::from(ctx.subst(scope, &format!("{at}.workingDir"), w)?);
            if w.is_absolute() {
                if !w.is_dir() {
                    return Err(format!(
                        "{at}.workingDir: {} does not exist on this machine",
                        w.display()
                    ));
                }
                w
            } else {
                let d = step_dir.join(w);
                std::fs::create_dir_all(&d)
                    .map_err(|e| format!("{at}.workingDir: cannot create {}: {e}", d.display()))?;
                d
            }
        }
    };
    if field == "script" {
        let source = ctx.subst(
            scope,
            &format!("{at}.source"),
            p.source.as_deref().unwrap_or_default(),
        )?;
        let file = step_dir.join("script");
        std::fs::write(&file, source)
            .map_err(|e| format!("{at}.source: cannot write {}: {e}", file.display()))?;
        if argv.is_empty() {
            argv.push("sh".into());
        }
        argv.push(file.to_string_lossy().into_owned());
    }
    argv.extend(args);
    if argv.is_empty() {
        return Err(format!("{at}.command: missing"));
    }
    let program = argv.remove(0);
    let mut env: Vec<(OsString, OsString)> = ctx
        .config
        .inherited_env
        .iter()
        .filter_map(|k| std::env::var_os(k).map(|v| (OsString::from(k), v)))
        .collect();
    for (i, e) in p.env.iter().enumerate() {
        let v = ctx.subst(
            scope,
            &format!("{at}.env[{i}].value"),
            e.value.as_ref().map(|v| v.0.as_str()).unwrap_or_default(),
        )?;
        env.push((OsString::from(&e.name), OsString::from(v)));
    }
    Ok(Prepared {
        spawn: Spawn {
            program: program.clone(),
            args: argv,
            env,
            cwd,
            deadline,
            grace: ctx.config.kill_grace,
        },
        program,
    })
}

/// Reads a leaf's output parameters after a successful attempt.
fn leaf_outputs(
    ctx: &Ctx,
    ti: usize,
    tmpl: &Template,
    scope: &Scope,
    cwd: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (oi, p) in tmpl.outputs.parameters.iter().enumerate() {
        let at = format!("spec.templates[{ti}].outputs.parameters[{oi}]");
        let default = p
            .value_from
            .as_ref()
            .and_then(|v| v.default.as_ref())
            .map(|d| d.0.clone());
        let v = if let Some(path) = p.value_from.as_ref().and_then(|v| v.path.as_ref()) {
            let path = PathBuf::from(ctx.subst(scope, &format!("{at}.valueFrom.path"), path)?);
            let full = if path.is_absolute() {
                path
            } else {
                cwd.join(path)
            };
            match std::fs::read(&full) {
                Ok(bytes) => String::from_utf8_lossy(&bytes)
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
                Err(e) => match default {
                    Some(d) => d,
                    None => {
                        return Err(format!(
                            "output parameter {:?}: cannot read {}: {e}",
                            p.name,
                            full.display()
                        ));
                    }
                },
            }
        } else if let Some(v) = &p.value {
            ctx.subst(scope, &format!("{at}.value"), &v.0)?
        } else {
            continue;
        };
        out.insert(p.name.clone(), v);
    }
    Ok(out)
}

/// Runs a `script`/`container` with its retries; returns the result and the
/// number of attempts made.
async fn run_leaf(
    ctx: &Arc<Ctx>,
    ti: usize,
    tmpl: &Template,
    mut scope: Scope,
    node: &Node,
) -> (NodeResult, u32) {
    let setup = retry_settings(ctx, ti, tmpl, &scope)
        .and_then(|r| Ok((r, template_deadline(ctx, ti, tmpl, &scope)?)));
    let (retry, deadline) = match setup {
        Ok(s) => s,
        Err(e) => return (NodeResult::error(e), 1),
    };
    let seq = ctx.step_seq.fetch_add(1, Ordering::Relaxed);
    let step_dir = ctx.dir.join("steps").join(format!("{seq:04}"));
    if let Err(e) = std::fs::create_dir_all(&step_dir) {
        return (
            NodeResult::error(format!(
                "cannot create the step directory {}: {e}",
                step_dir.display()
            )),
            1,
        );
    }
    let log = Arc::new(Mutex::new(CappedBuf::new(ctx.config.log_limit)));
    lock(&ctx.run.logs).insert(node.path.clone(), log.clone());
    let image = tmpl
        .script
        .as_ref()
        .or(tmpl.container.as_ref())
        .and_then(|p| p.image.clone());
    let first = Instant::now();
    let mut attempt: u32 = 1;
    loop {
        scope.insert("retries".into(), (attempt - 1).to_string());
        let prepared = match prepare(ctx, ti, tmpl, &scope, &step_dir, deadline) {
            Ok(p) => p,
            Err(e) => return (NodeResult::error(e), attempt),
        };
        if attempt > 1 {
            lock(&log).push(format!("\n[ferry: attempt {attempt}]\n").as_bytes());
            ctx.emit(
                node,
                StepStatus::Running,
                NodePhase::Running,
                None,
                None,
                attempt,
                false,
            );
        }
        let cwd = prepared.spawn.cwd.clone();
        let stdout = Arc::new(Mutex::new(CappedBuf::new(ctx.config.result_limit)));
        let exit = process::run(
            prepared.spawn,
            log.clone(),
            stdout.clone(),
            ctx.run.stop_tx.subscribe(),
        )
        .await;
        let program = &prepared.program;
        let (failure, exit_code, is_error) = match exit {
            Exit::Exited { code: Some(0), .. } => match leaf_outputs(ctx, ti, tmpl, &scope, &cwd) {
                Ok(outputs) => {
                    let text = String::from_utf8_lossy(&lock(&stdout).data)
                        .trim_end()
                        .to_string();
                    return (
                        NodeResult {
                            outputs,
                            result: Some(text),
                            exit_code: Some(0),
                            ..NodeResult::success()
                        },
                        attempt,
                    );
                }
                Err(e) => (e, Some(0), false),
            },
            Exit::Exited { code: Some(c), .. } => (format!("exit code {c}"), Some(c), false),
            Exit::Exited { signal, .. } => (
                format!("killed by signal {}", signal.unwrap_or(0)),
                None,
                false,
            ),
            Exit::SpawnFailed(e) => {
                let msg = match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "command {program:?} not found on this machine (the local executor runs commands directly{})",
                        image
                            .as_deref()
                            .map(|i| format!(" and ignores the image {i:?}"))
                            .unwrap_or_default()
                    ),
                    std::io::ErrorKind::PermissionDenied => {
                        format!("command {program:?} is not executable")
                    }
                    _ => format!("cannot start {program:?}: {e}"),
                };
                (msg, None, true)
            }
            Exit::DeadlineExceeded => (
                format!(
                    "step exceeded activeDeadlineSeconds ({}s) and was killed",
                    deadline.map(|d| d.as_secs()).unwrap_or(0)
                ),
                None,
                false,
            ),
            Exit::Stopped(stop) => return (NodeResult::stopped(stop), attempt),
        };
        let retryable = !retry.errors_only || is_error;
        let within_max = retry.max_duration.is_none_or(|m| first.elapsed() < m);
        if attempt > retry.limit || !retryable || !within_max {
            let msg = if attempt > 1 {
                format!("{failure} (after {attempt} attempts)")
            } else {
                failure
            };
            return (
                NodeResult {
                    exit_code,
                    ..NodeResult::failed(msg)
                },
                attempt,
            );
        }
        let wait = retry
            .backoff
            .map(|b| b.mul_f64(retry.factor.powi(attempt as i32 - 1)))
            .unwrap_or(Duration::ZERO);
        ctx.emit(
            node,
            StepStatus::Running,
            NodePhase::Running,
            Some(format!(
                "attempt {attempt} failed: {failure}; retrying in {}s",
                wait.as_secs_f64()
            )),
            exit_code,
            attempt,
            false,
        );
        let mut stop_rx = ctx.run.stop_tx.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            s = super::stopped(&mut stop_rx) => {
                return (NodeResult::stopped(s), attempt);
            }
        }
        attempt += 1;
    }
}
