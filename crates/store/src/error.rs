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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Wraps a database error with what the store was doing.
pub(crate) fn db(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |source| Error::Database { operation, source }
}
