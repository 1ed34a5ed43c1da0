//! Products list, product dashboard (environments as columns in their
//! order, applications as rows) and the environments dashboard. The data
//! is the JSON API's own answer (`GET /api/v1/products[/{p}]`), read
//! through its handlers, so a page never disagrees with the API.

use std::collections::BTreeMap;

use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use ferry_release::ReleaseStatus;
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, When, page, seg, short_sha, when};
use crate::status::{self, Shown};
use ferry_api::error::ApiError;
use ferry_api::{Reader, Shared, products as api};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiList {
    items: Vec<ApiProduct>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiProduct {
    name: String,
    defined: bool,
    flows: Vec<String>,
    environments: Vec<String>,
    applications: usize,
    latest_release: Option<ferry_store::ReleaseSummary>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiDashboard {
    flows: Vec<String>,
    environments: Vec<ApiEnv>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiEnv {
    name: String,
    kind: String,
    applications: Vec<ApiApp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiApp {
    name: String,
    key: String,
    version: Option<String>,
    revision: Option<String>,
    sync: Option<String>,
    health: Option<String>,
    #[serde(default)]
    health_reason: Option<String>,
    release: Option<ApiReleaseRef>,
    #[serde(default)]
    note: Option<String>,
    /// `git` (no cluster watched) or `argocd`.
    #[serde(default)]
    state_provider: String,
    #[serde(default)]
    live: Option<ApiLive>,
}

#[derive(Debug, Clone, Deserialize)]
struct ApiLive {
    link: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiReleaseRef {
    number: u64,
    /// The release's environment here.
    environment_status: ferry_release::EnvironmentStatus,
}

/// The API's answer read as the page needs it. The page reads the JSON
/// the API writes (by the names the OpenAPI document gives), not the
/// handler's Rust types, so the two stay one contract.
fn decode<T: serde::de::DeserializeOwned>(v: impl serde::Serialize) -> Result<T, UiError> {
    serde_json::to_value(v)
        .and_then(serde_json::from_value)
        .map_err(|e| UiError(ApiError::internal("reading the API answer", e)))
}

/// The latest release of a product, as the list shows it.
pub struct LatestView {
    pub number: u64,
    pub href: String,
    pub status: Shown,
    /// `in staging`: where it failed, waits or runs.
    pub where_: String,
    pub version: String,
    pub when: When,
    pub initiator: String,
}

pub struct ProductRow {
    pub name: String,
    pub href: String,
    pub defined: bool,
    pub environments: String,
    pub applications: usize,
    pub flows: usize,
    pub latest: Option<LatestView>,
}

#[derive(Template)]
#[template(path = "ui/products.html")]
struct ProductsPage {
    layout: Layout,
    rows: Vec<ProductRow>,
    live: &'static str,
}

pub fn latest_view(product: &str, s: &ferry_store::ReleaseSummary) -> LatestView {
    LatestView {
        number: s.number,
        href: format!("/products/{}/releases/{}", seg(product), s.number),
        status: status::release(s.status),
        where_: crate::releases::where_(s),
        version: s.version.clone().unwrap_or_default(),
        when: when(s.created_at),
        initiator: s.initiator.clone(),
    }
}

pub async fn list(viewer: Viewer, State(st): State<Shared>) -> Result<Response, UiError> {
    let Json(v) = api::list(Reader, State(st)).await?;
    let list: ApiList = decode(v)?;
    let rows = list
        .items
        .iter()
        .map(|p| ProductRow {
            href: format!("/products/{}", seg(&p.name)),
            name: p.name.clone(),
            defined: p.defined,
            environments: p.environments.join(" \u{2192} "),
            applications: p.applications,
            flows: p.flows.len(),
            latest: p.latest_release.as_ref().map(|s| latest_view(&p.name, s)),
        })
        .collect();
    Ok(page(&ProductsPage {
        layout: Layout::new("Products", &viewer, "products"),
        rows,
        live: "/api/v1/events",
    }))
}

/// One cell of the dashboard: an application in an environment.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub app: String,
    pub version: String,
    pub revision: String,
    pub sync: String,
    /// Health as a status to draw (colour, icon and the word).
    pub state: Option<Shown>,
    /// Why the health is not what was observed (a failed post-action),
    /// code spans drawn as code.
    pub health_reason: String,
    pub release_href: String,
    pub release_number: u64,
    /// The credited release's status in this environment.
    pub release_status: Option<Shown>,
    /// Why no release is named.
    pub note: String,
    /// Argo CD's page of the application, when it watches it.
    pub argocd_href: String,
    /// `behind qa (1.5.0)`: an upstream environment of the product's
    /// flows runs another version.
    pub drift: String,
}

/// Argo CD's health words, drawn like statuses.
fn health_shown(health: &str) -> Option<Shown> {
    let (text, icon, class) = match health {
        "Healthy" => ("Healthy", "i-ok", "st-ok"),
        "Progressing" => ("Progressing", "i-run", "st-run"),
        "Degraded" => ("Degraded", "i-fail", "st-fail"),
        "Suspended" => ("Suspended", "i-wait", "st-wait"),
        "Missing" => ("Missing", "i-stop", "st-stop"),
        "Unknown" => ("Unknown", "i-pend", "st-pend"),
        _ => return None,
    };
    Some(Shown { text, icon, class })
}

/// Dotted versions compared by their numbers (`1.10.0` > `1.9.2`);
/// `None` when either has no number to compare.
fn version_order(a: &str, b: &str) -> Option<std::cmp::Ordering> {
    let nums = |v: &str| -> Vec<u64> {
        v.split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let (x, y) = (nums(a), nums(b));
    (!x.is_empty() && !y.is_empty()).then(|| x.cmp(&y))
}

/// Each environment's upstream environments over the product's flows.
fn upstreams(loaded: &ferry_model::Loaded, product: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let Some(p) = loaded.config.product(product) else {
        return out;
    };
    for f in &p.spec.promotion_flows {
        let Some(flow) = loaded.config.flow(&f.name) else {
            continue;
        };
        let body = &flow.spec.body;
        for step in &body.steps {
            let deps = if step.depends_on.is_empty() {
                vec![body.trigger_environment.clone()]
            } else {
                step.depends_on.clone()
            };
            let list = out.entry(step.environment.clone()).or_default();
            for d in deps {
                if !list.contains(&d) {
                    list.push(d);
                }
            }
        }
    }
    out
}

/// Marks cells whose upstream environment runs another version (and not
/// an older one).
fn mark_drift(envs: &[EnvHead], rows: &mut [DashRow], up: &BTreeMap<String, Vec<String>>) {
    for row in rows.iter_mut() {
        let versions: Vec<Option<String>> = row
            .cells
            .iter()
            .map(|c| {
                c.as_ref()
                    .map(|c| c.version.clone())
                    .filter(|v| !v.is_empty())
            })
            .collect();
        for (i, e) in envs.iter().enumerate() {
            let Some(cell) = row.cells[i].as_mut() else {
                continue;
            };
            for u in up.get(&e.name).into_iter().flatten() {
                let Some(j) = envs.iter().position(|x| &x.name == u) else {
                    continue;
                };
                let Some(theirs) = &versions[j] else {
                    continue;
                };
                let behind = match versions[i].as_deref() {
                    None => true,
                    Some(mine) if mine == theirs => false,
                    Some(mine) => version_order(mine, theirs) != Some(std::cmp::Ordering::Greater),
                };
                if behind {
                    cell.drift = format!("behind {u} ({theirs})");
                    break;
                }
            }
        }
    }
}

pub struct DashRow {
    pub key: String,
    pub cells: Vec<Option<Cell>>,
}

pub struct EnvHead {
    pub name: String,
    pub kind: String,
}

pub struct FlowLink {
    pub name: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "ui/product.html")]
struct ProductPage {
    layout: Layout,
    name: String,
    releases_href: String,
    promote_href: String,
    envs: Vec<EnvHead>,
    rows: Vec<DashRow>,
    flows: Vec<FlowLink>,
    recent: Vec<LatestView>,
    /// Applications whose state comes from Git alone (no cluster is
    /// watched for them, SPEC §6): the page says so plainly.
    unwatched: usize,
    /// The event stream the page follows.
    live: String,
}

fn cell(product: &str, a: &ApiApp) -> Cell {
    let health = a.health.clone().unwrap_or_default();
    Cell {
        app: a.name.clone(),
        version: a.version.clone().unwrap_or_default(),
        revision: a.revision.as_deref().map(short_sha).unwrap_or_default(),
        sync: a.sync.clone().unwrap_or_default(),
        state: health_shown(&health),
        argocd_href: a
            .live
            .as_ref()
            .and_then(|l| l.link.as_deref())
            .and_then(crate::links::Links::web)
            .unwrap_or_default(),
        drift: String::new(),
        health_reason: a
            .health_reason
            .as_deref()
            .map(crate::text::code_spans)
            .unwrap_or_default(),
        note: a
            .note
            .as_deref()
            .map(crate::text::code_spans)
            .unwrap_or_default(),
        release_status: a
            .release
            .as_ref()
            .map(|r| status::environment(r.environment_status)),
        release_href: a
            .release
            .as_ref()
            .map(|r| format!("/products/{}/releases/{}", seg(product), r.number))
            .unwrap_or_default(),
        release_number: a.release.as_ref().map_or(0, |r| r.number),
    }
}

/// Environments × applications (paired by application key).
fn grid(product: &str, d: &ApiDashboard) -> (Vec<EnvHead>, Vec<DashRow>) {
    let envs: Vec<EnvHead> = d
        .environments
        .iter()
        .map(|e| EnvHead {
            name: e.name.clone(),
            kind: e.kind.clone(),
        })
        .collect();
    let mut rows: BTreeMap<String, Vec<Option<Cell>>> = BTreeMap::new();
    for (i, e) in d.environments.iter().enumerate() {
        for a in &e.applications {
            let row = rows
                .entry(a.key.clone())
                .or_insert_with(|| vec![None; d.environments.len()]);
            row[i] = Some(cell(product, a));
        }
    }
    let rows = rows
        .into_iter()
        .map(|(key, cells)| DashRow { key, cells })
        .collect();
    (envs, rows)
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path(product): Path<String>,
) -> Result<Response, UiError> {
    let Json(v) = api::show(Reader, State(st.clone()), Path(product.clone())).await?;
    let d: ApiDashboard = decode(v)?;
    let (envs, mut rows) = grid(&product, &d);
    mark_drift(&envs, &mut rows, &upstreams(&st.engine.config(), &product));
    let unwatched = d
        .environments
        .iter()
        .flat_map(|e| &e.applications)
        .filter(|a| a.state_provider == "git")
        .count();
    let recent = st
        .store
        .list(&ferry_store::ListFilter {
            product: Some(product.clone()),
            statuses: vec![],
            limit: 5,
            cursor: None,
        })
        .await?
        .items
        .iter()
        .map(|s| latest_view(&product, s))
        .collect();
    Ok(page(&ProductPage {
        layout: Layout::new(format!("Product {product}"), &viewer, "products"),
        live: format!(
            "/api/v1/events?product={}",
            crate::layout::query_value(&product)
        ),
        unwatched,
        releases_href: format!("/products/{}/releases", seg(&product)),
        promote_href: format!("/products/{}/promote", seg(&product)),
        flows: d
            .flows
            .iter()
            .map(|f| FlowLink {
                name: f.clone(),
                href: format!("/products/{}/flows/{}", seg(&product), seg(f)),
            })
            .collect(),
        name: product,
        envs,
        rows,
        recent,
    }))
}

/// One product in one environment on the environments dashboard.
pub struct EnvCell {
    pub apps: Vec<Cell>,
}

pub struct EnvProductRow {
    pub product: String,
    pub href: String,
    pub cells: Vec<EnvCell>,
    pub active: Option<LatestView>,
}

#[derive(Template)]
#[template(path = "ui/environments.html")]
struct EnvironmentsPage {
    layout: Layout,
    envs: Vec<EnvHead>,
    rows: Vec<EnvProductRow>,
    live: &'static str,
}

/// Every environment (configuration order) × every product: what runs
/// where, and which products have a release in flight.
pub async fn environments(viewer: Viewer, State(st): State<Shared>) -> Result<Response, UiError> {
    let loaded = st.engine.config();
    let envs: Vec<EnvHead> = loaded
        .config
        .environments_in_order()
        .iter()
        .map(|e| EnvHead {
            name: e.metadata.name.clone(),
            kind: e.spec.kind.as_str().to_owned(),
        })
        .collect();
    let Json(v) = api::list(Reader, State(st.clone())).await?;
    let list: ApiList = decode(v)?;
    let mut rows = Vec::new();
    for p in &list.items {
        let Json(v) = api::show(Reader, State(st.clone()), Path(p.name.clone())).await?;
        let d: ApiDashboard = decode(v)?;
        let cells = envs
            .iter()
            .map(|e| EnvCell {
                apps: d
                    .environments
                    .iter()
                    .filter(|de| de.name == e.name)
                    .flat_map(|de| de.applications.iter().map(|a| cell(&p.name, a)))
                    .collect(),
            })
            .collect();
        let active = p
            .latest_release
            .as_ref()
            .filter(|s| !s.status.is_final() || s.status == ReleaseStatus::Failed)
            .map(|s| latest_view(&p.name, s));
        rows.push(EnvProductRow {
            href: format!("/products/{}", seg(&p.name)),
            product: p.name.clone(),
            cells,
            active,
        });
    }
    Ok(page(&EnvironmentsPage {
        layout: Layout::new("Environments", &viewer, "environments"),
        envs,
        rows,
        live: "/api/v1/events",
    }))
}
