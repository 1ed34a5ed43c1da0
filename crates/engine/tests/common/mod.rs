//! A real product for engine tests: a bare GitOps repository created with
//! the git CLI, a configuration directory, and an engine on SQLite with the
//! local workflow executor and the git state provider.
//!
//! With `FERRY_TEST_POSTGRES_URL` set (a PostgreSQL server, e.g.
//! `postgres://ferry@127.0.0.1:5433`; `scripts/test` starts one), every
//! fixture gets a fresh database on it instead: the same suite runs on
//! both backends. Either way the engine runs on a `LeasedStore` (issue 11),
//! as `ferry serve` does.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_appstate::git::GitProvider;
use ferry_engine::{Engine, EngineParts, EngineSettings};
use ferry_gitops::Workspace;
use ferry_release::{Release, ReleaseStatus};
use ferry_workflow::{LocalConfig, LocalExecutor};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub remote: PathBuf,
    pub seed: PathBuf,
    pub config_dir: PathBuf,
    pub db: String,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
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

pub const VALUES: &str = "# web service\nimage:\n  repository: registry.example.com/web # the app\n  tag: \"main-aaaa\"\nreplicas: 2\n";

pub fn chart(version: &str) -> String {
    format!("apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: \"{version}\"\n")
}

/// Workflows the tests use: `ok`, `fail`, `sleep`, `commit-facts` (writes
/// the post-action's `COMMIT_*` arguments), hooks that write marker files.
pub fn workflows(markers: &Path) -> String {
    let m = markers.display();
    format!(
        r#"apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: ok, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: echo "ok for {{{{workflow.parameters.APP_NAME}}}} in {{{{workflow.parameters.ENVIRONMENT}}}}"
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: fail, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          echo "checking {{{{workflow.parameters.ENVIRONMENT}}}}"
          if [ -f {m}/fixed ]; then exit 0; fi
          echo "smoke test failed: 503 from /health" >&2
          exit 3
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: sleep, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          echo $$ > {m}/sleep-pid
          sleep 30
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: commit-facts, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: ENVIRONMENT
      - name: COMMIT_SHA
      - name: COMMIT_AUTHOR
      - name: COMMIT_MESSAGE
      - name: COMMIT_DATE
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: echo "sha=[{{{{workflow.parameters.COMMIT_SHA}}}}] author=[{{{{workflow.parameters.COMMIT_AUTHOR}}}}]" > {m}/commit-{{{{workflow.parameters.ENVIRONMENT}}}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: mark, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: PRODUCT_NAME
      - name: FAILED_ENVIRONMENTS
        value: "none"
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: echo "{{{{workflow.parameters.FAILED_ENVIRONMENTS}}}}" >> {m}/hook-{{{{workflow.parameters.PRODUCT_NAME}}}}
"#
    )
}

pub struct Setup<'a> {
    pub environments: &'a [&'a str],
    /// Extra config documents (product, flows, policies).
    pub product: String,
}

impl Fixture {
    /// A GitOps repo with `apps/web/<env>/{Chart.yaml,values.yaml}` per
    /// environment, and a configuration directory.
    pub fn new(setup: Setup<'_>) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = dir.path().join("gitops.git");
        let seed = dir.path().join("seed");
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
        for env in setup.environments {
            let d = seed.join("apps/web").join(env);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("values.yaml"), VALUES).unwrap();
            std::fs::write(d.join("Chart.yaml"), chart("1.0.0")).unwrap();
        }
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-q", "-m", "initial layout"]);
        git(
            &seed,
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        git(&seed, &["push", "-q", "origin", "main"]);

        let config_dir = dir.path().join("config");
        let markers = dir.path().join("markers");
        std::fs::create_dir_all(&markers).unwrap();
        std::fs::create_dir_all(&config_dir).unwrap();
        let mut envs = String::new();
        let mut apps = String::new();
        for (i, env) in setup.environments.iter().enumerate() {
            let kind = if env.starts_with("prod") {
                "PROD"
            } else {
                "NON_PROD"
            };
            envs.push_str(&format!(
                "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: {kind}, order: {i}, clusters: [{{name: in-cluster, namespaces: [web-{env}]}}]}}\n"
            ));
            apps.push_str(&format!(
                "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  labels: {{ferry.io/template: helm}}\n  annotations: {{codefresh.io/product: shop}}\nspec:\n  source: {{repoURL: '{}', path: apps/web/{env}, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: web-{env}}}\n",
                remote.display()
            ));
        }
        std::fs::write(config_dir.join("environments.yaml"), envs).unwrap();
        std::fs::write(config_dir.join("applications.yaml"), apps).unwrap();
        std::fs::write(
            config_dir.join("template.yaml"),
            "apiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: helm}\nspec:\n  applicationSourceSelector: {matchLabels: {ferry.io/template: helm}}\n  versionSource: {file: Chart.yaml, jsonPath: $appVersion}\n  promotion:\n    Chart.yaml: {jsonPaths: [$.appVersion]}\n    values.yaml: {jsonPaths: [$..image]}\n",
        )
        .unwrap();
        std::fs::write(config_dir.join("workflows.yaml"), workflows(&markers)).unwrap();
        std::fs::write(config_dir.join("product.yaml"), setup.product).unwrap();
        let db = match std::env::var("FERRY_TEST_POSTGRES_URL") {
            Ok(server) if !server.is_empty() => {
                let unique: String = dir
                    .path()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .collect();
                format!(
                    "{}/engine_{}",
                    server.trim_end_matches('/'),
                    unique.to_ascii_lowercase()
                )
            }
            _ => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("ferry.db").display()
            ),
        };
        Fixture {
            dir,
            remote,
            seed,
            config_dir,
            db,
        }
    }

    pub fn markers(&self) -> PathBuf {
        self.dir.path().join("markers")
    }

    /// A new commit in the seed clone, pushed.
    pub fn commit_dev(&self, tag: &str, version: &str, message: &str) -> String {
        let d = self.seed.join("apps/web/dev");
        git(&self.seed, &["pull", "-q", "--rebase", "origin", "main"]);
        std::fs::write(d.join("values.yaml"), VALUES.replace("main-aaaa", tag)).unwrap();
        std::fs::write(d.join("Chart.yaml"), chart(version)).unwrap();
        git(&self.seed, &["commit", "-q", "-am", message]);
        git(&self.seed, &["push", "-q", "origin", "main"]);
        git(&self.seed, &["rev-parse", "HEAD"])
    }

    /// A person merges a pull-request branch into main (no fast-forward).
    pub fn merge_branch(&self, branch: &str, message: &str) {
        git(&self.seed, &["fetch", "-q", "origin"]);
        git(&self.seed, &["pull", "-q", "--rebase", "origin", "main"]);
        git(
            &self.seed,
            &[
                "merge",
                "-q",
                "--no-ff",
                "-m",
                message,
                &format!("origin/{branch}"),
            ],
        );
        git(&self.seed, &["push", "-q", "origin", "main"]);
    }

    /// A file of the remote's main branch.
    pub fn remote_file(&self, path: &str) -> String {
        git(&self.remote, &["show", &format!("main:{path}")])
    }

    /// Commit messages on the remote's main branch, newest first.
    /// The branches of the GitOps repository.
    pub fn remote_branches(&self) -> Vec<String> {
        git(
            &self.remote,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }

    pub fn remote_log(&self) -> Vec<String> {
        git(&self.remote, &["log", "--format=%B%x00", "main"])
            .split('\0')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub async fn engine(&self) -> Engine {
        self.engine_with(|_| {}).await
    }

    /// One replica that keeps its instance id across restarts, as a server
    /// with the same data directory does.
    pub async fn engine_with(&self, tweak: impl FnOnce(&mut EngineSettings)) -> Engine {
        self.replica("engine-test", "cache", tweak).await
    }

    /// An engine as replica `instance` with its own mirror cache
    /// (`cache` under the fixture's directory), on the fixture's database.
    pub async fn replica(
        &self,
        instance: &str,
        cache: &str,
        tweak: impl FnOnce(&mut EngineSettings),
    ) -> Engine {
        self.replica_on(instance, cache, tweak, |s| Arc::new(s))
            .await
    }

    /// An engine whose `pr` promotions go through `prs` (a forge).
    pub async fn engine_with_pull_requests(
        &self,
        prs: Arc<dyn ferry_engine::PullRequests>,
    ) -> Engine {
        self.build("engine-test", "cache", |_| {}, |s| Arc::new(s), Some(prs))
            .await
    }

    /// An engine whose time-based decisions read `clock` (issue 20).
    pub async fn engine_on_clock(&self, clock: ferry_engine::Clock) -> Engine {
        self.build_on("engine-test", "cache", |_| {}, |s| Arc::new(s), None, clock)
            .await
    }

    /// [`Fixture::replica`] whose store is `wrap` of the replica's store
    /// (a store that fails on purpose).
    pub async fn replica_on(
        &self,
        instance: &str,
        cache: &str,
        tweak: impl FnOnce(&mut EngineSettings),
        wrap: impl FnOnce(ferry_engine::LeasedStore) -> Arc<dyn ferry_engine::ReleaseStore>,
    ) -> Engine {
        self.build(instance, cache, tweak, wrap, None).await
    }

    async fn build(
        &self,
        instance: &str,
        cache: &str,
        tweak: impl FnOnce(&mut EngineSettings),
        wrap: impl FnOnce(ferry_engine::LeasedStore) -> Arc<dyn ferry_engine::ReleaseStore>,
        pull_requests: Option<Arc<dyn ferry_engine::PullRequests>>,
    ) -> Engine {
        let clock = ferry_engine::Clock::system();
        self.build_on(instance, cache, tweak, wrap, pull_requests, clock)
            .await
    }

    async fn build_on(
        &self,
        instance: &str,
        cache: &str,
        tweak: impl FnOnce(&mut EngineSettings),
        wrap: impl FnOnce(ferry_engine::LeasedStore) -> Arc<dyn ferry_engine::ReleaseStore>,
        pull_requests: Option<Arc<dyn ferry_engine::PullRequests>>,
        clock: ferry_engine::Clock,
    ) -> Engine {
        create_postgres_database(&self.db).await;
        let store = ferry_store::Store::open(&self.db)
            .await
            .expect("open store");
        let store = wrap(ferry_engine::LeasedStore::new(
            store,
            instance,
            ferry_engine::LeaseSettings::default(),
        ));
        let loaded = ferry_config::load(&ferry_config::ConfigSource::Dir(self.config_dir.clone()))
            .expect("config");
        let errors: Vec<String> = loaded.errors().map(ToString::to_string).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        let workspace = Arc::new(Workspace::new(
            self.dir.path().join(cache),
            Arc::new(|_: &str| ferry_git::Credentials::None),
        ));
        let runner = Arc::new(LocalExecutor::new(LocalConfig {
            work_dir: Some(self.dir.path().join("runs")),
            kill_grace: Duration::from_millis(200),
            ..LocalConfig::default()
        }));
        let mut settings = EngineSettings {
            base_url: "http://ferry.test".into(),
            poll_interval: None,
            sync_interval: Duration::from_millis(50),
            ..EngineSettings::default()
        };
        tweak(&mut settings);
        let engine = Engine::with_clock(
            EngineParts {
                store,
                config: Arc::new(loaded),
                appstate: Arc::new(GitProvider::new(Arc::clone(&workspace))),
                workspace,
                runner,
                settings,
                pull_requests,
            },
            clock,
        );
        engine.start().await.expect("start engine");
        engine
    }
}

/// Creates the PostgreSQL database of `url` unless it exists (nothing for
/// SQLite).
pub async fn create_postgres_database(url: &str) {
    use sqlx::Connection;
    if !url.starts_with("postgres") {
        return;
    }
    let (server, name) = url.rsplit_once('/').unwrap();
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to FERRY_TEST_POSTGRES_URL");
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

/// Waits until the release satisfies `done` (or panics after `secs`).
pub async fn wait_for(
    engine: &Engine,
    id: &str,
    secs: u64,
    done: impl Fn(&Release) -> bool,
) -> Release {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let r = engine
            .release(id)
            .await
            .expect("read release")
            .expect("release exists");
        if done(&r) {
            return r;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; release is now:\n{}",
            serde_json::to_string_pretty(&r).unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The release once its driver has read its snapshot (issue 24: a manual
/// promotion is answered before).
pub async fn wait_snapshot(engine: &Engine, id: &str) -> Release {
    wait_for(engine, id, 30, |r| !r.snapshot.pending).await
}

pub async fn wait_final(engine: &Engine, id: &str) -> Release {
    wait_for(engine, id, 60, |r| {
        r.finished_at.is_some() && r.status.is_final()
    })
    .await
}

pub fn env_status(r: &Release, env: &str) -> String {
    r.environment(env)
        .map(|e| e.status.to_string())
        .unwrap_or_default()
}

pub fn is(r: &Release, status: ReleaseStatus) -> bool {
    r.status == status
}
