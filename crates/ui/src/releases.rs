//! Releases list: newest first, filter by status, cursor pagination, one
//! status icon per environment. `/releases` for every product,
//! `/products/{p}/releases` for one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use ferry_release::ReleaseStatus;
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, When, page, query_value, seg, when};
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

pub struct EnvIcon {
    pub name: String,
    pub status: Shown,
}

pub struct Row {
    pub product: String,
    pub product_href: String,
    pub number: u64,
    pub href: String,
    pub when: When,
    pub initiator: String,
    pub flow: String,
    /// Empty for manual promotions.
    pub flow_href: String,
    pub version: String,
    pub status: Shown,
    pub envs: Vec<EnvIcon>,
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
    rows: Vec<Row>,
    next_href: String,
    first_href: String,
    paged: bool,
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
    let rows = page_data
        .items
        .iter()
        .map(|s| {
            let flow_href = if loaded.config.flow(&s.flow).is_some() {
                format!("/products/{}/flows/{}", seg(&s.product), seg(&s.flow))
            } else {
                String::new()
            };
            Row {
                product_href: format!("/products/{}", seg(&s.product)),
                product: s.product.clone(),
                number: s.number,
                href: format!("/products/{}/releases/{}", seg(&s.product), s.number),
                when: when(s.created_at),
                initiator: s.initiator.clone(),
                flow: s.flow.clone(),
                flow_href,
                version: s.version.clone().unwrap_or_default(),
                status: status::release(s.status),
                envs: s
                    .environments
                    .iter()
                    .map(|e| EnvIcon {
                        name: e.name.clone(),
                        status: status::environment(e.status),
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
    Ok(page(&ReleasesPage {
        layout: Layout::new(heading.clone(), &viewer, "releases"),
        heading,
        all_products: product.is_none(),
        action,
        options,
        rows,
        next_href,
        first_href,
        paged: q.cursor.is_some_and(|c| !c.is_empty()),
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
