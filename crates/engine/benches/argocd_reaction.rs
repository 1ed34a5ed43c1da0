//! Issue 9: "state change to release event ≤ 1 s via the stream".
//!
//! Real Git repositories, the engine on SQLite, and the in-process fake
//! Argo CD API server. Each sample is one release (dev → qa) waiting in
//! qa's sync step while Argo CD reports the promotion commit synced but
//! Progressing; the clock starts when Argo CD turns it Healthy and stops
//! when the engine publishes the release event that qa is SUCCESSFUL.
//!
//! - **stream**: the `argocd` provider on the application stream, the
//!   engine's sync interval at 10 minutes (only the stream can wake it);
//! - **baseline, polling**: the same provider without the stream, the
//!   engine polling at its default sync interval (1 s).
//!
//! Run: `cargo bench -p ferry-engine --bench argocd_reaction`

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_appstate::argocd::fake::{FakeArgoCd, application, set_state};
use ferry_appstate::argocd::{ArgoCdProvider, InstanceConfig, Secret};
use ferry_engine::{Engine, EngineParts, EngineSettings, PromotionRequest};
use ferry_gitops::Workspace;
use ferry_workflow::{LocalConfig, LocalExecutor};

const TOKEN: &str = "bench";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

struct Setup {
    dir: tempfile::TempDir,
    remote: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let remote = dir.path().join("gitops.git");
    git(
        dir.path(),
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    let seed = dir.path().join("seed");
    for env in ["dev", "qa"] {
        std::fs::create_dir_all(seed.join(format!("apps/web/{env}"))).unwrap();
        std::fs::write(
            seed.join(format!("apps/web/{env}/values.yaml")),
            "image:\n  tag: v0\n",
        )
        .unwrap();
    }
    git(&seed, &["init", "-q", "-b", "main"]);
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "initial"]);
    git(
        &seed,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut text = String::new();
    for (i, env) in ["dev", "qa"].iter().enumerate() {
        text.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {i}, clusters: [{{name: in-cluster, namespaces: [web-{env}]}}]}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  annotations: {{codefresh.io/product: shop}}\nspec:\n  source: {{repoURL: '{}', path: apps/web/{env}, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: web-{env}}}\n",
            remote.display()
        ));
    }
    text.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: shop}\nspec:\n  promotionTemplate:\n    promotion:\n      values.yaml: {jsonPaths: [$.image.tag]}\n  promotionFlows: [{name: main}]\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: main}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa, dependsOn: [dev]}]\n");
    std::fs::write(config.join("config.yaml"), text).unwrap();
    Setup {
        remote: remote.display().to_string(),
        dir,
    }
}

async fn run(s: &Setup, stream: bool, samples: usize) -> Vec<Duration> {
    let fake = FakeArgoCd::start(TOKEN).await;
    for env in ["dev", "qa"] {
        let mut app = application(
            &format!("web-{env}"),
            "argocd",
            &s.remote,
            &format!("apps/web/{env}"),
        );
        set_state(
            &mut app,
            "Synced",
            "0000000000000000000000000000000000000000",
            "Healthy",
            None,
        );
        fake.put(app);
    }
    let tag = if stream { "stream" } else { "poll" };
    let workspace = Arc::new(Workspace::new(
        s.dir.path().join(format!("cache-{tag}")),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    ));
    let mut cfg = InstanceConfig::new("bench", fake.url());
    cfg.token = Some(Secret::new(TOKEN));
    cfg.watch = stream;
    let provider = Arc::new(ArgoCdProvider::new(cfg, Arc::clone(&workspace)).unwrap());
    let db = format!(
        "sqlite://{}?mode=rwc",
        s.dir.path().join(format!("{tag}.db")).display()
    );
    let loaded = ferry_config::load(&ferry_config::ConfigSource::Dir(
        s.dir.path().join("config"),
    ))
    .unwrap();
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let engine = Engine::new(EngineParts {
        pull_requests: None,
        store: Arc::new(ferry_store::Store::open(&db).await.unwrap()),
        config: Arc::new(loaded),
        workspace,
        runner: Arc::new(LocalExecutor::new(LocalConfig {
            work_dir: Some(s.dir.path().join(format!("runs-{tag}"))),
            ..LocalConfig::default()
        })),
        appstate: provider.clone(),
        settings: EngineSettings {
            poll_interval: None,
            sync_interval: if stream {
                Duration::from_secs(600)
            } else {
                Duration::from_secs(1)
            },
            ..EngineSettings::default()
        },
    });
    engine.start().await.unwrap();
    while stream && !provider.stream_connected() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seed = s.dir.path().join("seed");
    let mut out = Vec::new();
    for n in 0..samples {
        git(&seed, &["pull", "-q", "--rebase", "origin", "main"]);
        std::fs::write(
            seed.join("apps/web/dev/values.yaml"),
            format!("image:\n  tag: {tag}-{n}\n"),
        )
        .unwrap();
        git(&seed, &["commit", "-q", "-am", &format!("dev {tag}-{n}")]);
        git(&seed, &["push", "-q", "origin", "main"]);
        let release = engine
            .promote("shop", PromotionRequest::for_flow("main"), "bench")
            .await
            .unwrap();
        // Wait until qa's sync step has read Argo CD (old revision) at least once.
        let commit = loop {
            let r = engine.release(&release.id).await.unwrap().unwrap();
            let a = &r.environment("qa").unwrap().applications[0];
            if let (Some(c), Some(_)) = (&a.promotion_commit, &a.sync) {
                break c.clone();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        fake.update("argocd", "web-qa", |a| {
            set_state(a, "Synced", &commit, "Progressing", None)
        });
        // Let the engine see Progressing (and a polling engine re-enter its sleep).
        loop {
            let r = engine.release(&release.id).await.unwrap().unwrap();
            if r.environment("qa").unwrap().applications[0]
                .health
                .as_deref()
                == Some("Progressing")
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Changes land anywhere in a polling cycle.
        tokio::time::sleep(Duration::from_millis(50 + (n as u64 * 211) % 900)).await;
        let mut events = engine.subscribe();
        let t0 = Instant::now();
        fake.update("argocd", "web-qa", |a| {
            set_state(a, "Synced", &commit, "Healthy", None)
        });
        loop {
            let e = events.recv().await.unwrap();
            if e.release_id == release.id
                && e.environment.as_deref() == Some("qa")
                && e.status == "SUCCESSFUL"
            {
                break;
            }
        }
        out.push(t0.elapsed());
        while engine
            .release(&release.id)
            .await
            .unwrap()
            .unwrap()
            .finished_at
            .is_none()
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    engine.shutdown();
    out
}

fn summary(name: &str, v: &mut [Duration]) -> Duration {
    v.sort();
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "{name:<40} n={:<3} p50 {:>9.2?}  max {:>9.2?}  mean {:>9.2?}",
        v.len(),
        v[v.len() / 2],
        v[v.len() - 1],
        mean
    );
    mean
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = setup();
        let mut stream = run(&s, true, 30).await;
        let mut poll = run(&s, false, 12).await;
        println!("## Argo CD turns Healthy → release event (qa SUCCESSFUL)");
        let a = summary("stream (sync interval 10 min)", &mut stream);
        let b = summary("baseline: polling every 1 s, no stream", &mut poll);
        println!(
            "ratio (polling mean / stream mean): {:.1}x",
            b.as_secs_f64() / a.as_secs_f64()
        );
    });
}
