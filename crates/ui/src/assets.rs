//! The stylesheet and the one script, compiled into the binary and served
//! under `/assets/` ([`ferry_api::assets`]: an `ETag`, a day of caching,
//! gzip once): no Node build, no CDN, nothing to deploy beside the binary.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_api::assets::Asset;

pub const CSS: &str = include_str!("../assets/ferry.css");
pub const JS: &str = include_str!("../assets/ferry.js");

static ASSETS: LazyLock<[Asset; 2]> = LazyLock::new(|| {
    [
        Asset::new("ferry.css", CSS.as_bytes(), "text/css; charset=utf-8"),
        Asset::new("ferry.js", JS.as_bytes(), "text/javascript; charset=utf-8"),
    ]
});

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => a.serve(&headers),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
