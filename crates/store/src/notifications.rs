//! Notifications out (issue 20, migration 33): the outbox of deliveries
//! and how far each release's events were turned into deliveries.
//!
//! The store knows no subscription and no HTTP: `ferry-notify` decides
//! what to send; this module makes it durable and shared by replicas.
//! - **Exactly one row per (event, subscription).** A delivery's id is its
//!   de-duplication id; rows are inserted with `ON CONFLICT DO NOTHING`,
//!   and the per-release progress moves by compare-and-set in the same
//!   transaction, so an event mapped twice (a restart, two replicas) is
//!   stored once.
//! - **One sender at a time per row.** A sender claims due rows for a
//!   while (holder + expiry, compared with the database's clock, as
//!   leases); a claim that ran out — the sender died mid-delivery — makes
//!   the row due again, so it is sent again (at least once) and the
//!   receiver de-duplicates by id.

use std::time::Duration;

use crate::backend::{BeginWrite, RowExt, on_pool};
use crate::columns::to_i64;
use crate::error::{Error, Result, db};
use crate::lease::db_now;
use crate::store::Store;

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: due at `next_at`, or being sent.
    Pending,
    Delivered,
    /// Given up after the subscription's tries (dead letter).
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Dead => "DEAD",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "PENDING" => Some(DeliveryStatus::Pending),
            "DELIVERED" => Some(DeliveryStatus::Delivered),
            "DEAD" => Some(DeliveryStatus::Dead),
            _ => None,
        }
    }
}

/// A delivery to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// The de-duplication id, stable per event and subscription.
    pub id: String,
    pub subscription: String,
    pub release_id: String,
    /// The event's place in the release's history.
    pub seq: u64,
    /// `release.started`, `environment.failed`, …
    pub event_type: String,
    pub product: String,
    pub environment: Option<String>,
    /// The kind-neutral notification, JSON.
    pub payload: String,
}

/// One release's step of the outbox writer: its deliveries for its
/// events up to `to_seq`, and its progress moved there from `from` (`None`:
/// no progress yet) with `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressMove {
    pub release_id: String,
    pub from: Option<u64>,
    pub to_seq: u64,
    pub state: String,
    pub deliveries: Vec<NewDelivery>,
}

/// Rows per multi-row `INSERT` of deliveries: 8 parameters each, far
/// below SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
const INSERT_CHUNK: usize = 256;

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: String,
    pub subscription: String,
    pub release_id: String,
    pub seq: u64,
    pub event_type: String,
    pub product: String,
    pub environment: Option<String>,
    pub payload: String,
    pub status: DeliveryStatus,
    /// Tries made (a claim counts as a try).
    pub attempts: u32,
    /// Epoch milliseconds.
    pub created_at: i64,
    pub next_at: i64,
    pub finished_at: Option<i64>,
    /// Why the last try failed (already free of secrets: the sender masks it).
    pub last_error: Option<String>,
    /// The receiver's HTTP status of the last try, when it answered.
    pub last_status: Option<u16>,
}

/// How far a release's events were turned into deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationProgress {
    pub last_seq: u64,
    /// What the mapping keeps between events (JSON, `ferry-notify`'s).
    pub state: String,
}

/// What a try came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered {
        status: u16,
    },
    /// Try again after `after`.
    Retry {
        after: Duration,
        error: String,
        status: Option<u16>,
    },
    /// Give up: the dead letter.
    Dead {
        error: String,
        status: Option<u16>,
    },
}

/// A page of deliveries, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryPage {
    pub items: Vec<OutboxRow>,
    /// The cursor of the next page (`created_at:id` of the last row).
    pub next: Option<String>,
}

const COLUMNS: &str = "id, subscription, release_id, seq, event_type, product, environment, \
     payload, status, attempts, created_at, next_at, finished_at, last_error, last_status";

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

/// A try's outcome as the columns it sets: status, delay until the next
/// try (ms), error, HTTP status.
fn outcome_columns(outcome: &DeliveryOutcome) -> (&'static str, i64, Option<&str>, Option<u16>) {
    match outcome {
        DeliveryOutcome::Delivered { status } => ("DELIVERED", 0, None, Some(*status)),
        DeliveryOutcome::Retry {
            after,
            error,
            status,
        } => ("PENDING", ms(*after), Some(error.as_str()), *status),
        DeliveryOutcome::Dead { error, status } => ("DEAD", 0, Some(error.as_str()), *status),
    }
}

fn row_of(r: &impl RowExt) -> Result<OutboxRow> {
    let id = r.text("id")?;
    let corrupt = |what: &'static str, reason: String| Error::Corrupt {
        what,
        id: id.clone(),
        reason,
    };
    let status = r.text("status")?;
    let status =
        DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery status", status))?;
    let seq = r.int("seq")?;
    let attempts = r.int("attempts")?;
    Ok(OutboxRow {
        subscription: r.text("subscription")?,
        release_id: r.text("release_id")?,
        seq: u64::try_from(seq).map_err(|_| corrupt("delivery seq", seq.to_string()))?,
        event_type: r.text("event_type")?,
        product: r.text("product")?,
        environment: r.opt_text("environment")?,
        payload: r.text("payload")?,
        status,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        created_at: r.int("created_at")?,
        next_at: r.int("next_at")?,
        finished_at: r.opt_int("finished_at")?,
        last_error: r.opt_text("last_error")?,
        last_status: r
            .opt_int("last_status")?
            .and_then(|s| u16::try_from(s).ok()),
        id,
    })
}

/// [`Store::notification_backlog`] (`$1`: finished since, epoch ms): the
/// unfinished and recently finished rows of an index on `finished_at`,
/// sorted. It is ordered by `r.id || ''` on purpose: ordered by `r.id`,
/// SQLite walked the primary key in order instead and read every release
/// stored (issue 24: 0.7 s at a million releases, every 30 s).
pub(crate) fn notification_backlog_sql(limit: u32) -> String {
    format!(
        "SELECT r.id FROM releases r LEFT JOIN notification_progress p ON p.release_id = r.id \
         WHERE (r.finished_at IS NULL OR r.finished_at >= $1) \
         AND r.last_seq > COALESCE(p.last_seq, 0) ORDER BY r.id || '' LIMIT {limit}"
    )
}

impl Store {
    /// How far release `release_id`'s events were turned into deliveries;
    /// `None` when none were yet.
    pub async fn notification_progress(
        &self,
        release_id: &str,
    ) -> Result<Option<NotificationProgress>> {
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT last_seq, state FROM notification_progress WHERE release_id = $1",
            )
            .bind(release_id)
            .fetch_optional(pool)
            .await
            .map_err(db("reading notification progress"))?;
            row.map(|r| {
                Ok(NotificationProgress {
                    last_seq: u64::try_from(r.int("last_seq")?).unwrap_or(0),
                    state: r.text("state")?,
                })
            })
            .transpose()
        })
    }

    /// Releases with events not yet turned into deliveries: unfinished, or
    /// finished at or after `finished_since` (epoch ms). At most `limit`,
    /// by id.
    pub async fn notification_backlog(
        &self,
        finished_since: i64,
        limit: u32,
    ) -> Result<Vec<String>> {
        let sql = notification_backlog_sql(limit);
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .bind(finished_since)
                .fetch_all(pool)
                .await
                .map_err(db("listing releases with events to announce"))?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// Stores `deliveries` for release `release_id`'s events up to
    /// `to_seq` and moves its progress there with `state`, in one
    /// transaction — only if the progress still is `from` (`None`: no
    /// progress yet). `false` when another writer moved it first (then
    /// nothing is stored). A delivery whose id is stored already is left
    /// as it is.
    pub async fn enqueue_notifications(
        &self,
        release_id: &str,
        from: Option<u64>,
        to_seq: u64,
        state: &str,
        deliveries: &[NewDelivery],
    ) -> Result<bool> {
        let moved = self
            .enqueue_notification_batch(&[ProgressMove {
                release_id: release_id.to_owned(),
                from,
                to_seq,
                state: state.to_owned(),
                deliveries: deliveries.to_vec(),
            }])
            .await?;
        Ok(moved.first().copied().unwrap_or(false))
    }

    /// [`Store::enqueue_notifications`] for several releases in one
    /// transaction (the outbox writer stores a round of events at once:
    /// one write beside the engine's saves instead of one per release,
    /// deliveries inserted many rows per statement). Each release's
    /// progress moves by its own compare-and-set; a release whose
    /// progress another writer moved first stores nothing (`false` at its
    /// place in the answer), the others are stored.
    pub async fn enqueue_notification_batch(&self, moves: &[ProgressMove]) -> Result<Vec<bool>> {
        if moves.is_empty() {
            return Ok(Vec::new());
        }
        let now = db_now(self.backend.kind());
        let insert = |rows: usize| {
            let mut sql = String::from(
                "INSERT INTO notification_outbox (id, subscription, release_id, seq, event_type, \
                 product, environment, payload, status, attempts, created_at, next_at) VALUES ",
            );
            for r in 0..rows {
                let p = r * 8;
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'PENDING', 0, {now}, {now})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8
                ));
            }
            sql.push_str(" ON CONFLICT (id) DO NOTHING");
            sql
        };
        let mut checked = Vec::with_capacity(moves.len());
        for m in moves {
            let to = to_i64(m.to_seq, &m.release_id, "seq")?;
            let from = m
                .from
                .map(|f| to_i64(f, &m.release_id, "seq"))
                .transpose()?;
            let seqs = m
                .deliveries
                .iter()
                .map(|d| to_i64(d.seq, &d.release_id, "seq"))
                .collect::<Result<Vec<_>>>()?;
            checked.push((m, from, to, seqs));
        }
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to store notifications"))?;
            let mut out = Vec::with_capacity(moves.len());
            let mut rows: Vec<(&NewDelivery, i64)> = Vec::new();
            for (m, from, to, seqs) in &checked {
                let moved = match from {
                    None => sqlx::query(
                        "INSERT INTO notification_progress (release_id, last_seq, state) \
                         VALUES ($1, $2, $3) ON CONFLICT (release_id) DO NOTHING",
                    )
                    .bind(&m.release_id)
                    .bind(*to)
                    .bind(&m.state)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("storing notification progress"))?,
                    Some(f) => sqlx::query(
                        "UPDATE notification_progress SET last_seq = $2, state = $3 \
                         WHERE release_id = $1 AND last_seq = $4",
                    )
                    .bind(&m.release_id)
                    .bind(*to)
                    .bind(&m.state)
                    .bind(*f)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("moving notification progress"))?,
                }
                .rows_affected()
                    == 1;
                // The compare-and-set comes first: a release that lost it
                // has written nothing in this transaction.
                if moved {
                    rows.extend(m.deliveries.iter().zip(seqs.iter().copied()));
                }
                out.push(moved);
            }
            for chunk in rows.chunks(INSERT_CHUNK) {
                let sql = insert(chunk.len());
                let mut q = sqlx::query(&sql);
                for (d, seq) in chunk {
                    q = q
                        .bind(&d.id)
                        .bind(&d.subscription)
                        .bind(&d.release_id)
                        .bind(*seq)
                        .bind(&d.event_type)
                        .bind(&d.product)
                        .bind(&d.environment)
                        .bind(&d.payload);
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(db("storing deliveries"))?;
            }
            tx.commit().await.map_err(db("committing notifications"))?;
            Ok(out)
        })
    }

    /// Claims up to `limit` due deliveries for `holder` for `ttl` and
    /// counts a try on each: pending rows whose time has come and that
    /// nobody holds (or whose holder's claim ran out), except those of the
    /// subscriptions in `skip` (the sender has enough of theirs in
    /// flight). Oldest due first.
    pub async fn claim_deliveries(
        &self,
        holder: &str,
        ttl: Duration,
        limit: u32,
        skip: &[&str],
    ) -> Result<Vec<OutboxRow>> {
        let sql = self.claim_sql(limit, skip.len());
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut q = sqlx::query(&sql).bind(holder).bind(ms(ttl));
            for s in skip {
                q = q.bind(*s);
            }
            let rows = q.fetch_all(pool).await.map_err(db("claiming deliveries"))?;
            rows.iter().map(row_of).collect()
        })
    }

    fn claim_sql(&self, limit: u32, skipped: usize) -> String {
        let now = db_now(self.backend.kind());
        let skipped = if skipped == 0 {
            String::new()
        } else {
            let params: Vec<String> = (0..skipped).map(|i| format!("${}", i + 3)).collect();
            format!(" AND subscription NOT IN ({})", params.join(", "))
        };
        // The conditions are repeated outside the sub-select so that a row
        // another replica claimed between the two is skipped (PostgreSQL
        // re-checks the outer WHERE on the row it locks).
        let free = format!(
            "status = 'PENDING' AND next_at <= {now} \
             AND (claimed_by IS NULL OR claim_expires_at < {now}){skipped}"
        );
        format!(
            "UPDATE notification_outbox SET claimed_by = $1, claim_expires_at = {now} + $2, \
             attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM notification_outbox WHERE {free} \
             ORDER BY next_at LIMIT {limit}) AND {free} RETURNING {COLUMNS}"
        )
    }

    fn finish_sql(&self) -> String {
        let now = db_now(self.backend.kind());
        format!(
            "UPDATE notification_outbox SET status = $3, next_at = {now} + $4, \
             last_error = $5, last_status = $6, \
             finished_at = CASE WHEN $3 = 'PENDING' THEN NULL ELSE {now} END, \
             claimed_by = NULL, claim_expires_at = NULL \
             WHERE id = $1 AND claimed_by = $2 AND status = 'PENDING'"
        )
    }

    /// [`Store::finish_deliveries`] of `outcomes`, then
    /// [`Store::claim_deliveries`] of up to `limit` rows, in one
    /// transaction: a sender's round — what its finished tries came to and
    /// what it sends next — is one write beside the engine's saves.
    /// Returns the rows claimed.
    pub async fn finish_and_claim(
        &self,
        holder: &str,
        outcomes: &[(String, DeliveryOutcome)],
        ttl: Duration,
        limit: u32,
        skip: &[&str],
    ) -> Result<Vec<OutboxRow>> {
        if limit == 0 {
            self.finish_deliveries(holder, outcomes).await?;
            return Ok(Vec::new());
        }
        if outcomes.is_empty() {
            return self.claim_deliveries(holder, ttl, limit, skip).await;
        }
        let (finish, claim) = (self.finish_sql(), self.claim_sql(limit, skip.len()));
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning a round of deliveries"))?;
            for (id, outcome) in outcomes {
                let (status, next, error, http) = outcome_columns(outcome);
                sqlx::query(&finish)
                    .bind(id)
                    .bind(holder)
                    .bind(status)
                    .bind(next)
                    .bind(error)
                    .bind(http.map(i64::from))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a delivery's try"))?;
            }
            let mut q = sqlx::query(&claim).bind(holder).bind(ms(ttl));
            for s in skip {
                q = q.bind(*s);
            }
            let rows = q
                .fetch_all(&mut *tx)
                .await
                .map_err(db("claiming deliveries"))?;
            let rows = rows.iter().map(row_of).collect::<Result<Vec<_>>>()?;
            tx.commit()
                .await
                .map_err(db("committing a round of deliveries"))?;
            Ok(rows)
        })
    }

    /// Records what `holder`'s try of delivery `id` came to; `false` when
    /// `holder` no longer holds it (its claim ran out and another sender
    /// took it: that one's outcome counts).
    pub async fn finish_delivery(
        &self,
        id: &str,
        holder: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool> {
        let done = self
            .finish_deliveries(holder, &[(id.to_owned(), outcome.clone())])
            .await?;
        Ok(done == 1)
    }

    /// [`Store::finish_delivery`] for several tries in one transaction
    /// (a sender records what a round of tries came to at once: one write
    /// instead of one per delivery, beside the engine's saves). Returns
    /// how many were still held by `holder`.
    pub async fn finish_deliveries(
        &self,
        holder: &str,
        outcomes: &[(String, DeliveryOutcome)],
    ) -> Result<usize> {
        if outcomes.is_empty() {
            return Ok(0);
        }
        let sql = self.finish_sql();
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to record tries"))?;
            let mut done = 0;
            for (id, outcome) in outcomes {
                let (status, next, error, http) = outcome_columns(outcome);
                done += sqlx::query(&sql)
                    .bind(id)
                    .bind(holder)
                    .bind(status)
                    .bind(next)
                    .bind(error)
                    .bind(http.map(i64::from))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a delivery's try"))?
                    .rows_affected();
            }
            tx.commit().await.map_err(db("committing tries"))?;
            Ok(usize::try_from(done).unwrap_or(usize::MAX))
        })
    }

    /// Hands a claimed delivery back untried (the sender had no room for
    /// it): its try is not counted.
    pub async fn unclaim_delivery(&self, id: &str, holder: &str) -> Result<()> {
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "UPDATE notification_outbox SET claimed_by = NULL, claim_expires_at = NULL, \
                 attempts = attempts - 1 WHERE id = $1 AND claimed_by = $2 AND status = 'PENDING'",
            )
            .bind(id)
            .bind(holder)
            .execute(pool)
            .await
            .map_err(db("handing a delivery back"))?;
            Ok(())
        })
    }

    /// Gives every claim of `holder` up (a sender stopping gracefully), so
    /// another sender takes the rows at once instead of after the expiry.
    pub async fn release_delivery_claims(&self, holder: &str) -> Result<()> {
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "UPDATE notification_outbox SET claimed_by = NULL, claim_expires_at = NULL \
                 WHERE claimed_by = $1 AND status = 'PENDING'",
            )
            .bind(holder)
            .execute(pool)
            .await
            .map_err(db("giving delivery claims up"))?;
            Ok(())
        })
    }

    /// Deliveries newest first, of one status or all, after the cursor
    /// `before` of a previous page; at most `limit` (1..=500).
    pub async fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<DeliveryPage> {
        let limit = limit.clamp(1, 500);
        let cursor = match before {
            None => None,
            Some(c) => {
                let bad = || Error::BadCursor {
                    cursor: c.to_owned(),
                    reason: "not a delivery cursor",
                };
                let (at, id) = c.split_once(':').ok_or_else(bad)?;
                Some((at.parse::<i64>().map_err(|_| bad())?, id.to_owned()))
            }
        };
        // Every parameter is always bound and used (PostgreSQL types each
        // one from its use): no status is '', no cursor is -1.
        let sql = format!(
            "SELECT {COLUMNS} FROM notification_outbox WHERE ($1 = '' OR status = $1) \
             AND ($2 < 0 OR created_at < $2 OR (created_at = $2 AND id < $3)) \
             ORDER BY created_at DESC, id DESC LIMIT {}",
            limit + 1
        );
        let (at, id) = cursor.unwrap_or((-1, String::new()));
        on_pool!(&self.backend, |pool| {
            let q = sqlx::query(&sql)
                .bind(status.map(DeliveryStatus::as_str).unwrap_or(""))
                .bind(at)
                .bind(id.as_str());
            let rows = q.fetch_all(pool).await.map_err(db("listing deliveries"))?;
            let mut items = rows.iter().map(row_of).collect::<Result<Vec<_>>>()?;
            let next = if items.len() > limit as usize {
                items.truncate(limit as usize);
                items.last().map(|r| format!("{}:{}", r.created_at, r.id))
            } else {
                None
            };
            Ok(DeliveryPage { items, next })
        })
    }

    /// Deliveries per status.
    pub async fn count_deliveries(&self) -> Result<Vec<(DeliveryStatus, u64)>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(
                "SELECT status, COUNT(*) AS n FROM notification_outbox GROUP BY status",
            )
            .fetch_all(pool)
            .await
            .map_err(db("counting deliveries"))?;
            let mut out = Vec::new();
            for r in &rows {
                let s = r.text("status")?;
                if let Some(status) = DeliveryStatus::parse(&s) {
                    out.push((status, u64::try_from(r.int("n")?).unwrap_or(0)));
                }
            }
            Ok(out)
        })
    }

    /// Deletes delivered rows finished more than `older_than` ago (dead
    /// letters are kept for an admin to see).
    pub async fn prune_deliveries(&self, older_than: Duration) -> Result<u64> {
        let now = db_now(self.backend.kind());
        let sql = format!(
            "DELETE FROM notification_outbox WHERE status = 'DELIVERED' \
             AND finished_at < {now} - $1"
        );
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            Ok(sqlx::query(&sql)
                .bind(ms(older_than))
                .execute(pool)
                .await
                .map_err(db("pruning deliveries"))?
                .rows_affected())
        })
    }
}
