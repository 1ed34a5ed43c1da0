//! The one place where SQLite and PostgreSQL differ: connecting, the
//! migrations, and how a writing transaction begins. Everything else is
//! written once with portable SQL (`$n` placeholders work on both) and
//! compiled for each backend by [`on_pool!`].

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Connection, Postgres, Row, Sqlite};

use crate::error::{Error, Result};
use crate::url::{BackendKind, redact};

/// How long a SQLite writer waits for another writer (another task or
/// another process) before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Readers run in parallel under WAL; more connections than cores buys
/// nothing on the small machines ferry targets.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;
/// How long a store call waits for a connection. While the database is
/// unreachable the pool keeps trying to connect until then (sqlx's default
/// is 30 s, which held API requests that long during an outage, issue 23);
/// the engine retries its saves with backoff on its own, and the server
/// answers 503 sooner than this.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection still inside a transaction when it is handed out
/// again is closed instead (sqlx's own transactions end theirs by a ROLLBACK
/// queued on drop; when that ROLLBACK failed the connection must not serve
/// the next caller). [`WriteTx`] closes its failed connections itself;
/// this catches any other transaction.
fn not_in_transaction<C: Connection>(
    conn: &mut C,
    _: sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    Box::pin(async move { Ok(!conn.is_in_transaction()) })
}

/// A connection pool of either backend. Pools are reference counted, so
/// cloning is cheap.
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of the store's
/// backend. The body is compiled once per backend, so the same query code
/// serves both without a dynamic driver.
macro_rules! on_pool {
    ($backend:expr, |$pool:ident| $body:expr) => {
        match $backend {
            $crate::backend::Backend::Sqlite($pool) => $body,
            $crate::backend::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

impl Backend {
    pub(crate) async fn open(url: &str) -> Result<Backend> {
        match BackendKind::of(url) {
            Some(BackendKind::Sqlite) => open_sqlite(url).await,
            Some(BackendKind::Postgres) => open_postgres(url).await,
            None => Err(Error::UnsupportedUrl { url: redact(url) }),
        }
    }

    pub(crate) fn kind(&self) -> BackendKind {
        match self {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    pub(crate) async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

async fn open_sqlite(url: &str) -> Result<Backend> {
    let options = SqliteConnectOptions::from_str(url).map_err(|source| Error::Open {
        url: redact(url),
        source,
    })?;
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    open_sqlite_with(options, in_memory, url).await
}

impl Backend {
    /// A SQLite file named by its path, so that no character of the path
    /// needs URL escaping.
    pub(crate) async fn open_sqlite_file(path: &std::path::Path) -> Result<Backend> {
        let options = SqliteConnectOptions::new().filename(path);
        open_sqlite_with(options, false, &path.display().to_string()).await
    }
}

async fn open_sqlite_with(
    options: SqliteConnectOptions,
    in_memory: bool,
    url: &str,
) -> Result<Backend> {
    let open_err = |source| Error::Open {
        url: redact(url),
        source,
    };
    let options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let (options, pool_options) = if in_memory {
        // An in-memory database lives as long as a connection to it: keep
        // exactly one, forever.
        (
            options,
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
        )
    } else {
        // WAL: readers never block the writer nor each other, and a
        // process killed mid-transaction leaves the last commit intact.
        // NORMAL sync keeps every commit across a process crash; only an
        // OS crash or power loss can drop the newest commits (never
        // corrupt the file), which the engine tolerates because promotion
        // commits carry trailers and are found again.
        (
            options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
            SqlitePoolOptions::new()
                .max_connections(SQLITE_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .before_acquire(not_in_transaction),
        )
    };
    let pool = pool_options.connect_with(options).await.map_err(open_err)?;
    migrate(&pool, sqlite_migrator(), url).await?;
    Ok(Backend::Sqlite(pool))
}

async fn open_postgres(url: &str) -> Result<Backend> {
    let open_err = |source| Error::Open {
        url: redact(url),
        source,
    };
    let options = PgConnectOptions::from_str(url).map_err(open_err)?;
    let pool = PgPoolOptions::new()
        .max_connections(POSTGRES_MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .before_acquire(not_in_transaction)
        .connect_with(options)
        .await
        .map_err(open_err)?;
    // The migrator takes an advisory lock, so replicas starting together
    // migrate once.
    migrate(&pool, postgres_migrator(), url).await?;
    Ok(Backend::Postgres(pool))
}

async fn migrate<'a, A>(pool: A, migrator: Migrator, url: &str) -> Result<()>
where
    A: sqlx::Acquire<'a>,
    <A::Connection as std::ops::Deref>::Target: sqlx::migrate::Migrate,
{
    migrator.run(pool).await.map_err(|source| Error::Migrate {
        url: redact(url),
        source,
    })
}

/// One migration per file, embedded at build time so the binary needs no
/// files beside it.
fn migrator(files: &[(i64, &'static str, &'static str)]) -> Migrator {
    Migrator {
        migrations: Cow::Owned(
            files
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect(),
        ),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

fn sqlite_migrator() -> Migrator {
    migrator(&[
        (
            1,
            "releases",
            include_str!("../migrations/sqlite/0001_releases.sql"),
        ),
        (
            7,
            "webhook_deliveries",
            include_str!("../migrations/sqlite/0007_webhook_deliveries.sql"),
        ),
        (
            8,
            "release notes",
            include_str!("../migrations/sqlite/0008_release_notes.sql"),
        ),
        (
            10,
            "tokens_audit",
            include_str!("../migrations/sqlite/0010_tokens_audit.sql"),
        ),
        (
            11,
            "scale out",
            include_str!("../migrations/sqlite/0011_scale_out.sql"),
        ),
        (
            12,
            "ui_sessions",
            include_str!("../migrations/sqlite/0012_ui_sessions.sql"),
        ),
        (
            18,
            "release notes renditions",
            include_str!("../migrations/sqlite/0018_release_notes_renditions.sql"),
        ),
        (
            23,
            "idempotency keys",
            include_str!("../migrations/sqlite/0023_idempotency.sql"),
        ),
        (
            24,
            "delivery insights",
            include_str!("../migrations/sqlite/0024_insights.sql"),
        ),
        (
            30,
            "freezes",
            include_str!("../migrations/sqlite/0030_freezes.sql"),
        ),
        (
            33,
            "notifications",
            include_str!("../migrations/sqlite/0033_notifications.sql"),
        ),
        (
            34,
            "delivery insights generation",
            include_str!("../migrations/sqlite/0034_insight_generation.sql"),
        ),
        (
            35,
            "delivery insights day aggregates",
            include_str!("../migrations/sqlite/0035_insight_days.sql"),
        ),
        (
            36,
            "unfinished releases",
            include_str!("../migrations/sqlite/0036_unfinished_releases.sql"),
        ),
        (
            37,
            "release links",
            include_str!("../migrations/sqlite/0037_release_links.sql"),
        ),
    ])
}

fn postgres_migrator() -> Migrator {
    migrator(&[
        (
            1,
            "releases",
            include_str!("../migrations/postgres/0001_releases.sql"),
        ),
        (
            7,
            "webhook_deliveries",
            include_str!("../migrations/postgres/0007_webhook_deliveries.sql"),
        ),
        (
            8,
            "release notes",
            include_str!("../migrations/postgres/0008_release_notes.sql"),
        ),
        (
            10,
            "tokens_audit",
            include_str!("../migrations/postgres/0010_tokens_audit.sql"),
        ),
        (
            11,
            "scale out",
            include_str!("../migrations/postgres/0011_scale_out.sql"),
        ),
        (
            12,
            "ui_sessions",
            include_str!("../migrations/postgres/0012_ui_sessions.sql"),
        ),
        (
            18,
            "release notes renditions",
            include_str!("../migrations/postgres/0018_release_notes_renditions.sql"),
        ),
        (
            23,
            "idempotency keys",
            include_str!("../migrations/postgres/0023_idempotency.sql"),
        ),
        (
            24,
            "delivery insights",
            include_str!("../migrations/postgres/0024_insights.sql"),
        ),
        (
            30,
            "freezes",
            include_str!("../migrations/postgres/0030_freezes.sql"),
        ),
        (
            33,
            "notifications",
            include_str!("../migrations/postgres/0033_notifications.sql"),
        ),
        (
            34,
            "delivery insights generation",
            include_str!("../migrations/postgres/0034_insight_generation.sql"),
        ),
        (
            35,
            "delivery insights day aggregates",
            include_str!("../migrations/postgres/0035_insight_days.sql"),
        ),
        (
            36,
            "unfinished releases",
            include_str!("../migrations/postgres/0036_unfinished_releases.sql"),
        ),
        (
            37,
            "release links",
            include_str!("../migrations/postgres/0037_release_links.sql"),
        ),
    ])
}

/// Wraps a query that selects summary columns (ordered by `order`) so it
/// returns the whole page as one JSON array in one row, column `items`.
/// The drivers pay per row and per column, so a page of 50 costs several
/// times more as rows than as one aggregated value.
pub(crate) fn page_as_json(kind: BackendKind, inner: &str, order: &str) -> String {
    match kind {
        BackendKind::Sqlite => format!(
            "SELECT json_group_array(json_object('id', id, 'number', number, 'product', product, \
             'flow', flow, 'status', status, 'initiator', initiator, 'createdAt', created_at, \
             'finishedAt', finished_at, 'version', version, 'environments', json(environments), \
             'links', json(links)) \
             ORDER BY {order}) AS items FROM ({inner}) AS page"
        ),
        // The `environments` column is JSON text ferry wrote: spliced in as
        // text rather than cast to `json` and serialised again, which made
        // PostgreSQL parse ~1 kB per row of every page (issue 11: the list
        // ran at half SQLite's rate). The small columns still go through
        // `json_build_object` for escaping; its text ends with `}`.
        BackendKind::Postgres => format!(
            "SELECT COALESCE('[' || string_agg(left(json_build_object('id', id, \
             'number', number, 'product', product, 'flow', flow, 'status', status, \
             'initiator', initiator, 'createdAt', created_at, 'finishedAt', finished_at, \
             'version', version)::text, -1) || ', \"environments\" : ' || environments \
             || ', \"links\" : ' || COALESCE(links, 'null') || '}}', \
             ',' ORDER BY {order}) || ']', '[]') AS items FROM ({inner}) AS page"
        ),
    }
}

/// A write transaction on a pooled connection of its own (issue 23).
///
/// sqlx's `Transaction` hands its connection back to the pool whatever
/// happened to it: after a COMMIT that failed on SQLite (disk full, file
/// read-only) the connection's transaction depth stayed above zero, its
/// queued ROLLBACK failed too ("no transaction is active"), and every
/// later `BEGIN IMMEDIATE` on it failed with "attempted to call begin_with
/// at non-zero transaction depth" for as long as the process lived. Here
/// the transaction is plain SQL on a checked-out connection, and the
/// connection goes back to the pool only after a COMMIT or ROLLBACK that
/// succeeded; after any failure, or when dropped half-way (an error
/// returned early, a cancelled future), it is closed, which ends the
/// transaction on the server's side, and the pool opens a fresh one.
pub(crate) struct WriteTx<DB: sqlx::Database> {
    conn: PoolConnection<DB>,
    open: bool,
}

impl<DB: sqlx::Database> std::ops::Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &DB::Connection {
        &self.conn
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        &mut self.conn
    }
}

impl<DB: sqlx::Database> Drop for WriteTx<DB> {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

/// Starting a transaction that will write.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = Result<WriteTx<Self::Db>, sqlx::Error>> + Send;
}

macro_rules! write_tx {
    ($db:ty, $pool:ty, $begin:expr) => {
        impl WriteTx<$db> {
            async fn begin(pool: &$pool) -> Result<WriteTx<$db>, sqlx::Error> {
                let conn = pool.acquire().await?;
                let mut tx = WriteTx { conn, open: true };
                sqlx::Executor::execute(&mut *tx.conn, $begin).await?;
                Ok(tx)
            }

            /// Commits; the connection is reused only when that worked.
            pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
                sqlx::Executor::execute(&mut *self.conn, "COMMIT").await?;
                self.open = false;
                Ok(())
            }

            /// Rolls back; the connection is reused only when that worked.
            pub(crate) async fn rollback(mut self) -> Result<(), sqlx::Error> {
                sqlx::Executor::execute(&mut *self.conn, "ROLLBACK").await?;
                self.open = false;
                Ok(())
            }
        }

        impl BeginWrite for $pool {
            type Db = $db;
            fn begin_write(
                &self,
            ) -> impl Future<Output = Result<WriteTx<$db>, sqlx::Error>> + Send {
                WriteTx::<$db>::begin(self)
            }
        }
    };
}

// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so concurrent
// creators queue on the busy timeout instead of failing when a read
// snapshot cannot be upgraded; that also serialises numbering.
write_tx!(Sqlite, SqlitePool, "BEGIN IMMEDIATE");
// PostgreSQL: read committed is enough: numbering and event sequences are
// taken with single-statement `UPDATE … RETURNING` / upserts whose row
// locks serialise writers of the same product or release.
write_tx!(Postgres, PgPool, "BEGIN");

/// Reading columns of a row the same way on both backends.
pub(crate) trait RowExt {
    fn text(&self, column: &'static str) -> Result<String>;
    fn opt_text(&self, column: &'static str) -> Result<Option<String>>;
    fn int(&self, column: &'static str) -> Result<i64>;
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>>;
    fn bytes(&self, column: &'static str) -> Result<Vec<u8>>;
}

macro_rules! impl_row_ext {
    ($($row:ty),*) => {$(
        impl RowExt for $row {
            fn text(&self, column: &'static str) -> Result<String> {
                self.try_get(column).map_err(crate::error::db("reading a text column"))
            }
            fn opt_text(&self, column: &'static str) -> Result<Option<String>> {
                self.try_get(column).map_err(crate::error::db("reading a text column"))
            }
            fn int(&self, column: &'static str) -> Result<i64> {
                self.try_get(column).map_err(crate::error::db("reading an integer column"))
            }
            fn opt_int(&self, column: &'static str) -> Result<Option<i64>> {
                self.try_get(column).map_err(crate::error::db("reading an integer column"))
            }
            fn bytes(&self, column: &'static str) -> Result<Vec<u8>> {
                self.try_get(column).map_err(crate::error::db("reading a binary column"))
            }
        }
    )*};
}
impl_row_ext!(SqliteRow, PgRow);
