//! Live configuration: the source is checked every interval and reloaded
//! when it changed. A valid new configuration replaces the active one
//! (running releases keep their frozen flow); an invalid one is reported
//! while the last good configuration stays active.
//!
//! Change detection is cheap on purpose, because it runs every few
//! seconds: a directory is fingerprinted by the paths, modification times
//! and sizes of its files; a Git repository by `git ls-remote` of its
//! branch, so nothing is cloned unless the branch moved.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::argocd::ArgoCd;
use crate::cancel::CancelFlag;
use ferry_config::{Budget, ConfigSource};
use ferry_engine::Engine;
use ferry_model::Loaded;
use serde::Serialize;

/// What the API shows of the configuration.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigStatus {
    /// The source, credentials redacted.
    pub source: String,
    /// When the active configuration was loaded (RFC 3339).
    pub active_since: String,
    /// When the source was last checked.
    pub last_checked: Option<String>,
    /// Errors of the newest configuration seen, when it was rejected.
    pub errors: Vec<String>,
    /// When the rejected configuration was seen.
    pub rejected_at: Option<String>,
    /// Discovered Argo CD applications that conflict with a manifest (or
    /// cannot be read); the manifest is used.
    pub discovery_conflicts: Vec<String>,
}

/// Shared state of the watcher.
pub struct LiveConfig {
    source: ConfigSource,
    budget: Budget,
    status: RwLock<ConfigStatus>,
    fingerprint: RwLock<Option<u64>>,
    argocd: Option<Arc<ArgoCd>>,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Source(#[from] ferry_config::ConfigError),
    #[error("the configuration has {} error(s): {}", .0.len(), .0.join("; "))]
    Invalid(Vec<String>),
}

impl LoadError {
    pub fn messages(&self) -> Vec<String> {
        match self {
            LoadError::Source(e) => vec![ferry_config::redact_url(&e.to_string())],
            LoadError::Invalid(v) => v.clone(),
        }
    }
}

/// Loads and validates `source` within `budget`: errors (not warnings)
/// reject it.
pub fn load_valid(source: &ConfigSource, budget: &Budget) -> Result<Loaded, LoadError> {
    let loaded = ferry_config::load_with(source, budget)?;
    let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(LoadError::Invalid(errors))
    }
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl LiveConfig {
    pub fn new(source: ConfigSource) -> LiveConfig {
        let fp = fingerprint(&source).ok();
        LiveConfig {
            status: RwLock::new(ConfigStatus {
                source: source.describe(),
                active_since: now_text(),
                last_checked: None,
                errors: Vec::new(),
                rejected_at: None,
                discovery_conflicts: Vec::new(),
            }),
            fingerprint: RwLock::new(fp),
            source,
            budget: Budget::default(),
            argocd: None,
        }
    }

    /// Reloads within `budget` (the settings' `configMax*`) rather than the default.
    pub fn with_budget(mut self, budget: Budget) -> LiveConfig {
        self.budget = budget;
        self
    }

    /// Merges discovered Argo CD applications into every configuration
    /// that becomes active.
    pub fn with_argocd(mut self, argocd: Option<Arc<ArgoCd>>) -> LiveConfig {
        self.argocd = argocd;
        self
    }

    pub fn status(&self) -> ConfigStatus {
        let mut status = self
            .status
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(a) = &self.argocd {
            status.discovery_conflicts = a.conflicts();
        }
        status
    }

    /// Whether the configuration comes from the repository `key` names
    /// (`ferry_forge::repo_key` of its URL): a push there is a reason to
    /// check now rather than at the next interval.
    pub fn is_from_repo(&self, key: &str) -> bool {
        match &self.source {
            ConfigSource::Git { url, .. } => ferry_forge::repo_key(url) == key,
            ConfigSource::Dir(_) => false,
        }
    }

    /// Checks the source once; reloads when it changed. Returns whether a
    /// new configuration became active.
    pub async fn check(self: &Arc<Self>, engine: &Engine) -> bool {
        let this = Arc::clone(self);
        let result = tokio::task::spawn_blocking(move || {
            let fp = match fingerprint(&this.source) {
                Ok(fp) => fp,
                Err(e) => return Some((None, Err(vec![e]))),
            };
            let previous = *this.fingerprint.read().unwrap_or_else(|p| p.into_inner());
            if previous == Some(fp) {
                return None;
            }
            Some((
                Some(fp),
                load_valid(&this.source, &this.budget).map_err(|e| e.messages()),
            ))
        })
        .await;
        let mut status = self.status.write().unwrap_or_else(|p| p.into_inner());
        status.last_checked = Some(now_text());
        match result {
            Ok(None) => false,
            Ok(Some((fp, Ok(loaded)))) => {
                *self.fingerprint.write().unwrap_or_else(|p| p.into_inner()) = fp;
                engine.set_config(match &self.argocd {
                    Some(a) => a.apply(loaded),
                    None => Arc::new(loaded),
                });
                status.active_since = now_text();
                status.errors.clear();
                status.rejected_at = None;
                tracing::info!(source = %status.source, "configuration reloaded");
                true
            }
            Ok(Some((fp, Err(errors)))) => {
                // Remember the fingerprint so the same broken state is
                // reported once, not re-parsed every interval.
                if fp.is_some() {
                    *self.fingerprint.write().unwrap_or_else(|p| p.into_inner()) = fp;
                }
                tracing::warn!(source = %status.source, errors = errors.len(), "new configuration rejected; the last good one stays active");
                status.errors = errors;
                status.rejected_at = Some(now_text());
                false
            }
            Err(e) => {
                status.errors = vec![format!("configuration check failed: {e}")];
                false
            }
        }
    }

    /// Checks every `interval` until `stop` is set.
    pub fn spawn(self: Arc<Self>, engine: Engine, interval: Duration, stop: CancelFlag) {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.cancelled() => return,
                }
                self.check(&engine).await;
            }
        });
    }
}

/// A cheap identity of the source's current content.
fn fingerprint(source: &ConfigSource) -> Result<u64, String> {
    let mut h = DefaultHasher::new();
    match source {
        ConfigSource::Dir(root) => walk(root, &mut h)
            .map_err(|e| format!("configuration directory {}: {e}", root.display()))?,
        ConfigSource::Git { url, branch, .. } => {
            let refname = branch
                .as_deref()
                .map(|b| format!("refs/heads/{b}"))
                .unwrap_or_else(|| "HEAD".into());
            let mut cmd = ferry_config::timeout::git_command();
            cmd.args(["ls-remote", "--", url, &refname]);
            let out = ferry_config::timeout::output_with_timeout(
                &mut cmd,
                ferry_config::timeout::LS_REMOTE_TIMEOUT,
            )
            .map_err(|e| {
                format!(
                    "configuration repository {}: git ls-remote: {e}",
                    ferry_config::redact_url(url)
                )
            })?;
            if !out.status.success() {
                return Err(format!(
                    "configuration repository {}: git ls-remote failed: {}",
                    ferry_config::redact_url(url),
                    ferry_config::redact_url(String::from_utf8_lossy(&out.stderr).trim())
                ));
            }
            out.stdout.hash(&mut h);
        }
    }
    Ok(h.finish())
}

fn walk(dir: &Path, h: &mut DefaultHasher) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let meta = e.metadata()?;
        let path = e.path();
        if meta.is_dir() {
            walk(&path, h)?;
        } else {
            path.hash(h);
            meta.len().hash(h);
            if let Ok(m) = meta.modified() {
                m.hash(h);
            }
        }
    }
    Ok(())
}
