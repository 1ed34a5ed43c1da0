//! The argo executor against an in-test Argo Server that checks every request
//! against the documented API (reference §6) and plays back workflow documents.
//! Every request the executor sends and every answer the fake gives is also
//! checked against Argo Workflows' published API description
//! (`tests/data/argo-workflows/swagger-subset.json`): a violation of either
//! fails the test like any other.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use ferry_workflow::{ArgoConfig, ArgoExecutor, RunnerError, Secret, StepStatus, WorkflowRunner};
use serde_json::{Value, json};

const TOKEN: &str = "s3cr3t-token-value";
const NS: &str = "promo";
const WF: &str = "smoke-abc12";

#[derive(Default)]
struct Fake {
    /// Documents returned by successive GETs; the last one repeats.
    script: VecDeque<Value>,
    /// Documents served once terminate was called.
    after_terminate: Option<Value>,
    /// Documents served once resume was called.
    after_resume: Option<Value>,
    /// Every request as "METHOD path?query".
    seen: Vec<String>,
    /// Everything that did not match the documented shape.
    violations: Vec<String>,
    expected_parameters: Vec<String>,
    expected_selector: Option<String>,
    submit_status: Option<(StatusCode, Value)>,
    /// Bodies of the `PUT …/set` requests Argo accepted.
    set_bodies: Vec<Value>,
}

type Shared = Arc<Mutex<Fake>>;

fn fnv32a(s: &str) -> u32 {
    s.bytes().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    })
}

/// An answer of the fake: a JSON document, or the lines of a stream.
enum Reply {
    Json(StatusCode, Value),
    Lines(Vec<Value>),
}

/// Serves the request, after checking it against Argo's API description,
/// and checks the answer against it too.
async fn handle(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = ferry_apicheck::parse_query(uri.query().unwrap_or(""));
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let swagger = argo_swagger();
    let mut problems = swagger.check_request(&ferry_apicheck::Request {
        method: method.as_str(),
        path: &path,
        query: &query,
        body: json.as_ref(),
    });
    let reply = serve_request(&fake, &method, &uri, &headers, &body);
    let response = match reply {
        Reply::Json(status, doc) => {
            problems.extend(swagger.check_response(method.as_str(), &path, status.as_u16(), &doc));
            (status, axum::Json(doc)).into_response()
        }
        Reply::Lines(lines) => {
            for line in &lines {
                problems.extend(swagger.check_response(method.as_str(), &path, 200, line));
            }
            lines
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .into_response()
        }
    };
    fake.lock()
        .unwrap()
        .violations
        .extend(problems.into_iter().map(|p| format!("swagger: {p}")));
    response
}

fn serve_request(
    fake: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Reply {
    let mut f = fake.lock().unwrap();
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    f.seen.push(format!(
        "{method} {path}{}",
        if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        }
    ));
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {TOKEN}"))
    {
        f.violations.push(format!(
            "{method} {path}: missing or wrong Authorization header"
        ));
        return Reply::Json(
            StatusCode::UNAUTHORIZED,
            json!({"code": 16, "message": "token not valid"}),
        );
    }
    let json_body = || -> Result<Value, String> {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if ct != "application/json" {
            return Err(format!("content-type {ct:?}"));
        }
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    let wf_base = format!("/api/v1/workflows/{NS}/{WF}");
    match (method.as_str(), path.as_str()) {
        ("POST", p) if p == format!("/api/v1/workflows/{NS}/submit") => {
            let b = match json_body() {
                Ok(b) => b,
                Err(e) => {
                    f.violations.push(format!("submit body: {e}"));
                    return Reply::Json(StatusCode::BAD_REQUEST, json!({"code": 3, "message": e}));
                }
            };
            let expect = json!({
                "namespace": NS,
                "resourceKind": "WorkflowTemplate",
                "resourceName": b["resourceName"],
                "submitOptions": {"parameters": f.expected_parameters, "labels": "ferry.io/managed=true"}
            });
            if b != expect {
                f.violations.push(format!("submit body {b} != {expect}"));
            }
            if let Some((status, doc)) = f.submit_status.clone() {
                return Reply::Json(status, doc);
            }
            let mut doc = workflow("", None, vec![], None);
            doc["metadata"]["generateName"] = json!("smoke-");
            doc["status"] = json!({});
            Reply::Json(StatusCode::OK, doc)
        }
        ("GET", p) if p == wf_base => {
            if !query.is_empty() {
                f.violations
                    .push(format!("unexpected query on GET workflow: {query}"));
            }
            let doc = if f.script.len() > 1 {
                f.script.pop_front()
            } else {
                f.script.front().cloned()
            };
            Reply::Json(StatusCode::OK, doc.unwrap_or(Value::Null))
        }
        ("PUT", p) if p == format!("{wf_base}/terminate") => {
            match json_body() {
                Ok(b) if b == json!({"name": WF, "namespace": NS}) => {}
                other => f.violations.push(format!("terminate body {other:?}")),
            }
            if let Some(d) = f.after_terminate.clone() {
                f.script = VecDeque::from([d]);
            }
            // Argo answers with the workflow as the terminate left it.
            Reply::Json(
                StatusCode::OK,
                f.script.front().cloned().unwrap_or(Value::Null),
            )
        }
        ("PUT", p) if p == format!("{wf_base}/resume") => {
            let mut expect = json!({"name": WF, "namespace": NS});
            if let Some(s) = &f.expected_selector {
                expect["nodeFieldSelector"] = Value::from(s.as_str());
            }
            match json_body() {
                Ok(b) if b == expect => {}
                other => f
                    .violations
                    .push(format!("resume body {other:?} != {expect}")),
            }
            if let Some(d) = f.after_resume.clone() {
                f.script = VecDeque::from([d]);
            }
            Reply::Json(
                StatusCode::OK,
                f.script.front().cloned().unwrap_or(Value::Null),
            )
        }
        ("PUT", p) if p == format!("{wf_base}/set") => match json_body() {
            Ok(b) => set_suspended_node(&mut f, &b),
            Err(e) => {
                f.violations.push(format!("set body: {e}"));
                Reply::Json(StatusCode::BAD_REQUEST, json!({"code": 3, "message": e}))
            }
        },
        ("GET", p) if p == format!("{wf_base}/log") => {
            let pod = format!("{WF}-check-{}", fnv32a(&format!("{WF}[0].check")));
            let want = format!("podName={pod}&logOptions.container=main");
            if query != want {
                f.violations
                    .push(format!("log query {query:?} != {want:?}"));
            }
            Reply::Lines(vec![
                json!({"result": {"content": "checking sync of web", "podName": pod}}),
                json!({"result": {"content": "all synced", "podName": pod}}),
            ])
        }
        _ => {
            f.violations
                .push(format!("unexpected request {method} {path}"));
            Reply::Json(
                StatusCode::NOT_FOUND,
                json!({"code": 5, "message": "not found"}),
            )
        }
    }
}

/// `PUT …/set` as Argo's server does it (`SetWorkflow` →
/// `updateSuspendedNode`): only `Succeeded`/`Failed`/`Error` (or no) phase;
/// only active suspend nodes matching the field selector; only outputs with
/// `valueFrom.supplied`, which then take the value. Its refusals are gRPC
/// `Internal` (500) like Argo's.
fn set_suspended_node(f: &mut Fake, b: &Value) -> Reply {
    let refuse = |status: StatusCode, code: u16, message: String| {
        Reply::Json(status, json!({"code": code, "message": message}))
    };
    if b["name"] != json!(WF) || b["namespace"] != json!(NS) {
        f.violations.push(format!("set body names {b}"));
    }
    let phase = b["phase"].as_str().unwrap_or("");
    if !matches!(phase, "" | "Succeeded" | "Failed" | "Error") {
        return refuse(
            StatusCode::BAD_REQUEST,
            3,
            format!("{phase} is an invalid phase to set to"),
        );
    }
    let outputs: std::collections::BTreeMap<String, String> =
        match b["outputParameters"].as_str().filter(|s| !s.is_empty()) {
            None => Default::default(),
            Some(text) => match serde_json::from_str(text) {
                Ok(o) => o,
                Err(e) => {
                    return refuse(
                        StatusCode::BAD_REQUEST,
                        3,
                        format!("unable to parse output parameter set request: {e}"),
                    );
                }
            },
        };
    let Some((field, want)) = b["nodeFieldSelector"]
        .as_str()
        .and_then(|sel| sel.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
    else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            13,
            "'set' currently only targets suspend nodes, use a node field selector to target them"
                .into(),
        );
    };
    let Some(doc) = f.script.front_mut() else {
        return refuse(StatusCode::NOT_FOUND, 5, "workflow not found".into());
    };
    let mut updated = false;
    for node in doc["status"]["nodes"]
        .as_object_mut()
        .into_iter()
        .flat_map(|n| n.values_mut())
    {
        let active = node["type"] == json!("Suspend") && node["phase"] == json!("Running");
        if !active || node[field.as_str()].as_str() != Some(want.as_str()) {
            continue;
        }
        if !phase.is_empty() {
            node["phase"] = json!(phase);
            updated = true;
        }
        for (name, value) in &outputs {
            let Some(params) = node["outputs"]["parameters"].as_array_mut() else {
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    13,
                    "cannot set output parameters because node is not expecting any raw parameters"
                        .into(),
                );
            };
            let Some(p) = params.iter_mut().find(|p| p["name"] == json!(name)) else {
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    13,
                    format!("node is not expecting output parameter '{name}'"),
                );
            };
            if p["valueFrom"]["supplied"].is_null() {
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    13,
                    format!(
                        "cannot set output parameter '{name}' because it does not use valueFrom.raw or it was already set"
                    ),
                );
            }
            p["value"] = json!(value);
            p.as_object_mut().map(|o| o.remove("valueFrom"));
            updated = true;
        }
    }
    if !updated {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            13,
            format!(
                "currently, set only targets suspend nodes: no suspend nodes matching nodeFieldSelector: {field}={want}"
            ),
        );
    }
    f.set_bodies.push(b.clone());
    Reply::Json(StatusCode::OK, doc.clone())
}

async fn serve(fake: Fake) -> (String, Shared) {
    let shared = Arc::new(Mutex::new(fake));
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), shared)
}

fn executor(base: &str) -> ArgoExecutor {
    let mut cfg = ArgoConfig::new(base, NS);
    cfg.token = Some(Secret::new(TOKEN));
    cfg.poll_interval = Duration::from_millis(10);
    cfg.labels.insert("ferry.io/managed".into(), "true".into());
    ArgoExecutor::new(cfg).unwrap()
}

const TEMPLATE: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: smoke, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: check, template: check}]]
  - name: check
    container: {image: alpine, command: [sh, -c, "echo ok"]}
"#;

const T0: &str = "2026-01-01T10:00:00Z";
const T1: &str = "2026-01-01T10:00:05Z";

fn node(
    name: &str,
    display: &str,
    typ: &str,
    template: &str,
    phase: &str,
    extra: Value,
) -> (String, Value) {
    let id = format!("{WF}-{}", fnv32a(name));
    let mut n = json!({"id": id, "name": name, "displayName": display, "type": typ, "templateName": template, "phase": phase, "startedAt": T0});
    if let (Value::Object(n), Value::Object(e)) = (&mut n, extra) {
        n.extend(e);
    }
    (id, n)
}

fn workflow(
    phase: &str,
    message: Option<&str>,
    nodes: Vec<(String, Value)>,
    outputs: Option<Value>,
) -> Value {
    let mut status = json!({"phase": phase, "startedAt": T0, "nodes": nodes.into_iter().collect::<serde_json::Map<_, _>>()});
    if let Some(m) = message {
        status["message"] = Value::from(m);
    }
    if matches!(phase, "Succeeded" | "Failed" | "Error") {
        status["finishedAt"] = Value::from(T1);
    }
    if let Some(o) = outputs {
        status["outputs"] = o;
    }
    // What Argo returns for a workflow submitted from a template: the spec
    // refers to the template (a Workflow has `metadata` and `spec`).
    json!({
        "metadata": {"name": WF, "namespace": NS, "labels": {"workflows.argoproj.io/workflow-template": "smoke"}},
        "spec": {"workflowTemplateRef": {"name": "smoke"}, "arguments": {}},
        "status": status
    })
}

fn check_node(phase: &str, extra: Value) -> (String, Value) {
    node(
        &format!("{WF}[0].check"),
        "check",
        "Pod",
        "check",
        phase,
        extra,
    )
}

fn root(phase: &str) -> (String, Value) {
    node(WF, WF, "Steps", "main", phase, json!({}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_and_follows_to_success() {
    let running = workflow(
        "Running",
        None,
        vec![root("Running"), check_node("Running", json!({}))],
        None,
    );
    let done = workflow(
        "Succeeded",
        None,
        vec![
            root("Succeeded"),
            check_node(
                "Succeeded",
                json!({"finishedAt": T1, "outputs": {"exitCode": "0", "parameters": [{"name": "id", "value": "OPS-7"}]}}),
            ),
        ],
        Some(json!({"parameters": [{"name": "JIRA_ID", "value": "OPS-7"}]})),
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([
            workflow("Pending", None, vec![], None),
            running.clone(),
            running,
            done,
        ]),
        expected_parameters: vec!["APP_NAME=web".into(), "ENVIRONMENT=qa".into()],
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let (id, outcome, updates) = run_to_end(
        &exec,
        &template(TEMPLATE),
        &params(&[("ENVIRONMENT", "qa"), ("APP_NAME", "web")]),
    )
    .await;
    assert_eq!(id.0, WF);
    assert_eq!(outcome.status, StepStatus::Success);
    assert_eq!(
        outcome.outputs.global.get("JIRA_ID").map(String::as_str),
        Some("OPS-7")
    );
    assert_eq!(
        outcome.finished_at.unwrap().to_string(),
        "2026-01-01T10:00:05.000Z"
    );
    let check: Vec<_> = updates
        .iter()
        .filter(|u| u.name == "check")
        .map(|u| u.status)
        .collect();
    assert_eq!(
        check,
        [StepStatus::Running, StepStatus::Success],
        "each change once, in order"
    );
    let last_check = last(&updates, &format!("{WF}[0].check"));
    assert_eq!(last_check.exit_code, Some(0));
    assert_eq!(last_check.template, "check");

    let log = exec.logs(&id, "check").await.unwrap();
    assert_eq!(log.text, "checking sync of web\nall synced\n");

    let f = fake.lock().unwrap();
    assert_eq!(f.violations, Vec::<String>::new());
    assert_eq!(f.seen[0], format!("POST /api/v1/workflows/{NS}/submit"));
    assert!(
        f.seen[1..f.seen.len() - 1]
            .iter()
            .all(|s| s == &format!("GET /api/v1/workflows/{NS}/{WF}")),
        "{:?}",
        f.seen
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follows_to_failure() {
    let failed = workflow(
        "Failed",
        Some("child 'check' failed"),
        vec![
            root("Failed"),
            check_node(
                "Failed",
                json!({"finishedAt": T1, "message": "Error (exit code 1)", "outputs": {"exitCode": "1"}}),
            ),
        ],
        None,
    );
    let running = workflow(
        "Running",
        None,
        vec![root("Running"), check_node("Running", json!({}))],
        None,
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([running, failed]),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let (_id, outcome, updates) = run_to_end(&exec, &template(TEMPLATE), &params(&[])).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(outcome.message.as_deref(), Some("child 'check' failed"));
    let check = last(&updates, &format!("{WF}[0].check"));
    assert_eq!(
        (check.status, check.exit_code),
        (StepStatus::Failed, Some(1))
    );
    assert_eq!(check.message.as_deref(), Some("Error (exit code 1)"));
    assert_eq!(fake.lock().unwrap().violations, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_calls_the_server_and_reports_terminated() {
    let running = workflow(
        "Running",
        None,
        vec![root("Running"), check_node("Running", json!({}))],
        None,
    );
    let stopped = workflow(
        "Failed",
        Some("Stopped with strategy 'Terminate'"),
        vec![
            root("Failed"),
            check_node("Failed", json!({"finishedAt": T1, "message": "terminated"})),
        ],
        None,
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([running]),
        after_terminate: Some(stopped),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let id = exec.start(&template(TEMPLATE), &params(&[])).await.unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    while let Some(u) = sub.next().await {
        if u.name == "check" && u.status == StepStatus::Running {
            break;
        }
    }
    exec.terminate(&id).await.unwrap();
    let outcome = exec.wait(&id).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Terminated);
    let steps = exec.steps(&id).await.unwrap();
    assert_eq!(
        steps.iter().find(|u| u.name == "check").unwrap().status,
        StepStatus::Terminated
    );
    let f = fake.lock().unwrap();
    assert_eq!(f.violations, Vec::<String>::new());
    assert!(
        f.seen
            .contains(&format!("PUT /api/v1/workflows/{NS}/{WF}/terminate"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_targets_the_suspended_node() {
    let approval = |phase: &str| {
        node(
            &format!("{WF}[0].approval"),
            "approval",
            "Suspend",
            "wait",
            phase,
            json!({}),
        )
    };
    let waiting = workflow(
        "Running",
        None,
        vec![root("Running"), approval("Running")],
        None,
    );
    let done = workflow(
        "Succeeded",
        None,
        vec![root("Succeeded"), approval("Succeeded")],
        None,
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([waiting]),
        after_resume: Some(done),
        expected_selector: Some("displayName=approval".into()),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let id = exec.start(&template(TEMPLATE), &params(&[])).await.unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    while let Some(u) = sub.next().await {
        if u.suspended {
            assert_eq!(u.name, "approval");
            break;
        }
    }
    assert!(exec.status(&id).await.unwrap().suspended);
    exec.resume(&id, Some("approval")).await.unwrap();
    assert_eq!(exec.wait(&id).await.unwrap().status, StepStatus::Success);
    assert_eq!(fake.lock().unwrap().violations, Vec::<String>::new());
}

/// The approval of Argo's `examples/intermediate-parameters.yaml` as Argo
/// reports it while it waits: inputs with their enum, an output supplied.
fn approval_node(phase: &str) -> (String, Value) {
    node(
        &format!("{WF}[1].approval"),
        "approval",
        "Suspend",
        "approval",
        phase,
        json!({
            "inputs": {"parameters": [{"name": "approve", "default": "NO", "enum": ["YES", "NO"], "value": "NO"}]},
            "outputs": {"parameters": [{"name": "approve", "valueFrom": {"supplied": {}}}]}
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_values_sets_the_supplied_outputs_then_resumes() {
    let waiting = workflow(
        "Running",
        None,
        vec![root("Running"), approval_node("Running")],
        None,
    );
    let done = workflow(
        "Succeeded",
        None,
        vec![root("Succeeded"), approval_node("Succeeded")],
        None,
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([waiting]),
        after_resume: Some(done),
        expected_selector: Some("displayName=approval".into()),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let id = exec.start(&template(TEMPLATE), &params(&[])).await.unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    while let Some(u) = sub.next().await {
        if u.suspended {
            break;
        }
    }
    // Refused before anything is sent: outside the input's enum, and a
    // value no suspended step expects.
    let err = exec
        .resume_with(&id, Some("approval"), &params(&[("approve", "MAYBE")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunnerError::Resume { message, .. } if message.contains("not one of YES, NO")),
        "{err}"
    );
    let err = exec
        .resume_with(&id, None, &params(&[("approve", "YES"), ("colour", "red")]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RunnerError::Resume { message, .. } if message.contains("\"colour\"")),
        "{err}"
    );
    let err = exec
        .resume_with(&id, Some("deploy"), &params(&[("approve", "YES")]))
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::NotSuspended { .. }), "{err}");
    assert!(
        !fake
            .lock()
            .unwrap()
            .seen
            .iter()
            .any(|r| r.starts_with("PUT")),
        "a refused resume sends nothing"
    );

    exec.resume_with(&id, Some("approval"), &params(&[("approve", "YES")]))
        .await
        .unwrap();
    assert_eq!(exec.wait(&id).await.unwrap().status, StepStatus::Success);
    let f = fake.lock().unwrap();
    assert_eq!(f.violations, Vec::<String>::new());
    let puts: Vec<&String> = f.seen.iter().filter(|r| r.starts_with("PUT")).collect();
    assert_eq!(
        puts,
        [
            &format!("PUT /api/v1/workflows/{NS}/{WF}/set"),
            &format!("PUT /api/v1/workflows/{NS}/{WF}/resume")
        ]
    );
    let node_id = approval_node("Running").0;
    assert_eq!(
        f.set_bodies,
        [json!({
            "name": WF,
            "namespace": NS,
            "nodeFieldSelector": format!("id={node_id}"),
            "outputParameters": "{\"approve\":\"YES\"}"
        })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_typed_and_never_show_the_token() {
    let (base, fake) = serve(Fake {
        submit_status: Some((
            StatusCode::NOT_FOUND,
            json!({"code": 5, "error": "not found", "message": "workflowtemplates.argoproj.io \"smoke\" not found"}),
        )),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let err = exec
        .start(&template(TEMPLATE), &params(&[]))
        .await
        .unwrap_err();
    match &err {
        RunnerError::Api {
            status,
            message,
            method,
            ..
        } => {
            assert_eq!((*status, *method), (404, "POST"));
            assert_eq!(message, "workflowtemplates.argoproj.io \"smoke\" not found");
        }
        other => panic!("expected an API error, got {other:?}"),
    }
    assert!(!err.to_string().contains(TOKEN));
    assert_eq!(fake.lock().unwrap().violations, Vec::<String>::new());

    // A server that is not there: a transport error naming the URL, not the token.
    let exec = executor("http://127.0.0.1:9");
    let err = exec
        .start(&template(TEMPLATE), &params(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::Http { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("http://127.0.0.1:9/api/v1/workflows/promo/submit"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_and_the_token_is_redacted() {
    let mut cfg = ArgoConfig::new("https://user:pw@argo.example:2746", NS);
    cfg.token = Some(Secret::new(TOKEN));
    assert!(!format!("{cfg:?}").contains(TOKEN));
    assert!(
        matches!(ArgoExecutor::new(cfg.clone()), Err(RunnerError::Settings(m)) if m.contains("credentials"))
    );
    cfg.base_url = "https://argo.example:2746".into();
    cfg.ca_pem = Some(b"not a certificate".to_vec());
    assert!(
        matches!(ArgoExecutor::new(cfg.clone()), Err(RunnerError::Settings(m)) if m.contains("CA"))
    );
    cfg.ca_pem = None;
    assert!(ArgoExecutor::new(cfg).is_ok());
}

/// An axum listener that speaks TLS with the test certificate.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects our certificate fails the handshake: wait for the next one.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name),
    )
    .unwrap()
}

async fn serve_tls(fake: Fake) -> (String, Shared) {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&fixture("server.pem"))
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(&fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let shared = Arc::new(Mutex::new(fake));
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(shared.clone());
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let listener = TlsListener {
        tcp,
        acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    };
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("https://127.0.0.1:{port}"), shared)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_ca_is_trusted_for_https() {
    let done = workflow(
        "Succeeded",
        None,
        vec![
            root("Succeeded"),
            check_node("Succeeded", json!({"finishedAt": T1})),
        ],
        None,
    );
    let (base, fake) = serve_tls(Fake {
        script: VecDeque::from([done]),
        ..Fake::default()
    })
    .await;

    // Without the CA the server's certificate is not trusted.
    let untrusted = executor(&base);
    let err = untrusted
        .start(&template(TEMPLATE), &params(&[]))
        .await
        .unwrap_err();
    assert!(matches!(err, RunnerError::Http { .. }), "{err:?}");
    assert!(
        fake.lock().unwrap().seen.is_empty(),
        "no request got through"
    );

    let mut cfg = ArgoConfig::new(&base, NS);
    cfg.token = Some(Secret::new(TOKEN));
    cfg.poll_interval = Duration::from_millis(10);
    cfg.labels.insert("ferry.io/managed".into(), "true".into());
    cfg.ca_pem = Some(fixture("ca.pem"));
    let exec = ArgoExecutor::new(cfg).unwrap();
    let (_id, outcome, _u) = run_to_end(&exec, &template(TEMPLATE), &params(&[])).await;
    assert_eq!(outcome.status, StepStatus::Success);
    let f = fake.lock().unwrap();
    assert_eq!(f.violations, Vec::<String>::new());
    assert_eq!(f.seen[0], format!("POST /api/v1/workflows/{NS}/submit"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_follows_a_workflow_submitted_earlier() {
    let running = workflow(
        "Running",
        None,
        vec![root("Running"), check_node("Running", json!({}))],
        None,
    );
    let done = workflow(
        "Succeeded",
        None,
        vec![
            root("Succeeded"),
            check_node("Succeeded", json!({"finishedAt": T1})),
        ],
        None,
    );
    let (base, fake) = serve(Fake {
        script: VecDeque::from([running, done]),
        ..Fake::default()
    })
    .await;
    let exec = executor(&base);
    let id = ferry_workflow::RunId(WF.to_string());
    assert!(matches!(
        exec.status(&id).await,
        Err(RunnerError::UnknownRun(_))
    ));
    exec.attach(&id).await.unwrap();
    exec.attach(&id).await.unwrap();
    let outcome = exec.wait(&id).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Success);
    let f = fake.lock().unwrap();
    assert_eq!(f.violations, Vec::<String>::new());
    assert!(
        f.seen
            .iter()
            .all(|s| s == &format!("GET /api/v1/workflows/{NS}/{WF}")),
        "{:?}",
        f.seen
    );
}
