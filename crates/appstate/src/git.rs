//! The `git` provider: deployment state from the Git repository alone.

use std::sync::Arc;

use async_trait::async_trait;
use ferry_gitops::Workspace;

use crate::{AppRef, AppState, AppStateProvider, Error, Health, Observation, SyncStatus};

/// Synced at a commit once that commit is on the application's target
/// branch; health is `Healthy` (SPEC §6).
pub struct GitProvider {
    workspace: Arc<Workspace>,
}

impl GitProvider {
    pub fn new(workspace: Arc<Workspace>) -> GitProvider {
        GitProvider { workspace }
    }
}

#[async_trait]
impl AppStateProvider for GitProvider {
    fn name(&self) -> &'static str {
        "git"
    }

    async fn observe(&self, app: &AppRef, commit: Option<&str>) -> Result<Observation, Error> {
        let workspace = Arc::clone(&self.workspace);
        let app = app.clone();
        let commit = commit.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            let mirror = workspace.mirror(&app.repo_url)?;
            mirror.fetch()?;
            let tip = mirror.resolve(&app.target_revision)?;
            let synced_at_commit = match &commit {
                None => true,
                Some(c) => {
                    let c = mirror.resolve(c)?;
                    c == tip || mirror.is_ancestor(c, tip)?
                }
            };
            Ok(Observation {
                state: AppState {
                    sync: SyncStatus::Synced,
                    revision: Some(tip.to_string()),
                    health: Health::Healthy,
                    message: Some("no cluster is being watched: synced means the commit is on the target branch".into()),
                    link: None,
                },
                synced_at_commit,
            })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }
}
