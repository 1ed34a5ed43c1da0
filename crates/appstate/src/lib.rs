//! Application state providers (SPEC §6).
//!
//! The engine asks one question after a promotion: is the application
//! synced at the promotion commit, and healthy? Each provider answers it
//! from its own source of truth, behind [`AppStateProvider`]:
//! - [`git::GitProvider`] (the default): synced once the commit is on the
//!   application's target branch; health is always `Healthy`, because no
//!   cluster is being watched.

pub mod git;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncStatus {
    Synced,
    OutOfSync,
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Progressing,
    Degraded,
    Suspended,
    Missing,
    Unknown,
}

impl SyncStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncStatus::Synced => "Synced",
            SyncStatus::OutOfSync => "OutOfSync",
            SyncStatus::Unknown => "Unknown",
        }
    }
}

impl Health {
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    pub sync: SyncStatus,
    /// The revision it is synced at.
    pub revision: Option<String>,
    pub health: Health,
    pub message: Option<String>,
    /// Where a person can look at it (e.g. the Argo CD UI).
    pub link: Option<String>,
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
}

#[async_trait]
pub trait AppStateProvider: Send + Sync {
    /// `git` or `argocd`, for the UI ("no cluster is being watched").
    fn name(&self) -> &'static str;

    /// The application's state and whether it is synced at `commit`
    /// (`None`: no promotion commit, e.g. a `none` action — then only
    /// health matters).
    async fn observe(&self, app: &AppRef, commit: Option<&str>) -> Result<Observation, Error>;
}
