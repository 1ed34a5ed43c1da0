//! Why the parts cannot be built.

use ferry_settings::SettingsError;

use crate::live::LoadError;

/// Why the parts cannot be built (`ferry serve` stops with it).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("no configuration source: set `config` in the settings file, FERRY_CONFIG or --config")]
    NoConfig,
    #[error("configuration {source_name}: {error}")]
    Config {
        source_name: String,
        error: LoadError,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] ferry_store::Error),
    #[error(transparent)]
    Forges(#[from] ferry_forge::RegistryError),
    /// A part that could not be set up (the configuration's load task, the
    /// registry client).
    #[error("server: {0}")]
    Setup(std::io::Error),
}
