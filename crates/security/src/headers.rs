//! Security headers on every response (SPEC §10): a Content Security
//! Policy without inline script (pages work without JavaScript; what
//! script there is comes from ferry's own files), no MIME sniffing, no
//! framing (clickjacking), no referrer beyond the origin, and HSTS when
//! ferry is served over https. A handler that sets its own CSP (a page
//! with a stricter or special policy) keeps it. tower-http's
//! `SetResponseHeaderLayer` sets them, outside every handler and
//! fallback, so errors and 404s carry them too.

use axum::Router;
use axum::http::header::{self, HeaderName, HeaderValue};
use tower_http::set_header::SetResponseHeaderLayer;

/// The default policy: everything from ferry's own origin, no inline
/// script, no plugins, no framing, forms only back to ferry.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// HSTS for a year, sent only when the public base URL is https.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The headers every response gets, whatever the handler set.
const ALWAYS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    ),
];

/// `router` with the security headers on every response; `https` adds
/// HSTS.
pub fn layer<S: Clone + Send + Sync + 'static>(router: Router<S>, https: bool) -> Router<S> {
    let mut router = router.layer(SetResponseHeaderLayer::if_not_present(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    ));
    for (name, value) in ALWAYS {
        router = router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    router.layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        https.then(|| HeaderValue::from_static(STRICT_TRANSPORT_SECURITY)),
    ))
}
