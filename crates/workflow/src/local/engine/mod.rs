//! Walks a WorkflowTemplate: `steps` groups in order with their items in
//! parallel, DAG tasks as soon as their `depends` can be decided, leaves as
//! child processes, `suspend` until a resume; every node with its retries,
//! deadlines, hooks and parallelism limits. Every node publishes RUNNING when
//! it starts and its final status when it ends.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinSet;

use super::process::{self, CappedBuf, Exit, Spawn};
use super::validate::{split_depends_atom, task_deps, validate, workflow_parameters};
use super::{LocalConfig, LocalRun, Stop, lock};
use crate::duration::parse_duration;
use crate::expr::{self, Expr};
use crate::runner::Parameters;
use crate::status::{NodeKind, NodePhase, RunOutcome, RunOutputs, StepStatus, StepUpdate};
use crate::template::{
    Arguments, ContinueOn, DagTask, LifecycleHook, Template, WorkflowStep, WorkflowTemplate,
};
use crate::timestamp::Timestamp;

mod call;
mod dag;
mod drive;
mod hooks;
mod leaf;
mod outputs;
mod retry;
mod scope;
mod steps;
mod suspend;

pub(crate) use drive::drive;
pub(crate) use suspend::SuspendedStep;

use call::{Call, Launch, launch};
use dag::run_dag;
use leaf::run_leaf;
use outputs::{finish_with_outputs, lifted_outputs, record_child};
use steps::run_steps;
use suspend::run_suspend;

pub(super) type Scope = HashMap<String, String>;
type BoxFuture = Pin<Box<dyn Future<Output = NodeResult> + Send>>;

/// A template to run and the field path it is written at (for messages):
/// `spec.templates[3]`, or `spec.templates[0].steps[1][0].inline`.
#[derive(Clone)]
struct TemplateRef {
    at: String,
    tmpl: Arc<Template>,
}

/// Everything the nodes of one run share.
struct Ctx {
    run: Arc<LocalRun>,
    config: Arc<LocalConfig>,
    dir: PathBuf,
    /// Templates by name.
    templates: HashMap<String, TemplateRef>,
    workflow_vars: Scope,
    /// Output parameters exported with `globalName` so far.
    globals: Mutex<BTreeMap<String, String>>,
    /// `{{workflow.status}}`: Running, then the final phase for exit handlers.
    workflow_status: Mutex<&'static str>,
    /// `{{workflow.failures}}`: every node that ended Failed or Error.
    failures: Mutex<Vec<serde_json::Value>>,
    started: Instant,
    step_seq: AtomicU64,
    /// `spec.parallelism`: slots for processes running at once.
    pods: Option<Arc<Semaphore>>,
}

/// What a fanned-out step or task's items produced, in item order
/// (`{{steps.X.outputs.result}}` and `.outputs.parameters` as JSON lists).
#[derive(Debug, Clone, Default)]
struct Aggregate {
    params: Vec<BTreeMap<String, String>>,
    results: Vec<String>,
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
    aggregate: Option<Aggregate>,
    started: Option<Timestamp>,
    finished: Option<Timestamp>,
    /// Never started (a `failFast` parent stopped starting children): no
    /// node was published for it and the parent does not count it.
    not_started: bool,
    /// The command could not be started: an error for `retryPolicy: OnError`.
    infra_error: bool,
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
            aggregate: None,
            started: None,
            finished: None,
            not_started: false,
            infra_error: false,
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
    fn skipped(phase: NodePhase, message: &str) -> Self {
        Self::new(StepStatus::Skipped, phase, Some(message.into()))
    }
    fn not_started() -> Self {
        NodeResult {
            not_started: true,
            ..Self::skipped(NodePhase::Omitted, "not started: failFast")
        }
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

/// A node's `parallelism`: children are admitted in the order they were
/// launched (steps in order, fan-out items in item order), as Argo creates
/// them, each when a slot is free.
struct Slots {
    sem: Arc<Semaphore>,
    /// Tickets handed out at launch, and the next one to admit.
    issued: AtomicU64,
    next: AtomicU64,
    turn: tokio::sync::Notify,
}

impl Slots {
    fn ticket(&self) -> u64 {
        self.issued.fetch_add(1, Ordering::SeqCst)
    }

    /// Waits for this ticket's turn, then for a free slot.
    async fn admit(&self, ticket: u64) -> Option<tokio::sync::OwnedSemaphorePermit> {
        loop {
            let turn = self.turn.notified();
            if self.next.load(Ordering::SeqCst) == ticket {
                break;
            }
            turn.await;
        }
        let permit = self.sem.clone().acquire_owned().await.ok();
        self.next.fetch_add(1, Ordering::SeqCst);
        self.turn.notify_waiters();
        permit
    }
}

/// What a `steps`/`dag` node imposes on the children it starts: its
/// `parallelism` and `failFast`.
#[derive(Clone, Default)]
struct Limits {
    permits: Option<Arc<Slots>>,
    /// Set once a child failed, when the template has `failFast: true`.
    failed: Option<Arc<AtomicBool>>,
}

impl Limits {
    fn for_template(ctx: &Ctx, tref: &TemplateRef, scope: &Scope) -> Result<Limits, String> {
        let t = &tref.tmpl;
        let permits = match &t.parallelism {
            None => None,
            Some(p) => {
                let at = format!("{}.parallelism", tref.at);
                let text = ctx.subst(scope, &at, &p.0)?;
                let n: usize = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{at}: {text:?} is not a whole number"))?;
                Some(Arc::new(Slots {
                    sem: Arc::new(Semaphore::new(n.max(1))),
                    issued: AtomicU64::new(0),
                    next: AtomicU64::new(0),
                    turn: tokio::sync::Notify::new(),
                }))
            }
        };
        Ok(Limits {
            permits,
            failed: (t.fail_fast == Some(true)).then(|| Arc::new(AtomicBool::new(false))),
        })
    }

    fn note(&self, r: &NodeResult) {
        if let Some(f) = &self.failed
            && r.is_bad()
        {
            f.store(true, Ordering::SeqCst);
        }
    }

    fn failing(&self) -> bool {
        self.failed
            .as_ref()
            .is_some_and(|f| f.load(Ordering::SeqCst))
    }
}

impl Ctx {
    fn stop(&self) -> Stop {
        *self.run.stop_tx.borrow()
    }

    fn template(&self, name: &str) -> Option<TemplateRef> {
        self.templates.get(name).cloned()
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
        if matches!(r.status, StepStatus::Failed | StepStatus::Error) {
            lock(&self.failures).push(serde_json::json!({
                "displayName": n.name,
                "message": r.message.clone().unwrap_or_default(),
                "templateName": n.template,
                "phase": r.phase.as_str(),
                "podName": n.path,
                "finishedAt": Timestamp::now().to_string(),
            }));
        }
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

fn kind_of(t: &Template) -> NodeKind {
    if t.steps.is_some() {
        NodeKind::Steps
    } else if t.dag.is_some() {
        NodeKind::Dag
    } else if t.suspend.is_some() {
        NodeKind::Suspend
    } else {
        NodeKind::Pod
    }
}

/// Runs template `tref` as node `path`, with `args` as its input
/// parameters, retried by its `retryStrategy`.
fn run_template(
    ctx: Arc<Ctx>,
    tref: TemplateRef,
    args: BTreeMap<String, String>,
    path: String,
    display: String,
) -> BoxFuture {
    Box::pin(async move {
        let stop = ctx.stop();
        if stop != Stop::None {
            return NodeResult::stopped(stop);
        }
        let tmpl = tref.tmpl.clone();
        let node = Node {
            path,
            name: display,
            template: tmpl.name.clone(),
            kind: kind_of(&tmpl),
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
        let mut attempt: u32 = 1;
        let res = match scope::resolve_inputs(&ctx, &tref, &args)
            .and_then(|s| Ok((retry::plan(&ctx, &tref, &s)?, s)))
        {
            Err(msg) => NodeResult::error(msg),
            Ok((plan, mut scope)) => {
                let first = Instant::now();
                loop {
                    scope.insert("retries".into(), (attempt - 1).to_string());
                    let began = Instant::now();
                    let r = run_body(&ctx, &tref, scope.clone(), &node, attempt).await;
                    if !r.is_bad() || r.status == StepStatus::Terminated || ctx.stop() != Stop::None
                    {
                        break r;
                    }
                    let Some(plan) = &plan else { break r };
                    match retry::decide(&ctx, plan, &scope, attempt, &r, first, began.elapsed()) {
                        retry::Decision::Stop(why) => {
                            break retry::final_result(r, attempt, why);
                        }
                        retry::Decision::After(wait) => {
                            let failure = r.message.clone().unwrap_or_default();
                            ctx.emit(
                                &node,
                                StepStatus::Running,
                                NodePhase::Running,
                                Some(format!(
                                    "attempt {attempt} failed: {failure}; retrying in {}s",
                                    wait.as_secs_f64()
                                )),
                                r.exit_code,
                                attempt,
                                false,
                            );
                            let mut stop_rx = ctx.run.stop_tx.subscribe();
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                s = crate::local::stopped(&mut stop_rx) => {
                                    break NodeResult::stopped(s);
                                }
                            }
                            attempt += 1;
                            ctx.emit(
                                &node,
                                StepStatus::Running,
                                NodePhase::Running,
                                None,
                                None,
                                attempt,
                                false,
                            );
                        }
                    }
                }
            }
        };
        let mut res = res;
        res.started = Some(node.started);
        res.finished = Some(Timestamp::now());
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

/// One attempt of a template's body.
async fn run_body(
    ctx: &Arc<Ctx>,
    tref: &TemplateRef,
    scope: Scope,
    node: &Node,
    attempt: u32,
) -> NodeResult {
    let tmpl = &tref.tmpl;
    if let Some(groups) = &tmpl.steps {
        run_steps(ctx, tref, groups, scope, node).await
    } else if let Some(dag) = &tmpl.dag {
        run_dag(ctx, tref, dag, scope, node).await
    } else if tmpl.suspend.is_some() {
        run_suspend(ctx, tref, scope, node).await
    } else {
        run_leaf(ctx, tref, scope, node, attempt).await
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

/// True when `continueOn` lets the parent go on despite this result.
fn tolerated(c: Option<&ContinueOn>, r: &NodeResult) -> bool {
    c.is_some_and(|c| {
        (c.failed && r.status == StepStatus::Failed) || (c.error && r.status == StepStatus::Error)
    })
}

async fn sleep_opt(d: Option<Duration>) {
    match d {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// The deadline of a leaf or suspend: the shorter of `activeDeadlineSeconds`
/// and `timeout`, and which field it came from (for the message).
fn template_deadline(
    ctx: &Ctx,
    tref: &TemplateRef,
    scope: &Scope,
) -> Result<Option<(Duration, String)>, String> {
    let mut out: Option<(Duration, String)> = None;
    if let Some(d) = &tref.tmpl.active_deadline_seconds {
        let at = format!("{}.activeDeadlineSeconds", tref.at);
        let text = ctx.subst(scope, &at, &d.0)?;
        let secs: u64 = text
            .trim()
            .parse()
            .map_err(|_| format!("{at}: {text:?} is not a whole number of seconds"))?;
        out = Some((
            Duration::from_secs(secs),
            format!("activeDeadlineSeconds ({secs}s)"),
        ));
    }
    if let Some(t) = &tref.tmpl.timeout {
        let at = format!("{}.timeout", tref.at);
        let text = ctx.subst(scope, &at, t)?;
        let d = parse_duration(&text).map_err(|e| format!("{at}: {e}"))?;
        if out.as_ref().is_none_or(|(o, _)| d < *o) {
            out = Some((d, format!("its timeout ({})", text.trim())));
        }
    }
    Ok(out)
}
