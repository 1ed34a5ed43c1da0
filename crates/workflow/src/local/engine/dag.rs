//! `dag` templates: each task starts as soon as every task it names has
//! finished, if its `depends` condition then holds.

use super::*;

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

pub(super) async fn run_dag(
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
