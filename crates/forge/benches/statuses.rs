//! Status delivery for 1,000 releases × 4 environments against an
//! in-test GitHub (127.0.0.1), issue 7's numbers:
//! - HTTP calls per actual status change (state or description) per context (coalescing; ≤ 1 when
//!   nothing fails), against the baseline of a publisher that sends every
//!   context on every engine event;
//! - the delay from a state change to its delivered status (p50 ≤ 50 ms).
//!
//! Run: `cargo bench -p ferry-forge --bench statuses` (`-- <releases>` to
//! change the count).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{StatusCode, Uri};
use ferry_forge::registry::Entry;
use ferry_forge::status::statuses;
use ferry_forge::{Forge, ForgeKind, GitHub, Registry, RetryPolicy, Secret, StatusPublisher};
use ferry_release::Release;
use serde_json::json;

const REPO: &str = "https://github.com/acme/gitops.git";
const ENVS: [&str; 4] = ["qa", "staging", "perf", "prod"];
/// Engine events per step of a release: one save carries several status
/// changes (step, application, environment, release), each an event.
const EVENTS_PER_STEP: usize = 4;
/// A new release every 5 ms (1,000 releases in 5 s) …
const ARRIVAL: Duration = Duration::from_millis(5);
/// … each saving a new state every 25 ms: ~3,000 state changes per second
/// at the peak, far more than a real engine produces.
const STEP: Duration = Duration::from_millis(25);

fn release(n: u64, status: &str, envs: &[&str; 4]) -> Release {
    let mut environments = vec![
        json!({"name": "dev", "status": "SUCCESSFUL", "dependsOn": [], "trigger": true, "issues": [], "applications": []}),
    ];
    for (name, st) in ENVS.iter().zip(envs) {
        environments.push(
            json!({"name": name, "status": st, "dependsOn": [], "issues": [], "applications": []}),
        );
    }
    serde_json::from_value(json!({
        "id": format!("R{n}"), "number": n, "product": "shop", "flow": "f", "kind": {"type": "automatic"},
        "status": status, "initiator": "dev", "createdAt": "2026-01-01T00:00:00Z", "finishedAt": null,
        "version": "1.0.0",
        "trigger": {"repoUrl": REPO, "sha": format!("{n:040x}"), "message": "m", "author": "a", "date": "2026-01-01T00:00:00Z", "branch": "main"},
        "graph": {"name": "f", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 60},
        "snapshot": {"environment": "dev", "applications": {}},
        "environments": environments
    }))
    .expect("release")
}

/// The life of a release, one entry per engine save.
fn lifecycle() -> Vec<(&'static str, [&'static str; 4])> {
    let mut steps = vec![("QUEUED", ["PENDING"; 4])];
    let mut envs = ["PENDING"; 4];
    for i in 0..4 {
        envs[i] = "RUNNING";
        steps.push(("RUNNING", envs));
        envs[i] = "SUCCESSFUL";
        steps.push(("RUNNING", envs));
    }
    steps.push(("SUCCEEDED", envs));
    steps
}

async fn fake_github() -> (String, Arc<AtomicU64>) {
    let calls = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&calls);
    let board: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let app = axum::Router::new().fallback(move |uri: Uri, body: Bytes| {
        let (c, board) = (Arc::clone(&c), Arc::clone(&board));
        async move {
            c.fetch_add(1, Ordering::Relaxed);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            board.lock().unwrap().insert(
                format!("{}{}", uri.path(), v["context"]),
                v["state"].as_str().unwrap_or("").to_owned(),
            );
            (
                StatusCode::CREATED,
                axum::Json(json!({"id": 1, "state": v["state"]})),
            )
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), calls)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let (api, calls) = fake_github().await;
        let github = Arc::new(GitHub::new(&api, Secret::new("t"), Secret::default(), Duration::from_secs(10)).expect("client"));
        let registry = Arc::new(Registry::from_forges(vec![Entry {
            kind: ForgeKind::Github,
            repo_prefix: "https://github.com/".into(),
            forge: Arc::clone(&github) as Arc<dyn Forge>,
            webhook_secret: Secret::default(),
            poll_interval: Duration::from_secs(60),
            web_path: String::new(),
        retry: None,
        }]));
        let publisher = StatusPublisher::new(registry, "https://ferry.example", RetryPolicy::default());
        let steps = lifecycle();

        // ferry: every release walks its life concurrently; each save is
        // seen EVENTS_PER_STEP times, as the engine's event stream does.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for r in 0..n {
            let (p, steps) = (publisher.clone(), steps.clone());
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(ARRIVAL.saturating_mul(r as u32)).await;
                for (status, envs) in &steps {
                    let rel = release(r + 1, status, envs);
                    for _ in 0..EVENTS_PER_STEP {
                        p.publish(&rel);
                    }
                    tokio::time::sleep(STEP).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        publisher.idle().await;
        let elapsed = start.elapsed();
        let stats = publisher.stats();
        let mut delays = stats.delays.clone();
        delays.sort();
        let ferry_calls = calls.load(Ordering::Relaxed);

        // Baseline: a publisher without coalescing sends every context on
        // every event (measured on the first 100 releases, scaled).
        let sample = n.min(100);
        let before = calls.load(Ordering::Relaxed);
        let base_start = Instant::now();
        for r in 0..sample {
            for (status, envs) in &steps {
                let rel = release(r + 1, status, envs);
                for _ in 0..EVENTS_PER_STEP {
                    for (_, sha, st) in statuses(&rel, "https://ferry.example") {
                        github.set_commit_status("acme/gitops", &sha, &st).await.expect("naive call");
                    }
                }
            }
        }
        let naive_calls = (calls.load(Ordering::Relaxed) - before) * n / sample;
        let naive_time = base_start.elapsed();

        println!(
            "status delivery: {n} releases x {} environments, {} saves x {EVENTS_PER_STEP} events each, a release every {ARRIVAL:?}, a save every {STEP:?}",
            ENVS.len(),
            steps.len()
        );
        println!("  status changes (state or description, per context): {}", stats.changes);
        println!("  ferry HTTP calls:            {ferry_calls} ({:.3} per status change; failed {})", ferry_calls as f64 / stats.changes as f64, stats.failed_calls);
        println!("  baseline (no coalescing):    {naive_calls} ({:.3} per status change; measured on {sample} releases in {naive_time:.2?})", naive_calls as f64 / stats.changes as f64);
        println!("  calls saved:                 {:.1}x fewer than the baseline", naive_calls as f64 / ferry_calls as f64);
        println!(
            "  delay state change -> delivered: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({} samples)",
            percentile(&delays, 0.5).as_secs_f64() * 1e3,
            percentile(&delays, 0.95).as_secs_f64() * 1e3,
            delays.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
            delays.len()
        );
        println!("  wall time: {elapsed:.2?}");
    });
}
