//! Application state providers (SPEC §6).
//!
//! The engine asks one question after a promotion: is the application
//! synced at the promotion commit, and healthy? Each provider answers it
//! from its own source of truth, behind [`AppStateProvider`]:
//! - [`git::GitProvider`] (the default): synced once the commit is on the
//!   application's target branch; health is always `Healthy`, because no
//!   cluster is being watched.
//! - [`argocd::ArgoCdProvider`]: one Argo CD instance's REST API, kept
//!   current by its application stream so the engine hears of a change
//!   within a second instead of on its next poll.
//! - [`route::StateRouter`]: picks the provider of each application (its
//!   Argo CD instance, else git), so several instances can be served.

pub mod argocd;
pub mod git;
pub mod route;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The application, as the engine knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    pub name: String,
    pub namespace: Option<String>,
    pub repo_url: String,
    pub path: String,
    /// Branch (or other revision) as written in the Application.
    pub target_revision: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncStatus {
    Synced,
    OutOfSync,
    #[default]
    Unknown,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    #[default]
    Unknown,
}

impl SyncStatus {
    /// Argo CD's spelling; anything else is `Unknown`.
    pub fn parse(text: &str) -> SyncStatus {
        match text {
            "Synced" => SyncStatus::Synced,
            "OutOfSync" => SyncStatus::OutOfSync,
            _ => SyncStatus::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "Synced",
            SyncStatus::OutOfSync => "OutOfSync",
            SyncStatus::Unknown => "Unknown",
        }
    }
}

impl Health {
    /// Argo CD's (gitops-engine's) spelling; anything else is `Unknown`.
    pub fn parse(text: &str) -> Health {
        match text {
            "Healthy" => Health::Healthy,
            "Progressing" => Health::Progressing,
            "Degraded" => Health::Degraded,
            "Suspended" => Health::Suspended,
            "Missing" => Health::Missing,
            _ => Health::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Degraded => "Degraded",
            Health::Suspended => "Suspended",
            Health::Missing => "Missing",
            Health::Unknown => "Unknown",
        }
    }
}

/// What a provider reports about an application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppState {
    pub sync: SyncStatus,
    /// The revision it is synced at.
    pub revision: Option<String>,
    pub health: Health,
    pub message: Option<String>,
    /// Where a person can look at it (e.g. the Argo CD UI).
    pub link: Option<String>,
    /// The application's resources that are not healthy (Argo CD), so an
    /// issue can say *what* is degraded, not only that something is.
    pub unhealthy: Vec<ResourceHealth>,
}

/// One Kubernetes resource of an application and its health.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceHealth {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub health: Health,
    pub message: Option<String>,
}

impl std::fmt::Display for ResourceHealth {
    /// `Deployment web-qa/web: Degraded: Deployment exceeded its progress deadline`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ", self.kind)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{}: {}", self.name, self.health.as_str())?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// An observation relative to a promotion commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub state: AppState,
    /// Synced at the commit (or at a descendant that leaves the
    /// application's path unchanged).
    pub synced_at_commit: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Git(#[from] ferry_git::Error),
    #[error(transparent)]
    GitOps(#[from] ferry_gitops::Error),
    #[error("state provider task failed: {0}")]
    Task(String),
    /// An Argo CD call failed (the URL carries no credentials).
    #[error("Argo CD {instance}: {message}")]
    ArgoCd { instance: String, message: String },
    /// The application names an Argo CD instance that is not configured.
    #[error(
        "application `{application}` is bound to Argo CD instance `{instance}`, which is not configured"
    )]
    UnknownInstance {
        application: String,
        instance: String,
    },
}

#[async_trait]
pub trait AppStateProvider: Send + Sync {
    /// `git` or `argocd`, for the UI ("no cluster is being watched").
    fn name(&self) -> &'static str;

    /// The application's state and whether it is synced at `commit`
    /// (`None`: no promotion commit, e.g. a `none` action — then only
    /// health matters).
    async fn observe(&self, app: &AppRef, commit: Option<&str>) -> Result<Observation, Error>;

    /// A receiver that changes whenever the provider learns something new
    /// about `app` (e.g. an Argo CD stream event), so a waiting caller can
    /// observe again at once instead of on its next poll. `None`: the
    /// provider has no push source; callers keep polling.
    fn updates(&self, app: &AppRef) -> Option<tokio::sync::watch::Receiver<u64>> {
        let _ = app;
        None
    }
}
