//! The `argocd` application-state provider (SPEC §6): one Argo CD instance.
//!
//! State comes from Argo CD's REST API: `GET /api/v1/applications/{name}`
//! for one application, and the application stream (see [`watch`]) that
//! keeps every application's document cached and wakes the engine within
//! milliseconds of a change. The provider answers from the cache while the
//! stream is connected and with a single GET otherwise.
//!
//! After a promotion commit the provider can ask Argo CD for a hard
//! refresh (`?refresh=hard`, once per application and commit), so Argo CD
//! notices the commit at once instead of on its next Git poll.
//!
//! Whether the application is *at* the promotion commit is decided with
//! Git ([`revision::deploys_commit`]), because Argo CD may already deploy a
//! later commit that did not touch the application.

mod client;
pub mod discovery;
#[cfg(feature = "fake")]
pub mod fake;
pub mod merge;
pub mod revision;
pub mod state;
pub mod types;
mod watch;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use ferry_gitops::Workspace;

pub use watch::Backoff;

use crate::{AppRef, AppStateProvider, Error, Observation};
use client::Client;
use types::ArgoApplication;
use watch::Cache;

/// A value that must never be printed (the Argo CD token).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// One Argo CD instance (a `[[argocd]]` entry of the server settings).
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// How applications and settings refer to the instance.
    pub name: String,
    /// The API server's base URL (`https://argocd.example.com`).
    pub url: String,
    /// Where links point (Argo CD's UI); default: `url`.
    pub ui_url: Option<String>,
    pub token: Option<Secret>,
    /// Extra trusted root certificates (PEM), for a private CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The `appNamespace` of every call (apps-in-any-namespace); default:
    /// the Application's own `metadata.namespace`, if any.
    pub app_namespace: Option<String>,
    /// Ask for `?refresh=hard` once after each promotion commit.
    pub hard_refresh: bool,
    /// Keep the application stream open (default); off: single GETs only.
    pub watch: bool,
    pub request_timeout: Duration,
    /// A hard refresh blocks until Argo CD re-read Git.
    pub refresh_timeout: Duration,
    pub backoff: Backoff,
}

impl InstanceConfig {
    pub fn new(name: impl Into<String>, url: impl Into<String>) -> InstanceConfig {
        InstanceConfig {
            name: name.into(),
            url: url.into(),
            ui_url: None,
            token: None,
            ca_pem: None,
            app_namespace: None,
            hard_refresh: false,
            watch: true,
            request_timeout: Duration::from_secs(30),
            refresh_timeout: Duration::from_secs(120),
            backoff: Backoff::default(),
        }
    }
}

/// The provider for one instance. Starting the stream needs a Tokio runtime.
pub struct ArgoCdProvider {
    config: InstanceConfig,
    client: Arc<Client>,
    cache: Arc<Cache>,
    workspace: Arc<Workspace>,
    /// (application, commit) pairs already hard-refreshed.
    refreshed: Arc<Mutex<HashSet<(String, String)>>>,
    watcher: Option<tokio::task::AbortHandle>,
}

impl Drop for ArgoCdProvider {
    fn drop(&mut self) {
        if let Some(w) = &self.watcher {
            w.abort();
        }
    }
}

impl fmt::Debug for ArgoCdProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArgoCdProvider")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ArgoCdProvider {
    /// Builds the client and, when `config.watch`, starts the stream.
    pub fn new(config: InstanceConfig, workspace: Arc<Workspace>) -> Result<ArgoCdProvider, Error> {
        let client = Arc::new(Client::new(&config)?);
        let cache = Arc::new(Cache::new());
        let watcher = config.watch.then(|| {
            tokio::spawn(watch::run(
                Arc::clone(&client),
                Arc::clone(&cache),
                config.app_namespace.clone(),
                config.backoff,
                config.name.clone(),
            ))
            .abort_handle()
        });
        Ok(ArgoCdProvider {
            config,
            client,
            cache,
            workspace,
            refreshed: Arc::default(),
            watcher,
        })
    }

    pub fn instance(&self) -> &str {
        &self.config.name
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.config
    }

    fn ui_base(&self) -> &str {
        self.config.ui_url.as_deref().unwrap_or(&self.config.url)
    }

    /// Whether the application stream is connected now.
    pub fn stream_connected(&self) -> bool {
        self.cache.connected()
    }

    /// How many times the stream was (re)opened.
    pub fn stream_connects(&self) -> u64 {
        self.cache.connects()
    }

    /// Application events applied from the stream (and GETs).
    pub fn events_applied(&self) -> u64 {
        self.cache.events()
    }

    /// A receiver bumped on every event about any application (discovery).
    pub fn any_update(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.cache.subscribe_any()
    }

    /// Every application the stream has delivered so far.
    pub fn cached_applications(&self) -> Vec<Arc<ArgoApplication>> {
        self.cache.all()
    }

    /// Every application, read with one `GET /api/v1/applications` (for
    /// `ferry validate` and the first configuration, before the stream
    /// has delivered anything).
    pub async fn list_applications(&self) -> Result<Vec<ArgoApplication>, Error> {
        self.client
            .applications(self.config.app_namespace.as_deref())
            .await
    }

    fn namespace_for<'a>(&'a self, app_namespace: Option<&'a str>) -> Option<&'a str> {
        self.config.app_namespace.as_deref().or(app_namespace)
    }

    /// The application's document: from the stream's cache when connected,
    /// else one GET (which also refreshes the cache).
    async fn document(
        &self,
        name: &str,
        app_namespace: Option<&str>,
    ) -> Result<Arc<ArgoApplication>, Error> {
        if self.cache.connected()
            && let Some(doc) = self.cache.get(name, app_namespace)
        {
            return Ok(doc);
        }
        let doc = Arc::new(self.client.application(name, app_namespace, None).await?);
        self.cache.store((*doc).clone());
        Ok(doc)
    }

    /// Once per (application, commit): `?refresh=hard` in the background;
    /// its answer lands in the cache and wakes the waiter.
    fn hard_refresh(&self, name: &str, app_namespace: Option<&str>, commit: &str) {
        if !self.config.hard_refresh {
            return;
        }
        let first = self
            .refreshed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((name.to_owned(), commit.to_owned()));
        if !first {
            return;
        }
        let (client, cache) = (Arc::clone(&self.client), Arc::clone(&self.cache));
        let (name, ns) = (name.to_owned(), app_namespace.map(str::to_owned));
        tokio::spawn(async move {
            match client.application(&name, ns.as_deref(), Some("hard")).await {
                Ok(doc) => cache.put(doc),
                Err(e) => tracing::warn!(application = %name, error = %e, "hard refresh failed"),
            }
        });
    }

    /// [`AppStateProvider::observe`] for an Application living in
    /// `app_namespace` (its `metadata.namespace`), unless the instance
    /// setting names one.
    pub async fn observe_in(
        &self,
        app: &AppRef,
        app_namespace: Option<&str>,
        commit: Option<&str>,
    ) -> Result<Observation, Error> {
        let ns = self.namespace_for(app_namespace);
        if let Some(c) = commit {
            self.hard_refresh(&app.name, ns, c);
        }
        let doc = self.document(&app.name, ns).await?;
        let state = state::app_state(&doc, app, self.ui_base());
        let synced_at_commit = match (commit, &state.revision) {
            // No promotion commit: only health matters (trait contract).
            (None, _) => true,
            (Some(_), None) => false,
            (Some(_), Some(_)) if state.sync != crate::SyncStatus::Synced => false,
            (Some(c), Some(r)) => {
                let (workspace, app, r, c) = (
                    Arc::clone(&self.workspace),
                    app.clone(),
                    r.clone(),
                    c.to_owned(),
                );
                tokio::task::spawn_blocking(move || {
                    revision::deploys_commit(&workspace, &app, &r, &c)
                })
                .await
                .map_err(|e| Error::Task(e.to_string()))??
            }
        };
        Ok(Observation {
            state,
            synced_at_commit,
        })
    }
}

#[async_trait]
impl AppStateProvider for ArgoCdProvider {
    fn name(&self) -> &'static str {
        "argocd"
    }

    async fn observe(&self, app: &AppRef, commit: Option<&str>) -> Result<Observation, Error> {
        self.observe_in(app, None, commit).await
    }

    fn updates(&self, app: &AppRef) -> Option<tokio::sync::watch::Receiver<u64>> {
        self.config.watch.then(|| self.cache.subscribe(&app.name))
    }
}
