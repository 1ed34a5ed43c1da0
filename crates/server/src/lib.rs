//! `ferry serve`: the release engine behind a JSON API (SPEC §9, §10).
//!
//! [`Server::build`] wires the parts from [`Settings`] — store, the
//! configuration (an invalid one at start is an error), the Git workspace
//! with credentials by longest repository prefix, the local workflow
//! executor, the state provider (`git`, or a router over the `[[argocd]]`
//! instances with discovery, see [`argocd`]) and the engine — and
//! [`Server::bind`] + [`BoundServer::run`] serve until shutdown. The
//! engine is started only after the listener is bound, so `/readyz`
//! answers 503 while unfinished releases are being resumed.

pub mod api;
pub mod argocd;
pub mod auth;
mod cancel;
pub mod demo;
pub mod error;
pub mod forges;
pub mod live;
pub mod metrics;
mod openapi;
pub mod replica;
pub mod ui;
mod view;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_config::ConfigSource;
use ferry_engine::{Engine, EngineParts, EngineSettings};

pub use ferry_settings::{GitCredential, Overrides, Secret, Settings, SettingsError};

use crate::api::AppState;
use crate::cancel::CancelFlag;
use crate::live::LiveConfig;

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("no configuration source: set `config` in the settings file, FERRY_CONFIG or --config")]
    NoConfig,
    #[error("configuration {source_name}: {error}")]
    Config {
        source_name: String,
        error: live::LoadError,
    },
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] ferry_store::Error),
    #[error(transparent)]
    Auth(#[from] auth::AuthError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("engine: {0}")]
    Engine(#[from] ferry_engine::Error),
    #[error("server: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Forges(#[from] ferry_forge::RegistryError),
}

/// A server wired and ready to bind.
pub struct Server {
    settings: Settings,
    state: Arc<AppState>,
    generated_token: Option<String>,
    /// Commit statuses, when forges are configured.
    statuses: Option<ferry_forge::StatusPublisher>,
}

impl Server {
    pub async fn build(settings: Settings) -> Result<Server, ServerError> {
        let data_err = |path: &PathBuf| {
            let path = path.display().to_string();
            move |source| ServerError::DataDir { path, source }
        };
        std::fs::create_dir_all(&settings.data_dir).map_err(data_err(&settings.data_dir))?;
        let config_arg = settings.config.clone().ok_or(ServerError::NoConfig)?;
        let source = ConfigSource::from_arg(
            &config_arg,
            settings.config_branch.clone(),
            settings.config_path.clone(),
        );
        let source_name = source.describe();
        let loaded = {
            let source = source.clone();
            tokio::task::spawn_blocking(move || live::load_valid(&source))
                .await
                .map_err(|e| ServerError::Serve(std::io::Error::other(e.to_string())))?
                .map_err(|error| ServerError::Config {
                    source_name: source_name.clone(),
                    error,
                })?
        };

        // Issue 11: this replica's name as a lease holder and in event notices.
        let instance =
            replica::instance_id(&settings.data_dir).map_err(data_err(&settings.data_dir))?;
        let store = ferry_store::Store::open(&settings.effective_database_url())
            .await?
            .with_instance(&instance);
        tracing::info!(instance = %instance, database = ?store.backend(), "replica");
        let (tokens, generated_token) =
            auth::Tokens::bootstrap(settings.admin_token.as_ref(), &settings.data_dir)?;
        let tokens = tokens.with_store(store.clone());
        let trusted_proxies = ferry_security::TrustedProxies::parse(&settings.trusted_proxies)
            .map_err(SettingsError::TrustedProxies)?;

        let credentials = Arc::new(ferry_settings::resolve_credentials(
            &settings.git_credentials,
        )?);
        if let Some(t) = &settings.admin_token {
            ferry_security::register_secret(t.expose());
        }
        for (_, c) in credentials.iter() {
            match c {
                ferry_git::Credentials::Basic { password, .. } => {
                    ferry_security::register_secret(password.expose())
                }
                ferry_git::Credentials::Token { token, .. }
                | ferry_git::Credentials::Bearer { token } => {
                    ferry_security::register_secret(token.expose())
                }
                _ => {}
            }
        }
        let forges = Arc::new(ferry_forge::Registry::from_entries(
            &settings.forges,
            |k| std::env::var(k).ok(),
        )?);
        for secret in forges.secrets() {
            ferry_security::register_secret(&secret);
        }
        let mirrors = settings.data_dir.join("mirrors");
        std::fs::create_dir_all(&mirrors).map_err(data_err(&mirrors))?;
        let workspace = Arc::new(ferry_gitops::Workspace::new(
            mirrors,
            Arc::new(move |url: &str| ferry_settings::credentials_for(&credentials, url)),
        ));
        let work_dir = settings.data_dir.join("workflows");
        std::fs::create_dir_all(&work_dir).map_err(data_err(&work_dir))?;
        for secret in settings.workflow_secrets.values() {
            ferry_security::register_secret(secret.expose());
        }
        let executor: Arc<dyn ferry_workflow::WorkflowRunner> = match &settings.argo_workflows {
            Some(argo) => {
                let config = argo.executor_config()?;
                if let Some(token) = &config.token {
                    ferry_security::register_secret(token.expose());
                }
                tracing::info!(
                    server = %ferry_config::redact_url(&config.base_url),
                    namespace = %config.namespace,
                    "promotion workflows run on Argo Workflows"
                );
                Arc::new(ferry_workflow::ArgoExecutor::new(config).map_err(|e| {
                    SettingsError::ArgoWorkflows {
                        message: e.to_string(),
                    }
                })?)
            }
            None => Arc::new(ferry_workflow::LocalExecutor::new(
                ferry_workflow::LocalConfig {
                    work_dir: Some(work_dir),
                    secret_env: settings
                        .workflow_secrets
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect(),
                    ..ferry_workflow::LocalConfig::default()
                },
            )),
        };
        let runner: Arc<dyn ferry_workflow::WorkflowRunner> = Arc::new(
            ferry_security::redacting_runner::RedactingRunner::new(executor),
        );
        let git_state: Arc<dyn ferry_appstate::AppStateProvider> = Arc::new(
            ferry_appstate::git::GitProvider::new(Arc::clone(&workspace)),
        );
        // Argo CD instances: a router picks each application's provider,
        // and annotated applications found in Argo CD join the configuration.
        let argocd = argocd::ArgoCd::build(&settings, &workspace, Arc::clone(&git_state))?;
        let (appstate, loaded): (Arc<dyn ferry_appstate::AppStateProvider>, Arc<_>) = match &argocd
        {
            Some(a) => {
                a.list_all().await;
                (a.router(), a.apply(loaded))
            }
            None => (git_state, Arc::new(loaded)),
        };
        for (_, _, secret) in &settings.release_notes.registries {
            ferry_security::register_secret(secret.expose());
        }
        let notes = Arc::new(ferry_notes::NotesBuilder::new(
            Arc::clone(&workspace),
            Arc::new(
                ferry_notes::OciClient::new(settings.release_notes.oci())
                    .map_err(|e| ServerError::Serve(std::io::Error::other(e.to_string())))?,
            ),
            settings.release_notes.builder(),
        ));
        let engine = Engine::new(EngineParts {
            store: Arc::new(ferry_engine::LeasedStore::new(
                store.clone(),
                &instance,
                ferry_engine::LeaseSettings::default(),
            )),
            config: loaded,
            workspace,
            runner,
            appstate,
            settings: EngineSettings {
                base_url: settings.effective_base_url(),
                poll_interval: settings.poll_interval,
                runtime: settings.runtime.clone(),
                ..EngineSettings::default()
            },
            pull_requests: (!forges.is_empty()).then(|| {
                Arc::new(
                    forges::ForgePullRequests::new(Arc::clone(&forges)).with_notes(
                        forges::PullRequestNotes {
                            store: store.clone(),
                            builder: Arc::clone(&notes),
                        },
                    ),
                ) as Arc<dyn ferry_engine::PullRequests>
            }),
        });
        let statuses = (!forges.is_empty()).then(|| {
            ferry_forge::StatusPublisher::new(
                Arc::clone(&forges),
                &settings.effective_base_url(),
                ferry_forge::RetryPolicy::default(),
            )
        });
        let state = Arc::new(AppState {
            engine,
            store,
            tokens,
            anonymous_read: settings.anonymous_read,
            metrics: metrics::Metrics::new(statuses.clone()),
            live: Arc::new(LiveConfig::new(source).with_argocd(argocd.clone())),
            argocd,
            ready: AtomicBool::new(false),
            stopping: CancelFlag::default(),
            security: Arc::new(ferry_security::Security::new(
                trusted_proxies,
                settings.effective_base_url().starts_with("https://"),
            )),
            forges,
            ui: ui::UiState::new(&settings.effective_base_url()),
            notes,
            demo: settings.demo,
            notes_bodies: Default::default(),
        });
        Ok(Server {
            settings,
            state,
            generated_token,
            statuses,
        })
    }

    /// The admin token generated on this first start, to print once.
    pub fn generated_admin_token(&self) -> Option<&str> {
        self.generated_token.as_deref()
    }

    pub fn engine(&self) -> &Engine {
        &self.state.engine
    }

    /// Binds the listen address (port 0 picks a free port).
    pub async fn bind(self) -> Result<BoundServer, ServerError> {
        let listener = tokio::net::TcpListener::bind(&self.settings.listen)
            .await
            .map_err(|source| ServerError::Listen {
                addr: self.settings.listen.clone(),
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Listen {
                addr: self.settings.listen.clone(),
                source,
            })?;
        Ok(BoundServer {
            server: self,
            listener,
            addr,
        })
    }
}

/// A server with its listener bound.
pub struct BoundServer {
    server: Server,
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
}

impl BoundServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until SIGTERM or Ctrl-C.
    pub async fn serve(self) -> Result<(), ServerError> {
        self.run(shutdown_signal()).await
    }

    /// Serves until `shutdown` completes: starts the engine (resuming
    /// unfinished releases), the configuration watcher, then stops them
    /// and lets open requests finish. Stored state is untouched by the
    /// stop, so what was running resumes on the next start.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = Arc::clone(&self.server.state);
        let app = api::router(Arc::clone(&state));
        let stop = state.stopping.clone();
        let stop_signal = stop.clone();
        let http = tokio::spawn(
            axum::serve(
                self.listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop_signal.cancelled().await })
            .into_future(),
        );
        if let Some(publisher) = self.server.statuses.clone() {
            // Subscribed before the engine starts, so resumed releases'
            // events are published too.
            let stop = stop.clone();
            forges::spawn_status_publisher(publisher, state.engine.clone(), async move {
                stop.cancelled().await
            });
        }
        state.engine.start().await?;
        replica::spawn_relay(state.store.clone(), state.engine.clone(), stop.clone());
        state.ready.store(true, Ordering::SeqCst);
        tracing::info!(addr = %self.addr, "ferry is serving");
        if let Some(a) = &state.argocd {
            Arc::clone(a).spawn(state.engine.clone(), stop.clone());
        }
        if let Some(interval) = self.server.settings.config_poll_interval {
            Arc::clone(&state.live).spawn(state.engine.clone(), interval, stop.clone());
        }
        shutdown.await;
        state.ready.store(false, Ordering::SeqCst);
        state.engine.shutdown();
        // Another replica continues this one's releases at once.
        state.engine.release_leases().await;
        stop.cancel();
        match http.await {
            Ok(r) => r.map_err(ServerError::Serve),
            Err(e) => Err(ServerError::Serve(std::io::Error::other(e.to_string()))),
        }
    }
}

/// SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
