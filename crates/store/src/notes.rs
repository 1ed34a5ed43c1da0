//! The release-notes cache (issue 8): one document per release, written
//! once it is computed, and the earlier releases of a product the notes
//! are counted from. The store keeps the body as text and knows nothing
//! of its shape beyond its format version.

use ferry_release::Release;

use crate::backend::{RowExt, on_pool};
use crate::columns::{millis, release_from_document, to_i64};
use crate::error::{Result, db};
use crate::store::Store;

impl Store {
    /// The cached notes of a release: `(format_version, body)`.
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

    /// Stores (or replaces) the notes of a release. The release must exist.
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
