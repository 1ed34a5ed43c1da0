//! Failing fast while the storage is down (issue 23). A mutating request
//! (anything but GET, HEAD, OPTIONS) answers 503 with `Retry-After` at
//! once while [`ferry_wiring::StorageHealth`] says the store cannot be
//! written, and one already running when the storage goes down answers
//! 503 then, instead of waiting out the database's timeouts (it changed
//! nothing it could not roll back: its transaction is closed with its
//! connection; a client with an `Idempotency-Key` may send it again).
//! Reads go on: what is in memory or still readable is served.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::Shared;

pub async fn fail_fast(State(st): State<Shared>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if let Some((_, why)) = st.health.down() {
        return ApiError::unavailable(why).into_response();
    }
    let health = st.health.clone();
    let response = tokio::select! {
        biased;
        response = next.run(req) => response,
        () = health.went_down() => {
            let why = health.down().map(|(_, why)| why).unwrap_or_default();
            return ApiError::unavailable(why).into_response();
        }
    };
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        // The handler met the fault before the probe did.
        st.health.mark_down("a request could not be stored");
    }
    response
}
