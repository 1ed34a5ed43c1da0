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

use ferry_model::Loaded;

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
    #[error(
        "configuration {what}: {files} YAML files of {} in total are more than it may read ({max_files} files, {}); \
         raise `configMaxFiles` / `configMaxBytes` (FERRY_CONFIG_MAX_FILES, FERRY_CONFIG_MAX_BYTES) if this is meant",
        show_bytes(*.bytes),
        show_bytes(*.max_bytes)
    )]
    Budget {
        what: String,
        files: usize,
        bytes: u64,
        max_files: usize,
        max_bytes: u64,
    },
    #[error("configuration: {0}")]
    Io(#[from] std::io::Error),
}

/// How much of a configuration source is read at most, so that memory
/// and time stay bounded whatever the source holds (docs/settings.md,
/// "Configuration limits"). The defaults fit 50,000 Applications of up to
/// about 2.5 KB each with room to spare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// YAML files in the source (`configMaxFiles`).
    pub max_files: usize,
    /// Bytes of all YAML files together (`configMaxBytes`).
    pub max_bytes: u64,
    /// Bytes of one file (`configMaxFileBytes`); a larger file is reported
    /// and not read.
    pub max_file_bytes: u64,
    /// YAML nodes of one document of a kind ferry reads
    /// (`configMaxDocumentNodes`); documents of other kinds are scanned
    /// without being built, so they have no such limit.
    pub max_document_nodes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_files: 100_000,
            max_bytes: 128 * 1024 * 1024,
            max_file_bytes: 16 * 1024 * 1024,
            max_document_nodes: ferry_model::yaml::DEFAULT_MAX_NODES,
        }
    }
}

/// A byte count for messages: `16 MiB`, `1.5 MiB`, `300 bytes`.
pub fn show_bytes(n: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else {
        format!("{n} bytes")
    }
}

/// Reads and validates a configuration source within the default [`Budget`].
pub fn load(source: &ConfigSource) -> Result<Loaded, ConfigError> {
    load_with(source, &Budget::default())
}

/// Reads and validates a configuration source within `budget`: a source
/// over its file or byte budget is refused before any file is read.
pub fn load_with(source: &ConfigSource, budget: &Budget) -> Result<Loaded, ConfigError> {
    match source {
        ConfigSource::Dir(path) => {
            let entries = dir::list(path)?;
            dir::load(&source.describe(), &entries, budget)
        }
        ConfigSource::Git { url, branch, path } => {
            git::load_repository(source, url, branch.as_deref(), path.as_deref(), budget)
        }
    }
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
