//! The JSON API (SPEC §9) and the operational endpoints.
//!
//! Everything under `/api/v1`; `/healthz`, `/readyz` and `/metrics` at the
//! root where probes and scrapers expect them; the OpenAPI document at
//! `/api/openapi.json`.

mod events;
mod notes;
mod ops;
mod products;
mod releases;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use ferry_engine::Engine;

use crate::auth::Tokens;
use crate::error::ApiError;
use crate::live::LiveConfig;
use crate::metrics::Metrics;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    pub store: ferry_store::Store,
    pub tokens: Tokens,
    pub anonymous_read: bool,
    pub metrics: Metrics,
    pub live: Arc<LiveConfig>,
    /// Set once the engine has started (resumed releases, poller).
    pub ready: AtomicBool,
    /// Set on shutdown: ends live event streams, which would otherwise
    /// keep the graceful shutdown waiting forever.
    pub stopping: crate::cancel::CancelFlag,
    /// Release notes (computed once per release, cached in the store).
    pub notes: Arc<ferry_notes::NotesBuilder>,
}

pub type Shared = Arc<AppState>;

/// Every route with its method and handler. The router is built from
/// this table and the OpenAPI test checks the document against it, so the
/// two cannot drift apart.
pub fn table() -> Vec<(&'static str, &'static str, MethodRouter<Shared>)> {
    vec![
        ("get", "/api/v1/products", get(products::list)),
        ("get", "/api/v1/products/{product}", get(products::show)),
        (
            "get",
            "/api/v1/products/{product}/releases",
            get(releases::list_product),
        ),
        (
            "post",
            "/api/v1/products/{product}/promotions",
            post(releases::promote),
        ),
        ("get", "/api/v1/releases", get(releases::list_all)),
        ("get", "/api/v1/releases/{id}", get(releases::show)),
        ("get", "/api/v1/releases/{id}/events", get(events::stream)),
        (
            "post",
            "/api/v1/releases/{id}/terminate",
            post(releases::terminate),
        ),
        ("post", "/api/v1/releases/{id}/retry", post(releases::retry)),
        ("get", "/api/v1/releases/{id}/notes", get(notes::show)),
        (
            "post",
            "/api/v1/workflows/{run}/resume",
            post(releases::resume_workflow),
        ),
        (
            "get",
            "/api/v1/policies/evaluate",
            get(products::evaluate_policy),
        ),
        ("get", "/api/v1/config/status", get(ops::config_status)),
        ("get", "/healthz", get(ops::healthz)),
        ("get", "/readyz", get(ops::readyz)),
        ("get", "/metrics", get(ops::metrics)),
        ("get", "/api/openapi.json", get(ops::openapi)),
    ]
}

pub fn router(state: Shared) -> Router {
    let mut router = Router::new();
    for (_, path, handler) in table() {
        router = router.route(path, handler);
    }
    router
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Counts and times every matched request by its route template.
async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state
        .metrics
        .observe(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    r.headers_mut().insert(
        WWW_AUTHENTICATE,
        axum::http::HeaderValue::from_static("Bearer realm=\"ferry\""),
    );
    r
}

/// A caller with a valid token (required for every mutating call).
pub struct Authenticated {
    /// The token's name: the initiator of what the caller does.
    pub name: String,
}

impl FromRequestParts<Shared> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        match bearer(parts) {
            None => Err(unauthorized(
                "this call needs `Authorization: Bearer <token>`",
            )),
            Some(token) => match state.tokens.check(token) {
                Some(name) => Ok(Authenticated {
                    name: name.to_owned(),
                }),
                None => Err(unauthorized("the token is not valid")),
            },
        }
    }
}

/// A caller allowed to read: anyone when anonymous read is on, else a
/// valid token.
pub struct Reader;

impl FromRequestParts<Shared> for Reader {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        if state.anonymous_read && bearer(parts).is_none() {
            return Ok(Reader);
        }
        Authenticated::from_request_parts(parts, state)
            .await
            .map(|_| Reader)
    }
}
