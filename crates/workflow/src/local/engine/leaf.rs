//! `script` and `container` templates: substitution, the child process,
//! output parameters, and retries.

use super::*;

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
pub(super) async fn run_leaf(
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
            s = crate::local::stopped(&mut stop_rx) => {
                return (NodeResult::stopped(s), attempt);
            }
        }
        attempt += 1;
    }
}
