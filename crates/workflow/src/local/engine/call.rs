//! Calling a template from a step or a DAG task: `when`, arguments, inline
//! templates, the `withItems`/`withParam`/`withSequence` fan-out, the
//! parent's `parallelism` and `failFast`, and the call's hooks.

use super::hooks::{HookSet, run_with_hooks};
use super::scope::{check_when, resolve_args};
use super::*;
use crate::exprlang::sprintf_int;
use crate::template::Sequence;

/// What steps and DAG tasks have in common: how to call a template.
pub(super) struct Call<'a> {
    /// Field path of the step or task, for messages.
    at: String,
    path: String,
    name: &'a str,
    template: Option<&'a str>,
    inline: Option<&'a Template>,
    arguments: &'a Arguments,
    when: Option<&'a str>,
    with_items: Option<&'a Vec<serde_json::Value>>,
    with_param: Option<&'a str>,
    with_sequence: Option<&'a Sequence>,
    hooks: HookSet,
}

impl<'a> Call<'a> {
    pub(super) fn step(at: String, path: String, s: &'a WorkflowStep) -> Self {
        Call {
            hooks: HookSet {
                at: at.clone(),
                prefix: "steps",
                name: s.name.clone(),
                hooks: s.hooks.clone(),
                on_exit: s.on_exit.clone(),
            },
            at,
            path,
            name: &s.name,
            template: s.template.as_deref(),
            inline: s.inline.as_deref(),
            arguments: &s.arguments,
            when: s.when.as_deref(),
            with_items: s.with_items.as_ref(),
            with_param: s.with_param.as_deref(),
            with_sequence: s.with_sequence.as_ref(),
        }
    }

    pub(super) fn task(at: String, path: String, t: &'a DagTask) -> Self {
        Call {
            hooks: HookSet {
                at: at.clone(),
                prefix: "tasks",
                name: t.name.clone(),
                hooks: t.hooks.clone(),
                on_exit: t.on_exit.clone(),
            },
            at,
            path,
            name: &t.name,
            template: t.template.as_deref(),
            inline: t.inline.as_deref(),
            arguments: &t.arguments,
            when: t.when.as_deref(),
            with_items: t.with_items.as_ref(),
            with_param: t.with_param.as_deref(),
            with_sequence: t.with_sequence.as_ref(),
        }
    }

    fn template_name(&self) -> Option<&str> {
        self.template.or(self.inline.map(|_| "inline"))
    }

    fn resolve(&self, ctx: &Ctx) -> Result<TemplateRef, String> {
        if let Some(t) = self.inline {
            return Ok(TemplateRef {
                at: format!("{}.inline", self.at),
                tmpl: Arc::new(t.clone()),
            });
        }
        let name = self.template.unwrap_or_default();
        ctx.template(name)
            .ok_or_else(|| format!("{}.template: no template named {name:?}", self.at))
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

/// Argo's `withSequence`: `start` (default 0) to `end` inclusive, counting
/// down when `end` is below `start`, or `count` numbers from `start`; each
/// formatted with `format` (`%d`).
fn sequence(
    ctx: &Ctx,
    scope: &Scope,
    at: &str,
    q: &Sequence,
) -> Result<Vec<serde_json::Value>, String> {
    let num = |field: &str, v: &crate::template::IntOrString| -> Result<i64, String> {
        let t = ctx.subst(scope, &format!("{at}.{field}"), &v.0)?;
        t.trim()
            .parse()
            .map_err(|_| format!("{at}.{field}: {t:?} is not a whole number"))
    };
    let start = q
        .start
        .as_ref()
        .map(|s| num("start", s))
        .transpose()?
        .unwrap_or(0);
    let end = match (&q.end, &q.count) {
        (Some(e), _) => num("end", e)?,
        (None, Some(c)) => {
            let c = num("count", c)?;
            if c <= 0 {
                return Ok(Vec::new());
            }
            start + c - 1
        }
        (None, None) => return Err(format!("{at}: needs end or count")),
    };
    if start.abs_diff(end) > 100_000 {
        return Err(format!("{at}: more than 100000 items"));
    }
    let format = q.format.as_deref().unwrap_or("%d");
    let numbers: Vec<i64> = if start <= end {
        (start..=end).collect()
    } else {
        (end..=start).rev().collect()
    };
    numbers
        .into_iter()
        .map(|n| {
            sprintf_int(format, n)
                .map(serde_json::Value::String)
                .map_err(|e| format!("{at}.format: {e}"))
        })
        .collect()
}

/// The items of the fan-out; `None` when the call has none.
fn fan_out(ctx: &Ctx, scope: &Scope, c: &Call) -> Result<Option<Vec<serde_json::Value>>, String> {
    if let Some(items) = c.with_items {
        return Ok(Some(items.clone()));
    }
    if let Some(q) = c.with_sequence {
        return sequence(ctx, scope, &format!("{}.withSequence", c.at), q).map(Some);
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
fn launch_one(
    ctx: &Arc<Ctx>,
    scope: &Scope,
    c: &Call,
    path: String,
    display: String,
    limits: &Limits,
) -> Launch {
    let ready = check_when(ctx, scope, &c.at, c.when).and_then(|go| {
        if go {
            Ok(Some((
                resolve_args(ctx, scope, &c.at, c.arguments)?,
                c.resolve(ctx)?,
            )))
        } else {
            Ok(None)
        }
    });
    let settled = match ready {
        Err(e) => NodeResult::error(e),
        Ok(None) => NodeResult::skipped(NodePhase::Skipped, "when condition was false"),
        Ok(Some((args, tref))) => {
            let ctx = ctx.clone();
            let limits = limits.clone();
            let hooks = c.hooks.clone();
            // Only hooks read the caller's scope after the call.
            let scope = if hooks.is_empty() {
                Scope::new()
            } else {
                scope.clone()
            };
            // Suspend nodes are not children that count against
            // `parallelism` (Argo counts pods, steps and DAGs).
            let slot = limits
                .permits
                .clone()
                .filter(|_| tref.tmpl.suspend.is_none())
                .map(|s| {
                    let t = s.ticket();
                    (s, t)
                });
            return Launch::Running(Box::pin(async move {
                let _permit = match slot {
                    Some((slots, ticket)) => {
                        let mut stop_rx = ctx.run.stop_tx.subscribe();
                        tokio::select! {
                            p = slots.admit(ticket) => p,
                            s = crate::local::stopped(&mut stop_rx) => return NodeResult::stopped(s),
                        }
                    }
                    None => None,
                };
                if limits.failing() {
                    return NodeResult::not_started();
                }
                let run = run_template(ctx.clone(), tref, args, path.clone(), display);
                let r = run_with_hooks(ctx, scope, hooks, path, run).await;
                limits.note(&r);
                r
            }));
        }
    };
    let r = settle_child(ctx, path, &display, c.template_name(), settled);
    limits.note(&r);
    Launch::Settled(r)
}

/// Starts a step or task, fanned out over its items if it has any. A fanned
/// out call runs its items in parallel (`name(0:a)`, `name(1:b)` …, within
/// the parent's `parallelism`) and succeeds when all of them do; its
/// outputs are the items' outputs in item order.
pub(super) fn launch(ctx: &Arc<Ctx>, scope: &Scope, c: &Call, limits: &Limits) -> Launch {
    let items = match fan_out(ctx, scope, c) {
        Err(e) => {
            let r = NodeResult::error(e);
            return Launch::Settled(settle_child(
                ctx,
                c.path.clone(),
                c.name,
                c.template_name(),
                r,
            ));
        }
        Ok(None) => return launch_one(ctx, scope, c, c.path.clone(), c.name.to_string(), limits),
        Ok(Some(items)) => items,
    };
    let mut slots: Vec<(String, Launch)> = Vec::new();
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
        let l = launch_one(
            ctx,
            &item_scope,
            c,
            format!("{}{label}", c.path),
            display.clone(),
            limits,
        );
        slots.push((display, l));
    }
    Launch::Running(Box::pin(async move {
        let mut set = JoinSet::new();
        let mut results: Vec<Option<(String, NodeResult)>> = Vec::new();
        for (i, (display, l)) in slots.into_iter().enumerate() {
            match l {
                Launch::Settled(r) => results.push(Some((display, r))),
                Launch::Running(f) => {
                    results.push(None);
                    set.spawn(async move { (i, display, f.await) });
                }
            }
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, display, r)) => results[i] = Some((display, r)),
                Err(e) => {
                    return NodeResult::error(format!("internal error: {e}"));
                }
            }
        }
        let results: Vec<(String, NodeResult)> = results
            .into_iter()
            .flatten()
            .filter(|(_, r)| !r.not_started)
            .collect();
        let mut aggregate = Aggregate::default();
        for (_, r) in results
            .iter()
            .filter(|(_, r)| r.status == StepStatus::Success)
        {
            if !r.outputs.is_empty() {
                aggregate.params.push(r.outputs.clone());
            }
            if let Some(res) = &r.result {
                aggregate.results.push(res.clone());
            }
        }
        let mut out = if let Some(bad) = worst(results.iter().map(|(n, r)| (n.as_str(), r))) {
            bad
        } else if !results.is_empty()
            && results.iter().all(|(_, r)| r.status == StepStatus::Skipped)
        {
            NodeResult::new(StepStatus::Skipped, NodePhase::Skipped, None)
        } else {
            NodeResult::success()
        };
        out.aggregate = Some(aggregate);
        out
    }))
}
