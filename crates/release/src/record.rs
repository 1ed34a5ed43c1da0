//! The release record (SPEC §4.1, §9): what is fixed at creation, and the
//! progress of every environment, application and step.

use std::collections::BTreeMap;

use ferry_model::flowgraph::FlowGraph;
use ferry_model::resource::{Action, Hooks, PolicySettings};
use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::status::{EnvironmentStatus, ReleaseStatus, StepStatus};

/// A new release id: a ULID, so ids sort by creation time.
pub fn new_release_id() -> String {
    ulid::Ulid::new().to_string()
}

/// How the release was triggered (SPEC §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ReleaseKind {
    /// A commit in the trigger environment.
    Automatic,
    /// A person promoted to one environment.
    Manual,
    /// A person started a flow.
    Flow,
    /// A person promoted an earlier release's snapshot.
    #[serde(rename_all = "camelCase")]
    Rollback { from_release: String },
}

/// The trigger commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    pub repo_url: String,
    pub sha: String,
    pub message: String,
    pub author: String,
    /// RFC 3339 commit date.
    pub date: String,
    pub branch: String,
}

/// The flow as it was when the release was created, with each step's
/// policy resolved; configuration changes never alter a running release.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FrozenFlow {
    /// Flow name, or `Manual`.
    pub name: String,
    pub trigger_environment: String,
    /// Target environments in a topological order.
    pub steps: Vec<FrozenStep>,
    #[serde(default)]
    pub hooks: Hooks,
    /// Workflow run in the trigger environment before it counts as done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_post_action: Option<String>,
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FrozenStep {
    pub environment: String,
    pub depends_on: Vec<String>,
    /// The effective policy (SPEC §2), with the default action applied.
    pub policy: PolicySettings,
    #[serde(default)]
    pub hooks: Hooks,
}

impl FrozenStep {
    pub fn action(&self) -> Action {
        self.policy.action.unwrap_or(Action::Commit)
    }
}

impl FrozenFlow {
    /// Builds the frozen form of a validated flow graph; `resolve` gives the
    /// effective policy of each target environment.
    pub fn freeze(
        graph: &FlowGraph,
        hooks: Hooks,
        trigger_post_action: Option<String>,
        timeout_seconds: u64,
        mut resolve: impl FnMut(&str, Option<&PolicySettings>) -> PolicySettings,
    ) -> FrozenFlow {
        FrozenFlow {
            name: graph.name.clone(),
            trigger_environment: graph.trigger_environment.clone(),
            steps: graph
                .steps
                .iter()
                .map(|s| FrozenStep {
                    environment: s.environment.clone(),
                    depends_on: s.depends_on.clone(),
                    policy: resolve(&s.environment, s.policy.as_ref()),
                    hooks: s.hooks.clone().unwrap_or_default(),
                })
                .collect(),
            hooks,
            trigger_post_action,
            timeout_seconds,
        }
    }

    pub fn step(&self, environment: &str) -> Option<&FrozenStep> {
        self.steps.iter().find(|s| s.environment == environment)
    }
}

/// The promotable values of the product in the trigger environment at the
/// trigger commit (SPEC §4.1), per application key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The environment the values were read in.
    pub environment: String,
    pub applications: BTreeMap<String, ApplicationSnapshot>,
    /// Not read yet (issue 24): a manual promotion is stored and answered
    /// without waiting on Git, and its driver reads the snapshot — after a
    /// fetch — before anything else runs. Until then `applications` is
    /// empty and the release's trigger commit and version are unknown
    /// (empty SHA, no version). Read once, then never changed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSnapshot {
    /// The Application it was read from.
    pub application: String,
    pub repo_url: String,
    pub path: String,
    /// The commit the values were read at.
    pub revision: String,
    /// File → promotable values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, Vec<Object>>))]
    pub values: BTreeMap<String, Vec<ferry_yamledit::PathValue>>,
    /// File → whole contents (files promoted whole, or every file when the
    /// template has no `promotion`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

/// What stopped something (SPEC §4.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub kind: IssueKind,
    /// One line.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    /// The failing step, when a workflow failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Log lines, the remote's answer, Argo CD's message…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// The rendered workflow manifest, for workflow issues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// The attempt of the release it happened in (1 for the first run, +1
    /// per retry): issues are never removed, so a retried release keeps
    /// what went wrong before. 0 in releases stored before attempts were
    /// counted.
    #[serde(default)]
    pub attempt: u32,
}

impl Issue {
    /// Whether the issue belongs to an attempt before `current`.
    pub fn is_earlier(&self, current: u32) -> bool {
        self.attempt > 0 && self.attempt < current
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum IssueKind {
    Workflow,
    Application,
    Git,
    Forge,
    Timeout,
    Internal,
    /// An approval gate rejected or expired (issue 20).
    Approval,
}

/// Where in an application's promotion a step belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum StepPhase {
    PreAction,
    Action,
    /// Waiting until the application is synced at the promotion commit and healthy.
    Sync,
    PostAction,
    /// An environment or release hook.
    Hook,
}

/// One step: a workflow run, the Git action, or the sync wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StepRun {
    /// Workflow name, `commit`/`pr`/`none`, or `sync`; for hooks, e.g. `onStart: notify`.
    pub name: String,
    pub phase: StepPhase,
    pub status: StepStatus,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// Workflow run id, for logs, resume and terminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How many times this step was started (retries, resumes after a crash).
    #[serde(default)]
    pub attempts: u32,
    /// The workflow's own steps, as the executor reports them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<WorkflowNode>,
    /// The OpenTelemetry trace of the latest attempt (32 hex digits), when
    /// ferry exports traces (`otlpEndpoint`): its git, forge, workflow and
    /// sync-wait spans are found by it in the tracing backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

/// One step of a workflow run (a `steps` item or a DAG task).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct WorkflowNode {
    pub name: String,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

impl StepRun {
    pub fn pending(name: impl Into<String>, phase: StepPhase) -> StepRun {
        StepRun {
            name: name.into(),
            phase,
            status: StepStatus::Pending,
            started_at: None,
            finished_at: None,
            run_id: None,
            message: None,
            attempts: 0,
            nodes: Vec::new(),
            trace_id: None,
        }
    }
}

/// A pull request opened by a `pr` action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    pub branch: String,
    /// The pull request's head commit (the promotion commit on `branch`):
    /// commit statuses go there too, and it stays known after the merge
    /// makes the merge commit the promotion commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<String>,
    /// When ferry closed it (and deleted its branch) because its release
    /// was terminated or superseded: nobody is to merge it any more.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Timestamp>,
}

/// One application's promotion in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApplicationRun {
    pub name: String,
    /// Pairs it with its snapshot (see `ferry_model::membership::application_key`).
    pub key: String,
    /// Where the application is deployed from, frozen at creation.
    #[serde(default)]
    pub repo_url: String,
    #[serde(default)]
    pub path: String,
    /// Branch (or revision) as written in the Application.
    #[serde(default)]
    pub target_revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub status: EnvironmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<PullRequest>,
    /// `Synced` / `OutOfSync` / `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<String>,
    /// `Healthy`, `Progressing`, `Degraded`, … as the state provider
    /// reported it (see [`ApplicationRun::health_shown`] for what is shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// When `sync` and `health` were observed.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub observed_at: Option<Timestamp>,
    pub steps: Vec<StepRun>,
    /// Outputs of the pre-action with a `globalName`, for the post-action.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
}

/// The health shown for an application of a release: ferry's verdict,
/// from what the state provider observed and what ferry's own checks
/// found after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthShown {
    /// `Healthy`, `Degraded`, … (the state provider's words).
    pub health: String,
    /// Why it differs from what was observed, if it does.
    pub reason: Option<String>,
}

impl ApplicationRun {
    /// The first step that failed (FAILED or ERROR), if one did.
    pub fn failed_step(&self) -> Option<&StepRun> {
        self.steps
            .iter()
            .find(|s| matches!(s.status, StepStatus::Failed | StepStatus::Error))
    }

    /// The health to show (SPEC §12: only what stored facts support): the
    /// observed health, except that a failed post-action — the checks run
    /// once the application was synced and healthy, such as a smoke test —
    /// makes it `Degraded`: the application does not work although its
    /// resources report healthy. `None` before anything was observed.
    pub fn health_shown(&self) -> Option<HealthShown> {
        if let Some(s) = self
            .failed_step()
            .filter(|s| s.phase == StepPhase::PostAction)
        {
            return Some(HealthShown {
                health: "Degraded".into(),
                reason: Some(format!(
                    "post-action `{}` {}{}",
                    s.name,
                    s.status.as_str().to_lowercase(),
                    match (&self.health, self.observed_at) {
                        (Some(h), Some(_)) => format!(" after the application was observed {h}"),
                        _ => String::new(),
                    }
                )),
            });
        }
        self.health.clone().map(|health| HealthShown {
            health,
            reason: None,
        })
    }

    /// The promotion branch this application waits for when no forge
    /// opened a pull request for it (the branch is all there is): its
    /// action step is SUSPENDED on it and it was not closed.
    pub fn waits_for_branch(&self) -> Option<&str> {
        let pr = self.pull_request.as_ref()?;
        let waiting = self.status == EnvironmentStatus::Suspended
            && self
                .steps
                .iter()
                .any(|s| s.phase == StepPhase::Action && s.status == StepStatus::Suspended);
        (waiting && pr.number == 0 && pr.closed_at.is_none() && !pr.branch.is_empty())
            .then_some(pr.branch.as_str())
    }
}

/// One environment of the release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentRun {
    pub name: String,
    pub status: EnvironmentStatus,
    pub depends_on: Vec<String>,
    /// Whether this is the trigger environment (no promotion into it).
    #[serde(default)]
    pub trigger: bool,
    pub issues: Vec<Issue>,
    pub applications: Vec<ApplicationRun>,
    /// `onStart` / `onSuccess` / `onFail` hook runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<StepRun>,
    /// Its approval gate (issue 20), from when the environment reached it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::ApprovalRun>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    /// Why it waits before its first write (a closed window, a freeze);
    /// set while it is SUSPENDED there (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

/// One step of an environment as a whole: the same-named step of every
/// application, aggregated (SPEC §4.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentStep {
    pub name: String,
    pub phase: StepPhase,
    pub status: StepStatus,
}

impl EnvironmentRun {
    /// What a SUSPENDED environment waits for when ferry itself holds it
    /// (issue 20): an approval gate ("waiting for approval (k of N)"), a
    /// closed window or a freeze (its [`Hold::reason`]); `None` when it
    /// waits on something else (a pull request, a suspended workflow).
    pub fn waiting_reason(&self) -> Option<String> {
        if self.status != EnvironmentStatus::Suspended {
            return None;
        }
        self.approval
            .as_ref()
            .and_then(crate::ApprovalRun::waiting_reason)
            .or_else(|| self.hold.as_ref().map(|h| h.reason.clone()))
    }

    /// Its steps over all applications, in the order they first appear:
    /// any FAILED → FAILED, any ERROR → ERROR, any TERMINATED → TERMINATED,
    /// any RUNNING → RUNNING, any PENDING → PENDING, else SUCCESS.
    pub fn steps(&self) -> Vec<EnvironmentStep> {
        let mut order: Vec<(String, StepPhase)> = Vec::new();
        let mut statuses: std::collections::HashMap<(String, StepPhase), Vec<StepStatus>> =
            std::collections::HashMap::new();
        for s in self.applications.iter().flat_map(|a| &a.steps) {
            let key = (s.name.clone(), s.phase);
            if !statuses.contains_key(&key) {
                order.push(key.clone());
            }
            statuses.entry(key).or_default().push(s.status);
        }
        order
            .into_iter()
            .map(|key| {
                let status = StepStatus::aggregate(statuses.remove(&key).unwrap_or_default());
                EnvironmentStep {
                    name: key.0,
                    phase: key.1,
                    status,
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TerminationReason {
    User,
    Timeout,
    Superseded,
    /// Pushed out of a full queue.
    Queue,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Termination {
    pub reason: TerminationReason,
    pub by: String,
    /// The release that superseded this one under the product's
    /// `supersede` concurrency policy (issue 20), which ends it SUPERSEDED;
    /// a release the `terminate` policy replaced has none and ends
    /// TERMINATED (SPEC §4.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<ReleaseRef>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// A release (SPEC §4, JSON fields per §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Release {
    pub id: String,
    pub number: u64,
    pub product: String,
    /// Flow name, or `Manual`.
    pub flow: String,
    pub kind: ReleaseKind,
    pub status: ReleaseStatus,
    pub initiator: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    pub version: Option<String>,
    pub trigger: Trigger,
    pub graph: FrozenFlow,
    pub snapshot: Snapshot,
    pub environments: Vec<EnvironmentRun>,
    /// Release-level hook runs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<StepRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination: Option<Termination>,
    /// A hotfix release: its flow is labelled `ferry.io/hotfix: "true"`.
    /// Fixed at creation; delivery insights count the production
    /// deployment a hotfix follows as a failed one (issue 21).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hotfix: bool,
    /// 1 for the first run, +1 per retry; new issues carry it.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    /// An administrator let this release through closed promotion windows
    /// and freezes (issue 20): who, when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
    /// The rollback releases ferry started for this release (policy
    /// `onFailure: rollback`, issue 20): one per environment that failed
    /// after its promotion commit, each started once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rolled_back_by: Vec<RollbackLink>,
    /// On a rollback release ferry started itself: the failed release (and
    /// environment) it restores the previous snapshot for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_for: Option<RollbackLink>,
    /// The flow timeout's account (issue 20): its deadline on the engine's
    /// clock and the time held by windows, freezes and soak time, which
    /// does not count. `None` on a release stored before it was kept
    /// ([`Release::flow_timeout`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<crate::FlowTimeout>,
}

/// A break-glass (issue 20): one release let through closed windows and
/// freezes, by a named person with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    pub by: String,
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// Why an environment waits before its first write (issue 20): a closed
/// promotion window or a stop-the-line freeze. The environment is
/// SUSPENDED while it holds; the hold goes when the environment starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub kind: HoldKind,
    /// For people: `frozen until 2026-12-28 09:00 Europe/Berlin by window
    /// "year-end": year-end freeze`, `frozen until lifted: incident 42
    /// (freeze by ivy)`.
    pub reason: String,
    /// When it opens by itself; `None`: when a person lifts it (or the
    /// configuration changes).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub until: Option<Timestamp>,
    /// The window's name, or the freeze's id.
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub since: Timestamp,
}

/// What holds an environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum HoldKind {
    /// A PromotionWindow is closed.
    Window,
    /// A stop-the-line freeze is active.
    Freeze,
    /// The product's soak time (`minInterval`) since the previous
    /// promotion into the environment has not passed.
    Soak,
}

/// Another release of the same product, by id and number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRef {
    pub id: String,
    pub number: u64,
}

/// One end of an automatic rollback (issue 20): the other release and the
/// environment rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RollbackLink {
    pub environment: String,
    /// The other release's id.
    pub release: String,
    /// The other release's number (per product).
    pub number: u64,
}

fn first_attempt() -> u32 {
    1
}

impl Release {
    pub fn environment(&self, name: &str) -> Option<&EnvironmentRun> {
        self.environments.iter().find(|e| e.name == name)
    }

    pub fn environment_mut(&mut self, name: &str) -> Option<&mut EnvironmentRun> {
        self.environments.iter_mut().find(|e| e.name == name)
    }

    /// Whether the engine still has work for this release (it is resumed
    /// after a restart when so): not finished, or — a row that broke SPEC
    /// §12 before the store refused such saves — finished with a status
    /// that is not terminal (issue 23).
    pub fn is_active(&self) -> bool {
        self.finished_at.is_none() || !self.status.is_final()
    }

    /// Ends the steps of a release that is finishing (SPEC §12: a finished
    /// release has no PENDING or RUNNING step): a step that never ran ends
    /// SKIPPED — TERMINATED when the release was terminated — and one still
    /// running or waiting is stopped (TERMINATED). Each says why.
    pub fn end_unrun_steps(&mut self, at: Timestamp) {
        let terminated = self.termination.is_some();
        let never_ran = if terminated {
            StepStatus::Terminated
        } else {
            StepStatus::Skipped
        };
        let end = |s: &mut StepRun, why: &dyn Fn() -> String| {
            if s.status == StepStatus::Pending {
                s.status = never_ran;
                s.message = Some(why());
            } else if s.status.is_active() {
                s.status = StepStatus::Terminated;
                s.finished_at = Some(at);
                s.message = Some(format!(
                    "stopped when the release ended{}",
                    s.message
                        .as_deref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                ));
            }
        };
        let release_why = || {
            if terminated {
                "not run: the release was terminated".to_owned()
            } else {
                "not run: the release ended before it".to_owned()
            }
        };
        for h in &mut self.hooks {
            end(h, &release_why);
        }
        for e in &mut self.environments {
            let env_started = e.started_at.is_some();
            let depends = e.depends_on.join(", ");
            for h in &mut e.hooks {
                end(h, &release_why);
            }
            for a in &mut e.applications {
                let failed = a.failed_step().map(|s| s.name.clone());
                let why = || match (&failed, terminated, env_started) {
                    (Some(f), _, _) => format!("not run: step `{f}` failed"),
                    (None, true, _) => "not run: the release was terminated".to_owned(),
                    (None, false, false) if !depends.is_empty() => {
                        format!(
                            "not run: the environment did not start ({depends} did not succeed)"
                        )
                    }
                    (None, false, _) => "not run: the release ended before it".to_owned(),
                };
                for s in &mut a.steps {
                    end(s, &why);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str, steps: &[(&str, &str, &str)]) -> serde_json::Value {
        let steps: Vec<_> = steps
            .iter()
            .map(|(n, phase, status)| {
                serde_json::json!({"name": n, "phase": phase, "status": status, "attempts": 0, "nodes": []})
            })
            .collect();
        serde_json::json!({"name": name, "key": name, "status": "RUNNING", "steps": steps})
    }

    #[test]
    fn environment_steps_aggregate_the_same_named_steps_in_first_seen_order() {
        let env: EnvironmentRun = serde_json::from_value(serde_json::json!({
            "name": "qa", "status": "RUNNING", "dependsOn": [], "issues": [],
            "applications": [
                app("api", &[("smoke", "preAction", "SUCCESS"), ("commit", "action", "SUCCESS"), ("sync", "sync", "RUNNING")]),
                app("web", &[("smoke", "preAction", "FAILED"), ("commit", "action", "PENDING"), ("sync", "sync", "PENDING"), ("notify", "postAction", "PENDING")]),
                app("cron", &[("commit", "action", "SUCCESS"), ("sync", "sync", "SUCCESS")]),
            ],
        }))
        .unwrap();
        let steps: Vec<(String, StepPhase, StepStatus)> = env
            .steps()
            .into_iter()
            .map(|s| (s.name, s.phase, s.status))
            .collect();
        assert_eq!(
            steps,
            [
                ("smoke".into(), StepPhase::PreAction, StepStatus::Failed),
                ("commit".into(), StepPhase::Action, StepStatus::Pending),
                ("sync".into(), StepPhase::Sync, StepStatus::Running),
                ("notify".into(), StepPhase::PostAction, StepStatus::Pending),
            ]
        );
    }

    /// A release as stored before attempts, observation times and closed
    /// pull requests were recorded (and before SUSPENDED steps): it loads,
    /// its issues count as unnumbered, and it is on its first attempt.
    #[test]
    fn releases_stored_before_attempts_still_load() {
        let old = serde_json::json!({
            "id": "01J", "number": 2, "product": "p", "flow": "f",
            "kind": {"type": "flow"}, "status": "FAILED", "initiator": "me",
            "createdAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:01:00Z",
            "version": "1.0", "trigger": {"repoUrl": "", "sha": "", "message": "", "author": "", "date": "", "branch": ""},
            "graph": {"name": "f", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 60},
            "snapshot": {"environment": "dev", "applications": {}},
            "environments": [{
                "name": "qa", "status": "FAILED", "dependsOn": ["dev"],
                "issues": [{"kind": "workflow", "message": "smoke failed", "at": "2026-01-01T00:00:30Z"}],
                "applications": [{
                    "name": "api", "key": "api", "status": "FAILED", "health": "Healthy", "sync": "Synced",
                    "pullRequest": {"number": 0, "url": "", "branch": "ferry/p/qa/2"},
                    "steps": [{"name": "smoke", "phase": "postAction", "status": "FAILED", "attempts": 1}]
                }]
            }]
        });
        let r: Release = serde_json::from_value(old).unwrap();
        assert_eq!(r.attempt, 1);
        let e = &r.environments[0];
        assert_eq!(e.issues[0].attempt, 0);
        assert!(!e.issues[0].is_earlier(r.attempt));
        let a = &e.applications[0];
        assert_eq!(a.observed_at, None);
        assert_eq!(a.pull_request.as_ref().unwrap().closed_at, None);
        // Round trip keeps what it read.
        let back: Release = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    fn step(name: &str, phase: StepPhase, status: StepStatus) -> StepRun {
        StepRun {
            status,
            ..StepRun::pending(name, phase)
        }
    }

    fn app_run(steps: Vec<StepRun>, health: Option<&str>) -> ApplicationRun {
        ApplicationRun {
            name: "api".into(),
            key: "api".into(),
            repo_url: String::new(),
            path: String::new(),
            target_revision: "main".into(),
            namespace: None,
            status: EnvironmentStatus::Running,
            promotion_commit: None,
            pull_request: None,
            sync: health.map(|_| "Synced".to_owned()),
            health: health.map(str::to_owned),
            observed_at: health.map(|_| crate::now()),
            steps,
            outputs: BTreeMap::new(),
        }
    }

    #[test]
    fn a_failed_post_action_shows_degraded_beside_the_observed_health() {
        let ok = app_run(
            vec![
                step("commit", StepPhase::Action, StepStatus::Success),
                step("sync", StepPhase::Sync, StepStatus::Success),
                step("health-check", StepPhase::PostAction, StepStatus::Success),
            ],
            Some("Healthy"),
        );
        assert_eq!(
            ok.health_shown(),
            Some(HealthShown {
                health: "Healthy".into(),
                reason: None
            })
        );
        let mut failed = ok.clone();
        failed.steps[2].status = StepStatus::Failed;
        let shown = failed.health_shown().unwrap();
        assert_eq!(shown.health, "Degraded");
        assert_eq!(
            shown.reason.as_deref(),
            Some("post-action `health-check` failed after the application was observed Healthy")
        );
        // What was observed stays as observed.
        assert_eq!(failed.health.as_deref(), Some("Healthy"));
        // A failure before the sync is no verdict on health.
        let mut pre = ok.clone();
        pre.steps[0].status = StepStatus::Failed;
        assert_eq!(pre.health_shown().unwrap().health, "Healthy");
        assert_eq!(app_run(vec![], None).health_shown(), None);
    }

    fn finishing(terminated: bool) -> Release {
        let mut r: Release = serde_json::from_value(serde_json::json!({
            "id": "01J", "number": 3, "product": "p", "flow": "f",
            "kind": {"type": "flow"}, "status": "RUNNING", "initiator": "me",
            "createdAt": "2026-01-01T00:00:00Z", "version": "1.0",
            "trigger": {"repoUrl": "", "sha": "", "message": "", "author": "", "date": "", "branch": ""},
            "graph": {"name": "f", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 60},
            "snapshot": {"environment": "dev", "applications": {}},
            "environments": [
                {"name": "qa", "status": "FAILED", "dependsOn": ["dev"], "issues": [],
                 "startedAt": "2026-01-01T00:00:01Z",
                 "applications": [{"name": "api", "key": "api", "status": "FAILED", "steps": [
                    {"name": "commit", "phase": "action", "status": "SUCCESS"},
                    {"name": "sync", "phase": "sync", "status": "FAILED"},
                    {"name": "smoke", "phase": "postAction", "status": "PENDING"}]}]},
                {"name": "prod", "status": "SUSPENDED", "dependsOn": ["dev"], "issues": [],
                 "startedAt": "2026-01-01T00:00:01Z",
                 "applications": [{"name": "api-prod", "key": "api", "status": "SUSPENDED", "steps": [
                    {"name": "pr", "phase": "action", "status": "SUSPENDED", "message": "waiting for pull request #4"},
                    {"name": "sync", "phase": "sync", "status": "PENDING"}]}]},
                {"name": "eu", "status": "PENDING", "dependsOn": ["qa"], "issues": [],
                 "applications": [{"name": "api-eu", "key": "api", "status": "PENDING", "steps": [
                    {"name": "commit", "phase": "action", "status": "PENDING"}]}]}
            ]
        }))
        .unwrap();
        if terminated {
            r.termination = Some(Termination {
                reason: TerminationReason::User,
                by: "me".into(),
                at: crate::now(),
                release: None,
            });
        }
        r
    }

    fn steps_of(r: &Release) -> Vec<(String, StepStatus, String)> {
        r.environments
            .iter()
            .flat_map(|e| &e.applications)
            .flat_map(|a| &a.steps)
            .map(|s| {
                (
                    s.name.clone(),
                    s.status,
                    s.message.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn a_finished_release_has_no_pending_or_running_step() {
        for terminated in [false, true] {
            let mut r = finishing(terminated);
            r.end_unrun_steps(crate::now());
            let steps = steps_of(&r);
            assert!(steps.iter().all(|(_, s, _)| s.is_final()), "{steps:?}");
            let never = if terminated {
                StepStatus::Terminated
            } else {
                StepStatus::Skipped
            };
            assert_eq!(steps[2].1, never);
            assert_eq!(steps[2].2, "not run: step `sync` failed");
            // The waiting pull-request step was stopped, saying so.
            assert_eq!(steps[3].1, StepStatus::Terminated);
            assert_eq!(
                steps[3].2,
                "stopped when the release ended (waiting for pull request #4)"
            );
            assert_eq!(steps[5].1, never);
            assert_eq!(
                steps[5].2,
                if terminated {
                    "not run: the release was terminated"
                } else {
                    "not run: the environment did not start (qa did not succeed)"
                }
            );
            // What ended stays as it ended.
            assert_eq!(steps[0].1, StepStatus::Success);
            assert_eq!(steps[1].1, StepStatus::Failed);
        }
    }

    #[test]
    fn only_an_open_waiting_branch_may_be_merged() {
        let mut a = app_run(
            vec![step("pr", StepPhase::Action, StepStatus::Suspended)],
            None,
        );
        a.status = EnvironmentStatus::Suspended;
        a.pull_request = Some(PullRequest {
            number: 0,
            url: String::new(),
            branch: "ferry/p/prod/1".into(),
            head: None,
            closed_at: None,
        });
        assert_eq!(a.waits_for_branch(), Some("ferry/p/prod/1"));
        let mut closed = a.clone();
        closed.pull_request.as_mut().unwrap().closed_at = Some(crate::now());
        assert_eq!(closed.waits_for_branch(), None);
        let mut ended = a.clone();
        ended.steps[0].status = StepStatus::Terminated;
        ended.status = EnvironmentStatus::Terminated;
        assert_eq!(ended.waits_for_branch(), None);
        let mut forge = a.clone();
        forge.pull_request.as_mut().unwrap().number = 7;
        assert_eq!(forge.waits_for_branch(), None);
    }
}
