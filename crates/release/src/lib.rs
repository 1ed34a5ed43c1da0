//! Releases as data (SPEC §4): the record a release keeps from its
//! creation to its end, the statuses and how they aggregate, and the
//! append-only events that make up its history.
//!
//! Everything here is pure: the engine decides *when* things change, the
//! store persists them, the server shows them; the rules for *what* a
//! status is live here once, with their tests.

mod approval;
mod event;
mod record;
mod status;
mod timeout;

pub use approval::{ApprovalDecision, ApprovalRun, Decision, GateState};
pub use event::{Event, EventKind, NewEvent};
pub use record::{
    ApplicationRun, ApplicationSnapshot, BreakGlass, EnvironmentRun, EnvironmentStep, FrozenFlow,
    FrozenStep, HealthShown, Hold, HoldKind, Issue, IssueKind, PullRequest, Release, ReleaseKind,
    ReleaseRef, RollbackLink, Snapshot, StepPhase, StepRun, Termination, TerminationReason,
    Trigger, WorkflowNode, new_release_id,
};
pub use status::{ApplicationStatus, EnvironmentStatus, ReleaseStatus, StepStatus};
pub use timeout::FlowTimeout;

/// Timestamps are UTC and serialise as RFC 3339.
pub type Timestamp = time::OffsetDateTime;

/// The current time.
pub fn now() -> Timestamp {
    time::OffsetDateTime::now_utc()
}
