//! Storage faults under a real `ferry serve` (issue 23). Releases are in
//! flight (workflows sleeping, promotion commits being pushed) while
//! - (a) PostgreSQL restarts (`pg_ctl restart -m fast`);
//! - (b) PostgreSQL is stopped for 10 s;
//! - (c) the SQLite file cannot be written for 10 s: every `pwrite64` of
//!   the ferry process on the database and its WAL fails with EROFS, as on
//!   a file system remounted read-only (strace's fault injection; a real
//!   read-only remount is refused while ferry holds the files open);
//! - (d) the data directory's file system (a small tmpfs, or a loop-mounted
//!   ext4 image where tmpfs is refused) is full for 10 s.
//!
//! Each run, without restarting ferry: every release reaches a terminal
//! status (SUCCEEDED: nothing in these faults is the release's fault), no
//! (release, environment, application) has two promotion commits (by their
//! trailers), every release's history is gapless (seqs 1…n, read from the
//! live stream), a new promotion asked for during the fault is answered
//! within 2 s — 503 with `Retry-After` while the storage is down (after a
//! restart it may be created) — and `/readyz` is 503 during the fault and
//! 200 after it.
//!
//! Mounting and strace need root (CI runs as root): where the environment
//! cannot do it, the test fails saying so instead of passing untested.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::replicas::{Postgres, TOKEN, follow, free_port, git, setup_with, wait_ready};

/// Releases in flight when the fault starts (products p0…); one product
/// more is promoted during the fault.
const IN_FLIGHT: usize = 6;
const FAULT: Duration = Duration::from_secs(10);

/// `ferry serve` with its data directory `data`, on `database` (default:
/// SQLite in the data directory); stderr kept in `log`.
fn serve(data: &Path, config: &Path, database: Option<&str>, port: u16, log: &Path) -> Ferry {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ferry"));
    c.arg("serve")
        .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERRY_CONFIG", config)
        .env("FERRY_DATA_DIR", data)
        .env("FERRY_ADMIN_TOKEN", TOKEN)
        .env("FERRY_POLL_INTERVAL", "0")
        .env("FERRY_CONFIG_POLL_INTERVAL", "0")
        .env("FERRY_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(db) = database {
        c.env("FERRY_DATABASE_URL", db);
    }
    Ferry(c.spawn().expect("start ferry serve"))
}

/// The ferry process, killed when dropped (also when the test fails, so
/// that the file system under it can be unmounted).
struct Ferry(Child);

impl Drop for Ferry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A file system mounted on a fresh directory for the data directory: a
/// tmpfs, or a loop-mounted ext4 image where tmpfs is refused. Unmounted
/// on drop.
struct Mounted {
    dir: tempfile::TempDir,
    image: Option<PathBuf>,
}

impl Mounted {
    fn new(size_mb: u32) -> Mounted {
        let dir = tempfile::tempdir().unwrap();
        let tmpfs = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        if tmpfs.status.success() {
            return Mounted { dir, image: None };
        }
        let image = std::env::temp_dir().join(format!("ferry-faults-{}.img", std::process::id()));
        let ok = Command::new("truncate")
            .args(["-s", &format!("{size_mb}M")])
            .arg(&image)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("mkfs.ext4")
                .args(["-q", "-F", "-m", "0"])
                .arg(&image)
                .status()
                .is_ok_and(|s| s.success());
        let loop_mount = ok
            .then(|| {
                Command::new("mount")
                    .args(["-o", "loop"])
                    .arg(&image)
                    .arg(dir.path())
                    .output()
                    .expect("run mount")
            })
            .filter(|o| o.status.success());
        assert!(
            loop_mount.is_some(),
            "the disk-full fault needs a small file system of its own: mounting a tmpfs \
             failed ({}) and so did a loop-mounted ext4 image; run as root (CI does)",
            String::from_utf8_lossy(&tmpfs.stderr).trim()
        );
        Mounted {
            dir,
            image: Some(image),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
        if let Some(image) = &self.image {
            let _ = std::fs::remove_file(image);
        }
    }
}

/// Fills the file system of `dir` to its last byte; the filler's path.
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 256 * 1024];
    for size in [block.len(), 4096, 1] {
        loop {
            match f.write(&block[..size]) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
    }
    let _ = f.sync_all();
    path
}

/// What one fault did to one run.
enum Fault<'a> {
    PgRestart(&'a Postgres),
    PgStop(&'a Postgres),
    SqliteUnwritable { db: PathBuf },
    DiskFull { data: &'a Path },
}

/// A fault in progress, ended by [`Ongoing::end`].
enum Ongoing<'a> {
    Nothing,
    PgStopped(&'a Postgres),
    Strace(Child),
    Filler(PathBuf),
}

impl Fault<'_> {
    fn name(&self) -> &'static str {
        match self {
            Fault::PgRestart(_) => "PostgreSQL restart",
            Fault::PgStop(_) => "PostgreSQL stopped 10 s",
            Fault::SqliteUnwritable { .. } => "SQLite file unwritable 10 s",
            Fault::DiskFull { .. } => "data directory full 10 s",
        }
    }

    /// Whether the storage is still unwritable a second after the fault
    /// began (a restart is over by then).
    fn lasts(&self) -> bool {
        !matches!(self, Fault::PgRestart(_))
    }

    fn begin(&self, ferry: u32) -> Ongoing<'_> {
        match self {
            Fault::PgRestart(pg) => {
                pg.pg_ctl(&["restart", "-m", "fast"]);
                Ongoing::Nothing
            }
            Fault::PgStop(pg) => {
                pg.pg_ctl(&["stop", "-m", "fast"]);
                Ongoing::PgStopped(pg)
            }
            Fault::SqliteUnwritable { db } => {
                let wal = format!("{}-wal", db.display());
                let child = Command::new("strace")
                    .args(["-f", "-qq", "-o", "/dev/null", "-p", &ferry.to_string()])
                    .args(["-e", "trace=pwrite64,pwritev,write"])
                    .args(["-e", "inject=pwrite64,pwritev,write:error=EROFS"])
                    .args(["-P", db.to_str().unwrap(), "-P", &wal])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect(
                        "the unwritable-file fault needs strace (apt-get install strace) \
                         and ptrace rights over ferry (root, as CI)",
                    );
                // strace needs a moment to attach to every thread.
                std::thread::sleep(Duration::from_millis(300));
                Ongoing::Strace(child)
            }
            Fault::DiskFull { data } => Ongoing::Filler(fill(data)),
        }
    }
}

impl Ongoing<'_> {
    fn end(self) {
        match self {
            Ongoing::Nothing => {}
            Ongoing::PgStopped(pg) => pg.pg_ctl(&["start"]),
            Ongoing::Strace(mut child) => {
                // SIGINT: strace detaches from every thread and exits; the
                // traced process goes on.
                let _ = Command::new("kill")
                    .args(["-INT", &child.id().to_string()])
                    .status();
                let _ = child.wait();
            }
            Ongoing::Filler(path) => std::fs::remove_file(path).unwrap(),
        }
    }
}

/// A promotion asked for during the fault: its answer and how long it took.
struct Asked {
    status: u16,
    retry_after: Option<String>,
    took: Duration,
    id: Option<String>,
}

async fn promote(client: &reqwest::Client, base: &str, product: &str) -> Asked {
    let t = Instant::now();
    let resp = client
        .post(format!("{base}/api/v1/products/{product}/promotions"))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"flow": "f"}))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let took = t.elapsed();
    let status = resp.status().as_u16();
    let retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: serde_json::Value = resp.json().await.unwrap_or_default();
    Asked {
        status,
        retry_after,
        took,
        id: body["id"].as_str().map(str::to_owned),
    }
}

/// Runs one fault against releases in flight on `ferry` and checks every
/// promise; prints what it measured.
async fn run(fault: Fault<'_>, root: &Path, data: &Path, database: Option<&str>) {
    let name = fault.name();
    let (remote, config) = setup_with(root, "1");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = root.join("ferry.log");
    let mut ferry = serve(data, &config, database, port, &log);
    let client = reqwest::Client::new();
    wait_ready(&client, &base).await;

    let mut ids = Vec::new();
    for p in 0..IN_FLIGHT {
        let asked = promote(&client, &base, &format!("p{p}")).await;
        assert_eq!(asked.status, 201, "{name}: promotion before the fault");
        ids.push((p, asked.id.unwrap()));
    }
    // In flight: qa's pre-action sleeps 1 s, then commits, then prod.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let began = Instant::now();
    let ongoing = fault.begin(ferry.0.id());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = promote(&client, &base, &format!("p{IN_FLIGHT}")).await;
    let ready_during = client
        .get(format!("{base}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    if let Some(id) = &during.id {
        ids.push((IN_FLIGHT, id.clone()));
    }
    if !matches!(ongoing, Ongoing::Nothing) {
        let left = FAULT.saturating_sub(began.elapsed());
        tokio::time::sleep(left).await;
    }
    ongoing.end();
    let cleared = Instant::now();

    // Every release ends, on the same ferry process.
    let mut last_end = Duration::ZERO;
    let mut statuses = Vec::new();
    for (_, id) in &ids {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let r: serde_json::Value = match client
                .get(format!("{base}/api/v1/releases/{id}"))
                .bearer_auth(TOKEN)
                .send()
                .await
            {
                Ok(resp) => resp.json().await.unwrap_or_default(),
                Err(_) => serde_json::Value::Null,
            };
            if !r["finishedAt"].is_null() {
                statuses.push(r["status"].as_str().unwrap_or_default().to_owned());
                assert_eq!(
                    r["status"],
                    "SUCCEEDED",
                    "{name}: release {id} ended {}; ferry's log: {}",
                    r["status"],
                    tail(&log)
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: release {id} did not finish: {r:#}\nferry's log: {}",
                tail(&log)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last_end = last_end.max(cleared.elapsed());
    }
    assert!(
        ferry.0.try_wait().unwrap().is_none(),
        "{name}: ferry exited; its log: {}",
        tail(&log)
    );

    // Gapless histories, as a client of the live stream reads them.
    for (_, id) in &ids {
        let seen = follow(client.clone(), base.clone(), id.clone()).await;
        let seqs: Vec<u64> = seen.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            (1..=seqs.len() as u64).collect::<Vec<_>>(),
            "{name}: release {id}"
        );
    }

    // One promotion commit per (release, environment, application).
    let log_text = git(&remote, &["log", "--format=%B%x00", "main"]);
    let messages: Vec<&str> = log_text
        .split('\0')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    for (p, id) in &ids {
        for env in ["qa", "prod"] {
            let n = messages
                .iter()
                .filter(|m| {
                    m.contains(&format!("Ferry-Release: {id}"))
                        && m.contains(&format!("Ferry-Environment: {env}"))
                        && m.contains(&format!("Ferry-Application: p{p}-{env}"))
                })
                .count();
            assert_eq!(n, 1, "{name}: release {id} has {n} commits for {env}");
        }
    }

    println!(
        "{name}: {} releases SUCCEEDED, the last {:.1} s after the fault cleared; \
         promotion during the fault: {} in {} ms (Retry-After {:?}); /readyz during it {}",
        statuses.len(),
        last_end.as_secs_f64(),
        during.status,
        during.took.as_millis(),
        during.retry_after,
        ready_during
    );
    assert!(
        during.took <= Duration::from_secs(2),
        "{name}: the promotion during the fault took {:?}",
        during.took
    );
    if fault.lasts() {
        assert!(
            during.status == 503 && during.retry_after.is_some(),
            "{name}: the promotion during the fault got {} (Retry-After {:?})",
            during.status,
            during.retry_after
        );
        assert_eq!(ready_during, 503, "{name}: /readyz during the fault");
    } else {
        assert!(
            during.status == 201 || (during.status == 503 && during.retry_after.is_some()),
            "{name}: the promotion after the restart got {}",
            during.status
        );
    }
    let ready_after = client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    assert_eq!(ready_after, 200, "{name}: /readyz after the fault");
    drop(ferry);
}

/// The end of ferry's log, for failure messages.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_and_outage() {
    let pg = Postgres::start();
    for (i, fault) in [Fault::PgRestart(&pg), Fault::PgStop(&pg)]
        .into_iter()
        .enumerate()
    {
        let dir = tempfile::tempdir().unwrap();
        let db = pg.database(&format!("faults_{i}"));
        run(fault, dir.path(), &dir.path().join("data"), Some(&db)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_unwritable() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let fault = Fault::SqliteUnwritable {
        db: data.join("ferry.db"),
    };
    run(fault, dir.path(), &data, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_directory_full() {
    let dir = tempfile::tempdir().unwrap();
    let fs = Mounted::new(64);
    let fault = Fault::DiskFull { data: fs.path() };
    run(fault, dir.path(), fs.path(), None).await;
}
