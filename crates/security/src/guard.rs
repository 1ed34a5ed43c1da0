//! The router's outer layer and what it needs: rate limits on the webhook
//! paths and sign-in, the JSON depth limit on request bodies, and the
//! security headers on every response (errors and 404s included).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::depth;
use crate::error_body::json_error;
use crate::headers;
use crate::rate::RateLimiter;
use crate::remote::{TrustedProxies, client_address};

/// Path prefix of the inbound forge webhooks (bodies up to
/// [`WEBHOOK_BODY_LIMIT`]; failed verifications rate limited per client).
pub const WEBHOOKS_PREFIX: &str = "/api/v1/webhooks/";

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

/// Largest request body accepted (the API's default body limit too).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Largest webhook body buffered for the depth check (GitHub's own cap on
/// deliveries is 25 MB, the largest any forge documents); the webhook
/// handler applies each forge's own maximum.
pub const WEBHOOK_BODY_LIMIT: usize = 25 * 1024 * 1024;

/// The router's outermost layer: the JSON depth limit on request bodies
/// and security headers on every response (errors and 404s included).
/// Webhook deliveries are not rate limited here: only the ones that fail
/// verification are, by the handler ([`Security::webhook_refused`]).
pub async fn guard(State(st): State<Arc<Security>>, req: Request, next: Next) -> Response {
    let https = st.https;
    let mut response = match checked(req).await {
        Ok(req) => next.run(req).await,
        Err(refusal) => refusal,
    };
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        || response.status() == StatusCode::TOO_MANY_REQUESTS
    {
        // The rest of the request body was never read, so hyper closes
        // the connection after this response. Saying so lets a client
        // drop it from its pool instead of sending its next request
        // into a socket that is about to close (a broken pipe).
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    headers::apply(&mut response, https);
    response
}

async fn checked(req: Request) -> Result<Request, Response> {
    let webhook = req.uri().path().starts_with(WEBHOOKS_PREFIX);
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
    let limit = if webhook {
        WEBHOOK_BODY_LIMIT
    } else {
        BODY_LIMIT
    };
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return Err(json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("request body: larger than {limit} bytes or unreadable"),
            ));
        }
    };
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
