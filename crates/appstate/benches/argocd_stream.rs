//! Argo CD provider numbers (issue 9), one run:
//!
//! 1. **Reaction latency**: from Argo CD changing an application to the
//!    provider's waiter seeing the new state — via the application stream,
//!    against the baseline of polling `GET /api/v1/applications/{name}`
//!    at the engine's default sync interval (1 s).
//! 2. **Scale**: 5,000 applications in one stream at 50 updates/s: this
//!    process's resident memory and CPU while Argo CD (a child process
//!    running the fake server, so its work is not counted) streams the
//!    updates. Baseline for CPU: only deserialising the same messages.
//!
//! Run: `cargo bench -p ferry-appstate --bench argocd_stream`

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_appstate::argocd::fake::{FakeArgoCd, application, set_resources, set_state};
use ferry_appstate::argocd::types::StreamMessage;
use ferry_appstate::argocd::{ArgoCdProvider, InstanceConfig, Secret};
use ferry_appstate::{AppRef, AppStateProvider, Health};
use ferry_gitops::Workspace;

const TOKEN: &str = "bench-token";
const APPS: usize = 5000;
const RATE: u64 = 50;
const WINDOW: Duration = Duration::from_secs(20);

fn doc(i: usize) -> serde_json::Value {
    let name = format!("app-{i:05}");
    let mut a = application(
        &name,
        "argocd",
        "https://git.example/gitops.git",
        &format!("apps/{name}"),
    );
    a["metadata"]["annotations"]["codefresh.io/product"] = format!("p{}", i % 50).into();
    set_state(
        &mut a,
        "Synced",
        "0123456789abcdef0123456789abcdef01234567",
        "Healthy",
        None,
    );
    let resources: Vec<(&str, &str, &str, Option<&str>)> = vec![
        ("Deployment", "web", "Healthy", None),
        ("Service", "web", "Healthy", None),
        ("ConfigMap", "web-config", "Healthy", None),
        ("HorizontalPodAutoscaler", "web", "Healthy", None),
        ("ServiceAccount", "web", "Healthy", None),
        ("Ingress", "web", "Healthy", None),
    ];
    set_resources(&mut a, &resources);
    a
}

/// Child role: a fake Argo CD with APPS applications that, once a client
/// streams, changes RATE applications per second for WINDOW (plus slack).
fn fake_child() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let fake = FakeArgoCd::start(TOKEN).await;
        for i in 0..APPS {
            fake.put(doc(i));
        }
        println!("{}", fake.url());
        while fake.open_streams() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Let the client take the initial burst in.
        tokio::time::sleep(Duration::from_secs(3)).await;
        println!("updating");
        let mut tick = tokio::time::interval(Duration::from_millis(1000 / RATE));
        let total = RATE * (WINDOW.as_secs() + 5);
        for n in 0..total {
            tick.tick().await;
            let i = (n as usize * 7919) % APPS;
            let health = if n % 2 == 0 { "Progressing" } else { "Healthy" };
            fake.update("argocd", &format!("app-{i:05}"), |a| {
                set_state(
                    a,
                    "Synced",
                    "0123456789abcdef0123456789abcdef01234567",
                    health,
                    None,
                )
            });
        }
        println!("done");
    });
}

fn proc_self() -> (u64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let rss_kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(") ")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the comm.
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    let hz = 100.0; // USER_HZ on Linux
    (rss_kb, ticks as f64 / hz)
}

fn workspace() -> (tempfile::TempDir, Arc<Workspace>) {
    let dir = tempfile::tempdir().unwrap();
    let ws = Arc::new(Workspace::new(
        dir.path().join("cache"),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    ));
    (dir, ws)
}

fn app_ref(name: &str) -> AppRef {
    AppRef {
        name: name.into(),
        namespace: None,
        repo_url: "https://git.example/gitops.git".into(),
        path: format!("apps/{name}"),
        target_revision: "main".into(),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn latency() {
    let (_d, ws) = workspace();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(doc(0));
    let app = app_ref("app-00000");
    let mut cfg = InstanceConfig::new("bench", fake.url());
    cfg.token = Some(Secret::new(TOKEN));
    let stream = ArgoCdProvider::new(cfg.clone(), Arc::clone(&ws)).unwrap();
    while !stream.stream_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut rx = stream.updates(&app).unwrap();
    let mut via_stream = Vec::new();
    for n in 0..200 {
        let want = if n % 2 == 0 { "Degraded" } else { "Healthy" };
        rx.borrow_and_update();
        let t0 = Instant::now();
        fake.update("argocd", "app-00000", |a| {
            set_state(a, "Synced", "x", want, None)
        });
        loop {
            rx.changed().await.unwrap();
            let obs = stream.observe(&app, None).await.unwrap();
            if obs.state.health == Health::parse(want) {
                break;
            }
        }
        via_stream.push(t0.elapsed());
    }
    via_stream.sort();

    // Baseline: polling single GETs at the engine's default sync interval.
    cfg.watch = false;
    let polling = ArgoCdProvider::new(cfg, ws).unwrap();
    let interval = Duration::from_secs(1);
    let mut via_poll = Vec::new();
    // Polls happen on a fixed 1 s grid; changes land anywhere in the cycle.
    let mut next = tokio::time::Instant::now();
    for n in 0..10u64 {
        let want = if n % 2 == 0 { "Degraded" } else { "Healthy" };
        tokio::time::sleep(Duration::from_millis(1000 + 293 * n % 1000)).await;
        let t0 = Instant::now();
        fake.update("argocd", "app-00000", |a| {
            set_state(a, "Synced", "x", want, None)
        });
        while next <= tokio::time::Instant::now() {
            next += interval;
        }
        loop {
            tokio::time::sleep_until(next).await;
            next += interval;
            if polling.observe(&app, None).await.unwrap().state.health == Health::parse(want) {
                break;
            }
        }
        via_poll.push(t0.elapsed());
    }
    let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len() as u32;
    println!("## reaction latency (Argo CD change → provider sees it)");
    println!(
        "stream   n={:<4} p50 {:>8.2?}  p99 {:>8.2?}  max {:>8.2?}  mean {:>8.2?}",
        via_stream.len(),
        percentile(&via_stream, 0.5),
        percentile(&via_stream, 0.99),
        via_stream[via_stream.len() - 1],
        mean(&via_stream)
    );
    via_poll.sort();
    println!(
        "baseline polling GET every 1 s  n={:<4} p50 {:>8.2?}  max {:>8.2?}  mean {:>8.2?}",
        via_poll.len(),
        percentile(&via_poll, 0.5),
        via_poll[via_poll.len() - 1],
        mean(&via_poll)
    );
    println!(
        "ratio (polling mean / stream mean): {:.0}x",
        mean(&via_poll).as_secs_f64() / mean(&via_stream).as_secs_f64()
    );
}

async fn scale() {
    let (rss_before, _) = proc_self();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("FERRY_BENCH_ROLE", "fake")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next().unwrap().unwrap();
    let (_d, ws) = workspace();
    let mut cfg = InstanceConfig::new("bench", url);
    cfg.token = Some(Secret::new(TOKEN));
    let provider = ArgoCdProvider::new(cfg, ws).unwrap();
    let t0 = Instant::now();
    while provider.events_applied() < APPS as u64 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let initial = t0.elapsed();
    let (rss_synced, _) = proc_self();
    let line = tokio::task::spawn_blocking(move || {
        let l = lines.next();
        (l, lines)
    })
    .await
    .unwrap();
    assert_eq!(line.0.unwrap().unwrap(), "updating");
    let mut lines = line.1;
    let (_, cpu0) = proc_self();
    let events0 = provider.events_applied();
    let w0 = Instant::now();
    let mut rss_peak = rss_synced;
    while w0.elapsed() < WINDOW {
        tokio::time::sleep(Duration::from_millis(500)).await;
        rss_peak = rss_peak.max(proc_self().0);
    }
    let (rss_end, cpu1) = proc_self();
    let wall = w0.elapsed().as_secs_f64();
    let events = provider.events_applied() - events0;
    let cpu_share = (cpu1 - cpu0) / wall;

    // Baseline: deserialising the same number of stream messages, nothing else.
    let sample: Vec<String> = (0..200)
        .map(|i| {
            serde_json::json!({"result": {"type": "MODIFIED", "application": doc(i)}}).to_string()
        })
        .collect();
    let b0 = Instant::now();
    for n in 0..events as usize {
        let m: StreamMessage = serde_json::from_slice(sample[n % sample.len()].as_bytes()).unwrap();
        std::hint::black_box(m);
    }
    let parse_share = b0.elapsed().as_secs_f64() / wall;

    println!("## {APPS} applications in one stream, {RATE} updates/s for {wall:.0} s");
    println!("initial sync of {APPS} applications: {initial:.2?}");
    println!(
        "RSS: {:.1} MB before, {:.1} MB after the initial sync, peak {:.1} MB, {:.1} MB at the end (budget 200 MB: {:.2} of it)",
        rss_before as f64 / 1024.0,
        rss_synced as f64 / 1024.0,
        rss_peak as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        rss_peak as f64 / 1024.0 / 200.0
    );
    println!(
        "events applied: {events} ({:.1}/s); CPU {:.2}% of a core (budget 10%: {:.3} of it)",
        events as f64 / wall,
        cpu_share * 100.0,
        cpu_share / 0.10
    );
    println!(
        "baseline parse-only CPU {:.2}% of a core; provider / parse-only: {:.1}x",
        parse_share * 100.0,
        cpu_share / parse_share.max(f64::EPSILON)
    );
    let _ = lines.next();
    let _ = child.kill();
    let _ = child.wait();
}

fn main() {
    if std::env::var("FERRY_BENCH_ROLE").as_deref() == Ok("fake") {
        fake_child();
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick run: skip the measurements then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        latency().await;
        scale().await;
    });
}
