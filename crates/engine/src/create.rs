//! Creating releases (SPEC §3, §4.1): resolve the flow, freeze it with each
//! step's policy, snapshot the trigger environment, store it exactly once,
//! then hand it to the driver (or the product's queue).

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_gitops::{AppSource, read_snapshot};
use ferry_model::flowgraph::FlowGraph;
use ferry_model::membership::{Member, ProductMembers};
use ferry_model::resource::{ConcurrencyPolicy, Hooks, PolicySettings};
use ferry_model::{Loaded, Membership};
use ferry_release::{
    ApplicationRun, EnvironmentRun, EnvironmentStatus, EventKind, FlowTimeout, FrozenFlow,
    FrozenStep, NewEvent, Release, ReleaseKind, ReleaseStatus, Snapshot, StepPhase, StepRun,
    Trigger, new_release_id, now,
};

use crate::drive;
use crate::store::Created;
use crate::{Error, Inner, PromotionRequest, blocking};

/// The flow name shown for manual one-environment promotions and rollbacks.
pub const MANUAL: &str = "Manual";

/// The PromotionFlow label (value `"true"`) that makes its releases hotfix
/// releases: delivery insights count the production deployment a hotfix
/// follows as a failed deployment (issue 21).
pub const HOTFIX_LABEL: &str = "ferry.io/hotfix";

pub(crate) fn members<'m>(
    membership: &'m Membership,
    product: &str,
) -> Result<&'m ProductMembers, Error> {
    membership
        .product(product)
        .ok_or_else(|| Error::UnknownProduct(product.to_owned()))
}

/// A manual trigger.
pub(crate) async fn manual(
    inner: &Arc<Inner>,
    product: &str,
    req: PromotionRequest,
    initiator: &str,
    idempotent: Option<&ferry_store::IdempotentRequest>,
) -> Result<Stored, Error> {
    let cfg = inner.config();
    let membership = inner.membership(&cfg);
    let pm = members(&membership, product)?;
    let (flow, kind, rollback_of) = match (&req.flow, &req.target_environment, &req.rollback_to) {
        (Some(flow), None, None) => (flow_frozen(&cfg, pm, flow)?, ReleaseKind::Flow, None),
        (None, Some(target), None) => {
            let source = match &req.source_environment {
                Some(s) => s.clone(),
                None => default_source(&cfg, product, target)?,
            };
            (
                single_step(&cfg, pm, &source, target, req.policy.as_ref())?,
                ReleaseKind::Manual,
                None,
            )
        }
        (None, Some(target), Some(from)) => {
            let earlier = inner
                .store
                .get(from)
                .await
                .map_err(Error::Store)?
                .ok_or_else(|| Error::NotFound(from.clone()))?;
            if earlier.product != product {
                return Err(Error::BadRequest(format!(
                    "release {from} belongs to product `{}`",
                    earlier.product
                )));
            }
            let source = earlier.snapshot.environment.clone();
            let flow = single_step(&cfg, pm, &source, target, req.policy.as_ref())?;
            (
                flow,
                ReleaseKind::Rollback {
                    from_release: from.clone(),
                },
                Some(earlier),
            )
        }
        _ => {
            return Err(Error::BadRequest(
                "give either `flow`, or `targetEnvironment` (with optional `sourceEnvironment` and `policy`), or `rollbackTo` with `targetEnvironment`".into(),
            ));
        }
    };
    let (snapshot, version, trigger) = match rollback_of {
        Some(earlier) => (
            earlier.snapshot.clone(),
            earlier.version.clone(),
            earlier.trigger.clone(),
        ),
        None => {
            // Accept, then work (issue 24): the snapshot, trigger commit
            // and version are read by the driver, after a fetch; the
            // request is answered without waiting on Git.
            let apps: Vec<Member> = pm
                .in_environment(&flow.trigger_environment)
                .cloned()
                .collect();
            check_members(&flow.trigger_environment, &apps)?;
            pending(&cfg, &flow.trigger_environment, &apps)
        }
    };
    let release = assemble(
        &cfg, pm, product, flow, kind, initiator, trigger, version, snapshot,
    );
    store_and_start(inner, release, None, idempotent).await
}

/// What [`store_and_start`] did.
pub(crate) enum Stored {
    /// The release, stored and started (or queued).
    New(Box<Release>),
    /// The request's idempotency key was used before: its first answer
    /// (nothing was stored).
    Remembered(ferry_store::Remembered),
}

/// An automatic trigger: `sha` changed `application`, a trigger
/// application of `flow`; the release's version is that application's
/// (SPEC §4.1), whatever order the trigger environment lists them in.
pub(crate) async fn automatic(
    inner: &Arc<Inner>,
    product: &str,
    flow_name: &str,
    application: &str,
    trigger: Trigger,
) -> Result<Option<Release>, Error> {
    let cfg = inner.config();
    let membership = inner.membership(&cfg);
    let pm = members(&membership, product)?;
    let flow = flow_frozen(&cfg, pm, flow_name)?;
    let apps: Vec<Member> = pm
        .in_environment(&flow.trigger_environment)
        .cloned()
        .collect();
    let (snapshot, version, trigger) = take_snapshot(
        inner,
        &cfg,
        &flow.trigger_environment,
        apps,
        Some(trigger),
        Some(application),
        std::time::SystemTime::now(),
    )
    .await?;
    let key = format!("{product}@{}", trigger.sha);
    let initiator = trigger.author.clone();
    let release = assemble(
        &cfg,
        pm,
        product,
        flow,
        ReleaseKind::Automatic,
        &initiator,
        trigger,
        version,
        snapshot,
    );
    match store_and_start(inner, release, Some(key), None).await {
        Ok(Stored::New(r)) => Ok(Some(*r)),
        Ok(Stored::Remembered(_)) | Err(Error::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn flow_frozen(cfg: &Loaded, pm: &ProductMembers, flow_name: &str) -> Result<FrozenFlow, Error> {
    let product = &pm.name;
    let allowed = cfg
        .config
        .product(product)
        .is_some_and(|p| p.spec.promotion_flows.iter().any(|f| f.name == flow_name));
    let flow = cfg
        .config
        .flow(flow_name)
        .filter(|_| allowed)
        .ok_or_else(|| Error::UnknownFlow {
            product: product.clone(),
            flow: flow_name.to_owned(),
        })?;
    let graph = FlowGraph::build(flow).map_err(|problems| Error::InvalidFlow {
        flow: flow_name.to_owned(),
        message: problems
            .iter()
            .map(|p| format!("{}: {}", p.field, p.message))
            .collect::<Vec<_>>()
            .join("; "),
    })?;
    let body = &flow.spec.body;
    Ok(FrozenFlow::freeze(
        &graph,
        body.hooks.clone().unwrap_or_default(),
        body.trigger_policy
            .as_ref()
            .and_then(|p| p.post_action.clone()),
        flow.timeout().as_secs(),
        |env, inline| ferry_model::evaluate(&cfg.config, product, env, inline, Some(pm)).settings(),
    ))
}

/// The environment before `target` in the first of the product's flows
/// that has `target` as a step.
fn default_source(cfg: &Loaded, product: &str, target: &str) -> Result<String, Error> {
    let flows = cfg
        .config
        .product(product)
        .map(|p| p.spec.promotion_flows.clone())
        .unwrap_or_default();
    flows
        .iter()
        .filter_map(|f| cfg.config.flow(&f.name))
        .filter_map(|f| FlowGraph::build(f).ok())
        .find_map(|g| g.step(target).and_then(|s| s.depends_on.first().cloned()))
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "no default source environment for `{target}` (no flow of product `{product}` promotes to it); give `sourceEnvironment`"
            ))
        })
}

pub(crate) fn single_step(
    cfg: &Loaded,
    pm: &ProductMembers,
    source: &str,
    target: &str,
    inline: Option<&PolicySettings>,
) -> Result<FrozenFlow, Error> {
    for env in [source, target] {
        if cfg.config.environment(env).is_none() {
            return Err(Error::UnknownEnvironment(env.to_owned()));
        }
    }
    if source == target {
        return Err(Error::BadRequest(
            "source and target environment are the same".into(),
        ));
    }
    // Refused now rather than failing the release later with an ERROR step.
    if let Some(inline) = inline {
        for (field, name) in [
            ("policy.preAction", &inline.pre_action),
            ("policy.postAction", &inline.post_action),
        ] {
            if let Some(name) = name
                && cfg.config.workflow_template(name).is_none()
            {
                return Err(Error::UnknownWorkflow {
                    field,
                    name: name.clone(),
                });
            }
        }
    }
    let policy = ferry_model::evaluate(&cfg.config, &pm.name, target, inline, Some(pm)).settings();
    Ok(FrozenFlow {
        name: MANUAL.to_owned(),
        trigger_environment: source.to_owned(),
        steps: vec![FrozenStep {
            environment: target.to_owned(),
            depends_on: vec![source.to_owned()],
            policy,
            hooks: Hooks::default(),
        }],
        hooks: Hooks::default(),
        trigger_post_action: None,
        timeout_seconds: ferry_model::resource::DEFAULT_FLOW_TIMEOUT.as_secs(),
    })
}

/// What the trigger environment holds: the snapshot, the release version
/// and the trigger commit (SPEC §4.1).
pub(crate) type TriggerState = (Snapshot, Option<String>, Trigger);

/// What can be said of the trigger environment's applications from the
/// configuration alone: there is one, and no two share a key.
fn check_members(environment: &str, apps: &[Member]) -> Result<(), Error> {
    if apps.is_empty() {
        return Err(Error::BadRequest(format!(
            "the product has no application in the trigger environment `{environment}`"
        )));
    }
    let mut keys = std::collections::BTreeSet::new();
    for m in apps {
        if !keys.insert(m.key.as_str()) {
            return Err(duplicate_key(&m.key));
        }
    }
    Ok(())
}

fn duplicate_key(key: &str) -> Error {
    Error::BadRequest(format!(
        "two applications of the trigger environment share the key `{key}`; label them `ferry.io/application`"
    ))
}

/// A snapshot still to be read by the driver: nothing of Git is known
/// yet but the repository of the first application.
fn pending(cfg: &Loaded, environment: &str, apps: &[Member]) -> TriggerState {
    let repo_url = apps
        .iter()
        .find_map(|m| cfg.config.applications[m.app].promoted_source())
        .map(|s| s.repo_url.clone())
        .unwrap_or_default();
    let snapshot = Snapshot {
        environment: environment.to_owned(),
        applications: BTreeMap::new(),
        pending: true,
    };
    let trigger = Trigger {
        repo_url,
        sha: String::new(),
        message: String::new(),
        author: String::new(),
        date: String::new(),
        branch: String::new(),
    };
    (snapshot, None, trigger)
}

/// Reads the snapshot of every application of the trigger environment. For
/// an automatic trigger the trigger application is read at the trigger
/// commit; everything else at its branch tip after a fetch that started at
/// or after `since` (the request), shared with every other release that
/// needs one of the same repository: see `ferry_git::Mirror::fetch_since`.
pub(crate) async fn take_snapshot(
    inner: &Arc<Inner>,
    cfg: &Arc<Loaded>,
    environment: &str,
    apps: Vec<Member>,
    trigger: Option<Trigger>,
    version_from: Option<&str>,
    since: std::time::SystemTime,
) -> Result<TriggerState, Error> {
    check_members(environment, &apps)?;
    let workspace = Arc::clone(&inner.workspace);
    let cfg = Arc::clone(cfg);
    let environment = environment.to_owned();
    let version_from = version_from.map(str::to_owned);
    blocking(move || {
        let mut snapshot = Snapshot {
            environment,
            applications: BTreeMap::new(),
            pending: false,
        };
        let mut version = None;
        let mut trigger_out = trigger.clone();
        for m in &apps {
            let app = &cfg.config.applications[m.app];
            let Some(source) = app.promoted_source() else {
                continue;
            };
            let path = source.path.clone().unwrap_or_default();
            let mirror = workspace.mirror(&source.repo_url)?;
            // One fetch per repository however many applications it holds.
            mirror.fetch_since(since)?;
            let rev = match &trigger {
                Some(t) if t.repo_url == source.repo_url => t.sha.clone(),
                _ => app.target_revision().to_owned(),
            };
            let reader = mirror.at(&rev)?;
            let read = read_snapshot(
                &reader,
                AppSource {
                    application: app.name(),
                    repo_url: &source.repo_url,
                    path: &path,
                },
                &m.template.body,
            )?;
            // The trigger application's version wins; otherwise the first
            // application (in configuration order) that has one.
            let from_trigger_app = version_from.as_deref() == Some(app.name());
            if version.is_none() || (from_trigger_app && read.version.is_some()) {
                version = read.version.clone();
            }
            if trigger_out.is_none() {
                let info = mirror.commit_info(&rev)?;
                trigger_out = Some(Trigger {
                    repo_url: source.repo_url.clone(),
                    sha: info.id.to_string(),
                    message: info.message.clone(),
                    author: info.author.name.clone(),
                    date: info.author.time.to_rfc3339(),
                    branch: mirror
                        .branch_for(app.target_revision())
                        .unwrap_or_else(|_| app.target_revision().to_owned()),
                });
            }
            if snapshot
                .applications
                .insert(m.key.clone(), read.snapshot)
                .is_some()
            {
                return Err(duplicate_key(&m.key));
            }
        }
        let trigger = trigger_out.ok_or_else(|| Error::Internal("no trigger commit".into()))?;
        Ok((snapshot, version, trigger))
    })
    .await
}

fn app_run(cfg: &Loaded, m: &Member, steps: Vec<StepRun>) -> ApplicationRun {
    let app = &cfg.config.applications[m.app];
    let source = app.promoted_source();
    ApplicationRun {
        name: m.name.clone(),
        key: m.key.clone(),
        repo_url: source.map(|s| s.repo_url.clone()).unwrap_or_default(),
        path: source.and_then(|s| s.path.clone()).unwrap_or_default(),
        target_revision: app.target_revision().to_owned(),
        namespace: app.spec.destination.namespace.clone(),
        status: EnvironmentStatus::Pending,
        promotion_commit: None,
        pull_request: None,
        sync: None,
        health: None,
        observed_at: None,
        steps,
        outputs: BTreeMap::new(),
    }
}

/// The steps of one application in a target environment, from its policy.
pub(crate) fn pipeline(step: &FrozenStep) -> Vec<StepRun> {
    let mut steps = Vec::new();
    if let Some(pre) = &step.policy.pre_action {
        steps.push(StepRun::pending(pre.clone(), StepPhase::PreAction));
    }
    let action = step.action();
    steps.push(StepRun::pending(action.as_str(), StepPhase::Action));
    steps.push(StepRun::pending("sync", StepPhase::Sync));
    if let Some(post) = &step.policy.post_action {
        steps.push(StepRun::pending(post.clone(), StepPhase::PostAction));
    }
    steps
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn assemble(
    cfg: &Loaded,
    pm: &ProductMembers,
    product: &str,
    flow: FrozenFlow,
    kind: ReleaseKind,
    initiator: &str,
    trigger: Trigger,
    version: Option<String>,
    snapshot: Snapshot,
) -> Release {
    let mut environments = Vec::new();
    let trigger_steps = |_: &Member| -> Vec<StepRun> {
        flow.trigger_post_action
            .iter()
            .map(|w| StepRun::pending(w.clone(), StepPhase::PostAction))
            .collect()
    };
    environments.push(EnvironmentRun {
        name: flow.trigger_environment.clone(),
        status: EnvironmentStatus::Pending,
        depends_on: Vec::new(),
        trigger: true,
        issues: Vec::new(),
        applications: pm
            .in_environment(&flow.trigger_environment)
            .map(|m| app_run(cfg, m, trigger_steps(m)))
            .collect(),
        hooks: Vec::new(),
        approval: None,
        started_at: None,
        finished_at: None,
        hold: None,
    });
    for step in &flow.steps {
        environments.push(EnvironmentRun {
            name: step.environment.clone(),
            status: EnvironmentStatus::Pending,
            depends_on: step.depends_on.clone(),
            trigger: false,
            issues: Vec::new(),
            applications: pm
                .in_environment(&step.environment)
                .map(|m| app_run(cfg, m, pipeline(step)))
                .collect(),
            hooks: Vec::new(),
            approval: None,
            started_at: None,
            finished_at: None,
            hold: None,
        });
    }
    // A flow labelled as the hotfix path marks its releases (issue 21).
    let hotfix = matches!(kind, ReleaseKind::Automatic | ReleaseKind::Flow)
        && cfg.config.flow(&flow.name).is_some_and(|f| {
            f.metadata
                .labels
                .get(HOTFIX_LABEL)
                .is_some_and(|v| v == "true")
        });
    Release {
        id: new_release_id(),
        number: 0,
        product: product.to_owned(),
        flow: flow.name.clone(),
        kind,
        status: ReleaseStatus::Running,
        initiator: initiator.to_owned(),
        created_at: now(),
        finished_at: None,
        version,
        trigger,
        graph: flow,
        snapshot,
        environments,
        hooks: Vec::new(),
        termination: None,
        hotfix,
        break_glass: None,
        attempt: 1,
        rolled_back_by: Vec::new(),
        rollback_for: None,
        timeout: None,
    }
}

/// Starts the flow timeout's account of a release being created
/// (`ferry_release::FlowTimeout`), once its status is decided.
pub(crate) fn start_timeout(inner: &Inner, release: &mut Release) {
    let now = inner.clock.now();
    release.timeout = Some(FlowTimeout::starting(now, release.graph.timeout_seconds));
    release.account_pauses(now);
}

/// Stores the release (exactly once per trigger key), applies the
/// product's concurrency policy and starts (or queues) it.
async fn store_and_start(
    inner: &Arc<Inner>,
    mut release: Release,
    trigger_key: Option<String>,
    idempotent: Option<&ferry_store::IdempotentRequest>,
) -> Result<Stored, Error> {
    let lock = inner.product_lock(&release.product);
    let _guard = lock.lock().await;
    // Other replicas decide about this product too (issue 11).
    let gate = crate::lease::product_gate(inner, &release.product).await?;
    let concurrency = inner
        .config()
        .config
        .product(&release.product)
        .map(|p| p.concurrency())
        .unwrap_or_default();
    let active = match drive::active_of_product(inner, &release.product).await {
        Ok(active) => active,
        Err(e) => {
            crate::lease::release_gate(gate).await;
            return Err(e);
        }
    };
    let mut to_terminate = Vec::new();
    if !active.is_empty() {
        match concurrency.policy {
            // `supersede` queues too; the older releases that wait are
            // replaced once it is stored (below).
            ConcurrencyPolicy::Queue | ConcurrencyPolicy::Supersede => {
                release.status = ReleaseStatus::Queued
            }
            ConcurrencyPolicy::Terminate => {
                let mine: Vec<&str> = release
                    .environments
                    .iter()
                    .filter(|e| !e.trigger)
                    .map(|e| e.name.as_str())
                    .collect();
                for other in &active {
                    if other
                        .environments
                        .iter()
                        .any(|e| !e.trigger && mine.contains(&e.name.as_str()))
                    {
                        to_terminate.push(other.id.clone());
                    } else {
                        release.status = ReleaseStatus::Queued;
                    }
                }
                if to_terminate.len() == active.len() {
                    release.status = ReleaseStatus::Running;
                }
            }
        }
    }
    // The flow timeout counts from here, on the engine's clock, and
    // stands still while the release is queued (issue 20).
    start_timeout(inner, &mut release);
    let mut created = NewEvent::new(EventKind::Audit, release.status.to_string()).message(format!(
        "release created by {} ({})",
        release.initiator, release.flow
    ));
    created.at = release.created_at;
    let created = match idempotent {
        Some(request) => {
            inner
                .store
                .create_idempotent(release, request, vec![created])
                .await
        }
        None => {
            inner
                .store
                .create(release, trigger_key, vec![created])
                .await
        }
    }
    .map_err(crate::store_error);
    crate::lease::release_gate(gate).await;
    let stored = match created? {
        Created::New(r, events) => {
            for e in events {
                let _ = inner.events.send(e);
            }
            *r
        }
        Created::Remembered(first) => return Ok(Stored::Remembered(first)),
        Created::Duplicate(id) => {
            return Err(Error::Conflict {
                id,
                status: "already created".into(),
                action: "creating it again",
            });
        }
    };
    drop(_guard);
    // Who superseded it: the new release (its comment on a pull request
    // it closes names it).
    let by = format!("release #{}", stored.number);
    for id in to_terminate {
        let _ = drive::terminate(
            inner,
            &id,
            &by,
            ferry_release::TerminationReason::Superseded,
            None,
        )
        .await;
    }
    if concurrency.policy == ConcurrencyPolicy::Supersede {
        // Queued or waiting older releases are replaced by this one (issue
        // 20); their drivers end them and hand the queue on to it.
        if let Err(e) = drive::supersede_waiting(inner, &stored.product).await {
            tracing::warn!(product = %stored.product, error = %e, "superseding waiting releases");
        }
    }
    // The snapshot is the trigger environment as of the request (SPEC
    // §4.1), also for a release that waits in the queue: read now, in the
    // background, and taken by the driver when it starts.
    drive::read_early(inner, &stored);
    if stored.status == ReleaseStatus::Queued {
        drive::enforce_queue_limit(inner, &stored.product, concurrency.queue_limit).await;
    } else {
        drive::start(inner, stored.clone());
    }
    Ok(Stored::New(Box::new(stored)))
}
