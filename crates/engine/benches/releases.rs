//! Release engine throughput, overhead and latency (issue 5, "Numbers").
//!
//! Run with `cargo bench -p ferry-engine --bench releases`.
//!
//! Everything is real: bare GitOps repositories made with the git CLI, the
//! engine on SQLite with the git state provider, mirrors cloned and fetched
//! by `ferry-git`. The products' `dev` applications follow a `dev` branch
//! (the trigger environment), `qa` and `prod` follow `main`; new dev
//! revisions are written into the bare repositories in-process (libgit2) so
//! the harness costs next to nothing and never races the engine's pushes.
//!
//! Phases, in one process, one after the other:
//! 1. **floor**: the same 1,000 releases done directly with
//!    `ferry_gitops` — per release one fetch and `read_snapshot` of dev,
//!    then per environment one `promote` (commit + push) — with the same
//!    parallelism (every product in parallel, each product's releases one
//!    after another) on a fresh copy of the repositories;
//! 2. **engine**: 1,000 `Engine::promote` calls (each after a new dev
//!    commit), products with `queue` concurrency; timed until every release
//!    is terminal; then the outcome and the commits (by `Ferry-Release`
//!    trailers) are checked;
//! 3. **latency**: with warm mirrors and an idle engine, one release at a
//!    time: from the `promote()` call to the `finishedAt` of the qa `commit`
//!    step (which is set right after the push returned), against the same
//!    path done directly (fetch, snapshot, commit + push).
//!
//! Engine overhead per environment = (engine − floor) / environments, as
//! wall time and as CPU time (this process plus its git children, from
//! `/proc/self/stat`); CPU time is the steadier number on a shared machine.
//!
//! With `FERRY_BENCH_NOTIFY=1` (issue 20) only phase 2 runs, four times
//! on fresh repositories — without notifications, with, with, without —
//! the "with" runs sending every event to four local receivers (Slack,
//! Teams, a signed webhook, CloudEvents) through `ferry-notify` as `ferry
//! serve` does (`releases/notify.rs`); the ratio of the releases' wall
//! time with to without is the notifications' cost.
//!
//! With `FERRY_BENCH_POSTGRES=1` (issue 11), phase 2 is repeated on a
//! throw-away PostgreSQL cluster (`initdb` + `pg_ctl`) with one engine
//! replica and then with two replicas sharing the database (each with its
//! own mirror cache, leases deciding who drives what, products' releases
//! created alternately on each), each on fresh repositories; the table
//! gives their wall and CPU time and the ratio to the SQLite run above.
//! Every engine runs on a `LeasedStore`, as `ferry serve` does.

#[path = "releases/notify.rs"]
mod notify;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_appstate::git::GitProvider;
use ferry_engine::{Engine, EngineParts, EngineSettings, PromotionRequest};
use ferry_git::{CommitSpec, GitStats, PushOptions, PushTarget, Signature, promotion_message};
use ferry_gitops::{AppSource, Workspace, read_snapshot};
use ferry_model::{Loaded, Membership};
use ferry_release::{Release, ReleaseStatus, StepPhase};
use ferry_workflow::{LocalConfig, LocalExecutor};
use time::OffsetDateTime;

const REPOS: usize = 10;
const PRODUCTS_PER_REPO: usize = 10;
const TARGETS: [&str; 2] = ["qa", "prod"];
const LATENCY_SAMPLES: usize = 60;

fn releases_per_product() -> usize {
    std::env::var("FERRY_BENCH_RELEASES_PER_PRODUCT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev Eloper")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev Eloper")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn values(tag: &str) -> String {
    format!(
        "# service\nimage:\n  repository: registry.example.com/svc # the app\n  tag: \"{tag}\"\nreplicas: 2\n"
    )
}

fn chart(version: &str) -> String {
    format!("apiVersion: v2\nname: svc\nversion: 0.1.0\nappVersion: \"{version}\"\n")
}

fn product_name(repo: usize, i: usize) -> String {
    format!("p{repo}x{i}")
}

/// Ten bare GitOps repositories with ten products each, and the
/// configuration directory describing them.
struct World {
    dir: tempfile::TempDir,
    remotes: Vec<PathBuf>,
    /// The bare remotes opened in-process, for dev commits (one writer each).
    dev_writers: Vec<Mutex<git2::Repository>>,
    config_dir: PathBuf,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut remotes = Vec::new();
        let mut apps = String::new();
        let mut products = String::new();
        for r in 0..REPOS {
            let remote = dir.path().join(format!("gitops-{r}.git"));
            let seed = dir.path().join(format!("seed-{r}"));
            std::fs::create_dir_all(&seed).unwrap();
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
            git(&seed, &["init", "-q", "-b", "main"]);
            for i in 0..PRODUCTS_PER_REPO {
                let p = product_name(r, i);
                for env in ["dev", "qa", "prod"] {
                    let d = seed.join("apps").join(&p).join(env);
                    std::fs::create_dir_all(&d).unwrap();
                    std::fs::write(d.join("values.yaml"), values("main-0")).unwrap();
                    std::fs::write(d.join("Chart.yaml"), chart("0.0.0")).unwrap();
                    let branch = if env == "dev" { "dev" } else { "main" };
                    apps.push_str(&format!(
                        "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: {p}-{env}\n  labels: {{ferry.io/template: helm}}\n  annotations: {{codefresh.io/product: {p}}}\nspec:\n  source: {{repoURL: '{}', path: apps/{p}/{env}, targetRevision: {branch}}}\n  destination: {{name: in-cluster, namespace: {p}-{env}}}\n",
                        remote.display()
                    ));
                }
                products.push_str(&format!(
                    "---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {{name: {p}}}\nspec:\n  promotionFlows: [{{name: main}}]\n  concurrency: {{policy: queue, queueLimit: 50}}\n"
                ));
            }
            git(&seed, &["add", "."]);
            git(&seed, &["commit", "-q", "-m", "initial layout"]);
            git(
                &seed,
                &["remote", "add", "origin", remote.to_str().unwrap()],
            );
            git(&seed, &["push", "-q", "origin", "main", "main:dev"]);
            remotes.push(remote);
        }
        let config_dir = dir.path().join("config");
        std::fs::create_dir_all(&config_dir).unwrap();
        let mut envs = String::new();
        for (i, env) in ["dev", "qa", "prod"].iter().enumerate() {
            let kind = if *env == "prod" { "PROD" } else { "NON_PROD" };
            envs.push_str(&format!(
                "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: {kind}, order: {i}, clusters: [{{name: in-cluster, namespaces: ['*-{env}']}}]}}\n"
            ));
        }
        std::fs::write(config_dir.join("environments.yaml"), envs).unwrap();
        std::fs::write(config_dir.join("applications.yaml"), apps).unwrap();
        std::fs::write(config_dir.join("products.yaml"), products).unwrap();
        std::fs::write(
            config_dir.join("flow.yaml"),
            "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: main}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - {environment: qa, dependsOn: [dev]}\n    - {environment: prod, dependsOn: [qa]}\n",
        )
        .unwrap();
        std::fs::write(
            config_dir.join("template.yaml"),
            "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: helm}\nspec:\n  applicationSourceSelector: {matchLabels: {ferry.io/template: helm}}\n  versionSource: {file: Chart.yaml, jsonPath: $appVersion}\n  promotion:\n    Chart.yaml: {jsonPaths: [$.appVersion]}\n    values.yaml: {jsonPaths: [$..image]}\n",
        )
        .unwrap();
        let dev_writers = remotes
            .iter()
            .map(|r| Mutex::new(git2::Repository::open_bare(r).expect("open remote")))
            .collect();
        World {
            dir,
            remotes,
            dev_writers,
            config_dir,
        }
    }

    fn products(&self) -> Vec<(usize, String)> {
        (0..REPOS)
            .flat_map(|r| (0..PRODUCTS_PER_REPO).map(move |i| (r, product_name(r, i))))
            .collect()
    }

    fn load(&self) -> Arc<Loaded> {
        let loaded = ferry_config::load(&ferry_config::ConfigSource::Dir(self.config_dir.clone()))
            .expect("config");
        let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        Arc::new(loaded)
    }

    fn workspace(&self) -> Arc<Workspace> {
        Arc::new(Workspace::new(
            self.dir.path().join("cache"),
            Arc::new(|_: &str| ferry_git::Credentials::None),
        ))
    }

    /// A new revision of `product`'s dev application on the `dev` branch,
    /// written straight into the bare remote.
    fn dev_commit(&self, repo: usize, product: &str, n: usize) {
        let repo = self.dev_writers[repo].lock().unwrap();
        let parent = repo
            .find_reference("refs/heads/dev")
            .unwrap()
            .peel_to_commit()
            .unwrap();
        let tree = parent.tree().unwrap();
        let mut update = git2::build::TreeUpdateBuilder::new();
        let dir = format!("apps/{product}/dev");
        let v = repo.blob(values(&format!("main-{n}")).as_bytes()).unwrap();
        let c = repo.blob(chart(&format!("1.0.{n}")).as_bytes()).unwrap();
        update.upsert(format!("{dir}/values.yaml"), v, git2::FileMode::Blob);
        update.upsert(format!("{dir}/Chart.yaml"), c, git2::FileMode::Blob);
        let new_tree = update.create_updated(&repo, &tree).unwrap();
        let new_tree = repo.find_tree(new_tree).unwrap();
        let sig = git2::Signature::now("Dev Eloper", "dev@example.com").unwrap();
        let oid = repo
            .commit(
                None,
                &sig,
                &sig,
                &format!("feat: {product} {n}"),
                &new_tree,
                &[&parent],
            )
            .unwrap();
        repo.reference_matching("refs/heads/dev", oid, true, parent.id(), "dev commit")
            .unwrap();
    }

    /// `Ferry-Release` id → environments it committed to, over every remote.
    fn promotion_commits(&self) -> (usize, HashMap<String, Vec<String>>) {
        let mut total = 0;
        let mut by_release: HashMap<String, Vec<String>> = HashMap::new();
        for remote in &self.remotes {
            let log = git(remote, &["log", "--format=%B%x00", "main"]);
            for message in log.split('\0').map(str::trim).filter(|m| !m.is_empty()) {
                let trailer = |name: &str| {
                    message
                        .lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .map(str::to_owned)
                };
                if let (Some(id), Some(env)) =
                    (trailer("Ferry-Release"), trailer("Ferry-Environment"))
                {
                    total += 1;
                    by_release.entry(id).or_default().push(env);
                }
            }
        }
        (total, by_release)
    }
}

/// CPU seconds of this process and its waited-for children (git).
fn cpu_seconds() -> f64 {
    let (own, children) = cpu_split();
    own + children
}

/// CPU seconds of this process alone (utime + stime: the engine or the
/// floor's own code, libgit2 included) and of its waited-for children (the
/// git commands).
fn cpu_split() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 … cstime 17.
    let ticks = |range: std::ops::Range<usize>| -> f64 {
        range
            .filter_map(|i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
            .sum::<u64>() as f64
            / clock_ticks()
    };
    (ticks(11..13), ticks(13..15))
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn ms(d: time::Duration) -> f64 {
    d.as_seconds_f64() * 1000.0
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn p90(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[(v.len() * 9 / 10).min(v.len() - 1)]
}

/// What one release needs to do its Git work without the engine.
#[derive(Clone)]
struct DirectApp {
    repo_url: String,
    dev_path: String,
    dev_name: String,
    template: ferry_model::resource::TemplateBody,
    targets: Vec<(String, String, String)>, // (environment, application, path)
}

fn direct_apps(loaded: &Loaded, product: &str) -> DirectApp {
    let membership = Membership::compute(&loaded.config);
    let pm = membership.product(product).expect("product");
    let dev = pm.in_environment("dev").next().expect("dev app");
    let app = &loaded.config.applications[dev.app];
    let source = app.promoted_source().expect("source");
    let targets = TARGETS
        .iter()
        .map(|env| {
            let m = pm.in_environment(env).next().expect("target app");
            let a = &loaded.config.applications[m.app];
            (
                (*env).to_owned(),
                a.name().to_owned(),
                a.promoted_source().unwrap().path.clone().unwrap(),
            )
        })
        .collect();
    DirectApp {
        repo_url: source.repo_url.clone(),
        dev_path: source.path.clone().unwrap(),
        dev_name: app.name().to_owned(),
        template: dev.template.body.clone(),
        targets,
    }
}

/// One release done directly: fetch + snapshot of dev, then commit + push
/// per target. Returns (time to the first push, per-target durations).
fn direct_release(
    workspace: &Workspace,
    app: &DirectApp,
    product: &str,
    release_id: &str,
) -> (Duration, Vec<Duration>) {
    let start = Instant::now();
    let mirror = workspace.mirror(&app.repo_url).unwrap();
    mirror.fetch().unwrap();
    let reader = mirror.at("dev").unwrap();
    let read = read_snapshot(
        &reader,
        AppSource {
            application: &app.dev_name,
            repo_url: &app.repo_url,
            path: &app.dev_path,
        },
        &app.template,
    )
    .unwrap();
    drop(reader);
    let snapshot_done = start.elapsed();
    let mut first = None;
    let mut per_target = Vec::new();
    for (i, (env, name, path)) in app.targets.iter().enumerate() {
        let t = Instant::now();
        let spec = CommitSpec {
            author: Signature::new("ferry", "ferry@localhost"),
            committer: None,
            message: promotion_message(
                product,
                read.version.as_deref().unwrap_or("-"),
                env,
                name,
                release_id,
            ),
        };
        let out = ferry_gitops::promote(
            &mirror,
            &PushTarget::branch("main"),
            path,
            &read.snapshot,
            &spec,
            &PushOptions::default(),
        )
        .unwrap();
        assert!(out.commit.is_some() && !out.reused, "{out:?}");
        // The snapshot read is shared by the targets: half of it each.
        per_target.push(t.elapsed() + snapshot_done / TARGETS.len() as u32);
        if i == 0 {
            first = Some(start.elapsed());
        }
    }
    (first.unwrap(), per_target)
}

struct FloorResult {
    wall: Duration,
    cpu: f64,
    own_cpu: f64,
    git: GitStats,
    per_env_ms: Vec<f64>,
    commits: usize,
}

async fn floor_phase(world: Arc<World>, per_product: usize) -> FloorResult {
    let loaded = world.load();
    let workspace = world.workspace();
    // Clone the mirrors first, as the engine's are warm after its first release.
    for remote in &world.remotes {
        workspace.mirror(remote.to_str().unwrap()).unwrap();
    }
    let cpu0 = cpu_seconds();
    let (own0, _) = cpu_split();
    let git0 = ferry_git::stats();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (repo, product) in world.products() {
        let (world, workspace) = (Arc::clone(&world), Arc::clone(&workspace));
        let app = direct_apps(&loaded, &product);
        tasks.push(tokio::task::spawn_blocking(move || {
            let mut per_env = Vec::new();
            for n in 1..=per_product {
                world.dev_commit(repo, &product, n);
                let id = format!("floor-{product}-{n}");
                let (_, d) = direct_release(&workspace, &app, &product, &id);
                per_env.extend(d.iter().map(|d| d.as_secs_f64() * 1000.0));
            }
            per_env
        }));
    }
    let mut per_env_ms = Vec::new();
    for t in tasks {
        per_env_ms.extend(t.await.unwrap());
    }
    let wall = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let own_cpu = cpu_split().0 - own0;
    let git = ferry_git::stats().since(&git0);
    let (commits, _) = world.promotion_commits();
    FloorResult {
        wall,
        cpu,
        own_cpu,
        git,
        per_env_ms,
        commits,
    }
}

async fn new_engine(world: &World) -> Engine {
    let url = format!(
        "sqlite://{}?mode=rwc",
        world.dir.path().join("ferry.db").display()
    );
    new_replica(world, &url, "replica-0", world.workspace()).await
}

/// An engine on the store at `url`, as replica `instance` with its own
/// mirror cache.
async fn new_replica(
    world: &World,
    url: &str,
    instance: &str,
    workspace: Arc<Workspace>,
) -> Engine {
    let store = ferry_store::Store::open(url)
        .await
        .expect("open store")
        .with_instance(instance);
    new_replica_on(world, store, instance, workspace).await
}

/// An engine on `store`, as replica `instance`.
async fn new_replica_on(
    world: &World,
    store: ferry_store::Store,
    instance: &str,
    workspace: Arc<Workspace>,
) -> Engine {
    let store =
        ferry_engine::LeasedStore::new(store, instance, ferry_engine::LeaseSettings::default());
    let runner = Arc::new(LocalExecutor::new(LocalConfig {
        work_dir: Some(world.dir.path().join(format!("runs-{instance}"))),
        ..LocalConfig::default()
    }));
    let engine = Engine::new(EngineParts {
        store: Arc::new(store),
        config: world.load(),
        appstate: Arc::new(GitProvider::new(Arc::clone(&workspace))),
        workspace,
        runner,
        settings: EngineSettings {
            base_url: "http://ferry.bench".into(),
            poll_interval: None,
            sync_interval: Duration::from_millis(20),
            ..EngineSettings::default()
        },
        pull_requests: None,
    });
    engine.start().await.expect("start engine");
    engine
}

/// Waits until release `id` has read its snapshot (its trigger branch as
/// of the request; a queued release reads it before it starts).
async fn snapshot_read(engine: &Engine, id: &str) {
    while !engine.snapshot_read(id).await.expect("release exists") {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait_final(engine: &Engine, id: &str, every: Duration) -> Release {
    loop {
        let r = engine.release(id).await.unwrap().expect("release exists");
        if r.finished_at.is_some() && r.status.is_final() {
            return r;
        }
        tokio::time::sleep(every).await;
    }
}

struct EngineResult {
    wall: Duration,
    wall_by_finished_at: f64,
    cpu: f64,
    own_cpu: f64,
    git: GitStats,
    create_ms: Vec<f64>,
    releases: Vec<Release>,
    commits: usize,
    commits_ok: usize,
}

async fn engine_phase(world: Arc<World>, engine: Engine, per_product: usize) -> EngineResult {
    engine_phase_on(world, vec![engine], per_product).await
}

/// Phase 2 with the products spread over `engines` (replicas).
async fn engine_phase_on(
    world: Arc<World>,
    engines: Vec<Engine>,
    per_product: usize,
) -> EngineResult {
    let cpu0 = cpu_seconds();
    let (own0, _) = cpu_split();
    let git0 = ferry_git::stats();
    let started = OffsetDateTime::now_utc();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for (k, (repo, product)) in world.products().into_iter().enumerate() {
        let (world, engine) = (Arc::clone(&world), engines[k % engines.len()].clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut create_ms = Vec::new();
            for n in 1..=per_product {
                let (w, p) = (Arc::clone(&world), product.clone());
                tokio::task::spawn_blocking(move || w.dev_commit(repo, &p, n))
                    .await
                    .unwrap();
                let t = Instant::now();
                let r = engine
                    .promote(&product, PromotionRequest::for_flow("main"), "bench")
                    .await
                    .expect("promote");
                create_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                // The release reads its snapshot after the answer (issue
                // 24): the next dev commit comes once it has, as the
                // developer's next push would — not in the same instant.
                snapshot_read(&engine, &r.id).await;
                ids.push(r.id);
            }
            let mut done = Vec::new();
            for id in ids {
                done.push(wait_final(&engine, &id, Duration::from_millis(25)).await);
            }
            (done, create_ms)
        }));
    }
    let mut releases = Vec::new();
    let mut create_ms = Vec::new();
    for t in tasks {
        let (r, c) = t.await.unwrap();
        releases.extend(r);
        create_ms.extend(c);
    }
    let wall = t0.elapsed();
    let cpu = cpu_seconds() - cpu0;
    let own_cpu = cpu_split().0 - own0;
    let git = ferry_git::stats().since(&git0);
    let last = releases
        .iter()
        .filter_map(|r| r.finished_at)
        .max()
        .unwrap_or(started);
    let (commits, by_release) = world.promotion_commits();
    let commits_ok = releases
        .iter()
        .filter(|r| {
            let mut envs = by_release.get(&r.id).cloned().unwrap_or_default();
            envs.sort();
            envs == ["prod", "qa"]
        })
        .count();
    EngineResult {
        wall,
        wall_by_finished_at: ms(last - started) / 1000.0,
        cpu,
        own_cpu,
        git,
        create_ms,
        releases,
        commits,
        commits_ok,
    }
}

fn step_window(
    r: &Release,
    env: &str,
    phase: StepPhase,
) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let step = r
        .environment(env)?
        .applications
        .first()?
        .steps
        .iter()
        .find(|s| s.phase == phase)?;
    Some((step.started_at?, step.finished_at?))
}

/// One release at a time on the warm engine: promote() → qa commit pushed,
/// and per environment the release's time not spent in git commands.
async fn engine_latency(
    world: &World,
    engine: &Engine,
    first_n: usize,
) -> (Vec<f64>, Vec<f64>, f64) {
    let products = world.products();
    let mut out = Vec::new();
    let mut outside_git = Vec::new();
    let (own0, _) = cpu_split();
    for k in 0..LATENCY_SAMPLES {
        let (repo, product) = &products[k % products.len()];
        world.dev_commit(*repo, product, first_n + k);
        let git0 = ferry_git::stats();
        let called = OffsetDateTime::now_utc();
        let r = engine
            .promote(product, PromotionRequest::for_flow("main"), "bench")
            .await
            .expect("promote");
        let done = wait_final(engine, &r.id, Duration::from_millis(5)).await;
        // Only this release runs (no pollers), so every git command since
        // `git0` is its own.
        let git = ferry_git::stats().since(&git0);
        assert_eq!(done.status, ReleaseStatus::Succeeded);
        let (_, pushed) = step_window(&done, "qa", StepPhase::Action).expect("qa commit step");
        out.push(ms(pushed - called));
        let finished = done.finished_at.expect("final release has finishedAt");
        let release_ms = ms(finished - called);
        if std::env::var_os("FERRY_BENCH_TIMELINE").is_some() {
            timeline(&done, called);
        }
        outside_git.push((release_ms - git.busy.as_secs_f64() * 1000.0) / TARGETS.len() as f64);
    }
    let own_ms_per_env = (cpu_split().0 - own0) * 1000.0 / (LATENCY_SAMPLES * TARGETS.len()) as f64;
    (out, outside_git, own_ms_per_env)
}

/// Prints the gaps between a release's own timestamps (diagnostics,
/// `FERRY_BENCH_TIMELINE=1`).
fn timeline(r: &Release, called: OffsetDateTime) {
    let mut marks = vec![
        ("called".to_string(), called),
        ("created".to_string(), r.created_at),
    ];
    for e in &r.environments {
        if let Some(t) = e.started_at {
            marks.push((format!("{} start", e.name), t));
        }
        for a in &e.applications {
            for st in &a.steps {
                if let (Some(s0), Some(s1)) = (st.started_at, st.finished_at) {
                    marks.push((format!("{} {:?} start", e.name, st.phase), s0));
                    marks.push((format!("{} {:?} end", e.name, st.phase), s1));
                }
            }
        }
        if let Some(t) = e.finished_at {
            marks.push((format!("{} end", e.name), t));
        }
    }
    if let Some(t) = r.finished_at {
        marks.push(("release end".into(), t));
    }
    marks.sort_by_key(|m| m.1);
    let line: Vec<String> = marks
        .windows(2)
        .map(|w| format!("{}→{} {:.1}", w[0].0, w[1].0, ms(w[1].1 - w[0].1)))
        .collect();
    eprintln!("timeline: {}", line.join(" | "));
}

/// The floor's [`engine_latency`]: time to the first push, and per
/// environment the time not spent in git commands (libgit2 reads and
/// commit building, the YAML edit).
fn direct_latency(world: &World, first_n: usize) -> (Vec<f64>, Vec<f64>, f64) {
    let loaded = world.load();
    let workspace = world.workspace();
    let products = world.products();
    let mut out = Vec::new();
    let mut outside_git = Vec::new();
    let (own0, _) = cpu_split();
    for k in 0..LATENCY_SAMPLES {
        let (repo, product) = &products[k % products.len()];
        world.dev_commit(*repo, product, first_n + k);
        let app = direct_apps(&loaded, product);
        let git0 = ferry_git::stats();
        let t = Instant::now();
        let (first, _) = direct_release(&workspace, &app, product, &format!("lat-{product}-{k}"));
        let total_ms = t.elapsed().as_secs_f64() * 1000.0;
        let git = ferry_git::stats().since(&git0);
        out.push(first.as_secs_f64() * 1000.0);
        outside_git.push((total_ms - git.busy.as_secs_f64() * 1000.0) / TARGETS.len() as f64);
    }
    let own_ms_per_env = (cpu_split().0 - own0) * 1000.0 / (LATENCY_SAMPLES * TARGETS.len()) as f64;
    (out, outside_git, own_ms_per_env)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let per_product = releases_per_product();
    let products = REPOS * PRODUCTS_PER_REPO;
    let releases = products * per_product;
    let environments = releases * TARGETS.len();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "ferry-engine releases bench: {releases} releases of dev → qa → prod, {products} products over {REPOS} repositories"
    );
    println!(
        "machine: {cores} cores; load average at start: {}",
        load.trim()
    );
    if std::env::var("FERRY_BENCH_NOTIFY").is_ok_and(|v| v == "1") {
        notify::phases(per_product).await;
        return;
    }

    // 1. Floor: the Git work alone.
    let floor_world = Arc::new(World::new());
    let floor = floor_phase(Arc::clone(&floor_world), per_product).await;
    assert_eq!(floor.commits, environments, "floor commits");
    println!(
        "floor done: {:.1} s wall, {:.1} s CPU",
        floor.wall.as_secs_f64(),
        floor.cpu
    );
    let (floor_latency, floor_outside_git, floor_own_seq) =
        direct_latency(&floor_world, per_product + 1);

    // 2. Engine.
    let world = Arc::new(World::new());
    let engine = new_engine(&world).await;
    let result = engine_phase(Arc::clone(&world), engine.clone(), per_product).await;
    println!(
        "engine done: {:.1} s wall, {:.1} s CPU",
        result.wall.as_secs_f64(),
        result.cpu
    );
    let succeeded = result
        .releases
        .iter()
        .filter(|r| r.status == ReleaseStatus::Succeeded)
        .count();
    if succeeded != releases {
        let bad = result
            .releases
            .iter()
            .find(|r| r.status != ReleaseStatus::Succeeded)
            .unwrap();
        eprintln!("{}", serde_json::to_string_pretty(bad).unwrap());
    }

    // Per-environment windows from the releases' own timestamps.
    let mut env_ms = Vec::new();
    let mut commit_ms = Vec::new();
    let mut sync_ms = Vec::new();
    let mut bookkeeping_ms = Vec::new();
    for r in &result.releases {
        for env in TARGETS {
            let Some(e) = r.environment(env) else {
                continue;
            };
            let (Some(s), Some(f)) = (e.started_at, e.finished_at) else {
                continue;
            };
            let c = step_window(r, env, StepPhase::Action).map(|(a, b)| ms(b - a));
            let y = step_window(r, env, StepPhase::Sync).map(|(a, b)| ms(b - a));
            env_ms.push(ms(f - s));
            if let (Some(c), Some(y)) = (c, y) {
                commit_ms.push(c);
                sync_ms.push(y);
                bookkeeping_ms.push(ms(f - s) - c - y);
            }
        }
    }

    // 3. Latency with warm mirrors.
    let (latency, outside_git, own_seq) = engine_latency(&world, &engine, per_product + 1).await;
    engine.shutdown();

    let per_env = |d: f64| d * 1000.0 / environments as f64;
    let wall_over = per_env(result.wall.as_secs_f64() - floor.wall.as_secs_f64());
    let cpu_over = per_env(result.cpu - floor.cpu);
    let own_cpu_over = per_env(result.own_cpu - floor.own_cpu);
    let engine_env_median = median(env_ms.clone());
    let floor_env_median = median(floor.per_env_ms.clone());

    println!();
    println!("| measure | engine | floor (ferry_gitops direct) | engine − floor | ratio | goal |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {releases} releases, all terminal (wall) | {:.1} s | {:.1} s | {:+.1} s | {:.2}× | ≤ 60 s |",
        result.wall.as_secs_f64(),
        floor.wall.as_secs_f64(),
        result.wall.as_secs_f64() - floor.wall.as_secs_f64(),
        result.wall.as_secs_f64() / floor.wall.as_secs_f64()
    );
    println!(
        "| CPU (process + git children) | {:.1} s | {:.1} s | {:+.1} s | {:.2}× | |",
        result.cpu,
        floor.cpu,
        result.cpu - floor.cpu,
        result.cpu / floor.cpu
    );
    println!(
        "| wall per environment (÷ {environments}) | {:.2} ms | {:.2} ms | **{wall_over:+.2} ms** | | ≤ 5 ms |",
        per_env(result.wall.as_secs_f64()),
        per_env(floor.wall.as_secs_f64())
    );
    println!(
        "| CPU per environment (÷ {environments}) | {:.2} ms | {:.2} ms | **{cpu_over:+.2} ms** | | ≤ 5 ms |",
        per_env(result.cpu),
        per_env(floor.cpu)
    );
    println!(
        "| CPU of ferry's own process (git commands excluded) per environment | {:.2} ms | {:.2} ms | **{own_cpu_over:+.2} ms** | {:.2}× | ≤ 5 ms |",
        per_env(result.own_cpu),
        per_env(floor.own_cpu),
        result.own_cpu / floor.own_cpu
    );
    println!(
        "| git commands (count; summed wall) | {} ; {:.1} s | {} ; {:.1} s | {:+} ; {:+.1} s | {:.2}× | |",
        result.git.commands,
        result.git.busy.as_secs_f64(),
        floor.git.commands,
        floor.git.busy.as_secs_f64(),
        result.git.commands as i64 - floor.git.commands as i64,
        result.git.busy.as_secs_f64() - floor.git.busy.as_secs_f64(),
        result.git.commands as f64 / floor.git.commands as f64
    );
    println!(
        "| time not spent in git commands per environment, one release at a time, warm, median (p90) of {LATENCY_SAMPLES} | {:.2} ms ({:.2}) | {:.2} ms ({:.2}) | **{:+.2} ms** | {:.2}× | ≤ 5 ms |",
        median(outside_git.clone()),
        p90(outside_git.clone()),
        median(floor_outside_git.clone()),
        p90(floor_outside_git.clone()),
        median(outside_git.clone()) - median(floor_outside_git.clone()),
        median(outside_git.clone()) / median(floor_outside_git.clone())
    );
    println!(
        "| CPU of ferry's own process per environment, one release at a time (git commands excluded) | {own_seq:.2} ms | {floor_own_seq:.2} ms | **{:+.2} ms** | {:.2}× | ≤ 5 ms |",
        own_seq - floor_own_seq,
        own_seq / floor_own_seq
    );
    println!(
        "| environment latency under load, median (p90) | {:.1} ms ({:.1}) | {:.1} ms ({:.1}) | {:+.1} ms | {:.2}× | |",
        engine_env_median,
        p90(env_ms.clone()),
        floor_env_median,
        p90(floor.per_env_ms.clone()),
        engine_env_median - floor_env_median,
        engine_env_median / floor_env_median
    );
    println!(
        "| promote() → first target commit pushed, median (p90) of {LATENCY_SAMPLES}, warm, one at a time | {:.1} ms ({:.1}) | {:.1} ms ({:.1}) | {:+.1} ms | {:.2}× | ≤ 100 ms |",
        median(latency.clone()),
        p90(latency.clone()),
        median(floor_latency.clone()),
        p90(floor_latency.clone()),
        median(latency.clone()) - median(floor_latency.clone()),
        median(latency.clone()) / median(floor_latency.clone())
    );
    println!();
    println!(
        "releases SUCCEEDED: {succeeded} / {releases}; promotion commits on the remotes: {} (expected {environments}); releases with exactly one qa and one prod commit by their Ferry-Release trailer: {} / {releases}",
        result.commits, result.commits_ok
    );
    println!(
        "engine wall by timestamps (first promote() → last finishedAt): {:.1} s; promote() call under load, median (p90): {:.1} ms ({:.1})",
        result.wall_by_finished_at,
        median(result.create_ms.clone()),
        p90(result.create_ms.clone())
    );
    println!(
        "inside an environment, medians: environment {:.1} ms = commit step {:.1} ms + sync step {:.1} ms + between steps {:.1} ms",
        engine_env_median,
        median(commit_ms),
        median(sync_ms),
        median(bookkeeping_ms)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
    let by_status: BTreeMap<String, usize> =
        result.releases.iter().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.status.to_string()).or_default() += 1;
            m
        });
    println!("release statuses: {by_status:?}");
    assert_eq!(succeeded, releases, "every release must succeed");
    assert_eq!(
        result.commits, environments,
        "exactly two commits per release"
    );
    assert_eq!(result.commits_ok, releases);

    if std::env::var("FERRY_BENCH_POSTGRES").is_ok_and(|v| v == "1") {
        postgres_phases(&result, per_product).await;
    }
}

/// Issue 11: phase 2 on PostgreSQL, one replica then two, against the
/// SQLite run of the same process.
async fn postgres_phases(sqlite: &EngineResult, per_product: usize) {
    let releases = REPOS * PRODUCTS_PER_REPO * per_product;
    let environments = releases * TARGETS.len();
    let cluster = pg_cluster::Cluster::start();
    let mut rows = Vec::new();
    for replicas in [1usize, 2] {
        let world = Arc::new(World::new());
        let url = cluster.database(&format!("bench_{replicas}")).await;
        let mut engines = Vec::new();
        for i in 0..replicas {
            let workspace = Arc::new(Workspace::new(
                world.dir.path().join(format!("cache-{i}")),
                Arc::new(|_: &str| ferry_git::Credentials::None),
            ));
            engines.push(new_replica(&world, &url, &format!("replica-{i}"), workspace).await);
        }
        let result = engine_phase_on(Arc::clone(&world), engines.clone(), per_product).await;
        for e in &engines {
            e.shutdown();
        }
        let succeeded = result
            .releases
            .iter()
            .filter(|r| r.status == ReleaseStatus::Succeeded)
            .count();
        for bad in result
            .releases
            .iter()
            .filter(|r| r.status != ReleaseStatus::Succeeded)
            .take(3)
        {
            let issues: Vec<String> = bad
                .environments
                .iter()
                .flat_map(|e| {
                    e.issues
                        .iter()
                        .map(move |i| format!("{}: {}", e.name, i.message))
                })
                .collect();
            eprintln!("not SUCCEEDED: {} {} {issues:?}", bad.id, bad.status);
        }
        println!(
            "PostgreSQL, {replicas} replica(s): {:.1} s wall, {:.1} s CPU; SUCCEEDED {succeeded} / {releases}; commits {} (expected {environments}); releases with one qa and one prod commit: {}",
            result.wall.as_secs_f64(),
            result.cpu,
            result.commits,
            result.commits_ok
        );
        assert_eq!(succeeded, releases, "every release must succeed");
        assert_eq!(
            result.commits, environments,
            "exactly two commits per release"
        );
        assert_eq!(result.commits_ok, releases);
        rows.push((replicas, result));
    }
    println!();
    println!(
        "| engine store | replicas | {releases} releases, all terminal (wall) | CPU (process + git children) | promote() under load, median | wall ratio to SQLite | CPU ratio to SQLite |"
    );
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| SQLite | 1 | {:.1} s | {:.1} s | {:.1} ms | 1.00× | 1.00× |",
        sqlite.wall.as_secs_f64(),
        sqlite.cpu,
        median(sqlite.create_ms.clone())
    );
    for (replicas, r) in &rows {
        println!(
            "| PostgreSQL | {replicas} | {:.1} s | {:.1} s | {:.1} ms | {:.2}× | {:.2}× |",
            r.wall.as_secs_f64(),
            r.cpu,
            median(r.create_ms.clone()),
            r.wall.as_secs_f64() / sqlite.wall.as_secs_f64(),
            r.cpu / sqlite.cpu
        );
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
}
