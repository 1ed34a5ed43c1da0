//! `POST /api/v1/products/{p}/promotions` latency with concurrent clients
//! on a 20,000-file GitOps repository (issue 24, "Accept, then work").
//!
//! The real server in-process (SQLite, no Argo CD: the sync wait passes at
//! once) over HTTP. A generated remote (`git fast-import`: 20,000 files —
//! 1,000 applications × 4 environments × 5 files — and 1,000 commits) is
//! reached over `file://`. Ten products promote `app-00N` from dev to qa.
//! Each of 10 clients, one per product, in every round: pushes a new dev
//! version of its application (as a developer would), sends the POST, and
//! waits until the release has finished. So every POST is answered while
//! up to nine other releases fetch, read, commit and push.
//!
//! Measured per POST, in the same run:
//! - **POST latency**: request sent → 201 received (client side);
//! - **baseline — request → snapshot read**: what the POST waited for
//!   before issue 24 (the fetch and the snapshot read ran in the request):
//!   from the request to the engine's "snapshot of … read" event;
//! - **request → first commit pushed** (qa's commit step finished).
//!
//! The first round (mirrors not cloned yet, fresh data directory) is
//! reported on its own as the cold round and left out of the rest.
//!
//! `cargo bench -p ferry-server --bench promote_latency`; env
//! `FERRY_BENCH_ROUNDS` (measured rounds, default 20), `FERRY_BENCH_FILES`
//! (20000), `FERRY_BENCH_COMMITS` (1000), `FERRY_BENCH_CLIENTS` (10).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_git::{
    Change, CommitMessage, CommitSpec, Mirror, PushOptions, PushTarget, Remote, Signature,
};
use ferry_release::EventKind;
use ferry_server::{Secret, Server, Settings};
use serde_json::{Value, json};
use time::OffsetDateTime;

const TOKEN: &str = "promote-latency-bench-token";
const ENVS: [&str; 4] = ["dev", "qa", "staging", "prod"];
const FILES: [&str; 5] = [
    "values.yaml",
    "version.yaml",
    "deployment.yaml",
    "service.yaml",
    "config.yaml",
];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn values(app: usize, tag: &str) -> String {
    format!(
        "# app-{app:03}\nimage:\n  repository: registry.example/app-{app:03}\n  tag: \"{tag}\"\nreplicas: 2\n"
    )
}

/// A bare remote with `files` files and `commits` commits on `main`.
fn generate(remote: &Path, files: usize, commits: usize) {
    git(
        remote.parent().expect("parent"),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().expect("utf-8"),
        ],
    );
    let apps = files.div_ceil(ENVS.len() * FILES.len());
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(remote)
        .stdin(Stdio::piped())
        .spawn()
        .expect("fast-import");
    let mut w = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
    let blob = |w: &mut dyn std::io::Write, path: &str, content: &str| {
        write!(
            w,
            "M 100644 inline {path}\ndata {}\n{content}\n",
            content.len()
        )
        .expect("write");
    };
    for c in 0..commits {
        let message = format!("commit {c}");
        write!(
            w,
            "commit refs/heads/main\ncommitter Dev <dev@example.com> {} +0000\ndata {}\n{message}\n",
            1_700_000_000 + c,
            message.len()
        )
        .expect("write");
        if c == 0 {
            let mut n = 0;
            'all: for app in 0..apps {
                for env in ENVS {
                    for file in FILES {
                        if n == files {
                            break 'all;
                        }
                        let path = format!("apps/app-{app:03}/envs/{env}/{file}");
                        let content = match file {
                            "values.yaml" => values(app, "1.0.0"),
                            "version.yaml" => "version: 1.0.0\n".to_owned(),
                            _ => format!("# {path}\nkind: ConfigMap\ndata:\n  n: \"{n}\"\n"),
                        };
                        blob(&mut w, &path, &content);
                        n += 1;
                    }
                }
            }
        } else {
            // History on applications the clients do not promote.
            let app = 10 + c % (apps - 10).max(1);
            let env = ENVS[c % ENVS.len()];
            blob(
                &mut w,
                &format!("apps/app-{app:03}/envs/{env}/config.yaml"),
                &format!("# history {c}\n"),
            );
        }
    }
    drop(w);
    assert!(child.wait().expect("fast-import").success());
}

fn write_config(config: &Path, url: &str, products: usize) {
    let mut out = String::new();
    for (i, env) in ["dev", "qa"].iter().enumerate() {
        let namespaces: Vec<String> = (0..products).map(|p| format!("p{p}-{env}")).collect();
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {}, clusters: [{{name: in-cluster, namespaces: [{}]}}]}}\n",
            (i + 1) * 10,
            namespaces.join(", ")
        ));
    }
    for p in 0..products {
        for env in ["dev", "qa"] {
            out.push_str(&format!(
                "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{p:03}-{env}\n  namespace: argocd\n  annotations: {{codefresh.io/product: p{p}}}\nspec:\n  project: default\n  source: {{repoURL: '{url}', targetRevision: main, path: apps/app-{p:03}/envs/{env}}}\n  destination: {{name: in-cluster, namespace: p{p}-{env}}}\n"
            ));
        }
        out.push_str(&format!(
            "---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {{name: p{p}}}\nspec:\n  promotionTemplate:\n    versionSource: {{file: version.yaml, jsonPath: $.version}}\n    promotion:\n      values.yaml: {{jsonPaths: [$.image.tag]}}\n      version.yaml: {{jsonPaths: [$.version]}}\n  promotionFlows: [{{name: up}}]\n"
        ));
    }
    out.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: up}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa, dependsOn: [dev]}]\n");
    std::fs::write(config.join("ferry.yaml"), out).expect("config");
}

/// What one promotion measured, in milliseconds.
#[derive(Default, Clone, Copy)]
struct Sample {
    post: f64,
    snapshot: f64,
    /// Request → qa's commit step started (after the snapshot read,
    /// dev's sync check and the scheduling between).
    started: f64,
    pushed: f64,
}

fn ms(d: time::Duration) -> f64 {
    d.as_seconds_f64() * 1000.0
}

fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v[i]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds = env_usize("FERRY_BENCH_ROUNDS", 20);
    let files = env_usize("FERRY_BENCH_FILES", 20_000);
    let commits = env_usize("FERRY_BENCH_COMMITS", 1_000);
    let clients = env_usize("FERRY_BENCH_CLIENTS", 10);
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let remote = root.join("gitops.git");
    let t = Instant::now();
    generate(&remote, files, commits);
    eprintln!(
        "generated {files} files, {commits} commits in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let url = format!("file://{}", remote.display());
    let config = root.join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    write_config(&config, &url, clients);

    let settings = Settings {
        listen: "127.0.0.1:0".into(),
        config: Some(config.display().to_string()),
        data_dir: root.join("data"),
        admin_token: Some(Secret::new(TOKEN)),
        poll_interval: None,
        config_poll_interval: None,
        ..Settings::default()
    };
    let server = Server::build(settings).await.expect("server builds");
    // When each release's snapshot was read (the engine's event).
    let read_at: Arc<Mutex<HashMap<String, OffsetDateTime>>> = Arc::default();
    {
        let mut events = server.engine().subscribe();
        let read_at = Arc::clone(&read_at);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(e) => {
                        if e.kind == EventKind::Release
                            && e.message
                                .as_deref()
                                .is_some_and(|m| m.starts_with("snapshot of"))
                        {
                            read_at.lock().expect("lock").insert(e.release_id, e.at);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        panic!("the event collector lagged by {n}")
                    }
                    Err(_) => return,
                }
            }
        });
    }
    let bound = server.bind().await.expect("binds");
    let base = format!("http://{}", bound.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(bound.run(async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    loop {
        if http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // The developers' pushes to dev go through their own mirror.
    let writer = Arc::new(
        Mirror::open(
            &root.join("writer"),
            Remote::new(&url, Default::default()).expect("url"),
        )
        .expect("writer mirror"),
    );
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, base, writer, read_at) = (
            http.clone(),
            base.clone(),
            Arc::clone(&writer),
            Arc::clone(&read_at),
        );
        tasks.push(tokio::spawn(async move {
            let mut samples = Vec::new();
            for round in 0..=rounds {
                let tag = format!("2.{round}.0");
                let w = Arc::clone(&writer);
                tokio::task::spawn_blocking(move || {
                    let spec = CommitSpec {
                        author: Signature::new("Dev", "dev@example.com"),
                        committer: None,
                        message: CommitMessage {
                            subject: format!("app-{client:03}: {tag}"),
                            body: None,
                            trailers: Vec::new(),
                        },
                    };
                    w.commit_and_push(
                        &PushTarget::branch("main"),
                        &spec,
                        &PushOptions {
                            max_attempts: 50,
                            ..PushOptions::default()
                        },
                        |_| {
                            Ok::<_, ferry_git::Error>(vec![
                                Change::write(
                                    format!("apps/app-{client:03}/envs/dev/values.yaml"),
                                    values(client, &tag),
                                ),
                                Change::write(
                                    format!("apps/app-{client:03}/envs/dev/version.yaml"),
                                    format!("version: {tag}\n"),
                                ),
                            ])
                        },
                    )
                    .expect("dev push")
                })
                .await
                .expect("dev push task");
                let sent = OffsetDateTime::now_utc();
                let t = Instant::now();
                let answer = http
                    .post(format!("{base}/api/v1/products/p{client}/promotions"))
                    .bearer_auth(TOKEN)
                    .json(&json!({"flow": "up"}))
                    .send()
                    .await
                    .expect("POST");
                let post = t.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(answer.status(), 201);
                let created: Value = answer.json().await.expect("json");
                let id = created["id"].as_str().expect("id").to_owned();
                let done = loop {
                    let r: Value = http
                        .get(format!("{base}/api/v1/releases/{id}"))
                        .bearer_auth(TOKEN)
                        .send()
                        .await
                        .expect("GET")
                        .json()
                        .await
                        .expect("json");
                    if !r["finishedAt"].is_null() {
                        break r;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
                let release: ferry_release::Release =
                    serde_json::from_value(done).expect("a release");
                assert_eq!(
                    release.version.as_deref(),
                    Some(format!("2.{round}.0").as_str())
                );
                let step = release
                    .environment("qa")
                    .and_then(|e| e.applications.first())
                    .and_then(|a| {
                        a.steps
                            .iter()
                            .find(|s| s.phase == ferry_release::StepPhase::Action)
                    })
                    .expect("qa's commit step");
                let pushed = step.finished_at.expect("finished");
                let started = step.started_at.expect("started");
                let read = *read_at
                    .lock()
                    .expect("lock")
                    .get(&id)
                    .expect("snapshot event");
                samples.push(Sample {
                    post,
                    snapshot: ms(read - sent),
                    started: ms(started - sent),
                    pushed: ms(pushed - sent),
                });
            }
            samples
        }));
    }
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for t in tasks {
        let samples = t.await.expect("client");
        cold.push(samples[0]);
        warm.extend_from_slice(&samples[1..]);
    }
    let _ = stop.send(());
    let _ = task.await;

    let show = |name: &str, samples: &[Sample]| {
        let mut post: Vec<f64> = samples.iter().map(|s| s.post).collect();
        let mut snap: Vec<f64> = samples.iter().map(|s| s.snapshot).collect();
        let mut pushed: Vec<f64> = samples.iter().map(|s| s.pushed).collect();
        let (p50, p99) = (quantile(&mut post, 0.5), quantile(&mut post, 0.99));
        let (s50, s99) = (quantile(&mut snap, 0.5), quantile(&mut snap, 0.99));
        let (c50, c99) = (quantile(&mut pushed, 0.5), quantile(&mut pushed, 0.99));
        println!(
            "{name}: {} promotions, {clients} concurrent clients",
            samples.len()
        );
        println!("  POST → 201                       median {p50:8.2} ms  p99 {p99:8.2} ms");
        println!(
            "  baseline: request → snapshot read median {s50:8.2} ms  p99 {s99:8.2} ms  (what the POST waited for before issue 24)"
        );
        println!("  request → first commit pushed    median {c50:8.2} ms  p99 {c99:8.2} ms");
        // Where the time to the first push goes (per promotion, then the
        // median of each part).
        let mut to_start: Vec<f64> = samples.iter().map(|s| s.started - s.snapshot).collect();
        let mut in_step: Vec<f64> = samples.iter().map(|s| s.pushed - s.started).collect();
        let (t50, t99) = (quantile(&mut to_start, 0.5), quantile(&mut to_start, 0.99));
        let (i50, i99) = (quantile(&mut in_step, 0.5), quantile(&mut in_step, 0.99));
        println!(
            "    of which: request → snapshot read median {s50:8.2} ms; snapshot read → qa commit step started median {t50:8.2} ms (p99 {t99:.2}); commit step (mirror lock, plan, push, lost races) median {i50:8.2} ms (p99 {i99:.2})"
        );
        println!(
            "  ratio baseline / POST            median {:8.1}x       p99 {:8.1}x",
            s50 / p50,
            s99 / p99
        );
    };
    println!(
        "{files} files, {commits} commits; machine: {}",
        String::from_utf8_lossy(
            &Command::new("uptime")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        )
        .trim()
    );
    show(
        "cold round (fresh data directory, mirrors cloned by the first releases)",
        &cold,
    );
    show("warm rounds", &warm);
}
