//! Problems found in a configuration, each pinned to a place in a file.

use std::fmt;

use serde::Serialize;

use crate::yaml::Pos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Informational, e.g. a document of a kind ferry does not use.
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

/// Where a resource (or a field of it) was written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Origin {
    pub file: String,
    #[serde(flatten)]
    pub pos: Pos,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.pos)
    }
}

/// One problem: `file:line:col: severity: field: message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// Field path such as `spec.steps[1].dependsOn`; empty when the whole
    /// document or file is concerned.
    pub field: String,
    pub message: String,
}

impl Diagnostic {
    pub fn new(
        severity: Severity,
        origin: &Origin,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            file: origin.file.clone(),
            line: origin.pos.line,
            column: origin.pos.col,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn error(origin: &Origin, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Error, origin, field, message)
    }

    pub fn warning(origin: &Origin, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Warning, origin, field, message)
    }

    pub fn note(origin: &Origin, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Severity::Note, origin, field, message)
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: ",
            self.file, self.line, self.column, self.severity
        )?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}
