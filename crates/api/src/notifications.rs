//! Notifications out (issue 20, admin): `GET
//! /api/v1/notifications/deliveries` lists the outbox — what was sent to
//! which subscription, its status, tries and last error — newest first,
//! so an admin sees dead letters. Subscriptions' URLs and keys are
//! settings and never stored; errors were masked when written and are
//! masked again here.

use axum::Json;
use axum::extract::State;
use ferry_store::{DeliveryStatus, OutboxRow};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Role;
use crate::error::{ApiError, ApiQuery};
use crate::extract::Authenticated;
use crate::refusals::ErrorBody;
use crate::state::Shared;

/// Deliveries per page by default, and at most.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// `pending`, `delivered` or `dead` (default: all).
    pub status: Option<String>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<u32>,
}

/// One delivery of one event to one subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The de-duplication id receivers see (`webhook-id`, the CloudEvents `id`).
    pub id: String,
    pub subscription: String,
    /// `release.started`, `environment.failed`, …
    #[serde(rename = "type")]
    pub event_type: String,
    pub release_id: String,
    pub product: String,
    /// The release's number, for links.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// `PENDING`, `DELIVERED` or `DEAD` (given up: the dead letter).
    pub status: String,
    /// Tries made.
    pub attempts: u32,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the next try is due (pending deliveries).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    /// When it was delivered or given up.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub finished_at: Option<String>,
    /// Why the last try failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The receiver's HTTP status of the last try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
}

/// Deliveries per status, over the whole outbox.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DeliveryCounts {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryList {
    pub items: Vec<Delivery>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    pub counts: DeliveryCounts,
}

fn rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn delivery(r: OutboxRow) -> Delivery {
    let number = serde_json::from_str::<serde_json::Value>(&r.payload)
        .ok()
        .and_then(|v| v["release"]["number"].as_u64());
    Delivery {
        number,
        next_attempt_at: (r.status == DeliveryStatus::Pending).then(|| rfc3339(r.next_at)),
        finished_at: r.finished_at.map(rfc3339),
        created_at: rfc3339(r.created_at),
        last_error: r.last_error.as_deref().map(ferry_security::redact),
        status: r.status.as_str().to_owned(),
        id: r.id,
        subscription: r.subscription,
        event_type: r.event_type,
        release_id: r.release_id,
        product: r.product,
        environment: r.environment,
        attempts: r.attempts,
        last_status: r.last_status,
    }
}

/// A page of the outbox, for the API and the UI's page.
pub async fn load(st: &Shared, q: &DeliveriesQuery) -> Result<DeliveryList, ApiError> {
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            DeliveryStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "status: `{s}` is not one of pending, delivered, dead"
                ))
            })?,
        ),
    };
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: {limit} is not between 1 and {MAX_LIMIT}"
        )));
    }
    let page = st
        .store
        .list_deliveries(status, q.cursor.as_deref(), limit)
        .await
        .map_err(|e| match e {
            ferry_store::Error::BadCursor { .. } => ApiError::bad_request(e.to_string()),
            other => ApiError::from(other),
        })?;
    let mut counts = DeliveryCounts::default();
    for (s, n) in st.store.count_deliveries().await? {
        match s {
            DeliveryStatus::Pending => counts.pending = n,
            DeliveryStatus::Delivered => counts.delivered = n,
            DeliveryStatus::Dead => counts.dead = n,
        }
    }
    Ok(DeliveryList {
        items: page.items.into_iter().map(delivery).collect(),
        next_cursor: page.next,
        counts,
    })
}

/// List notification deliveries (admin): status, tries and last error of
/// each event sent to each `[[notifications]]` subscription, newest first.
#[utoipa::path(get, path = "/api/v1/notifications/deliveries", tag = "admin",
    security(("bearer" = [])),
    params(DeliveriesQuery),
    responses(
        (status = 200, description = "Deliveries, newest first", body = DeliveryList),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token, or one ferry does not know", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
pub async fn list(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<DeliveryList>, ApiError> {
    caller.require(Role::Admin)?;
    Ok(Json(load(&st, &q).await?))
}
