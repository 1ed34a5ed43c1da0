//! Typed errors of the store. Database URLs in messages have their
//! password removed (see [`crate::url::redact`]).

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unsupported database URL `{url}`: expected `sqlite:…` or `postgres://…`")]
    UnsupportedUrl { url: String },

    #[error("cannot open database `{url}`: {source}")]
    Open {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("cannot apply the schema migrations to `{url}`: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("database error while {operation}: {source}")]
    Database {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error("release `{id}` not found")]
    NotFound { id: String },

    /// `save` was given a release whose creation-time identity (product,
    /// number) differs from the stored one: those never change.
    #[error("release `{id}`: {field} is fixed at creation (stored `{stored}`, given `{given}`)")]
    Immutable {
        id: String,
        field: &'static str,
        stored: String,
        given: String,
    },

    /// A save by a replica that no longer holds the release's lease:
    /// another replica took the release over (issue 11), so this one must
    /// stop driving it.
    #[error("release `{id}` is driven by another replica (`{holder}`) now: its lease was lost")]
    LeaseLost { id: String, holder: String },

    #[error("stored {what} of release `{id}` cannot be read: {reason}")]
    Corrupt {
        what: &'static str,
        id: String,
        reason: String,
    },

    #[error("release `{id}` cannot be serialised: {source}")]
    Encode {
        id: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("{field} of release `{id}` is out of the storable range")]
    OutOfRange { id: String, field: &'static str },

    /// A live API token already has this name (names are initiators, so
    /// they must be unambiguous).
    #[error("a token named `{name}` exists already (revoke it first)")]
    TokenNameTaken { name: String },

    #[error("invalid list cursor `{cursor}`: {reason}")]
    BadCursor {
        cursor: String,
        reason: &'static str,
    },

    /// A save that would break "`finishedAt` is set if and only if the
    /// release status is terminal" (SPEC §12): refused, so that a release
    /// is never stored as finished while it still runs (issue 23).
    #[error("release `{id}` cannot be stored with status {status} and {finished}")]
    Unfinishable {
        id: String,
        status: &'static str,
        finished: &'static str,
    },
}

impl Error {
    /// Whether the storage itself is unavailable for now — the database
    /// unreachable or restarting, the pool out of connections, the disk
    /// full, the file read-only or locked — so the same call may succeed
    /// later and is worth retrying (issue 23). Refusals that retrying
    /// cannot change (a lost lease, bad input, corrupt rows) are not.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Database { source, .. } | Error::Open { source, .. } => sqlx_unavailable(source),
            _ => false,
        }
    }
}

/// See [`Error::is_unavailable`].
fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or_default();
            match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                // SQLite's extended result codes; the primary code is the
                // low byte: BUSY, LOCKED, NOMEM, READONLY, IOERR, FULL,
                // CANTOPEN, PROTOCOL.
                Some(_) => code
                    .parse::<i32>()
                    .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14 | 15)),
                // PostgreSQL SQLSTATEs: connection exceptions (08),
                // insufficient resources (53, disk full among them),
                // operator intervention (57: shutdown, restart, cancel),
                // system errors (58), and the two transaction rollbacks
                // that a retry resolves (serialization failure, deadlock).
                None => {
                    ["08", "53", "57", "58"].iter().any(|c| code.starts_with(c))
                        || matches!(code, "40001" | "40P01")
                }
            }
        }
        _ => false,
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps a database error with what the store was doing.
pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { operation, source }
}
