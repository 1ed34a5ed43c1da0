//! `suspend` templates: wait for a resume, the duration, or the deadline.
//! A resume may supply the values of `valueFrom.supplied` outputs.

use super::*;

/// An output parameter a resume may supply.
#[derive(Debug, Clone)]
pub(crate) struct Supplied {
    pub(crate) name: String,
    /// Used when the resume gives no value (`valueFrom.default`, else the
    /// default of the input parameter of the same name, as on Argo).
    pub(crate) default: Option<String>,
    /// Allowed values (the `enum` of the input parameter of the same name).
    pub(crate) allowed: Option<Vec<String>>,
}

/// A suspended step waiting for a resume.
pub(crate) struct SuspendedStep {
    pub(crate) name: String,
    pub(crate) supplied: Vec<Supplied>,
    pub(crate) wake: oneshot::Sender<BTreeMap<String, String>>,
}

fn supplied_params(tmpl: &Template) -> Vec<Supplied> {
    tmpl.outputs
        .parameters
        .iter()
        .filter(|p| p.value_from.as_ref().is_some_and(|v| v.supplied.is_some()))
        .map(|p| {
            let input = tmpl.inputs.parameters.iter().find(|i| i.name == p.name);
            Supplied {
                name: p.name.clone(),
                default: p
                    .value_from
                    .as_ref()
                    .and_then(|v| v.default.as_ref())
                    .or(input.and_then(|i| i.default.as_ref()))
                    .map(|d| d.0.clone()),
                allowed: input
                    .and_then(|i| i.allowed.as_ref())
                    .map(|a| a.iter().map(|s| s.0.clone()).collect()),
            }
        })
        .collect()
}

pub(super) async fn run_suspend(
    ctx: &Arc<Ctx>,
    tref: &TemplateRef,
    scope: Scope,
    node: &Node,
) -> NodeResult {
    let tmpl = &tref.tmpl;
    let at = format!("{}.suspend.duration", tref.at);
    let duration = match tmpl.suspend.as_ref().and_then(|s| s.duration.as_ref()) {
        None => None,
        Some(d) => match ctx
            .subst(&scope, &at, &d.0)
            .and_then(|d| parse_duration(&d).map_err(|e| format!("{at}: {e}")))
        {
            Ok(d) => Some(d),
            Err(e) => return NodeResult::error(e),
        },
    };
    let deadline = match template_deadline(ctx, tref, &scope) {
        Ok(d) => d.map(|d| d.0),
        Err(e) => return NodeResult::error(e),
    };
    let supplied = supplied_params(tmpl);
    let (tx, rx) = oneshot::channel();
    lock(&ctx.run.suspended).insert(
        node.path.clone(),
        SuspendedStep {
            name: node.name.clone(),
            supplied: supplied.clone(),
            wake: tx,
        },
    );
    ctx.emit(
        node,
        StepStatus::Running,
        NodePhase::Running,
        Some("suspended; waiting for a resume".into()),
        None,
        1,
        true,
    );
    let mut stop_rx = ctx.run.stop_tx.subscribe();
    let wait = sleep_opt(duration.into_iter().chain(deadline).min());
    let expired_is_failure = deadline.is_some() && duration.is_none_or(|d| Some(d) > deadline);
    let mut values = BTreeMap::new();
    let r = tokio::select! {
        v = rx => {
            values = v.unwrap_or_default();
            NodeResult { message: Some("resumed".into()), ..NodeResult::success() }
        }
        _ = wait => if expired_is_failure {
            NodeResult::failed("suspend exceeded its deadline".into())
        } else {
            NodeResult { message: Some("suspend duration elapsed".into()), ..NodeResult::success() }
        },
        s = crate::local::stopped(&mut stop_rx) => NodeResult::stopped(s),
    };
    lock(&ctx.run.suspended).remove(&node.path);
    if r.status != StepStatus::Success {
        return r;
    }
    // Supplied values (a duration that elapsed supplies the defaults).
    let mut outputs = BTreeMap::new();
    for s in &supplied {
        match values.get(&s.name).or(s.default.as_ref()) {
            Some(v) => {
                outputs.insert(s.name.clone(), v.clone());
            }
            None => {
                return NodeResult::error(format!(
                    "output parameter {:?} was not supplied and has no default",
                    s.name
                ));
            }
        }
    }
    match lifted_outputs(ctx, tref, &scope) {
        Ok(lifted) => {
            outputs.extend(lifted);
            NodeResult { outputs, ..r }
        }
        Err(e) => NodeResult::error(e),
    }
}
