//! `ferry serve` and the client commands as users run them: the real
//! binary in a child process on a free port, a real Git repository and a
//! configuration directory made by the test.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod served;

use served::{Serve, TOKEN, ferry, fixture, promote_flow, serve, stderr, stdout};

#[test]
fn serve_then_client_commands() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let (mut serve, server) = serve(root.path(), &config, &[]);

    let base = ["--server", server.as_str(), "--token", TOKEN];
    let out = ferry(&[&["releases"][..], &base, &["--output", "json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"], json!([]));

    // Without a token the server refuses, and the CLI says how to fix it.
    let out = ferry(&["releases", "--server", &server]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("401") && stderr(&out).contains("FERRY_TOKEN"),
        "{}",
        stderr(&out)
    );

    let id = promote_flow(&server, "up");

    // --watch follows the release until it finishes.
    let out = ferry(&[&["release", "show", id.as_str(), "--watch"][..], &base].concat());
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("SUCCEEDED"), "{text}");
    assert!(text.contains("app-qa"), "{text}");

    let out = ferry(&[&["releases"][..], &base, &["--output", "json"]].concat());
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["items"][0]["id"], id.as_str());
    assert_eq!(page["items"][0]["status"], "SUCCEEDED");
    let out = ferry(&[&["releases"][..], &base, &["--product", "p"]].concat());
    let text = stdout(&out);
    assert!(text.starts_with("RELEASE"), "{text}");
    assert!(
        text.contains("p#1") && text.contains("SUCCEEDED") && text.contains("qa:SUCCESSFUL"),
        "{text}"
    );

    let out = ferry(
        &[
            &["release", "show", id.as_str()][..],
            &base,
            &["--output", "json"],
        ]
        .concat(),
    );
    let release: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(release["initiator"], "admin");

    // The same release by its number in its product, either way.
    for by_number in [&["p#1"][..], &["1", "--product", "p"][..]] {
        let out = ferry(
            &[
                &["release", "show"][..],
                by_number,
                &base,
                &["--output", "json"],
            ]
            .concat(),
        );
        assert!(out.status.success(), "{by_number:?}: {}", stderr(&out));
        let same: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(same["id"], id.as_str(), "{by_number:?}");
    }
    let out = ferry(&[&["release", "show", "p#9"][..], &base].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("release #9 of product `p` not found"),
        "{}",
        stderr(&out)
    );
    let out = ferry(&[&["release", "show", "1"][..], &base].concat());
    assert!(
        stderr(&out).contains("name its product"),
        "{}",
        stderr(&out)
    );

    // A finished release cannot be terminated: the server's message shows.
    let out = ferry(&[&["release", "terminate", "p#1"][..], &base].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("409"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(TOKEN));

    // SIGTERM stops the server gracefully.
    let pid = serve.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = serve.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "ferry serve ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn serve_refuses_an_invalid_configuration() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("flow.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps: []\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            root.path().to_str().unwrap(),
            "--data-dir",
        ])
        .arg(root.path().join("data"))
        .env("FERRY_ADMIN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("flow.yaml:5:23") && err.contains("dev"),
        "{err}"
    );
}

/// `ferry serve` loads its configuration within the `configMax*` limits of
/// its settings (issue 23): a source over them is refused before any file is
/// read, and a file of a kind ferry reads past the node limit is an error
/// at its line and column.
#[test]
fn serve_loads_the_configuration_within_its_limits() {
    let root = tempfile::tempdir().unwrap();
    let config = root.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("env.yaml"),
        "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\n  labels: {a: '1', b: '2', c: '3'}\nspec:\n  kind: NON_PROD\n  clusters: [{name: in-cluster}]\n",
    )
    .unwrap();
    std::fs::write(config.join("values.yaml"), "replicas: 3\n").unwrap();
    let serve = |settings: &str| {
        let file = root.path().join("ferry.toml");
        std::fs::write(&file, settings).unwrap();
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&config)
            .arg("--data-dir")
            .arg(root.path().join("data"))
            .arg("--settings")
            .arg(&file)
            .env("FERRY_ADMIN_TOKEN", TOKEN)
            .output()
            .unwrap()
    };
    let out = serve("configMaxFiles = 1\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("2 YAML files") && err.contains("(1 files,") && err.contains("configMaxFiles"),
        "{err}"
    );
    let out = serve("configMaxDocumentNodes = 12\n");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("env.yaml:5:") && err.contains("more than 12 YAML nodes"),
        "{err}"
    );
}

/// Without a configured token, the first start generates one, prints it
/// once and stores only its hash; the printed token works.
#[test]
fn first_start_generates_the_admin_token() {
    use std::io::BufRead;
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let data = root.path().join("data");
    let start = |data: &Path| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--config",
                config.to_str().unwrap(),
                "--data-dir",
            ])
            .arg(data)
            .env_remove("FERRY_ADMIN_TOKEN")
            .env("FERRY_POLL_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut printed = Vec::new();
        let url = loop {
            let line = lines
                .next()
                .expect("ferry serve printed its address")
                .unwrap();
            if let Some(url) = line.strip_prefix("ferry listening on ") {
                break url.to_owned();
            }
            printed.push(line);
        };
        (Serve(child), url, printed)
    };
    let (first, url, printed) = start(&data);
    let token = printed
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("ferry_"))
        .expect("the generated token is printed")
        .to_owned();
    let stored = std::fs::read_to_string(data.join("admin-token.sha256")).unwrap();
    assert!(!stored.contains(&token));
    let out = ferry(&[
        "releases", "--server", &url, "--token", &token, "--output", "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ferry(&[
        "releases",
        "--server",
        &url,
        "--token",
        "ferry_wrong",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    drop(first);

    // The second start reuses the stored hash and prints no token.
    let (_second, url, printed) = start(&data);
    assert!(printed.iter().all(|l| !l.contains("ferry_")), "{printed:?}");
    let out = ferry(&[
        "releases", "--server", &url, "--token", &token, "--output", "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `--log-format json`: one JSON object per log line, for collectors.
#[test]
fn serve_writes_json_log_lines() {
    use std::io::BufRead;
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--config",
            config.to_str().unwrap(),
            "--data-dir",
        ])
        .arg(root.path().join("data"))
        .env("FERRY_ADMIN_TOKEN", TOKEN)
        .env("FERRY_POLL_INTERVAL", "0")
        .env_remove("FERRY_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let _serve = Serve(child);
    let mut logged = Vec::new();
    for line in lines {
        let line = line.unwrap();
        if line.starts_with("ferry listening on ") {
            break;
        }
        logged.push(line);
    }
    let events: Vec<Value> = logged
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect();
    assert!(!events.is_empty(), "no JSON log line in {logged:#?}");
    for e in &events {
        assert!(
            e["timestamp"].is_string() && e["level"].is_string() && e["message"].is_string(),
            "{e}"
        );
    }
    assert!(events.iter().any(|e| e["level"] == "INFO"), "{events:#?}");
    assert!(!logged.iter().any(|l| l.contains(TOKEN)));
    // The same flag refuses what it does not know, naming the choices.
    let out = ferry(&["serve", "--log-format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("text, json"), "{}", stderr(&out));
}

/// `ferry promote --to qa --action none`: the promotion's own policy
/// settings reach the server and win over the policies.
#[test]
fn promote_with_policy_settings() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let (_serve, server) = serve(root.path(), &config, &[]);
    let base = ["--server", server.as_str(), "--token", TOKEN];
    let out = ferry(
        &[
            &[
                "promote",
                "--product",
                "p",
                "--to",
                "qa",
                "--action",
                "none",
            ][..],
            &base,
            &["--output", "json"],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let out = ferry(&[&["release", "show", id.as_str(), "--watch"][..], &base].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ferry(
        &[
            &["release", "show", id.as_str(), "--output", "json"][..],
            &base,
        ]
        .concat(),
    );
    let release: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(release["status"], "SUCCEEDED", "{release:#}");
    let qa = release["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap();
    let app = &qa["applications"][0];
    assert!(app["promotionCommit"].is_null(), "no commit: {app:#}");
    assert!(
        app["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "none"),
        "{app:#}"
    );
    // Settings that need --to are refused without it.
    let out = ferry(
        &[
            &[
                "promote",
                "--product",
                "p",
                "--flow",
                "up",
                "--action",
                "pr",
            ][..],
            &base,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
