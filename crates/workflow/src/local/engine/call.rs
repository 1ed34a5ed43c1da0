//! Calling a template from a step or a DAG task: `when`, arguments, and the
//! `withItems`/`withParam` fan-out.

use super::*;

/// What steps and DAG tasks have in common: how to call a template.
pub(super) struct Call<'a> {
    /// Field path of the step or task, for messages.
    at: String,
    path: String,
    name: &'a str,
    template: Option<&'a str>,
    arguments: &'a Arguments,
    when: Option<&'a str>,
    with_items: Option<&'a Vec<serde_json::Value>>,
    with_param: Option<&'a str>,
}

impl<'a> Call<'a> {
    pub(super) fn step(at: String, path: String, s: &'a WorkflowStep) -> Self {
        Call {
            at,
            path,
            name: &s.name,
            template: s.template.as_deref(),
            arguments: &s.arguments,
            when: s.when.as_deref(),
            with_items: s.with_items.as_ref(),
            with_param: s.with_param.as_deref(),
        }
    }

    pub(super) fn task(at: String, path: String, t: &'a DagTask) -> Self {
        Call {
            at,
            path,
            name: &t.name,
            template: t.template.as_deref(),
            arguments: &t.arguments,
            when: t.when.as_deref(),
            with_items: t.with_items.as_ref(),
            with_param: t.with_param.as_deref(),
        }
    }
}

/// Text of a fan-out item as `{{item}}` sees it: scalars as themselves,
/// lists and maps as compact JSON.
fn item_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The items of `withItems`/`withParam`; `None` when the call has neither.
fn fan_out(ctx: &Ctx, scope: &Scope, c: &Call) -> Result<Option<Vec<serde_json::Value>>, String> {
    if let Some(items) = c.with_items {
        return Ok(Some(items.clone()));
    }
    let Some(param) = c.with_param else {
        return Ok(None);
    };
    let text = ctx.subst(scope, &format!("{}.withParam", c.at), param)?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Array(items)) => Ok(Some(items)),
        _ => Err(format!("{}.withParam: {text:?} is not a JSON list", c.at)),
    }
}

/// Either the call was settled without running (skipped, invalid — already
/// published), or here is the future that runs it.
pub(super) enum Launch {
    Settled(NodeResult),
    Running(BoxFuture),
}

/// Evaluates `when` and the arguments of one invocation in `scope`.
fn launch_one(ctx: &Arc<Ctx>, scope: &Scope, c: &Call, path: String, display: String) -> Launch {
    let ready = check_when(ctx, scope, &c.at, c.when).and_then(|go| {
        if go {
            resolve_args(ctx, scope, &c.at, c.arguments).map(Some)
        } else {
            Ok(None)
        }
    });
    let settled = match ready {
        Err(e) => NodeResult::error(e),
        Ok(None) => NodeResult::new(
            StepStatus::Skipped,
            NodePhase::Skipped,
            Some("when condition was false".into()),
        ),
        Ok(Some(args)) => {
            let tname = c.template.unwrap_or_default().to_string();
            return Launch::Running(run_template(ctx.clone(), tname, args, path, display));
        }
    };
    Launch::Settled(settle_child(ctx, path, &display, c.template, settled))
}

/// Starts a step or task, fanned out over its items if it has any. A fanned
/// out call runs every item in parallel (`name(0:a)`, `name(1:b)` …) and
/// succeeds when all of them do.
pub(super) fn launch(ctx: &Arc<Ctx>, scope: &Scope, c: &Call) -> Launch {
    let items = match fan_out(ctx, scope, c) {
        Err(e) => {
            let r = NodeResult::error(e);
            return Launch::Settled(settle_child(ctx, c.path.clone(), c.name, c.template, r));
        }
        Ok(None) => return launch_one(ctx, scope, c, c.path.clone(), c.name.to_string()),
        Ok(Some(items)) => items,
    };
    let mut settled: Vec<(String, NodeResult)> = Vec::new();
    let mut running: Vec<(String, BoxFuture)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut item_scope = scope.clone();
        item_scope.insert("item".into(), item_text(item));
        if let serde_json::Value::Object(fields) = item {
            for (k, v) in fields {
                item_scope.insert(format!("item.{k}"), item_text(v));
            }
        }
        let label = format!("({i}:{})", item_text(item));
        let display = format!("{}{label}", c.name);
        match launch_one(
            ctx,
            &item_scope,
            c,
            format!("{}{label}", c.path),
            display.clone(),
        ) {
            Launch::Settled(r) => settled.push((display, r)),
            Launch::Running(f) => running.push((display, f)),
        }
    }
    Launch::Running(Box::pin(async move {
        let mut set = JoinSet::new();
        for (display, f) in running {
            set.spawn(async move { (display, f.await) });
        }
        let mut results = settled;
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(r) => results.push(r),
                Err(e) => results.push((
                    String::new(),
                    NodeResult::error(format!("internal error: {e}")),
                )),
            }
        }
        if let Some(bad) = worst(results.iter().map(|(n, r)| (n.as_str(), r))) {
            return bad;
        }
        if !results.is_empty() && results.iter().all(|(_, r)| r.status == StepStatus::Skipped) {
            return NodeResult::new(StepStatus::Skipped, NodePhase::Skipped, None);
        }
        NodeResult::success()
    }))
}
