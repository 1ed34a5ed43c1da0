//! Automatic triggers (SPEC §3): a new commit that changes files under the
//! source path of a product's application in a flow's trigger environment.
//! Polling is the fallback; push webhooks call the same code.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use ferry_appstate::{AppRef, Health};
use ferry_model::trigger::TriggerCommit;
use ferry_release::{Release, Trigger};

use crate::{Error, Inner, blocking, create};

pub(crate) fn spawn_poller(inner: Arc<Inner>, interval: Duration) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = poll_once(&inner).await {
                tracing::warn!(error = %e, "trigger poll failed");
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = inner.shutdown.cancelled() => return,
            }
        }
    });
}

struct Watched {
    product: String,
    application: String,
    environment: String,
    repo_url: String,
    branch: String,
    path: String,
    namespace: Option<String>,
}

/// One pass over every trigger application.
pub(crate) async fn poll_once(inner: &Arc<Inner>) -> Result<Vec<Release>, Error> {
    poll_matching(inner, &|_| true).await
}

/// One pass over the trigger applications whose repository URL satisfies
/// `repo_matches` (all of them for the poller, one repository for a push webhook).
pub(crate) async fn poll_matching(
    inner: &Arc<Inner>,
    repo_matches: &(dyn Fn(&str) -> bool + Send + Sync),
) -> Result<Vec<Release>, Error> {
    let cfg = inner.config();
    let membership = inner.membership(&cfg);
    let mut watched = Vec::new();
    for product in &cfg.config.products {
        let triggers: BTreeSet<String> = product
            .spec
            .promotion_flows
            .iter()
            .filter_map(|f| cfg.config.flow(&f.name))
            .map(|f| f.spec.body.trigger_environment.clone())
            .collect();
        let Some(pm) = membership.product(product.name()) else {
            continue;
        };
        for env in &triggers {
            for m in pm.in_environment(env) {
                let app = &cfg.config.applications[m.app];
                let Some(src) = app.promoted_source() else {
                    continue;
                };
                if !repo_matches(&src.repo_url) {
                    continue;
                }
                watched.push(Watched {
                    product: product.name().to_owned(),
                    application: app.name().to_owned(),
                    environment: env.clone(),
                    repo_url: src.repo_url.clone(),
                    branch: app.target_revision().to_owned(),
                    path: src.path.clone().unwrap_or_default(),
                    namespace: app.spec.destination.namespace.clone(),
                });
            }
        }
    }
    let mut fetched: HashMap<String, bool> = HashMap::new();
    let mut created = Vec::new();
    for w in watched {
        if !fetched.contains_key(&w.repo_url) {
            let workspace = Arc::clone(&inner.workspace);
            let url = w.repo_url.clone();
            let ok = blocking(move || {
                let m = workspace.mirror(&url)?;
                m.fetch()?;
                Ok(())
            })
            .await;
            if let Err(e) = &ok {
                tracing::warn!(repo = %ferry_git::redact_url(&w.repo_url), error = %e, "fetching a trigger repository");
            }
            fetched.insert(w.repo_url.clone(), ok.is_ok());
        }
        if fetched.get(&w.repo_url) != Some(&true) {
            continue;
        }
        created.extend(poll_application(inner, &w).await?);
    }
    Ok(created)
}

async fn poll_application(inner: &Arc<Inner>, w: &Watched) -> Result<Vec<Release>, Error> {
    let key = format!("trigger:{}:{}", w.product, w.application);
    let cursor = inner.store.cursor_get(&key).await.map_err(Error::Store)?;
    // Moved only by compare-and-set from here: replicas polling the same
    // commits do not move it backwards (issue 11).
    let mut at = cursor.clone();
    let workspace = Arc::clone(&inner.workspace);
    let (url, branch, path, cursor2) = (
        w.repo_url.clone(),
        w.branch.clone(),
        w.path.clone(),
        cursor.clone(),
    );
    let (tip, commits, branch_name) = blocking(move || {
        let m = workspace.mirror(&url)?;
        let tip = m.resolve(&branch)?;
        // `HEAD` names the default branch: flow selectors and the release
        // see its name.
        let branch_name = m.branch_for(&branch).unwrap_or(branch);
        let commits = match cursor2 {
            Some(c) if c != tip.to_string() => {
                let from = m.resolve(&c).ok();
                let mut list = m.commits_touching(from, tip, &path, 50)?;
                list.reverse();
                list
            }
            _ => Vec::new(),
        };
        Ok((tip.to_string(), commits, branch_name))
    })
    .await?;
    let Some(_) = cursor else {
        // First sight of this application: remember where it stands.
        crate::lease::advance_cursor(inner, &key, &mut at, &tip).await?;
        return Ok(Vec::new());
    };
    let mut created = Vec::new();
    let product = inner.config().config.product(&w.product).cloned();
    let Some(product) = product else {
        return Ok(created);
    };
    let app_ref = AppRef {
        name: w.application.clone(),
        namespace: w.namespace.clone(),
        repo_url: w.repo_url.clone(),
        path: w.path.clone(),
        target_revision: w.branch.clone(),
    };
    // The release is created once the application reports synced at the
    // commit and healthy (SPEC §3).
    let deployed = |sha: String| {
        let app_ref = &app_ref;
        async move {
            match inner.appstate.observe(app_ref, Some(&sha)).await {
                Ok(obs) => obs.synced_at_commit && obs.state.health == Health::Healthy,
                Err(e) => {
                    tracing::warn!(error = %e, "reading application state for a trigger");
                    false
                }
            }
        }
    };
    let mut skip_until = None;
    for (i, commit) in commits.iter().enumerate() {
        let sha = commit.id.to_string();
        if let Some(until) = skip_until
            && i < until
        {
            // Deployed only as part of a later commit: no release of its own.
            if !crate::lease::advance_cursor(inner, &key, &mut at, &sha).await? {
                return Ok(created);
            }
            continue;
        }
        if !deployed(sha.clone()).await {
            // Argo CD may have gone straight to a later commit of the path
            // (two pushes before a sync): this one is then never "synced at"
            // and waiting for it would stop the trigger for good. Release
            // the latest deployed commit instead; otherwise wait.
            let mut later = None;
            for (j, c) in commits.iter().enumerate().skip(i + 1).rev() {
                if deployed(c.id.to_string()).await {
                    later = Some(j);
                    break;
                }
            }
            let Some(j) = later else {
                return Ok(created);
            };
            tracing::info!(product = %w.product, application = %w.application, skipped = j - i, "commits superseded before they were deployed: releasing the newest deployed one");
            if !crate::lease::advance_cursor(inner, &key, &mut at, &sha).await? {
                return Ok(created);
            }
            skip_until = Some(j);
            continue;
        }
        let tc = TriggerCommit {
            message: &commit.message,
            sha: &sha,
            branch: Some(&branch_name),
        };
        match product.flow_for(&tc) {
            None => {
                tracing::info!(product = %w.product, commit = %sha, "no flow matches the commit; no release")
            }
            Some(flow) => {
                let trigger_env = inner
                    .config()
                    .config
                    .flow(&flow.name)
                    .map(|f| f.spec.body.trigger_environment.clone());
                if trigger_env.as_deref() == Some(w.environment.as_str()) {
                    let trigger = Trigger {
                        repo_url: w.repo_url.clone(),
                        sha: sha.clone(),
                        message: commit.message.clone(),
                        author: commit.author.name.clone(),
                        date: commit.author.time.to_rfc3339(),
                        branch: branch_name.clone(),
                    };
                    if let Some(r) =
                        create::automatic(inner, &w.product, &flow.name, &w.application, trigger)
                            .await?
                    {
                        created.push(r);
                    }
                }
            }
        }
        if !crate::lease::advance_cursor(inner, &key, &mut at, &sha).await? {
            return Ok(created);
        }
    }
    crate::lease::advance_cursor(inner, &key, &mut at, &tip).await?;
    Ok(created)
}
