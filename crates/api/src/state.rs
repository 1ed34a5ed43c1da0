//! The state every handler shares (and the web UI's pages with them).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use ferry_engine::Engine;
use ferry_wiring::CancelFlag;
use ferry_wiring::argocd::ArgoCd;
use ferry_wiring::live::LiveConfig;

use crate::auth::Tokens;
use crate::metrics::Metrics;
use crate::notes_bodies::NotesBodies;
use crate::session::Sessions;

/// What every handler shares.
pub struct AppState {
    pub engine: Engine,
    pub store: ferry_store::Store,
    pub tokens: Tokens,
    pub anonymous_read: bool,
    pub metrics: Metrics,
    pub live: Arc<LiveConfig>,
    /// Argo CD instances (live application state, discovery), when configured.
    pub argocd: Option<Arc<ArgoCd>>,
    /// Set once the engine has started (resumed releases, poller).
    pub ready: AtomicBool,
    /// Set on shutdown: ends live event streams, which would otherwise
    /// keep the graceful shutdown waiting forever.
    pub stopping: CancelFlag,
    /// Trusted proxies, rate limiters, https (issue 10).
    pub security: Arc<ferry_security::Security>,
    /// Forges of the settings: webhook secrets, by repository prefix.
    pub forges: Arc<ferry_forge::Registry>,
    /// Web UI sessions.
    pub sessions: Sessions,
    /// Release notes (computed once per release, cached in the store).
    pub notes: Arc<ferry_notes::NotesBuilder>,
    /// Demo mode: the UI's merge button for local pull-request branches.
    pub demo: bool,
    /// Release-notes bodies served recently (checked against the stored ETag).
    pub notes_bodies: NotesBodies,
    /// Whether the store can be written now (issue 23): `/readyz`, the
    /// fail-fast 503 of mutating requests, the UI's banner.
    pub health: ferry_wiring::StorageHealth,
    /// Delivery insights' facts and figures (issue 21).
    pub insights: Arc<ferry_wiring::insights::InsightsKeeper>,
}

pub type Shared = Arc<AppState>;
