//! `ferry serve` with `[argoWorkflows]`: promotion workflows are submitted
//! to an Argo Server instead of run on the ferry machine. The Argo Server
//! is an in-test fake that checks each request against the documented API
//! (`POST /api/v1/workflows/{ns}/submit`, `GET /api/v1/workflows/{ns}/{name}`,
//! `GET …/{name}/log?podName=…&logOptions.container=main`, bearer token)
//! and plays a workflow forward one phase per poll: a post-action that
//! succeeds in qa, one that fails in prod with its pod's log in the issue.
//! A ferry restarted while a workflow runs follows that same workflow
//! instead of submitting it again; terminating the release stops it.
//! Every request ferry sends and every answer the fake gives is also checked
//! against Argo Workflows' published API description (vendored in
//! `crates/workflow/tests/data/argo-workflows/`).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{Fixture, fixture, settings, start};
use ferry_server::Secret;
use ferry_settings::ArgoWorkflowsSettings;
use serde_json::{Value, json};

const ARGO_TOKEN: &str = "argo-sa-token-0f1e2d3c";
const NS: &str = "promotions";

/// One submitted workflow.
struct Workflow {
    template: String,
    parameters: Vec<String>,
    /// GETs answered so far.
    polls: u32,
    /// `PUT …/terminate` received.
    terminated: bool,
}

#[derive(Default)]
struct Fake {
    workflows: BTreeMap<String, Workflow>,
    violations: Vec<String>,
    /// While set, every workflow stays Running.
    hold: bool,
}

type Shared = Arc<Mutex<Fake>>;

fn lock(f: &Shared) -> std::sync::MutexGuard<'_, Fake> {
    f.lock().unwrap_or_else(|p| p.into_inner())
}

/// Argo Workflows' API description, as vendored by ferry-workflow.
fn swagger() -> &'static ferry_apicheck::Swagger {
    static SWAGGER: LazyLock<ferry_apicheck::Swagger> = LazyLock::new(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../workflow/tests/data/argo-workflows");
        ferry_apicheck::Swagger::load(&dir)
            .unwrap_or_else(|e| panic!("vendored Argo Workflows swagger: {e}"))
    });
    &SWAGGER
}

/// Argo's pod name for a node (POD_NAMES=v2): workflow, template, FNV-1a
/// of the node name.
fn fnv32a(s: &str) -> u32 {
    s.bytes().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    })
}

/// The workflow document after `polls` GETs: Running first, then the
/// template's end (`verify` fails, everything else succeeds).
fn document(name: &str, wf: &Workflow, hold: bool) -> Value {
    let node_name = format!("{name}[0].check");
    let fails = wf.template == "verify";
    let (phase, check) = if wf.terminated {
        (
            "Failed",
            json!({"phase": "Failed", "message": "terminated", "finishedAt": "2026-11-27T10:00:05Z"}),
        )
    } else if hold || wf.polls < 2 {
        ("Running", json!({"phase": "Running"}))
    } else if fails {
        (
            "Failed",
            json!({"phase": "Failed", "message": "Error (exit code 1)", "finishedAt": "2026-11-27T10:00:05Z", "outputs": {"exitCode": "1"}}),
        )
    } else {
        (
            "Succeeded",
            json!({"phase": "Succeeded", "finishedAt": "2026-11-27T10:00:05Z", "outputs": {"exitCode": "0"}}),
        )
    };
    let mut check_node = json!({
        "id": format!("{name}-{}", fnv32a(&node_name)),
        "name": node_name,
        "displayName": "check",
        "type": "Pod",
        "templateName": "check",
        "startedAt": "2026-11-27T10:00:00Z",
    });
    if let (Value::Object(n), Value::Object(c)) = (&mut check_node, check) {
        n.extend(c);
    }
    let root = json!({
        "id": name, "name": name, "displayName": name, "type": "Steps",
        "templateName": "main", "phase": phase, "startedAt": "2026-11-27T10:00:00Z",
    });
    let mut status = json!({
        "phase": phase,
        "startedAt": "2026-11-27T10:00:00Z",
        "nodes": {name: root, check_node["id"].as_str().unwrap_or_default(): check_node},
    });
    if phase != "Running" {
        status["finishedAt"] = json!("2026-11-27T10:00:05Z");
    }
    if wf.terminated {
        status["message"] = json!("Stopped with strategy 'Terminate'");
    } else if fails && phase == "Failed" {
        status["message"] = json!("child 'check' failed");
    }
    // A workflow submitted from a template: its spec refers to the
    // template (Argo's `Workflow` has `metadata` and `spec`).
    json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"workflowTemplateRef": {"name": wf.template}},
        "status": status
    })
}

/// An answer of the fake: a JSON document, or the lines of a stream.
enum Reply {
    Json(StatusCode, Value),
    Lines(Vec<Value>),
}

fn error(status: StatusCode, code: u32, message: &str) -> Reply {
    Reply::Json(status, json!({"code": code, "message": message}))
}

/// Serves a request, checking it and the answer against Argo's API
/// description.
async fn handle(
    State(fake): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let query = ferry_apicheck::parse_query(uri.query().unwrap_or_default());
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    let mut problems = swagger().check_request(&ferry_apicheck::Request {
        method: method.as_str(),
        path: &path,
        query: &query,
        body: json.as_ref(),
    });
    let response = match serve(&fake, &method, &uri, &headers, &body) {
        Reply::Json(status, doc) => {
            problems.extend(swagger().check_response(
                method.as_str(),
                &path,
                status.as_u16(),
                &doc,
            ));
            (status, axum::Json(doc)).into_response()
        }
        Reply::Lines(lines) => {
            for l in &lines {
                problems.extend(swagger().check_response(method.as_str(), &path, 200, l));
            }
            lines
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .into_response()
        }
    };
    lock(&fake)
        .violations
        .extend(problems.into_iter().map(|p| format!("swagger: {p}")));
    response
}

fn serve(fake: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Reply {
    let mut f = lock(fake);
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or_default().to_owned();
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(format!("Bearer {ARGO_TOKEN}").as_str())
    {
        f.violations
            .push(format!("{method} {path}: missing or wrong Authorization"));
        return error(StatusCode::UNAUTHORIZED, 16, "token not valid");
    }
    let prefix = format!("/api/v1/workflows/{NS}/");
    let Some(rest) = path.strip_prefix(&prefix) else {
        f.violations.push(format!("unexpected {method} {path}"));
        return error(StatusCode::NOT_FOUND, 5, "Not Found");
    };
    match (method.as_str(), rest.split_once('/')) {
        ("POST", None) if rest == "submit" => {
            let ct = headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let b: Value = match serde_json::from_slice(body) {
                Ok(b) if ct == "application/json" => b,
                other => {
                    f.violations
                        .push(format!("submit: content-type {ct:?}, body {other:?}"));
                    return error(StatusCode::BAD_REQUEST, 3, "bad request body");
                }
            };
            let template = b["resourceName"].as_str().unwrap_or_default().to_owned();
            let expected_keys = json!({
                "namespace": NS,
                "resourceKind": "WorkflowTemplate",
                "resourceName": template,
                "submitOptions": {
                    "parameters": b["submitOptions"]["parameters"],
                    "labels": "ferry.io/managed=true",
                },
            });
            if b != expected_keys || !b["submitOptions"]["parameters"].is_array() {
                f.violations
                    .push(format!("submit body {b} != {expected_keys}"));
            }
            let parameters: Vec<String> = b["submitOptions"]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            let name = format!("{template}-{:05}", f.workflows.len() + 1);
            let wf = Workflow {
                template,
                parameters,
                polls: 0,
                terminated: false,
            };
            let mut doc = document(&name, &wf, true);
            doc["status"] = json!({});
            f.workflows.insert(name, wf);
            Reply::Json(StatusCode::OK, doc)
        }
        ("GET", None) => {
            if !query.is_empty() {
                f.violations
                    .push(format!("GET {path}?{query}: no query expected"));
            }
            let hold = f.hold;
            match f.workflows.get_mut(rest) {
                Some(wf) => {
                    wf.polls += 1;
                    Reply::Json(StatusCode::OK, document(rest, wf, hold))
                }
                None => error(StatusCode::NOT_FOUND, 5, "workflow not found"),
            }
        }
        ("PUT", Some((name, "terminate"))) => {
            let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if b != json!({"name": name, "namespace": NS}) {
                f.violations.push(format!("terminate body {b}"));
            }
            let hold = f.hold;
            match f.workflows.get_mut(name) {
                Some(wf) => {
                    wf.terminated = true;
                    // Argo answers with the workflow as the terminate left it.
                    Reply::Json(StatusCode::OK, document(name, wf, hold))
                }
                None => error(StatusCode::NOT_FOUND, 5, "workflow not found"),
            }
        }
        ("GET", Some((name, "log"))) => {
            let pod = format!("{name}-check-{}", fnv32a(&format!("{name}[0].check")));
            let want = format!("podName={pod}&logOptions.container=main");
            if query != want {
                f.violations
                    .push(format!("log query {query:?} != {want:?}"));
            }
            Reply::Lines(vec![
                json!({"result": {"content": "verifying api-prod", "podName": pod}}),
                json!({"result": {"content": "api-prod answers 503", "podName": pod}}),
            ])
        }
        _ => {
            f.violations.push(format!("unexpected {method} {path}"));
            error(StatusCode::NOT_FOUND, 5, "Not Found")
        }
    }
}

async fn argo_server() -> (String, Shared) {
    let fake: Shared = Arc::default();
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(Arc::clone(&fake));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

/// qa runs `smoke` after its commit, prod runs `verify`. The templates
/// are in the configuration (ferry reads them to know the workflows); on
/// Argo the cluster's copies with the same names run.
fn with_post_actions(f: &Fixture) {
    std::fs::write(
        f.config.join("policies.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: qa-smoke}\nspec:\n  priority: 10\n  selector:\n    targetEnvironment: {names: [qa]}\n  policy: {action: commit, postAction: smoke}\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: prod-verify}\nspec:\n  priority: 10\n  selector:\n    targetEnvironment: {names: [prod]}\n  policy: {action: commit, postAction: verify}\n",
    )
    .unwrap();
    for name in ["smoke", "verify"] {
        std::fs::write(
            f.config.join(format!("{name}.yaml")),
            format!("apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {{name: {name}, annotations: {{codefresh.io/workflow-origin: promotion}}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps: [[{{name: check, template: check}}]]\n  - name: check\n    container: {{image: alpine, command: [sh, -c, 'exit 1']}}\n"),
        )
        .unwrap();
    }
}

fn argo_settings(f: &Fixture, base: &str) -> ferry_server::Settings {
    let mut s = settings(f);
    s.runtime = "codefresh-prod".into();
    s.argo_workflows = Some(ArgoWorkflowsSettings {
        url: base.to_owned(),
        namespace: Some(NS.to_owned()),
        token: Some(Secret::new(ARGO_TOKEN)),
        poll_interval: Some(1),
        ..ArgoWorkflowsSettings::default()
    });
    s
}

fn env<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == name))
        .unwrap_or(&Value::Null)
}

fn step<'a>(r: &'a Value, env_name: &str, step: &str) -> &'a Value {
    env(r, env_name)["applications"][0]["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["name"] == step))
        .unwrap_or(&Value::Null)
}

/// A release whose qa smoke workflow runs on Argo and is held there.
struct Held {
    f: Fixture,
    base: String,
    fake: Shared,
    s: common::TestServer,
    id: String,
}

async fn smoke_held() -> Held {
    let f = fixture();
    with_post_actions(&f);
    let (base, fake) = argo_server().await;
    lock(&fake).hold = true;
    let s = start(argo_settings(&f, &base)).await;
    let id = s.promote("standard").await;
    smoke_running(&s, &fake, &id).await;
    Held {
        f,
        base,
        fake,
        s,
        id,
    }
}

/// Waits until the release's qa smoke step runs `smoke-00001` and Argo
/// has answered ferry about it at least once.
async fn smoke_running(s: &common::TestServer, fake: &Shared, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        let smoke = step(&r, "qa", "smoke");
        if smoke["status"] == "RUNNING"
            && smoke["runId"] == "smoke-00001"
            && lock(fake)
                .workflows
                .get("smoke-00001")
                .is_some_and(|w| w.polls >= 1)
        {
            return;
        }
        assert!(Instant::now() < deadline, "smoke never ran: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_actions_run_on_argo_workflows() {
    let f = fixture();
    with_post_actions(&f);
    let (base, fake) = argo_server().await;
    let s = start(argo_settings(&f, &base)).await;
    let id = s.promote("standard").await;
    let r = s.wait_finished(&id).await;

    // qa: the smoke workflow ran on Argo and succeeded, its node mirrored.
    assert_eq!(r["status"], "FAILED", "{r:#}");
    assert_eq!(env(&r, "qa")["status"], "SUCCESSFUL", "{r:#}");
    let smoke = step(&r, "qa", "smoke");
    assert_eq!(smoke["status"], "SUCCESS", "{smoke:#}");
    assert_eq!(smoke["runId"], "smoke-00001");
    assert_eq!(smoke["nodes"][0]["name"], "smoke-00001[0].check");
    assert_eq!(smoke["nodes"][0]["exitCode"], 0);

    // prod: verify failed; the issue carries the pod's log from Argo.
    assert_eq!(env(&r, "prod")["status"], "FAILED", "{r:#}");
    let issues = env(&r, "prod")["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0]["kind"], "workflow");
    assert!(
        issues[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("workflow `verify` failed"),
        "{issues:#?}"
    );
    assert_eq!(
        issues[0]["details"].as_str().unwrap().trim(),
        "verifying api-prod\napi-prod answers 503"
    );

    // What Argo received: one workflow per post-action, with ferry's
    // parameters, and the token only in the Authorization header.
    {
        let f2 = lock(&fake);
        assert_eq!(f2.violations, Vec::<String>::new());
        let submitted: Vec<(&str, &str)> = f2
            .workflows
            .iter()
            .map(|(n, w)| (n.as_str(), w.template.as_str()))
            .collect();
        assert_eq!(
            submitted,
            [("smoke-00001", "smoke"), ("verify-00002", "verify")]
        );
        let smoke_params = &f2.workflows["smoke-00001"].parameters;
        for p in [
            "APP_NAME=api-qa",
            "ENVIRONMENT=qa",
            "PRODUCT_NAME=p",
            "RUNTIME=codefresh-prod",
            &format!("RELEASE_ID={id}"),
        ] {
            assert!(
                smoke_params.iter().any(|x| x == p),
                "{p} in {smoke_params:?}"
            );
        }
        assert!(
            f2.workflows["verify-00002"]
                .parameters
                .iter()
                .any(|p| p.starts_with("COMMIT_SHA=") && p.len() == "COMMIT_SHA=".len() + 40),
            "{:?}",
            f2.workflows["verify-00002"].parameters
        );
    }
    assert!(!r.to_string().contains(ARGO_TOKEN));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_follows_the_running_workflow() {
    let Held {
        f,
        base,
        fake,
        s,
        id,
    } = smoke_held().await;
    s.stop().await;

    // A new ferry on the same data: it re-attaches to smoke-00001.
    let s = start(argo_settings(&f, &base)).await;
    lock(&fake).hold = false;
    let r = s.wait_finished(&id).await;
    let smoke = step(&r, "qa", "smoke");
    assert_eq!(smoke["status"], "SUCCESS", "{r:#}");
    assert_eq!(smoke["runId"], "smoke-00001");
    assert_eq!(
        smoke["attempts"], 1,
        "followed, not started again: {smoke:#}"
    );
    {
        let f2 = lock(&fake);
        assert_eq!(f2.violations, Vec::<String>::new());
        let smokes = f2
            .workflows
            .values()
            .filter(|w| w.template == "smoke")
            .count();
        assert_eq!(smokes, 1, "one smoke workflow submitted");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_the_release_stops_the_workflow_on_argo() {
    let Held {
        f: _fixture,
        fake,
        s,
        id,
        ..
    } = smoke_held().await;
    let (status, body) = s
        .post(&format!("/api/v1/releases/{id}/terminate"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let r = s.wait_finished(&id).await;
    assert_eq!(r["status"], "TERMINATED", "{r:#}");
    assert_eq!(step(&r, "qa", "smoke")["status"], "TERMINATED", "{r:#}");
    {
        let f2 = lock(&fake);
        assert_eq!(f2.violations, Vec::<String>::new());
        assert!(f2.workflows["smoke-00001"].terminated, "PUT terminate sent");
    }
    s.stop().await;
}
