//! GitOps changes (SPEC §4.1, §4.2): what a promotion reads and writes.
//!
//! - [`read_snapshot`]: the promotable values (or whole files) of an
//!   application at a revision, and its version;
//! - [`plan_changes`]: the file changes that make a target application
//!   hold a snapshot — only promoted values change, every other byte stays;
//! - [`promote`]: those changes as one commit pushed fast-forward (retried on
//!   a lost race, never duplicated thanks to the trailers);
//! - [`Workspace`]: the cache of repository mirrors.
//!
//! Everything here is synchronous (libgit2 and the git CLI); async callers
//! run it on a blocking thread.

mod apply;
mod error;
mod snapshot;
mod workspace;

pub use apply::{FileChange, plan_changes, promote, unified_diff};
pub use error::{Error, Result};
pub use snapshot::{AppSource, ReadSnapshot, read_snapshot, read_version};
pub use workspace::Workspace;

/// `path/file` inside a repository, rejecting anything that would leave the
/// application's directory.
pub(crate) fn join(dir: &str, file: &str) -> Result<String> {
    let file = file.trim();
    if file.is_empty() || file.starts_with('/') || file.split(['/', '\\']).any(|c| c == "..") {
        return Err(Error::PathEscapes {
            file: file.to_owned(),
        });
    }
    let dir = dir.trim_matches('/');
    let dir = if dir == "." { "" } else { dir };
    let file = file.trim_start_matches("./");
    Ok(if dir.is_empty() {
        file.to_owned()
    } else {
        format!("{dir}/{file}")
    })
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_inside_the_directory_only() {
        assert_eq!(
            join("apps/a/dev", "values.yaml").unwrap(),
            "apps/a/dev/values.yaml"
        );
        assert_eq!(
            join("/apps/a/", "./cfg/x.yaml").unwrap(),
            "apps/a/cfg/x.yaml"
        );
        assert_eq!(join(".", "x.yaml").unwrap(), "x.yaml");
        assert!(join("apps", "../secrets.yaml").is_err());
        assert!(join("apps", "/etc/passwd").is_err());
        assert!(join("apps", "a/../../b").is_err());
    }
}
