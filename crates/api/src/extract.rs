//! Who is calling: [`Authenticated`] (a valid bearer token) and [`Reader`]
//! (anyone allowed to read), as axum extractors.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use crate::auth::{Principal, Role};
use crate::error::ApiError;
use crate::state::Shared;

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
