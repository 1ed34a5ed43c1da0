//! Repository paths: `/`-separated, relative to the root, validated so that
//! a path read from configuration can neither escape the tree nor write into
//! `.git`.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// A validated path inside a repository tree; the empty path is the root.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RepoPath {
    normalized: String,
}

impl RepoPath {
    /// Accepts `a/b/c`, `./a/b`, `/a/b/`, `""` and `"."` (the root); rejects
    /// `..`, `.git`, empty components in the middle (`a//b`), backslashes and
    /// control characters.
    pub fn parse(path: &str) -> Result<RepoPath> {
        let invalid = |reason| Error::InvalidPath {
            path: path.to_string(),
            reason,
        };
        if path.chars().any(|c| c.is_control()) {
            return Err(invalid("control characters are not allowed"));
        }
        if path.contains('\\') {
            return Err(invalid("use `/` to separate directories"));
        }
        let trimmed = path.trim_start_matches("./").trim_matches('/');
        let mut parts = Vec::new();
        if !(trimmed.is_empty() || trimmed == ".") {
            for part in trimmed.split('/') {
                match part {
                    "" => return Err(invalid("empty path component")),
                    "." => {}
                    ".." => return Err(invalid("`..` would leave the repository")),
                    p if p.eq_ignore_ascii_case(".git") => {
                        return Err(invalid("`.git` is not part of the tree"));
                    }
                    p => parts.push(p),
                }
            }
        }
        Ok(RepoPath {
            normalized: parts.join("/"),
        })
    }

    pub fn is_root(&self) -> bool {
        self.normalized.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    pub(crate) fn as_std(&self) -> &Path {
        Path::new(&self.normalized)
    }

    /// The components, root first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.normalized.split('/').filter(|s| !s.is_empty())
    }
}

impl fmt::Display for RepoPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

/// `prefix/name`, or `name` at the root.
pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_harmless_forms() {
        for (input, expected) in [
            ("a/b/c.yaml", "a/b/c.yaml"),
            ("./a/b", "a/b"),
            ("/a/b/", "a/b"),
            ("a/./b", "a/b"),
            ("", ""),
            (".", ""),
            ("/", ""),
        ] {
            assert_eq!(
                RepoPath::parse(input).unwrap().as_str(),
                expected,
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_escapes_and_git_dir() {
        for bad in [
            "../x",
            "a/../../x",
            ".git/config",
            "a/.GIT/x",
            "a//b",
            "a\\b",
            "a\nb",
        ] {
            let err = RepoPath::parse(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidPath { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("invalid path"), "{err}");
        }
    }
}
