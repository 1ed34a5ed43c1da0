//! The argo executor against material Argo Workflows published, not written
//! here (`tests/data/argo-workflows/`, see its README): the API description
//! (swagger), workflows from Argo's own controller tests, and request
//! bodies from Argo's documentation.
//!
//! - every vendored request and workflow validates against the description
//!   (so the checker the fake in `argo.rs` uses agrees with real traffic);
//! - the checker catches the mistakes a client could make (it is live);
//! - ferry reads Argo's real workflows: step updates, outcome, and the log
//!   request for a retried step's last pod.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use ferry_apicheck::{Mode, Request, parse_query};
use ferry_workflow::{ArgoConfig, ArgoExecutor, RunId, StepStatus, WorkflowRunner};
use serde_json::{Value, json};

const WORKFLOW: &str = "io.argoproj.workflow.v1alpha1.Workflow";

const WORKFLOWS: &[&str] = &[
    "workflow-dag_retry_succeeded.yaml",
    "workflow-dag-disable-fail-fast.yaml",
    "workflow-dag_xfail.yaml",
    "workflow-dag-exhausted-retries-xfail.yaml",
];

#[test]
fn argo_workflows_own_workflows_validate_against_its_description() {
    for name in WORKFLOWS {
        let doc = argo_data(name);
        let problems = argo_swagger().check_definition(WORKFLOW, &doc, Mode::Response);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
        let ns = doc["metadata"]["namespace"].as_str().unwrap_or("argo");
        let wf = doc["metadata"]["name"].as_str().unwrap();
        let path = format!("/api/v1/workflows/{ns}/{wf}");
        assert_eq!(
            argo_swagger().check_response("GET", &path, 200, &doc),
            Vec::<String>::new(),
            "{name} as the answer to a GET"
        );
    }
}

#[test]
fn documented_requests_validate_and_the_checker_catches_mistakes() {
    let swagger = argo_swagger();
    let check = |method: &str, path: &str, query: &[(&str, &str)], body: Option<&Value>| {
        let query: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        swagger.check_request(&Request {
            method,
            path,
            query: &query,
            body,
        })
    };
    // From Argo's documentation (docs/workflow-submitting-workflow.md,
    // docs/async-pattern.md).
    let submit = argo_data("submit-request-docs.json");
    let resume = argo_data("resume-request-docs.json");
    assert_eq!(
        check("POST", "/api/v1/workflows/argo/submit", &[], Some(&submit)),
        Vec::<String>::new()
    );
    assert_eq!(
        check(
            "PUT",
            "/api/v1/workflows/<NAMESPACE>/<WORKFLOWNAME>/resume",
            &[],
            Some(&resume)
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        swagger.operation_id("POST", "/api/v1/workflows/argo/submit"),
        Some("WorkflowService_SubmitWorkflow")
    );

    // Mistakes: labels as a map (the API takes "k=v,k2=v2"), a misspelt
    // option (dropped by the server: a silent no-op), a log option that
    // does not exist, a body on a GET, and a verb the API does not have.
    let mut labels_map = submit.clone();
    labels_map["submitOptions"]["labels"] = json!({"a": "b"});
    let p = check(
        "POST",
        "/api/v1/workflows/argo/submit",
        &[],
        Some(&labels_map),
    );
    assert!(
        p.len() == 1 && p[0].contains("at /submitOptions/labels"),
        "{p:?}"
    );
    let mut misspelt = submit.clone();
    misspelt["submitOptions"]["parameter"] = json!(["a=b"]);
    let p = check(
        "POST",
        "/api/v1/workflows/argo/submit",
        &[],
        Some(&misspelt),
    );
    assert!(p.len() == 1 && p[0].contains("parameter"), "{p:?}");
    let p = check(
        "GET",
        "/api/v1/workflows/argo/w/log",
        &[("podName", "p"), ("logOptions.containers", "main")],
        None,
    );
    assert!(
        p.len() == 1 && p[0].contains("`logOptions.containers` is not a parameter"),
        "{p:?}"
    );
    let p = check(
        "GET",
        "/api/v1/workflows/argo/w/log",
        &[("logOptions.follow", "yes")],
        None,
    );
    assert!(p.len() == 1 && p[0].contains("not a boolean"), "{p:?}");
    let p = check("GET", "/api/v1/workflows/argo/w", &[], Some(&json!({})));
    assert!(p.len() == 1 && p[0].contains("takes no body"), "{p:?}");
    let p = check("POST", "/api/v1/workflows/argo/w/terminate", &[], None);
    assert!(p[0].contains("no such operation"), "{p:?}");
    // A workflow answer without its spec is not a Workflow.
    let mut no_spec = argo_data(WORKFLOWS[0]);
    no_spec.as_object_mut().unwrap().remove("spec");
    let p = swagger.check_definition(WORKFLOW, &no_spec, Mode::Response);
    assert!(
        p.len() == 1 && p[0].contains("\"spec\" is a required property"),
        "{p:?}"
    );
}

/// Serves one workflow document (and its log) and records what was asked,
/// checking each request against the description.
#[derive(Default)]
struct Served {
    doc: Value,
    seen: Vec<String>,
    problems: Vec<String>,
}

async fn handle(State(s): State<Arc<Mutex<Served>>>, method: Method, uri: Uri) -> Response {
    let mut s = s.lock().unwrap();
    let path = uri.path().to_owned();
    let query = parse_query(uri.query().unwrap_or(""));
    let problems = argo_swagger().check_request(&Request {
        method: method.as_str(),
        path: &path,
        query: &query,
        body: None,
    });
    s.problems.extend(problems);
    s.seen
        .push(format!("{method} {path}?{}", uri.query().unwrap_or("")));
    if path.ends_with("/log") {
        let pod = query
            .iter()
            .find(|(k, _)| k == "podName")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let line = json!({"result": {"content": "attempt 3 succeeded", "podName": pod}});
        let problems = argo_swagger().check_response("GET", &path, 200, &line);
        s.problems.extend(problems);
        return format!("{line}\n").into_response();
    }
    axum::Json(s.doc.clone()).into_response()
}

async fn serve(doc: Value) -> (ArgoExecutor, Arc<Mutex<Served>>) {
    let served = Arc::new(Mutex::new(Served {
        doc: doc.clone(),
        ..Served::default()
    }));
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let ns = doc["metadata"]["namespace"].as_str().unwrap();
    let mut cfg = ArgoConfig::new(format!("http://{addr}"), ns);
    cfg.poll_interval = std::time::Duration::from_millis(20);
    (ArgoExecutor::new(cfg).unwrap(), served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ferry_reads_argo_workflows_own_workflows() {
    // A finished one: Failed, with a failed task and the ones after it.
    let doc = argo_data("workflow-dag-disable-fail-fast.yaml");
    let name = doc["metadata"]["name"].as_str().unwrap().to_owned();
    let (exec, served) = serve(doc.clone()).await;
    let id = RunId(name.clone());
    exec.attach(&id).await.unwrap();
    let outcome = exec.wait(&id).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(
        outcome.finished_at.map(|t| t.to_string()).as_deref(),
        Some("2019-06-26T09:12:46.000Z")
    );
    let steps = exec.steps(&id).await.unwrap();
    let nodes = doc["status"]["nodes"].as_object().unwrap();
    assert_eq!(steps.len(), nodes.len(), "one step per node");
    for node in nodes.values() {
        let step = steps
            .iter()
            .find(|s| s.path == node["name"].as_str().unwrap())
            .expect("every node is a step");
        assert_eq!(step.name, node["displayName"].as_str().unwrap());
        assert_eq!(
            step.phase.as_str(),
            node["phase"].as_str().unwrap_or("Pending"),
            "{}",
            step.path
        );
    }

    // A retried task: its log is the log of the last attempt's pod, named
    // the way Argo names pods (`<workflow>-<template>-<fnv32a(node name)>`).
    let doc = argo_data("workflow-dag_retry_succeeded.yaml");
    let (exec, served_retry) = serve(doc).await;
    let id = RunId("dag-with-retries-4wkh8".into());
    exec.attach(&id).await.unwrap();
    let steps = exec.steps(&id).await.unwrap();
    let attempts: Vec<u32> = steps
        .iter()
        .filter(|s| s.path.starts_with("dag-with-retries-4wkh8.step1("))
        .map(|s| s.attempt)
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    let log = exec
        .logs(&id, "dag-with-retries-4wkh8.step1")
        .await
        .unwrap();
    assert_eq!(log.text, "attempt 3 succeeded\n");
    let pod = format!(
        "dag-with-retries-4wkh8-randomly-fail-{}",
        fnv32a("dag-with-retries-4wkh8.step1(2)")
    );
    let seen = served_retry.lock().unwrap().seen.clone();
    assert!(
        seen.iter().any(|s| s.contains(&format!("podName={pod}"))),
        "{seen:?}"
    );
    for s in [&served, &served_retry] {
        assert_eq!(s.lock().unwrap().problems, Vec::<String>::new());
    }
}

fn fnv32a(s: &str) -> u32 {
    s.bytes().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    })
}
