//! Why a request body could not be read, as the answer says it (issue 23):
//! over the limit is 413, too slow — a pause longer than the body timeout,
//! or under the minimum rate ([`crate::conn`]) — is 408, and anything else
//! (a malformed chunked encoding, a connection cut half-way) is 400. Each
//! is the JSON error body ([`json_error`]).

use std::error::Error;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;

use crate::conn::TooSlow;
use crate::error_body::json_error;

/// What went wrong reading a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// Larger than the limit: 413.
    TooLarge,
    /// Arrived too slowly or stalled: 408.
    TooSlow,
    /// Could not be read (malformed framing, cut off): 400.
    Unreadable,
}

impl BodyFault {
    /// Classifies an error of reading a body (`axum::body::to_bytes` and
    /// the like) by the errors along its chain of sources.
    pub fn of(err: &(dyn Error + 'static)) -> BodyFault {
        let mut next = Some(err);
        while let Some(e) = next {
            if e.is::<http_body_util::LengthLimitError>() {
                return BodyFault::TooLarge;
            }
            if e.is::<TooSlow>() || e.is::<tower_http::timeout::TimeoutError>() {
                return BodyFault::TooSlow;
            }
            if let Some(h) = e.downcast_ref::<hyper::Error>()
                && h.is_timeout()
            {
                return BodyFault::TooSlow;
            }
            next = e.source();
        }
        BodyFault::Unreadable
    }

    pub fn status(self) -> StatusCode {
        match self {
            BodyFault::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            BodyFault::TooSlow => StatusCode::REQUEST_TIMEOUT,
            BodyFault::Unreadable => StatusCode::BAD_REQUEST,
        }
    }
}

/// The answer to a body (`what`: "request body", "github delivery") that
/// could not be read within `limit` bytes because of `err`.
pub fn body_refused(what: &str, limit: usize, err: &(dyn Error + 'static)) -> Response {
    let fault = BodyFault::of(err);
    let message = match fault {
        BodyFault::TooLarge => format!("{what}: larger than {limit} bytes"),
        BodyFault::TooSlow => format!("{what}: {}", innermost(err)),
        BodyFault::Unreadable => format!("{what}: could not be read: {}", innermost(err)),
    };
    closing(json_error(fault.status(), &message))
}

/// The body length a request announces (`Content-Length`), when it does.
pub fn announced_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// How much of a body refused as too large is read and thrown away
/// before the 413, beyond the limit itself.
const DRAIN_BEYOND_LIMIT: u64 = 8 * 1024 * 1024;

/// How long a body refused as too large is read before the 413.
const DRAIN_TIME: Duration = Duration::from_secs(5);

/// 413 for a body (`what`) announced larger than `limit` bytes. It is
/// answered after reading and discarding the body — up to
/// [`DRAIN_BEYOND_LIMIT`] past the limit, for at most [`DRAIN_TIME`] —
/// the way nginx's lingering close does: a client writes its whole body
/// before it reads the answer, and a server that answers at once and
/// closes on unread data makes that write fail with a broken pipe, so the
/// client never sees the 413 that says why. Larger or slower bodies are
/// answered when the bound is reached; nothing read is kept.
pub async fn body_too_large(what: &str, limit: usize, body: axum::body::Body) -> Response {
    let cap = limit as u64 + DRAIN_BEYOND_LIMIT;
    let _ = tokio::time::timeout(DRAIN_TIME, drain(body, cap)).await;
    closing(json_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("{what}: larger than {limit} bytes"),
    ))
}

/// Reads `body` and throws it away until it ends, fails, or more than
/// `cap` bytes were read.
async fn drain(mut body: axum::body::Body, cap: u64) {
    use http_body_util::BodyExt;
    let mut read = 0u64;
    while let Some(Ok(frame)) = body.frame().await {
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > cap {
            break;
        }
    }
}

fn closing(mut response: Response) -> Response {
    // The rest of the body may be unread: hyper then closes the connection
    // after this answer, and saying so keeps clients from reusing it.
    response.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// The innermost error's message: the one that says what happened
/// (the outer ones only wrap it).
fn innermost(err: &(dyn Error + 'static)) -> String {
    let mut e = err;
    while let Some(inner) = e.source() {
        e = inner;
    }
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that sends one piece, then fails as hyper does on a
    /// malformed chunk.
    struct Broken(bool);

    impl http_body::Body for Broken {
        type Data = bytes::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
            if self.0 {
                return Poll::Ready(Some(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "invalid chunk size line",
                ))));
            }
            self.0 = true;
            Poll::Ready(Some(Ok(http_body::Frame::data(bytes::Bytes::from_static(
                b"{",
            )))))
        }
    }

    #[tokio::test]
    async fn over_the_limit_is_413_and_other_failures_400() {
        let big = axum::body::Body::from(vec![b'x'; 100]);
        let err = axum::body::to_bytes(big, 10).await.unwrap_err();
        assert_eq!(BodyFault::of(&err), BodyFault::TooLarge);

        let err = axum::body::to_bytes(axum::body::Body::new(Broken(false)), 1000)
            .await
            .unwrap_err();
        assert_eq!(BodyFault::of(&err), BodyFault::Unreadable);
        let r = body_refused("request body", 1000, &err);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(r.into_body(), 10_000).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["status"], 400);
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("could not be read: invalid chunk size line"),
            "{v}"
        );
    }
}
