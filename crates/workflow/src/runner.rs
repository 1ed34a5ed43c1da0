//! The runner interface the release engine uses, and the per-run record both
//! executors publish their step updates into.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::error::RunnerError;
use crate::status::{RunOutcome, RunOutputs, StepLog, StepStatus, StepUpdate};
use crate::template::WorkflowTemplate;

/// Workflow parameters by name (`-p KEY=VALUE`, SPEC §5 arguments).
pub type Parameters = BTreeMap<String, String>;

/// Identifies one run of a workflow. For Argo it is the Workflow's name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RunId(pub String);

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Runs WorkflowTemplates. Object safe, so the engine holds an
/// `Arc<dyn WorkflowRunner>` chosen from the settings (local or argo).
#[async_trait]
pub trait WorkflowRunner: Send + Sync {
    /// `local` or `argo`, for logs and the UI.
    fn executor(&self) -> &'static str;

    /// Starts a run of `template` with `parameters` and returns at once. A
    /// template the executor cannot run still gets a run id: the run then ends
    /// in ERROR with a message naming the offending field, so the release shows
    /// it like any other step failure.
    async fn start(
        &self,
        template: &WorkflowTemplate,
        parameters: &Parameters,
    ) -> Result<RunId, RunnerError>;

    /// Every step update of the run so far, then the live ones; the stream ends
    /// when the run has finished.
    async fn subscribe(&self, run: &RunId) -> Result<StepUpdates, RunnerError>;

    /// The current outcome (status RUNNING while the run goes on).
    async fn status(&self, run: &RunId) -> Result<RunOutcome, RunnerError>;

    /// Waits until the run has finished and returns its outcome, including the
    /// output parameters (those with `globalName` in `outputs.global`).
    async fn wait(&self, run: &RunId) -> Result<RunOutcome, RunnerError>;

    /// Latest state of every step, ordered by path.
    async fn steps(&self, run: &RunId) -> Result<Vec<StepUpdate>, RunnerError>;

    /// Log of one step, by its path (or name when unambiguous).
    async fn logs(&self, run: &RunId, step: &str) -> Result<StepLog, RunnerError>;

    /// Stops the run: running processes are killed, the run ends TERMINATED.
    async fn terminate(&self, run: &RunId) -> Result<(), RunnerError>;

    /// Resumes suspended steps: all of them, or the one whose path or name is `step`.
    async fn resume(&self, run: &RunId, step: Option<&str>) -> Result<(), RunnerError>;

    /// Resumes like [`Self::resume`], supplying the values of the suspended
    /// steps' `valueFrom.supplied` output parameters. Executors that cannot
    /// take values refuse any (an empty `values` is a plain resume).
    async fn resume_with(
        &self,
        run: &RunId,
        step: Option<&str>,
        values: &Parameters,
    ) -> Result<(), RunnerError> {
        if values.is_empty() {
            self.resume(run, step).await
        } else {
            Err(RunnerError::Resume {
                run: run.clone(),
                message: format!(
                    "the {} executor does not take values when resuming",
                    self.executor()
                ),
            })
        }
    }

    /// Drops what the runner keeps about a finished run (updates, logs).
    async fn forget(&self, run: &RunId) -> Result<(), RunnerError>;

    /// Follows a run started earlier — by this process before a restart,
    /// or by another replica — as if this runner had started it. Runners
    /// whose runs end with their process (the local executor) cannot:
    /// `UnknownRun`, and the engine starts the step again.
    async fn attach(&self, run: &RunId) -> Result<(), RunnerError> {
        Err(RunnerError::UnknownRun(run.clone()))
    }

    /// Whether runs go on after this process stops (they run elsewhere).
    /// The engine then leaves them running when ferry shuts down or another
    /// replica takes the release over, and whoever drives the release next
    /// attaches to them; only terminating the release stops them.
    fn outlives_process(&self) -> bool {
        false
    }
}

/// A stream of step updates of one run.
pub struct StepUpdates {
    rx: mpsc::UnboundedReceiver<StepUpdate>,
}

impl StepUpdates {
    /// The next update; `None` once the run has finished and all were delivered.
    pub async fn next(&mut self) -> Option<StepUpdate> {
        self.rx.recv().await
    }
}

/// What a run has published so far. Shared by the executor task that drives the
/// run and the callers that watch it.
pub(crate) struct RunRecord {
    pub(crate) id: RunId,
    inner: Mutex<RecordInner>,
    done_tx: watch::Sender<bool>,
}

struct RecordInner {
    history: Vec<StepUpdate>,
    latest: BTreeMap<String, StepUpdate>,
    subscribers: Vec<mpsc::UnboundedSender<StepUpdate>>,
    outcome: RunOutcome,
    finished: bool,
}

impl RunRecord {
    pub(crate) fn new(id: RunId) -> Arc<Self> {
        let (done_tx, _) = watch::channel(false);
        Arc::new(RunRecord {
            id,
            inner: Mutex::new(RecordInner {
                history: Vec::new(),
                latest: BTreeMap::new(),
                subscribers: Vec::new(),
                outcome: RunOutcome {
                    status: StepStatus::Running,
                    suspended: false,
                    phase: None,
                    message: None,
                    started_at: Some(crate::Timestamp::now()),
                    finished_at: None,
                    outputs: RunOutputs::default(),
                    notices: Vec::new(),
                },
                finished: false,
            }),
            done_tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, RecordInner> {
        // A poisoned lock only means a watcher panicked; the data is still whole.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Publishes a step update unless it repeats the step's latest state.
    pub(crate) fn publish(&self, update: StepUpdate) {
        let mut g = self.lock();
        if g.latest.get(&update.path) == Some(&update) {
            return;
        }
        g.latest.insert(update.path.clone(), update.clone());
        g.subscribers.retain(|s| s.send(update.clone()).is_ok());
        g.history.push(update);
    }

    pub(crate) fn latest(&self, path: &str) -> Option<StepUpdate> {
        self.lock().latest.get(path).cloned()
    }

    pub(crate) fn subscribe(&self) -> StepUpdates {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut g = self.lock();
        for u in &g.history {
            let _ = tx.send(u.clone());
        }
        if !g.finished {
            g.subscribers.push(tx);
        }
        StepUpdates { rx }
    }

    pub(crate) fn steps(&self) -> Vec<StepUpdate> {
        self.lock().latest.values().cloned().collect()
    }

    pub(crate) fn outcome(&self) -> RunOutcome {
        let g = self.lock();
        let mut o = g.outcome.clone();
        o.suspended = !g.finished
            && g.latest
                .values()
                .any(|u| u.suspended && !u.status.is_final());
        o
    }

    pub(crate) fn update_outcome(&self, f: impl FnOnce(&mut RunOutcome)) {
        f(&mut self.lock().outcome);
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.lock().finished
    }

    /// Marks the run finished: closes every subscription and wakes `wait`.
    pub(crate) fn finish(&self, outcome: RunOutcome) {
        {
            let mut g = self.lock();
            g.outcome = outcome;
            g.finished = true;
            g.subscribers.clear();
        }
        self.done_tx.send_replace(true);
    }

    pub(crate) async fn wait(&self) -> RunOutcome {
        let mut rx = self.done_tx.subscribe();
        // The sender lives in `self`, so this only ends when `finish` ran.
        let _ = rx.wait_for(|d| *d).await;
        self.outcome()
    }
}

/// Runs `template` to the end, calling `on_update` with every step update as it
/// happens: what `ferry workflow run` prints live. Returns the run id and outcome.
pub async fn run_and_follow(
    runner: &dyn WorkflowRunner,
    template: &WorkflowTemplate,
    parameters: &Parameters,
    mut on_update: impl FnMut(&StepUpdate) + Send,
) -> Result<(RunId, RunOutcome), RunnerError> {
    let id = runner.start(template, parameters).await?;
    let mut updates = runner.subscribe(&id).await?;
    while let Some(u) = updates.next().await {
        on_update(&u);
    }
    let outcome = runner.wait(&id).await?;
    Ok((id, outcome))
}

/// Parses `-p KEY=VALUE` arguments; the value may contain `=`. A key given twice
/// keeps the last value, as Argo's CLI does.
pub fn parse_parameters<S: AsRef<str>>(args: &[S]) -> Result<Parameters, RunnerError> {
    let mut out = Parameters::new();
    for a in args {
        let a = a.as_ref();
        match a.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                out.insert(k.trim().to_string(), v.to_string());
            }
            _ => return Err(RunnerError::BadParameter(a.to_string())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_parameters() {
        let p = parse_parameters(&["APP_NAME=web", "URL=http://x/?a=b", "EMPTY="]).unwrap();
        assert_eq!(p["APP_NAME"], "web");
        assert_eq!(p["URL"], "http://x/?a=b");
        assert_eq!(p["EMPTY"], "");
        assert!(
            matches!(parse_parameters(&["novalue"]), Err(RunnerError::BadParameter(s)) if s == "novalue")
        );
        assert!(parse_parameters(&["=x"]).is_err());
    }
}
