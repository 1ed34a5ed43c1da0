//! Products: the list with their latest release, one product's
//! environments × applications, and policy evaluation.
//!
//! An application's version, revision, sync and health come from the
//! newest release of the product that touched that application (its
//! promotion commit, the release's version, and the state the engine
//! recorded); they are `null` until a release has touched it. The git
//! provider is not asked on page views; for applications bound to an Argo
//! CD instance, `sync` and `health` are Argo CD's live state (read from
//! the application stream's cache) and `live` carries its detail.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ApiQuery};
use crate::extract::Reader;
use crate::refusals::ErrorBody;
use crate::state::Shared;

/// Releases read to find each application's latest state.
const RECENT_RELEASES: u32 = 50;

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
    version: Option<String>,
    revision: Option<String>,
    /// Argo CD's live sync status for applications bound to an instance;
    /// else as the latest release recorded it.
    sync: Option<String>,
    /// Argo CD's live health for applications bound to an instance; else
    /// as the latest release recorded it.
    health: Option<String>,
    /// The release the state above comes from.
    release: Option<ReleaseRef>,
    /// Where deployment state comes from: `git` (no cluster is watched)
    /// or `argocd`.
    #[schema(value_type = String)]
    state_provider: &'static str,
    /// Argo CD's state right now (null for the git provider or when Argo
    /// CD did not answer).
    live: Option<LiveView>,
}

/// A release by id and number.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReleaseRef {
    pub id: String,
    pub number: u64,
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
    let mut missing: usize = envs.values().map(|(_, _, a)| a.len()).sum();
    let page = st
        .store
        .list(&ferry_store::ListFilter {
            product: Some(product.clone()),
            statuses: vec![],
            limit: RECENT_RELEASES,
            cursor: None,
        })
        .await?;
    for summary in page.items {
        if missing == 0 {
            break;
        }
        let Some(release) = st.store.get(&summary.id).await? else {
            continue;
        };
        for run in &release.environments {
            let Some((_, _, apps)) = envs.values_mut().find(|(n, _, _)| *n == run.name) else {
                continue;
            };
            for app_run in &run.applications {
                let Some(commit) = &app_run.promotion_commit else {
                    continue;
                };
                if let Some(view) = apps
                    .iter_mut()
                    .find(|a| a.name == app_run.name && a.revision.is_none())
                {
                    view.revision = Some(commit.clone());
                    view.version = release.version.clone();
                    view.sync = app_run.sync.clone();
                    view.health = app_run.health.clone();
                    view.release = Some(ReleaseRef {
                        id: release.id.clone(),
                        number: release.number,
                    });
                    missing -= 1;
                }
            }
        }
    }
    own_versions(&st, members, &mut envs).await;
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

/// Each application's own version (its template's `versionSource`) at the
/// tip of its branch, and that tip as its revision when no promotion
/// commit says more — so the trigger environment, and applications ferry
/// has not promoted yet, show what they run. Read from the mirrors this
/// process has open (the engine keeps them fetched): a page view never
/// clones or fetches.
async fn own_versions(
    st: &Shared,
    members: &ferry_model::membership::ProductMembers,
    envs: &mut BTreeMap<usize, (String, String, Vec<AppView>)>,
) {
    let mut jobs = Vec::new();
    for (i, (env, _, apps)) in envs.iter() {
        for (j, m) in members.in_environment(env).enumerate() {
            let Some(view) = apps.get(j) else {
                continue;
            };
            let (Some(repo), Some(vs)) = (&view.repo_url, &m.template.body.version_source) else {
                continue;
            };
            jobs.push((
                *i,
                j,
                repo.clone(),
                view.target_revision.clone(),
                view.path.clone().unwrap_or_default(),
                vs.clone(),
            ));
        }
    }
    if jobs.is_empty() {
        return;
    }
    let workspace = std::sync::Arc::clone(st.engine.workspace());
    let read = tokio::task::spawn_blocking(move || {
        jobs.into_iter()
            .filter_map(|(i, j, repo, rev, path, vs)| {
                let mirror = workspace.opened(&repo)?;
                // A page never waits on the network: what a partial mirror
                // has not fetched yet is not shown from the mirror.
                let reader = mirror.at_offline(&rev).ok()?;
                let tip = reader.commit_id().to_string();
                let version = ferry_gitops::read_version(&reader, path.trim_matches('/'), &vs)
                    .ok()
                    .flatten();
                Some((i, j, version, tip))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    for (i, j, version, tip) in read {
        if let Some(view) = envs.get_mut(&i).and_then(|(_, _, apps)| apps.get_mut(j)) {
            if version.is_some() {
                view.version = version;
            }
            if view.revision.is_none() {
                view.revision = Some(tip);
            }
        }
    }
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
        view.health = Some(s.health.as_str().to_owned());
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
