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
    release: Option<ApiReleaseRef>,
    /// `git` (no cluster watched) or `argocd`.
    #[serde(default)]
    state_provider: String,
}

#[derive(Debug, Clone, Deserialize)]
struct ApiReleaseRef {
    number: u64,
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
}

pub fn latest_view(product: &str, s: &ferry_store::ReleaseSummary) -> LatestView {
    LatestView {
        number: s.number,
        href: format!("/products/{}/releases/{}", seg(product), s.number),
        status: status::release(s.status),
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
    }))
}

/// One cell of the dashboard: an application in an environment.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    pub app: String,
    pub version: String,
    pub revision: String,
    pub sync: String,
    pub health: String,
    pub release_href: String,
    pub release_number: u64,
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
}

fn cell(product: &str, a: &ApiApp) -> Cell {
    Cell {
        app: a.name.clone(),
        version: a.version.clone().unwrap_or_default(),
        revision: a.revision.as_deref().map(short_sha).unwrap_or_default(),
        sync: a.sync.clone().unwrap_or_default(),
        health: a.health.clone().unwrap_or_default(),
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
    let (envs, rows) = grid(&product, &d);
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
    }))
}
