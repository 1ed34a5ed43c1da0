//! The one place where SQLite and PostgreSQL differ: connecting, the
//! migrations, and how a writing transaction begins. Everything else is
//! written once with portable SQL (`$n` placeholders work on both) and
//! compiled for each backend by [`on_pool!`].

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Postgres, Row, Sqlite, Transaction};

use crate::error::{Error, Result};
use crate::url::{BackendKind, redact};

/// How long a SQLite writer waits for another writer (another task or
/// another process) before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// Readers run in parallel under WAL; more connections than cores buys
/// nothing on the small machines ferry targets.
const SQLITE_MAX_CONNECTIONS: u32 = 8;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;

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
            SqlitePoolOptions::new().max_connections(SQLITE_MAX_CONNECTIONS),
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
             'finishedAt', finished_at, 'version', version, 'environments', json(environments)) \
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
             'version', version)::text, -1) || ', \"environments\" : ' || environments || '}}', \
             ',' ORDER BY {order}) || ']', '[]') AS items FROM ({inner}) AS page"
        ),
    }
}

/// Starting a transaction that will write.
pub(crate) trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Db = Sqlite;
    /// `BEGIN IMMEDIATE` takes the write lock up front, so concurrent
    /// creators queue on the busy timeout instead of failing when a read
    /// snapshot cannot be upgraded; that also serialises numbering.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = Postgres;
    /// Read committed is enough: numbering and event sequences are taken
    /// with single-statement `UPDATE … RETURNING` / upserts whose row locks
    /// serialise writers of the same product or release.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

/// Reading columns of a row the same way on both backends.
pub(crate) trait RowExt {
    fn text(&self, column: &'static str) -> Result<String>;
    fn opt_text(&self, column: &'static str) -> Result<Option<String>>;
    fn int(&self, column: &'static str) -> Result<i64>;
    fn opt_int(&self, column: &'static str) -> Result<Option<i64>>;
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
        }
    )*};
}
impl_row_ext!(SqliteRow, PgRow);
