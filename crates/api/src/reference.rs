//! The interactive API reference at `/api/docs`: Swagger UI reading the
//! generated OpenAPI document (`/api/openapi.json`), so the reference
//! shows exactly what the handlers answer and "Try it out" calls this
//! ferry.
//!
//! Swagger UI's files are vendored (`assets/swagger-ui`, with their
//! licence and source in its README) and compiled into the binary: no
//! CDN, nothing to deploy beside ferry. Served as [`crate::assets`]
//! serves files (`ETag`, caching, gzip once: the script is 1.8 MB,
//! ~0.5 MB gzipped). The page and its starter
//! script are ferry's own; the security layer's Content Security Policy
//! applies unchanged (no inline script or style).

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::assets::Asset;
use crate::error::ApiError;
use crate::state::Shared;

const PAGE: &str = include_str!("../assets/reference.html");

static ASSETS: LazyLock<[Asset; 6]> = LazyLock::new(|| {
    [
        Asset::new(
            "swagger-ui-bundle.js",
            include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js"),
            "text/javascript; charset=utf-8",
        ),
        Asset::new(
            "swagger-ui.css",
            include_bytes!("../assets/swagger-ui/swagger-ui.css"),
            "text/css; charset=utf-8",
        ),
        Asset::new(
            "reference.js",
            include_bytes!("../assets/reference.js"),
            "text/javascript; charset=utf-8",
        ),
        Asset::new(
            "LICENSE",
            include_bytes!("../assets/swagger-ui/LICENSE"),
            "text/plain; charset=utf-8",
        ),
        Asset::new(
            "NOTICE",
            include_bytes!("../assets/swagger-ui/NOTICE"),
            "text/plain; charset=utf-8",
        ),
        Asset::new(
            "swagger-ui-bundle.js.LICENSE.txt",
            include_bytes!("../assets/swagger-ui/swagger-ui-bundle.js.LICENSE.txt"),
            "text/plain; charset=utf-8",
        ),
    ]
});

/// The reference page and its assets (no token needed, as for the
/// document itself).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/docs", get(page))
        .route("/api/docs/{asset}", get(serve))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => a.serve(&headers),
        None => {
            ApiError::not_found(format!("no asset {name} in the API reference")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads only what this module serves, relative to itself
    /// (so a path prefix works), and no script or style inline (the CSP
    /// forbids them).
    #[test]
    fn the_page_loads_only_served_assets() {
        for (attr, quote) in [("src=\"", '"'), ("href=\"", '"')] {
            for (i, _) in PAGE.match_indices(attr) {
                let rest = &PAGE[i + attr.len()..];
                let target = &rest[..rest.find(quote).unwrap_or(0)];
                let served = target == "openapi.json"
                    || target
                        .strip_prefix("docs/")
                        .is_some_and(|n| ASSETS.iter().any(|a| a.name == n));
                assert!(served, "{target} is not served");
            }
        }
        assert!(!PAGE.contains("<style") && !PAGE.contains("style=\""));
        assert_eq!(
            PAGE.matches("<script").count(),
            PAGE.matches("<script src=").count()
        );
    }
}
