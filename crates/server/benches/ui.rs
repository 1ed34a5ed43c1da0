//! Web UI benchmark (issue 6, "Numbers"): the release view of a flow of
//! 30 environments × 10 applications.
//!
//! Measured in one run, each against a named baseline:
//! - server render: `ferry_ui::render_release_page` (view model +
//!   askama template) against the baseline "JSON serialisation of the
//!   same release" (`serde_json::to_vec`, what the JSON API does for it);
//! - HTTP: `GET /products/p/releases/1` on a real in-process server with
//!   the release in its SQLite store, against the baseline
//!   `GET /api/v1/releases/{id}` (same release, same store read, JSON);
//! - transfer: HTML + CSS + JS bytes of that page (the goal is ≤ 150 KB);
//! - first paint in headless Chromium (`first-contentful-paint` from the
//!   Paint Timing API) of the page against the baseline "the same
//!   release's JSON document opened in the same browser".
//!
//! Run: `cargo bench -p ferry-server --bench ui` (needs Debian's
//! `chromium` and `chromium-driver`; `FERRY_UI_BENCH_ITERS` sets the
//! render iterations, default 200).

#[path = "../tests/browser/mod.rs"]
mod browser;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ferry_model::resource::{Action, Hooks, PolicySettings};
use ferry_release::{
    ApplicationRun, EnvironmentRun, EnvironmentStatus, Event, EventKind, FrozenFlow, FrozenStep,
    Issue, IssueKind, NewEvent, Release, ReleaseKind, ReleaseStatus, Snapshot, StepPhase, StepRun,
    StepStatus, Trigger, WorkflowNode,
};
use ferry_server::{Server, Settings};

const ENVS: usize = 30;
const APPS: usize = 10;
/// Parallel environments per layer after the trigger environment.
const WIDTH: usize = 3;
const FAILING: usize = 16;

fn names() -> Vec<String> {
    (0..ENVS)
        .map(|i| {
            if i == 0 {
                "dev".into()
            } else {
                format!("env-{i:02}")
            }
        })
        .collect()
}

fn layer(i: usize) -> usize {
    if i == 0 { 0 } else { (i - 1) / WIDTH + 1 }
}

fn depends_on(i: usize, names: &[String]) -> Vec<String> {
    if i == 0 {
        return vec![];
    }
    (0..i)
        .filter(|j| layer(*j) + 1 == layer(i))
        .map(|j| names[j].clone())
        .collect()
}

fn status_of(i: usize) -> EnvironmentStatus {
    if i == FAILING {
        EnvironmentStatus::Failed
    } else if layer(i) <= layer(FAILING) {
        EnvironmentStatus::Successful
    } else {
        EnvironmentStatus::Pending
    }
}

fn release() -> Release {
    let t0 = time::macros::datetime!(2026-11-27 08:00:00 UTC);
    let names = names();
    let sha = "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6";
    let environments = (0..ENVS)
        .map(|i| {
            let st = status_of(i);
            let done = st != EnvironmentStatus::Pending;
            let at = t0 + Duration::from_secs(60 * i as u64);
            let applications = (0..APPS)
                .map(|a| {
                    let app_status = if i == FAILING && a == 3 {
                        EnvironmentStatus::Failed
                    } else {
                        st
                    };
                    let step_status = |s: usize| match (app_status, s) {
                        (EnvironmentStatus::Pending, _) => StepStatus::Pending,
                        (EnvironmentStatus::Failed, 3) => StepStatus::Failed,
                        _ => StepStatus::Success,
                    };
                    let steps = [
                        ("smoke-test", StepPhase::PreAction),
                        ("commit", StepPhase::Action),
                        ("sync", StepPhase::Sync),
                        ("integration-test", StepPhase::PostAction),
                    ]
                    .into_iter()
                    .enumerate()
                    .map(|(s, (name, phase))| StepRun {
                        status: step_status(s),
                        started_at: done.then_some(at),
                        finished_at: done.then_some(at + Duration::from_secs(7)),
                        run_id: done.then(|| format!("{name}-{i}-{a}")),
                        attempts: u32::from(done),
                        nodes: if matches!(phase, StepPhase::PreAction | StepPhase::PostAction)
                            && done
                        {
                            vec![WorkflowNode {
                                name: format!("{name}-{i}{a}"),
                                status: step_status(s),
                                message: None,
                                exit_code: Some(0),
                            }]
                        } else {
                            vec![]
                        },
                        ..StepRun::pending(name, phase)
                    })
                    .collect();
                    ApplicationRun {
                        name: format!("svc{a}-{}", names[i]),
                        key: format!("svc{a}"),
                        repo_url: "https://git.example/org/gitops.git".into(),
                        path: format!("apps/svc{a}/{}", names[i]),
                        target_revision: "main".into(),
                        namespace: None,
                        status: app_status,
                        promotion_commit: done.then(|| sha.to_owned()),
                        pull_request: None,
                        sync: done.then(|| "Synced".into()),
                        health: done.then(|| "Healthy".into()),
                        observed_at: None,
                        steps,
                        outputs: BTreeMap::new(),
                    }
                })
                .collect();
            EnvironmentRun {
                name: names[i].clone(),
                status: st,
                depends_on: depends_on(i, &names),
                trigger: i == 0,
                issues: if i == FAILING {
                    vec![Issue {
                        kind: IssueKind::Workflow,
                        message: "workflow `integration-test` failed: exit code 1".into(),
                        application: Some(format!("svc3-{}", names[i])),
                        step: Some("integration-test".into()),
                        details: Some(
                            (0..40)
                                .map(|l| format!("[{l:02}] GET /health -> 503 Service Unavailable\n"))
                                .collect(),
                        ),
                        manifest: Some(
                            "apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nspec:\n  entrypoint: main\n"
                                .into(),
                        ),
                        link: None,
                        at,
                        attempt: 1,
                    }]
                } else {
                    vec![]
                },
                applications,
                hooks: vec![StepRun {
                    status: if done { StepStatus::Success } else { StepStatus::Pending },
                    ..StepRun::pending("onStart: notify", StepPhase::Hook)
                }],
                approval: None,
                started_at: done.then_some(at),
                finished_at: done.then_some(at + Duration::from_secs(40)),
                hold: None,
            }
        })
        .collect();
    let steps = (1..ENVS)
        .map(|i| FrozenStep {
            environment: names[i].clone(),
            depends_on: depends_on(i, &names),
            policy: PolicySettings {
                pre_action: Some("smoke-test".into()),
                action: Some(Action::Commit),
                post_action: Some("integration-test".into()),
                approval: None,
                on_failure: None,
            },
            hooks: Hooks::default(),
        })
        .collect();
    Release {
        id: ferry_release::new_release_id(),
        number: 1,
        product: "p".into(),
        flow: "wide".into(),
        kind: ReleaseKind::Flow,
        status: ReleaseStatus::Failed,
        initiator: "jane@example.com".into(),
        created_at: t0,
        finished_at: Some(t0 + Duration::from_secs(3600)),
        version: Some("1.4.2".into()),
        trigger: Trigger {
            repo_url: "https://git.example/org/gitops.git".into(),
            sha: sha.into(),
            message: "bump every service to 1.4.2".into(),
            author: "Jane <jane@example.com>".into(),
            date: "2026-11-27T07:59:00Z".into(),
            branch: "main".into(),
        },
        graph: FrozenFlow {
            name: "wide".into(),
            trigger_environment: "dev".into(),
            steps,
            hooks: Hooks::default(),
            trigger_post_action: None,
            timeout_seconds: 86_400,
        },
        snapshot: Snapshot {
            environment: "dev".into(),
            applications: BTreeMap::new(),
            pending: false,
        },
        environments,
        hooks: vec![],
        termination: None,
        hotfix: false,
        break_glass: None,
        attempt: 1,
        rolled_back_by: Vec::new(),
        rollback_for: None,
        timeout: None,
    }
}

/// The history such a release has: per environment and application its
/// status changes and every step's RUNNING and end.
fn new_events(r: &Release) -> Vec<NewEvent> {
    let mut out =
        vec![NewEvent::new(EventKind::Audit, "RUNNING").message("release created by jane")];
    for e in &r.environments {
        if e.status == EnvironmentStatus::Pending {
            continue;
        }
        out.push(NewEvent::new(EventKind::Environment, "RUNNING").environment(&e.name));
        for a in &e.applications {
            out.push(
                NewEvent::new(EventKind::Application, "RUNNING")
                    .environment(&e.name)
                    .application(&a.name),
            );
            for s in &a.steps {
                for st in ["RUNNING", s.status.as_str()] {
                    out.push(
                        NewEvent::new(EventKind::Step, st)
                            .environment(&e.name)
                            .application(&a.name)
                            .step(&s.name),
                    );
                }
            }
            out.push(
                NewEvent::new(EventKind::Application, a.status.as_str())
                    .environment(&e.name)
                    .application(&a.name),
            );
        }
        out.push(NewEvent::new(EventKind::Environment, e.status.as_str()).environment(&e.name));
    }
    out.push(NewEvent::new(EventKind::Release, "FAILED"));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p95(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[(v.len() * 95 / 100).min(v.len() - 1)]
}

fn time_ms(mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // Criterion-style runners pass `--bench`; nothing else is accepted.
    let iters: usize = std::env::var("FERRY_UI_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let r = release();
    let events: Vec<Event> = new_events(&r)
        .into_iter()
        .enumerate()
        .map(|(i, e)| e.into_event(&r.id, i as u64 + 1))
        .collect();

    // 1. Server render, in process.
    let html = ferry_ui::render_release_page(&r, &events).expect("renders");
    for _ in 0..5 {
        let _ = ferry_ui::render_release_page(&r, &events);
        let _ = serde_json::to_vec(&r);
    }
    let mut render = Vec::new();
    let mut json = Vec::new();
    for _ in 0..iters {
        render.push(time_ms(|| {
            std::hint::black_box(ferry_ui::render_release_page(&r, &events).ok());
        }));
        json.push(time_ms(|| {
            std::hint::black_box(serde_json::to_vec(&r).ok());
        }));
    }

    // 2. A real server with the release in its store.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("env.yaml"),
        "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  kind: NON_PROD\n",
    )
    .unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ferry.db").display()
    );
    {
        let store = ferry_store::Store::open(&db).await.unwrap();
        let ferry_store::Created::New(stored, _) = store
            .create_release(r.clone(), Some("bench"), vec![])
            .await
            .unwrap()
        else {
            panic!("stored once")
        };
        assert_eq!(stored.number, 1);
        let stored_events = new_events(&r);
        store.save(&stored, stored_events).await.unwrap();
        store.close().await;
    }
    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        config: Some(config.display().to_string()),
        data_dir: dir.path().join("data"),
        database_url: Some(db),
        admin_token: Some(ferry_server::Secret::new("ui-bench-token-0123456789")),
        anonymous_read: true,
        poll_interval: None,
        config_poll_interval: None,
        ..Settings::default()
    };
    let server = Server::build(settings).await.expect("server builds");
    let bound = server.bind().await.expect("binds");
    let base = format!("http://{}", bound.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bound.run(async move {
        let _ = stop_rx.await;
    }));
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    loop {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let page_url = format!("{base}/products/p/releases/1");
    let json_url = format!("{base}/api/v1/releases/{}", r.id);
    let mut page_ms = Vec::new();
    let mut api_ms = Vec::new();
    let mut page_bytes = 0;
    let mut api_bytes = 0;
    for i in 0..53 {
        let t = Instant::now();
        let body = http
            .get(&page_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let a = t.elapsed().as_secs_f64() * 1000.0;
        let t = Instant::now();
        let doc = http
            .get(&json_url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let b = t.elapsed().as_secs_f64() * 1000.0;
        if i >= 3 {
            page_ms.push(a);
            api_ms.push(b);
        }
        page_bytes = body.len();
        api_bytes = doc.len();
    }
    // What a browser transfers: it sends `Accept-Encoding: gzip` (this
    // client does not decompress, so the bytes counted are the wire's).
    let wire = |path: String| {
        let http = http.clone();
        async move {
            let r = http
                .get(path)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            let gz = r.headers().get("content-encoding").is_some();
            let n = r.bytes().await.unwrap().len();
            (n, gz)
        }
    };
    let (page_wire, page_gz) = wire(page_url.clone()).await;
    let (css, _) = wire(format!("{base}/assets/ferry.css")).await;
    let (js, _) = wire(format!("{base}/assets/ferry.js")).await;
    assert!(page_gz, "the page is sent gzipped");
    // The releases list follows `/api/v1/events`: all the script it needs
    // is the one script (times, hooks, live swaps), measured whole.
    let js_raw = http
        .get(format!("{base}/assets/ferry.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();
    let (list_wire, _) = wire(format!("{base}/releases")).await;
    let list_html = http
        .get(format!("{base}/releases"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list_html.contains("data-live=\"/api/v1/events\"") && list_html.contains("#1</a>"),
        "the list follows the event stream"
    );

    // 3. First paint in headless Chromium.
    let b = browser::Browser::start().await;
    let fcp = "var e = performance.getEntriesByName('first-contentful-paint')[0]; return e ? e.startTime : null;";
    let paint = |url: String| {
        let b = &b;
        async move {
            let mut v = Vec::new();
            for _ in 0..7 {
                b.goto("about:blank").await;
                b.goto(&url).await;
                let mut got = serde_json::Value::Null;
                for _ in 0..100 {
                    got = b.eval(fcp).await;
                    if got.is_number() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                v.push(got.as_f64().expect("a first-contentful-paint entry"));
            }
            v
        }
    };
    let page_paint = paint(page_url.clone()).await;
    let json_paint = paint(json_url.clone()).await;
    b.goto(&page_url).await;
    b.screenshot("bench-release-30x10").await;
    b.quit().await;
    let _ = stop_tx.send(());
    let _ = task.await;

    let total = page_wire + css + js;
    let (rm, rp) = (median(render.clone()), p95(render));
    let (jm, jp) = (median(json.clone()), p95(json));
    let (pm, pp) = (median(page_ms.clone()), p95(page_ms));
    let (am, ap) = (median(api_ms.clone()), p95(api_ms));
    let (fm, fj) = (median(page_paint.clone()), median(json_paint.clone()));
    let cold = page_paint[0];
    let mut out = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        out,
        "Release view of {ENVS} environments × {APPS} applications ({} events; the timeline shows the newest 100), one run:\n",
        events.len()
    );
    let _ = writeln!(out, "| measure | release view | baseline | ratio | goal |");
    let _ = writeln!(out, "| --- | --- | --- | --- | --- |");
    let _ = writeln!(
        out,
        "| server render (view + template), median (p95) of {iters} | {rm:.2} ms ({rp:.2}) | `serde_json::to_vec` of the release: {jm:.2} ms ({jp:.2}) | {:.1}× | ≤ 20 ms |",
        rm / jm
    );
    let _ = writeln!(
        out,
        "| HTTP GET on 127.0.0.1, median (p95) of 50 | {pm:.2} ms ({pp:.2}) | `GET /api/v1/releases/{{id}}`: {am:.2} ms ({ap:.2}) | {:.1}× | — |",
        pm / am
    );
    let _ = writeln!(
        out,
        "| transfer with gzip: HTML + CSS + JS (HTML uncompressed: {:.1} KB) | {page_wire} + {css} + {js} B = {:.1} KB | JSON document, uncompressed: {:.1} KB | {:.2}× | ≤ 150 KB |",
        page_bytes as f64 / 1000.0,
        total as f64 / 1000.0,
        api_bytes as f64 / 1000.0,
        total as f64 / api_bytes as f64
    );
    let _ = writeln!(
        out,
        "| first contentful paint, headless Chromium, median of 7 (first, cold cache) | {fm:.0} ms ({cold:.0}) | the JSON document in the same browser: {fj:.0} ms | {:.2}× | ≤ 500 ms |",
        fm / fj
    );
    let _ = writeln!(
        out,
        "| releases list with live updates: its script (`ferry.js`, all of it) | {js_raw} B, {js} B with gzip | the list's HTML with gzip: {list_wire} B | — | ≤ 5 KB added |"
    );
    print!("{out}");
    assert!(html.contains("id=\"env-env-29\""), "the page is complete");
}
