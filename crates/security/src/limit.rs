//! Request body limits: tower-http's `RequestBodyLimit` (a body without
//! a `Content-Length` is cut off at the limit while it is read; a declared
//! one over the limit is answered earlier, by [`crate::guard::refusals`],
//! after the body has been read and discarded), with the
//! limit chosen by path — forge webhooks may be up to
//! [`WEBHOOK_BODY_LIMIT`], everything else up to [`BODY_LIMIT`]. The path
//! choice is the one hand-written part: tower-http's layer has one limit
//! per service, and the webhook route sits in the same router as the rest.

use std::task::{Context, Poll};

use axum::extract::Request;
use tower::{Layer, Service};
use tower_http::limit::RequestBodyLimit;

/// Largest request body accepted outside the webhooks.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Largest webhook body accepted (GitHub's own cap on deliveries is
/// 25 MB, the largest any forge documents); the webhook handler applies
/// each forge's own maximum.
pub const WEBHOOK_BODY_LIMIT: usize = 25 * 1024 * 1024;

/// Path prefix of the inbound forge webhooks (bodies up to
/// [`WEBHOOK_BODY_LIMIT`]; failed verifications rate limited per client).
pub const WEBHOOKS_PREFIX: &str = "/api/v1/webhooks/";

/// The body limit of a request to `path`.
pub fn body_limit(path: &str) -> usize {
    if path.starts_with(WEBHOOKS_PREFIX) {
        WEBHOOK_BODY_LIMIT
    } else {
        BODY_LIMIT
    }
}

/// The layer of [`BodyLimit`].
#[derive(Clone, Copy, Debug, Default)]
pub struct BodyLimitLayer;

impl<S: Clone> Layer<S> for BodyLimitLayer {
    type Service = BodyLimit<S>;

    fn layer(&self, inner: S) -> BodyLimit<S> {
        BodyLimit {
            webhooks: RequestBodyLimit::new(inner.clone(), WEBHOOK_BODY_LIMIT),
            rest: RequestBodyLimit::new(inner, BODY_LIMIT),
        }
    }
}

/// tower-http's body limit, [`WEBHOOK_BODY_LIMIT`] on the webhook paths
/// and [`BODY_LIMIT`] elsewhere.
#[derive(Clone, Debug)]
pub struct BodyLimit<S> {
    webhooks: RequestBodyLimit<S>,
    rest: RequestBodyLimit<S>,
}

impl<S> Service<Request> for BodyLimit<S>
where
    RequestBodyLimit<S>: Service<Request>,
{
    type Response = <RequestBodyLimit<S> as Service<Request>>::Response;
    type Error = <RequestBodyLimit<S> as Service<Request>>::Error;
    type Future = <RequestBodyLimit<S> as Service<Request>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Both wrap clones of one service; axum's routes are always ready.
        match self.webhooks.poll_ready(cx) {
            Poll::Ready(Ok(())) => self.rest.poll_ready(cx),
            other => other,
        }
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if body_limit(req.uri().path()) == WEBHOOK_BODY_LIMIT {
            self.webhooks.call(req)
        } else {
            self.rest.call(req)
        }
    }
}
