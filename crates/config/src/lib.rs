//! Configuration sources: a directory tree, or a Git configuration
//! repository (URL + branch + path inside it), read into
//! [`ferry_model::Loaded`].
//!
//! Files are read in path order (the order that decides environment
//! matching, SPEC §1.1), every `*.yaml`/`*.yml` below the root, skipping
//! hidden directories such as `.git`. A file that cannot be read becomes a
//! diagnostic, not a failure, so one run reports everything.

mod dir;
mod git;
pub mod timeout;

use std::path::PathBuf;

use ferry_model::{Loaded, SourceFile};

/// The one redaction of credentials in URLs (user info, token query
/// parameters), shared with the Git layer.
pub use ferry_git::redact_url;

/// Where a configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// A directory tree on this machine.
    Dir(PathBuf),
    /// A Git repository: URL, optional branch (default: the remote's HEAD),
    /// optional path inside it.
    Git {
        url: String,
        branch: Option<String>,
        path: Option<String>,
    },
}

impl ConfigSource {
    /// Interprets a command-line source: something that looks like a Git URL
    /// (`https://`, `ssh://`, `file://`, `git@host:…`, `….git`) or any
    /// source given with a branch or path is a Git repository; anything
    /// else is a directory.
    pub fn from_arg(arg: &str, branch: Option<String>, path: Option<String>) -> ConfigSource {
        let looks_git = ["https://", "http://", "ssh://", "git://", "file://"]
            .iter()
            .any(|p| arg.starts_with(p))
            || is_scp_like(arg)
            || arg.ends_with(".git");
        if looks_git || branch.is_some() || path.is_some() {
            ConfigSource::Git {
                url: arg.to_owned(),
                branch,
                path,
            }
        } else {
            ConfigSource::Dir(PathBuf::from(arg))
        }
    }

    /// A description safe to print (credentials redacted).
    pub fn describe(&self) -> String {
        match self {
            ConfigSource::Dir(p) => p.display().to_string(),
            ConfigSource::Git { url, branch, path } => {
                let mut s = redact_url(url);
                if let Some(b) = branch {
                    s.push_str(&format!(" (branch {b})"));
                }
                if let Some(p) = path {
                    s.push_str(&format!(" path {p}"));
                }
                s
            }
        }
    }
}

/// `user@host:path` (scp-like SSH), but not a Windows drive or a URL.
fn is_scp_like(arg: &str) -> bool {
    match (arg.find('@'), arg.find(':')) {
        (Some(at), Some(colon)) => {
            at < colon && !arg[..colon].contains('/') && !arg.contains("://")
        }
        _ => false,
    }
}

/// Why a configuration source could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration directory {path}: {source}")]
    Dir {
        path: String,
        source: std::io::Error,
    },
    #[error("configuration repository {url}: git {operation} failed: {message}")]
    Git {
        url: String,
        operation: &'static str,
        message: String,
    },
    #[error("configuration repository {url}: path `{path}` does not exist in branch {branch}")]
    MissingPath {
        url: String,
        branch: String,
        path: String,
    },
    #[error("configuration: {0}")]
    Io(#[from] std::io::Error),
}

/// The files of a source, plus problems with individual files (reported as
/// diagnostics by [`load`]).
#[derive(Debug, Default)]
pub struct SourceFiles {
    pub files: Vec<SourceFile>,
    pub unreadable: Vec<(String, String)>,
}

/// Reads and validates a configuration source.
pub fn load(source: &ConfigSource) -> Result<Loaded, ConfigError> {
    let files = match source {
        ConfigSource::Dir(path) => dir::read_tree(path)?,
        ConfigSource::Git { url, branch, path } => {
            git::read_repository(url, branch.as_deref(), path.as_deref())?
        }
    };
    let mut loaded = ferry_model::load(&files.files);
    for (file, message) in files.unreadable {
        let origin = ferry_model::Origin {
            file,
            pos: Default::default(),
        };
        loaded
            .diagnostics
            .insert(0, ferry_model::Diagnostic::error(&origin, "", message));
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_kinds() {
        assert_eq!(
            ConfigSource::from_arg("examples", None, None),
            ConfigSource::Dir("examples".into())
        );
        assert!(matches!(
            ConfigSource::from_arg("https://git.example/a/b.git", None, None),
            ConfigSource::Git { .. }
        ));
        assert!(matches!(
            ConfigSource::from_arg("git@github.com:acme/cfg.git", None, None),
            ConfigSource::Git { .. }
        ));
        assert!(matches!(
            ConfigSource::from_arg("/srv/cfg", Some("main".into()), None),
            ConfigSource::Git { .. }
        ));
        assert_eq!(
            ConfigSource::from_arg(
                "https://bob:s3cret@git.example/a.git",
                Some("main".into()),
                Some("cfg".into())
            )
            .describe(),
            "https://bob:***@git.example/a.git (branch main) path cfg"
        );
    }
}
