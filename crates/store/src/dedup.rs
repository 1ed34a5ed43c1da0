//! Doing a thing once across replicas (issue 11): pollers' cursors moved
//! with compare-and-set. A single statement's row lock (or primary key)
//! decides which of two racing replicas wins; the loser is told and backs
//! off. (Webhook deliveries are recorded the same way, in `deliveries.rs`.)

use crate::backend::on_pool;
use crate::columns::millis;
use crate::error::{Result, db};
use crate::store::Store;

impl Store {
    /// Moves cursor `key` from `expected` (`None`: not set yet) to
    /// `value`; returns `false`, changing nothing, when the cursor is not
    /// at `expected` any more (another replica moved it first).
    pub async fn cursor_compare_and_set(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool> {
        let now = millis(ferry_release::now(), key, "now")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let n = match expected {
                None => sqlx::query(
                    "INSERT INTO cursors (key, value, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(value)
                .bind(now)
                .execute(pool)
                .await
                .map_err(db("creating a cursor"))?,
                Some(expected) => sqlx::query(
                    "UPDATE cursors SET value = $2, updated_at = $3 WHERE key = $1 AND value = $4",
                )
                .bind(key)
                .bind(value)
                .bind(now)
                .bind(expected)
                .execute(pool)
                .await
                .map_err(db("moving a cursor"))?,
            }
            .rows_affected();
            Ok(n == 1)
        })
    }
}
