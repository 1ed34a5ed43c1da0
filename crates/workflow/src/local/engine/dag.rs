//! `dag` templates: each task starts as soon as every task it names has
//! finished, if its `depends` condition then holds (else it is Omitted).
//! `target` limits the run to some tasks and what they depend on. The DAG's
//! result follows Argo: each target's branch phase (an omitted task inherits
//! the worst phase of the tasks it waits for) decides; with `failFast` (the
//! default) no task starts once a target's branch has failed.

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
fn task_condition(task: &DagTask) -> Option<Expr> {
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

fn is_failure(p: NodePhase) -> bool {
    matches!(p, NodePhase::Failed | NodePhase::Error)
}

/// The phase of the branch ending in task `i`: its own phase once it ran, or
/// for an omitted task the worst of the branches it waits for.
fn branch_phase(
    i: usize,
    deps: &[Vec<usize>],
    phases: &[Option<NodePhase>],
    memo: &mut HashMap<usize, Option<NodePhase>>,
) -> Option<NodePhase> {
    if let Some(p) = memo.get(&i) {
        return *p;
    }
    let p = match phases[i] {
        None => None,
        Some(NodePhase::Omitted) => {
            let mut out = Some(NodePhase::Succeeded);
            for &d in &deps[i] {
                match branch_phase(d, deps, phases, memo) {
                    None => {
                        out = None;
                        break;
                    }
                    Some(p) if is_failure(p) => {
                        if out.is_none_or(|o| !is_failure(o) || p == NodePhase::Error) {
                            out = Some(p);
                        }
                    }
                    Some(_) => {}
                }
            }
            out
        }
        Some(p) => Some(p),
    };
    memo.insert(i, p);
    p
}

/// Argo's assessment of a DAG: `Ok(None)` while undecided, else its phase
/// and the failed target.
fn assess(
    tasks: &[DagTask],
    targets: &[usize],
    deps: &[Vec<usize>],
    phases: &[Option<NodePhase>],
    fail_fast: bool,
) -> Option<(NodePhase, Option<usize>)> {
    let mut memo = HashMap::new();
    let mut result = Some((NodePhase::Succeeded, None));
    for &t in targets {
        match branch_phase(t, deps, phases, &mut memo) {
            None => {
                result = None;
                if !fail_fast {
                    break;
                }
            }
            Some(p) if is_failure(p) => {
                let r = NodeResult::new(p.step_status(), p, None);
                if tolerated(tasks[t].continue_on.as_ref(), &r) {
                    continue;
                }
                result = Some((p, Some(t)));
                if fail_fast {
                    break;
                }
            }
            Some(_) => {}
        }
    }
    result
}

pub(super) async fn run_dag(
    ctx: &Arc<Ctx>,
    tref: &TemplateRef,
    dag: &crate::template::Dag,
    mut scope: Scope,
    node: &Node,
) -> NodeResult {
    let tasks = &dag.tasks;
    let limits = match Limits::for_template(ctx, tref, &scope) {
        Ok(l) => l,
        Err(e) => return NodeResult::error(e),
    };
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    let deps: Vec<Vec<usize>> = tasks
        .iter()
        .map(|t| {
            task_deps(t)
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect()
        })
        .collect();
    let conds: Vec<Option<Expr>> = tasks.iter().map(task_condition).collect();
    // Targets: `dag.target`, or the tasks nothing depends on.
    let targets: Vec<usize> = match &dag.target {
        Some(t) => {
            let at = format!("{}.dag.target", tref.at);
            let text = match ctx.subst(&scope, &at, t) {
                Ok(t) => t,
                Err(e) => return NodeResult::error(e),
            };
            let mut out = Vec::new();
            for name in text.split_whitespace() {
                match index.get(name) {
                    Some(i) => out.push(*i),
                    None => return NodeResult::error(format!("{at}: no task named {name:?}")),
                }
            }
            out
        }
        None => (0..tasks.len())
            .filter(|i| !deps.iter().any(|d| d.contains(i)))
            .collect(),
    };
    // With a target only the targets and what they depend on run.
    let mut wanted = vec![dag.target.is_none(); tasks.len()];
    let mut todo = targets.clone();
    while let Some(i) = todo.pop() {
        if !wanted[i] {
            wanted[i] = true;
            todo.extend(deps[i].iter().copied());
        }
    }
    let fail_fast = dag.fail_fast != Some(false);
    let mut phases: Vec<Option<NodePhase>> = vec![None; tasks.len()];
    let mut by_name: HashMap<String, NodePhase> = HashMap::new();
    let mut results: Vec<Option<NodeResult>> = vec![None; tasks.len()];
    let mut started: HashSet<usize> = HashSet::new();
    let mut set: JoinSet<(usize, NodeResult)> = JoinSet::new();
    let mut failed_fast = false;
    loop {
        let mut progressed = true;
        while progressed && ctx.stop() == Stop::None && !failed_fast && !limits.failing() {
            progressed = false;
            for (ki, task) in tasks.iter().enumerate() {
                if !wanted[ki]
                    || started.contains(&ki)
                    || !deps[ki].iter().all(|d| phases[*d].is_some())
                {
                    continue;
                }
                started.insert(ki);
                progressed = true;
                let at = format!("{}.dag.tasks[{ki}]", tref.at);
                let path = format!("{}.{}", node.path, task.name);
                let tname = task
                    .template
                    .as_deref()
                    .or(task.inline.as_ref().map(|_| "inline"));
                let go = match &conds[ki] {
                    None => Ok(true),
                    Some(c) => c
                        .eval(&mut |a| depends_truth(a, &by_name, tasks))
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
                        let r = NodeResult::skipped(
                            NodePhase::Omitted,
                            "its depends condition was not met",
                        );
                        Some(settle_child(ctx, path, &task.name, tname, r))
                    }
                    Ok(true) => match launch(ctx, &scope, &Call::task(at, path, task), &limits) {
                        Launch::Settled(r) => Some(r),
                        Launch::Running(f) => {
                            set.spawn(async move { (ki, f.await) });
                            None
                        }
                    },
                };
                if let Some(r) = settled {
                    phases[ki] = Some(r.phase);
                    by_name.insert(task.name.clone(), r.phase);
                    record_child(&mut scope, "tasks", &task.name, &r);
                    results[ki] = Some(r);
                }
            }
            if fail_fast
                && matches!(assess(tasks, &targets, &deps, &phases, true), Some((p, _)) if is_failure(p))
            {
                failed_fast = true;
            }
        }
        match set.join_next().await {
            None => break,
            Some(Err(e)) => {
                return NodeResult::error(format!("internal error running a task: {e}"));
            }
            Some(Ok((ki, r))) => {
                if !r.not_started {
                    phases[ki] = Some(r.phase);
                    by_name.insert(tasks[ki].name.clone(), r.phase);
                    record_child(&mut scope, "tasks", &tasks[ki].name, &r);
                    results[ki] = Some(r);
                }
                if fail_fast
                    && matches!(assess(tasks, &targets, &deps, &phases, true), Some((p, _)) if is_failure(p))
                {
                    failed_fast = true;
                }
            }
        }
    }
    let stop = ctx.stop();
    if stop != Stop::None {
        return NodeResult::stopped(stop);
    }
    if limits.failing() {
        return NodeResult::failed(
            "template has failed or errored children and failFast enabled".into(),
        );
    }
    match assess(tasks, &targets, &deps, &phases, fail_fast) {
        Some((p, Some(t))) if is_failure(p) => {
            // Name the task that actually failed: the target, or for an
            // omitted target the failed task it waited for.
            let named = tasks
                .iter()
                .zip(&results)
                .filter_map(|(t, r)| r.as_ref().map(|r| (t.name.as_str(), r)))
                .filter(|(_, r)| r.is_bad());
            let mut bad = worst(named).unwrap_or_else(|| NodeResult::new(p.step_status(), p, None));
            if results[t]
                .as_ref()
                .is_some_and(|r| r.phase == NodePhase::Omitted)
            {
                bad.message = Some(format!(
                    "{} (target {:?} was omitted)",
                    bad.message.unwrap_or_default(),
                    tasks[t].name
                ));
            }
            bad
        }
        // Every target done well, or a stop left tasks unstarted.
        Some(_) => finish_with_outputs(ctx, tref, &scope),
        None => {
            if failed_fast {
                let named = tasks
                    .iter()
                    .zip(&results)
                    .filter_map(|(t, r)| r.as_ref().map(|r| (t.name.as_str(), r)));
                worst(named).unwrap_or_else(|| NodeResult::failed("a branch failed".into()))
            } else {
                NodeResult::error("internal error: DAG ended with undecided targets".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(name: &str, depends: &str) -> DagTask {
        serde_json::from_value(
            serde_json::json!({"name": name, "template": "t", "depends": depends}),
        )
        .unwrap()
    }

    #[test]
    fn omitted_targets_inherit_the_failure_they_waited_for() {
        use NodePhase::*;
        // dag-continue-on-fail.yaml: G omitted because E failed.
        let tasks = vec![task("E", ""), task("F", ""), task("G", "E && F")];
        let deps = vec![vec![], vec![], vec![0, 1]];
        let phases = vec![Some(Failed), Some(Succeeded), Some(Omitted)];
        assert_eq!(
            assess(&tasks, &[2], &deps, &phases, true),
            Some((Failed, Some(2)))
        );
        // A handled failure: D ran because B failed.
        let phases = vec![Some(Failed), Some(Succeeded), Some(Succeeded)];
        assert_eq!(
            assess(&tasks, &[2], &deps, &phases, true),
            Some((Succeeded, None))
        );
        // Undecided while a target has not run.
        let phases = vec![Some(Succeeded), None, None];
        assert_eq!(assess(&tasks, &[2], &deps, &phases, true), None);
    }
}
