//! `ferry serve` as a child process for the CLI's tests: a bare GitOps
//! repository with dev/qa values, a configuration whose product `p`
//! promotes `$..image` from dev to qa, the server started on a free port
//! and waited for, and the `ferry` client run against it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const TOKEN: &str = "cli-test-token-42";

pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
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
}

/// The repository under `root` and its configuration directory (returned).
pub fn fixture(root: &Path) -> PathBuf {
    let bare = root.join("gitops.git");
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        root,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    for (env, tag) in [("dev", "2.0.0"), ("qa", "1.0.0")] {
        std::fs::create_dir_all(work.join(env)).unwrap();
        std::fs::write(
            work.join(env).join("values.yaml"),
            format!("image: registry.example/app:{tag}\n"),
        )
        .unwrap();
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let config = root.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut text = String::new();
    for env in ["dev", "qa"] {
        text.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {env}\nspec:\n  kind: NON_PROD\n  clusters:\n    - name: in-cluster\n      namespaces: [p-{env}]\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{env}\n  annotations:\n    codefresh.io/product: p\nspec:\n  source:\n    repoURL: {}\n    targetRevision: main\n    path: {env}\n  destination:\n    name: in-cluster\n    namespace: p-{env}\n",
            bare.display()
        ));
    }
    text.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p\nspec:\n  promotionTemplate:\n    promotion:\n      values.yaml:\n        jsonPaths: [\"$..image\"]\n  promotionFlows:\n    - name: up\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: up\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n");
    std::fs::write(config.join("p.yaml"), text).unwrap();
    config
}

/// A `ferry serve` child, killed on drop.
pub struct Serve(pub Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ferry serve` on a free port with `config`, data in
/// `root/data`, the test token, polling off and `env` added; returns once
/// `/readyz` answers 200, with the server's URL.
pub fn serve(root: &Path, config: &Path, env: &[(&str, &str)]) -> (Serve, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args([
        "serve",
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
    ])
    .arg(root.join("data"))
    .env("FERRY_ADMIN_TOKEN", TOKEN)
    .env("FERRY_POLL_INTERVAL", "0")
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut serve = Serve(cmd.spawn().unwrap());
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http
        .get(format!("{server}/readyz"))
        .send()
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(serve.0.try_wait().unwrap().is_none(), "ferry serve exited");
        assert!(Instant::now() < deadline, "ferry serve never became ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    (serve, server)
}

/// Starts flow `flow` of product `p` on `server` (over the API, as a
/// script would); the new release's id.
pub fn promote_flow(server: &str, flow: &str) -> String {
    let created: serde_json::Value = reqwest::blocking::Client::new()
        .post(format!("{server}/api/v1/products/p/promotions"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "flow": flow }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    created["id"].as_str().expect("a release id").to_owned()
}

/// The `ferry` client with `args`, without the caller's FERRY_TOKEN or
/// FERRY_SERVER.
pub fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_SERVER")
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
