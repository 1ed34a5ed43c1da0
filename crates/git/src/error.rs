//! Typed errors. Every message that can carry a remote's answer is redacted
//! before it is stored here, so `Display` and `Debug` are safe to log.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, with the git operation and (for remote operations) the
/// redacted URL and the remote's answer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A git command failed; `stderr` is the remote's (or git's) answer.
    #[error("git {operation} ({url}) failed{}: {stderr}", status_text(*status))]
    Command {
        operation: &'static str,
        url: String,
        status: Option<i32>,
        stderr: String,
    },

    /// The remote refused our credentials (or none were configured).
    #[error("git {operation} ({url}): authentication failed, {hint}; remote said: {stderr}")]
    Authentication {
        operation: &'static str,
        url: String,
        /// What was tried, in words (never the secret itself).
        hint: &'static str,
        stderr: String,
    },

    /// The remote did not finish answering within the deadline; the git
    /// processes were killed.
    #[error("git {operation} ({url}) did not finish within {seconds} s and was stopped")]
    Timeout {
        operation: &'static str,
        url: String,
        seconds: u64,
    },

    /// The git executable could not be started.
    #[error("could not run git {operation}: {source}")]
    Spawn {
        operation: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The remote rejected the push for a reason other than a lost race
    /// (protected branch, hook, permissions).
    #[error("push of {branch} to {url} was rejected: {reason}")]
    PushRejected {
        url: String,
        branch: String,
        reason: String,
    },

    /// Every attempt lost the race against other pushes.
    #[error(
        "push of {branch} to {url} lost the race {attempts} times in a row (other commits kept landing first)"
    )]
    RaceLost {
        url: String,
        branch: String,
        attempts: u32,
    },

    /// A branch, tag or SHA that does not exist in the mirror.
    #[error("revision `{rev}` not found in {url}")]
    RevisionNotFound { url: String, rev: String },

    /// A path that is not in the tree at that revision.
    #[error("`{path}` not found at {rev} in {url}")]
    PathNotFound {
        url: String,
        rev: String,
        path: String,
    },

    /// A path that cannot be written in a Git tree.
    #[error("invalid path `{path}`: {reason}")]
    InvalidPath { path: String, reason: &'static str },

    /// A change that contradicts the tree (a file where a directory is, …).
    #[error("cannot apply change at `{path}`: {reason}")]
    PathConflict { path: String, reason: String },

    /// A remote URL that cannot be used.
    #[error("invalid remote URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// A branch name git would refuse.
    #[error("invalid branch name `{name}`")]
    InvalidBranch { name: String },

    /// A trailer key or value that would break the message format.
    #[error("invalid trailer `{key}`: {reason}")]
    InvalidTrailer { key: String, reason: &'static str },

    /// The fetch that was to serve this call (another caller's, see
    /// `Mirror::fetch_since`) failed.
    #[error("fetch of {url} failed: {message}")]
    SharedFetch {
        url: String,
        message: String,
        transient: bool,
    },

    /// A partial mirror asked its remote for an object it lacks, and the
    /// remote did not send it (history rewritten and collected meanwhile,
    /// or a server that serves objects by id only when reachable).
    #[error("{url} did not send object {id}, which the mirror needs and does not have")]
    ObjectNotSent { url: String, id: String },

    /// libgit2 failed on the local mirror.
    #[error("{operation} in mirror {mirror}: {source}")]
    Library {
        operation: &'static str,
        mirror: String,
        #[source]
        source: git2::Error,
    },

    /// File-system trouble in the mirror cache.
    #[error("{operation} {path}: {source}")]
    Io {
        operation: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },

    /// The caller's change computation failed.
    #[error("computing the changes failed: {source}")]
    Changes {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn status_text(status: Option<i32>) -> String {
    match status {
        Some(code) => format!(" with exit code {code}"),
        None => " (killed by a signal)".to_string(),
    }
}

impl Error {
    /// Whether retrying later may help (network trouble, lost races), as
    /// opposed to errors that need a person (bad credentials, bad paths).
    pub fn is_transient(&self) -> bool {
        if let Error::SharedFetch { transient, .. } = self {
            return *transient;
        }
        matches!(
            self,
            Error::Command { .. }
                | Error::RaceLost { .. }
                | Error::Spawn { .. }
                | Error::Timeout { .. }
        )
    }
}
