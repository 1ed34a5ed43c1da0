//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;

use ferry_apicheck::Swagger;

use ferry_workflow::{
    LocalExecutor, Parameters, RunId, RunOutcome, StepUpdate, WorkflowRunner, WorkflowTemplate,
};

pub fn template(yaml: &str) -> WorkflowTemplate {
    let v: serde_json::Value = yaml_serde::from_str(yaml).expect("test YAML parses");
    WorkflowTemplate::from_value(&v, "test.yaml").expect("template parses")
}

pub fn params(pairs: &[(&str, &str)]) -> Parameters {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Runs to completion and returns the outcome and every update in order.
pub async fn run_to_end(
    exec: &dyn WorkflowRunner,
    t: &WorkflowTemplate,
    p: &Parameters,
) -> (RunId, RunOutcome, Vec<StepUpdate>) {
    let id = exec.start(t, p).await.expect("start");
    let mut sub = exec.subscribe(&id).await.expect("subscribe");
    let mut updates = Vec::new();
    while let Some(u) = sub.next().await {
        updates.push(u);
    }
    let outcome = exec.wait(&id).await.expect("wait");
    (id, outcome, updates)
}

pub async fn run_local(
    yaml: &str,
    p: &[(&str, &str)],
) -> (LocalExecutor, RunId, RunOutcome, Vec<StepUpdate>) {
    let exec = LocalExecutor::default();
    let (id, o, u) = run_to_end(&exec, &template(yaml), &params(p)).await;
    (exec, id, o, u)
}

/// Latest update of the step at `path`.
pub fn last<'a>(updates: &'a [StepUpdate], path: &str) -> &'a StepUpdate {
    updates
        .iter()
        .rev()
        .find(|u| u.path == path)
        .unwrap_or_else(|| {
            panic!(
                "no update for {path}; have {:?}",
                updates.iter().map(|u| &u.path).collect::<Vec<_>>()
            )
        })
}

/// Waits (bounded) until a file exists: used to sync with child processes.
pub async fn wait_for_file(path: &Path) {
    for _ in 0..2000 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} never appeared", path.display());
}

/// Processes of process group `pgid` that are alive (zombies excluded).
pub fn live_group_members(pgid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        // fields: state ppid pgrp …
        if fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z" {
            out.push(pid);
        }
    }
    out
}

/// Argo Workflows' published API description (the operations ferry uses;
/// `tests/data/argo-workflows/README.md` says where it comes from).
pub fn argo_swagger() -> &'static Swagger {
    static SWAGGER: LazyLock<Swagger> = LazyLock::new(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/argo-workflows");
        Swagger::load(&dir).unwrap_or_else(|e| panic!("vendored Argo Workflows swagger: {e}"))
    });
    &SWAGGER
}

/// A vendored Argo Workflows document (YAML) as the JSON the server sends.
pub fn argo_data(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/argo-workflows")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
