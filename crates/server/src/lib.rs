//! `ferry serve`: the composition root (SPEC §9, §10). It holds no logic
//! of its own; it puts the crates that do together:
//!
//! - [`Server::build`]: the parts from [`Settings`]
//!   ([`ferry_wiring::Parts`]: store, configuration, workspace, executor,
//!   state provider, forges, notes, engine), the admin token, and the API's
//!   state ([`ferry_api::AppState`]);
//! - [`router`]: the JSON API's routes ([`ferry_api::routes`]) and the web
//!   UI's ([`ferry_ui::routes`]) behind the protective layers
//!   ([`ferry_security::protect`]);
//! - [`Server::bind`] + [`BoundServer::run`]: serve until shutdown, with
//!   the tasks that keep the parts current. The engine is started only
//!   after the listener is bound, so `/readyz` answers 503 while
//!   unfinished releases are being resumed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use ferry_api::error::ApiError;
use ferry_api::{AppState, Shared, auth, metrics};
use ferry_engine::Engine;
use ferry_wiring::{BuildError, CancelFlag, Parts};

pub use ferry_settings::{GitCredential, Overrides, Secret, Settings, SettingsError};

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Build(#[from] BuildError),
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
}

/// A server wired and ready to bind.
pub struct Server {
    settings: Settings,
    state: Arc<AppState>,
    generated_token: Option<String>,
    /// Commit statuses, when forges are configured.
    statuses: Option<ferry_forge::StatusPublisher>,
    /// Notifications out, when configured (issue 20).
    notifier: Option<ferry_wiring::notifications::Notifier>,
}

impl Server {
    pub async fn build(settings: Settings) -> Result<Server, ServerError> {
        let parts = Parts::build(&settings).await?;
        let (tokens, generated_token) =
            auth::Tokens::bootstrap(settings.admin_token.as_ref(), &settings.data_dir)?;
        let tokens = tokens.with_store(parts.store.clone());
        let state = Arc::new(AppState {
            engine: parts.engine,
            store: parts.store,
            tokens,
            anonymous_read: settings.anonymous_read,
            metrics: metrics::Metrics::new(parts.statuses.clone()),
            live: parts.live,
            argocd: parts.argocd,
            ready: AtomicBool::new(false),
            stopping: CancelFlag::default(),
            security: parts.security,
            forges: parts.forges,
            sessions: ferry_api::session::Sessions::new(&settings.effective_base_url()),
            notes: parts.notes,
            demo: settings.demo,
            notes_bodies: Default::default(),
            health: ferry_wiring::StorageHealth::with_data_dir(&settings.data_dir),
            insights: parts.insights,
        });
        Ok(Server {
            settings,
            state,
            generated_token,
            statuses: parts.statuses,
            notifier: parts.notifier,
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
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let state = Arc::clone(&self.server.state);
        let app = router(Arc::clone(&state));
        let stop = state.stopping.clone();
        let stop_signal = stop.clone();
        // Header, body and per-client limits on slow clients (issue 23).
        let http = tokio::spawn(ferry_security::serve(
            self.listener,
            app,
            self.server.settings.http,
            async move { stop_signal.cancelled().await },
        ));
        state.health.spawn_prober(state.store.clone(), stop.clone());
        if let Some(publisher) = self.server.statuses.clone() {
            // Subscribed before the engine starts, so resumed releases'
            // events are published too.
            let stop = stop.clone();
            ferry_wiring::forges::spawn_status_publisher(
                publisher,
                state.engine.clone(),
                async move { stop.cancelled().await },
            );
        }
        if let Some(notifier) = self.server.notifier.take() {
            notifier.spawn(&state.engine, stop.clone());
        }
        state.engine.start().await?;
        ferry_wiring::replica::spawn_relay(state.store.clone(), state.engine.clone(), stop.clone());
        Arc::clone(&state.insights).spawn(state.engine.clone(), stop.clone());
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
            Ok(()) => Ok(()),
            Err(e) => Err(ServerError::Serve(std::io::Error::other(e.to_string()))),
        }
    }
}

/// The whole router: the API's routes and the web UI's, counted and timed
/// ([`ferry_api::observe`]), a JSON 404 for anything else, and the
/// protective layers outermost ([`ferry_security::protect`]: request ids,
/// spans, security headers, body limits).
pub fn router(state: Shared) -> Router {
    let app = ferry_api::routes()
        .merge(ferry_ui::routes(Arc::clone(&state)))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            ferry_api::observe,
        ))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            ferry_api::fail_fast,
        ))
        // tower-http's limit (in `protect`) bounds every body; axum's own
        // default (2 MB, for its extractors) would only repeat it.
        .layer(DefaultBodyLimit::disable());
    ferry_security::protect(app, state.security.https).with_state(state)
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
