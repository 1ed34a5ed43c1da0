//! Checks made before a local run starts anything: the subset of SPEC §5, template
//! references, DAG expressions, and workflow parameters. Problems come back as
//! messages naming the field, and the run ends in ERROR with all of them.

use std::collections::{BTreeMap, HashSet};

use std::collections::BTreeMap as Map;

use serde_json::Value;

use crate::duration::parse_duration;
use crate::runner::Parameters;
use crate::template::{LifecycleHook, Template, WorkflowTemplate};
use crate::{expr, exprlang, subst};

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
    if let Some(p) = &t.spec.parallelism {
        check_seconds(&mut out, "spec.parallelism", &p.0);
    }
    check_hooks(&mut out, t, "spec", &t.spec.hooks);
    check_expression_tags(&mut out, "spec", &t.spec_json);
    let mut names = HashSet::new();
    for (ti, tmpl) in t.spec.templates.iter().enumerate() {
        let tb = format!("spec.templates[{ti}]");
        if tmpl.name.is_empty() {
            out.push(format!("{tb}.name: missing"));
        } else if !names.insert(tmpl.name.as_str()) {
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
        out.push(format!("{at}: {v:?} is not a whole number"));
    }
}

/// Every `{{=…}}` in any string of the spec parses and calls known
/// functions: found before anything runs, not when the step gets there.
fn check_expression_tags(out: &mut Vec<String>, at: &str, v: &Value) {
    match v {
        Value::String(s) => {
            for (is_expr, text) in subst::tags(s) {
                if is_expr && let Err(e) = exprlang::check(text) {
                    out.push(format!("{at}: {{{{={}}}}}: {e}", text.trim()));
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_expression_tags(out, &format!("{at}[{i}]"), item);
            }
        }
        Value::Object(m) => {
            for (k, item) in m {
                check_expression_tags(out, &format!("{at}.{k}"), item);
            }
        }
        _ => {}
    }
}

/// A `when` as it will be after substitution: each `{{…}}` replaced by a
/// word, so its syntax is checked before anything runs.
fn check_when(out: &mut Vec<String>, at: &str, when: &str) {
    if let Err(e) = expr::parse(&placeholders(when)) {
        out.push(format!("{at}.when: {when:?}: {e}"));
    }
}

/// `text` with each `{{…}}` replaced by the word `x`.
fn placeholders(when: &str) -> String {
    let mut text = String::new();
    let mut rest = when;
    while let Some(start) = rest.find("{{") {
        text.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                text.push('x');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    text.push_str(rest);
    text
}

fn check_expression(out: &mut Vec<String>, at: &str, src: &str) {
    // `{{…}}` inside is substituted first; check the rest around a stand-in.
    if let Err(e) = exprlang::check(&placeholders(src)) {
        out.push(format!("{at}: {src:?}: {e}"));
    }
}

fn check_hooks(
    out: &mut Vec<String>,
    t: &WorkflowTemplate,
    at: &str,
    hooks: &Map<String, LifecycleHook>,
) {
    for (name, h) in hooks {
        let hb = format!("{at}.hooks.{name}");
        check_ref(out, t, &hb, h.template.as_deref());
        match &h.expression {
            Some(e) => check_expression(out, &format!("{hb}.expression"), e),
            None if name != "exit" => out.push(format!(
                "{hb}.expression: missing (only the exit hook runs without one)"
            )),
            None => {}
        }
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
        if let Some(e) = &r.expression {
            check_expression(out, &format!("{tb}.retryStrategy.expression"), e);
        }
        if let Some(b) = &r.backoff {
            for (field, v) in [
                ("duration", &b.duration),
                ("maxDuration", &b.max_duration),
                ("cap", &b.cap),
            ] {
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
    if let Some(to) = tmpl.timeout.as_ref().filter(|t| !t.contains("{{")) {
        if !(is_leaf || tmpl.suspend.is_some()) {
            out.push(format!(
                "{tb}.timeout: only script, container and suspend templates have a timeout"
            ));
        } else if let Err(e) = parse_duration(to) {
            out.push(format!("{tb}.timeout: {e}"));
        }
    }
    if let Some(p) = &tmpl.parallelism {
        check_seconds(out, &format!("{tb}.parallelism"), &p.0);
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
        let from_expr = o.value_from.as_ref().and_then(|v| v.expression.as_ref());
        let supplied = o.value_from.as_ref().is_some_and(|v| v.supplied.is_some());
        if let Some(e) = from_expr {
            check_expression(out, &format!("{ob}.valueFrom.expression"), e);
        }
        if supplied && tmpl.suspend.is_none() {
            out.push(format!(
                "{ob}.valueFrom.supplied: only suspend templates take supplied values"
            ));
        }
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
            && from_expr.is_none()
            && !supplied
            && o.value_from.as_ref().is_none_or(|v| v.extra.is_empty())
        {
            out.push(format!(
                "{ob} ({}): needs value or valueFrom (path, parameter, expression, supplied)",
                o.name
            ));
        }
    }
    if let Some(groups) = &tmpl.steps {
        for (gi, group) in groups.iter().enumerate() {
            for (si, step) in group.iter().enumerate() {
                let sb = format!("{tb}.steps[{gi}][{si}]");
                check_call(
                    out,
                    t,
                    &sb,
                    step.template.as_deref(),
                    step.inline.as_deref(),
                    [
                        step.with_items.is_some(),
                        step.with_param.is_some(),
                        step.with_sequence.is_some(),
                    ],
                );
                if let Some(w) = step.when.as_deref() {
                    check_when(out, &sb, w);
                }
                check_hooks(out, t, &sb, &step.hooks);
                if let Some(e) = &step.on_exit {
                    check_ref(out, t, &format!("{sb}.onExit"), Some(e));
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
            check_call(
                out,
                t,
                &kb,
                task.template.as_deref(),
                task.inline.as_deref(),
                [
                    task.with_items.is_some(),
                    task.with_param.is_some(),
                    task.with_sequence.is_some(),
                ],
            );
            if let Some(w) = task.when.as_deref() {
                check_when(out, &kb, w);
            }
            check_hooks(out, t, &kb, &task.hooks);
            if let Some(e) = &task.on_exit {
                check_ref(out, t, &format!("{kb}.onExit"), Some(e));
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
        if let Some(target) = dag.target.as_deref().filter(|t| !t.contains("{{")) {
            for name in target.split_whitespace() {
                if !names.contains_key(name) {
                    out.push(format!("{tb}.dag.target: no task named {name:?}"));
                }
            }
        }
        if let Some(cycle) = find_cycle(dag) {
            out.push(format!("{tb}.dag: dependency cycle through task {cycle:?}"));
        }
    }
}

/// The template a step or task calls (by name or inline) and its fan-out.
fn check_call(
    out: &mut Vec<String>,
    t: &WorkflowTemplate,
    at: &str,
    template: Option<&str>,
    inline: Option<&Template>,
    fan_outs: [bool; 3],
) {
    match (template, inline) {
        (Some(_), Some(_)) => {
            out.push(format!("{at}: template and inline cannot be used together"))
        }
        (None, Some(i)) => check_template(out, t, i, &format!("{at}.inline")),
        _ => check_ref(out, t, at, template),
    }
    if fan_outs.iter().filter(|f| **f).count() > 1 {
        out.push(format!(
            "{at}: use only one of withItems, withParam, withSequence"
        ));
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
