//! The one error body of every ferry HTTP answer — a handler's error or a
//! refusal by the layers here, before any handler ran: JSON
//! `{"error": "...", "status": N}`, its message masked by the redactor.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::secrets::redact;

/// `status` with the JSON error body saying `message`. Every message goes
/// through the redactor on its way out, 4xx ones too: a bad-request text
/// may quote a URL with credentials.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({"error": redact(message), "status": status.as_u16()});
    (status, Json(body)).into_response()
}
