//! What ferry checks itself, beside tower-http's layers: rate limits on
//! sign-in and on webhook deliveries that fail verification, the JSON
//! depth limit on request bodies, a body that cannot be read answered by
//! what went wrong ([`crate::body`]), and ferry's error body on every
//! error of the API (issue 23).

use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::body::{announced_length, body_refused, body_too_large};
use crate::depth;
use crate::error_body::json_error;
use crate::limit::body_limit;
use crate::rate::RateLimiter;
use crate::remote::{TrustedProxies, client_address};

/// What the protective layers need, shared through the app state.
#[derive(Debug)]
pub struct Security {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// Sign-in attempts per client: the UI's sign-in calls
    /// [`RateLimiter::check`] before it looks at a token.
    pub sign_in: RateLimiter,
    /// Webhook deliveries per client that failed verification: verified
    /// deliveries are never limited (SPEC §12; forges disable hooks that
    /// keep getting 4xx, and their senders share addresses).
    pub webhooks: RateLimiter,
    /// The public base URL is https: cookies are `Secure` and browsers are
    /// told to stay on https (HSTS).
    pub https: bool,
}

impl Security {
    /// For the UI's sign-in: takes one attempt of the calling client, or
    /// answers 429 with `Retry-After`. Call it before looking at the token.
    // The refusal is the response itself, as with axum's own rejections;
    // it is built once per refused attempt, so its size does not matter.
    #[allow(clippy::result_large_err)]
    pub fn limit_sign_in(&self, parts: &axum::http::request::Parts) -> Result<(), Response> {
        let client =
            client_address(parts, &self.trusted_proxies).unwrap_or_else(|| "unknown".into());
        self.sign_in
            .check(&client)
            .map_err(|wait| too_many(wait, "sign-in attempts"))
    }

    /// For the webhook endpoint, after a delivery failed verification:
    /// counts it against the calling client and answers 429 with
    /// `Retry-After` once the client has failed too often (`None`: answer
    /// 401 as usual).
    pub fn webhook_refused(&self, parts: &axum::http::request::Parts) -> Option<Response> {
        let client =
            client_address(parts, &self.trusted_proxies).unwrap_or_else(|| "unknown".into());
        self.webhooks
            .check(&client)
            .err()
            .map(|wait| too_many(wait, "unauthenticated webhook deliveries"))
    }

    /// Defaults: 10 sign-in attempts per client, refilled one per 6 s; 120
    /// failed webhook verifications per client in a burst, refilled 10 per
    /// second.
    pub fn new(trusted_proxies: TrustedProxies, https: bool) -> Security {
        Security {
            trusted_proxies,
            sign_in: RateLimiter::new(10, Duration::from_secs(6)),
            webhooks: RateLimiter::new(120, Duration::from_millis(100)),
            https,
        }
    }
}

/// The JSON nesting limit on request bodies (tower-http has no such
/// layer): a JSON body — a POST, PUT or PATCH whose content type says
/// JSON, or says nothing — is read whole (under the body limit of
/// [`crate::limit`], which runs before this) and refused with 400 when it
/// nests deeper than [`depth::MAX_JSON_DEPTH`], before a parser recurses
/// into it.
pub async fn json_depth(req: Request, next: Next) -> Response {
    match checked(req).await {
        Ok(req) => next.run(req).await,
        Err(refusal) => refusal,
    }
}

/// Refusals made by layers that know nothing of ferry's error body
/// (tower-http's 413 for a declared `Content-Length` over the limit) get
/// it, as does every other error under `/api/` and the probes that is not
/// JSON (axum's 405, a plain-text extractor refusal: its text kept). A
/// body announced larger than the limit is refused here, after it has
/// been read and discarded ([`body_too_large`]), so the client sees the
/// 413 instead of a broken pipe. A 413 or 429 says `Connection: close`:
/// the rest of the request body may be unread, so hyper closes the
/// connection after this response, and saying so lets a client drop it
/// from its pool instead of sending its next request into a socket that
/// is about to close.
pub async fn refusals(req: Request, next: Next) -> Response {
    let limit = body_limit(req.uri().path());
    let json_errors = answers_json(req.uri().path());
    let response = match announced_length(req.headers()) {
        Some(length) if length > limit as u64 => {
            body_too_large("request body", limit, req.into_body()).await
        }
        _ => next.run(req).await,
    };
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().contains("json"));
    let closing =
        status == StatusCode::PAYLOAD_TOO_LARGE || status == StatusCode::TOO_MANY_REQUESTS;
    let mut response = if json || !(status.is_client_error() || status.is_server_error()) {
        response
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        json_error(status, &format!("request body: larger than {limit} bytes"))
    } else if json_errors {
        as_json_error(response).await
    } else {
        response
    };
    if closing {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Paths whose errors are JSON (`{error, status}`): the API, webhooks
/// included, and the probes. The web UI answers its errors as pages.
fn answers_json(path: &str) -> bool {
    path.starts_with("/api/") || matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Longest error body read to carry its text over into the JSON body.
const ERROR_TEXT_LIMIT: usize = 16 * 1024;

/// A non-JSON error answer as the one JSON error body, its text kept as
/// the message (the status's reason when it has none).
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_LIMIT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("error")
            .to_ascii_lowercase()
    } else {
        text
    };
    let json = json_error(status, &message);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let (json_parts, json_body) = json.into_parts();
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, json_body)
}

async fn checked(req: Request) -> Result<Request, Response> {
    let limit = body_limit(req.uri().path());
    let (parts, body) = req.into_parts();
    let has_body = matches!(parts.method, Method::POST | Method::PUT | Method::PATCH);
    let json = match parts.headers.get(header::CONTENT_TYPE) {
        None => true,
        Some(v) => v
            .to_str()
            .map(|t| t.to_ascii_lowercase().contains("json"))
            .unwrap_or(false),
    };
    if !has_body || !json {
        return Ok(Request::from_parts(parts, body));
    }
    // Over the limit 413, too slow 408, malformed (a bad chunk) 400.
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|e| body_refused("request body", limit, &e))?;
    if let Some(at) = depth::too_deep(&bytes, depth::MAX_JSON_DEPTH) {
        return Err(json_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "request body: JSON nested deeper than {} levels at byte {at}",
                depth::MAX_JSON_DEPTH
            ),
        ));
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// 429 with `Retry-After` (whole seconds, at least 1).
pub fn too_many(wait: Duration, what: &str) -> Response {
    let mut r = json_error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!("too many {what} from this client; retry later"),
    );
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_attempts_are_limited_per_client() {
        let security = Security::new(TrustedProxies::default(), false);
        let parts = |peer: &str| {
            let (mut parts, ()) = axum::http::Request::builder()
                .uri("/signin")
                .body(())
                .unwrap()
                .into_parts();
            parts.extensions.insert(axum::extract::ConnectInfo(
                peer.parse::<std::net::SocketAddr>().unwrap(),
            ));
            parts
        };
        let a = parts("192.0.2.1:4000");
        for _ in 0..10 {
            assert!(security.limit_sign_in(&a).is_ok());
        }
        let refused = security.limit_sign_in(&a).unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.headers().contains_key(header::RETRY_AFTER));
        assert!(security.limit_sign_in(&parts("192.0.2.2:4000")).is_ok());
    }
}
