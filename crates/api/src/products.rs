//! Products: the list with their latest release, one product's
//! environments × applications, and policy evaluation.
//!
//! An application's version and revision are what its branch holds, and
//! `release` names the release whose promotion commit that is — only when
//! it is ([`crate::deployed`]); `note` says why none is named when a
//! promotion is on the branch. `sync` and `health` are what that release
//! recorded (the git provider is not asked on page views), `health` being
//! `Degraded` when its post-action failed (`observedHealth` keeps what was
//! observed, at `observedAt`); for applications bound to an Argo CD
//! instance they are Argo CD's live state (read from the application
//! stream's cache) and `live` carries its detail — still `Degraded` beside
//! a failed post-action of the release that runs.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiQuery};
use crate::extract::Reader;
use crate::refusals::ErrorBody;
use crate::state::Shared;

/// Newest releases read for the promotion commits they recorded (squash
/// merges that kept no trailers); any other release named by a trailer is
/// read by its id.
const RECENT_RELEASES: u32 = 10;

/// The product's environments, in the configuration's environment order.
fn product_environments(
    loaded: &ferry_model::Loaded,
    members: &ferry_model::membership::ProductMembers,
) -> Vec<String> {
    let mut out = Vec::new();
    for env in loaded.config.environments_in_order() {
        let name = env.metadata.name.as_str();
        if members.in_environment(name).next().is_some() {
            out.push(name.to_owned());
        }
    }
    out
}

fn flows(loaded: &ferry_model::Loaded, product: &str) -> Vec<String> {
    loaded
        .config
        .product(product)
        .map(|p| {
            p.spec
                .promotion_flows
                .iter()
                .map(|f| f.name.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Every product.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    pub items: Vec<ProductItem>,
}

/// A product in the list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProductItem {
    pub name: String,
    /// Defined by a Product resource (else only by the
    /// `codefresh.io/product` annotation of its applications).
    pub defined: bool,
    pub flows: Vec<String>,
    /// The environments it has applications in, in order.
    pub environments: Vec<String>,
    /// How many applications it has.
    pub applications: usize,
    pub latest_release: Option<ferry_store::ReleaseSummary>,
}

/// Products with their environments and latest release.
#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Products", body = ProductList),
        (status = 401, description = "No or a bad token (anonymous read is off)", body = ErrorBody),
    ))]
pub async fn list(_: Reader, State(st): State<Shared>) -> Result<Json<ProductList>, ApiError> {
    let (loaded, membership) = st.engine.membership();
    let mut latest: HashMap<String, ferry_store::ReleaseSummary> = st
        .store
        .latest_per_product()
        .await?
        .into_iter()
        .map(|s| (s.product.clone(), s))
        .collect();
    let items = membership
        .products
        .values()
        .map(|p| ProductItem {
            name: p.name.clone(),
            defined: p.defined,
            flows: flows(&loaded, &p.name),
            environments: product_environments(&loaded, p),
            applications: p.members.len(),
            latest_release: latest.remove(&p.name),
        })
        .collect();
    Ok(Json(ProductList { items }))
}

/// One product: its environments × applications.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub name: String,
    pub flows: Vec<String>,
    pub environments: Vec<EnvironmentView>,
}

/// An environment of a product, in the configuration's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentView {
    pub name: String,
    /// `PROD` or `NON_PROD`.
    pub kind: String,
    pub applications: Vec<AppView>,
}

/// An application of a product in one environment.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppView {
    name: String,
    key: String,
    repo_url: Option<String>,
    path: Option<String>,
    target_revision: String,
    /// The version at the tip of the branch.
    version: Option<String>,
    /// The tip of the branch.
    revision: Option<String>,
    /// The commit the version came from: the credited promotion, else the
    /// newest commit that changed the application's path.
    commit: Option<crate::deployed::CommitRef>,
    /// Argo CD's live sync status for applications bound to an instance;
    /// else as the release credited here recorded it.
    sync: Option<String>,
    /// The health shown: `observedHealth`, or `Degraded` beside a failed
    /// post-action of the release that runs.
    health: Option<String>,
    /// Argo CD's live health for applications bound to an instance; else
    /// as the release credited here observed it.
    observed_health: Option<String>,
    /// When the credited release observed it (null for Argo CD's live
    /// state).
    observed_at: Option<String>,
    /// Why `health` is not `observedHealth`.
    health_reason: Option<String>,
    /// The release whose promotion commit runs here, with its statuses.
    release: Option<crate::deployed::Credit>,
    /// Why no release is named although a promotion is on the branch.
    note: Option<String>,
    /// `git` (no cluster is watched) or `argocd`.
    #[schema(value_type = String)]
    state_provider: &'static str,
    /// Argo CD's state right now (null for the git provider or when Argo
    /// CD did not answer).
    live: Option<LiveView>,
}

/// What Argo CD reports right now about one application.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveView {
    instance: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[schema(value_type = String)]
    sync: &'static str,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    #[schema(value_type = String)]
    health: &'static str,
    revision: Option<String>,
    message: Option<String>,
    /// The application in Argo CD's UI.
    link: Option<String>,
    unhealthy_resources: Vec<String>,
}

/// Environments × applications: version, revision, sync, health.
#[utoipa::path(get, path = "/api/v1/products/{product}", tag = "products",
    security(("bearer" = [])),
    params(("product" = String, Path, description = "Product name")),
    responses(
        (status = 200, description = "Product", body = ProductView),
        (status = 401, description = "No or a bad token (anonymous read is off)", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
    ))]
pub async fn show(
    _: Reader,
    State(st): State<Shared>,
    Path(product): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let (loaded, membership) = st.engine.membership();
    let Some(members) = membership.product(&product) else {
        return Err(ApiError::not_found(format!(
            "product `{product}` does not exist"
        )));
    };
    // (environment, application name) → view, in order.
    let mut envs: BTreeMap<usize, (String, String, Vec<AppView>)> = BTreeMap::new();
    let names = product_environments(&loaded, members);
    for (i, env) in names.iter().enumerate() {
        let kind = loaded
            .config
            .environment(env)
            .map(|e| e.spec.kind.as_str())
            .unwrap_or("NON_PROD");
        let apps = members
            .in_environment(env)
            .map(|m| {
                let app = loaded.config.applications.get(m.app);
                let source = app.and_then(|a| a.promoted_source());
                AppView {
                    name: m.name.clone(),
                    key: m.key.clone(),
                    repo_url: source.map(|s| s.repo_url.clone()),
                    path: source.and_then(|s| s.path.clone()),
                    target_revision: app
                        .map(|a| a.target_revision().to_owned())
                        .unwrap_or_default(),
                    state_provider: "git",
                    ..AppView::default()
                }
            })
            .collect();
        envs.insert(i, (env.clone(), kind.to_owned(), apps));
    }
    deployed(&st, &product, members, &mut envs).await?;
    if let Some(argocd) = &st.argocd {
        live_state(argocd, &loaded, &mut envs).await;
    }
    let environments = envs
        .into_values()
        .map(|(name, kind, applications)| EnvironmentView {
            name,
            kind,
            applications,
        })
        .collect();
    Ok(Json(ProductView {
        flows: flows(&loaded, &product),
        name: product,
        environments,
    }))
}

/// What each application's branch holds and the release credited with
/// it ([`crate::deployed`]), with that release's recorded state.
async fn deployed(
    st: &Shared,
    product: &str,
    members: &ferry_model::membership::ProductMembers,
    envs: &mut BTreeMap<usize, (String, String, Vec<AppView>)>,
) -> Result<(), ApiError> {
    let mut lookups = Vec::new();
    let mut at = Vec::new();
    for (i, (env, _, apps)) in envs.iter() {
        for (j, m) in members.in_environment(env).enumerate() {
            let Some(view) = apps.get(j) else {
                continue;
            };
            let Some(repo) = &view.repo_url else {
                continue;
            };
            lookups.push(crate::deployed::Lookup {
                environment: env.clone(),
                application: view.name.clone(),
                repo_url: repo.clone(),
                target_revision: view.target_revision.clone(),
                path: view.path.clone().unwrap_or_default(),
                version_source: m.template.body.version_source.clone(),
            });
            at.push((*i, j));
        }
    }
    if lookups.is_empty() {
        return Ok(());
    }
    let page = st
        .store
        .list(&ferry_store::ListFilter {
            product: Some(product.to_owned()),
            statuses: vec![],
            limit: RECENT_RELEASES,
            cursor: None,
        })
        .await?;
    let mut recent = Vec::new();
    for summary in page.items {
        if let Some(r) = st.store.get(&summary.id).await? {
            recent.push(r);
        }
    }
    let found = crate::deployed::deployed(
        std::sync::Arc::clone(st.engine.workspace()),
        &st.store,
        lookups,
        recent,
    )
    .await;
    for ((i, j), d) in at.into_iter().zip(found) {
        let Some(view) = envs.get_mut(&i).and_then(|(_, _, apps)| apps.get_mut(j)) else {
            continue;
        };
        view.version = d.version;
        view.revision = d.revision;
        view.commit = d.commit;
        view.release = d.credit;
        view.note = d.note;
        if let Some(run) = d.run {
            let shown = run.health_shown();
            view.sync = run.sync.clone();
            view.observed_health = run.health.clone();
            view.observed_at = run.observed_at.and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
            view.health = shown.as_ref().map(|s| s.health.clone());
            view.health_reason = shown.and_then(|s| s.reason);
        }
    }
    Ok(())
}

/// Fills `sync`, `health` and `live` from Argo CD for the applications
/// bound to an instance.
async fn live_state(
    argocd: &ferry_wiring::argocd::ArgoCd,
    loaded: &ferry_model::Loaded,
    envs: &mut BTreeMap<usize, (String, String, Vec<AppView>)>,
) {
    let refs: Vec<ferry_appstate::AppRef> = envs
        .values()
        .flat_map(|(_, _, apps)| apps.iter())
        .map(|v| ferry_appstate::AppRef {
            name: v.name.clone(),
            namespace: loaded
                .config
                .applications
                .iter()
                .find(|a| a.name() == v.name)
                .and_then(|a| a.spec.destination.namespace.clone()),
            repo_url: v.repo_url.clone().unwrap_or_default(),
            path: v.path.clone().unwrap_or_default(),
            target_revision: v.target_revision.clone(),
        })
        .collect();
    let live = argocd.live(&refs).await;
    let views = envs.values_mut().flat_map(|(_, _, apps)| apps.iter_mut());
    for (view, (instance, obs)) in views.zip(live) {
        let Some(instance) = instance else {
            continue;
        };
        view.state_provider = "argocd";
        let Some(obs) = obs else {
            continue;
        };
        let s = obs.state;
        view.sync = Some(s.sync.as_str().to_owned());
        view.observed_health = Some(s.health.as_str().to_owned());
        view.observed_at = None;
        // Argo CD's word, unless the release that runs here failed its
        // post-action: then the application does not work, whatever its
        // resources report.
        if view.health_reason.is_none() {
            view.health = Some(s.health.as_str().to_owned());
        }
        view.live = Some(LiveView {
            instance,
            sync: s.sync.as_str(),
            health: s.health.as_str(),
            revision: s.revision,
            message: s.message,
            link: s.link,
            unhealthy_resources: s.unhealthy.iter().map(ToString::to_string).collect(),
        });
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EvaluateQuery {
    product: String,
    environment: String,
}

/// Effective policy for a product and environment.
#[utoipa::path(get, path = "/api/v1/policies/evaluate", tag = "products",
    security(("bearer" = [])),
    params(EvaluateQuery),
    responses(
        (status = 200, description = "Evaluation", body = ferry_model::PolicyEvaluation),
        (status = 400, description = "A parameter is missing or unknown", body = ErrorBody),
        (status = 401, description = "No or a bad token (anonymous read is off)", body = ErrorBody),
        (status = 404, description = "No such product or environment", body = ErrorBody),
    ))]
pub async fn evaluate_policy(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<EvaluateQuery>,
) -> Result<Json<ferry_model::PolicyEvaluation>, ApiError> {
    let (loaded, membership) = st.engine.membership();
    let Some(members) = membership.product(&q.product) else {
        return Err(ApiError::not_found(format!(
            "product `{}` does not exist",
            q.product
        )));
    };
    if loaded.config.environment(&q.environment).is_none() {
        return Err(ApiError::not_found(format!(
            "environment `{}` does not exist",
            q.environment
        )));
    }
    Ok(Json(ferry_model::evaluate(
        &loaded.config,
        &q.product,
        &q.environment,
        None,
        Some(members),
    )))
}
