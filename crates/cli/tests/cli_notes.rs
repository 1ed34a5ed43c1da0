//! `ferry release notes` as users run it: the real binary against
//! `ferry serve` in a child process, on a Git repository made by the test.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TOKEN: &str = "cli-test-token-42";

fn git(dir: &Path, args: &[&str]) {
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

/// A bare GitOps repository with dev/qa values and a configuration whose
/// product `p` promotes `$..image` from dev to qa.
fn fixture(root: &Path) -> std::path::PathBuf {
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

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .env_remove("FERRY_TOKEN")
        .env_remove("FERRY_SERVER")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `ferry release notes` against `ferry serve`: Markdown by default,
/// JSON on request, the server's error for an unknown release.
#[test]
fn release_notes_from_the_server() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let mut serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
            ])
            .arg(root.path().join("data"))
            .env("FERRY_ADMIN_TOKEN", TOKEN)
            .env("FERRY_POLL_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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
    let created: Value = http
        .post(format!("{server}/api/v1/products/p/promotions"))
        .bearer_auth(TOKEN)
        .json(&json!({"flow": "up"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["id"].as_str().expect("a release id").to_owned();
    let base = ["--server", server.as_str(), "--token", TOKEN];

    let out = ferry(&[&["release", "notes", id.as_str()][..], &base].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("# Release notes: p #1"), "{text}");
    assert!(text.contains("First release of this product"), "{text}");
    assert!(text.contains("### app-dev (`dev`)"), "{text}");
    assert!(text.contains("- initial (`"), "{text}");

    let out = ferry(
        &[
            &["release", "notes", id.as_str(), "--format", "json"][..],
            &base,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["release"]["id"], id.as_str());
    assert_eq!(doc["configuration"][0]["commits"][0]["subject"], "initial");
    assert_eq!(doc["images"][0]["repository"], "registry.example/app");

    let out = ferry(
        &[
            &["release", "notes", "01NOSUCHRELEASE0000000000"][..],
            &base,
        ]
        .concat(),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

/// `ferry release notes <id> --refresh`: notes first computed while the
/// image's source repository did not exist yet say so and stay cached
/// (`FERRY_NOTES_REFRESH_INTERVAL=0`: only on request); once the
/// repository exists, a refresh lists its commits. Refreshing needs a
/// token.
#[test]
fn refresh_recomputes_degraded_notes() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let source = root.path().join("app-src");
    let product = config.join("p.yaml");
    let text = std::fs::read_to_string(&product).unwrap().replace(
        "  promotionFlows:\n    - name: up\n",
        &format!(
            "  promotionFlows:\n    - name: up\n  releaseNotes:\n    sources:\n      - image: registry.example/app\n        repoURL: {}\n        tagPattern: \"{{version}}\"\n",
            source.display()
        ),
    );
    assert!(text.contains("releaseNotes"));
    std::fs::write(&product, text).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("http://127.0.0.1:{port}");
    let mut serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
            ])
            .arg(root.path().join("data"))
            .env("FERRY_ADMIN_TOKEN", TOKEN)
            .env("FERRY_POLL_INTERVAL", "0")
            .env("FERRY_NOTES_REFRESH_INTERVAL", "0")
            .env("FERRY_REGISTRY_TIMEOUT", "2")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
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
    let created: Value = http
        .post(format!("{server}/api/v1/products/p/promotions"))
        .bearer_auth(TOKEN)
        .json(&json!({"flow": "up"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = created["id"].as_str().expect("a release id").to_owned();
    let base = ["--server", server.as_str(), "--token", TOKEN];
    let json_notes = |extra: &[&str]| {
        let out = ferry(
            &[
                &["release", "notes", id.as_str(), "--format", "json"][..],
                extra,
                &base,
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    // The source repository does not exist yet.
    let first = json_notes(&[]);
    let why = first["notes"].to_string();
    assert!(why.contains("none of the revisions 2.0.0"), "{why}");
    assert_eq!(first["sources"], json!([]));

    // Now it does, with the image's tag.
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q", "-b", "main"]);
    for (file, message) in [("a", "feat: first feature"), ("b", "fix: first fix (#3)")] {
        std::fs::write(source.join(file), message).unwrap();
        git(&source, &["add", file]);
        git(&source, &["commit", "-q", "-m", message]);
    }
    git(&source, &["tag", "2.0.0"]);
    assert_eq!(json_notes(&[]), first, "cached until refreshed");

    // Refreshing needs a token.
    let out = ferry(&[
        "release",
        "notes",
        id.as_str(),
        "--refresh",
        "--server",
        server.as_str(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));

    let out = ferry(&[&["release", "notes", id.as_str(), "--refresh"][..], &base].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("#### Features\n\n- first feature (`"),
        "{text}"
    );
    assert!(text.contains("- first fix (`"), "{text}");
    assert!(!text.contains("none of the revisions"), "{text}");
    let now = json_notes(&[]);
    assert_eq!(now["sources"][0]["to"].as_str().map(str::len), Some(40));
    assert!(
        !now["notes"].to_string().contains("none of the revisions"),
        "{now:#}"
    );
}
