//! The release engine (SPEC §3, §4).
//!
//! [`Engine::promote`] (and the trigger poller) create releases; each
//! release is then driven by one task that runs its environments in
//! dependency order (independent ones in parallel) and, in each, every
//! application's pre-action → action → sync wait → post-action.
//!
//! Crash safety comes from two rules. Every change is persisted (with its
//! events) before the engine acts on it, through [`handle::ReleaseHandle`];
//! and every action is idempotent: workflows are re-run from their start if
//! a restart interrupted them, and promotion commits carry trailers so a
//! commit pushed before a crash is found instead of made twice. On start,
//! [`Engine::start`] resumes every release that had not finished.

mod clock;
mod create;
mod drive;
mod gates;
mod handle;
mod lease;
mod params;
mod pullrequest;
mod request;
mod sqlstore;
pub mod stats;
mod store;
pub mod trace;
mod trigger;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_appstate::AppStateProvider;
use ferry_gitops::Workspace;
use ferry_model::resource::PolicySettings;
use ferry_model::{Loaded, Membership};
use ferry_release::{Event, Release, TerminationReason};
use ferry_workflow::WorkflowRunner;
use serde::Deserialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

pub use clock::{Clock, ManualClock};
pub use create::HOTFIX_LABEL;
pub use drive::{ApprovalRequest, Approver, MAX_COMMENT, check_decision};
pub use lease::{LeaseSettings, LeasedStore, Leases};
pub use pullrequest::{
    OpenedPullRequest, PullRequestError, PullRequestSpec, PullRequestState, PullRequests,
};
pub use stats::{STEP_BUCKETS, StepDurations, StepStats, step_stats};
pub use store::{Created, ReleaseStore, StoreError};

/// Engine settings (from the server settings).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Public base URL of the server, for `RELEASE_URL` and links.
    pub base_url: String,
    /// Author and committer of promotion commits.
    pub commit_author_name: String,
    pub commit_author_email: String,
    /// How often trigger applications' repositories are polled; `None`
    /// disables polling.
    pub poll_interval: Option<Duration>,
    /// How often the sync wait asks the state provider.
    pub sync_interval: Duration,
    /// `RUNTIME` workflow parameter.
    pub runtime: String,
    /// How often products whose queue waits with nothing of theirs active
    /// are looked for and handed on (a hand-over lost to a fault would
    /// otherwise wait for the product's next release to end).
    pub queue_scan_interval: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            base_url: "http://127.0.0.1:8080".into(),
            commit_author_name: "ferry".into(),
            commit_author_email: "ferry@localhost".into(),
            poll_interval: Some(Duration::from_secs(30)),
            sync_interval: Duration::from_secs(1),
            runtime: "ferry".into(),
            queue_scan_interval: Duration::from_secs(10),
        }
    }
}

/// A request to promote (SPEC §3, manual triggers; §9 API body).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionRequest {
    /// Run a flow from its trigger environment's current state.
    #[serde(default)]
    pub flow: Option<String>,
    /// Promote to one environment.
    #[serde(default)]
    pub target_environment: Option<String>,
    /// Source of a one-environment promotion; default: the environment
    /// before the target in the product's first flow.
    #[serde(default)]
    pub source_environment: Option<String>,
    /// Policy settings of a one-environment promotion (override field by
    /// field); an unknown field in it is refused, as at the top level.
    #[serde(default, deserialize_with = "request::strict_policy")]
    pub policy: Option<PolicySettings>,
    /// Promote this earlier release's snapshot to `targetEnvironment`.
    #[serde(default)]
    pub rollback_to: Option<String>,
}

impl PromotionRequest {
    /// Run flow `name` from its trigger environment's current state.
    pub fn for_flow(name: impl Into<String>) -> PromotionRequest {
        PromotionRequest {
            flow: Some(name.into()),
            target_environment: None,
            source_environment: None,
            policy: None,
            rollback_to: None,
        }
    }
}

/// The answer to an idempotent request (a promotion, a retry, a
/// terminate).
#[derive(Debug, Clone)]
pub enum Promoted {
    /// Created (or, for an operation, changed) by this request.
    Created(Release),
    /// Created by an earlier request with the same key: the release as it
    /// is now, and the status the first answer had.
    Replayed { release: Release, status: u16 },
}

impl Promoted {
    /// The release the answer is about.
    pub fn release(&self) -> &Release {
        match self {
            Promoted::Created(r) | Promoted::Replayed { release: r, .. } => r,
        }
    }
}

/// Why the engine refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("product `{0}` does not exist (no Product and no application annotated with it)")]
    UnknownProduct(String),
    #[error("flow `{flow}` is not defined for product `{product}`")]
    UnknownFlow { product: String, flow: String },
    #[error("environment `{0}` does not exist")]
    UnknownEnvironment(String),
    #[error("release `{0}` not found")]
    NotFound(String),
    #[error("invalid request: {0}")]
    BadRequest(String),
    #[error("release {id} is {status}: {action} is not possible")]
    Conflict {
        id: String,
        status: String,
        action: &'static str,
    },
    #[error("flow `{flow}` is invalid: {message}")]
    InvalidFlow { flow: String, message: String },
    /// A request's policy names a workflow the active configuration does
    /// not have (`field`: `policy.preAction`, `policy.postAction`).
    #[error(
        "{field}: workflow `{name}` does not exist (no WorkflowTemplate of that name in the active configuration)"
    )]
    UnknownWorkflow { field: &'static str, name: String },
    #[error(transparent)]
    GitOps(#[from] ferry_gitops::Error),
    #[error(transparent)]
    Git(#[from] ferry_git::Error),
    #[error("storage: {0}")]
    Store(StoreError),
    #[error("workflow runner: {0}")]
    Runner(#[from] ferry_workflow::RunnerError),
    #[error("internal: {0}")]
    Internal(String),
    #[error("ferry is shutting down")]
    ShuttingDown,
    /// A decision at an approval gate that this caller may not make
    /// (issue 20): not among the gate's approvers, or the release's
    /// initiator where the gate refuses it. The text says which.
    #[error("{0}")]
    NotApprover(String),
    /// A decision at an approval gate that cannot be made now: the
    /// environment is not waiting for approval, or this caller decided
    /// already.
    #[error("{0}")]
    ApprovalConflict(String),
    /// The storage cannot be written now (issue 23): nothing was changed;
    /// the same request may succeed once it is back.
    #[error("storage unavailable, try again shortly: {0}")]
    Unavailable(String),
    /// The `Idempotency-Key` was used less than a day ago for a request
    /// with another body.
    #[error("idempotency key `{0}` was used for a different request (another body); use a new key")]
    IdempotencyKeyReused(String),
    /// The request's `Idempotency-Key` was used less than a day ago: its
    /// first answer; nothing was changed (the engine answers it as a
    /// replay, callers do not see this).
    #[error("this idempotency key was answered before (release {})", .0.release_id)]
    Answered(ferry_store::Remembered),
}

/// A store error as the engine reports it: [`Error::Unavailable`] when the
/// storage is down for now (the caller may try again), else
/// [`Error::Store`].
pub(crate) fn store_error(e: StoreError) -> Error {
    if handle::unavailable(&e) {
        Error::Unavailable(e.to_string())
    } else {
        Error::Store(e)
    }
}

/// The engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// (product, environment, workflow): where a newer run of a workflow
/// replaces an older one (SPEC §4.5).
pub(crate) type WorkflowSlot = (String, String, String);

pub(crate) struct Inner {
    pub store: Arc<dyn ReleaseStore>,
    pub config: RwLock<Arc<Loaded>>,
    /// Products and their applications for the configuration it was computed
    /// from (matching every application against every product costs
    /// milliseconds on a large configuration: once per configuration, not
    /// once per promotion or trigger poll).
    pub membership: Mutex<Option<(Arc<Loaded>, Arc<Membership>)>>,
    pub workspace: Arc<Workspace>,
    pub runner: Arc<dyn WorkflowRunner>,
    pub appstate: Arc<dyn AppStateProvider>,
    pub settings: EngineSettings,
    pub events: broadcast::Sender<Event>,
    /// Releases being driven, with the token that stops them.
    pub running: Mutex<HashMap<String, Driving>>,
    /// Running workflows by (product, environment, workflow): a newer run
    /// replaces an older one (SPEC §4.5).
    pub workflows: Mutex<HashMap<WorkflowSlot, (String, CancellationToken)>>,
    /// Serialises release creation and queue decisions per product.
    pub product_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pub shutdown: CancellationToken,
    /// Forges for `pr` promotions; `None`: the forge-less branch merge.
    pub pull_requests: Option<Arc<dyn PullRequests>>,
    /// `pr` promotions waiting for their pull request, woken by webhooks.
    pub pr_waiters: pullrequest::Waiters,
    /// Leases held by this replica's drivers (issue 11).
    pub lease: lease::LeaseState,
    /// Bumped after every decision at an approval gate: waiting gates
    /// read their record again (issue 20).
    pub approvals: tokio::sync::watch::Sender<u64>,
    /// What time-based decisions read (issue 20): windows, freezes,
    /// expiries; settable in tests.
    pub clock: Clock,
    /// The promotion windows of the configuration they were compiled from.
    pub windows: Mutex<Option<(Arc<Loaded>, Arc<ferry_model::window::Windows>)>>,
    /// Bumped when what holds environments may have changed (a freeze, a
    /// break-glass, a new configuration): waiting environments look again.
    pub gate_changed: tokio::sync::watch::Sender<u64>,
    /// Snapshot reads of manual releases, started when they were stored
    /// and taken by their drivers (issue 24).
    pub early_reads: drive::EarlyReads,
}

pub(crate) struct Driving {
    pub cancel: CancellationToken,
    pub handle: Arc<handle::ReleaseHandle>,
}

/// The parts an engine is made of.
pub struct EngineParts {
    pub store: Arc<dyn ReleaseStore>,
    pub config: Arc<Loaded>,
    pub workspace: Arc<Workspace>,
    pub runner: Arc<dyn WorkflowRunner>,
    pub appstate: Arc<dyn AppStateProvider>,
    pub settings: EngineSettings,
    /// Opens and follows pull requests of `pr` promotions (forges).
    pub pull_requests: Option<Arc<dyn PullRequests>>,
}

impl Engine {
    /// An engine on the system clock.
    pub fn new(parts: EngineParts) -> Engine {
        Engine::with_clock(parts, Clock::system())
    }

    /// An engine whose time-based decisions read `clock` (tests give a
    /// [`ManualClock`]'s).
    pub fn with_clock(parts: EngineParts, clock: Clock) -> Engine {
        let (events, _) = broadcast::channel(4096);
        Engine {
            inner: Arc::new(Inner {
                store: parts.store,
                config: RwLock::new(parts.config),
                membership: Mutex::new(None),
                workspace: parts.workspace,
                runner: parts.runner,
                appstate: parts.appstate,
                settings: parts.settings,
                events,
                running: Mutex::new(HashMap::new()),
                workflows: Mutex::new(HashMap::new()),
                product_locks: Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                pull_requests: parts.pull_requests,
                pr_waiters: pullrequest::Waiters::default(),
                lease: lease::LeaseState::default(),
                approvals: tokio::sync::watch::Sender::new(0),
                clock,
                windows: Mutex::new(None),
                gate_changed: tokio::sync::watch::channel(0).0,
                early_reads: drive::EarlyReads::default(),
            }),
        }
    }

    /// Resumes every unfinished release and starts the trigger poller.
    pub async fn start(&self) -> Result<(), Error> {
        // Rows that break "finishedAt set iff terminal status" (written
        // before the store refused them) are re-opened first, so they are
        // resumed with the others (issue 23).
        for id in self
            .inner
            .store
            .repair_finished()
            .await
            .map_err(Error::Store)?
        {
            tracing::warn!(release = %id, "re-opened: stored as finished while it had not ended");
        }
        let ids = self.inner.store.active_ids().await.map_err(Error::Store)?;
        for id in ids {
            if let Some(release) = self.inner.store.get(&id).await.map_err(Error::Store)? {
                drive::resume(&self.inner, release);
            }
        }
        if let Some(interval) = self.inner.settings.poll_interval {
            trigger::spawn_poller(Arc::clone(&self.inner), interval);
        }
        lease::spawn_keeper(&self.inner);
        drive::spawn_queue_keeper(&self.inner);
        drive::spawn_supersede_watch(&self.inner);
        Ok(())
    }

    /// Gives up every lease this replica holds (call after
    /// [`Engine::shutdown`], which stops all recording): another replica
    /// takes the releases over at its next scan instead of after expiry.
    pub async fn release_leases(&self) {
        lease::give_up_all(&self.inner).await
    }

    /// Hands events written by another replica (announced by the store)
    /// to this replica's live subscribers.
    pub fn relay(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.inner.events.send(e);
        }
    }

    /// Whether this replica drives release `id` now.
    pub fn is_driving(&self, id: &str) -> bool {
        self.inner.is_driving(id)
    }

    /// Stops background work (pollers, drivers) without touching stored state:
    /// what was running resumes on the next start.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Every event of every release, live.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Sends events stored beside the engine (the server's audit notes,
    /// `Store::append_events`) to the live subscribers.
    pub fn publish(&self, events: Vec<Event>) {
        for e in events {
            let _ = self.inner.events.send(e);
        }
    }

    /// The active configuration with its products' applications (computed
    /// once per configuration and shared with release creation).
    pub fn membership(&self) -> (Arc<Loaded>, Arc<Membership>) {
        let cfg = self.inner.config();
        let membership = self.inner.membership(&cfg);
        (cfg, membership)
    }

    /// The active configuration.
    pub fn config(&self) -> Arc<Loaded> {
        Arc::clone(&self.inner.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Replaces the configuration (running releases keep their frozen flow).
    pub fn set_config(&self, loaded: Arc<Loaded>) {
        *self.inner.config.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        // A window may have opened or closed.
        self.inner.gates_changed();
    }

    /// The clock the engine's time-based decisions read.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    pub fn runner(&self) -> &Arc<dyn WorkflowRunner> {
        &self.inner.runner
    }

    pub fn appstate(&self) -> &Arc<dyn AppStateProvider> {
        &self.inner.appstate
    }

    pub fn workspace(&self) -> &Arc<Workspace> {
        &self.inner.workspace
    }

    /// A manual promotion (SPEC §3): by flow, to one environment, or a rollback.
    pub async fn promote(
        &self,
        product: &str,
        request: PromotionRequest,
        initiator: &str,
    ) -> Result<Release, Error> {
        match self.promote_as(product, request, initiator, None).await? {
            Promoted::Created(r) | Promoted::Replayed { release: r, .. } => Ok(r),
        }
    }

    /// [`Engine::promote`] for a request with an `Idempotency-Key` (issue
    /// 23): the first request with the key creates the release and its
    /// answer is remembered with it, in one transaction; the same request
    /// again within a day — also after a crash — is answered with that
    /// release ([`Promoted::Replayed`]), and the same key with another
    /// body is refused ([`Error::IdempotencyKeyReused`]).
    pub async fn promote_idempotent(
        &self,
        product: &str,
        request: PromotionRequest,
        initiator: &str,
        idempotent: &ferry_store::IdempotentRequest,
    ) -> Result<Promoted, Error> {
        // Answered before any Git work when the key is known.
        self.keyed(idempotent, || {
            self.promote_as(product, request, initiator, Some(idempotent))
        })
        .await
    }

    async fn promote_as(
        &self,
        product: &str,
        request: PromotionRequest,
        initiator: &str,
        idempotent: Option<&ferry_store::IdempotentRequest>,
    ) -> Result<Promoted, Error> {
        match create::manual(&self.inner, product, request, initiator, idempotent).await {
            Ok(create::Stored::New(r)) => Ok(Promoted::Created(*r)),
            Ok(create::Stored::Remembered(first)) => match idempotent {
                Some(idempotent) => self.replay(idempotent, first).await,
                None => Err(Error::Internal("an answer remembered without a key".into())),
            },
            // Git failing because the mirrors' disk is full or read-only is
            // a storage fault: the same request may succeed later.
            Err(e @ (Error::Git(_) | Error::GitOps(_))) => {
                let cache = self.inner.workspace.cache_dir().to_owned();
                if blocking(move || Ok(disk_writable(&cache))).await? {
                    Err(e)
                } else {
                    Err(Error::Unavailable(format!(
                        "the Git mirrors' disk cannot be written: {e}"
                    )))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// The remembered first answer to an idempotent request, as it stands now.
    async fn replay(
        &self,
        idempotent: &ferry_store::IdempotentRequest,
        first: ferry_store::Remembered,
    ) -> Result<Promoted, Error> {
        if first.fingerprint != idempotent.fingerprint {
            return Err(Error::IdempotencyKeyReused(idempotent.key.clone()));
        }
        let release = self
            .release(&first.release_id)
            .await?
            .ok_or_else(|| Error::NotFound(first.release_id.clone()))?;
        Ok(Promoted::Replayed {
            release,
            status: first.status,
        })
    }

    /// Terminates a release (SPEC §4.5): running workflows stop, pending
    /// environments stay PENDING, `onFail` hooks run.
    pub async fn terminate(&self, id: &str, by: &str) -> Result<Release, Error> {
        drive::terminate(&self.inner, id, by, TerminationReason::User, None).await
    }

    /// Retries a FAILED or TERMINATED release from the point of failure.
    pub async fn retry(&self, id: &str, by: &str) -> Result<Release, Error> {
        drive::retry(&self.inner, id, by, None).await
    }

    /// [`Engine::terminate`] for a request with an `Idempotency-Key`
    /// (issue 23): the answer is remembered in the transaction that
    /// stores the termination, so a repeat within a day — also after a
    /// crash between the two — is answered with the release as it is now
    /// and the first status ([`Promoted::Replayed`]), never with 409.
    pub async fn terminate_idempotent(
        &self,
        id: &str,
        by: &str,
        idempotent: &ferry_store::IdempotentRequest,
    ) -> Result<Promoted, Error> {
        self.keyed(idempotent, || async {
            drive::terminate(
                &self.inner,
                id,
                by,
                TerminationReason::User,
                Some(idempotent),
            )
            .await
            .map(Promoted::Created)
        })
        .await
    }

    /// [`Engine::retry`] for a request with an `Idempotency-Key`, as
    /// [`Engine::terminate_idempotent`]: remembered with the retry's save.
    pub async fn retry_idempotent(
        &self,
        id: &str,
        by: &str,
        idempotent: &ferry_store::IdempotentRequest,
    ) -> Result<Promoted, Error> {
        self.keyed(idempotent, || async {
            drive::retry(&self.inner, id, by, Some(idempotent))
                .await
                .map(Promoted::Created)
        })
        .await
    }

    /// Approves or rejects an environment waiting at its approval gate
    /// (issue 20), as `approver`; with `idempotent`, the answer is
    /// remembered with the decision's save, so a repeat is answered from
    /// the first answer ([`Promoted::Replayed`]). Refused with
    /// [`Error::NotApprover`] (not allowed here, or the initiator where
    /// the gate refuses it) and [`Error::ApprovalConflict`] (not waiting,
    /// or decided by this caller already).
    pub async fn decide_approval(
        &self,
        id: &str,
        request: &ApprovalRequest,
        approver: &Approver,
        idempotent: Option<&ferry_store::IdempotentRequest>,
    ) -> Result<Promoted, Error> {
        let act = || async {
            drive::decide_approval(&self.inner, id, request, approver, idempotent)
                .await
                .map(Promoted::Created)
        };
        match idempotent {
            Some(key) => self.keyed(key, act).await,
            None => act().await,
        }
    }

    /// The one path of every request with an `Idempotency-Key` (promote,
    /// retry, terminate): a known key is answered from its first answer;
    /// otherwise `act` runs, which stores the key with its effect in one
    /// transaction — or meets it stored meanwhile by a concurrent repeat
    /// ([`Error::Answered`]), answered as a replay too.
    async fn keyed<F>(
        &self,
        idempotent: &ferry_store::IdempotentRequest,
        act: impl FnOnce() -> F,
    ) -> Result<Promoted, Error>
    where
        F: std::future::Future<Output = Result<Promoted, Error>>,
    {
        if let Some(first) = self
            .inner
            .store
            .idempotent_answer(&idempotent.scope, &idempotent.key)
            .await
            .map_err(store_error)?
        {
            return self.replay(idempotent, first).await;
        }
        match act().await {
            Err(Error::Answered(first)) => self.replay(idempotent, first).await,
            answer => answer,
        }
    }

    /// Resumes a suspended workflow step.
    pub async fn resume_workflow(&self, run: &str, step: Option<&str>) -> Result<(), Error> {
        self.resume_workflow_with(run, step, &ferry_workflow::Parameters::new())
            .await
    }

    /// Resumes like [`Self::resume_workflow`], supplying the values of the
    /// suspended steps' `valueFrom.supplied` output parameters.
    pub async fn resume_workflow_with(
        &self,
        run: &str,
        step: Option<&str>,
        values: &ferry_workflow::Parameters,
    ) -> Result<(), Error> {
        let run = ferry_workflow::RunId(run.to_owned());
        self.inner.runner.resume_with(&run, step, values).await?;
        Ok(())
    }

    /// Polls every trigger application once (what the poller does on its
    /// interval); returns the releases created.
    pub async fn poll_triggers(&self) -> Result<Vec<Release>, Error> {
        trigger::poll_once(&self.inner).await
    }

    /// Polls the trigger applications whose repository URL satisfies
    /// `repo_matches` at once (a push webhook); returns the releases created.
    pub async fn poll_triggers_for(
        &self,
        repo_matches: &(dyn Fn(&str) -> bool + Send + Sync),
    ) -> Result<Vec<Release>, Error> {
        trigger::poll_matching(&self.inner, repo_matches).await
    }

    /// A pull-request webhook arrived: promotions waiting on pull request
    /// `number` of a repository satisfying `repo_matches` ask the forge
    /// now instead of at their next poll. Returns how many were woken.
    pub fn notify_pull_request(&self, number: u64, repo_matches: &dyn Fn(&str) -> bool) -> usize {
        self.inner.pr_waiters.wake(number, repo_matches)
    }

    /// The release as the engine holds it (live) or as stored.
    pub async fn release(&self, id: &str) -> Result<Option<Release>, Error> {
        let handle = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|d| Arc::clone(&d.handle));
        match handle {
            Some(h) => Ok(Some(h.get().await)),
            None => self.inner.store.get(id).await.map_err(Error::Store),
        }
    }

    /// Whether release `id` has read its snapshot: stored, or read as of
    /// the request and waiting for its driver to store it (issue 24: a
    /// manual release reads it after the answer).
    pub async fn snapshot_read(&self, id: &str) -> Result<bool, Error> {
        if self.inner.early_reads.finished(id) {
            return Ok(true);
        }
        Ok(self.release(id).await?.is_some_and(|r| !r.snapshot.pending))
    }

    /// Waits until no release is being driven (tests, graceful stop).
    pub async fn idle(&self) {
        loop {
            if self
                .inner
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Inner {
    /// A handle on `release` for driving or changing it.
    pub(crate) fn handle(&self, release: Release) -> Arc<handle::ReleaseHandle> {
        handle::ReleaseHandle::new(
            release,
            Arc::clone(&self.store),
            self.events.clone(),
            &self.shutdown,
            self.clock.clone(),
        )
    }

    pub(crate) fn config(&self) -> Arc<Loaded> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The membership of `cfg` (an `Arc` from [`Inner::config`]), computed
    /// once per configuration.
    pub(crate) fn membership(&self, cfg: &Arc<Loaded>) -> Arc<Membership> {
        let mut cached = self.membership.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((of, m)) = cached.as_ref()
            && Arc::ptr_eq(of, cfg)
        {
            return Arc::clone(m);
        }
        let m = Arc::new(Membership::compute(&cfg.config));
        *cached = Some((Arc::clone(cfg), Arc::clone(&m)));
        m
    }

    pub(crate) fn is_driving(&self, id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    pub(crate) fn product_lock(&self, product: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = self.product_locks.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(product.to_owned()).or_default())
    }

    pub(crate) fn release_url(&self, product: &str, number: u64) -> String {
        format!(
            "{}/products/{product}/releases/{number}",
            self.settings.base_url.trim_end_matches('/')
        )
    }
}

/// Runs blocking Git work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    // The work stays in the caller's span (a step's trace reaches its git
    // commands).
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// Whether a small file can be written (and synced) in `dir`: false while
/// the disk is full or read-only.
pub(crate) fn disk_writable(dir: &std::path::Path) -> bool {
    use std::io::Write;
    let probe = dir.join(format!(".ferry-write-probe-{}", std::process::id()));
    let written = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(&[0u8; 4096]).and_then(|()| f.sync_data()));
    let _ = std::fs::remove_file(&probe);
    written.is_ok()
}
