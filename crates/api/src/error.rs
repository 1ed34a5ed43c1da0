//! API errors: JSON `{"error": "...", "status": N}`, 4xx for bad input,
//! 5xx with a message that names the operation but never a secret.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use ferry_security::redact;
use serde::de::DeserializeOwned;

/// `Retry-After` of a 503: the storage is probed every half second while
/// it is down, so a few seconds is when a retry may succeed.
pub const RETRY_AFTER_SECONDS: &str = "2";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    /// The storage cannot be written now (issue 23): 503, answered with
    /// `Retry-After`; nothing was changed.
    pub fn unavailable(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "ferry's storage cannot be written now; nothing was changed, try again shortly ({})",
                redact(&message.to_string())
            ),
        )
    }

    /// An internal failure: logged in full (already redacted by the
    /// layers below), answered with its message through the redactor.
    pub fn internal(context: &str, err: impl std::fmt::Display) -> ApiError {
        let text = redact(&err.to_string());
        tracing::error!(%context, error = %text, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{context}: {text}"),
        )
    }
}

impl IntoResponse for ApiError {
    /// The JSON error body, its message masked on the way out
    /// ([`ferry_security::json_error`]).
    fn into_response(self) -> Response {
        let mut response = ferry_security::json_error(self.status, &self.message);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

impl From<ferry_engine::Error> for ApiError {
    fn from(e: ferry_engine::Error) -> ApiError {
        use ferry_engine::Error as E;
        match e {
            E::NotFound(_) | E::UnknownProduct(_) => ApiError::not_found(e.to_string()),
            E::UnknownFlow { .. }
            | E::UnknownEnvironment(_)
            | E::BadRequest(_)
            | E::InvalidFlow { .. } => ApiError::bad_request(e.to_string()),
            E::Conflict { .. } | E::ApprovalConflict(_) => {
                ApiError::new(StatusCode::CONFLICT, e.to_string())
            }
            E::NotApprover(_) => ApiError::new(StatusCode::FORBIDDEN, e.to_string()),
            E::Unavailable(_) | E::ShuttingDown => ApiError::unavailable(e),
            E::IdempotencyKeyReused(_) | E::UnknownWorkflow { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            E::Store(ref s)
                if s.downcast_ref::<ferry_store::Error>()
                    .is_some_and(ferry_store::Error::is_unavailable) =>
            {
                ApiError::unavailable(e)
            }
            E::Runner(ferry_workflow::RunnerError::UnknownRun(_)) => {
                ApiError::not_found(e.to_string())
            }
            E::Runner(ferry_workflow::RunnerError::Resume { .. }) => {
                ApiError::bad_request(e.to_string())
            }
            E::Runner(
                ferry_workflow::RunnerError::NotSuspended { .. }
                | ferry_workflow::RunnerError::UnknownStep { .. },
            ) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            other => ApiError::internal("engine", other),
        }
    }
}

impl From<ferry_store::Error> for ApiError {
    fn from(e: ferry_store::Error) -> ApiError {
        match e {
            ferry_store::Error::BadCursor { .. } => ApiError::bad_request(e.to_string()),
            ferry_store::Error::NotFound { .. } => ApiError::not_found(e.to_string()),
            ref unavailable if unavailable.is_unavailable() => ApiError::unavailable(e),
            other => ApiError::internal("storage", other),
        }
    }
}

/// `Json<T>` whose rejections are [`ApiError`]s: 400 for malformed JSON
/// or unknown fields, 413 over the body limit, 415 without a JSON type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = match &r {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            StatusCode::PAYLOAD_TOO_LARGE
        }
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, r.body_text())
}

/// `Query<T>` whose rejections are 400 [`ApiError`]s.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request(r.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_security::register_secret;

    #[test]
    fn internal_errors_mask_secrets_and_url_credentials() {
        register_secret("hunter2-secret");
        let e = ApiError::internal(
            "git",
            "push to https://bob:pw123@git.example/x.git failed; token hunter2-secret",
        );
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("pw123"), "{}", e.message);
        assert!(!e.message.contains("hunter2-secret"), "{}", e.message);
        assert!(e.message.contains("git.example/x.git"), "{}", e.message);
    }
}
