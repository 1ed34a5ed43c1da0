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
        // In the caller's span: a sync wait's fetches are in its step's trace.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let mirror = workspace.mirror(&app.repo_url)?;
            let check = |mirror: &ferry_git::Mirror| -> Result<(ferry_git::Oid, bool), Error> {
                let tip = mirror.resolve(&app.target_revision)?;
                let synced = match &commit {
                    None => true,
                    Some(c) => match mirror.resolve(c) {
                        Ok(c) => c == tip || mirror.is_ancestor(c, tip)?,
                        Err(_) => false,
                    },
                };
                Ok((tip, synced))
            };
            // The mirror's branches only ever move to what the remote had
            // (fetches, or our own fast-forward pushes), so a commit already
            // on the local branch is on the remote: no round trip needed.
            // Otherwise fetch and look again.
            let (tip, synced_at_commit) = match check(&mirror) {
                Ok((tip, true)) => (tip, true),
                _ => {
                    mirror.fetch()?;
                    check(&mirror)?
                }
            };
            Ok(Observation {
                state: AppState {
                    sync: SyncStatus::Synced,
                    revision: Some(tip.to_string()),
                    health: Health::Healthy,
                    message: Some("no cluster is being watched: synced means the commit is on the target branch".into()),
                    link: None,
                    unhealthy: Vec::new(),
                },
                synced_at_commit,
            })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }
}
