//! `script` and `container` templates: substitution, the child process
//! (within the workflow's `parallelism`), and output parameters. Retries are
//! the caller's (`run_template`).

use std::os::unix::fs::PermissionsExt;

use super::*;

/// What one attempt of a leaf needs, after substitution.
struct Prepared {
    spawn: Spawn,
    program: String,
}

fn prepare(
    ctx: &Ctx,
    tref: &TemplateRef,
    scope: &Scope,
    step_dir: &Path,
    deadline: Option<Duration>,
) -> Result<Prepared, String> {
    let tmpl = &tref.tmpl;
    let (field, p) = match (&tmpl.script, &tmpl.container) {
        (Some(s), _) => ("script", s),
        (None, Some(c)) => ("container", c),
        (None, None) => return Err(format!("{}: nothing to run", tref.at)),
    };
    let at = format!("{}.{field}", tref.at);
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
        // Argo stages the script executable: `command: [sh, -c]` runs the
        // file itself.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
            format!(
                "{at}.source: cannot make {} executable: {e}",
                file.display()
            )
        })?;
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
    env.retain(|(k, _)| !ctx.config.secret_env.iter().any(|(n, _)| k == n.as_str()));
    env.extend(
        ctx.config
            .secret_env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v))),
    );
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
    tref: &TemplateRef,
    scope: &Scope,
    cwd: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (oi, p) in tref.tmpl.outputs.parameters.iter().enumerate() {
        let at = format!("{}.outputs.parameters[{oi}]", tref.at);
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
        } else if let Some(e) = p.value_from.as_ref().and_then(|v| v.expression.as_ref()) {
            let at = format!("{at}.valueFrom.expression");
            match ctx
                .eval(scope, &at, e)
                .and_then(|v| crate::exprlang::render(&v).map_err(|e| format!("{at}: {e}")))
            {
                Ok(v) => v,
                Err(e) => default.ok_or(e)?,
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

/// One attempt of a `script`/`container`.
pub(super) async fn run_leaf(
    ctx: &Arc<Ctx>,
    tref: &TemplateRef,
    mut scope: Scope,
    node: &Node,
    attempt: u32,
) -> NodeResult {
    let deadline = match template_deadline(ctx, tref, &scope) {
        Ok(d) => d,
        Err(e) => return NodeResult::error(e),
    };
    let seq = ctx.step_seq.fetch_add(1, Ordering::Relaxed);
    let step_dir = ctx.dir.join("steps").join(format!("{seq:04}"));
    if let Err(e) = std::fs::create_dir_all(&step_dir) {
        return NodeResult::error(format!(
            "cannot create the step directory {}: {e}",
            step_dir.display()
        ));
    }
    let log = lock(&ctx.run.logs)
        .entry(node.path.clone())
        .or_insert_with(|| Arc::new(Mutex::new(CappedBuf::new(ctx.config.log_limit))))
        .clone();
    let image = tref
        .tmpl
        .script
        .as_ref()
        .or(tref.tmpl.container.as_ref())
        .and_then(|p| p.image.clone());
    let prepared = match prepare(ctx, tref, &scope, &step_dir, deadline.as_ref().map(|d| d.0)) {
        Ok(p) => p,
        Err(e) => return NodeResult::error(e),
    };
    // `spec.parallelism`: wait for a free slot, PENDING meanwhile.
    let _slot = match &ctx.pods {
        None => None,
        Some(sem) => match sem.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                ctx.emit(
                    node,
                    StepStatus::Pending,
                    NodePhase::Pending,
                    Some("waiting: spec.parallelism reached".into()),
                    None,
                    attempt,
                    false,
                );
                let mut stop_rx = ctx.run.stop_tx.subscribe();
                let p = tokio::select! {
                    p = sem.clone().acquire_owned() => p.ok(),
                    s = crate::local::stopped(&mut stop_rx) => return NodeResult::stopped(s),
                };
                ctx.emit(
                    node,
                    StepStatus::Running,
                    NodePhase::Running,
                    None,
                    None,
                    attempt,
                    false,
                );
                p
            }
        },
    };
    if attempt > 1 {
        lock(&log).push(format!("\n[ferry: attempt {attempt}]\n").as_bytes());
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
    match exit {
        Exit::Exited { code: Some(0), .. } => {
            let text = String::from_utf8_lossy(&lock(&stdout).data)
                .trim_end()
                .to_string();
            scope.insert("outputs.result".into(), text.clone());
            match leaf_outputs(ctx, tref, &scope, &cwd) {
                Ok(outputs) => NodeResult {
                    outputs,
                    result: Some(text),
                    exit_code: Some(0),
                    ..NodeResult::success()
                },
                Err(e) => NodeResult {
                    exit_code: Some(0),
                    ..NodeResult::failed(e)
                },
            }
        }
        Exit::Exited { code: Some(c), .. } => NodeResult {
            exit_code: Some(c),
            ..NodeResult::failed(format!("exit code {c}"))
        },
        Exit::Exited { signal, .. } => {
            NodeResult::failed(format!("killed by signal {}", signal.unwrap_or(0)))
        }
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
            NodeResult {
                infra_error: true,
                ..NodeResult::failed(msg)
            }
        }
        Exit::DeadlineExceeded => NodeResult::failed(format!(
            "step exceeded {} and was killed",
            deadline.map(|d| d.1).unwrap_or_default()
        )),
        Exit::Stopped(stop) => NodeResult::stopped(stop),
    }
}
