//! Why the settings cannot be used: every error names the file, variable
//! or key (and entry) at fault, never a secret's value.

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("settings file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("trustedProxies: {0}")]
    TrustedProxies(String),
    #[error("workflowSecrets.{name}: {message}")]
    WorkflowSecret { name: String, message: String },
    #[error("gitCredentials[{index}] ({prefix}): {message}")]
    Credential {
        index: usize,
        prefix: String,
        message: String,
    },
    #[error("{key}: {message}")]
    Value { key: &'static str, message: String },
    #[error("registries[{index}] ({host}): {message}")]
    Registry {
        index: usize,
        host: String,
        message: String,
    },
    #[error("argocd[{index}] ({name}): {message}")]
    ArgoCd {
        index: usize,
        name: String,
        message: String,
    },
    #[error("notifications[{index}] ({name}): {message}")]
    Notification {
        index: usize,
        name: String,
        message: String,
    },
    #[error("argoWorkflows: {message}")]
    ArgoWorkflows { message: String },
}
