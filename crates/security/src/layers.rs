//! The layers around every route, put together in one place so no route
//! can miss one. From the outside in:
//!
//! 1. a request id (tower-http `SetRequestId`: the client's or a proxy's
//!    `X-Request-Id`, else a new UUID), echoed on the response;
//! 2. a tracing span per request (tower-http `Trace`) naming the method,
//!    the path (never the query, which may carry a token) and the request
//!    id, so every log line of a request carries its id;
//! 3. the security headers ([`crate::headers`]);
//! 4. ferry's error body and `Connection: close` on refusals
//!    ([`crate::guard::refusals`]);
//! 5. the body limits ([`crate::limit`], tower-http `RequestBodyLimit`; a
//!    body announced too large is answered by layer 4, after it is read);
//! 6. the JSON nesting limit ([`crate::guard::json_depth`]).
//!
//! Timeouts on slow clients are the accept loop's ([`crate::conn`]):
//! hyper's header timer and tower-http's `TimeoutBody` on request bodies.
//! There is deliberately no timeout around handlers: cutting one off
//! mid-promotion or mid-retry would drop its work at an arbitrary await;
//! the operations someone asks for bound their own wait on the store
//! (at most 1.5 s, `ReleaseHandle::update_for_request`).

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderName;
use axum::middleware;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::guard::{json_depth, refusals};
use crate::headers;
use crate::limit::BodyLimitLayer;

/// The request id header, set on every request and echoed on its
/// response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `router` behind every protective layer; `https` adds HSTS.
pub fn protect<S: Clone + Send + Sync + 'static>(router: Router<S>, https: bool) -> Router<S> {
    let router = router
        .layer(middleware::from_fn(json_depth))
        .layer(BodyLimitLayer)
        .layer(middleware::from_fn(refusals));
    headers::layer(router, https)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(Level::DEBUG))
                // 5xx answers; the handler logged the cause.
                .on_failure(DefaultOnFailure::new().level(Level::WARN)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// The span of one request.
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = req.uri().path(),
        request_id = id,
    )
}
