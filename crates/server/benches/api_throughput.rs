//! API throughput with many stored releases (issue 5 numbers):
//! `GET /api/v1/releases/{id}` and the first page of a product's release
//! list through the real server over HTTP, against the baseline of the
//! same reads straight from the store in-process (so the ratio is the
//! cost of HTTP + JSON + auth), plus the time `ferry serve` needs to be
//! ready on that database.
//!
//! `cargo bench -p ferry-server --bench api_throughput`
//! (`FERRY_BENCH_RELEASES` releases, default 100000; `FERRY_BENCH_REQUESTS`
//! requests per measurement, default 20000; 8 concurrent clients). The
//! load generator shares the machine with the server, so the figures are
//! a lower bound.
//!
//! The reads and `/healthz` are measured twice in the same run: with
//! tracing off (no subscriber, as `ferry serve` without `otlpEndpoint`),
//! then with ferry's OpenTelemetry layer installed and exporting to a
//! local OTLP/HTTP receiver (issue 22); `/healthz` is the baseline of each
//! (the same server, no store, no auth).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_server::{Secret, Server, Settings};
use serde_json::json;

const TOKEN: &str = "bench-token";
const CLIENTS: usize = 8;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn release(i: usize) -> ferry_release::Release {
    let environments: Vec<serde_json::Value> = ["dev", "qa", "prod"].iter().map(|e| json!({
        "name": e, "status": "SUCCESSFUL", "dependsOn": [], "issues": [],
        "applications": [{"name": format!("api-{e}"), "key": "api", "status": "SUCCESSFUL",
            "promotionCommit": "89abcdef0123456789abcdef0123456789abcdef",
            "steps": [{"name": "action", "phase": "action", "status": "SUCCESS", "attempts": 1}]}]
    })).collect();
    let v = json!({
        "id": ferry_release::new_release_id(),
        "number": 0,
        "product": format!("product-{}", i % 10),
        "flow": "standard",
        "kind": {"type": "flow"},
        "status": "SUCCEEDED",
        "initiator": "bench",
        "createdAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:01:00Z",
        "version": format!("1.0.{i}"),
        "trigger": {"repoUrl": "https://git.example/acme/gitops.git", "sha": "0123456789abcdef0123456789abcdef01234567", "message": "bump", "author": "dev", "date": "2026-01-01T00:00:00Z", "branch": "main"},
        "graph": {"name": "standard", "triggerEnvironment": "dev", "steps": [
            {"environment": "qa", "dependsOn": ["dev"], "policy": {}},
            {"environment": "prod", "dependsOn": ["qa"], "policy": {}}
        ], "timeoutSeconds": 86400},
        "snapshot": {"environment": "dev", "applications": {}},
        "environments": environments,
    });
    serde_json::from_value(v).expect("bench release is valid")
}

struct Stats {
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn measure<F, Fut>(requests: usize, f: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let f = Arc::clone(&f);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (c..requests).step_by(CLIENTS) {
                let t = Instant::now();
                f(i).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    all.sort();
    Stats {
        per_sec: requests as f64 / elapsed.as_secs_f64(),
        p50: all[all.len() / 2],
        p99: all[all.len() * 99 / 100],
    }
}

fn show(name: &str, s: &Stats) {
    println!(
        "{name:<44} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        s.per_sec,
        s.p50.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let n = env_num("FERRY_BENCH_RELEASES", 100_000);
    let requests = env_num("FERRY_BENCH_REQUESTS", 20_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&config).unwrap();
    let url = format!("sqlite://{}?mode=rwc", data.join("ferry.db").display());

    let store = ferry_store::Store::open(&url).await.unwrap();
    let t = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = release(i);
        match store.create_release(r, None, vec![]).await.unwrap() {
            ferry_store::Created::New(r, _) => ids.push(r.id),
            other => unreachable!("{other:?}"),
        }
    }
    println!("stored {n} releases in {:.1} s", t.elapsed().as_secs_f64());
    let ids = Arc::new(ids);

    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        config: Some(config.display().to_string()),
        data_dir: data.clone(),
        admin_token: Some(Secret::new(TOKEN)),
        poll_interval: None,
        config_poll_interval: None,
        ..Settings::default()
    };
    let t = Instant::now();
    let bound = Server::build(settings).await.unwrap().bind().await.unwrap();
    let base = format!("http://{}", bound.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bound.run(async move {
        let _ = rx.await;
    }));
    let http = reqwest::Client::new();
    while !http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!(
        "server ready on {n} releases in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    let pick = move |i: usize| (i.wrapping_mul(2_654_435_761)) % n;

    let (s, ids2) = (store.clone(), Arc::clone(&ids));
    let base_get = measure(requests, move |i| {
        let (s, ids) = (s.clone(), Arc::clone(&ids2));
        async move {
            s.get(&ids[pick(i)]).await.unwrap().unwrap();
        }
    })
    .await;
    let (h, ids2, b) = (http.clone(), Arc::clone(&ids), base.clone());
    let api_get_fn = move |i: usize| {
        let (h, ids, b) = (h.clone(), Arc::clone(&ids2), b.clone());
        async move {
            let r = h
                .get(format!("{b}/api/v1/releases/{}", ids[pick(i)]))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
        }
    };
    let api_get = measure(requests, api_get_fn.clone()).await;
    let s = store.clone();
    let base_list = measure(requests, move |i| {
        let s = s.clone();
        async move {
            s.list(&ferry_store::ListFilter {
                product: Some(format!("product-{}", i % 10)),
                statuses: vec![],
                limit: 50,
                cursor: None,
            })
            .await
            .unwrap();
        }
    })
    .await;
    let (h, b) = (http.clone(), base.clone());
    let api_list_fn = move |i: usize| {
        let (h, b) = (h.clone(), b.clone());
        async move {
            let r = h
                .get(format!("{b}/api/v1/products/product-{}/releases", i % 10))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
        }
    };
    let api_list = measure(requests, api_list_fn.clone()).await;
    let (h, b) = (http.clone(), base.clone());
    let healthz_fn = move |_: usize| {
        let (h, b) = (h.clone(), b.clone());
        async move {
            let r = h.get(format!("{b}/healthz")).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
        }
    };
    let healthz = measure(requests, healthz_fn.clone()).await;

    // Tracing on: ferry's OpenTelemetry layer, exporting to a local
    // OTLP/HTTP receiver that reads every body and answers as a collector.
    let exported = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = Arc::clone(&exported);
    let receiver = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let counter = Arc::clone(&counter);
            async move {
                counter.fetch_add(body.len() as u64, std::sync::atomic::Ordering::Relaxed);
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await });
    let traces = ferry_telemetry::Traces::start(&collector).unwrap();
    {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        tracing_subscriber::registry()
            .with(traces.layer())
            .try_init()
            .unwrap();
    }
    let api_get_traced = measure(requests, api_get_fn).await;
    let api_list_traced = measure(requests, api_list_fn).await;
    let healthz_traced = measure(requests, healthz_fn).await;
    tokio::task::spawn_blocking(move || traces.shutdown())
        .await
        .unwrap();

    println!("{requests} requests each, {CLIENTS} concurrent clients, {n} releases stored");
    show("baseline: store.get(id) in-process", &base_get);
    show("GET /api/v1/releases/{id}", &api_get);
    println!(
        "  ratio API/baseline throughput: {:.2}",
        api_get.per_sec / base_get.per_sec
    );
    show("baseline: store.list(product, 50) in-process", &base_list);
    show("GET /api/v1/products/{p}/releases (page 1)", &api_list);
    println!(
        "  ratio API/baseline throughput: {:.2}",
        api_list.per_sec / base_list.per_sec
    );

    println!("tracing off / on (OpenTelemetry layer exporting to a local receiver):");
    for (name, off, on) in [
        ("GET /healthz", &healthz, &healthz_traced),
        ("GET /api/v1/releases/{id}", &api_get, &api_get_traced),
        (
            "GET /api/v1/products/{p}/releases",
            &api_list,
            &api_list_traced,
        ),
    ] {
        show(&format!("{name} (off)"), off);
        show(&format!("{name} (on)"), on);
        println!(
            "  on/off throughput {:.2}; against /healthz: off {:.2}, on {:.2}",
            on.per_sec / off.per_sec,
            off.per_sec / healthz.per_sec,
            on.per_sec / healthz_traced.per_sec
        );
    }
    println!(
        "  bytes the receiver got: {}",
        exported.load(std::sync::atomic::Ordering::Relaxed)
    );

    let _ = tx.send(());
    server.await.unwrap().unwrap();
}
