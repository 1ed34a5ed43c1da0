//! The JSON API (SPEC §9) and the operational endpoints.
//!
//! Everything under `/api/v1`; `/healthz`, `/readyz` and `/metrics` at the
//! root where probes and scrapers expect them; the OpenAPI document at
//! `/api/openapi.json`.

pub mod audit;
mod events;
pub(crate) mod guard;
pub(crate) mod notes;
pub(crate) mod notes_bodies;
mod ops;
pub(crate) mod products;
pub(crate) mod releases;
mod tokens;
mod webhooks;

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

use crate::auth::{Principal, Role, Tokens};
use crate::error::ApiError;
use crate::metrics::Metrics;
use ferry_security::BODY_LIMIT;
use ferry_wiring::live::LiveConfig;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    pub store: ferry_store::Store,
    pub tokens: Tokens,
    pub anonymous_read: bool,
    pub metrics: Metrics,
    pub live: Arc<LiveConfig>,
    /// Argo CD instances (live application state, discovery), when configured.
    pub argocd: Option<Arc<ferry_wiring::argocd::ArgoCd>>,
    /// Set once the engine has started (resumed releases, poller).
    pub ready: AtomicBool,
    /// Set on shutdown: ends live event streams, which would otherwise
    /// keep the graceful shutdown waiting forever.
    pub stopping: ferry_wiring::CancelFlag,
    /// Trusted proxies, rate limiters, https (issue 10).
    pub security: Arc<ferry_security::Security>,
    /// Forges of the settings: webhook secrets, by repository prefix.
    pub forges: Arc<ferry_forge::Registry>,
    /// Web UI sessions.
    pub ui: crate::ui::UiState,
    /// Release notes (computed once per release, cached in the store).
    pub notes: Arc<ferry_notes::NotesBuilder>,
    /// Demo mode: the UI's merge button for local pull-request branches.
    pub demo: bool,
    /// Release-notes bodies served recently (checked against the stored ETag).
    pub(crate) notes_bodies: notes_bodies::NotesBodies,
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
            "/api/v1/releases/{id}/notes/refresh",
            post(notes::refresh),
        ),
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
        ("get", "/api/v1/tokens", get(tokens::list)),
        ("post", "/api/v1/tokens", post(tokens::create)),
        (
            "delete",
            "/api/v1/tokens/{token}",
            axum::routing::delete(tokens::revoke),
        ),
        ("get", "/api/v1/audit", get(audit::list)),
        ("post", "/api/v1/webhooks/{forge}", post(webhooks::receive)),
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
        .merge(crate::ui::routes())
        .route_layer(middleware::from_fn_with_state(Arc::clone(&state), observe))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state.security),
            ferry_security::guard,
        ))
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

/// A caller with a valid token (required for every mutating call): who
/// they are, their role and scope, and where they called from (for the
/// audit log). Handlers check the role with [`Principal::require`] /
/// [`Principal::check_promote`] so a denial can be audited too.
#[derive(Debug)]
pub struct Authenticated {
    /// The token's name: the initiator of what the caller does.
    pub name: String,
    pub principal: Principal,
    /// Client address (see [`ferry_security::client_address`]).
    pub remote: Option<String>,
}

impl FromRequestParts<Shared> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let Some(token) = bearer(parts) else {
            return Err(unauthorized(
                "this call needs `Authorization: Bearer <token>`",
            ));
        };
        match state.tokens.principal(token).await {
            Ok(Some(principal)) => Ok(Authenticated {
                name: principal.name.clone(),
                principal,
                remote: ferry_security::client_address(parts, &state.security.trusted_proxies),
            }),
            Ok(None) => Err(unauthorized("the token is not valid")),
            Err(e) => Err(ApiError::from(e).into_response()),
        }
    }
}

impl Authenticated {
    /// At least `role`, else 403 (not audited: for reads).
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        self.principal
            .require(role)
            .map_err(|d| ApiError::new(StatusCode::FORBIDDEN, d.0))
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
        // A signed-in browser reads with its session cookie (the UI's live
        // updates use the event stream); writes still need a bearer token.
        if bearer(parts).is_none()
            && let Ok(Some(_)) = state
                .ui
                .sessions
                .from_headers(&state.store, &parts.headers)
                .await
        {
            return Ok(Reader);
        }
        Authenticated::from_request_parts(parts, state)
            .await
            .map(|_| Reader)
    }
}
