//! Health, readiness, metrics and configuration status.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::Reader;
use crate::refusals::{ErrorBody, ReadRefusals};
use crate::state::Shared;

/// Alive: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive: `{\"status\": \"ok\"}`", body = Object)))]
pub async fn healthz() -> Json<Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// How old a write probe `/readyz` answers from may be (the prober makes
/// one every second).
pub const READY_PROBE_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ready once the engine has started; 503 before. The detail names the
/// configuration source and any errors of a rejected new configuration
/// (the last good one stays active, so they do not make the server unready).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Object),
        (status = 503, description = "Starting, or the storage cannot be written", body = Object),
    ))]
pub async fn readyz(State(st): State<Shared>) -> impl IntoResponse {
    let started = st.ready.load(Ordering::SeqCst);
    let config = st.live.status();
    // Ready means the store can be written, not only that the process
    // runs (issue 23): the last one-row write probe's answer, or a probe
    // now when that is older than a second — never a write per call, so
    // load balancers polling readiness do not load the store.
    let writable = st.health.recent(&st.store, READY_PROBE_MAX_AGE).await;
    let ready = started && writable;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let storage = match st.health.down() {
        None => serde_json::json!({"writable": true}),
        Some((for_, why)) => serde_json::json!({
            "writable": false,
            "downForSeconds": for_.as_secs(),
            "error": ferry_security::redact(&why),
        }),
    };
    (
        status,
        Json(serde_json::json!({
            "ready": ready,
            "engine": if started { "started" } else { "starting" },
            "storage": storage,
            "config": config,
        })),
    )
}

/// Active configuration and errors of a rejected new one.
#[utoipa::path(get, path = "/api/v1/config/status", tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Status", body = ferry_wiring::live::ConfigStatus),
        ReadRefusals,
    ))]
pub async fn config_status(
    _: Reader,
    State(st): State<Shared>,
) -> Json<ferry_wiring::live::ConfigStatus> {
    Json(st.live.status())
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Exposition text", content_type = "text/plain", body = String),
        (status = 500, description = "The store could not count the releases", body = ErrorBody),
    ))]
pub async fn metrics(State(st): State<Shared>) -> Result<impl IntoResponse, ApiError> {
    let counts = st.store.count_by_status().await?;
    // The four DORA measures per product over the last 30 days (issue 21).
    let insights = crate::insights::report(&st, None, None, None).await?;
    let text = st.metrics.render(
        &counts,
        st.live.status().errors.len(),
        st.ready.load(Ordering::SeqCst),
        &insights,
    );
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    ))
}
