//! Typed errors of the crate. Messages name where the problem is (template
//! source, field path) and never carry credentials.

use crate::runner::RunId;

/// A WorkflowTemplate manifest that cannot be read at all.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}: {path}: {message}")]
pub struct TemplateError {
    /// Display name of where the manifest came from (file, line:col).
    pub source_name: String,
    /// Field path inside the manifest, e.g. `spec.templates[2].steps`.
    pub path: String,
    pub message: String,
}

/// Errors of the runner interface.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("unknown workflow run {0}")]
    UnknownRun(RunId),
    #[error("workflow run {run} has no suspended step{}", .step.as_deref().map(|s| format!(" matching {s:?}")).unwrap_or_default())]
    NotSuspended { run: RunId, step: Option<String> },
    /// A resume whose values do not fit the suspended steps.
    #[error("cannot resume workflow run {run}: {message}")]
    Resume { run: RunId, message: String },
    #[error("workflow run {run} has no step {step:?}")]
    UnknownStep { run: RunId, step: String },
    #[error("parameter {0:?} is not KEY=VALUE")]
    BadParameter(String),
    #[error("workflow run {0} is still running; terminate it first")]
    StillRunning(RunId),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot prepare the run directory: {0}")]
    Io(#[from] std::io::Error),
    /// Transport failure talking to the Argo server (URL without credentials).
    #[error("argo server {url}: {message}")]
    Http { url: String, message: String },
    /// The Argo server answered with an error document.
    #[error("argo server answered {status} for {method} {path}: {message}")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    /// The Argo server answered something that is not the documented shape.
    #[error("unexpected answer from argo server for {path}: {message}")]
    Protocol { path: String, message: String },
    #[error("invalid argo settings: {0}")]
    Settings(String),
}
