//! Several real `ferry serve` replicas on one real PostgreSQL, for the
//! failover test (`tests/failover.rs`) and the takeover bench
//! (`benches/takeover.rs`): a throw-away cluster, a GitOps repository with
//! 20 products whose promotions run workflows that sleep, replicas as child
//! processes, and an SSE reader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

pub const PRODUCTS: usize = 20;
pub const ENVS: [&str; 3] = ["dev", "qa", "prod"];
pub const TOKEN: &str = "failover-test-admin-token";

pub fn git(dir: &Path, args: &[&str]) -> String {
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

#[test]
fn parses_event_times() {
    let t = parse_utc("2026-11-27T07:58:42.718848085Z").unwrap();
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!(d.as_secs(), 1_795_766_322);
    assert_eq!(d.subsec_nanos(), 718_848_085);
    let t = parse_utc("2000-03-01T00:00:00Z").unwrap();
    assert_eq!(
        t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        951_868_800
    );
    assert_eq!(parse_utc("yesterday"), None);
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throw-away PostgreSQL cluster (Debian's binaries, or `FERRY_PG_BIN`),
/// on a loopback port with trust auth; stopped on drop. As root it runs
/// as `postgres`, since PostgreSQL refuses root.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
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

    pub fn start() -> Postgres {
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

    pub fn url(&self) -> String {
        format!("postgres://ferry@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl <args…>` on this cluster (`restart`, `stop`, `start`), with
    /// the options it was started with; waits for it to finish.
    pub fn pg_ctl(&self, args: &[&str]) {
        let data = self.data.to_str().unwrap().to_owned();
        let base = self.data.parent().unwrap().to_str().unwrap().to_owned();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {base} -c fsync=off",
            self.port
        );
        let log = format!("{base}/postgres.log");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-D", &data, "-l", &log, "-o", &options, "-w"]);
        self.run("pg_ctl", &all);
    }

    /// A fresh database `name` (letters, digits, `_`); its URL.
    pub fn database(&self, name: &str) -> String {
        let status = Command::new(self.bin.join("psql"))
            .args([&self.url(), "-qc", &format!("CREATE DATABASE {name}")])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "CREATE DATABASE {name}");
        format!("postgres://ferry@127.0.0.1:{}/{name}", self.port)
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
pub fn setup(root: &Path) -> (PathBuf, PathBuf) {
    setup_with(root, "1.5")
}

/// Under `root`: an empty bare GitOps remote (`gitops.git`, branch
/// `main`), an empty work repository to seed it from (`seed`) and an
/// empty configuration directory (`config`).
pub fn empty_gitops(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
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
    (remote, seed, config)
}

/// [`setup`] with workflows sleeping `sleep` seconds.
pub fn setup_with(root: &Path, sleep: &str) -> (PathBuf, PathBuf) {
    let (remote, seed, config) = empty_gitops(root);
    let mut docs = String::new();
    for (i, env) in ENVS.iter().enumerate() {
        docs.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {i}, clusters: [{{name: in-cluster, namespaces: ['*-{env}']}}]}}\n"
        ));
    }
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {t: v}}\n  promotion: {values.yaml: {jsonPaths: [$..image]}}\n");
    docs.push_str(&"---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: pause, annotations: {codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      script: {image: alpine, command: [sh], source: 'sleep SLEEP'}\n".replace("SLEEP", sleep));
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
pub fn replica(root: &Path, name: &str, config: &Path, database: &str, port: u16) -> Replica {
    Replica(
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
            .expect("start ferry serve"),
    )
}

/// A replica process, killed when dropped (also when a test fails), so
/// no server outlives its test.
pub struct Replica(pub Child);

impl Replica {
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    /// SIGKILL, and reaped.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    pub fn wait(&mut self) {
        let _ = self.0.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

pub async fn wait_ready(client: &reqwest::Client, base: &str) {
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
pub struct Seen {
    pub seq: u64,
    pub kind: String,
    pub status: String,
    /// When this client received it.
    pub at: Instant,
    /// When it was written (the event's own `at`, set by the replica that
    /// wrote it; same machine, same clock).
    pub written: SystemTime,
    /// When this client's stream was opened (its replay of stored events
    /// was read before that): an event written later reached the client
    /// live.
    pub connected: SystemTime,
}

/// An RFC 3339 UTC time as the events carry it
/// (`2026-11-27T07:58:42.718848085Z`).
pub fn parse_utc(s: &str) -> Option<SystemTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(SystemTime::from)
}

pub fn is_final_release_event(e: &Seen) -> bool {
    e.kind == "release" && matches!(e.status.as_str(), "SUCCEEDED" | "FAILED" | "TERMINATED")
}

/// Reads the release's SSE stream until its final release event.
pub async fn follow(client: reqwest::Client, base: String, id: String) -> Vec<Seen> {
    follow_until(client, base, id, is_final_release_event).await
}

/// Reads the release's SSE stream until an event satisfies `stop`.
pub async fn follow_until(
    client: reqwest::Client,
    base: String,
    id: String,
    stop: impl Fn(&Seen) -> bool,
) -> Vec<Seen> {
    let mut resp = client
        .get(format!("{base}/api/v1/releases/{id}/events"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let connected = SystemTime::now();
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
                written: parse_utc(v["at"].as_str().unwrap_or_default())
                    .unwrap_or_else(|| panic!("event time {:?}", v["at"])),
                connected,
            };
            let done = stop(&e);
            seen.push(e);
            if done {
                return seen;
            }
        }
    }
    panic!("event stream of {id} ended before the release did: {seen:?}");
}
