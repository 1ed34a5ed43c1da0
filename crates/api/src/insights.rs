//! `GET /api/v1/insights`: delivery insights (issue 21) — the four DORA
//! measures per product and production environment, per environment and
//! per week, and where promotion time goes, over a period.
//!
//! `from` and `to` are dates (`2026-01-31`, midnight UTC) or RFC 3339
//! times; `from` may also be a span before `to` (`30d`, `12w`). The
//! default is the 30 days before now. The figures are computed from the
//! facts the keeper recorded, after it caught up with every release
//! finished by the time of the request; a report of the same facts is
//! answered from the keeper's cache (for a period ending now, one ending
//! up to a minute earlier — `from`/`to` in the answer say which).

use axum::Json;
use axum::extract::State;
use ferry_insights::Report;
use ferry_insights::period::parse_period;
use ferry_wiring::insights::InsightsError;
use serde::Deserialize;

use crate::error::{ApiError, ApiQuery};
use crate::extract::Reader;
use crate::refusals::{ErrorBody, ReadRefusals};
use crate::state::Shared;

/// The period when none is given.
pub use ferry_wiring::insights::DEFAULT_SPAN;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InsightsQuery {
    product: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// Delivery insights: the four DORA measures per product over its
/// production environments (`spec.kind: PROD`, or labelled
/// `ferry.io/production: "true"`/`"false"`), per environment and per week
/// (Monday 00:00 UTC), each with its dora.dev performance band; the
/// lead-time distribution; the median and 90th percentile time per phase
/// per environment. A product without a production environment has
/// `measures: null` and `note: "no production environment"`. Exact
/// definitions: docs/insights.md.
#[utoipa::path(get, path = "/api/v1/insights", tag = "insights",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "One product (default: every configured one); 404 when it is neither configured nor has history"),
        ("from" = Option<String>, Query, description = "Start, included: a date (2026-01-01, 00:00 UTC), an RFC 3339 time, or a span before `to` (30d, 12w, 36h); default 30 days before `to`"),
        ("to" = Option<String>, Query, description = "End, excluded: a date or an RFC 3339 time; default now"),
    ),
    responses(
        (status = 200, description = "The figures", body = ferry_insights::Report),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 404, description = "No such product", body = ErrorBody),
        (status = 503, description = "The storage cannot be read now", body = ErrorBody),
        ReadRefusals,
    ))]
pub async fn show(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<InsightsQuery>,
) -> Result<Json<Report>, ApiError> {
    let product = q.product.as_deref().filter(|p| !p.is_empty());
    Ok(Json(
        report(&st, product, q.from.as_deref(), q.to.as_deref()).await?,
    ))
}

/// The report the API and the web UI show.
pub async fn report(
    st: &Shared,
    product: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Report, ApiError> {
    let now = ferry_insights::millis(time::OffsetDateTime::now_utc());
    let period = parse_period(from, to, now, DEFAULT_SPAN)
        .map_err(|e| ApiError::bad_request(format!("from/to: {e}")))?;
    // Without an end the period ends now: a report of it computed up to a
    // minute ago from the same facts answers (it names its own period).
    let rolling = to.is_none_or(|t| t.trim().is_empty());
    let (loaded, membership) = st.engine.membership();
    st.insights
        .report(&loaded, &membership, product, period, rolling)
        .await
        .map_err(insights_error)
}

pub fn insights_error(e: InsightsError) -> ApiError {
    match e {
        InsightsError::NoProduct(p) => ApiError::not_found(format!("no product {p}")),
        InsightsError::Store(s) => s.into(),
    }
}
