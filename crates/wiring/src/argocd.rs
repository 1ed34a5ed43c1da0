//! Argo CD in the server: the state router over the configured instances,
//! and discovery — annotated Applications living only in Argo CD join the
//! configuration (merged by `ferry_appstate::argocd::merge`, manifests
//! win, conflicts reported in the configuration status).
//!
//! The merged configuration is re-made when the configuration source
//! changes (live reload calls [`ArgoCd::apply`]) and when the discovered
//! set changes (a task follows the instances' streams, debounced, and
//! compares a fingerprint of the annotated applications).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_appstate::argocd::types::ArgoApplication;
use ferry_appstate::argocd::{ArgoCdProvider, discovery, merge};
use ferry_appstate::route::StateRouter;
use ferry_appstate::{AppRef, AppStateProvider, Observation};
use ferry_engine::Engine;
use ferry_model::Loaded;

use crate::cancel::CancelFlag;
use ferry_settings::{Settings, SettingsError, argocd_instance};

/// How long a burst of stream events is let settle before re-merging.
const DISCOVERY_DEBOUNCE: Duration = Duration::from_secs(1);

/// How long the dashboard waits for live state.
const LIVE_TIMEOUT: Duration = Duration::from_secs(3);

pub struct ArgoCd {
    router: Arc<StateRouter>,
    instances: Vec<Arc<ArgoCdProvider>>,
    /// The configuration in effect (merged), read by the router.
    active: Arc<RwLock<Option<Arc<Loaded>>>>,
    /// The configuration as read from the source, before the merge.
    base: RwLock<Option<Loaded>>,
    /// Applications listed at start, per instance, until its stream delivers.
    listed: Mutex<Vec<Vec<Arc<ArgoApplication>>>>,
    conflicts: RwLock<Vec<String>>,
    fingerprint: Mutex<u64>,
}

impl ArgoCd {
    /// The instances of the settings (none → `None`: git provider only).
    pub fn build(
        settings: &Settings,
        workspace: &Arc<ferry_gitops::Workspace>,
        git: Arc<dyn AppStateProvider>,
    ) -> Result<Option<Arc<ArgoCd>>, SettingsError> {
        if settings.argocd.is_empty() {
            return Ok(None);
        }
        let mut instances = Vec::new();
        for (i, a) in settings.argocd.iter().enumerate() {
            let cfg = argocd_instance(i, a)?;
            if let Some(t) = &cfg.token {
                ferry_security::register_secret(t.expose());
            }
            let provider = ArgoCdProvider::new(cfg, Arc::clone(workspace)).map_err(|e| {
                SettingsError::ArgoCd {
                    index: i,
                    name: a.name.clone(),
                    message: e.to_string(),
                }
            })?;
            instances.push(Arc::new(provider));
        }
        let default = settings
            .argocd
            .iter()
            .find(|a| a.default)
            .map(|a| a.name.clone());
        let active: Arc<RwLock<Option<Arc<Loaded>>>> = Arc::default();
        let read = Arc::clone(&active);
        let router = Arc::new(StateRouter::new(
            git,
            instances.clone(),
            default,
            Arc::new(move || read.read().unwrap_or_else(|p| p.into_inner()).clone()),
        ));
        Ok(Some(Arc::new(ArgoCd {
            router,
            listed: Mutex::new(vec![Vec::new(); instances.len()]),
            instances,
            active,
            base: RwLock::new(None),
            conflicts: RwLock::new(Vec::new()),
            fingerprint: Mutex::new(0),
        })))
    }

    pub fn router(&self) -> Arc<StateRouter> {
        Arc::clone(&self.router)
    }

    /// Lists every instance's applications once (the streams have not
    /// delivered yet at start); an unreachable instance is logged and
    /// contributes nothing until its stream connects.
    pub async fn list_all(&self) {
        for (i, p) in self.instances.iter().enumerate() {
            match tokio::time::timeout(Duration::from_secs(15), p.list_applications()).await {
                Ok(Ok(apps)) => {
                    self.listed.lock().unwrap_or_else(|p| p.into_inner())[i] =
                        apps.into_iter().map(Arc::new).collect();
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "discovery: listing applications"),
                Err(_) => tracing::warn!(
                    instance = p.instance(),
                    "discovery: listing applications timed out"
                ),
            }
        }
    }

    /// Every instance's annotated applications as last known: the
    /// stream's cache, plus what the start listing found that the stream
    /// has not (yet) delivered — it may be mid-way through its first burst.
    fn discovered(&self) -> Vec<(String, Vec<Arc<ArgoApplication>>)> {
        let listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        self.instances
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut apps = p.cached_applications();
                let known: std::collections::HashSet<(Option<String>, String)> = apps
                    .iter()
                    .map(|a| (a.metadata.namespace.clone(), a.metadata.name.clone()))
                    .collect();
                for a in listed.get(i).into_iter().flatten() {
                    if !known.contains(&(a.metadata.namespace.clone(), a.metadata.name.clone())) {
                        apps.push(Arc::clone(a));
                    }
                }
                let annotated = apps
                    .into_iter()
                    .filter(|a| a.annotation(discovery::PRODUCT_ANNOTATION).is_some())
                    .collect();
                (p.instance().to_owned(), annotated)
            })
            .collect()
    }

    /// Once a stream is connected and has settled (the caller debounces),
    /// its cache is the whole truth: the start listing is dropped, so
    /// applications deleted since then disappear.
    fn settle_listings(&self) {
        let mut listed = self.listed.lock().unwrap_or_else(|p| p.into_inner());
        for (i, p) in self.instances.iter().enumerate() {
            if p.stream_connected()
                && let Some(l) = listed.get_mut(i)
            {
                l.clear();
            }
        }
    }

    fn fingerprint_of(found: &[(String, Vec<Arc<ArgoApplication>>)]) -> u64 {
        let mut h = DefaultHasher::new();
        for (instance, apps) in found {
            instance.hash(&mut h);
            let mut keys: Vec<String> = apps
                .iter()
                .map(|a| {
                    format!(
                        "{}/{}|{:?}|{:?}|{}",
                        a.metadata.namespace.as_deref().unwrap_or(""),
                        a.metadata.name,
                        a.metadata.annotations,
                        a.metadata.labels,
                        a.spec
                    )
                })
                .collect();
            keys.sort();
            keys.hash(&mut h);
        }
        h.finish()
    }

    /// Merges the discovered applications into `base` (the configuration
    /// from the source) and makes the result the active one.
    pub fn apply(&self, base: Loaded) -> Arc<Loaded> {
        let found = self.discovered();
        *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) = Self::fingerprint_of(&found);
        let mut merged = base.clone();
        let mut notes = Vec::new();
        for (instance, apps) in &found {
            let (apps, diagnostics) = discovery::discover(instance, apps);
            notes.extend(diagnostics.iter().map(ToString::to_string));
            let report = merge::merge(&mut merged, apps);
            notes.extend(report.conflicts.iter().map(ToString::to_string));
        }
        *self.conflicts.write().unwrap_or_else(|p| p.into_inner()) = notes;
        *self.base.write().unwrap_or_else(|p| p.into_inner()) = Some(base);
        let merged = Arc::new(merged);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&merged));
        merged
    }

    /// Conflicts and unreadable discovered applications of the last merge.
    pub fn conflicts(&self) -> Vec<String> {
        self.conflicts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Re-merges when the discovered set changed; returns whether it did.
    pub fn refresh(&self, engine: &Engine) -> bool {
        self.settle_listings();
        let found = self.discovered();
        let fp = Self::fingerprint_of(&found);
        if *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) == fp {
            return false;
        }
        let Some(base) = self.base.read().unwrap_or_else(|p| p.into_inner()).clone() else {
            return false;
        };
        engine.set_config(self.apply(base));
        tracing::info!("discovered Argo CD applications changed; configuration re-merged");
        true
    }

    /// Follows the instances' streams and re-merges after changes.
    pub fn spawn(self: Arc<Self>, engine: Engine, stop: CancelFlag) {
        let mut receivers: Vec<_> = self
            .instances
            .iter()
            .filter_map(|p| p.any_update())
            .collect();
        if receivers.is_empty() {
            return;
        }
        tokio::spawn(async move {
            loop {
                let any = futures_util::future::select_all(
                    receivers.iter_mut().map(|r| Box::pin(r.changed())),
                );
                tokio::select! {
                    (res, _, _) = any => if res.is_err() { return; },
                    _ = stop.cancelled() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep(DISCOVERY_DEBOUNCE) => {}
                    _ = stop.cancelled() => return,
                }
                for r in &mut receivers {
                    r.borrow_and_update();
                }
                self.refresh(&engine);
            }
        });
    }

    /// For each application: the Argo CD instance it is bound to (`None`:
    /// the git provider) and, when Argo CD answered in time, its live state.
    pub async fn live(&self, apps: &[AppRef]) -> Vec<(Option<String>, Option<Observation>)> {
        let calls = apps.iter().map(|app| async move {
            let ("argocd", Some(instance)) = self.router.provider_of(app) else {
                return (None, None);
            };
            match tokio::time::timeout(LIVE_TIMEOUT, self.router.observe(app, None)).await {
                Ok(Ok(obs)) => (Some(instance), Some(obs)),
                Ok(Err(e)) => {
                    tracing::debug!(application = %app.name, error = %e, "live state");
                    (Some(instance), None)
                }
                Err(_) => (Some(instance), None),
            }
        });
        futures_util::future::join_all(calls).await
    }
}
