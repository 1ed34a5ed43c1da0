//! `ferry demo` as a newcomer runs it (the real binary, real Git
//! repositories, the real server on 127.0.0.1): the first release listed
//! on the release list page; a failing environment on demand (`--fail`),
//! at the start and against the running demo, failing the way promotions
//! fail — the environment FAILED with the health-check step's log,
//! everything downstream PENDING — and `--fix` + Retry carrying it on;
//! production's pull requests merged with `--merge`; Ctrl-C stops it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

fn ferry(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("ferry runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Kills the demo if a check fails before it is stopped.
struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

struct Api {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    /// What the demo printed on stderr so far (its warnings explain a
    /// release that does not get where a check waits for it).
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Api {
    fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.json().unwrap()
    }

    fn page(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        r.text().unwrap()
    }

    fn retry(&self, id: &str) {
        let r = self
            .http
            .post(format!("{}/api/v1/releases/{id}/retry", self.base))
            .bearer_auth(&self.token)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().unwrap_or_default());
    }

    fn stderr_tail(&self) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        lines[lines.len().saturating_sub(60)..].join("\n")
    }

    /// Release `number` of the shop once `ok` holds for it.
    fn wait(&self, number: u64, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let list = self.get("/api/v1/products/shop/releases");
            let r = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["number"] == number)
                .cloned()
                .unwrap_or(Value::Null);
            if !r.is_null() {
                let full = self.get(&format!("/api/v1/releases/{}", r["id"].as_str().unwrap()));
                if ok(&full) {
                    return full;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: {full:#}\nthe demo's stderr:\n{}",
                    self.stderr_tail()
                );
            } else {
                assert!(Instant::now() < deadline, "{what}: no release #{number}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The release ended (hooks included) with `status`.
fn finished(status: &str) -> impl Fn(&Value) -> bool + '_ {
    move |r| r["status"] == status && !r["finishedAt"].is_null()
}

fn env<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap()
}

fn statuses(r: &Value) -> Vec<(String, String)> {
    r["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[test]
fn an_unknown_environment_is_refused_before_anything_is_made() {
    let dir = tempfile::tempdir().unwrap();
    let out = ferry(dir.path(), &["demo", "--fail", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr).trim(),
        "error: --fail prod: the demo has no environment `prod` (its environments: dev, qa, perf, staging, prod-eu, prod-us); choose qa or staging"
    );
    assert!(!dir.path().join("ferry-demo").exists(), "nothing created");
    let out = ferry(dir.path(), &["demo", "--fail", "perf", "--commit"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("perf runs no health check"),
        "{}",
        text(&out.stderr)
    );
    // The commands for a running demo need one.
    let out = ferry(dir.path(), &["demo", "--fix"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no demo in ferry-demo"));
}

#[test]
fn a_failing_environment_on_demand_then_fixed_retried_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["demo", "--listen", &addr, "--fail", "staging"])
        .current_dir(dir.path())
        .env("FERRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ferry demo");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut demo = Demo(child);
    let mut token = None;
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("demo output");
        if let Some(t) = line
            .split(": ")
            .nth(1)
            .filter(|_| line.starts_with("admin token"))
        {
            token = Some(t.trim().to_owned());
        }
        // The last line printed before serving: the last follow-up command.
        let last = line.starts_with("  ferry release show");
        printed.push(line);
        if last {
            break;
        }
    }
    // Keep reading: the demo prints more, and a closed pipe would end it.
    std::thread::spawn(move || lines.for_each(drop));
    let stderr_lines = Arc::new(Mutex::new(Vec::new()));
    let progress = std::thread::spawn({
        let lines = Arc::clone(&stderr_lines);
        move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap_or_else(|p| p.into_inner()).push(line);
            }
        }
    });
    let printed = printed.join("\n");
    assert!(
        printed.contains(&format!(
            "release #1 of shop: http://{addr}/products/shop/releases/1"
        )),
        "{printed}"
    );
    assert!(printed.contains("it fails in staging"), "{printed}");
    assert!(
        printed.contains(&format!(
            "releases of shop: http://{addr}/products/shop/releases"
        )),
        "{printed}"
    );
    // The follow-up commands are the README's, word for word (this demo
    // listens on another port, so they also name the server).
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let commands: Vec<String> = printed
        .lines()
        .filter(|l| l.starts_with("  ferry "))
        .map(|l| l.replace(&format!(" --server http://{addr}"), ""))
        .collect();
    assert_eq!(commands.len(), 6, "{printed}");
    for c in &commands {
        let c = c.split(" # ").next().unwrap().trim_end();
        let in_readme = readme
            .lines()
            .any(|l| l.split(" # ").next().unwrap().trim_end() == c);
        assert!(in_readme, "the README lists `{c}` as the demo prints it");
    }
    assert!(
        printed.contains("ferry release show shop#1 --watch --server"),
        "{printed}"
    );
    let api = Api {
        base: format!("http://{addr}"),
        token: token.expect("the admin token is printed"),
        http: reqwest::blocking::Client::new(),
        stderr: Arc::clone(&stderr_lines),
    };

    // The release list lists release #1 (anonymous read is on).
    let list = api.page("/products/shop/releases");
    assert!(
        list.contains("href=\"/products/shop/releases/1\""),
        "{list}"
    );

    // Release #1 fails in staging, in the health-check post-action, with
    // its log; downstream stays PENDING, independent branches ran.
    let failed = api.wait(1, "release #1 fails", finished("FAILED"));
    assert_eq!(
        statuses(&failed),
        pairs(&[
            ("dev", "SUCCESSFUL"),
            ("qa", "SUCCESSFUL"),
            ("perf", "SUCCESSFUL"),
            ("staging", "FAILED"),
            ("prod-eu", "PENDING"),
            ("prod-us", "PENDING"),
        ])
    );
    // Steps that never ran in a finished release end SKIPPED, saying why.
    for a in env(&failed, "prod-eu")["applications"].as_array().unwrap() {
        for s in a["steps"].as_array().unwrap() {
            assert_eq!(s["status"], "SKIPPED", "{s:#}");
            assert!(
                s["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("not run: ")),
                "{s:#}"
            );
        }
    }
    let issues = env(&failed, "staging")["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{issues:#?}");
    assert_eq!(issues[0]["kind"], "workflow");
    assert_eq!(issues[0]["application"], "checkout-staging");
    assert_eq!(
        issues[0]["message"],
        "workflow `health-check` failed: exit code 1"
    );
    let log = "health check FAILED: checkout-staging does not answer in staging: no ready replicas (replicaCount: 0 in apps/checkout/staging/values.yaml)";
    assert_eq!(issues[0]["details"].as_str().unwrap().trim(), log);
    let view = api.page("/products/shop/releases/1");
    assert!(view.contains(log), "the release view shows the log");
    // Staging's three applications, step by step as a whole (SPEC §4.3).
    assert!(
        view.contains("aria-label=\"Steps of staging over its applications\""),
        "{view}"
    );
    let (_, staging) = view
        .split_once("aria-label=\"Steps of staging over its applications\"")
        .unwrap();
    let staging = &staging[..staging.find("</ul>").unwrap()];
    assert!(
        staging.contains("health-check</span>") && staging.contains("FAILED"),
        "{staging}"
    );

    // Retry before the cause is gone fails the same way.
    let id = failed["id"].as_str().unwrap().to_owned();
    api.retry(&id);
    // The retry's issue is added to the first attempt's, which stays.
    assert_eq!(issues[0]["attempt"], 1);
    let again = api.wait(1, "the retry fails again", |r| {
        finished("FAILED")(r)
            && env(r, "staging")["issues"]
                .as_array()
                .is_some_and(|i| i.iter().any(|i| i["attempt"] == 2))
    });
    let issues = env(&again, "staging")["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 2, "{issues:#?}");
    assert_eq!(issues[0]["attempt"], 1);
    assert_eq!(issues[0]["details"].as_str().unwrap().trim(), log);
    assert_eq!(issues[1]["attempt"], 2);
    assert_eq!(issues[1]["details"].as_str().unwrap().trim(), log);
    assert_eq!(env(&again, "prod-eu")["status"], "PENDING");

    // --fix (a commit), Retry: staging passes, production waits on its PRs.
    let fixed = ferry(dir.path(), &["demo", "--fix"]);
    assert!(fixed.status.success(), "{}", text(&fixed.stderr));
    assert!(
        text(&fixed.stdout).starts_with("checkout scaled back up in staging"),
        "{}",
        text(&fixed.stdout)
    );
    api.retry(&id);
    // Every application's commit must be on its branch before the merge:
    // an environment is SUSPENDED from its first application's push on,
    // and a commit pushed after the merge would wait for a second one.
    let waiting = api.wait(1, "production waits for its pull requests", |r| {
        ["prod-eu", "prod-us"].iter().all(|name| {
            let e = env(r, name);
            e["status"] == "SUSPENDED"
                && e["applications"].as_array().is_some_and(|apps| {
                    apps.iter()
                        .all(|a| a["status"] == "SUSPENDED" && a["pullRequest"]["head"].is_string())
                })
        })
    });
    assert_eq!(env(&waiting, "staging")["status"], "SUCCESSFUL");
    let merged = ferry(dir.path(), &["demo", "--merge"]);
    assert!(merged.status.success(), "{}", text(&merged.stderr));
    assert_eq!(
        text(&merged.stdout),
        "merged shop-gitops: ferry/shop/prod-eu/1\nmerged shop-gitops: ferry/shop/prod-us/1\n"
    );
    let done = api.wait(1, "release #1 succeeds", finished("SUCCEEDED"));
    assert_eq!(env(&done, "prod-us")["status"], "SUCCESSFUL");
    let repo = dir.path().join("ferry-demo/repos/shop-gitops.git");
    let log = Command::new("git")
        .args(["log", "--format=%s", "main"])
        .current_dir(&repo)
        .output()
        .unwrap();
    let log = text(&log.stdout);
    for subject in [
        "staging: scale checkout down to 0 replicas",
        "staging: scale checkout back up",
        "Merge promotion pull request ferry/shop/prod-eu/1",
    ] {
        assert!(log.lines().any(|l| l == subject), "{subject} in\n{log}");
    }

    // Against the running demo: the next release fails in qa.
    let out = ferry(dir.path(), &["demo", "--commit", "--fail", "qa"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second = api.wait(2, "release #2 fails in qa", finished("FAILED"));
    assert_eq!(env(&second, "qa")["status"], "FAILED");
    assert_eq!(env(&second, "perf")["status"], "SUCCESSFUL");
    assert_eq!(env(&second, "staging")["status"], "PENDING");

    // Ctrl-C stops it cleanly.
    let pid = demo.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = demo.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
    // Progress: numbered steps, each with its time (stderr is a pipe here).
    progress.join().unwrap();
    let progress = stderr_lines.lock().unwrap().clone();
    let steps: Vec<&String> = progress.iter().filter(|l| l.starts_with('[')).collect();
    assert_eq!(steps.len(), 14, "{progress:#?}");
    assert!(
        steps[8].starts_with("[5/7] breaking checkout in staging (--fail)"),
        "{steps:#?}"
    );
    assert!(
        steps[9].starts_with("[5/7] done in ") && steps[9].ends_with(" s"),
        "{steps:#?}"
    );
    assert!(steps[13].starts_with("[7/7] done in "), "{steps:#?}");
}
