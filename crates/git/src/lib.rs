//! Git: cached mirrors, reading trees at revisions, building commits without
//! checkouts, fast-forward-only pushes.
//!
//! The data path of a promotion (SPEC §4.2, §10):
//! [`Mirror::open`] a cached bare mirror of the GitOps repository →
//! read files at the branch tip through a [`TreeReader`] → return the
//! [`Change`]s → [`Mirror::commit_and_push`] writes only the changed blobs
//! and trees, pushes fast-forward only, retries lost races, and reuses a
//! commit that already carries the promotion's trailers.
//!
//! Network operations use the git CLI with credentials only in the child's
//! environment ([`Remote`], [`Credentials`]); everything local uses libgit2.
//! Errors are typed ([`Error`]) and redacted ([`redact_url`]).
//!
//! ```no_run
//! use ferry_git::{Change, CommitSpec, Credentials, Mirror, PushOptions, PushTarget, Remote, Signature};
//!
//! # fn main() -> Result<(), ferry_git::Error> {
//! let remote = Remote::new("https://git.example.com/org/gitops.git", Credentials::token("…"))?;
//! let mirror = Mirror::open("/var/lib/ferry/mirrors".as_ref(), remote)?;
//! mirror.fetch()?;
//! let trigger = mirror.commit_info("main")?; // sha, author, date, message, branch
//! let spec = CommitSpec {
//!     author: Signature::new("ferry", "ferry@example.com"),
//!     committer: None,
//!     message: ferry_git::promotion_message("trio", "54.2", "qa", "trio-qa", "01J…"),
//! };
//! let outcome = mirror.commit_and_push(&PushTarget::branch("main"), &spec, &PushOptions::default(), |tree| {
//!     let old = tree.read_file("envs/qa/values.yaml")?.unwrap_or_default();
//!     let new = old.clone(); // the YAML edit goes here
//!     Ok::<_, ferry_git::Error>(vec![Change::write("envs/qa/values.yaml", new)])
//! })?;
//! println!("{:?} on {} (reused: {})", outcome.commit, trigger.id, outcome.reused);
//! # Ok(()) }
//! ```

mod cli;
mod error;
mod flight;
mod group;
mod merge;
mod mirror;
mod partial;
mod path;
mod pool;
mod push;
mod read;
mod redact;
mod stats;
mod trailers;
mod transport;
mod tree_edit;

/// The `tracing` target of spans that belong in a step's trace (see
/// ferry-telemetry): `git.clone`, `git.fetch`, `git.commit`, `git.push`.
pub(crate) const TRACE_TARGET: &str = "ferry::trace";

pub use error::{Error, Result};
pub use git2::Oid;
pub use merge::{MergeOutcome, merge_branch, unmerged_branches};
pub use mirror::{Mirror, MirrorLock};
pub use path::RepoPath;
pub use push::{
    CONTENDED_FOR, CommitSpec, PushOptions, PushOutcome, PushTarget, RaceBackoff, Signature,
};
pub use read::{
    CommitInfo, DirEntry, EntryKind, GitTime, Person, Prefetch, TreeReader, prefetch_together,
};
pub use redact::{MASK, Redactor, redact_url};
pub use stats::{GitStats, stats};
pub use trailers::{
    APPLICATION_TRAILER, CommitMessage, ENVIRONMENT_TRAILER, PromotionClaim, RELEASE_TRAILER,
    Trailer, has_trailers, parse_trailers, promotion_claims, promotion_message, promotion_trailers,
};
pub use transport::{Credentials, Remote, Secret, Transport};
pub use tree_edit::Change;
