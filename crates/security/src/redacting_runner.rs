//! A workflow runner that masks every known secret (tokens, Git
//! passwords, workflow secrets) in what comes back from a run: step logs
//! (a script that echoes `$DEPLOY_TOKEN`), failure messages and output
//! values. The engine stores logs and messages in release issues, which
//! the API serves, so masking here keeps secrets out of the store, the
//! API and the UI at once.
//!
//! The live step stream (`subscribe`) is passed through: its messages are
//! ferry's own status texts, and the engine records step states from
//! `steps`/`wait`, which are masked.

use std::sync::Arc;

use async_trait::async_trait;
use ferry_workflow::{
    Parameters, RunId, RunOutcome, RunnerError, StepLog, StepUpdate, StepUpdates, WorkflowRunner,
    WorkflowTemplate,
};

use crate::secrets::redact;

/// Wraps a runner; see the module documentation.
pub struct RedactingRunner {
    inner: Arc<dyn WorkflowRunner>,
}

impl RedactingRunner {
    pub fn new(inner: Arc<dyn WorkflowRunner>) -> RedactingRunner {
        RedactingRunner { inner }
    }
}

fn outcome(mut o: RunOutcome) -> RunOutcome {
    o.message = o.message.map(|m| redact(&m));
    for v in o
        .outputs
        .global
        .values_mut()
        .chain(o.outputs.entrypoint.values_mut())
    {
        *v = redact(v);
    }
    o
}

fn step(mut s: StepUpdate) -> StepUpdate {
    s.message = s.message.map(|m| redact(&m));
    s
}

fn error(e: RunnerError) -> RunnerError {
    // Runner errors are shown as issue messages; keep their kind (the API
    // maps some to 404/409) and mask only free text ones.
    match e {
        RunnerError::Http { url, message } => RunnerError::Http {
            url,
            message: redact(&message),
        },
        RunnerError::Api {
            method,
            path,
            status,
            message,
        } => RunnerError::Api {
            method,
            path,
            status,
            message: redact(&message),
        },
        RunnerError::Protocol { path, message } => RunnerError::Protocol {
            path,
            message: redact(&message),
        },
        RunnerError::Resume { run, message } => RunnerError::Resume {
            run,
            message: redact(&message),
        },
        other => other,
    }
}

#[async_trait]
impl WorkflowRunner for RedactingRunner {
    fn executor(&self) -> &'static str {
        self.inner.executor()
    }

    async fn start(
        &self,
        template: &WorkflowTemplate,
        parameters: &Parameters,
    ) -> Result<RunId, RunnerError> {
        self.inner.start(template, parameters).await.map_err(error)
    }

    async fn subscribe(&self, run: &RunId) -> Result<StepUpdates, RunnerError> {
        self.inner.subscribe(run).await.map_err(error)
    }

    async fn status(&self, run: &RunId) -> Result<RunOutcome, RunnerError> {
        self.inner.status(run).await.map(outcome).map_err(error)
    }

    async fn wait(&self, run: &RunId) -> Result<RunOutcome, RunnerError> {
        self.inner.wait(run).await.map(outcome).map_err(error)
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepUpdate>, RunnerError> {
        self.inner
            .steps(run)
            .await
            .map(|v| v.into_iter().map(step).collect())
            .map_err(error)
    }

    async fn logs(&self, run: &RunId, step: &str) -> Result<StepLog, RunnerError> {
        let mut log = self.inner.logs(run, step).await.map_err(error)?;
        log.text = redact(&log.text);
        Ok(log)
    }

    async fn terminate(&self, run: &RunId) -> Result<(), RunnerError> {
        self.inner.terminate(run).await.map_err(error)
    }

    async fn resume(&self, run: &RunId, step: Option<&str>) -> Result<(), RunnerError> {
        self.inner.resume(run, step).await.map_err(error)
    }

    async fn resume_with(
        &self,
        run: &RunId,
        step: Option<&str>,
        values: &ferry_workflow::Parameters,
    ) -> Result<(), RunnerError> {
        self.inner
            .resume_with(run, step, values)
            .await
            .map_err(error)
    }

    async fn forget(&self, run: &RunId) -> Result<(), RunnerError> {
        self.inner.forget(run).await.map_err(error)
    }

    async fn attach(&self, run: &RunId) -> Result<(), RunnerError> {
        self.inner.attach(run).await.map_err(error)
    }

    fn outlives_process(&self) -> bool {
        self.inner.outlives_process()
    }
}
