//! gzip for the UI's pages and assets when the browser accepts it. A
//! release view of 30 environments × 10 applications is ~450 KB of very
//! repetitive HTML and ~35 KB gzipped, which is what keeps its transfer
//! within the issue's 150 KB. Only complete HTML, CSS and script
//! responses are compressed; the event stream is never touched (it is
//! not a UI route, and its content type is excluded anyway).

use std::io::Write;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use flate2::Compression;
use flate2::write::GzEncoder;

/// Bodies smaller than this are sent as they are.
const MIN_SIZE: usize = 1024;
/// Larger bodies than this are not buffered for compression.
const MAX_SIZE: usize = 16 * 1024 * 1024;

/// Whether `accept` (an `Accept-Encoding` value) allows gzip.
pub fn accepts_gzip(accept: &str) -> bool {
    accept.split(',').any(|part| {
        let mut it = part.split(';');
        let coding = it.next().unwrap_or("").trim();
        let q_zero = it.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
    })
}

fn compressible(r: &Response) -> bool {
    let ct = r
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    r.status() == StatusCode::OK
        && r.headers().get(CONTENT_ENCODING).is_none()
        && (ct.starts_with("text/html")
            || ct.starts_with("text/css")
            || ct.starts_with("text/javascript"))
}

pub async fn layer(req: Request, next: Next) -> Response {
    let gzip = req
        .headers()
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(accepts_gzip);
    let response = next.run(req).await;
    if !compressible(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    parts
        .headers
        .append(VARY, HeaderValue::from_static("accept-encoding"));
    let Ok(bytes) = to_bytes(body, MAX_SIZE).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if !gzip || bytes.len() < MIN_SIZE {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let mut enc = GzEncoder::new(Vec::with_capacity(bytes.len() / 6), Compression::fast());
    match enc.write_all(&bytes).and_then(|_| enc.finish()) {
        Ok(zipped) => {
            parts.headers.remove(CONTENT_LENGTH);
            parts
                .headers
                .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            Response::from_parts(parts, Body::from(zipped))
        }
        Err(_) => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;

    #[test]
    fn accept_encoding() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip(""));
    }
}
