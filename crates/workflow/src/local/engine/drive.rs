//! One whole run: checks, workflow variables, the entrypoint, the exit
//! handler and workflow hooks, the deadline, and the outcome.

use super::*;

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
    let workflow_vars = scope::workflow_vars(&wt, &id.0, started, &values);
    let pods = match wt
        .spec
        .parallelism
        .as_ref()
        .map(|p| p.0.trim().parse::<usize>())
    {
        None => None,
        Some(Ok(n)) => Some(Arc::new(Semaphore::new(n.max(1)))),
        Some(Err(_)) => {
            problems.push("spec.parallelism: not a whole number".into());
            None
        }
    };
    let templates = wt
        .spec
        .templates
        .iter()
        .enumerate()
        .map(|(i, t)| {
            (
                t.name.clone(),
                TemplateRef {
                    at: format!("spec.templates[{i}]"),
                    tmpl: Arc::new(t.clone()),
                },
            )
        })
        .collect();
    let ctx = Arc::new(Ctx {
        run: run.clone(),
        config,
        dir: dir.path().to_path_buf(),
        templates,
        workflow_vars,
        globals: Mutex::new(BTreeMap::new()),
        workflow_status: Mutex::new("Running"),
        failures: Mutex::new(Vec::new()),
        started: Instant::now(),
        step_seq: AtomicU64::new(0),
        pods,
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
        let hook_scope = Scope::new();
        let mut fired = hooks::Fired::default();
        let running_hooks = hooks::start_expression_hooks(
            &ctx,
            &hook_scope,
            "spec",
            &wt.spec.hooks,
            &id.0,
            &mut fired,
        );
        // The entrypoint's inputs come from the workflow's arguments, as on Argo.
        let r = match ctx.template(&entry) {
            Some(t) => {
                run_template(ctx.clone(), t, values.clone(), id.0.clone(), id.0.clone()).await
            }
            None => NodeResult::error(format!("spec.entrypoint: no template named {entry:?}")),
        };
        let exit = wt
            .spec
            .on_exit
            .clone()
            .or_else(|| wt.spec.hooks.get("exit").and_then(|h| h.template.clone()));
        let r = if ctx.stop() != Stop::Terminated {
            run_exit_handler(&ctx, exit, r, &values, &wt, &mut fired).await
        } else {
            r
        };
        hooks::join(running_hooks).await;
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
    let mut notices = Vec::new();
    if !wt.local_ignored().is_empty() {
        notices.push(format!(
            "the local executor ignores these pod-only fields: {}",
            wt.local_ignored().join(", ")
        ));
    }
    run.record.finish(RunOutcome {
        status: result.status,
        suspended: false,
        phase: Some(result.phase),
        message: result.message,
        started_at: Some(started),
        finished_at: Some(Timestamp::now()),
        outputs,
        notices,
    });
    drop(ctx);
    // Removing the directory touches the disk; keep it off the async workers.
    let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
}

/// Runs the exit handler (`spec.onExit` or `spec.hooks.exit`) after the
/// entrypoint, whatever its outcome (unless the run was terminated), with
/// `{{workflow.status}}`, `{{workflow.duration}}` and `{{workflow.failures}}`
/// set, and the workflow's expression hooks that now hold. A failing exit
/// handler fails a run that had succeeded, as on Argo.
async fn run_exit_handler(
    ctx: &Arc<Ctx>,
    exit: Option<String>,
    main: NodeResult,
    values: &BTreeMap<String, String>,
    wt: &WorkflowTemplate,
    fired: &mut hooks::Fired,
) -> NodeResult {
    // A workflow deadline stopped the entrypoint; the exit handler still runs,
    // it is typically the notification that says so.
    ctx.run.stop_tx.send_if_modified(|s| {
        let reset = *s == Stop::Deadline;
        if reset {
            *s = Stop::None;
        }
        reset
    });
    *lock(&ctx.workflow_status) = match main.status {
        StepStatus::Success => "Succeeded",
        StepStatus::Error => "Error",
        _ => "Failed",
    };
    let id = ctx.run.record.id.0.clone();
    let late =
        hooks::start_expression_hooks(ctx, &Scope::new(), "spec", &wt.spec.hooks, &id, fired);
    hooks::join(late).await;
    let Some(exit) = exit else { return main };
    let path = format!("{id}.onExit");
    let er = match ctx.template(&exit) {
        Some(t) => run_template(ctx.clone(), t, values.clone(), path, "onExit".into()).await,
        None => NodeResult::error(format!("spec.onExit: no template named {exit:?}")),
    };
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
