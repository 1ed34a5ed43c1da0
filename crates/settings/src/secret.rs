//! Secrets of the settings: [`Secret`] (never printed) and the three ways
//! a token is given (value, variable, file).

use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// A value that must never be printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub(crate) String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (hashing, a Git remote).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// A token given in one of three ways: the value, the name of a variable
/// holding it, or a file holding it (trailing newline dropped). The error
/// names the field, never the value.
pub(crate) fn read_token(
    value: Option<&Secret>,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>, String> {
    if let Some(t) = value {
        Ok(Some(t.0.clone()))
    } else if let Some(name) = env {
        std::env::var(name)
            .map(Some)
            .map_err(|_| format!("tokenEnv {name} is not set"))
    } else if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("tokenFile {}: {e}", path.display()))?;
        Ok(Some(text.trim_end().to_owned()))
    } else {
        Ok(None)
    }
}
