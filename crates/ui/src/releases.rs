//! Releases list: newest first, filter by status, cursor pagination. One
//! column per environment (in the configuration's order, named in the
//! header), so a rollback's one environment sits under its own name; the
//! status says where a release failed or waits (an approval gate's
//! "waiting for approval (k of N)", a window's or freeze's hold); a
//! SUPERSEDED release links to the release that replaced it, an
//! automatic rollback and the failed release to each other, and rollbacks
//! say what they restore. `/releases` for every product, `/products/{p}/releases` for
//! one. The first page follows the event stream of every release
//! (`/api/v1/events`) and updates without a reload.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use ferry_release::{EnvironmentStatus, ReleaseKind, ReleaseStatus};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, When, duration, page, query_value, seg, when};
use crate::status::{self, Shown};
use ferry_api::Shared;
use ferry_api::error::ApiError;

/// Rows per page.
pub const PAGE: u32 = 25;

const STATUSES: [ReleaseStatus; 7] = [
    ReleaseStatus::Queued,
    ReleaseStatus::Running,
    ReleaseStatus::Suspended,
    ReleaseStatus::Succeeded,
    ReleaseStatus::Failed,
    ReleaseStatus::Terminating,
    ReleaseStatus::Terminated,
];

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    cursor: Option<String>,
}

pub struct Row {
    pub product: String,
    pub number: u64,
    pub href: String,
    pub when: When,
    pub duration: String,
    pub running: bool,
    pub initiator: String,
    pub flow: String,
    /// Empty for manual promotions.
    pub flow_href: String,
    pub version: String,
    pub status: Shown,
    /// Where it failed, waits or runs: `in staging`.
    pub where_: String,
    /// `#N` a rollback restores, and its page.
    pub rollback_of: Option<(u64, String)>,
    /// The release that superseded it (issue 20): `#N` and its page.
    pub superseded_by: Option<(u64, String)>,
    /// Its automatic rollbacks: environment, `#N`, page.
    pub rolled_back_by: Vec<(String, u64, String)>,
    /// On an automatic rollback: the failed release's environment, `#N`,
    /// page.
    pub rollback_for: Option<(String, u64, String)>,
    /// One cell per column of the page (`None`: not in this release).
    pub cells: Vec<Option<Shown>>,
}

pub struct StatusOption {
    pub value: &'static str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "ui/releases.html")]
struct ReleasesPage {
    layout: Layout,
    heading: String,
    /// Whether rows need a product column.
    all_products: bool,
    action: String,
    options: Vec<StatusOption>,
    columns: Vec<String>,
    rows: Vec<Row>,
    next_href: String,
    first_href: String,
    paged: bool,
    /// The event stream the first page follows.
    live: String,
}

/// Environment columns: the configuration's environments that the rows
/// use, in the configuration's order, then any other (a release keeps
/// environments that left the configuration).
fn columns(loaded: &ferry_model::Loaded, items: &[ferry_store::ReleaseSummary]) -> Vec<String> {
    let used: Vec<&str> = items
        .iter()
        .flat_map(|s| s.environments.iter().map(|e| e.name.as_str()))
        .collect();
    let mut out: Vec<String> = loaded
        .config
        .environments_in_order()
        .iter()
        .map(|e| e.metadata.name.clone())
        .filter(|n| used.contains(&n.as_str()))
        .collect();
    for n in used {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_owned());
        }
    }
    out
}

/// Where a release stands still or moves: the environments with its
/// status's counterpart.
pub fn where_(s: &ferry_store::ReleaseSummary) -> String {
    let wanted = match s.status {
        ReleaseStatus::Failed => EnvironmentStatus::Failed,
        ReleaseStatus::Suspended => EnvironmentStatus::Suspended,
        ReleaseStatus::Running | ReleaseStatus::Terminating => EnvironmentStatus::Running,
        _ => return String::new(),
    };
    // Held by a closed window or a freeze (issue 20): say why.
    if let Some((name, held)) = s
        .environments
        .iter()
        .filter(|e| e.status == wanted)
        .find_map(|e| e.held.as_ref().map(|h| (&e.name, h)))
    {
        return format!("in {name}: {held}");
    }
    let names: Vec<&str> = s
        .environments
        .iter()
        .filter(|e| e.status == wanted)
        .map(|e| e.name.as_str())
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("in {}", names.join(", "))
    }
}

/// The release each rollback of `items` restores, by number. Summaries do
/// not carry a release's kind, so only manual promotions (the only ones a
/// rollback can be) are read in full.
async fn rollbacks(
    st: &Shared,
    items: &[ferry_store::ReleaseSummary],
) -> Result<HashMap<String, u64>, UiError> {
    let numbers: HashMap<&str, u64> = items.iter().map(|s| (s.id.as_str(), s.number)).collect();
    let mut out = HashMap::new();
    for s in items.iter().filter(|s| s.flow == "Manual") {
        let Some(r) = st.store.get(&s.id).await? else {
            continue;
        };
        if let ReleaseKind::Rollback { from_release } = &r.kind {
            let n = match numbers.get(from_release.as_str()) {
                Some(n) => Some(*n),
                None => st.store.get(from_release).await?.map(|e| e.number),
            };
            if let Some(n) = n {
                out.insert(s.id.clone(), n);
            }
        }
    }
    Ok(out)
}

async fn render(
    viewer: Viewer,
    st: Shared,
    product: Option<String>,
    q: ListQuery,
) -> Result<Response, UiError> {
    let wanted = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut statuses = Vec::new();
    if let Some(s) = wanted {
        let parsed = ReleaseStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            ApiError::bad_request(format!("status: unknown release status `{s}`"))
        })?;
        statuses.push(parsed);
    }
    let page_data = st
        .store
        .list(&ferry_store::ListFilter {
            product: product.clone(),
            statuses,
            limit: PAGE,
            cursor: q.cursor.clone().filter(|c| !c.is_empty()),
        })
        .await?;
    let loaded = st.engine.config();
    let action = match &product {
        Some(p) => format!("/products/{}/releases", seg(p)),
        None => "/releases".to_owned(),
    };
    let columns = columns(&loaded, &page_data.items);
    let rollbacks = rollbacks(&st, &page_data.items).await?;
    let now = ferry_release::now();
    let rows = page_data
        .items
        .iter()
        .map(|s| {
            let flow_href = if loaded.config.flow(&s.flow).is_some() {
                format!("/products/{}/flows/{}", seg(&s.product), seg(&s.flow))
            } else {
                String::new()
            };
            let product_href = format!("/products/{}", seg(&s.product));
            Row {
                href: format!("{product_href}/releases/{}", s.number),
                rollback_of: rollbacks
                    .get(&s.id)
                    .map(|n| (*n, format!("{product_href}/releases/{n}"))),
                superseded_by: s
                    .superseded_by
                    .as_ref()
                    .map(|r| (r.number, format!("{product_href}/releases/{}", r.number))),
                rolled_back_by: s
                    .rolled_back_by
                    .iter()
                    .map(|l| {
                        (
                            l.environment.clone(),
                            l.number,
                            format!("{product_href}/releases/{}", l.number),
                        )
                    })
                    .collect(),
                rollback_for: s.rollback_for.as_ref().map(|l| {
                    (
                        l.environment.clone(),
                        l.number,
                        format!("{product_href}/releases/{}", l.number),
                    )
                }),
                product: s.product.clone(),
                number: s.number,
                when: when(s.created_at),
                duration: duration(Some(s.created_at), Some(s.finished_at.unwrap_or(now))),
                running: s.finished_at.is_none(),
                initiator: s.initiator.clone(),
                flow: s.flow.clone(),
                flow_href,
                version: s.version.clone().unwrap_or_default(),
                status: status::release(s.status),
                where_: where_(s),
                cells: columns
                    .iter()
                    .map(|c| {
                        s.environments
                            .iter()
                            .find(|e| &e.name == c)
                            .map(|e| status::environment(e.status))
                    })
                    .collect(),
            }
        })
        .collect();
    let status_q = wanted
        .map(|s| format!("status={}&", query_value(&s.to_ascii_uppercase())))
        .unwrap_or_default();
    let next_href = page_data
        .next_cursor
        .as_ref()
        .map(|c| format!("{action}?{status_q}cursor={}", query_value(c)))
        .unwrap_or_default();
    let first_href = format!("{action}?{}", status_q.trim_end_matches('&'));
    let selected = wanted.map(str::to_ascii_uppercase);
    let options = STATUSES
        .iter()
        .map(|s| StatusOption {
            value: s.as_str(),
            selected: selected.as_deref() == Some(s.as_str()),
        })
        .collect();
    let heading = match &product {
        Some(p) => format!("Releases of {p}"),
        None => "Releases".to_owned(),
    };
    let paged = q.cursor.is_some_and(|c| !c.is_empty());
    let live = if paged {
        String::new()
    } else {
        match &product {
            Some(p) => format!("/api/v1/events?product={}", query_value(p)),
            None => "/api/v1/events".to_owned(),
        }
    };
    Ok(page(&ReleasesPage {
        layout: Layout::new(heading.clone(), &viewer, "releases"),
        heading,
        all_products: product.is_none(),
        action,
        options,
        columns,
        rows,
        next_href,
        first_href,
        paged,
        live,
    }))
}

pub async fn all(
    viewer: Viewer,
    State(st): State<Shared>,
    Query(q): Query<ListQuery>,
) -> Result<Response, UiError> {
    render(viewer, st, None, q).await
}

pub async fn of_product(
    viewer: Viewer,
    State(st): State<Shared>,
    Path(product): Path<String>,
    Query(q): Query<ListQuery>,
) -> Result<Response, UiError> {
    if st.engine.config().config.product(&product).is_none()
        && st.engine.membership().1.product(&product).is_none()
    {
        return Err(ApiError::not_found(format!("product `{product}` does not exist")).into());
    }
    render(viewer, st, Some(product), q).await
}
