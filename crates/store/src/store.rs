//! The store: releases, their event history, trigger de-duplication and
//! pollers' cursors. Every write is one transaction, so a process killed at
//! any instant leaves either all of a write or none of it.

use std::sync::Arc;

use ferry_release::{Event, Release};

use crate::backend::{Backend, BeginWrite, RowExt, on_pool, page_as_json};
use crate::columns::{
    Columns, SUMMARY_COLUMNS, millis, release_from_document, summaries_from_json, summary_from_row,
    to_i64, to_u64,
};
use crate::cursor::Cursor;
use crate::error::{Error, Result, db};
use crate::types::{
    Created, DEFAULT_PAGE, ListFilter, MAX_PAGE, NewEvent, Page, ReleaseSummary, Saved,
};
use crate::url::BackendKind;

/// Appends one event inside the caller's transaction.
macro_rules! insert_event {
    ($conn:expr, $event:expr) => {{
        let event: &ferry_release::Event = $event;
        match serde_json::to_string(event) {
            Err(source) => Err($crate::error::Error::Encode {
                id: event.release_id.clone(),
                source,
            }),
            Ok(document) => sqlx::query(
                "INSERT INTO release_events (release_id, seq, at, document) VALUES ($1, $2, $3, $4)",
            )
            .bind(&event.release_id)
            .bind($crate::columns::to_i64(event.seq, &event.release_id, "event seq")?)
            .bind($crate::columns::millis(event.at, &event.release_id, "event time")?)
            .bind(document)
            .execute($conn)
            .await
            .map(|_| ())
            .map_err($crate::error::db("appending an event")),
        }
    }};
}

/// The releases the engine still has work for, as SQL: by status, and —
/// for rows written before the store refused to break SPEC §12 — also
/// any without `finished_at`. Restart and takeover scan with it, so a
/// release stored as finished while still RUNNING is not lost (issue 23).
/// Migration 36's partial index `releases_unfinished` has this condition
/// word for word (SQLite matches a partial index's condition as written):
/// change both together.
pub(crate) const ACTIVE: &str = "(status IN ('QUEUED', 'RUNNING', 'SUSPENDED', 'TERMINATING') \
                                 OR finished_at IS NULL)";

pub(crate) use insert_event;

/// [`Store::active_release_ids`]: the active statuses' entries of
/// `releases_status` and the `finished_at IS NULL` entries of an index
/// on `finished_at`, merged (no release that has finished is read).
pub(crate) fn active_ids_sql() -> String {
    format!("SELECT id FROM releases WHERE {ACTIVE} ORDER BY id")
}

/// [`Store::count_active`], from the partial index `releases_unfinished`
/// (migration 36) alone.
pub(crate) fn count_active_sql() -> String {
    format!("SELECT COUNT(*) AS n FROM releases WHERE product = $1 AND {ACTIVE}")
}

/// [`Store::stalled_queues`]. The inner question is `ACTIVE` as written
/// (its `QUEUED` is ruled out by `status <> 'QUEUED'`) so that it is
/// answered from `releases_unfinished`, not from every release of the
/// product; unqualified columns there are the inner `s`.
pub(crate) fn stalled_queues_sql() -> String {
    format!(
        "SELECT DISTINCT q.product FROM releases q \
         WHERE q.status = 'QUEUED' AND q.finished_at IS NULL AND NOT EXISTS ( \
           SELECT 1 FROM releases s WHERE s.product = q.product AND {ACTIVE} \
           AND s.status <> 'QUEUED') \
         ORDER BY q.product"
    )
}

/// Most events one [`Store::events`] call returns.
pub const MAX_EVENTS_PAGE: u32 = 10_000;

/// Durable storage of releases. Cheap to clone (a shared pool); every
/// method may be called from many tasks at once.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) backend: Backend,
    /// SQLite has one writer at a time, and a second `BEGIN IMMEDIATE`
    /// waits in SQLite's busy handler, which sleeps in steps of up to
    /// 100 ms: under many concurrent releases most of a save's time was
    /// that sleep. Writers of this process queue here instead and are
    /// handed the lock the moment it is free. (PostgreSQL needs no gate:
    /// its row locks wake waiters at once.)
    write_gate: Arc<tokio::sync::Mutex<()>>,
    /// Names this process in change notifications (PostgreSQL), so a
    /// replica can skip its own; see [`Store::with_instance`].
    pub(crate) instance: Option<std::sync::Arc<str>>,
    /// Bounds the product gates held at once (see `product_gate`).
    pub(crate) product_gates: Arc<tokio::sync::Semaphore>,
}

/// A query of [`Store::list`], built by [`Store::list_query`].
pub(crate) struct ListQuery {
    pub sql: String,
    pub binds: Vec<Bind>,
    /// A product's list (ordered and continued by number).
    pub by_number: bool,
    /// The page size asked for (the query reads one more).
    pub limit: u32,
}

/// A value bound to a query built at run time.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

impl Bind {
    pub(crate) fn bind_to<'q, DB>(
        self,
        query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    ) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
    where
        DB: sqlx::Database,
        String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        match self {
            Bind::Text(s) => query.bind(s),
            Bind::Int(i) => query.bind(i),
        }
    }
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the
    /// schema migrations: `sqlite://path/ferry.db?mode=rwc`,
    /// `sqlite::memory:`, or `postgres://user:password@host/db`.
    pub async fn open(url: &str) -> Result<Store> {
        Ok(Store::new(Backend::open(url).await?))
    }

    /// Opens (creating if needed) the SQLite database file at `path`, e.g.
    /// `<data dir>/ferry.db`: the default of a single-machine server.
    pub async fn open_sqlite_file(path: &std::path::Path) -> Result<Store> {
        Ok(Store::new(Backend::open_sqlite_file(path).await?))
    }

    fn new(backend: Backend) -> Store {
        Store {
            backend,
            write_gate: Arc::default(),
            instance: None,
            product_gates: crate::product_gate::permits(),
        }
    }

    /// Held for the whole of a write transaction on SQLite (see
    /// [`Store::write_gate`]); `None` on PostgreSQL.
    pub(crate) async fn gate(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend.kind() {
            BackendKind::Sqlite => Some(self.write_gate.lock().await),
            BackendKind::Postgres => None,
        }
    }

    pub fn backend(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Waits for running queries and closes every connection.
    pub async fn close(&self) {
        self.backend.close().await
    }

    /// Stores a new release, exactly once per `trigger_key`.
    ///
    /// In one transaction: when `trigger_key` was already recorded nothing
    /// is written and the release it created is named; otherwise the
    /// release gets the product's next number (1, 2, 3 … without gaps, also
    /// under concurrent creators: the per-product counter row serialises
    /// them), and is inserted with the key and its first events (seq 1…).
    pub async fn create_release(
        &self,
        release: Release,
        trigger_key: Option<&str>,
        first_events: Vec<NewEvent>,
    ) -> Result<Created> {
        self.create_as(release, trigger_key, None, first_events)
            .await
    }

    /// [`Store::create_release`] for a request with an `Idempotency-Key`:
    /// its answer (status `request.status`, this release) is remembered in
    /// the same transaction, so it is there if and only if the release is
    /// (issue 23). When the key was used less than a day ago nothing is
    /// written and [`Created::Remembered`] names the first answer.
    pub async fn create_release_idempotent(
        &self,
        release: Release,
        request: &crate::IdempotentRequest,
        first_events: Vec<NewEvent>,
    ) -> Result<Created> {
        self.create_as(release, None, Some(request), first_events)
            .await
    }

    async fn create_as(
        &self,
        mut release: Release,
        trigger_key: Option<&str>,
        idempotent: Option<&crate::IdempotentRequest>,
        first_events: Vec<NewEvent>,
    ) -> Result<Created> {
        let now = millis(ferry_release::now(), &release.id, "now")?;
        let since = crate::idempotency::window_start()?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning a release creation"))?;
            if let Some(request) = idempotent
                && let Some(first) =
                    crate::idempotency::claim_key!(tx, request, &release.id, now, since)?
            {
                tx.rollback()
                    .await
                    .map_err(db("ending a repeated creation"))?;
                return Ok(Created::Remembered(first));
            }
            if let Some(key) = trigger_key {
                let inserted = sqlx::query(
                    "INSERT INTO triggers (key, release_id, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (key) DO NOTHING",
                )
                .bind(key)
                .bind(&release.id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(db("recording a trigger key"))?
                .rows_affected();
                if inserted == 0 {
                    let row = sqlx::query("SELECT release_id FROM triggers WHERE key = $1")
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db("reading a trigger key"))?;
                    let existing = row.text("release_id")?;
                    tx.rollback()
                        .await
                        .map_err(db("ending a duplicate creation"))?;
                    return Ok(Created::Duplicate(existing));
                }
            }
            let row = sqlx::query(
                "INSERT INTO release_numbers (product, last_number) VALUES ($1, 1) \
                 ON CONFLICT (product) DO UPDATE SET last_number = release_numbers.last_number + 1 \
                 RETURNING last_number",
            )
            .bind(&release.product)
            .fetch_one(&mut *tx)
            .await
            .map_err(db("numbering a release"))?;
            release.number = to_u64(row.int("last_number")?, &release.id, "number")?;
            let events: Vec<Event> = first_events
                .into_iter()
                .zip(1u64..)
                .map(|(e, seq)| e.into_event(&release.id, seq))
                .collect();
            let columns = Columns::of(&release)?;
            sqlx::query(
                "INSERT INTO releases (id, product, number, status, flow, initiator, version, \
                 created_at, finished_at, updated_at, last_seq, environments, links) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&release.id)
            .bind(&release.product)
            .bind(columns.number)
            .bind(columns.status)
            .bind(&release.flow)
            .bind(&release.initiator)
            .bind(&release.version)
            .bind(columns.created_at)
            .bind(columns.finished_at)
            .bind(now)
            .bind(to_i64(events.len() as u64, &release.id, "events")?)
            .bind(&columns.environments)
            .bind(&columns.links)
            .execute(&mut *tx)
            .await
            .map_err(db("inserting a release"))?;
            sqlx::query("INSERT INTO release_documents (release_id, document) VALUES ($1, $2)")
                .bind(&release.id)
                .bind(&columns.document)
                .execute(&mut *tx)
                .await
                .map_err(db("inserting a release document"))?;
            for event in &events {
                insert_event!(&mut *tx, event)?;
            }
            if let Some(payload) = self.notice_payload(&release.id, &events) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(crate::notify::EVENTS_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("announcing new events"))?;
            }
            tx.commit().await.map_err(db("committing a release"))?;
            Ok(Created::New(release, events))
        })
    }

    /// Saves the release's new state and appends `events` to its history,
    /// in one transaction; returns the events with their seqs (gapless,
    /// after the last stored one) for the live stream.
    ///
    /// The product and number are fixed at creation; a release whose
    /// product or number differ from the stored ones is refused.
    pub async fn save(&self, release: &Release, events: Vec<NewEvent>) -> Result<Vec<Event>> {
        self.save_as(release, events, None, None)
            .await
            .map(Saved::events)
    }

    /// [`Store::save`] of the effect of a request with an
    /// `Idempotency-Key` (retry, terminate): the answer is remembered in
    /// the same transaction, so it is stored if and only if the effect is
    /// (issue 23). When the key was used less than a day ago nothing is
    /// written and [`Saved::Remembered`] names the first answer.
    pub async fn save_idempotent(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        request: &crate::IdempotentRequest,
    ) -> Result<Saved> {
        self.save_as(release, events, None, Some(request)).await
    }

    /// [`Store::save`], refused with [`Error::LeaseLost`] when `holder` is
    /// given and another replica holds the release's lease (the lease is
    /// checked by the same `UPDATE` that writes, so no write slips in
    /// between the check and the save).
    pub(crate) async fn save_as(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        holder: Option<&str>,
        idempotent: Option<&crate::IdempotentRequest>,
    ) -> Result<Saved> {
        let now = millis(ferry_release::now(), &release.id, "now")?;
        let since = crate::idempotency::window_start()?;
        let columns = Columns::of(release)?;
        let added = to_i64(events.len() as u64, &release.id, "events")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning a release save"))?;
            if let Some(request) = idempotent
                && let Some(first) =
                    crate::idempotency::claim_key!(tx, request, &release.id, now, since)?
            {
                tx.rollback()
                    .await
                    .map_err(db("ending a repeated request"))?;
                return Ok(Saved::Remembered(first));
            }
            // The row lock taken here orders concurrent saves of one release.
            let sql = format!(
                "UPDATE releases SET status = $2, finished_at = $3, updated_at = $4, \
                 version = $5, environments = $6, last_seq = last_seq + $7, links = $10 \
                 WHERE id = $1 AND product = $8 AND number = $9{} RETURNING last_seq",
                if holder.is_some() {
                    crate::lease::held_by_param_11(self.backend.kind())
                } else {
                    String::new()
                }
            );
            let mut update = sqlx::query(&sql)
                .bind(&release.id)
                .bind(columns.status)
                .bind(columns.finished_at)
                .bind(now)
                .bind(&release.version)
                .bind(&columns.environments)
                .bind(added)
                .bind(&release.product)
                .bind(columns.number)
                .bind(&columns.links);
            if let Some(holder) = holder {
                update = update.bind(holder);
            }
            let row = update
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("updating a release"))?;
            let Some(row) = row else {
                let stored =
                    sqlx::query("SELECT product, number, lease_owner FROM releases WHERE id = $1")
                        .bind(&release.id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db("reading a release"))?;
                tx.rollback().await.map_err(db("ending a refused save"))?;
                return Err(match stored {
                    None => Error::NotFound {
                        id: release.id.clone(),
                    },
                    Some(row) if row.text("product")? != release.product => Error::Immutable {
                        id: release.id.clone(),
                        field: "product",
                        stored: row.text("product")?,
                        given: release.product.clone(),
                    },
                    Some(row) if row.int("number")? == columns.number => Error::LeaseLost {
                        id: release.id.clone(),
                        holder: row.opt_text("lease_owner")?.unwrap_or_default(),
                    },
                    Some(row) => Error::Immutable {
                        id: release.id.clone(),
                        field: "number",
                        stored: row.int("number")?.to_string(),
                        given: release.number.to_string(),
                    },
                });
            };
            sqlx::query("UPDATE release_documents SET document = $2 WHERE release_id = $1")
                .bind(&release.id)
                .bind(&columns.document)
                .execute(&mut *tx)
                .await
                .map_err(db("updating a release document"))?;
            let last = to_u64(row.int("last_seq")?, &release.id, "last_seq")?;
            let first =
                (last + 1)
                    .checked_sub(events.len() as u64)
                    .ok_or_else(|| Error::Corrupt {
                        what: "last_seq",
                        id: release.id.clone(),
                        reason: format!(
                            "{last} is less than the {} events just added",
                            events.len()
                        ),
                    })?;
            let events: Vec<Event> = events
                .into_iter()
                .zip(first..)
                .map(|(e, seq)| e.into_event(&release.id, seq))
                .collect();
            for event in &events {
                insert_event!(&mut *tx, event)?;
            }
            if let Some(payload) = self.notice_payload(&release.id, &events) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(crate::notify::EVENTS_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("announcing new events"))?;
            }
            tx.commit().await.map_err(db("committing a release save"))?;
            Ok(Saved::Stored(events))
        })
    }

    /// The release with this id.
    pub async fn get(&self, id: &str) -> Result<Option<Release>> {
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query("SELECT document FROM release_documents WHERE release_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("reading a release"))?;
            row.map(|row| release_from_document(id, &row.text("document")?))
                .transpose()
        })
    }

    /// Release `#number` of `product`.
    pub async fn get_by_number(&self, product: &str, number: u64) -> Result<Option<Release>> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT r.id, d.document FROM releases r \
                 JOIN release_documents d ON d.release_id = r.id \
                 WHERE r.product = $1 AND r.number = $2",
            )
            .bind(product)
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(db("reading a release"))?;
            row.map(|row| release_from_document(&row.text("id")?, &row.text("document")?))
                .transpose()
        })
    }

    /// A page of releases, newest first (see [`ListFilter`]).
    pub async fn list(&self, filter: &ListFilter) -> Result<Page> {
        let ListQuery {
            sql,
            binds,
            by_number,
            limit,
        } = self.list_query(filter)?;
        let json = on_pool!(&self.backend, |pool| {
            let mut query = sqlx::query(&sql);
            for bind in binds {
                query = bind.bind_to(query);
            }
            let row = query
                .fetch_one(pool)
                .await
                .map_err(db("listing releases"))?;
            row.text("items")
        })?;
        let mut items = summaries_from_json(&json)?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|last| {
                if by_number {
                    Cursor::Number(last.number).encode()
                } else {
                    Cursor::Id(last.id.clone()).encode()
                }
            })
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// The SQL of [`Store::list`] for `filter`, with its binds.
    ///
    /// Every form reads at most a page per status from an index, whatever
    /// the number of releases stored (issue 24): the list of all products
    /// walks `id` (the primary key, or `(status, id)`), a product's list
    /// `(product, number)` or `(product, status, number)`. Several statuses
    /// are one such walk each, merged: `status IN (…) ORDER BY id` would
    /// read every release with one of them and sort them all.
    pub(crate) fn list_query(&self, filter: &ListFilter) -> Result<ListQuery> {
        let limit = match filter.limit {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let by_number = filter.product.is_some();
        let cursor = filter
            .cursor
            .as_deref()
            .map(|c| Cursor::decode(c, by_number))
            .transpose()?;
        let mut binds = Vec::new();
        let mut bind = |b: Bind| {
            binds.push(b);
            format!("${}", binds.len())
        };
        let mut conditions = String::new();
        if let Some(product) = &filter.product {
            conditions.push_str(&format!(
                " AND product = {}",
                bind(Bind::Text(product.clone()))
            ));
        }
        match cursor {
            Some(Cursor::Number(n)) => {
                let n = i64::try_from(n).unwrap_or(i64::MAX);
                conditions.push_str(&format!(" AND number < {}", bind(Bind::Int(n))));
            }
            Some(Cursor::Id(id)) => {
                conditions.push_str(&format!(" AND id < {}", bind(Bind::Text(id))))
            }
            None => {}
        }
        let order = if by_number { "number DESC" } else { "id DESC" };
        // One more than the page tells whether another page follows.
        let limit_param = bind(Bind::Int(i64::from(limit) + 1));
        let mut statuses: Vec<&'static str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        statuses.sort_unstable();
        statuses.dedup();
        let sql = match statuses.as_slice() {
            [] => format!(
                "SELECT {SUMMARY_COLUMNS} FROM releases WHERE 1 = 1{conditions} \
                 ORDER BY {order} LIMIT {limit_param}"
            ),
            [status] => format!(
                "SELECT {SUMMARY_COLUMNS} FROM releases WHERE status = {}{conditions} \
                 ORDER BY {order} LIMIT {limit_param}",
                bind(Bind::Text((*status).to_owned()))
            ),
            several => {
                let branches: Vec<String> = several
                    .iter()
                    .enumerate()
                    .map(|(i, status)| {
                        format!(
                            "SELECT * FROM (SELECT {SUMMARY_COLUMNS} FROM releases \
                             WHERE status = {}{conditions} ORDER BY {order} \
                             LIMIT {limit_param}) AS by_status_{i}",
                            bind(Bind::Text((*status).to_owned()))
                        )
                    })
                    .collect();
                format!(
                    "SELECT {SUMMARY_COLUMNS} FROM ({}) AS merged ORDER BY {order} LIMIT {limit_param}",
                    branches.join(" UNION ALL ")
                )
            }
        };
        Ok(ListQuery {
            sql: page_as_json(self.backend.kind(), &sql, order),
            binds,
            by_number,
            limit,
        })
    }

    /// Events of a release after `after_seq` (0 for all), in order, at most
    /// `limit` (0 or more than [`MAX_EVENTS_PAGE`] means [`MAX_EVENTS_PAGE`]).
    pub async fn events(&self, release_id: &str, after_seq: u64, limit: u32) -> Result<Vec<Event>> {
        let limit = match limit {
            0 => MAX_EVENTS_PAGE,
            n => n.min(MAX_EVENTS_PAGE),
        };
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(
                "SELECT document FROM release_events WHERE release_id = $1 AND seq > $2 \
                 ORDER BY seq LIMIT $3",
            )
            .bind(release_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(db("reading events"))?;
            rows.iter()
                .map(|row| {
                    serde_json::from_str(&row.text("document")?).map_err(|e| Error::Corrupt {
                        what: "event",
                        id: release_id.to_string(),
                        reason: e.to_string(),
                    })
                })
                .collect()
        })
    }

    /// Ids of the releases not finished yet (by status, see [`ACTIVE`]),
    /// oldest first: what the engine resumes after a restart.
    pub async fn active_release_ids(&self) -> Result<Vec<String>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&active_ids_sql())
                .fetch_all(pool)
                .await
                .map_err(db("listing active releases"))?;
            rows.iter().map(|row| row.text("id")).collect()
        })
    }

    /// Products with a queued release and none started (active and not
    /// queued), in name order: their queue waits for nothing (issue 23;
    /// the engine's queue keeper hands them on).
    pub async fn stalled_queues(&self) -> Result<Vec<String>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&stalled_queues_sql())
                .fetch_all(pool)
                .await
                .map_err(db("looking for stalled queues"))?;
            rows.iter().map(|row| row.text("product")).collect()
        })
    }

    /// How many releases of `product` are not finished (per-product
    /// concurrency, SPEC §4.5).
    pub async fn count_active(&self, product: &str) -> Result<u64> {
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&count_active_sql())
                .bind(product)
                .fetch_one(pool)
                .await
                .map_err(db("counting active releases"))?;
            to_u64(row.int("n")?, product, "active count")
        })
    }

    /// How many releases are stored per status (the `status` column's
    /// text, e.g. `RUNNING`), for the server's metrics.
    pub async fn count_by_status(&self) -> Result<Vec<(String, u64)>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(
                "SELECT status, COUNT(*) AS n FROM releases GROUP BY status ORDER BY status",
            )
            .fetch_all(pool)
            .await
            .map_err(db("counting releases by status"))?;
            rows.iter()
                .map(|row| {
                    let status = row.text("status")?;
                    let n = to_u64(row.int("n")?, &status, "status count")?;
                    Ok((status, n))
                })
                .collect()
        })
    }

    /// The newest release of every product, by product name.
    pub async fn latest_per_product(&self) -> Result<Vec<ReleaseSummary>> {
        let sql = format!(
            "SELECT {} FROM release_numbers n JOIN releases r \
             ON r.product = n.product AND r.number = n.last_number ORDER BY n.product",
            SUMMARY_COLUMNS
                .split(", ")
                .map(|c| format!("r.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(db("listing the latest releases"))?;
            rows.iter().map(summary_from_row).collect()
        })
    }

    /// A poller's last seen position (e.g. the last commit of a branch).
    pub async fn cursor_get(&self, key: &str) -> Result<Option<String>> {
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query("SELECT value FROM cursors WHERE key = $1")
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(db("reading a cursor"))?;
            row.map(|row| row.text("value")).transpose()
        })
    }

    pub async fn cursor_set(&self, key: &str, value: &str) -> Result<()> {
        let now = millis(ferry_release::now(), key, "now")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "INSERT INTO cursors (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(value)
            .bind(now)
            .execute(pool)
            .await
            .map_err(db("writing a cursor"))?;
            Ok(())
        })
    }
}
