//! Outputs: what a finished child makes visible to its siblings
//! (`{{steps.X.…}}`, `{{tasks.X.…}}`, aggregated for fan-outs), and the
//! output parameters of steps, dag and suspend templates.

use super::*;
use crate::exprlang::{self, Value};

/// Makes a finished child's outputs visible as `{{prefix.NAME.…}}`.
pub(super) fn record_child(scope: &mut Scope, prefix: &str, name: &str, r: &NodeResult) {
    let base = format!("{prefix}.{name}");
    for (k, v) in &r.outputs {
        scope.insert(format!("{base}.outputs.parameters.{k}"), v.clone());
    }
    if let Some(res) = &r.result {
        scope.insert(format!("{base}.outputs.result"), res.clone());
    }
    if let Some(a) = &r.aggregate {
        // Argo: the results of the items that succeeded, as a JSON list
        // (each result read as JSON when it is JSON), the items' output
        // parameters as a list of maps, and each parameter as a list.
        let results = a
            .results
            .iter()
            .map(|t| {
                serde_json::from_str(t).unwrap_or_else(|_| serde_json::Value::String(t.clone()))
            })
            .map(|v| Value::from_json(&v))
            .collect();
        scope.insert(
            format!("{base}.outputs.result"),
            Value::Array(results).to_go_json(),
        );
        let maps = a
            .params
            .iter()
            .map(|m| {
                Value::Map(
                    m.iter()
                        .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                        .collect(),
                )
            })
            .collect();
        scope.insert(
            format!("{base}.outputs.parameters"),
            Value::Array(maps).to_go_json(),
        );
        let mut by_name: BTreeMap<&str, Vec<Value>> = BTreeMap::new();
        for m in &a.params {
            for (k, v) in m {
                by_name.entry(k).or_default().push(Value::Str(v.clone()));
            }
        }
        for (k, vs) in by_name {
            scope.insert(
                format!("{base}.outputs.parameters.{k}"),
                Value::Array(vs).to_go_json(),
            );
        }
    }
    if let Some(c) = r.exit_code {
        scope.insert(format!("{base}.exitCode"), c.to_string());
    }
    scope.insert(format!("{base}.status"), r.phase.as_str().to_string());
    scope.insert(format!("{base}.id"), base.clone());
    for (field, t) in [("startedAt", r.started), ("finishedAt", r.finished)] {
        if let Some(t) = t {
            scope.insert(format!("{base}.{field}"), t.to_rfc3339_seconds());
        }
    }
}

/// Output parameters of a steps, dag or suspend template: `value`,
/// `valueFrom.parameter` or `valueFrom.expression` (with `valueFrom.default`
/// when they cannot be resolved).
pub(super) fn lifted_outputs(
    ctx: &Ctx,
    tref: &TemplateRef,
    scope: &Scope,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (oi, p) in tref.tmpl.outputs.parameters.iter().enumerate() {
        let at = format!("{}.outputs.parameters[{oi}]", tref.at);
        let vf = p.value_from.as_ref();
        let v = if let Some(src) = vf.and_then(|v| v.parameter.as_ref()) {
            ctx.subst(scope, &format!("{at}.valueFrom.parameter"), src)
        } else if let Some(e) = vf.and_then(|v| v.expression.as_ref()) {
            let at = format!("{at}.valueFrom.expression");
            ctx.eval(scope, &at, e)
                .and_then(|v| exprlang::render(&v).map_err(|e| format!("{at}: {e}")))
        } else if let Some(v) = &p.value {
            ctx.subst(scope, &format!("{at}.value"), &v.0)
        } else {
            continue;
        };
        let v = match v {
            Ok(v) => v,
            Err(e) => match vf.and_then(|v| v.default.as_ref()) {
                Some(d) => d.0.clone(),
                None => return Err(e),
            },
        };
        out.insert(p.name.clone(), v);
    }
    Ok(out)
}

pub(super) fn finish_with_outputs(ctx: &Ctx, tref: &TemplateRef, scope: &Scope) -> NodeResult {
    match lifted_outputs(ctx, tref, scope) {
        Ok(outputs) => NodeResult {
            outputs,
            ..NodeResult::success()
        },
        Err(e) => NodeResult::error(e),
    }
}
