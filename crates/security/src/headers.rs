//! Security headers on every response (SPEC §10): a Content Security
//! Policy without inline script (pages work without JavaScript; what
//! script there is comes from ferry's own files), no MIME sniffing, no
//! framing (clickjacking), no referrer beyond the origin, and HSTS when
//! ferry is served over https. A handler that sets its own CSP (a page
//! with a stricter or special policy) keeps it.

use axum::http::header::{self, HeaderValue};
use axum::response::Response;

/// The default policy: everything from ferry's own origin, no inline
/// script, no plugins, no framing, forms only back to ferry.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers to `response`; `https` adds HSTS.
pub fn apply(response: &mut Response, https: bool) {
    let h = response.headers_mut();
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
}
