//! `suspend` templates: wait for a resume, the duration, or the deadline.

use super::*;

pub(super) async fn run_suspend(
    ctx: &Arc<Ctx>,
    ti: usize,
    tmpl: &Template,
    scope: Scope,
    node: &Node,
) -> NodeResult {
    let at = format!("spec.templates[{ti}].suspend.duration");
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
    let deadline = match template_deadline(ctx, ti, tmpl, &scope) {
        Ok(d) => d,
        Err(e) => return NodeResult::error(e),
    };
    let (tx, rx) = oneshot::channel();
    lock(&ctx.run.suspended).insert(node.path.clone(), (node.name.clone(), tx));
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
    let r = tokio::select! {
        _ = rx => NodeResult { message: Some("resumed".into()), ..NodeResult::success() },
        _ = wait => if expired_is_failure {
            NodeResult::failed("suspend exceeded its activeDeadlineSeconds".into())
        } else {
            NodeResult { message: Some("suspend duration elapsed".into()), ..NodeResult::success() }
        },
        s = crate::local::stopped(&mut stop_rx) => NodeResult::stopped(s),
    };
    lock(&ctx.run.suspended).remove(&node.path);
    if r.status == StepStatus::Success {
        return match lifted_outputs(ctx, ti, tmpl, &scope) {
            Ok(outputs) => NodeResult { outputs, ..r },
            Err(e) => NodeResult::error(e),
        };
    }
    r
}
