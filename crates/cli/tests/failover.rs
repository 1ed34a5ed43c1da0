//! Failover (issue 11): two real `ferry serve` replicas on one real
//! PostgreSQL (a throw-away cluster started with `initdb` + `pg_ctl`), 20
//! releases running (created on both replicas), an SSE client per release
//! connected to replica B, then replica A killed with SIGKILL. Afterwards:
//! - every release finished SUCCEEDED, read through B;
//! - every (release, environment, application) has exactly one promotion
//!   commit, found by its trailers in the Git repository;
//! - each SSE client saw its release's whole history: seqs 1…n without a
//!   gap or a repeat, ending with the release's final event, and n equal
//!   to the number of events the store holds;
//! - events written by A reached B's clients live, before A was killed
//!   (PostgreSQL NOTIFY relayed by B), not only after the takeover.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PRODUCTS: usize = 20;
const ENVS: [&str; 3] = ["dev", "qa", "prod"];
const TOKEN: &str = "failover-test-admin-token";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throw-away PostgreSQL cluster (Debian's binaries, or `FERRY_PG_BIN`),
/// on a loopback port with trust auth; stopped on drop. As root it runs
/// as `postgres`, since PostgreSQL refuses root.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Postgres {
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let status = command.args(args).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "{program} {args:?}: {status}");
    }

    fn start() -> Postgres {
        let bin = match std::env::var("FERRY_PG_BIN") {
            Ok(b) => PathBuf::from(b),
            Err(_) => {
                let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .expect("PostgreSQL binaries: install postgresql or set FERRY_PG_BIN")
                    .filter_map(|e| Some(e.ok()?.path().join("bin")))
                    .filter(|p| p.join("initdb").exists())
                    .collect();
                found.sort();
                found.pop().expect("no /usr/lib/postgresql/*/bin/initdb")
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let pg = Postgres {
            bin,
            data: dir.path().join("data"),
            port: free_port(),
            as_postgres,
            _dir: dir,
        };
        let data = pg.data.to_str().unwrap().to_owned();
        let base = pg.data.parent().unwrap().to_str().unwrap().to_owned();
        pg.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "ferry",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {base} -c fsync=off",
            pg.port
        );
        let log = format!("{base}/postgres.log");
        pg.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        );
        pg
    }

    fn url(&self) -> String {
        format!("postgres://ferry@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_owned();
        let exe = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// 20 products with dev → qa → prod; qa's pre-action and prod's
/// post-action sleep, so the releases are still running when A dies.
fn setup(root: &Path) -> (PathBuf, PathBuf) {
    let remote = root.join("gitops.git");
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(
        root,
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
    let config = root.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut docs = String::new();
    for (i, env) in ENVS.iter().enumerate() {
        docs.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {i}, clusters: [{{name: in-cluster, namespaces: ['*-{env}']}}]}}\n"
        ));
    }
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {t: v}}\n  promotion: {values.yaml: {jsonPaths: [$..image]}}\n");
    docs.push_str("---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: pause, annotations: {codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      script: {image: alpine, command: [sh], source: 'sleep 1.5'}\n");
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - {environment: qa, dependsOn: [dev], policy: {preAction: pause}}\n    - {environment: prod, dependsOn: [qa], policy: {postAction: pause}}\n");
    for p in 0..PRODUCTS {
        docs.push_str(&format!("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {{name: p{p}}}\nspec: {{promotionFlows: [{{name: f}}]}}\n"));
        for env in ENVS {
            let d = seed.join(format!("p{p}/{env}"));
            std::fs::create_dir_all(&d).unwrap();
            let tag = if env == "dev" { "v2" } else { "v1" };
            std::fs::write(
                d.join("values.yaml"),
                format!("image:\n  repository: r/p{p}\n  tag: {tag}\n"),
            )
            .unwrap();
            docs.push_str(&format!(
                "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: p{p}-{env}\n  labels: {{t: v}}\n  annotations: {{codefresh.io/product: p{p}}}\nspec:\n  source: {{repoURL: '{}', path: p{p}/{env}, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: p{p}-{env}}}\n",
                remote.display()
            ));
        }
    }
    std::fs::write(config.join("all.yaml"), docs).unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "layout"]);
    git(
        &seed,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    (remote, config)
}

/// A replica: its own data directory (so its own instance id), the shared
/// database.
fn replica(root: &Path, name: &str, config: &Path, database: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("serve")
        .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERRY_CONFIG", config)
        .env("FERRY_DATA_DIR", root.join(name))
        .env("FERRY_DATABASE_URL", database)
        .env("FERRY_ADMIN_TOKEN", TOKEN)
        .env("FERRY_POLL_INTERVAL", "0")
        .env("FERRY_CONFIG_POLL_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry serve")
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "{base} not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One SSE event as received: seq, kind, status, when.
#[derive(Debug, Clone)]
struct Seen {
    seq: u64,
    kind: String,
    status: String,
    at: Instant,
}

fn is_final_release_event(e: &Seen) -> bool {
    e.kind == "release" && matches!(e.status.as_str(), "SUCCEEDED" | "FAILED" | "TERMINATED")
}

/// Reads the release's SSE stream until its final release event.
async fn follow(client: reqwest::Client, base: String, id: String) -> Vec<Seen> {
    let mut resp = client
        .get(format!("{base}/api/v1/releases/{id}/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let mut seen = Vec::new();
    let mut buf = String::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let Some(data) = block
                .lines()
                .find_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
            else {
                continue; // keep-alive comment
            };
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            let e = Seen {
                seq: v["seq"].as_u64().unwrap(),
                kind: v["kind"].as_str().unwrap_or_default().to_owned(),
                status: v["status"].as_str().unwrap_or_default().to_owned(),
                at: Instant::now(),
            };
            let done = is_final_release_event(&e);
            seen.push(e);
            if done {
                return seen;
            }
        }
    }
    panic!("event stream of {id} ended before the release did: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_s_releases_finish_on_the_other_with_one_commit_each() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (remote, config) = setup(dir.path());
    let (port_a, port_b) = (free_port(), free_port());
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let client = reqwest::Client::new();
    let mut a = replica(dir.path(), "a", &config, &pg.url(), port_a);
    wait_ready(&client, &base_a).await;
    let mut b = replica(dir.path(), "b", &config, &pg.url(), port_b);
    wait_ready(&client, &base_b).await;

    // Releases created on both replicas: each creator drives its own.
    let mut ids = Vec::new();
    for p in 0..PRODUCTS {
        let base = if p % 2 == 0 { &base_a } else { &base_b };
        let resp = client
            .post(format!("{base}/api/v1/products/p{p}/promotions"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"flow": "f"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let r: serde_json::Value = resp.json().await.unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let connected = Instant::now();
    let followers: Vec<_> = ids
        .iter()
        .map(|id| tokio::spawn(follow(client.clone(), base_b.clone(), id.clone())))
        .collect();

    // Let A write a while (its events reach B's clients live), then kill
    // it mid-flight.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let killed_at = Instant::now();
    a.kill().unwrap();
    a.wait().unwrap();

    let mut histories = Vec::new();
    for (id, f) in ids.iter().zip(followers) {
        let seen = tokio::time::timeout(Duration::from_secs(240), f)
            .await
            .unwrap_or_else(|_| panic!("release {id}: no final event on replica B"))
            .unwrap();
        histories.push(seen);
    }
    let finished_at = Instant::now();

    let mut live_from_a = 0;
    let mut unfinished_at_kill = 0;
    for (p, (id, seen)) in ids.iter().zip(&histories).enumerate() {
        let r: serde_json::Value = client
            .get(format!("{base_b}/api/v1/releases/{id}"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(r["status"], "SUCCEEDED", "{r:#}");
        assert!(!r["finishedAt"].is_null());
        // Gapless, no repeats, ending with the final event.
        let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
        let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
        assert_eq!(seqs, expected, "release {id}: SSE seqs");
        assert_eq!(seen.last().unwrap().status, "SUCCEEDED");
        // As many as the store holds: a fresh replay has the same length.
        let replay = follow(client.clone(), base_b.clone(), id.clone()).await;
        assert_eq!(replay.len(), seen.len(), "release {id}: stored vs seen");
        if p % 2 == 0 {
            // Driven by A: events that arrived after connecting and before
            // the kill came through NOTIFY.
            live_from_a += seen
                .iter()
                .filter(|e| e.at > connected + Duration::from_millis(50) && e.at < killed_at)
                .count();
            if seen
                .iter()
                .any(|e| is_final_release_event(e) && e.at > killed_at)
            {
                unfinished_at_kill += 1;
            }
        }
    }
    println!(
        "A's releases unfinished at the kill: {unfinished_at_kill}; events relayed live from A: {live_from_a}; all finished {:.1} s after the kill",
        (finished_at - killed_at).as_secs_f64()
    );
    assert!(
        unfinished_at_kill > 0,
        "every release of A finished before the kill: the test proved nothing"
    );
    assert!(
        live_from_a > 0,
        "no event written by A reached B's clients live"
    );

    b.kill().unwrap();
    b.wait().unwrap();
    let log = git(&remote, &["log", "--format=%B%x00", "main"]);
    let messages: Vec<&str> = log
        .split('\0')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    for (p, id) in ids.iter().enumerate() {
        for env in ["qa", "prod"] {
            let n = messages
                .iter()
                .filter(|m| {
                    m.contains(&format!("Ferry-Release: {id}"))
                        && m.contains(&format!("Ferry-Environment: {env}"))
                        && m.contains(&format!("Ferry-Application: p{p}-{env}"))
                })
                .count();
            assert_eq!(n, 1, "release {id} (p{p}) has {n} commits for {env}");
        }
    }
}
