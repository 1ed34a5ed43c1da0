//! What a run reports: step statuses (SPEC §4.3), Argo node phases, step updates
//! and the outcome of a run. Both executors speak these types, so the release
//! engine never needs to know which one ran a workflow.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::timestamp::Timestamp;

/// Status of one workflow step, exactly the strings of SPEC §4.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    Pending,
    Running,
    Success,
    Failed,
    /// The workflow itself is invalid (unsupported field, missing parameter …).
    Error,
    Terminated,
    Skipped,
}

impl StepStatus {
    /// The exact API string.
    pub fn as_str(&self) -> &'static str {
        match self {
            StepStatus::Pending => "PENDING",
            StepStatus::Running => "RUNNING",
            StepStatus::Success => "SUCCESS",
            StepStatus::Failed => "FAILED",
            StepStatus::Error => "ERROR",
            StepStatus::Terminated => "TERMINATED",
            StepStatus::Skipped => "SKIPPED",
        }
    }

    /// True once the step can no longer change.
    pub fn is_final(&self) -> bool {
        !matches!(self, StepStatus::Pending | StepStatus::Running)
    }
}

impl fmt::Display for StepStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Argo's node phase (`status.nodes[].phase`), kept beside the ferry status so a
/// person reading an Argo UI and a ferry UI sees the same word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum NodePhase {
    Pending,
    Running,
    Succeeded,
    Skipped,
    Failed,
    Error,
    Omitted,
}

impl NodePhase {
    /// Parses Argo's phase string; `None` for `""` and unknown values.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Pending" => NodePhase::Pending,
            "Running" => NodePhase::Running,
            "Succeeded" => NodePhase::Succeeded,
            "Skipped" => NodePhase::Skipped,
            "Failed" => NodePhase::Failed,
            "Error" => NodePhase::Error,
            "Omitted" => NodePhase::Omitted,
            _ => return None,
        })
    }

    /// Argo's spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            NodePhase::Pending => "Pending",
            NodePhase::Running => "Running",
            NodePhase::Succeeded => "Succeeded",
            NodePhase::Skipped => "Skipped",
            NodePhase::Failed => "Failed",
            NodePhase::Error => "Error",
            NodePhase::Omitted => "Omitted",
        }
    }

    /// The SPEC §4.3 status for this phase (termination is decided by the caller,
    /// because Argo reports terminated nodes as `Failed`).
    pub fn step_status(&self) -> StepStatus {
        match self {
            NodePhase::Pending => StepStatus::Pending,
            NodePhase::Running => StepStatus::Running,
            NodePhase::Succeeded => StepStatus::Success,
            NodePhase::Skipped | NodePhase::Omitted => StepStatus::Skipped,
            NodePhase::Failed => StepStatus::Failed,
            NodePhase::Error => StepStatus::Error,
        }
    }
}

impl fmt::Display for NodePhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of node a step update describes (Argo's `status.nodes[].type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum NodeKind {
    /// A `steps` template invocation.
    Steps,
    /// A group of parallel steps (Argo only; the local executor does not emit them).
    StepGroup,
    /// A `dag` template invocation.
    Dag,
    /// A DAG task group (Argo only).
    TaskGroup,
    /// A `script`/`container` run as a process (a pod on Argo).
    Pod,
    /// A retry wrapper around attempts (Argo only; the local executor counts attempts).
    Retry,
    /// A `suspend` template.
    Suspend,
    /// A node skipped by `when` or an unmet `depends`.
    Skipped,
    /// Any other Argo node type (`HTTP`, `Plugin`, `Container` …).
    Other,
}

impl NodeKind {
    /// Maps Argo's node type string.
    pub fn from_argo(s: &str) -> Self {
        match s {
            "Steps" => NodeKind::Steps,
            "StepGroup" => NodeKind::StepGroup,
            "DAG" => NodeKind::Dag,
            "TaskGroup" => NodeKind::TaskGroup,
            "Pod" => NodeKind::Pod,
            "Retry" => NodeKind::Retry,
            "Suspend" => NodeKind::Suspend,
            "Skipped" => NodeKind::Skipped,
            _ => NodeKind::Other,
        }
    }
}

/// One change of one step of a run. A subscriber receives every update in order;
/// the latest update per `path` is the step's current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepUpdate {
    /// Unique path of the node inside the run, in Argo's node naming scheme
    /// (`run[0].check`, `run.notify`), so local and Argo runs read alike.
    pub path: String,
    /// Display name: the step or task name (the run id for the root).
    pub name: String,
    /// Template the node runs.
    pub template: String,
    pub kind: NodeKind,
    pub phase: NodePhase,
    pub status: StepStatus,
    /// True while the step waits for a resume (a `suspend` template).
    pub suspended: bool,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Why the step is in its status (failure reason, unsupported field …).
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    /// Attempt number, starting at 1, when a `retryStrategy` re-ran the step.
    pub attempt: u32,
}

/// One line for a terminal: status, path, attempt, exit code and message.
impl fmt::Display for StepUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<10} {}",
            if self.suspended {
                "SUSPENDED"
            } else {
                self.status.as_str()
            },
            self.path
        )?;
        if self.attempt > 1 {
            write!(f, " (attempt {})", self.attempt)?;
        }
        if let Some(c) = self.exit_code.filter(|c| *c != 0) {
            write!(f, " exit code {c}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Final (or current) state of a whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutcome {
    pub status: StepStatus,
    /// True while the run is RUNNING but waits on a suspended step: the
    /// environment then counts as SUSPENDED (SPEC §4.3).
    pub suspended: bool,
    pub phase: Option<NodePhase>,
    pub message: Option<String>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub outputs: RunOutputs,
    /// Things the executor wants the user to know about the run that are
    /// not failures (e.g. the pod-only fields the local executor ignored).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<String>,
}

/// Output parameters of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunOutputs {
    /// Parameters exported with `globalName` (name = the global name). These
    /// become arguments of the post-action of the same application (SPEC §5).
    pub global: BTreeMap<String, String>,
    /// Output parameters of the entrypoint template, by name.
    pub entrypoint: BTreeMap<String, String>,
}

/// Log of one step (all attempts, stdout and stderr interleaved as read).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StepLog {
    pub text: String,
    /// True when the size cap cut the log; the text then ends with a note.
    pub truncated: bool,
}
