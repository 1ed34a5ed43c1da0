//! `GET /api/v1/releases/{id}/notes?format=json|markdown` (SPEC §7, §9):
//! the release notes, computed on first request and then served from the
//! store as stored (see `ferry_notes::cache`): gzip-compressed to clients
//! that accept it, plain to the others, with a strong ETag so a client
//! that has them gets a 304. The product's `spec.releaseNotes` is
//! taken from the active configuration.
//!
//! `POST /api/v1/releases/{id}/notes/refresh` computes them again (a
//! registry or repository that was down may be back): a promoter's call,
//! audited and noted in the release's history.

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_model::resource::ReleaseNotesSpec;
use ferry_notes::rendition::gzip_etag;
use ferry_notes::{NotesEncoding, NotesFormat};
use serde::Deserialize;

use crate::audit::Audit;
use crate::auth::{Denied, Role};
use crate::error::{ApiError, ApiQuery};
use crate::extract::{Authenticated, Reader};
use crate::refusals::{ErrorBody, ReadRefusals, WriteRefusals};
use crate::state::Shared;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotesQuery {
    /// `json` (default) or `markdown`.
    format: Option<String>,
}

impl NotesQuery {
    fn format(&self) -> Result<NotesFormat, ApiError> {
        match self.format.as_deref() {
            None => Ok(NotesFormat::Json),
            Some(text) => NotesFormat::parse(text).ok_or_else(|| {
                ApiError::bad_request(format!("format: unknown format `{text}` (json, markdown)"))
            }),
        }
    }
}

/// Notes may be refreshed, and they are only for callers allowed to read
/// them: caches keep them privately and ask again each time (cheap: a
/// 304 when unchanged).
const CACHE_POLICY: &str = "private, no-cache";

/// Release notes: configuration commits, images and the code commits
/// behind them, grouped (computed once per release, then cached).
///
/// Served as stored when the notes were computed: gzip-compressed
/// (`Content-Encoding: gzip`) to clients that send `Accept-Encoding:
/// gzip`, uncompressed to the others. Every answer carries a strong
/// `ETag` (the gzip body's ends in `-gzip"`), `Vary: Accept-Encoding` and
/// `Cache-Control: private, no-cache`; `If-None-Match` with either tag
/// gets a 304. Notes that say something could not be found out (`notes`
/// not empty) are computed again on read once older than the
/// `notesRefreshInterval` setting.
#[utoipa::path(get, path = "/api/v1/releases/{id}/notes", tag = "notes",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("format" = Option<String>, Query, description = "`json` (default) or `markdown`"),
        ("If-None-Match" = Option<String>, Header, description = "An ETag of notes the client has"),
    ),
    responses(
        (status = 200, description = "The notes", headers(("ETag" = String, description = "Strong; the gzip body's ends in `-gzip\"`")), content(
            (ferry_notes::document::ReleaseNotes = "application/json"),
            (String = "text/markdown"),
        )),
        (status = 304, description = "Not modified: the ETag named in If-None-Match is current"),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The release has not read its snapshot yet", body = ErrorBody),
    ))]
pub async fn show(
    _: Reader,
    State(st): State<Shared>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<NotesQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let format = q.format()?;
    let gzip = headers
        .get(ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::gzip::accepts_gzip);
    let encoding = if gzip {
        NotesEncoding::Gzip
    } else {
        NotesEncoding::Identity
    };
    let current = ferry_notes::notes_validator(&st.store, &st.notes, &id, format)
        .await
        .map_err(notes_error)?;
    if let Some(v) = &current {
        // A conditional request is answered from the stored ETag alone.
        if let Some(wanted) = headers.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok())
            && matches(wanted, &v.etag)
        {
            let tag = if gzip {
                gzip_etag(&v.etag)
            } else {
                v.etag.clone()
            };
            return Ok(with_validators(
                StatusCode::NOT_MODIFIED.into_response(),
                &tag,
            ));
        }
        // A body served before under the stored ETag is still current.
        if let Some(body) = st.notes_bodies.get(&id, format, encoding, &v.etag) {
            return Ok(notes_response(format, encoding, &v.etag, body));
        }
    }
    let loaded = st.engine.config();
    let spec = |product: &str| product_spec(&loaded, product);
    let notes = ferry_notes::cached_notes(&st.store, &st.notes, &id, format, encoding, spec)
        .await
        .map_err(notes_error)?;
    let body = Bytes::from(notes.body);
    st.notes_bodies
        .put(&id, format, encoding, &notes.etag, body.clone());
    Ok(notes_response(format, encoding, &notes.etag, body))
}

/// The notes body with its type, encoding and validators (`etag` is the
/// uncompressed body's; the gzip body has its own).
fn notes_response(
    format: NotesFormat,
    encoding: NotesEncoding,
    etag: &str,
    body: Bytes,
) -> Response {
    let tag = match encoding {
        NotesEncoding::Gzip => gzip_etag(etag),
        NotesEncoding::Identity => etag.to_owned(),
    };
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if encoding == NotesEncoding::Gzip {
        r.headers_mut()
            .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    with_validators(r, &tag)
}

/// Compute the release notes again (a registry or repository was
/// unavailable the first time) and replace the cached ones.
///
/// Needs a token with the promoter role (or admin) whose scope includes
/// the release's product. Audited (`notes.refresh`) and noted in the
/// release history. Answers the new notes in `format`.
#[utoipa::path(post, path = "/api/v1/releases/{id}/notes/refresh", tag = "notes",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("format" = Option<String>, Query, description = "`json` (default) or `markdown`"),
    ),
    responses(
        (status = 200, description = "The notes as computed now", headers(("ETag" = String, description = "Strong; the gzip body's ends in `-gzip\"`")), content(
            (ferry_notes::document::ReleaseNotes = "application/json"),
            (String = "text/markdown"),
        )),
        WriteRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The release has not read its snapshot yet", body = ErrorBody),
    ))]
pub async fn refresh(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<NotesQuery>,
) -> Result<Response, ApiError> {
    let format = q.format()?;
    let notes = refresh_as(&st, &caller, &id).await?;
    let (content_type, body) = match format {
        NotesFormat::Json => (
            format.content_type(),
            serde_json::to_vec(&notes)
                .map_err(|e| ApiError::internal("encoding release notes", e))?,
        ),
        NotesFormat::Markdown => (
            format.content_type(),
            ferry_notes::markdown(&notes).into_bytes(),
        ),
    };
    let etag = ferry_notes::rendition::etag(&body);
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(with_validators(r, &etag))
}

/// Whether `caller` may refresh the notes of `product`'s releases: a
/// promoter whose scope includes the product. Refreshing writes no
/// environment, so production rights are not needed.
pub fn may_refresh(caller: &Authenticated, product: &str) -> Result<(), Denied> {
    caller.principal.require(Role::Promoter).and_then(|()| {
        if caller.principal.may_promote(product, false) {
            Ok(())
        } else {
            Err(Denied(format!(
                "token `{}` may not act here: product `{}` is outside its scope",
                caller.name, product
            )))
        }
    })
}

/// Computes a release's notes again for `caller` and stores them: the
/// role check (promoter within the token's product scope; refreshing
/// writes no environment) and the audit entry shared by the API and the
/// notes page's Refresh button.
pub async fn refresh_as(
    st: &Shared,
    caller: &Authenticated,
    id: &str,
) -> Result<ferry_notes::document::ReleaseNotes, ApiError> {
    let audit = Audit::new(st, caller, "notes.refresh", id).release(id);
    let release = match st.store.get(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(audit.release_missing(id).await),
        Err(e) => return Err(e.into()),
    };
    let audit = audit
        .product(release.product.clone())
        .check(may_refresh(caller, &release.product))
        .await?;
    let loaded = st.engine.config();
    let result = ferry_notes::refresh_notes(&st.store, &st.notes, id, |p| product_spec(&loaded, p))
        .await
        .map_err(notes_error);
    let notes = audit
        .finish(result, StatusCode::OK, |_| Some(id.to_owned()))
        .await?;
    if ferry_notes::is_degraded(&notes) {
        tracing::info!(release = %id, "release notes refreshed, still incomplete");
    }
    Ok(notes)
}

/// A release's notes as stored (computed and cached on first read) under
/// its product's `releaseNotes` settings: what the UI's notes pages show.
pub async fn release_notes(st: &Shared, id: &str) -> Result<ferry_notes::ReleaseNotes, ApiError> {
    let loaded = st.engine.config();
    ferry_notes::notes_for_release(&st.store, &st.notes, id, |p| product_spec(&loaded, p))
        .await
        .map_err(notes_error)
}

fn product_spec(loaded: &ferry_model::Loaded, product: &str) -> Option<ReleaseNotesSpec> {
    loaded
        .config
        .product(product)
        .and_then(|p| p.spec.release_notes.clone())
}

/// ETag, `Vary` and `Cache-Control` of every notes answer.
fn with_validators(mut r: Response, etag: &str) -> Response {
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(ETAG, v);
    }
    h.insert(VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_POLICY));
    r
}

/// Whether an `If-None-Match` value names the stored body: `*`, or a
/// listed tag equal to its ETag or its gzip ETag. If-None-Match compares
/// weakly (RFC 9110 §13.1.2), so a `W/` prefix does not matter.
fn matches(if_none_match: &str, etag: &str) -> bool {
    let zipped = gzip_etag(etag);
    if_none_match.split(',').map(str::trim).any(|t| {
        let t = t.strip_prefix("W/").unwrap_or(t);
        t == "*" || t == etag || t == zipped
    })
}

/// A notes failure as an answer (the UI's notes page answers the same).
pub fn notes_error(e: ferry_notes::Error) -> ApiError {
    match e {
        ferry_notes::Error::NoRelease(id) => ApiError::not_found(format!("no release `{id}`")),
        e @ ferry_notes::Error::SnapshotPending(_) => {
            ApiError::new(axum::http::StatusCode::CONFLICT, e.to_string())
        }
        ferry_notes::Error::Store(e) => e.into(),
        other => ApiError::internal("computing release notes", other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let tag = "\"abc\"";
        assert!(matches("\"abc\"", tag));
        assert!(matches("\"x\", W/\"abc-gzip\"", tag));
        assert!(matches("*", tag));
        assert!(!matches("\"abcd\"", tag));
        assert!(!matches("abc", tag));
    }
}
