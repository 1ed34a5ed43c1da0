//! Checks made before a local run starts anything: the subset of SPEC §5, template
//! references, DAG expressions, and workflow parameters. Problems come back as
//! messages naming the field, and the run ends in ERROR with all of them.

use std::collections::{BTreeMap, HashSet};

use crate::duration::parse_duration;
use crate::expr;
use crate::runner::Parameters;
use crate::template::{Template, WorkflowTemplate};

/// Task results a `depends` operand may name.
pub(crate) const DEPENDS_RESULTS: &[&str] = &[
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Completed",
    "Daemoned",
];

/// Returns every problem found; empty when the template can run here.
pub(crate) fn validate(t: &WorkflowTemplate) -> Vec<String> {
    let mut out: Vec<String> = t
        .local_unsupported()
        .iter()
        .map(|p| format!("{p} is not supported by the local executor"))
        .collect();
    match t.spec.entrypoint.as_deref() {
        None | Some("") => out.push("spec.entrypoint: missing".into()),
        Some(e) if t.template(e).is_none() => {
            out.push(format!("spec.entrypoint: no template named {e:?}"))
        }
        Some(_) => {}
    }
    if let Some(e) = t.spec.on_exit.as_deref()
        && t.template(e).is_none()
    {
        out.push(format!("spec.onExit: no template named {e:?}"));
    }
    if let Some(d) = &t.spec.active_deadline_seconds {
        check_seconds(&mut out, "spec.activeDeadlineSeconds", &d.0);
    }
    let mut names = HashSet::new();
    for (ti, tmpl) in t.spec.templates.iter().enumerate() {
        let tb = format!("spec.templates[{ti}]");
        if !names.insert(tmpl.name.as_str()) {
            out.push(format!(
                "{tb}.name: template {:?} is defined twice",
                tmpl.name
            ));
        }
        check_template(&mut out, t, tmpl, &tb);
    }
    out
}

fn check_seconds(out: &mut Vec<String>, at: &str, v: &str) {
    if !v.contains("{{") && v.trim().parse::<u64>().is_err() {
        out.push(format!("{at}: {v:?} is not a whole number of seconds"));
    }
}

fn check_ref(out: &mut Vec<String>, t: &WorkflowTemplate, at: &str, template: Option<&str>) {
    match template {
        None => out.push(format!("{at}.template: missing")),
        Some(name) if t.template(name).is_none() => {
            out.push(format!("{at}.template: no template named {name:?}"))
        }
        Some(_) => {}
    }
}

fn check_template(out: &mut Vec<String>, t: &WorkflowTemplate, tmpl: &Template, tb: &str) {
    let kinds: Vec<&str> = [
        ("steps", tmpl.steps.is_some()),
        ("dag", tmpl.dag.is_some()),
        ("script", tmpl.script.is_some()),
        ("container", tmpl.container.is_some()),
        ("suspend", tmpl.suspend.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, present)| present.then_some(k))
    .collect();
    if kinds.len() != 1 {
        // With no supported kind, an unsupported one (resource, http …) was
        // already named; only say more when nothing explains it.
        if !(kinds.is_empty()
            && t.local_unsupported()
                .iter()
                .any(|p| p.starts_with(&format!("{tb}."))))
        {
            out.push(format!(
                "{tb}: a template needs exactly one of steps, dag, script, container, suspend (found {})",
                if kinds.is_empty() { "none".to_string() } else { kinds.join(", ") }
            ));
        }
    }
    let is_leaf = tmpl.script.is_some() || tmpl.container.is_some();
    if let Some(r) = &tmpl.retry_strategy {
        if !is_leaf {
            out.push(format!(
                "{tb}.retryStrategy on a {} template is not supported by the local executor",
                kinds.join("/")
            ));
        }
        if let Some(l) = &r.limit {
            check_seconds(out, &format!("{tb}.retryStrategy.limit"), &l.0);
        }
        if let Some(p) = r.retry_policy.as_deref()
            && !matches!(p, "Always" | "OnFailure" | "OnError" | "OnTransientError")
        {
            out.push(format!(
                "{tb}.retryStrategy.retryPolicy: unknown policy {p:?}"
            ));
        }
        if let Some(b) = &r.backoff {
            for (field, v) in [("duration", &b.duration), ("maxDuration", &b.max_duration)] {
                if let Some(v) = v.as_ref().filter(|v| !v.0.contains("{{"))
                    && let Err(e) = parse_duration(&v.0)
                {
                    out.push(format!("{tb}.retryStrategy.backoff.{field}: {e}"));
                }
            }
            if let Some(f) = b.factor.as_ref().filter(|f| !f.0.contains("{{"))
                && f.0
                    .parse::<f64>()
                    .map(|x| x < 0.0 || !x.is_finite())
                    .unwrap_or(true)
            {
                out.push(format!(
                    "{tb}.retryStrategy.backoff.factor: {:?} is not a number",
                    f.0
                ));
            }
        }
    }
    if let Some(d) = &tmpl.active_deadline_seconds {
        if is_leaf || tmpl.suspend.is_some() {
            check_seconds(out, &format!("{tb}.activeDeadlineSeconds"), &d.0);
        } else {
            out.push(format!("{tb}.activeDeadlineSeconds on a {} template is not supported by the local executor", kinds.join("/")));
        }
    }
    if let Some(s) = tmpl.suspend.as_ref().and_then(|s| s.duration.as_ref())
        && !s.0.contains("{{")
        && let Err(e) = parse_duration(&s.0)
    {
        out.push(format!("{tb}.suspend.duration: {e}"));
    }
    for (field, p) in [("script", &tmpl.script), ("container", &tmpl.container)] {
        if let Some(p) = p {
            if field == "container" && p.command.is_empty() {
                out.push(format!(
                    "{tb}.container.command: missing; the local executor ignores the image, so it cannot use the image's entrypoint"
                ));
            }
            if field == "script" && p.source.is_none() {
                out.push(format!("{tb}.script.source: missing"));
            }
            for (ei, e) in p.env.iter().enumerate() {
                if e.value.is_none() && e.extra.is_empty() {
                    out.push(format!("{tb}.{field}.env[{ei}] ({}): no value", e.name));
                }
            }
        }
    }
    for (oi, o) in tmpl.outputs.parameters.iter().enumerate() {
        let ob = format!("{tb}.outputs.parameters[{oi}]");
        let from_path = o.value_from.as_ref().and_then(|v| v.path.as_ref());
        let from_param = o.value_from.as_ref().and_then(|v| v.parameter.as_ref());
        if from_path.is_some() && !is_leaf {
            out.push(format!(
                "{ob}.valueFrom.path: only script and container templates write files"
            ));
        }
        if from_param.is_some() && is_leaf {
            out.push(format!(
                "{ob}.valueFrom.parameter: only steps and dag templates can lift a child's output"
            ));
        }
        if o.value.is_none()
            && from_path.is_none()
            && from_param.is_none()
            && o.value_from.as_ref().is_none_or(|v| v.extra.is_empty())
        {
            out.push(format!(
                "{ob} ({}): needs value, valueFrom.path or valueFrom.parameter",
                o.name
            ));
        }
    }
    if let Some(groups) = &tmpl.steps {
        for (gi, group) in groups.iter().enumerate() {
            for (si, step) in group.iter().enumerate() {
                let sb = format!("{tb}.steps[{gi}][{si}]");
                check_ref(out, t, &sb, step.template.as_deref());
                if step.with_items.is_some() && step.with_param.is_some() {
                    out.push(format!(
                        "{sb}: withItems and withParam cannot be used together"
                    ));
                }
                if let Some(w) = step.when.as_deref().filter(|w| !w.contains("{{"))
                    && let Err(e) = expr::parse(w)
                {
                    out.push(format!("{sb}.when: {e}"));
                }
            }
        }
    }
    if let Some(dag) = &tmpl.dag {
        let names: BTreeMap<&str, usize> = dag
            .tasks
            .iter()
            .enumerate()
            .map(|(i, k)| (k.name.as_str(), i))
            .collect();
        if names.len() != dag.tasks.len() {
            out.push(format!("{tb}.dag.tasks: task names must be unique"));
        }
        for (ki, task) in dag.tasks.iter().enumerate() {
            let kb = format!("{tb}.dag.tasks[{ki}]");
            check_ref(out, t, &kb, task.template.as_deref());
            if task.with_items.is_some() && task.with_param.is_some() {
                out.push(format!(
                    "{kb}: withItems and withParam cannot be used together"
                ));
            }
            for (di, d) in task.dependencies.iter().enumerate() {
                if !names.contains_key(d.as_str()) {
                    out.push(format!("{kb}.dependencies[{di}]: no task named {d:?}"));
                }
            }
            if let Some(dep) = &task.depends {
                match expr::parse(dep) {
                    Err(e) => out.push(format!("{kb}.depends: {e}")),
                    Ok(e) if e.has_comparison() => {
                        out.push(format!("{kb}.depends: comparisons are not allowed here"))
                    }
                    Ok(e) => {
                        for atom in e.atoms() {
                            let (task_name, result) = split_depends_atom(atom);
                            if !names.contains_key(task_name) {
                                out.push(format!("{kb}.depends: no task named {task_name:?}"));
                            }
                            if let Some(r) = result.filter(|r| !DEPENDS_RESULTS.contains(r)) {
                                out.push(format!(
                                    "{kb}.depends: unsupported task result .{r} (supported: {})",
                                    DEPENDS_RESULTS.join(", ")
                                ));
                            }
                        }
                    }
                }
            }
        }
        if let Some(cycle) = find_cycle(dag) {
            out.push(format!("{tb}.dag: dependency cycle through task {cycle:?}"));
        }
    }
}

/// `task.Result` → (`task`, Some(`Result`)); `task` → (`task`, None).
pub(crate) fn split_depends_atom(atom: &str) -> (&str, Option<&str>) {
    match atom.rsplit_once('.') {
        Some((t, r)) => (t, Some(r)),
        None => (atom, None),
    }
}

/// Names of the tasks a task waits for (`dependencies` and `depends` operands).
pub(crate) fn task_deps(task: &crate::template::DagTask) -> Vec<String> {
    let mut deps: Vec<String> = task.dependencies.clone();
    if let Some(e) = task.depends.as_deref().and_then(|d| expr::parse(d).ok()) {
        for a in e.atoms() {
            let name = split_depends_atom(a).0.to_string();
            if !deps.contains(&name) {
                deps.push(name);
            }
        }
    }
    deps
}

fn find_cycle(dag: &crate::template::Dag) -> Option<String> {
    let deps: BTreeMap<&str, Vec<String>> = dag
        .tasks
        .iter()
        .map(|t| (t.name.as_str(), task_deps(t)))
        .collect();
    // Kahn's algorithm: whatever cannot be ordered sits on (or behind) a cycle.
    let mut done: HashSet<&str> = HashSet::new();
    loop {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, ds)| {
                !done.contains(*n)
                    && ds
                        .iter()
                        .all(|d| done.contains(d.as_str()) || !deps.contains_key(d.as_str()))
            })
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            break;
        }
        done.extend(ready);
    }
    deps.keys()
        .find(|n| !done.contains(*n))
        .map(|n| n.to_string())
}

/// Resolves the workflow's parameters: given values override `value`, then
/// `default`; a declared parameter with none of them is an error. Parameters
/// given but not declared are kept, because SPEC §5 passes the same arguments to
/// every promotion workflow whether it declares them or not.
pub(crate) fn workflow_parameters(
    t: &WorkflowTemplate,
    given: &Parameters,
) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut values: BTreeMap<String, String> = given.clone();
    let mut errors = Vec::new();
    for (i, p) in t.spec.arguments.parameters.iter().enumerate() {
        let at = format!("spec.arguments.parameters[{i}] ({})", p.name);
        let v = given
            .get(&p.name)
            .cloned()
            .or_else(|| p.value.as_ref().map(|s| s.0.clone()))
            .or_else(|| p.default.as_ref().map(|s| s.0.clone()));
        match v {
            None => errors.push(format!("{at}: required workflow parameter has no value")),
            Some(v) => {
                if let Some(allowed) = &p.allowed
                    && !allowed.iter().any(|a| a.0 == v)
                {
                    errors.push(format!(
                        "{at}: value {v:?} is not one of the allowed values"
                    ));
                }
                values.insert(p.name.clone(), v);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}
