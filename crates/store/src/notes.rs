//! The release-notes cache (issue 8): each format of a release's notes as
//! served (`release_notes_renditions`: the response body gzip-compressed
//! and as it is, with its ETag), written once the notes are computed; the document of
//! the first version of the cache (`release_notes`, read only to convert
//! rows written before migration 18); and the earlier releases of a
//! product the notes are counted from. The store knows nothing of the
//! bodies' shape beyond their format version.

use ferry_release::{Release, Timestamp};
use sqlx::Row;

use crate::backend::{BeginWrite, RowExt, on_pool};
use crate::columns::{from_millis, millis, release_from_document, to_i64, to_u64};
use crate::error::{Result, db};
use crate::store::Store;

/// What is known of one stored format of a release's notes without
/// reading its body: enough to answer a conditional request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesValidator {
    /// `json`, `markdown`.
    pub format: String,
    pub format_version: u32,
    /// Strong entity tag of the uncompressed body, quoted.
    pub etag: String,
    /// The notes say something could not be found out.
    pub degraded: bool,
    /// When the notes were computed.
    pub created_at: Timestamp,
    /// Length of the uncompressed body in bytes.
    pub size: u64,
}

/// One stored format and encoding of a release's notes: the response
/// body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotesRendition {
    pub validator: NotesValidator,
    /// `gzip` or `identity`.
    pub encoding: String,
    pub body: Vec<u8>,
}

/// A rendition to store (see [`Store::put_notes_renditions`]).
#[derive(Debug, Clone, Copy)]
pub struct NewRendition<'a> {
    pub format: &'a str,
    /// `gzip` or `identity` (the body's content coding).
    pub encoding: &'a str,
    /// ETag of the uncompressed body (the same for every encoding).
    pub etag: &'a str,
    /// Length of the uncompressed body.
    pub size: u64,
    pub body: &'a [u8],
}

fn validator(row: &impl RowExt, release_id: &str) -> Result<NotesValidator> {
    Ok(NotesValidator {
        format: row.text("format")?,
        format_version: u32::try_from(row.int("format_version")?).unwrap_or(0),
        etag: row.text("etag")?,
        degraded: row.int("degraded")? != 0,
        created_at: from_millis(row.int("created_at")?, release_id, "notes created_at")?,
        size: to_u64(row.int("size")?, release_id, "notes size")?,
    })
}

const VALIDATOR_COLUMNS: &str = "format, format_version, etag, degraded, created_at, size";

impl Store {
    /// One stored format and encoding of a release's notes, body included.
    pub async fn notes_rendition(
        &self,
        release_id: &str,
        format: &str,
        encoding: &str,
    ) -> Result<Option<NotesRendition>> {
        let sql = format!(
            "SELECT {VALIDATOR_COLUMNS}, encoding, body FROM release_notes_renditions \
             WHERE release_id = $1 AND format = $2 AND encoding = $3"
        );
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&sql)
                .bind(release_id)
                .bind(format)
                .bind(encoding)
                .fetch_optional(pool)
                .await
                .map_err(db("reading release notes"))?;
            match row {
                None => Ok(None),
                Some(row) => Ok(Some(NotesRendition {
                    validator: validator(&row, release_id)?,
                    encoding: row.text("encoding")?,
                    body: row
                        .try_get("body")
                        .map_err(db("reading a release notes body"))?,
                })),
            }
        })
    }

    /// One stored format of a release's notes without its body (the
    /// columns before the body, so no large value is read).
    pub async fn notes_validator(
        &self,
        release_id: &str,
        format: &str,
    ) -> Result<Option<NotesValidator>> {
        // Every encoding of a format carries the same validator.
        let sql = format!(
            "SELECT {VALIDATOR_COLUMNS} FROM release_notes_renditions \
             WHERE release_id = $1 AND format = $2 LIMIT 1"
        );
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&sql)
                .bind(release_id)
                .bind(format)
                .fetch_optional(pool)
                .await
                .map_err(db("reading release notes"))?;
            row.map(|row| validator(&row, release_id)).transpose()
        })
    }

    /// Stores (or replaces) every format and encoding of a release's notes
    /// at once, in one transaction (what is not given is removed), and drops the release's row of the first cache
    /// version (superseded). The release must exist. Two replicas
    /// computing the same notes both write the same bodies (an upsert).
    pub async fn put_notes_renditions(
        &self,
        release_id: &str,
        format_version: u32,
        degraded: bool,
        renditions: &[NewRendition<'_>],
    ) -> Result<()> {
        let now = millis(ferry_release::now(), release_id, "now")?;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning a release notes write"))?;
            sqlx::query("DELETE FROM release_notes_renditions WHERE release_id = $1")
                .bind(release_id)
                .execute(&mut *tx)
                .await
                .map_err(db("writing release notes"))?;
            for r in renditions {
                sqlx::query(
                    "INSERT INTO release_notes_renditions \
                     (release_id, format, encoding, format_version, etag, degraded, created_at, size, body) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (release_id, format, encoding) DO UPDATE SET \
                     format_version = excluded.format_version, etag = excluded.etag, \
                     degraded = excluded.degraded, created_at = excluded.created_at, \
                     size = excluded.size, body = excluded.body",
                )
                .bind(release_id)
                .bind(r.format)
                .bind(r.encoding)
                .bind(i64::from(format_version))
                .bind(r.etag)
                .bind(i64::from(degraded))
                .bind(now)
                .bind(to_i64(r.size, release_id, "notes size")?)
                .bind(r.body)
                .execute(&mut *tx)
                .await
                .map_err(db("writing release notes"))?;
            }
            sqlx::query("DELETE FROM release_notes WHERE release_id = $1")
                .bind(release_id)
                .execute(&mut *tx)
                .await
                .map_err(db("writing release notes"))?;
            tx.commit().await.map_err(db("writing release notes"))?;
            Ok(())
        })
    }

    /// The notes of a release as the first cache version stored them
    /// (before migration 18): `(format_version, JSON document)`.
    pub async fn release_notes(&self, release_id: &str) -> Result<Option<(u32, String)>> {
        on_pool!(&self.backend, |pool| {
            let row =
                sqlx::query("SELECT format_version, body FROM release_notes WHERE release_id = $1")
                    .bind(release_id)
                    .fetch_optional(pool)
                    .await
                    .map_err(db("reading release notes"))?;
            match row {
                None => Ok(None),
                Some(row) => {
                    let version = u32::try_from(row.int("format_version")?).unwrap_or(0);
                    Ok(Some((version, row.text("body")?)))
                }
            }
        })
    }

    /// Stores (or replaces) the notes of a release in the first cache
    /// version's table. ferry no longer writes it (see
    /// [`Store::put_notes_renditions`]); kept so that rows written before
    /// migration 18 can be made in tests.
    pub async fn put_release_notes(
        &self,
        release_id: &str,
        format_version: u32,
        body: &str,
    ) -> Result<()> {
        let now = millis(ferry_release::now(), release_id, "now")?;
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "INSERT INTO release_notes (release_id, format_version, body, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (release_id) DO UPDATE SET format_version = excluded.format_version, \
                 body = excluded.body, created_at = excluded.created_at",
            )
            .bind(release_id)
            .bind(i64::from(format_version))
            .bind(body)
            .bind(now)
            .execute(pool)
            .await
            .map_err(db("writing release notes"))?;
            Ok(())
        })
    }

    /// Up to `limit` releases of `product` numbered below `number`, the
    /// closest first.
    pub async fn releases_before(
        &self,
        product: &str,
        number: u64,
        limit: u32,
    ) -> Result<Vec<Release>> {
        let number = to_i64(number, product, "release number")?;
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(
                "SELECT r.id, d.document FROM releases r \
                 JOIN release_documents d ON d.release_id = r.id \
                 WHERE r.product = $1 AND r.number < $2 \
                 ORDER BY r.number DESC LIMIT $3",
            )
            .bind(product)
            .bind(number)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(db("reading earlier releases"))?;
            rows.iter()
                .map(|row| release_from_document(&row.text("id")?, &row.text("document")?))
                .collect()
        })
    }
}
