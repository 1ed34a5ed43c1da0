//! Files compiled into the binary and served as they are: the web UI's
//! stylesheet and script, the API reference's Swagger UI. Each with an
//! `ETag` (its SHA-256) that answers `If-None-Match` with 304, a day of
//! caching, and gzip when the browser accepts it — compressed once, on
//! the first request that asks, and kept (never at start-up).

use std::io::Write;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::gzip::accepts_gzip;

pub struct Asset {
    pub name: &'static str,
    pub body: &'static [u8],
    content_type: &'static str,
    etag: String,
    gzipped: OnceLock<Option<Vec<u8>>>,
}

impl Asset {
    pub fn new(name: &'static str, body: &'static [u8], content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body);
        Asset {
            name,
            body,
            content_type,
            etag: format!("\"{}\"", hex::encode(&digest[..12])),
            gzipped: OnceLock::new(),
        }
    }

    /// The body gzipped (`None` if compression failed: sent as it is).
    pub fn gzipped(&self) -> Option<&[u8]> {
        self.gzipped
            .get_or_init(|| {
                let mut enc = GzEncoder::new(Vec::new(), Compression::best());
                enc.write_all(self.body).ok()?;
                enc.finish().ok()
            })
            .as_deref()
    }

    /// The answer to a `GET` with `headers` (assets live in statics: the
    /// body is sent without a copy).
    pub fn serve(&'static self, headers: &HeaderMap) -> Response {
        let cache = HeaderValue::from_static("public, max-age=86400");
        let etag = HeaderValue::from_str(&self.etag).unwrap_or(HeaderValue::from_static("\"\""));
        let fresh = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == self.etag));
        if fresh {
            return (
                StatusCode::NOT_MODIFIED,
                [(header::ETAG, etag), (header::CACHE_CONTROL, cache)],
            )
                .into_response();
        }
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip);
        let mut response = match gzip.then(|| self.gzipped()).flatten() {
            Some(body) => (
                [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
                body,
            )
                .into_response(),
            None => self.body.into_response(),
        };
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(header::ETAG, etag);
        h.insert(header::CACHE_CONTROL, cache);
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        response
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn etag_gzip_and_not_modified() {
        static CSS: &[u8] = b"body { color: black; } body { color: black; } body { color: black; }";
        static A: std::sync::LazyLock<Asset> =
            std::sync::LazyLock::new(|| Asset::new("a.css", CSS, "text/css; charset=utf-8"));
        let a = &*A;
        let mut h = HeaderMap::new();
        let plain = a.serve(&h);
        assert_eq!(plain.status(), StatusCode::OK);
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let etag = plain.headers()[header::ETAG].clone();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip"),
        );
        let gz = a.serve(&h);
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(a.gzipped().expect("gzip"))
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, CSS);
        h.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(a.serve(&h).status(), StatusCode::NOT_MODIFIED);
    }
}
