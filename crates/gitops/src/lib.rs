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
pub(crate) fn join(dir: &str, file: &str, field: &'static str) -> Result<String> {
    let file = file.trim();
    if file.is_empty() || file.starts_with('/') || file.split(['/', '\\']).any(|c| c == "..") {
        return Err(Error::PathEscapes {
            field,
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

/// Refuses `path` when it, or a directory on the way to it, is a symbolic
/// link in the tree `reader` shows (see [`Error::Symlink`]).
pub(crate) fn refuse_symlinks(
    reader: &ferry_git::TreeReader,
    path: &str,
    field: &'static str,
) -> Result<()> {
    match reader.symlink_on_path(path)? {
        Some(link) => Err(Error::Symlink {
            field,
            file: path.to_owned(),
            link,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_inside_the_directory_only() {
        assert_eq!(
            join("apps/a/dev", "values.yaml", "f").unwrap(),
            "apps/a/dev/values.yaml"
        );
        assert_eq!(
            join("/apps/a/", "./cfg/x.yaml", "f").unwrap(),
            "apps/a/cfg/x.yaml"
        );
        assert_eq!(join(".", "x.yaml", "f").unwrap(), "x.yaml");
        assert!(join("apps", "../secrets.yaml", "f").is_err());
        assert!(join("apps", "/etc/passwd", "f").is_err());
        assert!(join("apps", "a/../../b", "f").is_err());
    }
}
