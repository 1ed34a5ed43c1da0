//! Security end to end with the real binary (issue 10): `ferry token`
//! against `ferry serve`, and the redaction test — a whole release with
//! known secret values in every place a secret can live (admin token,
//! an API token, a Git password over smart HTTP, workflow secrets from the
//! settings file, a workflow that echoes them and fails), after which the
//! server's stdout/stderr, every API answer and every byte of the data
//! directory (database, mirrors, workflow scratch space) are searched for
//! them: zero hits.

#[path = "../../git/tests/common/http.rs"]
#[allow(dead_code)]
mod git_http;
mod served;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use served::{ferry, git};

const ADMIN: &str = "Adm1n-T0ken-5ec7e1-e2e";
const GIT_USER: &str = "ferry-bot";
const GIT_PASSWORD: &str = "G1t-Passw0rd-a8c3f0";
const WORKFLOW_SECRET: &str = "Wf-Deploy-S3cret-71bd44";
const FILE_SECRET: &str = "File-S3cret-0e9d2c";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve {
    child: Child,
    base: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// `ferry serve --settings <file>`, stdout and stderr into files.
    fn start(root: &Path, settings: &Path, port: u16) -> Serve {
        let stdout = root.join("serve.stdout");
        let stderr = root.join("serve.stderr");
        let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["serve", "--settings"])
            .arg(settings)
            .env_remove("FERRY_ADMIN_TOKEN")
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        let mut serve = Serve {
            child,
            base: format!("http://127.0.0.1:{port}"),
            stdout,
            stderr,
        };
        let http = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !http
            .get(format!("{}/readyz", serve.base))
            .send()
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                serve.child.try_wait().unwrap().is_none(),
                "ferry serve exited: {}",
                std::fs::read_to_string(&serve.stderr).unwrap_or_default()
            );
            assert!(Instant::now() < deadline, "ferry serve never became ready");
            std::thread::sleep(Duration::from_millis(50));
        }
        serve
    }

    /// SIGTERM, then the process's own output.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "ferry serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap(),
            std::fs::read_to_string(&self.stderr).unwrap()
        )
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Environments dev and qa, one application each in `repo_url`, product
/// `p` with flow `up` (dev → qa), and a qa policy whose pre-action echoes
/// the workflow secrets and whose post-action echoes them and fails.
fn write_config(config: &Path, repo_url: &str) {
    std::fs::create_dir_all(config).unwrap();
    let mut text = String::new();
    for env in ["dev", "qa"] {
        text.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {env}\nspec:\n  kind: NON_PROD\n  clusters:\n    - name: in-cluster\n      namespaces: [p-{env}]\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: app-{env}\n  annotations:\n    codefresh.io/product: p\nspec:\n  source:\n    repoURL: {repo_url}\n    targetRevision: main\n    path: {env}\n  destination:\n    name: in-cluster\n    namespace: p-{env}\n"
        ));
    }
    text.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p\nspec:\n  promotionTemplate:\n    promotion:\n      values.yaml:\n        jsonPaths: [\"$..image\"]\n  promotionFlows:\n    - name: up\n---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: up\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n");
    text.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: qa}\nspec:\n  priority: 1\n  selector:\n    targetEnvironment: {names: [qa]}\n  policy: {preAction: leak-ok, action: commit, postAction: leak-fail}\n");
    for (name, tail) in [("leak-ok", ""), ("leak-fail", "        exit 3\n")] {
        text.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {{name: {name}, annotations: {{codefresh.io/workflow-origin: promotion}}}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    script:\n      command: [sh]\n      source: |\n        echo \"deploying with $DEPLOY_TOKEN\"\n        echo \"file secret $FILE_SECRET\" >&2\n        echo \"url https://bot:$DEPLOY_TOKEN@git.example/x.git\"\n{tail}"
        ));
    }
    std::fs::write(config.join("p.yaml"), text).unwrap();
}

/// A GitOps repository served over smart HTTP with basic auth.
fn gitops_repo(root: &Path) -> (git_http::GitHttpServer, String) {
    let project = root.join("git-root");
    std::fs::create_dir_all(&project).unwrap();
    let bare = project.join("gitops.git");
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        root,
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&bare, &["config", "http.receivepack", "true"]);
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
    let server = git_http::GitHttpServer::start(
        project,
        git_http::Auth::Basic {
            user: GIT_USER.into(),
            password: GIT_PASSWORD.into(),
        },
    );
    let url = server.url("gitops.git");
    (server, url)
}

fn settings_file(root: &Path, port: u16, config: &Path, git_base: &str) -> PathBuf {
    let secret_file = root.join("file-secret.txt");
    std::fs::write(&secret_file, format!("{FILE_SECRET}\n")).unwrap();
    let path = root.join("ferry.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:{port}\"\nconfig = \"{}\"\ndataDir = \"{}\"\nadminToken = \"{ADMIN}\"\npollInterval = 0\nconfigPollInterval = 0\n\n[[gitCredentials]]\nrepoPrefix = \"{git_base}/\"\nusername = \"{GIT_USER}\"\npassword = \"{GIT_PASSWORD}\"\n\n[workflowSecrets]\nDEPLOY_TOKEN = \"{WORKFLOW_SECRET}\"\nFILE_SECRET = {{ file = \"{}\" }}\n",
            config.display(),
            root.join("data").display(),
            secret_file.display()
        ),
    )
    .unwrap();
    path
}

/// Every file under `dir`, recursively.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            files(&path, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn token_commands_against_a_real_server() {
    let root = tempfile::tempdir().unwrap();
    let (_git, url) = gitops_repo(root.path());
    let config = root.path().join("config");
    write_config(&config, &url);
    let port = free_port();
    let git_base = url.trim_end_matches("/gitops.git").to_owned();
    let settings = settings_file(root.path(), port, &config, &git_base);
    let serve = Serve::start(root.path(), &settings, port);
    let admin = ["--server", serve.base.as_str(), "--token", ADMIN];

    let out = ferry(
        &[
            &[
                "token",
                "create",
                "ci",
                "--role",
                "promoter",
                "--product",
                "p",
                "--non-production",
            ][..],
            &admin,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("created token `ci` (promoter; for p; non-production only)"),
        "{stdout}"
    );
    assert!(stdout.contains("shown only now"), "{stdout}");
    let value = stdout
        .lines()
        .find(|l| l.starts_with("ferry_"))
        .expect("the value is printed once")
        .to_owned();

    let out = ferry(
        &[
            &[
                "token", "create", "dash", "--role", "viewer", "--output", "json",
            ][..],
            &admin,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", text(&out));
    let dash: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dash["role"], "viewer");
    let dash_token = dash["token"].as_str().unwrap().to_owned();

    let out = ferry(&[&["token", "list"][..], &admin].concat());
    assert!(out.status.success(), "{}", text(&out));
    let list = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(list.starts_with("NAME"), "{list}");
    assert!(
        list.contains("ci") && list.contains("p; non-production only"),
        "{list}"
    );
    assert!(list.contains("dash") && list.contains("viewer"), "{list}");
    assert!(
        !list.contains(&value) && !list.contains(&dash_token),
        "{list}"
    );

    // A promoter's token cannot administer tokens.
    let out = ferry(&["token", "list", "--server", &serve.base, "--token", &value]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("403"), "{}", text(&out));

    // The new token works, until revoked.
    let out = ferry(&["releases", "--server", &serve.base, "--token", &dash_token]);
    assert!(out.status.success(), "{}", text(&out));
    let out = ferry(&[&["token", "revoke", "dash"][..], &admin].concat());
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("revoked token `dash`"));
    let out = ferry(&["releases", "--server", &serve.base, "--token", &dash_token]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("401"), "{}", text(&out));
    let out = ferry(&[&["token", "revoke", "dash"][..], &admin].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("404"), "{}", text(&out));
    let out = ferry(&[&["token", "list", "--all", "--output", "json"][..], &admin].concat());
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let logs = serve.stop();
    assert!(
        !logs.contains(&value) && !logs.contains(&dash_token),
        "{logs}"
    );
}

#[test]
fn no_secret_survives_a_whole_release() {
    let root = tempfile::tempdir().unwrap();
    let (git_server, url) = gitops_repo(root.path());
    let config = root.path().join("config");
    write_config(&config, &url);
    let port = free_port();
    let git_base = url.trim_end_matches("/gitops.git").to_owned();
    let settings = settings_file(root.path(), port, &config, &git_base);
    // Anonymous read, so the web UI's pages are fetched as a visitor sees
    // them and searched with everything else.
    let text = std::fs::read_to_string(&settings).unwrap();
    std::fs::write(&settings, format!("anonymousRead = true\n{text}")).unwrap();
    let serve = Serve::start(root.path(), &settings, port);
    let base = serve.base.clone();
    let http = reqwest::blocking::Client::new();

    // An API token (its creation answer is the one place it may appear).
    let created: Value = http
        .post(format!("{base}/api/v1/tokens"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "deployer", "role": "promoter"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let api_token = created["token"].as_str().unwrap().to_owned();

    let mut answers = String::new();
    let mut call = |method: reqwest::Method, path: &str, token: &str, body: Option<Value>| {
        let mut req = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().unwrap();
        let status = r.status().as_u16();
        let headers = format!("{:?}", r.headers());
        let body = r.text().unwrap();
        answers.push_str(&format!("{path} {status} {headers}\n{body}\n"));
        (
            status,
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null),
        )
    };

    let (status, release) = call(
        reqwest::Method::POST,
        "/api/v1/products/p/promotions",
        &api_token,
        Some(json!({"flow": "up"})),
    );
    assert_eq!(status, 201, "{release}");
    let id = release["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    let release = loop {
        let (_, r) = call(
            reqwest::Method::GET,
            &format!("/api/v1/releases/{id}"),
            &api_token,
            None,
        );
        if !r["finishedAt"].is_null() {
            break r;
        }
        assert!(Instant::now() < deadline, "release never finished: {r:#}");
        std::thread::sleep(Duration::from_millis(100));
    };

    // The release really ran: a commit pushed over authenticated HTTP,
    // the workflows echoed the secrets, the failing one left its log.
    assert_eq!(release["status"], "FAILED", "{release:#}");
    let qa = &release["environments"][1];
    assert_eq!(qa["name"], "qa");
    assert!(
        qa["applications"][0]["promotionCommit"].is_string(),
        "{release:#}"
    );
    let issue = qa["issues"][0].to_string();
    assert!(issue.contains("deploying with ***"), "{issue}");
    assert!(issue.contains("file secret ***"), "{issue}");
    assert!(
        issue.contains("https://bot:***@git.example/x.git"),
        "{issue}"
    );
    {
        let log = git_server.log.lock().unwrap();
        assert!(log.accepted > 0, "{:?}", log.requests);
        assert!(log.leaked_argv.is_empty(), "{:?}", log.leaked_argv);
    }

    // Everything a client can read about it.
    call(
        reqwest::Method::POST,
        &format!("/api/v1/releases/{id}/retry"),
        ADMIN,
        None,
    );
    std::thread::sleep(Duration::from_millis(500));
    for path in [
        "/api/v1/releases",
        "/api/v1/products",
        "/api/v1/products/p",
        "/api/v1/products/p/releases",
        "/api/v1/audit?limit=200",
        "/api/v1/tokens?all=true",
        "/api/v1/config/status",
        "/api/v1/policies/evaluate?product=p&environment=qa",
        "/api/v1/insights",
        "/metrics",
        "/api/openapi.json",
    ] {
        let (status, _) = call(reqwest::Method::GET, path, ADMIN, None);
        assert_eq!(status, 200, "{path}");
    }
    call(
        reqwest::Method::GET,
        &format!("/api/v1/releases/{id}"),
        ADMIN,
        None,
    );
    // The web UI's pages of the same release.
    let mut pages = String::new();
    for path in [
        "/products".to_owned(),
        "/products/p".to_owned(),
        "/products/p/releases".to_owned(),
        "/releases".to_owned(),
        "/products/p/releases/1".to_owned(),
        "/products/p/releases/1/notes".to_owned(),
        "/products/p/flows/up".to_owned(),
        "/environments".to_owned(),
        "/policies?product=p&environment=qa".to_owned(),
    ] {
        let r = http.get(format!("{base}{path}")).send().unwrap();
        let status = r.status().as_u16();
        let body = r.text().unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        pages.push_str(&format!("{path} {status}\n{body}\n"));
    }
    assert!(
        pages.contains("deploying with ***"),
        "the release page shows the masked log"
    );
    // A secret presented as a token is not echoed.
    let (status, _) = call(
        reqwest::Method::GET,
        "/api/v1/releases",
        WORKFLOW_SECRET,
        None,
    );
    assert_eq!(status, 401);
    // The whole history, from the live stream.
    let mut stream = http
        .get(format!("{base}/api/v1/releases/{id}/events"))
        .bearer_auth(ADMIN)
        .send()
        .unwrap();
    let mut history = String::new();
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !history.contains("retry by admin (admin)") || !history.contains("\"status\":\"FAILED\"")
    {
        use std::io::Read;
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0 && Instant::now() < deadline, "{history}");
        history.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(stream);
    answers.push_str(&pages);
    answers.push_str(&history);
    assert!(
        history.contains("promote by deployer (promoter) from 127.0.0.1"),
        "{history}"
    );

    let logs = serve.stop();

    // Zero hits, in every form a secret could take.
    let basic = git_http::base64(format!("{GIT_USER}:{GIT_PASSWORD}").as_bytes());
    let secrets = [
        ADMIN,
        GIT_PASSWORD,
        basic.as_str(),
        WORKFLOW_SECRET,
        FILE_SECRET,
        api_token.as_str(),
    ];
    let mut stored = Vec::new();
    files(&root.path().join("data"), &mut stored);
    assert!(
        stored.iter().any(|p| p.ends_with("ferry.db")),
        "the database is searched: {stored:?}"
    );
    let mut hits = Vec::new();
    for secret in secrets {
        if logs.contains(secret) {
            hits.push(format!("server output: {secret}"));
        }
        if answers.contains(secret) {
            hits.push(format!("API answers: {secret}"));
        }
        for path in &stored {
            let bytes = std::fs::read(path).unwrap();
            if contains(&bytes, secret.as_bytes()) {
                hits.push(format!("{}: {secret}", path.display()));
            }
        }
    }
    assert!(hits.is_empty(), "secrets found: {hits:#?}");
}
