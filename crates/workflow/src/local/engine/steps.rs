//! `steps` templates: groups one after the other, the items of a group in
//! parallel (within the template's `parallelism`); a failed item (unless
//! `continueOn` allows it) stops the template after its group, and with
//! `failFast: true` no further item starts once one failed.

use super::*;

pub(super) async fn run_steps(
    ctx: &Arc<Ctx>,
    tref: &TemplateRef,
    groups: &[Vec<WorkflowStep>],
    mut scope: Scope,
    node: &Node,
) -> NodeResult {
    let limits = match Limits::for_template(ctx, tref, &scope) {
        Ok(l) => l,
        Err(e) => return NodeResult::error(e),
    };
    for (gi, group) in groups.iter().enumerate() {
        let stop = ctx.stop();
        if stop != Stop::None {
            return NodeResult::stopped(stop);
        }
        let mut set: JoinSet<(usize, NodeResult)> = JoinSet::new();
        let mut results: Vec<Option<NodeResult>> = vec![None; group.len()];
        for (si, step) in group.iter().enumerate() {
            let at = format!("{}.steps[{gi}][{si}]", tref.at);
            let path = format!("{}[{gi}].{}", node.path, step.name);
            match launch(ctx, &scope, &Call::step(at, path, step), &limits) {
                Launch::Settled(r) => results[si] = Some(r),
                Launch::Running(f) => {
                    set.spawn(async move { (si, f.await) });
                }
            }
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((si, r)) => results[si] = Some(r),
                Err(e) => return NodeResult::error(format!("internal error running a step: {e}")),
            }
        }
        for (step, r) in group.iter().zip(&results) {
            if let Some(r) = r.as_ref().filter(|r| !r.not_started) {
                record_child(&mut scope, "steps", &step.name, r);
            }
        }
        let named = group
            .iter()
            .zip(&results)
            .filter_map(|(s, r)| r.as_ref().map(|r| (s, r)))
            .filter(|(s, r)| !tolerated(s.continue_on.as_ref(), r))
            .map(|(s, r)| (s.name.as_str(), r));
        if let Some(bad) = worst(named) {
            return bad;
        }
        if limits.failing() {
            return NodeResult::failed(
                "template has failed or errored children and failFast enabled".into(),
            );
        }
    }
    finish_with_outputs(ctx, tref, &scope)
}
