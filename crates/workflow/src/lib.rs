//! Promotion workflows (SPEC §5): the runner interface the release engine uses,
//! and two executors behind it — `local` (child processes on this machine) and
//! `argo` (an Argo Workflows server).
//!
//! The engine parses a manifest with [`WorkflowTemplate::from_value`], picks an
//! executor from the settings as `Arc<dyn WorkflowRunner>`, calls
//! [`WorkflowRunner::start`], and follows [`WorkflowRunner::subscribe`] for step
//! updates with SPEC §4.3 statuses.

pub mod argo;
mod duration;
mod error;
mod expr;
pub mod local;
mod runner;
mod status;
mod subst;
mod template;
mod timestamp;

pub use argo::{ArgoConfig, ArgoExecutor, Secret};
pub use error::{RunnerError, TemplateError};
pub use local::{LocalConfig, LocalExecutor};
pub use runner::{
    Parameters, RunId, StepUpdates, WorkflowRunner, parse_parameters, run_and_follow,
};
pub use status::{NodeKind, NodePhase, RunOutcome, RunOutputs, StepLog, StepStatus, StepUpdate};
pub use template::{
    Arguments, Backoff, ContinueOn, Dag, DagTask, EnvVar, IntOrString, Io, Parameter, Process,
    RetryStrategy, Scalar, Suspend, Template, ValueFrom, WORKFLOW_ORIGIN_ANNOTATION, WorkflowSpec,
    WorkflowStep, WorkflowTemplate,
};
pub use timestamp::Timestamp;
