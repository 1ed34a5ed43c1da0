//! `/admin/notifications` (issue 20, admins only): the notification
//! outbox as `GET /api/v1/notifications/deliveries` answers it — counts
//! per status, each delivery's subscription, event, release, status,
//! tries, last answer and last error — so dead letters are seen. The
//! figures are the API's own (`ferry_api::notifications::load`); the page
//! only formats them. Others are refused with the API's 403.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ferry_api::Shared;
use ferry_api::auth::Role;
use ferry_api::error::ApiError;
use ferry_api::notifications::{DeliveriesQuery, Delivery, DeliveryCounts};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page, seg};

/// The page's parameters: the API's, as a form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    status: Option<String>,
    cursor: Option<String>,
}

pub struct Row {
    pub d: Delivery,
    pub release_href: String,
    pub status_class: &'static str,
}

pub struct Filter {
    pub href: String,
    pub text: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "ui/deliveries.html")]
struct DeliveriesPage {
    layout: Layout,
    counts: DeliveryCounts,
    filters: Vec<Filter>,
    rows: Vec<Row>,
    next_href: String,
    paged: bool,
    first_href: String,
}

const PATH: &str = "/admin/notifications";

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Query(q): Query<PageQuery>,
) -> Result<Response, UiError> {
    let Some(caller) = viewer.caller.clone() else {
        return Err(UiError(ApiError::new(
            StatusCode::FORBIDDEN,
            "notification deliveries are shown to admins: sign in with an admin token",
        )));
    };
    caller.require(Role::Admin)?;
    let status = q.status.clone().filter(|s| !s.is_empty());
    let list = ferry_api::notifications::load(
        &st,
        &DeliveriesQuery {
            status: status.clone(),
            cursor: q.cursor.clone().filter(|s| !s.is_empty()),
            limit: None,
        },
    )
    .await?;
    let with_status = |s: &Option<String>| match s {
        Some(s) => format!("{PATH}?status={s}"),
        None => PATH.to_owned(),
    };
    let filters = [
        (None, "All"),
        (Some("pending"), "Pending"),
        (Some("delivered"), "Delivered"),
        (Some("dead"), "Dead letters"),
    ]
    .into_iter()
    .map(|(s, text)| Filter {
        href: with_status(&s.map(str::to_owned)),
        text,
        current: status.as_deref().map(str::to_ascii_lowercase).as_deref() == s,
    })
    .collect();
    let next_href = match &list.next_cursor {
        Some(c) => {
            let sep = if status.is_some() { '&' } else { '?' };
            format!("{}{sep}cursor={}", with_status(&status), seg(c))
        }
        None => String::new(),
    };
    let rows = list
        .items
        .into_iter()
        .map(|d| Row {
            release_href: match d.number {
                Some(n) => format!("/products/{}/releases/{n}", seg(&d.product)),
                None => String::new(),
            },
            status_class: match d.status.as_str() {
                "DELIVERED" => "ok",
                "DEAD" => "dead",
                _ => "pending",
            },
            d,
        })
        .collect();
    Ok(page(&DeliveriesPage {
        layout: Layout::new("Notifications", &viewer, "notifications"),
        counts: list.counts,
        filters,
        rows,
        next_href,
        paged: q.cursor.is_some_and(|c| !c.is_empty()),
        first_href: with_status(&status),
    }))
}
