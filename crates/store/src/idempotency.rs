//! Idempotent requests (issue 23, SPEC §12): the first answer to a
//! mutating request that carries an `Idempotency-Key`, remembered for a
//! day by (scope, key), where the scope names who asked and what for. A
//! promotion remembers its answer in the transaction that creates its
//! release ([`Store::create_release_idempotent`]), an operation on a
//! release (retry, terminate) in the transaction that saves its effect
//! ([`Store::save_idempotent`]), so a client that lost the answer — the
//! connection cut, the server killed — and sends the request again gets
//! the first answer, never a second effect nor a refusal of the repeat.

use std::time::Duration;

use crate::backend::{RowExt, on_pool};
use crate::columns::millis;
use crate::error::{Result, db};
use crate::store::Store;

/// Claims `request`'s key for the answer naming release `release_id`,
/// inside the caller's transaction (`$tx`: `&mut *tx`), so the key is
/// stored if and only if what the request did is (issue 23). A stale row
/// (older than the window) gives way. `Ok(None)`: claimed; `Ok(Some(first))`:
/// the key was used less than a day ago — the caller rolls back.
macro_rules! claim_key {
    ($tx:expr, $request:expr, $release_id:expr, $now:expr, $since:expr) => {
        async {
            let request: &$crate::IdempotentRequest = $request;
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND created_at < $3",
            )
            .bind(&request.scope)
            .bind(&request.key)
            .bind($since)
            .execute(&mut *$tx)
            .await
            .map_err($crate::error::db("forgetting an old idempotency key"))?;
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys \
                 (scope, key, fingerprint, release_id, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO NOTHING",
            )
            .bind(&request.scope)
            .bind(&request.key)
            .bind(&request.fingerprint)
            .bind($release_id)
            .bind(i64::from(request.status))
            .bind($now)
            .execute(&mut *$tx)
            .await
            .map_err($crate::error::db("remembering an idempotency key"))?
            .rows_affected();
            if inserted == 1 {
                return Ok(None);
            }
            let row = sqlx::query(
                "SELECT release_id, status, fingerprint FROM idempotency_keys \
                 WHERE scope = $1 AND key = $2",
            )
            .bind(&request.scope)
            .bind(&request.key)
            .fetch_one(&mut *$tx)
            .await
            .map_err($crate::error::db("reading an idempotency key"))?;
            $crate::idempotency::remembered_from(&row).map(Some)
        }
        .await
    };
}
pub(crate) use claim_key;

/// How long an answer is remembered.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// A mutating request that carries an `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// Who asked and what for (e.g. `ivy POST /api/v1/products/shop/promotions`):
    /// the same key from someone else, or for another resource, is another
    /// request.
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// A digest of the request's body: the same key with another body is a
    /// client's mistake, refused rather than answered with another
    /// request's result.
    pub fingerprint: String,
    /// The HTTP status of the answer (201 for a created release).
    pub status: u16,
}

/// The first answer to a request, as remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub release_id: String,
    pub status: u16,
    pub fingerprint: String,
}

/// Oldest `created_at` (epoch ms) still answered from.
pub(crate) fn window_start() -> Result<i64> {
    let now = millis(ferry_release::now(), "idempotency", "now")?;
    Ok(now - i64::try_from(IDEMPOTENCY_WINDOW.as_millis()).unwrap_or(i64::MAX / 2))
}

pub(crate) fn remembered_from<R: RowExt>(row: &R) -> Result<Remembered> {
    Ok(Remembered {
        release_id: row.text("release_id")?,
        status: u16::try_from(row.int("status")?).unwrap_or(500),
        fingerprint: row.text("fingerprint")?,
    })
}

impl Store {
    /// The remembered answer to (`scope`, `key`), if it is less than a
    /// day old.
    pub async fn idempotent_answer(&self, scope: &str, key: &str) -> Result<Option<Remembered>> {
        let since = window_start()?;
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT release_id, status, fingerprint FROM idempotency_keys \
                 WHERE scope = $1 AND key = $2 AND created_at >= $3",
            )
            .bind(scope)
            .bind(key)
            .bind(since)
            .fetch_optional(pool)
            .await
            .map_err(db("reading an idempotency key"))?;
            row.as_ref().map(remembered_from).transpose()
        })
    }

    /// Forgets answers older than the window (called now and then; rows
    /// past it are never answered from anyway).
    pub async fn forget_old_answers(&self) -> Result<u64> {
        let since = window_start()?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            Ok(
                sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                    .bind(since)
                    .execute(pool)
                    .await
                    .map_err(db("forgetting old idempotency keys"))?
                    .rows_affected(),
            )
        })
    }
}

impl Store {
    /// Writes one small row, in a transaction of its own, and commits: the
    /// cheap "can the store be written now" check behind `/readyz` (issue
    /// 23). The caller bounds how long it waits.
    pub async fn probe_write(&self) -> Result<()> {
        let now = millis(ferry_release::now(), "probe", "now")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = crate::backend::BeginWrite::begin_write(pool)
                .await
                .map_err(db("beginning a write probe"))?;
            sqlx::query(
                "INSERT INTO cursors (key, value, updated_at) VALUES ('ferry:write-probe', $1, $2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, \
                 updated_at = excluded.updated_at",
            )
            .bind(now.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db("writing a probe"))?;
            tx.commit().await.map_err(db("committing a write probe"))?;
            Ok(())
        })
    }
}
