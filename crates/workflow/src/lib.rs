//! Promotion workflows (SPEC §5): the runner interface the release engine uses,
//! and two executors behind it — `local` (child processes on this machine) and
//! `argo` (an Argo Workflows server).
//!
//! The engine parses a manifest with [`WorkflowTemplate::from_value`], picks an
//! executor from the settings as `Arc<dyn WorkflowRunner>`, calls
//! [`WorkflowRunner::start`], and follows [`WorkflowRunner::subscribe`] for step
//! updates with SPEC §4.3 statuses. [`run_and_follow`] does both for
//! `ferry workflow run`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use ferry_workflow::{LocalExecutor, WorkflowRunner, WorkflowTemplate, parse_parameters, run_and_follow};
//!
//! # async fn demo(manifest: serde_json::Value) -> Result<(), Box<dyn std::error::Error>> {
//! let template = WorkflowTemplate::from_value(&manifest, "workflows/smoke.yaml:1:1")?;
//! let runner: Arc<dyn WorkflowRunner> = Arc::new(LocalExecutor::default());
//! let params = parse_parameters(&["APP_NAME=web", "ENVIRONMENT=qa"])?;
//! let (run, outcome) = run_and_follow(runner.as_ref(), &template, &params, |u| println!("{u}")).await?;
//! println!("{run}: {} {:?}", outcome.status, outcome.outputs.global);
//! # Ok(())
//! # }
//! ```
//!
//! # What the local executor runs
//! `entrypoint`; `steps` (groups in order, items of a group in parallel) and
//! `dag` (`dependencies`, `depends` with `&&`, `||`, `!`, parentheses and
//! `.Succeeded`/`.Failed`/`.Errored`/`.Skipped`/`.Omitted`/`.Completed`);
//! `script` (`command` + `source`) and `container` (`command` + `args`) as
//! child processes with `env` and `workingDir`, the image ignored;
//! `{{workflow.parameters.X}}`, `{{inputs.parameters.X}}`,
//! `{{steps.S.outputs.parameters.X}}`, `{{steps.S.outputs.result}}`,
//! `{{tasks.T.outputs.…}}`, `{{workflow.outputs.parameters.G}}`,
//! `{{workflow.name}}`, `{{workflow.status}}` (in `onExit`), `{{item}}`;
//! parameter `value`/`default`/`enum`; `outputs.parameters[].valueFrom.path`
//! (relative paths are in the step's own directory) and `valueFrom.parameter`,
//! `globalName`; `retryStrategy` (`limit`, `retryPolicy`, `backoff.duration`,
//! `factor`, `maxDuration`); `activeDeadlineSeconds` (workflow and leaf);
//! `suspend` (until resumed or `duration`); `when`; `withItems`/`withParam`;
//! `continueOn`; `spec.onExit`. Pod-only fields (image, resources, node
//! selectors …) are ignored; every other field makes the run ERROR with a
//! message naming it.
//!
//! Each run gets its own temporary directory (each step a subdirectory, its
//! default working directory); absolute paths in a template are used as
//! written, so two concurrent runs writing the same `/tmp/x` see each other.
//! Each step runs in its own process group, which is killed when the step ends,
//! on terminate and on deadlines. Steps see only the environment variables in
//! [`LocalConfig::inherited_env`] plus their own `env`, so ferry's secrets do
//! not leak into workflows.

pub mod argo;
mod duration;
mod error;
mod expr;
mod exprlang;
pub mod local;
mod runner;
mod status;
mod subst;
mod template;
mod timestamp;

pub use argo::{ArgoConfig, ArgoExecutor, Secret};
pub use error::{RunnerError, TemplateError};
pub use local::{LocalConfig, LocalExecutor, local_problems};
pub use runner::{
    Parameters, RunId, StepUpdates, WorkflowRunner, parse_parameters, run_and_follow,
};
pub use status::{NodeKind, NodePhase, RunOutcome, RunOutputs, StepLog, StepStatus, StepUpdate};
pub use template::{
    Arguments, Backoff, ContinueOn, Dag, DagTask, EnvVar, IntOrString, Io, LifecycleHook,
    Parameter, Process, RetryStrategy, Scalar, Sequence, Suspend, Template, ValueFrom,
    WORKFLOW_ORIGIN_ANNOTATION, WorkflowSpec, WorkflowStep, WorkflowTemplate,
};
pub use timestamp::Timestamp;
