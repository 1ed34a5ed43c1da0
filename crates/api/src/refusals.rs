//! The JSON error body and the refusals the operations list in the OpenAPI
//! document ([`crate::openapi`]). Apart from the document so that the
//! handlers that name them do not import the module that lists the handlers.

use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// The JSON error body of every answer that is not a success, a
/// handler's or a layer's (`ferry_security::json_error`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, secrets masked.
    pub error: String,
    /// The HTTP status again.
    pub status: u16,
}

/// The refusal of a read that needs a token.
#[derive(IntoResponses)]
pub enum ReadRefusals {
    /// No token, or one ferry does not know (anonymous read is off).
    #[response(status = 401)]
    Unauthorized(ErrorBody),
}

/// The refusals every mutating call may answer.
#[derive(IntoResponses)]
pub enum WriteRefusals {
    /// A malformed body, parameter or `Idempotency-Key`.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// No token, or one ferry does not know.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The token's role or scope does not allow it (the refusal is
    /// audited).
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// ferry's storage cannot be written now: nothing was changed; retry
    /// after `Retry-After` seconds (with the same `Idempotency-Key`).
    #[response(status = 503)]
    Unavailable(ErrorBody),
}

/// The refusals of a request body (a malformed one, e.g. a bad chunk or
/// an unknown field at any level, is the 400 of [`WriteRefusals`]).
#[derive(IntoResponses)]
pub enum BodyRefusals {
    /// The body arrived too slowly: a pause longer than the body timeout,
    /// or under the minimum rate (settings `httpBodyTimeout`, `httpBodyMinRate`).
    #[response(status = 408)]
    TooSlow(ErrorBody),
    /// The body is larger than 1 MiB (refused at once when its
    /// `Content-Length` says so).
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not declared as JSON.
    #[response(status = 415)]
    NotJson(ErrorBody),
}
