//! Driving a release through its flow (SPEC §4.2–4.6).
//!
//! One task per release schedules environments whose dependencies
//! succeeded; each environment runs its applications' pipelines in
//! parallel. Every transition goes through [`ReleaseHandle::update`], so it
//! is stored before the next action starts; a restart re-enters the same
//! code and skips what already succeeded.
//!
//! One file per part of the drive, each calling only the ones below it:
//!
//! ```text
//! release ──► environment ──► application ──► workflow, action, sync
//!    │            ├──► gate, approval
//!    ├────────────┴──► hooks ──► workflow
//!    └──► snapshot
//! ```
//!
//! - [`release`]: start, resume after a restart, the queue hand-over,
//!   terminate, retry, the flow timeout and the release's end;
//! - [`environment`]: an environment's applications in parallel, its hooks
//!   and its end;
//! - [`gate`]: an environment held by a closed window or a freeze waits
//!   there before anything of it runs (issue 20);
//! - [`approval`]: an environment's approval gate: the wait before anything
//!   of it runs, and the decisions people make at it (issue 20);
//! - [`application`]: one application's steps in order;
//! - [`workflow`]: a pre-/post-action workflow step, and following any
//!   workflow run into the release (also for hooks);
//! - [`action`]: the promotion action (commit, pull request, none);
//! - [`sync`]: waiting until the application is synced and healthy;
//! - [`snapshot`]: reading a manual release's snapshot as of the request,
//!   taken by its driver before it runs;
//! - [`hooks`]: release and environment hooks;
//! - [`leftovers`]: what a terminated release leaves open (pull requests,
//!   promotion branches), closed when it ends;
//! - [`rollback`]: automatic rollback — an environment that failed after
//!   its promotion commit gets its previous snapshot promoted back, once;
//! - [`soak`]: an environment's soak time (`minInterval`) waited out
//!   before it starts;
//! - [`supersede`]: concurrency `supersede` — the newest release replaces
//!   the older ones that wait;
//! - [`record`]: reading and editing the release record, shared by all.
//!
//! [`ReleaseHandle::update`]: crate::handle::ReleaseHandle::update

mod action;
mod application;
mod approval;
mod environment;
mod gate;
mod hooks;
mod leftovers;
mod record;
mod release;
mod rollback;
mod snapshot;
mod soak;
mod supersede;
mod sync;
mod workflow;

pub(crate) use approval::decide as decide_approval;
pub use approval::{ApprovalRequest, Approver, MAX_COMMENT, check_decision};
pub(crate) use release::{
    active_of_product, enforce_queue_limit, resume, retry, spawn_queue_keeper, start, terminate,
};
pub(crate) use snapshot::{EarlyReads, read_early};
pub(crate) use supersede::{spawn_watch as spawn_supersede_watch, supersede_waiting};
