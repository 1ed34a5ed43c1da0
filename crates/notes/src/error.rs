//! Typed errors. Most of them never leave the crate: the builder turns
//! them into a line of the notes' `notes` list (a missing registry or
//! repository never fails a release). Messages carry redacted URLs only.

/// Why one part of the notes could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening, fetching or resolving in a repository mirror.
    #[error("{0}")]
    Git(String),
    /// The registry answered, but not with what was asked for.
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    /// The registry could not be reached.
    #[error("registry {registry}: {message}")]
    Unreachable { registry: String, message: String },
    /// A value that looked like an image reference is not one.
    #[error("image reference `{reference}`: {message}")]
    Reference { reference: String, message: String },
    /// The product's `spec.releaseNotes` cannot be used (e.g. a bad
    /// `issuePattern`); validation normally catches this first.
    #[error("spec.releaseNotes.{field}: {message}")]
    Settings {
        field: &'static str,
        message: String,
    },
    #[error("store: {0}")]
    Store(#[from] ferry_store::Error),
    #[error("encoding the notes: {0}")]
    Encode(#[from] serde_json::Error),
    /// A stored rendition cannot be read back (corrupt or truncated).
    #[error("{0}")]
    Cache(String),
    #[error("no release {0}")]
    NoRelease(String),
    /// The release's snapshot is not read yet (its driver reads it first,
    /// issue 24): its notes cannot be told yet.
    #[error("release {0} has not read its snapshot yet; its notes follow once it has")]
    SnapshotPending(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn git(url: &str, e: ferry_git::Error) -> Error {
        // ferry-git's messages already redact URLs.
        let _ = url;
        Error::Git(e.to_string())
    }

    pub(crate) fn library(url: &str, e: git2::Error) -> Error {
        Error::Git(format!("{url}: {}", e.message()))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
