//! `GET /api/v1/releases/{id}/notes?format=json|markdown` (SPEC §7, §9):
//! the release notes, computed on first request and then served from the
//! store (see `ferry_notes::cache`). The product's `spec.releaseNotes` is
//! taken from the active configuration.

use axum::extract::{Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{Reader, Shared};
use crate::error::{ApiError, ApiQuery};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesQuery {
    /// `json` (default) or `markdown`.
    format: Option<String>,
}

pub async fn show(
    _: Reader,
    State(st): State<Shared>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<NotesQuery>,
) -> Result<Response, ApiError> {
    let markdown = match q.format.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("json") => false,
        Some("markdown" | "md") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "format: unknown format `{other}` (json, markdown)"
            )));
        }
    };
    let loaded = st.engine.config();
    let spec = |product: &str| {
        loaded
            .config
            .product(product)
            .and_then(|p| p.spec.release_notes.clone())
    };
    let failed = notes_error;
    if markdown {
        let notes = ferry_notes::notes_for_release(&st.store, &st.notes, &id, spec)
            .await
            .map_err(failed)?;
        Ok((
            [(CONTENT_TYPE, "text/markdown; charset=utf-8")],
            ferry_notes::markdown(&notes),
        )
            .into_response())
    } else {
        // The stored document as it is: no decode and re-encode.
        let body = ferry_notes::notes_json_for_release(&st.store, &st.notes, &id, spec)
            .await
            .map_err(failed)?;
        Ok(([(CONTENT_TYPE, "application/json")], body).into_response())
    }
}

/// A notes failure as an answer (the UI's notes page answers the same).
pub(crate) fn notes_error(e: ferry_notes::Error) -> ApiError {
    match e {
        ferry_notes::Error::NoRelease(id) => ApiError::not_found(format!("no release `{id}`")),
        ferry_notes::Error::Store(e) => e.into(),
        other => ApiError::internal("computing release notes", other),
    }
}
