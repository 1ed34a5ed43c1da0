//! OpenTelemetry traces of a real promotion (SPEC §10, issue 22): the
//! server exports to an in-test OTLP/HTTP receiver (a small axum server
//! that decodes the protobuf with opentelemetry-proto), and the test checks
//! one trace per step — the trace id the release's step record names —
//! with the git, workflow and sync-wait spans under each step's root span.
//!
//! The promotion: qa has a pre-action workflow that waits for a file; while
//! it waits, another commit lands on the GitOps repository, so qa's commit
//! is pushed, refused (the mirror is behind), fetched, committed again and
//! pushed — every git span in one trace. Its own test binary: the trace
//! layer is installed in the process's global subscriber.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use common::{fixture, git, settings, start};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

type Received = Arc<Mutex<Vec<(String, Span)>>>;

/// `POST /v1/traces` as a collector answers it: protobuf in, an empty
/// `ExportTraceServiceResponse` out; anything else is refused.
async fn collect(
    State(received): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, [(header::HeaderName, &'static str); 1], Vec<u8>) {
    let protobuf = [(header::CONTENT_TYPE, "application/x-protobuf")];
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-protobuf")
    {
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, protobuf, Vec::new());
    }
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, protobuf, Vec::new());
    };
    let mut spans = received.lock().unwrap();
    for rs in request.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|a| a.key == "service.name")
            .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in rs.scope_spans {
            spans.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
        }
    }
    (
        StatusCode::OK,
        protobuf,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            _ => None,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_is_traced_step_by_step() {
    // The receiver.
    let received = Received::default();
    let app = axum::Router::new()
        .route("/v1/traces", axum::routing::post(collect))
        .with_state(Arc::clone(&received));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // ferry's trace pipeline, as `ferry serve` installs it.
    let traces = Arc::new(ferry_telemetry::Traces::start(&collector).unwrap());
    tracing_subscriber::registry()
        .with(traces.layer())
        .try_init()
        .unwrap();

    // qa waits in a pre-action until the test lets it go.
    let f = fixture();
    let gate = f.root.path().join("gate");
    std::fs::write(
        f.config.join("gate.yaml"),
        format!(
            "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {{name: qa-gate}}\nspec:\n  priority: 10\n  selector:\n    targetEnvironment: {{names: [qa]}}\n  policy: {{preAction: gate, action: commit}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {{name: gate, annotations: {{codefresh.io/workflow-origin: promotion}}}}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      script: {{image: alpine, command: [sh], source: \"while [ ! -f {} ]; do sleep 0.1; done\"}}\n",
            gate.display()
        ),
    )
    .unwrap();
    let s = start(settings(&f)).await;
    let id = s.promote("standard").await;
    // Wait until the gate runs, then move the repository on under ferry.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        let qa = &r["environments"][1]["applications"][0]["steps"][0];
        if qa["status"] == "RUNNING" {
            break;
        }
        assert!(Instant::now() < deadline, "the gate never ran: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let work = f.root.path().join("other");
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::fs::write(work.join("README.md"), "unrelated\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "unrelated"]);
    git(&work, &["push", "-q", "origin", "HEAD:main"]);
    std::fs::write(&gate, "").unwrap();
    let release = s.wait_finished(&id).await;
    assert_eq!(release["status"], "SUCCEEDED", "{release:#}");
    s.stop().await;
    let t = Arc::clone(&traces);
    tokio::task::spawn_blocking(move || t.flush())
        .await
        .unwrap();

    // Every step names its trace; each trace is that step's alone.
    let mut steps = BTreeMap::new();
    for env in release["environments"].as_array().unwrap() {
        for app in env["applications"].as_array().unwrap() {
            for step in app["steps"].as_array().unwrap() {
                if step["status"] != "SUCCESS" {
                    continue;
                }
                let trace = step["traceId"].as_str().unwrap_or_default().to_owned();
                assert!(
                    trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
                    "{}/{}: traceId {trace:?}",
                    env["name"],
                    step["name"]
                );
                let key = format!(
                    "{} {} {}",
                    env["name"].as_str().unwrap(),
                    step["phase"].as_str().unwrap(),
                    step["name"].as_str().unwrap()
                );
                assert!(steps.insert(key, trace).is_none());
            }
        }
    }
    let expected: BTreeSet<&str> = [
        "qa preAction gate",
        "qa action commit",
        "qa sync sync",
        "prod action commit",
        "prod sync sync",
    ]
    .into();
    assert_eq!(
        steps.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        expected
    );
    let distinct: BTreeSet<&String> = steps.values().collect();
    assert_eq!(distinct.len(), steps.len(), "one trace per step: {steps:?}");

    let spans = received.lock().unwrap().clone();
    let by_trace = |trace: &str| -> Vec<Span> {
        spans
            .iter()
            .filter(|(_, s)| hex(&s.trace_id) == trace)
            .map(|(_, s)| s.clone())
            .collect()
    };
    assert!(
        spans.iter().all(|(service, _)| service == "ferry"),
        "service.name"
    );
    for (step, trace) in &steps {
        let trace_spans = by_trace(trace);
        // One root: the step, named after its phase and name.
        let roots: Vec<&Span> = trace_spans
            .iter()
            .filter(|s| s.parent_span_id.is_empty())
            .collect();
        assert_eq!(roots.len(), 1, "{step}: roots {roots:#?}");
        let root = roots[0];
        let (env, rest) = step.split_once(' ').unwrap();
        assert_eq!(root.name, rest, "{step}");
        assert_eq!(attribute(root, "release").as_deref(), Some(id.as_str()));
        assert_eq!(attribute(root, "environment").as_deref(), Some(env));
        assert_eq!(attribute(root, "trace_id").as_deref(), Some(trace.as_str()));
        // Every other span hangs from a span of the same trace.
        let ids: BTreeSet<Vec<u8>> = trace_spans.iter().map(|s| s.span_id.clone()).collect();
        for s in &trace_spans {
            assert!(
                s.parent_span_id.is_empty() || ids.contains(&s.parent_span_id),
                "{step}: {} has a parent outside its trace",
                s.name
            );
        }
        let children: Vec<&str> = trace_spans
            .iter()
            .filter(|s| s.parent_span_id == root.span_id)
            .map(|s| s.name.as_str())
            .collect();
        match rest {
            "preAction gate" => {
                assert_eq!(children, ["workflow.run"], "{step}");
                let run = trace_spans
                    .iter()
                    .find(|s| s.name == "workflow.run")
                    .unwrap();
                assert_eq!(attribute(run, "workflow").as_deref(), Some("gate"));
                assert_eq!(attribute(run, "executor").as_deref(), Some("local"));
                assert!(attribute(run, "run").is_some_and(|r| !r.is_empty()));
            }
            "action commit" => {
                for name in ["git.commit", "git.push"] {
                    assert!(children.contains(&name), "{step}: {children:?}");
                }
                if env == "qa" {
                    // Refused (behind the remote), fetched, done again.
                    let count = |n: &str| children.iter().filter(|c| **c == n).count();
                    assert_eq!(count("git.push"), 2, "{step}: {children:?}");
                    assert_eq!(count("git.commit"), 2, "{step}: {children:?}");
                    assert!(count("git.fetch") >= 1, "{step}: {children:?}");
                }
                let push = trace_spans.iter().find(|s| s.name == "git.push").unwrap();
                assert_eq!(attribute(push, "branch").as_deref(), Some("main"));
                assert!(
                    attribute(push, "url").is_some_and(|u| u.contains("gitops.git")),
                    "{push:#?}"
                );
            }
            "sync sync" => {
                assert_eq!(children, ["sync.wait"], "{step}");
                let wait = trace_spans.iter().find(|s| s.name == "sync.wait").unwrap();
                assert_eq!(attribute(wait, "provider").as_deref(), Some("git"));
                assert!(wait.end_time_unix_nano >= wait.start_time_unix_nano);
            }
            other => panic!("unexpected step {other}"),
        }
        // The root spans its children.
        for s in &trace_spans {
            assert!(
                s.start_time_unix_nano >= root.start_time_unix_nano
                    && s.end_time_unix_nano <= root.end_time_unix_nano,
                "{step}: {} outside its step",
                s.name
            );
        }
    }
}
