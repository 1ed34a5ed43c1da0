//! Variables: the workflow's (`{{workflow.*}}`), a node's scope
//! (`{{inputs.parameters.*}}`, `{{steps.*}}`, `{{tasks.*}}`, `{{item}}` …),
//! `{{…}}` substitution and `{{=…}}` expressions over both.

use super::*;
use crate::exprlang::{self, Env, Value};
use crate::subst::substitute;

impl Ctx {
    pub(super) fn lookup(&self, scope: &Scope, key: &str) -> Option<String> {
        if let Some(v) = scope.get(key).or_else(|| self.workflow_vars.get(key)) {
            return Some(v.clone());
        }
        match key {
            "workflow.status" => return Some(lock(&self.workflow_status).to_string()),
            // Argo: elapsed seconds as Go's `%f`.
            "workflow.duration" => {
                return Some(format!("{:.6}", self.started.elapsed().as_secs_f64()));
            }
            // Argo: the failed nodes as a JSON list, `null` when there are none.
            "workflow.failures" => {
                let f = lock(&self.failures);
                return Some(if f.is_empty() {
                    "null".into()
                } else {
                    serde_json::Value::Array(f.clone()).to_string()
                });
            }
            _ => {}
        }
        let g = key.strip_prefix("workflow.outputs.parameters.")?;
        lock(&self.globals).get(g).cloned()
    }

    pub(super) fn subst(&self, scope: &Scope, at: &str, text: &str) -> Result<String, String> {
        substitute(text, &|k| self.lookup(scope, k), &|e| {
            exprlang::eval(e, &View { ctx: self, scope })
                .and_then(|v| exprlang::render(&v))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| format!("{at}: {e}"))
    }

    /// Evaluates an expression (`valueFrom.expression`, hooks, retries).
    pub(super) fn eval(&self, scope: &Scope, at: &str, src: &str) -> Result<Value, String> {
        exprlang::eval(src, &View { ctx: self, scope }).map_err(|e| format!("{at}: {src:?}: {e}"))
    }
}

/// A node's scope and the workflow's variables, as an expression sees them.
struct View<'a> {
    ctx: &'a Ctx,
    scope: &'a Scope,
}

impl Env for View<'_> {
    fn get(&self, path: &str) -> Option<Value> {
        self.ctx.lookup(self.scope, path).map(Value::Str)
    }

    fn children(&self, prefix: &str) -> Vec<(String, Value)> {
        let p = format!("{prefix}.");
        let globals = lock(&self.ctx.globals)
            .iter()
            .map(|(k, v)| (format!("workflow.outputs.parameters.{k}"), v.clone()))
            .collect::<Vec<_>>();
        let mut seen = HashSet::new();
        self.scope
            .iter()
            .chain(self.ctx.workflow_vars.iter())
            .map(|(k, v)| (k.clone(), v.clone()))
            .chain(globals)
            .filter_map(|(k, v)| {
                let rest = k.strip_prefix(&p)?.to_string();
                seen.insert(rest.clone()).then_some((rest, Value::Str(v)))
            })
            .collect()
    }
}

/// `[{"name": …, "value": …}]`, Argo's JSON form of a parameter list.
fn params_json<'a>(pairs: impl Iterator<Item = (&'a String, &'a String)>) -> String {
    serde_json::Value::Array(
        pairs
            .map(|(n, v)| serde_json::json!({"name": n, "value": v}))
            .collect(),
    )
    .to_string()
}

/// The `{{workflow.*}}` variables fixed for the whole run.
pub(super) fn workflow_vars(
    wt: &WorkflowTemplate,
    id: &str,
    started: Timestamp,
    values: &BTreeMap<String, String>,
) -> Scope {
    let mut vars: Scope = values
        .iter()
        .map(|(k, v)| (format!("workflow.parameters.{k}"), v.clone()))
        .collect();
    let declared: Vec<(&String, &String)> = wt
        .spec
        .arguments
        .parameters
        .iter()
        .filter_map(|p| values.get_key_value(&p.name))
        .collect();
    let all = params_json(declared.into_iter());
    vars.insert("workflow.parameters".into(), all.clone());
    vars.insert("workflow.parameters.json".into(), all);
    vars.insert("workflow.name".into(), id.to_string());
    vars.insert("workflow.uid".into(), id.to_string());
    vars.insert("workflow.namespace".into(), "local".into());
    if let Some(e) = &wt.spec.entrypoint {
        vars.insert("workflow.mainEntrypoint".into(), e.clone());
    }
    for (field, key) in [
        ("serviceAccountName", "workflow.serviceAccountName"),
        ("priority", "workflow.priority"),
    ] {
        if let Some(v) = wt.spec.extra.get(field) {
            vars.insert(
                key.into(),
                v.as_str()
                    .map(String::from)
                    .unwrap_or_else(|| v.to_string()),
            );
        }
    }
    for (kind, map) in [("labels", &wt.labels), ("annotations", &wt.annotations)] {
        for (k, v) in map {
            vars.insert(format!("workflow.{kind}.{k}"), v.clone());
        }
        let json = serde_json::to_string(map).unwrap_or_default();
        vars.insert(format!("workflow.{kind}"), json.clone());
        vars.insert(format!("workflow.{kind}.json"), json);
    }
    // Argo's creationTimestamp is RFC 3339 to the second.
    let rfc3339 = started.to_rfc3339_seconds();
    vars.insert("workflow.creationTimestamp".into(), rfc3339.clone());
    vars.insert("workflow.creationTimestamp.RFC3339".into(), rfc3339);
    vars.insert(
        "workflow.creationTimestamp.s".into(),
        started.utc().unix_timestamp().to_string(),
    );
    // strftime characters, as Argo's `workflow.creationTimestamp.<c>`.
    for (ch, layout) in [
        ("Y", "2006"),
        ("y", "06"),
        ("m", "01"),
        ("d", "02"),
        ("e", "_2"),
        ("H", "15"),
        ("I", "03"),
        ("M", "04"),
        ("S", "05"),
        ("p", "PM"),
        ("b", "Jan"),
        ("B", "January"),
        ("a", "Mon"),
        ("A", "Monday"),
        ("j", "002"),
    ] {
        vars.insert(
            format!("workflow.creationTimestamp.{ch}"),
            exprlang::format_go_layout(layout, started),
        );
    }
    vars
}

/// Input parameters of a template invocation: passed argument, else `value`,
/// else `default`; none of them is an ERROR naming the parameter.
pub(super) fn resolve_inputs(
    ctx: &Ctx,
    tref: &TemplateRef,
    args: &BTreeMap<String, String>,
) -> Result<Scope, String> {
    let mut scope = Scope::new();
    let empty = Scope::new();
    let mut pairs = Vec::new();
    for (pi, p) in tref.tmpl.inputs.parameters.iter().enumerate() {
        let at = format!("{}.inputs.parameters[{pi}] ({})", tref.at, p.name);
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
        scope.insert(format!("inputs.parameters.{}", p.name), v.clone());
        pairs.push((p.name.clone(), v));
    }
    scope.insert(
        "inputs.parameters".into(),
        params_json(pairs.iter().map(|(a, b)| (a, b))),
    );
    for p in &tref.tmpl.outputs.parameters {
        if let Some(path) = p.value_from.as_ref().and_then(|v| v.path.as_ref()) {
            scope.insert(format!("outputs.parameters.{}.path", p.name), path.clone());
        }
    }
    Ok(scope)
}

/// Substitutes a step's or task's argument values.
pub(super) fn resolve_args(
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
pub(super) fn check_when(
    ctx: &Ctx,
    scope: &Scope,
    at: &str,
    when: Option<&str>,
) -> Result<bool, String> {
    match when {
        None => Ok(true),
        Some(w) => {
            let text = ctx.subst(scope, &format!("{at}.when"), w)?;
            expr::eval_when(&text).map_err(|e| format!("{at}.when: {text:?}: {e}"))
        }
    }
}
