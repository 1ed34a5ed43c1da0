//! Which environments a mutating call touches, so a promoter's scope
//! (products, non-production only) can be checked before the engine acts.
//! "Production" is an Environment whose `spec.kind` is `PROD` in the live
//! configuration; an environment the configuration does not know counts as
//! production, so a gap in the configuration never widens a scope.

use ferry_engine::PromotionRequest;
use ferry_model::Loaded;
use ferry_model::flowgraph::FlowGraph;
use ferry_model::resource::EnvironmentKind;
use ferry_release::Release;

use crate::state::Shared;

/// Whether `environment` is production in `cfg`.
pub fn is_production(cfg: &Loaded, environment: &str) -> bool {
    cfg.config
        .environment(environment)
        .is_none_or(|e| e.spec.kind == EnvironmentKind::Prod)
}

fn with_kind(cfg: &Loaded, envs: impl IntoIterator<Item = String>) -> Vec<(String, bool)> {
    envs.into_iter()
        .map(|e| {
            let production = is_production(cfg, &e);
            (e, production)
        })
        .collect()
}

/// The environments a promotion request writes to: the target of a
/// one-environment promotion or rollback, else every step of the flow
/// (the product's first flow when none is named). A flow that cannot be
/// resolved yields one unknown (production) environment.
pub fn promotion_targets(
    st: &Shared,
    product: &str,
    request: &PromotionRequest,
) -> Vec<(String, bool)> {
    let cfg = st.engine.config();
    if let Some(target) = &request.target_environment {
        return with_kind(&cfg, [target.clone()]);
    }
    let flow_name = request.flow.clone().or_else(|| {
        cfg.config
            .product(product)
            .and_then(|p| p.spec.promotion_flows.first())
            .map(|f| f.name.clone())
    });
    let graph = flow_name
        .and_then(|name| cfg.config.flow(&name))
        .and_then(|f| FlowGraph::build(f).ok());
    match graph {
        Some(g) => with_kind(&cfg, g.steps.into_iter().map(|s| s.environment)),
        None => vec![("(unresolved flow)".into(), true)],
    }
}

/// The environments a release writes to (its frozen flow's steps).
pub fn release_targets(st: &Shared, release: &Release) -> Vec<(String, bool)> {
    let cfg = st.engine.config();
    with_kind(
        &cfg,
        release.graph.steps.iter().map(|s| s.environment.clone()),
    )
}

/// The active release running workflow `run`, and the environments the
/// run acts for (its environment, or all of the release's for a
/// release-level hook).
pub async fn release_of_run(st: &Shared, run: &str) -> Option<(Release, Vec<(String, bool)>)> {
    let ids = st.store.active_release_ids().await.ok()?;
    for id in ids {
        let Ok(Some(release)) = st.engine.release(&id).await else {
            continue;
        };
        let found = release.environments.iter().find_map(|e| {
            let steps = e
                .hooks
                .iter()
                .chain(e.applications.iter().flat_map(|a| a.steps.iter()));
            steps
                .clone()
                .any(|s| s.run_id.as_deref() == Some(run))
                .then(|| e.name.clone())
        });
        if let Some(env) = found {
            let cfg = st.engine.config();
            let targets = with_kind(&cfg, [env]);
            return Some((release, targets));
        }
        if release
            .hooks
            .iter()
            .any(|s| s.run_id.as_deref() == Some(run))
        {
            let targets = release_targets(st, &release);
            return Some((release, targets));
        }
    }
    None
}
