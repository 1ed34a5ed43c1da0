//! The local executor: runs a WorkflowTemplate on this machine, each
//! `script`/`container` as a child process (the image is ignored), as Argo
//! Workflows would run it. Pod-only fields are ignored (with one notice);
//! anything else it cannot honour ends the run in ERROR naming the field,
//! before anything runs.

mod engine;
mod process;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::error::RunnerError;
use crate::runner::{Parameters, RunId, RunRecord, StepUpdates, WorkflowRunner};
use crate::status::{RunOutcome, StepLog, StepUpdate};
use crate::template::WorkflowTemplate;
use process::CappedBuf;

/// Why a run is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    None,
    /// `terminate` was called.
    Terminated,
    /// `spec.activeDeadlineSeconds` ran out.
    Deadline,
}

/// Settings of the local executor.
#[derive(Debug, Clone)]
pub struct LocalConfig {
    /// Where per-run temporary directories are made (default: the system's).
    pub work_dir: Option<PathBuf>,
    /// Cap of each step's kept log (stdout and stderr together).
    pub log_limit: usize,
    /// Cap of a step's stdout kept as `outputs.result`.
    pub result_limit: usize,
    /// Time between SIGTERM and SIGKILL when a step is stopped.
    pub kill_grace: Duration,
    /// Variables of ferry's own environment passed to steps. Everything else is
    /// withheld, so ferry's tokens never reach a workflow's processes.
    pub inherited_env: Vec<String>,
    /// Secrets given to every step as environment variables (name, value),
    /// from the server's settings — never from the configuration
    /// repository. A template's own `env` cannot shadow them.
    pub secret_env: Vec<(String, String)>,
}

impl Default for LocalConfig {
    fn default() -> Self {
        LocalConfig {
            work_dir: None,
            log_limit: 1024 * 1024,
            result_limit: 256 * 1024,
            kill_grace: Duration::from_secs(2),
            inherited_env: ["PATH", "HOME", "USER", "LANG", "LC_ALL", "TZ", "SHELL"]
                .map(String::from)
                .to_vec(),
            secret_env: Vec::new(),
        }
    }
}

/// Runs workflows as local child processes. Cheap to share: wrap it in an `Arc`.
pub struct LocalExecutor {
    config: Arc<LocalConfig>,
    runs: Mutex<HashMap<RunId, Arc<LocalRun>>>,
    seq: AtomicU64,
}

/// Live state of one local run beyond its published record.
pub(crate) struct LocalRun {
    pub(crate) record: Arc<RunRecord>,
    pub(crate) stop_tx: watch::Sender<Stop>,
    /// Log buffer per step path.
    pub(crate) logs: Mutex<BTreeMap<String, Arc<Mutex<CappedBuf>>>>,
    /// Suspended steps waiting for a resume, by path.
    pub(crate) suspended: Mutex<BTreeMap<String, engine::SuspendedStep>>,
}

/// Waits until the run is stopped and says why. (A closed channel means the
/// run's owner is gone, which only happens when it is being torn down.)
pub(crate) async fn stopped(rx: &mut watch::Receiver<Stop>) -> Stop {
    match rx.wait_for(|s| *s != Stop::None).await {
        Ok(s) => *s,
        Err(_) => Stop::Terminated,
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalExecutor {
    pub fn new(config: LocalConfig) -> Self {
        LocalExecutor {
            config: Arc::new(config),
            runs: Mutex::new(HashMap::new()),
            seq: AtomicU64::new(0),
        }
    }

    fn run(&self, id: &RunId) -> Result<Arc<LocalRun>, RunnerError> {
        lock(&self.runs)
            .get(id)
            .cloned()
            .ok_or_else(|| RunnerError::UnknownRun(id.clone()))
    }

    fn next_id(&self, template: &str) -> RunId {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        // Argo's generateName look (`name-x7k2p`), unique within this process
        // thanks to the counter, and unlikely to repeat across restarts.
        RunId(format!(
            "{template}-{n}{:05x}",
            (nanos ^ std::process::id()) & 0xfffff
        ))
    }
}

impl Default for LocalExecutor {
    fn default() -> Self {
        Self::new(LocalConfig::default())
    }
}

#[async_trait]
impl WorkflowRunner for LocalExecutor {
    fn executor(&self) -> &'static str {
        "local"
    }

    async fn start(
        &self,
        template: &WorkflowTemplate,
        parameters: &Parameters,
    ) -> Result<RunId, RunnerError> {
        let id = self.next_id(&template.name);
        let (stop_tx, _) = watch::channel(Stop::None);
        let run = Arc::new(LocalRun {
            record: RunRecord::new(id.clone()),
            stop_tx,
            logs: Mutex::new(BTreeMap::new()),
            suspended: Mutex::new(BTreeMap::new()),
        });
        let mut builder = tempfile::Builder::new();
        builder.prefix("ferry-run-");
        let dir = match &self.config.work_dir {
            Some(base) => {
                std::fs::create_dir_all(base)?;
                builder.tempdir_in(base)?
            }
            None => builder.tempdir()?,
        };
        lock(&self.runs).insert(id.clone(), run.clone());
        let record = run.record.clone();
        let driver = tokio::spawn(engine::drive(
            run,
            Arc::new(template.clone()),
            parameters.clone(),
            self.config.clone(),
            dir,
        ));
        // Whatever happens to the driver, `wait` must not hang: a driver that
        // died without finishing the run ends it in ERROR.
        tokio::spawn(async move {
            if let Err(e) = driver.await
                && !record.is_finished()
            {
                let mut outcome = record.outcome();
                outcome.status = crate::StepStatus::Error;
                outcome.message = Some(format!("internal error in the local executor: {e}"));
                outcome.finished_at = Some(crate::Timestamp::now());
                record.finish(outcome);
            }
        });
        Ok(id)
    }

    async fn subscribe(&self, run: &RunId) -> Result<StepUpdates, RunnerError> {
        Ok(self.run(run)?.record.subscribe())
    }

    async fn status(&self, run: &RunId) -> Result<RunOutcome, RunnerError> {
        Ok(self.run(run)?.record.outcome())
    }

    async fn wait(&self, run: &RunId) -> Result<RunOutcome, RunnerError> {
        let r = self.run(run)?;
        Ok(r.record.wait().await)
    }

    async fn steps(&self, run: &RunId) -> Result<Vec<StepUpdate>, RunnerError> {
        Ok(self.run(run)?.record.steps())
    }

    async fn logs(&self, run: &RunId, step: &str) -> Result<StepLog, RunnerError> {
        let r = self.run(run)?;
        let path = resolve_step(&r, step).ok_or_else(|| RunnerError::UnknownStep {
            run: run.clone(),
            step: step.to_string(),
        })?;
        let buf = lock(&r.logs).get(&path).cloned();
        Ok(match buf {
            None => StepLog::default(),
            Some(buf) => {
                let b = lock(&buf);
                let mut text = String::from_utf8_lossy(&b.data).into_owned();
                if b.truncated {
                    text.push_str(&format!("\n[ferry: log truncated at {} bytes]\n", b.limit));
                }
                StepLog {
                    text,
                    truncated: b.truncated,
                }
            }
        })
    }

    async fn terminate(&self, run: &RunId) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        r.stop_tx.send_if_modified(|s| {
            if *s == Stop::None {
                *s = Stop::Terminated;
                true
            } else {
                false
            }
        });
        Ok(())
    }

    async fn resume(&self, run: &RunId, step: Option<&str>) -> Result<(), RunnerError> {
        self.resume_with(run, step, &Parameters::new()).await
    }

    async fn resume_with(
        &self,
        run: &RunId,
        step: Option<&str>,
        values: &Parameters,
    ) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        let mut waiting = lock(&r.suspended);
        let keys: Vec<String> = waiting
            .iter()
            .filter(|(path, s)| step.is_none_or(|want| want == path.as_str() || want == s.name))
            .map(|(p, _)| p.clone())
            .collect();
        if keys.is_empty() {
            return Err(RunnerError::NotSuspended {
                run: run.clone(),
                step: step.map(String::from),
            });
        }
        let refuse = |message: String| RunnerError::Resume {
            run: run.clone(),
            message,
        };
        // Check everything before waking anything: a refused resume leaves
        // every step suspended.
        let mut plans = Vec::new();
        for k in &keys {
            let s = &waiting[k];
            let mut supplied = BTreeMap::new();
            for p in &s.supplied {
                let v = match values.get(&p.name).or(p.default.as_ref()) {
                    Some(v) => v.clone(),
                    None => {
                        return Err(refuse(format!(
                            "step {k} needs a value for output parameter {:?} (valueFrom.supplied, no default)",
                            p.name
                        )));
                    }
                };
                if let Some(allowed) = &p.allowed
                    && !allowed.contains(&v)
                {
                    return Err(refuse(format!(
                        "value {v:?} of {:?} is not one of {}",
                        p.name,
                        allowed.join(", ")
                    )));
                }
                supplied.insert(p.name.clone(), v);
            }
            plans.push((k.clone(), supplied));
        }
        for name in values.keys() {
            if !keys
                .iter()
                .any(|k| waiting[k].supplied.iter().any(|p| &p.name == name))
            {
                return Err(refuse(format!(
                    "no suspended step expects output parameter {name:?}"
                )));
            }
        }
        for (k, supplied) in plans {
            if let Some(s) = waiting.remove(&k) {
                let _ = s.wake.send(supplied);
            }
        }
        Ok(())
    }

    async fn forget(&self, run: &RunId) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        if !r.record.is_finished() {
            return Err(RunnerError::StillRunning(run.clone()));
        }
        lock(&self.runs).remove(run);
        Ok(())
    }
}

/// What would stop `template` from running on the local executor, found
/// without running it (what a run reports as ERROR): (field path, what is
/// wrong with it).
/// Used by `ferry validate` to warn at the field's line.
pub fn local_problems(template: &WorkflowTemplate) -> Vec<(String, String)> {
    validate::validate(template)
        .into_iter()
        .map(|m| {
            let path: String = m
                .chars()
                .take_while(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, '.' | '[' | ']' | '_' | '-')
                })
                .collect();
            let message = m[path.len()..].trim_start_matches([':', ' ']).to_string();
            (path, message)
        })
        .collect()
}

/// A step reference given by path, or by name when exactly one step has it.
fn resolve_step(run: &LocalRun, step: &str) -> Option<String> {
    if run.record.latest(step).is_some() {
        return Some(step.to_string());
    }
    let matches: Vec<String> = run
        .record
        .steps()
        .into_iter()
        .filter(|u| u.name == step)
        .map(|u| u.path)
        .collect();
    match matches.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}
