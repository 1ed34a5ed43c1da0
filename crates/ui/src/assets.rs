//! The stylesheet and the one script, compiled into the binary and served
//! under `/assets/` with an `ETag` (their SHA-256) and a day of caching:
//! no Node build, no CDN, nothing to deploy beside the binary.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub const CSS: &str = include_str!("../assets/ferry.css");
pub const JS: &str = include_str!("../assets/ferry.js");

struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: String,
}

fn asset(body: &'static str, content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body.as_bytes());
    Asset {
        body,
        content_type,
        etag: format!("\"{}\"", hex::encode(&digest[..12])),
    }
}

static ASSETS: LazyLock<[(&str, Asset); 2]> = LazyLock::new(|| {
    [
        ("ferry.css", asset(CSS, "text/css; charset=utf-8")),
        ("ferry.js", asset(JS, "text/javascript; charset=utf-8")),
    ]
});

pub async fn serve(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, a)) = ASSETS.iter().find(|(n, _)| *n == name) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let cache = "public, max-age=86400";
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    if fresh {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, a.etag.clone()),
                (header::CACHE_CONTROL, cache.into()),
            ],
        )
            .into_response();
    }
    (
        [
            (header::CONTENT_TYPE, a.content_type.to_owned()),
            (header::ETAG, a.etag.clone()),
            (header::CACHE_CONTROL, cache.to_owned()),
        ],
        a.body,
    )
        .into_response()
}
