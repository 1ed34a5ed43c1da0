//! Leases (issue 11, SPEC §10 scale-out): with several replicas on one
//! database, each unfinished release is driven by one replica at a time —
//! the holder of its lease. A lease is the pair of columns `lease_owner`
//! (the replica's instance id) and `lease_expires_at` (epoch ms) on the
//! release's row, taken and renewed with compare-and-set `UPDATE`s, so the
//! database's row lock is the only arbiter and no clock but the database's
//! is trusted: expiry is computed and compared with the database's time,
//! so replicas whose clocks drift apart still agree on who holds what.
//!
//! A holder renews all its leases at once ([`Store::lease_renew`]); one
//! that stops renewing (killed, partitioned) loses them when they expire,
//! and another replica finds them with [`Store::lease_orphans`] and takes
//! them with [`Store::lease_acquire`]. Saves made on behalf of a holder
//! ([`Store::save_held`]) carry the lease condition in their `UPDATE`, so a
//! replica that lost a lease can never overwrite the new holder's state.

use std::time::Duration;

use ferry_release::{Event, NewEvent, Release};

use crate::backend::{RowExt, on_pool};
use crate::error::{Result, db};
use crate::store::{ACTIVE, Store};
use crate::url::BackendKind;

/// The database's current time in epoch milliseconds, as SQL.
pub(crate) fn db_now(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)",
        BackendKind::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// The lease condition of a save by holder `$11`: the row is unleased,
/// leased to the holder, or its lease ran out without anyone taking it.
pub(crate) fn held_by_param_11(kind: BackendKind) -> String {
    format!(
        " AND (lease_owner IS NULL OR lease_owner = $11 OR lease_expires_at < {})",
        db_now(kind)
    )
}

/// The lease of one release as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The instance id of the holder; `None` when nobody holds it.
    pub holder: Option<String>,
    /// Whether the lease is still running (by the database's clock).
    pub live: bool,
}

/// [`Store::lease_orphans`] (`$1` the grace in ms, `$2` the limit): only
/// unfinished rows are read, as in [`crate::store::active_ids_sql`].
pub(crate) fn lease_orphans_sql(kind: BackendKind) -> String {
    let now = db_now(kind);
    format!(
        "SELECT id FROM releases WHERE {ACTIVE} AND status <> 'QUEUED' \
         AND ((lease_owner IS NOT NULL AND lease_expires_at < {now}) \
         OR (lease_owner IS NULL AND updated_at < {now} - $1)) ORDER BY id LIMIT $2"
    )
}

/// [`Store::lease_renew`] (`$1` the holder, `$2` the time to live in ms).
pub(crate) fn lease_renew_sql(kind: BackendKind) -> String {
    let now = db_now(kind);
    format!(
        "UPDATE releases SET lease_expires_at = {now} + $2 \
         WHERE lease_owner = $1 AND {ACTIVE} RETURNING id"
    )
}

/// [`Store::started_of_product`], from `releases_unfinished` (migration
/// 36): a replica's queue decision reads the product's unfinished
/// releases, not all of them.
pub(crate) fn started_of_product_sql() -> String {
    format!(
        "SELECT id FROM releases \
         WHERE product = $1 AND {ACTIVE} AND status <> 'QUEUED' ORDER BY id"
    )
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    /// Takes the lease of release `id` for `holder` for `ttl`, unless
    /// another holder's lease is still running or the release is finished.
    /// Taking a lease one already holds extends it. Returns whether
    /// `holder` holds the lease now.
    pub async fn lease_acquire(&self, id: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = db_now(self.backend.kind());
        let sql = format!(
            "UPDATE releases SET lease_owner = $2, lease_expires_at = {now} + $3 \
             WHERE id = $1 AND {ACTIVE} \
             AND (lease_owner IS NULL OR lease_owner = $2 OR lease_expires_at < {now})"
        );
        on_pool!(&self.backend, |pool| {
            let n = sqlx::query(&sql)
                .bind(id)
                .bind(holder)
                .bind(ttl_ms(ttl))
                .execute(pool)
                .await
                .map_err(db("taking a lease"))?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Takes the lease of unfinished release `id` for `holder` even when
    /// another replica holds it: for an operation (terminate) asked of a
    /// replica that does not drive the release. The previous holder's next
    /// save is refused and its next renewal reports the loss, so it stops.
    pub async fn lease_take(&self, id: &str, holder: &str, ttl: Duration) -> Result<bool> {
        let now = db_now(self.backend.kind());
        let sql = format!(
            "UPDATE releases SET lease_owner = $2, lease_expires_at = {now} + $3 \
             WHERE id = $1 AND {ACTIVE}"
        );
        on_pool!(&self.backend, |pool| {
            let n = sqlx::query(&sql)
                .bind(id)
                .bind(holder)
                .bind(ttl_ms(ttl))
                .execute(pool)
                .await
                .map_err(db("taking over a lease"))?
                .rows_affected();
            Ok(n == 1)
        })
    }

    /// Extends every lease `holder` holds on an unfinished release to
    /// `ttl` from now, in one statement; returns the ids it still holds
    /// (a driven release missing from the answer was taken over).
    pub async fn lease_renew(&self, holder: &str, ttl: Duration) -> Result<Vec<String>> {
        let sql = lease_renew_sql(self.backend.kind());
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .bind(holder)
                .bind(ttl_ms(ttl))
                .fetch_all(pool)
                .await
                .map_err(db("renewing leases"))?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// Gives the lease of `id` up, if `holder` holds it (a finished
    /// release, or a replica stopping gracefully, so that another can
    /// take over at once instead of after the expiry).
    pub async fn lease_release(&self, id: &str, holder: &str) -> Result<()> {
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "UPDATE releases SET lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(holder)
            .execute(pool)
            .await
            .map_err(db("giving a lease up"))?;
            Ok(())
        })
    }

    /// Unfinished, started (not QUEUED) releases nobody drives: their
    /// lease expired, or they were never leased and have not been written
    /// for `grace` (created by a replica that died before it took the
    /// lease). Oldest first, at most `limit`.
    pub async fn lease_orphans(&self, grace: Duration, limit: u32) -> Result<Vec<String>> {
        let sql = lease_orphans_sql(self.backend.kind());
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .bind(ttl_ms(grace))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(db("looking for expired leases"))?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// The lease of release `id`; `None` when there is no such release.
    pub async fn lease_of(&self, id: &str) -> Result<Option<Lease>> {
        let now = db_now(self.backend.kind());
        let sql = format!(
            "SELECT lease_owner, CAST(CASE WHEN lease_expires_at >= {now} THEN 1 ELSE 0 END AS BIGINT) AS live \
             FROM releases WHERE id = $1"
        );
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("reading a lease"))?;
            row.map(|row| {
                let holder = row.opt_text("lease_owner")?;
                let live = holder.is_some() && row.opt_int("live")?.unwrap_or(0) == 1;
                Ok(Lease { holder, live })
            })
            .transpose()
        })
    }

    /// Ids of the releases of `product` that have started and not
    /// finished, on any replica: a replica's queue decision (SPEC §4.5)
    /// must see the releases the others drive.
    pub async fn started_of_product(&self, product: &str) -> Result<Vec<String>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&started_of_product_sql())
                .bind(product)
                .fetch_all(pool)
                .await
                .map_err(db("listing started releases"))?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// [`Store::save`] on behalf of lease holder `holder`: refused with
    /// [`crate::Error::LeaseLost`] when another replica holds a running
    /// lease on the release.
    pub async fn save_held(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        holder: &str,
    ) -> Result<Vec<Event>> {
        self.save_as(release, events, Some(holder), None)
            .await
            .map(crate::Saved::events)
    }

    /// [`Store::save_held`] of a request's effect with its idempotency key,
    /// in one transaction ([`Store::save_idempotent`]).
    pub async fn save_held_idempotent(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        holder: &str,
        request: &crate::IdempotentRequest,
    ) -> Result<crate::Saved> {
        self.save_as(release, events, Some(holder), Some(request))
            .await
    }
}
