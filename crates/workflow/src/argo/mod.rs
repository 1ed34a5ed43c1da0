//! The argo executor: submits WorkflowTemplates to an Argo Workflows server
//! (`POST /api/v1/workflows/{ns}/submit`), polls the workflow
//! (`GET /api/v1/workflows/{ns}/{name}`) and turns its node statuses into step
//! updates, fetches pod logs, terminates and resumes (handing suspended steps
//! their supplied values first, `PUT …/set`).
//!
//! Polling rather than the watch stream: one GET per interval per running
//! workflow is cheap, survives server restarts without reconnect logic, and
//! the argo server re-hydrates offloaded node statuses on GET.

mod client;
mod nodes;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use crate::error::RunnerError;
use crate::runner::{Parameters, RunId, RunRecord, StepUpdates, WorkflowRunner};
use crate::status::{RunOutcome, StepLog, StepUpdate};
use crate::template::WorkflowTemplate;
use client::ArgoClient;

/// A credential. Its `Debug` output is redacted so it cannot leak through logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Settings of the argo executor.
#[derive(Debug, Clone)]
pub struct ArgoConfig {
    /// Argo Server base URL, e.g. `https://argo-server.argo:2746`.
    pub base_url: String,
    /// Namespace workflows are submitted to (and the WorkflowTemplates live in).
    pub namespace: String,
    /// Bearer token (service-account or SSO token).
    pub token: Option<Secret>,
    /// PEM CA bundle trusted in addition to the system roots (Argo Server's
    /// certificate is self-signed by default).
    pub ca_pem: Option<Vec<u8>>,
    /// How often a running workflow is polled.
    pub poll_interval: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// `resourceKind` of the submit call: `WorkflowTemplate` or `ClusterWorkflowTemplate`.
    pub resource_kind: String,
    /// `submitOptions.serviceAccount`, when set.
    pub service_account: Option<String>,
    /// Labels put on every submitted workflow (`submitOptions.labels`).
    pub labels: BTreeMap<String, String>,
    /// Cap of a fetched step log.
    pub log_limit: usize,
}

impl ArgoConfig {
    /// Settings with defaults for everything but the server and namespace.
    pub fn new(base_url: impl Into<String>, namespace: impl Into<String>) -> Self {
        ArgoConfig {
            base_url: base_url.into(),
            namespace: namespace.into(),
            token: None,
            ca_pem: None,
            poll_interval: Duration::from_secs(2),
            request_timeout: Duration::from_secs(30),
            resource_kind: "WorkflowTemplate".into(),
            service_account: None,
            labels: BTreeMap::new(),
            log_limit: 1024 * 1024,
        }
    }
}

/// Runs workflows on an Argo Workflows server.
pub struct ArgoExecutor {
    shared: Arc<Shared>,
    runs: Mutex<HashMap<RunId, Arc<ArgoRun>>>,
}

struct Shared {
    config: ArgoConfig,
    client: ArgoClient,
}

struct ArgoRun {
    record: Arc<RunRecord>,
    /// Latest workflow document seen.
    doc: Mutex<Value>,
    /// Set once ferry asked to terminate: the nodes then still unfinished.
    terminated: Mutex<Option<HashSet<String>>>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Percent-encodes one path segment (workflow and namespace names are DNS
/// labels, but a bad setting must not change the path).
fn seg(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ArgoExecutor {
    pub fn new(config: ArgoConfig) -> Result<Self, RunnerError> {
        if config.namespace.is_empty() {
            return Err(RunnerError::Settings("argo namespace is empty".into()));
        }
        let client = ArgoClient::new(
            &config.base_url,
            config.token.clone(),
            config.ca_pem.as_deref(),
            config.request_timeout,
        )?;
        Ok(ArgoExecutor {
            shared: Arc::new(Shared { config, client }),
            runs: Mutex::new(HashMap::new()),
        })
    }

    fn run(&self, id: &RunId) -> Result<Arc<ArgoRun>, RunnerError> {
        lock(&self.runs)
            .get(id)
            .cloned()
            .ok_or_else(|| RunnerError::UnknownRun(id.clone()))
    }

    /// Registers a run from its first workflow document and polls it until it ends.
    fn follow(&self, id: RunId, doc: Value, path: String) {
        let run = Arc::new(ArgoRun {
            record: RunRecord::new(id.clone()),
            doc: Mutex::new(Value::Null),
            terminated: Mutex::new(None),
            poller: Mutex::new(None),
        });
        let finished = self.shared.apply(&run, doc);
        lock(&self.runs).insert(id, run.clone());
        if !finished {
            let handle = tokio::spawn(self.shared.clone().poll(run.clone(), path));
            *lock(&run.poller) = Some(handle);
        }
    }

    fn wf_path(&self, name: &str, suffix: &str) -> String {
        format!(
            "/api/v1/workflows/{}/{}{suffix}",
            seg(&self.shared.config.namespace),
            seg(name)
        )
    }
}

impl Shared {
    /// Publishes what a workflow document says; true once the workflow ended.
    fn apply(&self, run: &ArgoRun, doc: Value) -> bool {
        let terminated = lock(&run.terminated).clone();
        let updates = nodes::step_updates(&doc, terminated.as_ref());
        let (outcome, finished) = nodes::outcome(&doc, terminated.is_some());
        // The document is stored before its updates are published: a
        // watcher that reacts to an update (terminate, logs) must find the
        // nodes it was told about.
        *lock(&run.doc) = doc;
        for u in updates {
            run.record.publish(u);
        }
        if finished {
            run.record.finish(outcome);
        } else {
            run.record.update_outcome(|o| {
                o.phase = outcome.phase;
                o.message = outcome.message;
                if outcome.started_at.is_some() {
                    o.started_at = outcome.started_at;
                }
            });
        }
        finished
    }

    async fn poll(self: Arc<Self>, run: Arc<ArgoRun>, path: String) {
        let mut failures: u32 = 0;
        loop {
            tokio::time::sleep(self.config.poll_interval).await;
            match self.client.json(Method::GET, &path, &[], None).await {
                Ok(doc) => {
                    failures = 0;
                    if self.apply(&run, doc) {
                        return;
                    }
                }
                Err(RunnerError::Api {
                    status: 404,
                    message,
                    ..
                }) => {
                    let mut o = run.record.outcome();
                    o.status = crate::StepStatus::Error;
                    o.message = Some(format!(
                        "the workflow disappeared from the argo server: {message}"
                    ));
                    o.finished_at = Some(crate::Timestamp::now());
                    run.record.finish(o);
                    return;
                }
                Err(e) => {
                    // The server may be restarting: keep polling, slower, and
                    // say why in the outcome message meanwhile.
                    failures = failures.saturating_add(1);
                    run.record.update_outcome(|o| {
                        o.message = Some(format!("cannot poll the workflow: {e}"))
                    });
                    tokio::time::sleep(self.config.poll_interval * failures.min(15)).await;
                }
            }
        }
    }
}

#[async_trait]
impl WorkflowRunner for ArgoExecutor {
    fn executor(&self) -> &'static str {
        "argo"
    }

    async fn start(
        &self,
        template: &WorkflowTemplate,
        parameters: &Parameters,
    ) -> Result<RunId, RunnerError> {
        let cfg = &self.shared.config;
        let mut options = serde_json::Map::new();
        options.insert(
            "parameters".into(),
            Value::from(
                parameters
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
            ),
        );
        if !cfg.labels.is_empty() {
            let labels: Vec<String> = cfg.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            options.insert("labels".into(), Value::from(labels.join(",")));
        }
        if let Some(sa) = &cfg.service_account {
            options.insert("serviceAccount".into(), Value::from(sa.as_str()));
        }
        let body = json!({
            "namespace": cfg.namespace,
            "resourceKind": cfg.resource_kind,
            "resourceName": template.name,
            "submitOptions": options,
        });
        let path = format!("/api/v1/workflows/{}/submit", seg(&cfg.namespace));
        let doc = self
            .shared
            .client
            .json(Method::POST, &path, &[], Some(&body))
            .await?;
        let name = doc
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| RunnerError::Protocol {
                path: path.clone(),
                message: "the submitted workflow has no metadata.name".into(),
            })?
            .to_string();
        let id = RunId(name.clone());
        self.follow(id.clone(), doc, self.wf_path(&name, ""));
        Ok(id)
    }

    async fn subscribe(&self, run: &RunId) -> Result<StepUpdates, RunnerError> {
        Ok(self.run(run)?.record.subscribe())
    }

    /// Follows a workflow submitted earlier, by this or another ferry replica:
    /// after a restart or a lease takeover the engine re-attaches to its runs
    /// by id and gets their updates and outcome as if it had started them.
    async fn attach(&self, run: &RunId) -> Result<(), RunnerError> {
        if lock(&self.runs).contains_key(run) {
            return Ok(());
        }
        let path = self.wf_path(&run.0, "");
        let doc = self
            .shared
            .client
            .json(Method::GET, &path, &[], None)
            .await?;
        self.follow(run.clone(), doc, path);
        Ok(())
    }

    fn outlives_process(&self) -> bool {
        true
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
        let unknown = || RunnerError::UnknownStep {
            run: run.clone(),
            step: step.to_string(),
        };
        let path = if r.record.latest(step).is_some() {
            step.to_string()
        } else {
            let m: Vec<String> = r
                .record
                .steps()
                .into_iter()
                .filter(|u| u.name == step)
                .map(|u| u.path)
                .collect();
            match m.as_slice() {
                [one] => one.clone(),
                _ => return Err(unknown()),
            }
        };
        let pod = nodes::pod_name(&lock(&r.doc), &path).ok_or_else(unknown)?;
        let url_path = self.wf_path(&run.0, "/log");
        let body = self
            .shared
            .client
            .send(
                Method::GET,
                &url_path,
                &[("podName", pod.as_str()), ("logOptions.container", "main")],
                None,
            )
            .await?;
        let limit = self.shared.config.log_limit;
        let mut text = String::new();
        let mut truncated = false;
        for line in body
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        {
            let v: Value = serde_json::from_slice(line).map_err(|e| RunnerError::Protocol {
                path: url_path.clone(),
                message: format!("invalid log chunk: {e}"),
            })?;
            if let Some(err) = v.get("error") {
                let msg = err
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("log stream error");
                return Err(RunnerError::Api {
                    method: "GET",
                    path: url_path,
                    status: 200,
                    message: msg.to_string(),
                });
            }
            let content = v
                .pointer("/result/content")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if text.len() + content.len() + 1 > limit {
                truncated = true;
                text.push_str(&format!("[ferry: log truncated at {limit} bytes]\n"));
                break;
            }
            text.push_str(content);
            text.push('\n');
        }
        Ok(StepLog { text, truncated })
    }

    async fn terminate(&self, run: &RunId) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        {
            let mut t = lock(&r.terminated);
            if t.is_none() {
                *t = Some(nodes::unfinished_nodes(&lock(&r.doc)));
            }
        }
        let body = json!({"name": run.0, "namespace": self.shared.config.namespace});
        self.shared
            .client
            .json(
                Method::PUT,
                &self.wf_path(&run.0, "/terminate"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn resume(&self, run: &RunId, step: Option<&str>) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        let mut body = json!({"name": run.0, "namespace": self.shared.config.namespace});
        if let Some(step) = step {
            let field = if r.record.latest(step).is_some() {
                "name"
            } else {
                "displayName"
            };
            body["nodeFieldSelector"] = Value::from(format!("{field}={step}"));
        }
        self.shared
            .client
            .json(
                Method::PUT,
                &self.wf_path(&run.0, "/resume"),
                &[],
                Some(&body),
            )
            .await?;
        Ok(())
    }

    /// Argo's own way, as its UI does it: `PUT …/set` hands each selected
    /// suspend node the values of its `valueFrom.supplied` outputs, then
    /// `PUT …/resume` wakes it.
    async fn resume_with(
        &self,
        run: &RunId,
        step: Option<&str>,
        values: &Parameters,
    ) -> Result<(), RunnerError> {
        if values.is_empty() {
            return self.resume(run, step).await;
        }
        let r = self.run(run)?;
        let plans = nodes::supplied_outputs(&lock(&r.doc), step, values)
            .map_err(|message| RunnerError::Resume {
                run: run.clone(),
                message,
            })?
            .ok_or_else(|| RunnerError::NotSuspended {
                run: run.clone(),
                step: step.map(String::from),
            })?;
        for (node_id, outputs) in plans {
            let body = json!({
                "name": run.0,
                "namespace": self.shared.config.namespace,
                "nodeFieldSelector": format!("id={node_id}"),
                // Argo takes the values as one JSON object in a string.
                "outputParameters": Value::Object(
                    outputs.into_iter().map(|(k, v)| (k, Value::String(v))).collect()
                ).to_string(),
            });
            self.shared
                .client
                .json(Method::PUT, &self.wf_path(&run.0, "/set"), &[], Some(&body))
                .await?;
        }
        self.resume(run, step).await
    }

    async fn forget(&self, run: &RunId) -> Result<(), RunnerError> {
        let r = self.run(run)?;
        if !r.record.is_finished() {
            return Err(RunnerError::StillRunning(run.clone()));
        }
        if let Some(h) = lock(&r.poller).take() {
            h.abort();
        }
        lock(&self.runs).remove(run);
        Ok(())
    }
}
