//! Fixtures: a real GitOps repository (bare, made with the git CLI), a
//! configuration directory pointing at it, and the real server started
//! in-process on 127.0.0.1:0.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ferry_server::{Secret, Server, Settings};
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// ferry's OpenAPI document as the server generates it, strict: every
/// object of an answer closed, so a field the server writes that the
/// document does not name is an error.
static DOCUMENT: LazyLock<ferry_apicheck::Swagger> = LazyLock::new(|| {
    ferry_apicheck::Swagger::parse(ferry_api::openapi::json())
        .expect("the generated OpenAPI document parses")
        .strict()
});

/// Reads an answer of the API and checks it against the generated OpenAPI
/// document: its status must be documented for the operation, and a JSON
/// body must match that status's schema. Every answer the tests read
/// through [`TestServer::get`], [`TestServer::post`] or this function is
/// so checked, so a handler cannot answer what the document does not say.
/// Pages of the web UI (paths outside `/api/`, the probes and `/metrics`)
/// are not in the document and are not checked.
pub async fn documented(method: &str, url: &str, r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let json = r
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    let bytes = r.bytes().await.unwrap_or_default();
    let path = url
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or(url);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let api = path.starts_with("/api/") || ["/healthz", "/readyz", "/metrics"].contains(&path);
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if api {
        let mut problems = if json || !DOCUMENT.documents_status(method, path, status) {
            DOCUMENT.check_response(method, path, status, &body)
        } else {
            Vec::new()
        };
        let unrouted = problems
            .iter()
            .any(|p| p.ends_with("no such operation in the description"));
        if unrouted && [404, 405].contains(&status) {
            // No such route: the router's answer, in the error shape.
            problems = DOCUMENT.check_definition("Error", &body, ferry_apicheck::Mode::Response);
        }
        assert!(
            problems.is_empty(),
            "the answer disagrees with the OpenAPI document:\n{}\nbody: {body:#}",
            problems.join("\n")
        );
    }
    (status, body)
}

/// Checks an answer read off the wire (status and JSON body) of
/// `method` `path` against the generated OpenAPI document, as
/// [`documented`] does for answers read with reqwest.
pub fn documented_answer(method: &str, path: &str, status: u16, body: &Value) {
    let problems = DOCUMENT.check_response(method, path, status, body);
    assert!(
        problems.is_empty(),
        "the answer disagrees with the OpenAPI document:\n{}\nbody: {body:#}",
        problems.join("\n")
    );
}

/// Checks one JSON value against a named schema of the generated OpenAPI
/// document (e.g. each `data:` of the event stream against `Event`).
pub fn conforms(schema: &str, value: &Value) {
    let problems = DOCUMENT.check_definition(schema, value, ferry_apicheck::Mode::Response);
    assert!(
        problems.is_empty(),
        "{schema} disagrees with the OpenAPI document:\n{}\nvalue: {value:#}",
        problems.join("\n")
    );
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A GitOps repository with `envs/<env>/values.yaml` per environment, and
/// a configuration directory: environments dev/qa/prod, one application
/// per environment, a product `p` promoting `$..image` with flow
/// `standard` dev → qa → prod.
pub struct Fixture {
    pub root: tempfile::TempDir,
    pub bare: PathBuf,
    pub config: PathBuf,
    pub data: PathBuf,
}

pub fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let bare = root.path().join("gitops.git");
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        root.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    for (env, tag) in [("dev", "1.2.0"), ("qa", "1.0.0"), ("prod", "1.0.0")] {
        let dir = work.join("envs").join(env);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("values.yaml"),
            format!("# {env}\nreplicas: 1\nimage: registry.example/shop/api:{tag}\nsidecar:\n  image: registry.example/proxy:{tag}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("version.yaml"), format!("version: {tag}\n")).unwrap();
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);

    let config = root.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    write_config(&config, &bare);
    let data = root.path().join("data");
    Fixture {
        bare,
        config,
        data,
        root,
    }
}

/// A new version `tag` in dev (its image and version files), pushed to
/// the GitOps repository from a fresh clone.
pub fn commit_dev(f: &Fixture, tag: &str) {
    let work = f.root.path().join(format!("dev-{tag}"));
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::fs::write(
        work.join("envs/dev/values.yaml"),
        format!("# dev\nreplicas: 1\nimage: registry.example/shop/api:{tag}\nsidecar:\n  image: registry.example/proxy:{tag}\n"),
    )
    .unwrap();
    std::fs::write(
        work.join("envs/dev/version.yaml"),
        format!("version: {tag}\n"),
    )
    .unwrap();
    git(&work, &["commit", "-qam", &format!("dev: {tag}")]);
    git(&work, &["push", "-q", "origin", "main"]);
}

pub fn write_config(config: &Path, bare: &Path) {
    let mut envs = String::new();
    let mut apps = String::new();
    for (i, env) in ["dev", "qa", "prod"].iter().enumerate() {
        let kind = if *env == "prod" { "PROD" } else { "NON_PROD" };
        envs.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {env}\nspec:\n  kind: {kind}\n  order: {}\n  clusters:\n    - name: in-cluster\n      namespaces: [p-{env}]\n",
            (i + 1) * 10
        ));
        apps.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: api-{env}\n  namespace: argocd\n  annotations:\n    codefresh.io/product: p\nspec:\n  project: default\n  source:\n    repoURL: {}\n    targetRevision: main\n    path: envs/{env}\n  destination:\n    name: in-cluster\n    namespace: p-{env}\n",
            bare.display()
        ));
    }
    std::fs::write(config.join("environments.yaml"), envs).unwrap();
    std::fs::write(config.join("applications.yaml"), apps).unwrap();
    std::fs::write(
        config.join("product.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p\nspec:\n  promotionTemplate:\n    versionSource:\n      file: version.yaml\n      jsonPath: $.version\n    promotion:\n      values.yaml:\n        jsonPaths: [\"$..image\"]\n      version.yaml:\n        jsonPaths: [\"$.version\"]\n  promotionFlows:\n    - name: standard\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: standard\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [dev]\n    - environment: prod\n      dependsOn: [qa]\n",
    )
    .unwrap();
}

/// A suspending pre-action in qa, so releases stay active while the test
/// acts on them (terminate, resume).
pub fn add_qa_gate(config: &Path) {
    std::fs::write(
        config.join("gate.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: qa-gate}\nspec:\n  priority: 10\n  selector:\n    targetEnvironment: {names: [qa]}\n  policy: {preAction: gate, action: commit}\n---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: gate, annotations: {codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    suspend: {}\n",
    )
    .unwrap();
}

/// The configuration as a Git repository: a bare `config.git` and a work
/// tree `config-work` that pushes to it, holding `write_config`'s files.
pub fn config_repo(f: &Fixture) -> (PathBuf, PathBuf) {
    let bare = f.root.path().join("config.git");
    let work = f.root.path().join("config-work");
    git(
        f.root.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    write_config(&work, &f.bare);
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "config"]);
    git(&work, &["push", "-q", "origin", "HEAD:main"]);
    (bare, work)
}

pub struct TestServer {
    pub base: String,
    /// The server's engine (tests publish events through it).
    pub engine: ferry_engine::Engine,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ferry_server::ServerError>>>,
}

pub fn settings(f: &Fixture) -> Settings {
    Settings {
        listen: "127.0.0.1:0".into(),
        config: Some(f.config.display().to_string()),
        data_dir: f.data.clone(),
        admin_token: Some(Secret::new(TOKEN)),
        poll_interval: None,
        config_poll_interval: Some(Duration::from_millis(200)),
        ..Settings::default()
    }
}

pub async fn start(settings: Settings) -> TestServer {
    let server = Server::build(settings).await.expect("server builds");
    let engine = server.engine().clone();
    let bound = server.bind().await.expect("binds");
    let base = format!("http://{}", bound.local_addr());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(bound.run(async move {
        let _ = rx.await;
    }));
    // Raw responses: the tests check the encodings the server sends (reqwest
    // decodes gzip when another crate of the workspace enables it).
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = http.get(format!("{base}/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(Instant::now() < deadline, "server never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    TestServer {
        base,
        engine,
        http,
        stop: Some(tx),
        task: Some(task),
    }
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path` with the admin token; the answer checked against the
    /// OpenAPI document ([`documented`]).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        documented("GET", path, r).await
    }

    /// `POST path` with a JSON body and the admin token; the answer checked
    /// against the OpenAPI document ([`documented`]). A 503 ("nothing was
    /// changed, try again": the store did not take a write in time, as on a
    /// loaded machine) is sent again with the same Idempotency-Key, for up
    /// to 30 s, as `ferry`'s own client does.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let key = format!(
            "test-{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            SENT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let r = self
                .http
                .post(self.url(path))
                .bearer_auth(TOKEN)
                .header("Idempotency-Key", &key)
                .json(body)
                .send()
                .await
                .unwrap();
            if r.status() == 503 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            return documented("POST", path, r).await;
        }
    }

    /// The body of `GET path` as text, without a token (e.g. `/metrics`).
    pub async fn text(&self, path: &str) -> String {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        r.text().await.unwrap_or_default()
    }

    /// Promotes product `p` by `flow`; the new release's id.
    pub async fn promote(&self, flow: &str) -> String {
        let (status, created) = self
            .post("/api/v1/products/p/promotions", &json!({"flow": flow}))
            .await;
        assert_eq!(status, 201, "{created}");
        created["id"].as_str().unwrap_or_default().to_owned()
    }

    /// Polls the release until it is finished.
    pub async fn wait_finished(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (status, r) = self.get(&format!("/api/v1/releases/{id}")).await;
            assert_eq!(status, 200, "{r}");
            if !r["finishedAt"].is_null() {
                return r;
            }
            assert!(Instant::now() < deadline, "release never finished: {r:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}
