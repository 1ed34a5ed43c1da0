//! Typed errors. Every error that stems from input names where it is:
//! a `line:col` in the YAML text, or the JSONPath expression and the
//! position inside it, or the normalized path being promoted.

use std::fmt;

/// A 1-based line and column in a YAML text (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// Everything that can go wrong while parsing, querying or editing.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum Error {
    /// The text is not valid YAML.
    #[error("invalid YAML at {at}: {message}")]
    Syntax { at: Location, message: String },

    /// The same key appears twice in one mapping; YAML forbids it and
    /// Helm rejects it, so we refuse to guess which one is meant.
    #[error("duplicate key {key:?} at {at}")]
    DuplicateKey { key: String, at: Location },

    /// A mapping key that is itself a mapping or sequence cannot be
    /// addressed by JSONPath.
    #[error("unsupported complex mapping key at {at}")]
    ComplexKey { at: Location },

    /// Nesting deeper than we are willing to walk (protects the stack).
    #[error("document nests deeper than {limit} levels at {at}")]
    TooDeep { limit: usize, at: Location },

    /// Aliases expand to more nodes than the limit (a "billion laughs"
    /// document).
    #[error("aliases expand to more than {limit} nodes (at {at})")]
    AliasExpansion { limit: usize, at: Location },

    /// The JSONPath expression does not parse.
    #[error("invalid JSONPath {expression:?} at position {position}: {message}")]
    JsonPath {
        expression: String,
        position: usize,
        message: String,
    },

    /// A normalized path string (as stored in a snapshot) does not parse.
    #[error("invalid normalized path {path:?} at position {position}: {message}")]
    NormalizedPath {
        path: String,
        position: usize,
        message: String,
    },

    /// A promoted path is missing in the target and cannot be created
    /// without guessing.
    #[error("cannot create {path} in the target: {reason}")]
    PathNotCreatable { path: String, reason: String },

    /// A promoted path runs through an alias (`*name`); editing the
    /// anchor would silently change every other use of it.
    #[error("path {path} goes through an alias at {at}; edit the anchored node instead")]
    ThroughAlias { path: String, at: Location },

    /// The target node cannot be rewritten in place.
    #[error("cannot edit {path} at {at}: {reason}")]
    Unsupported {
        path: String,
        at: Location,
        reason: String,
    },

    /// Our own check after editing found a mismatch. This is a bug in the
    /// editor; we return it rather than writing a wrong file.
    #[error("edit of {path} did not produce the snapshot value (editor bug): {detail}")]
    Verification { path: String, detail: String },
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
