//! The facts insights are computed from, and how they are read off a
//! release record.
//!
//! One [`EnvRun`] per environment of a release that finished there
//! (SUCCESSFUL, FAILED or TERMINATED): the instants that matter (when the
//! change reached the environment, when it ran there, when the run ended,
//! when it was first known to have failed) and the time spent in each
//! [`Phase`]. [`runs_of`] computes them from the record alone, so the
//! facts of any stored release can be computed again (a backfill), and
//! the same record always gives the same facts.
//!
//! [`Arrival`]s are the other input: when a commit first ran in an
//! environment. They need Git (which commits a deployment brought), so
//! they are found outside this crate and handed in.

use ferry_release::{
    EnvironmentRun, EnvironmentStatus, Release, ReleaseKind, StepPhase, StepRun, StepStatus,
    TerminationReason, Timestamp,
};
use serde::{Deserialize, Serialize};

/// Unix epoch milliseconds: the store's time columns, and every instant here.
pub type Millis = i64;

/// `t` as epoch milliseconds (saturating far outside any real date).
pub fn millis(t: Timestamp) -> Millis {
    let ms = t.unix_timestamp_nanos() / 1_000_000;
    Millis::try_from(ms).unwrap_or(if ms < 0 { Millis::MIN } else { Millis::MAX })
}

/// Where time goes: the kinds of wait and work a promotion consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// The release waited in its product's queue (created → first
    /// environment started). Recorded on the trigger environment's run.
    Queue,
    /// The environment could start (every environment it depends on had
    /// finished) but had not: promotion windows and freezes hold a release
    /// here; without them it is the engine's scheduling.
    Window,
    /// Pre-action workflows.
    PreAction,
    /// The `commit` (or `none`) promotion action.
    Commit,
    /// The `pr` promotion action: from opening the pull request to its merge.
    PullRequest,
    /// Waiting until the applications are synced at the promotion commit
    /// and healthy.
    Sync,
    /// Post-action workflows.
    PostAction,
    /// The environment's `onStart` / `onSuccess` / `onFail` hooks.
    Hooks,
}

impl Phase {
    pub const ALL: [Phase; 8] = [
        Phase::Queue,
        Phase::Window,
        Phase::PreAction,
        Phase::Commit,
        Phase::PullRequest,
        Phase::Sync,
        Phase::PostAction,
        Phase::Hooks,
    ];

    /// The API's word (camelCase, as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Queue => "queue",
            Phase::Window => "window",
            Phase::PreAction => "preAction",
            Phase::Commit => "commit",
            Phase::PullRequest => "pullRequest",
            Phase::Sync => "sync",
            Phase::PostAction => "postAction",
            Phase::Hooks => "hooks",
        }
    }

    pub fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Words for people (page, CLI).
    pub fn label(self) -> &'static str {
        match self {
            Phase::Queue => "queued",
            Phase::Window => "waiting to start",
            Phase::PreAction => "pre-action",
            Phase::Commit => "commit",
            Phase::PullRequest => "pull request",
            Phase::Sync => "sync and health",
            Phase::PostAction => "post-action",
            Phase::Hooks => "hooks",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Time spent per phase in one environment run (`None`: the phase did not
/// happen there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases([Option<Millis>; 8]);

impl Phases {
    pub fn get(&self, phase: Phase) -> Option<Millis> {
        self.0[phase.index()]
    }

    pub fn set(&mut self, phase: Phase, value: Option<Millis>) {
        self.0[phase.index()] = value;
    }

    /// The phases that happened, in [`Phase::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Phase, Millis)> + '_ {
        Phase::ALL
            .into_iter()
            .filter_map(|p| self.get(p).map(|v| (p, v)))
    }
}

/// How an environment run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    Successful,
    Failed,
    Terminated,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Successful => "SUCCESSFUL",
            RunStatus::Failed => "FAILED",
            RunStatus::Terminated => "TERMINATED",
        }
    }

    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Successful,
            RunStatus::Failed,
            RunStatus::Terminated,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// The word a termination reason is stored as.
pub fn termination_str(reason: TerminationReason) -> &'static str {
    match reason {
        TerminationReason::User => "user",
        TerminationReason::Timeout => "timeout",
        TerminationReason::Superseded => "superseded",
        TerminationReason::Queue => "queue",
    }
}

pub fn parse_termination(s: &str) -> Option<TerminationReason> {
    [
        TerminationReason::User,
        TerminationReason::Timeout,
        TerminationReason::Superseded,
        TerminationReason::Queue,
    ]
    .into_iter()
    .find(|r| termination_str(*r) == s)
}

/// One release's run through one environment, once it ended there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvRun {
    pub release_id: String,
    pub product: String,
    /// The release's number (orders releases finishing at the same instant).
    pub number: u64,
    pub environment: String,
    /// The trigger environment (nothing is promoted into it).
    pub trigger: bool,
    /// The release promoted an earlier release's snapshot.
    pub rollback: bool,
    /// The release is a hotfix (its flow is labelled so).
    pub hotfix: bool,
    pub status: RunStatus,
    /// Why the release was terminated, when it was.
    pub termination: Option<TerminationReason>,
    pub started_at: Option<Millis>,
    /// When the change reached the environment: the last successful
    /// promotion action (commit pushed, pull request merged) of its
    /// applications. `None`: nothing was promoted (the run failed before,
    /// or the environment has no application).
    pub changed_at: Option<Millis>,
    /// When the change ran there: the last application synced at its
    /// promotion commit and healthy (SUCCESSFUL runs with a change only).
    pub running_at: Option<Millis>,
    pub finished_at: Millis,
    /// The first moment the change was known to have failed there
    /// (FAILED, or terminated by a person or the timeout, after the
    /// change reached the environment).
    pub failed_at: Option<Millis>,
    pub phases: Phases,
}

impl EnvRun {
    /// A production deployment candidate: the change reached the
    /// environment and a newer release did not take the run over (a run
    /// terminated as superseded, or pushed out of the queue, is the newer
    /// release's business).
    pub fn is_deployment(&self) -> bool {
        self.changed_at.is_some()
            && !(self.status == RunStatus::Terminated
                && matches!(
                    self.termination,
                    Some(TerminationReason::Superseded | TerminationReason::Queue)
                ))
    }
}

/// The facts of every environment the release finished, in its order.
/// Environments still pending or running give none.
pub fn runs_of(release: &Release) -> Vec<EnvRun> {
    let rollback = matches!(release.kind, ReleaseKind::Rollback { .. });
    let termination = release.termination.as_ref().map(|t| t.reason);
    let created = millis(release.created_at);
    let queue = release
        .environments
        .iter()
        .filter_map(|e| e.started_at)
        .min()
        .map(|s| (millis(s) - created).max(0));
    release
        .environments
        .iter()
        .filter_map(|e| {
            let status = match e.status {
                EnvironmentStatus::Successful => RunStatus::Successful,
                EnvironmentStatus::Failed => RunStatus::Failed,
                EnvironmentStatus::Terminated => RunStatus::Terminated,
                _ => return None,
            };
            let finished_at = millis(e.finished_at.or(release.finished_at)?);
            let changed_at = e
                .applications
                .iter()
                .flat_map(|a| &a.steps)
                .filter(|s| s.phase == StepPhase::Action && s.status == StepStatus::Success)
                .filter_map(|s| s.finished_at.map(millis))
                .max();
            let running_at = match (status, changed_at) {
                (RunStatus::Successful, Some(_)) => Some(
                    e.applications
                        .iter()
                        .flat_map(|a| &a.steps)
                        .filter(|s| s.phase == StepPhase::Sync && s.status == StepStatus::Success)
                        .filter_map(|s| s.finished_at.map(millis))
                        .max()
                        .unwrap_or(finished_at),
                ),
                _ => None,
            };
            let failed_at = match (status, changed_at) {
                (RunStatus::Failed, Some(_)) => Some(finished_at),
                (RunStatus::Terminated, Some(_))
                    if !matches!(
                        termination,
                        Some(TerminationReason::Superseded | TerminationReason::Queue)
                    ) =>
                {
                    Some(finished_at)
                }
                _ => None,
            };
            let mut phases = phases_of(release, e, finished_at);
            if e.trigger {
                phases.set(Phase::Queue, queue);
            }
            Some(EnvRun {
                release_id: release.id.clone(),
                product: release.product.clone(),
                number: release.number,
                environment: e.name.clone(),
                trigger: e.trigger,
                rollback,
                hotfix: release.hotfix,
                status,
                termination: (status == RunStatus::Terminated)
                    .then_some(termination)
                    .flatten(),
                started_at: e.started_at.map(millis),
                changed_at,
                running_at,
                finished_at,
                failed_at,
                phases,
            })
        })
        .collect()
}

/// The time of each phase in one environment: for the applications'
/// steps, the span from the first step of the phase starting to the last
/// one ending (applications run in parallel, so this is the phase's share
/// of the environment's wall time, not a sum over applications).
fn phases_of(release: &Release, e: &EnvironmentRun, env_finished: Millis) -> Phases {
    let mut phases = Phases::default();
    let app_steps = || e.applications.iter().flat_map(|a| &a.steps);
    let kind_of = |s: &StepRun| match s.phase {
        StepPhase::PreAction => Some(Phase::PreAction),
        StepPhase::Action if s.name == "pr" => Some(Phase::PullRequest),
        StepPhase::Action => Some(Phase::Commit),
        StepPhase::Sync => Some(Phase::Sync),
        StepPhase::PostAction => Some(Phase::PostAction),
        StepPhase::Hook => Some(Phase::Hooks),
    };
    for phase in [
        Phase::PreAction,
        Phase::Commit,
        Phase::PullRequest,
        Phase::Sync,
        Phase::PostAction,
    ] {
        phases.set(
            phase,
            span(
                app_steps().filter(|s| kind_of(s) == Some(phase)),
                env_finished,
            ),
        );
    }
    phases.set(
        Phase::Hooks,
        span(
            e.hooks
                .iter()
                .chain(app_steps().filter(|s| s.phase == StepPhase::Hook)),
            env_finished,
        ),
    );
    // Ready once every environment it depends on finished.
    if let Some(started) = e.started_at.map(millis)
        && !e.depends_on.is_empty()
    {
        let ready = e
            .depends_on
            .iter()
            .map(|d| {
                release
                    .environment(d)
                    .and_then(|d| d.finished_at)
                    .map(millis)
            })
            .collect::<Option<Vec<_>>>()
            .and_then(|ends| ends.into_iter().max());
        phases.set(Phase::Window, ready.map(|r| (started - r).max(0)));
    }
    phases
}

/// First start → last end of `steps` that started; a step that started
/// and ended without a recorded end counts until the environment ended.
fn span<'a>(steps: impl Iterator<Item = &'a StepRun>, env_finished: Millis) -> Option<Millis> {
    let mut first: Option<Millis> = None;
    let mut last: Option<Millis> = None;
    for s in steps {
        let Some(start) = s.started_at.map(millis) else {
            continue;
        };
        let end = s.finished_at.map(millis).unwrap_or(env_finished).max(start);
        first = Some(first.map_or(start, |f| f.min(start)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    Some((last? - first?).max(0))
}

/// When a commit first ran in an environment (lead time for changes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arrival {
    pub product: String,
    pub environment: String,
    pub sha: String,
    /// The commit's time (its author date, as the release notes show it).
    pub committed_at: Millis,
    /// The `running_at` of the first successful deployment that brought it.
    pub arrived_at: Millis,
    /// That deployment's release.
    pub release_id: String,
}

/// When an environment of a product first ran a release (environments
/// added later are measured from then).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FirstSeen {
    pub product: String,
    pub environment: String,
    pub at: Millis,
}

/// The instant a run counts from for [`FirstSeen`].
pub fn seen_at(run: &EnvRun) -> Millis {
    run.started_at
        .unwrap_or(run.finished_at)
        .min(run.finished_at)
}

/// [`FirstSeen`] of every (product, environment) of `runs` — what the
/// store keeps up to date as runs are recorded.
pub fn first_seen_of<'a>(runs: impl IntoIterator<Item = &'a EnvRun>) -> Vec<FirstSeen> {
    let mut first: std::collections::BTreeMap<(&str, &str), Millis> = Default::default();
    for r in runs {
        let at = seen_at(r);
        first
            .entry((&r.product, &r.environment))
            .and_modify(|f| *f = (*f).min(at))
            .or_insert(at);
    }
    first
        .into_iter()
        .map(|((product, environment), at)| FirstSeen {
            product: product.to_owned(),
            environment: environment.to_owned(),
            at,
        })
        .collect()
}
