//! HTTP API benchmark (issue 5, "Numbers", second bullet): the real
//! `ferry serve` binary on a data directory with 100,000 stored releases.
//!
//! Measured in one run:
//! - time from spawn until `/readyz` answers 200, against the named
//!   baseline "empty data directory" (same binary, same configuration,
//!   no releases), so the ratio is what 100,000 stored releases cost;
//! - `wrk` against `GET /api/v1/releases/{id}` (random ids from a Lua
//!   script) and `GET /api/v1/products/{p}/releases` (first page, random
//!   product), against the named baseline `GET /healthz` on the same
//!   server (the HTTP floor: routing, auth extractor-free, no store);
//! - RSS (`VmRSS`, `VmHWM` from `/proc/<pid>/status`) after the load.
//!
//! - `wrk` against `GET /api/v1/releases?status=SUCCEEDED,FAILED` (the
//!   list of every product filtered by two statuses: issue 24's index
//!   walk per status);
//!
//! Releases are inserted through `ferry_store::Store` directly (the same
//! realistic document as the store benchmark, made terminal so the engine
//! has nothing to resume); beyond 20,000 the rest are copies of those made
//! inside SQLite (`replicate`, issue 24: a million releases in minutes).
//! The HTTP server is the release binary, so the numbers include
//! everything a user would see. Issue 24's run:
//! `FERRY_API_BENCH_RELEASES=1000000 FERRY_API_BENCH_CONNECTIONS=32` (and
//! `=10000` for the other end of "flat"); the copies need the `sqlite3`
//! command (Debian: `apt-get install -y sqlite3`).
//!
//! Run:
//! ```text
//! cargo build --release -p ferry-cli
//! FERRY_API_BENCH_CACHE=/tmp/ferry-api-bench cargo bench -p ferry-server --bench api
//! ```
//! Environment: `FERRY_API_BENCH_CACHE` (keep and reuse the data
//! directory), `FERRY_API_BENCH_RELEASES` (default 100000),
//! `FERRY_API_BENCH_DURATION` (wrk `-d`, default `10s`),
//! `FERRY_API_BENCH_CONNECTIONS` (wrk `-c`, default 16), `FERRY_BIN`
//! (default: `ferry` next to this bench's profile directory),
//! `FERRY_API_BENCH_APPEND=1` (append the summary to `BENCHMARKS.md`).
//! Needs `wrk` on the PATH (Debian: `apt-get install -y wrk`).
//!
//! With `FERRY_API_BENCH_POSTGRES=1` (issue 11) the same data set is also
//! stored in a throw-away PostgreSQL cluster (`initdb` + `pg_ctl` on a
//! loopback port, as `scripts/test` does) and the same wrk measurements
//! run against `ferry serve --database-url postgres://…`, reported beside
//! the SQLite numbers of the same run with their ratio (goal: ≥ 1,500
//! req/s, p99 ≤ 30 ms). `FERRY_API_BENCH_POSTGRES=postgres://…` uses that
//! server instead (a database `ferry_api_bench` is created on it).

#[path = "../../store/tests/common/mod.rs"]
mod common;
#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_release::{EnvironmentStatus, ReleaseKind, ReleaseStatus, StepStatus};
use ferry_store::{Created, Store};

const PRODUCTS: usize = 10;
const ENVIRONMENTS: [&str; 4] = common::ENVIRONMENTS;
const TOKEN: &str = "api-bench-admin-token-0123456789";
/// Ids the Lua script picks from (random, so SQLite's cache is not a
/// single hot page).
const SCRIPT_IDS: usize = 10_000;
const WRK_ARGS: [&str; 4] = ["-t2", "--latency", "--timeout", "5s"];

/// wrk's connections: `FERRY_API_BENCH_CONNECTIONS`, default 16 (issue
/// 24's goals are at 32).
fn connections() -> String {
    format!("-c{}", env_or("FERRY_API_BENCH_CONNECTIONS", 16usize))
}

fn main() {
    let n: usize = env_or("FERRY_API_BENCH_RELEASES", 100_000);
    let duration = std::env::var("FERRY_API_BENCH_DURATION").unwrap_or_else(|_| "10s".into());
    let ferry = ferry_binary();
    assert!(
        Command::new("wrk").arg("-v").output().is_ok(),
        "wrk not found on PATH (Debian: apt-get install -y wrk)"
    );

    let _temp;
    let root = match std::env::var_os("FERRY_API_BENCH_CACHE") {
        Some(p) => PathBuf::from(p),
        None => {
            _temp = tempfile::tempdir().expect("temp dir");
            _temp.path().to_path_buf()
        }
    };
    let config = root.join("config");
    let data = root.join(format!("data-{n}"));
    let empty = root.join("data-empty");
    write_config(&config);
    let (ids, insert) = dataset(&data, n);
    let _ = std::fs::remove_dir_all(&empty);

    // Baseline: ready time with no releases stored.
    let base_server = Served::start(&ferry, &config, &empty, None);
    let ready_empty = base_server.ready;
    drop(base_server);

    let server = Served::start(&ferry, &config, &data, None);
    let ready_full = server.ready;
    let rss_ready = server.memory();
    sanity_checks(&server, &ids);

    let scripts = root.join("wrk");
    std::fs::create_dir_all(&scripts).expect("wrk script dir");
    let by_id = scripts.join("release_by_id.lua");
    // Whole documents only (see `TRIM_ABOVE`): the releases stored
    // through `Store` come first.
    std::fs::write(&by_id, release_script(&ids[..n.min(SEED_MAX)])).expect("write lua");
    let by_product = scripts.join("product_list.lua");
    std::fs::write(&by_product, product_script()).expect("write lua");

    let url = server.url("");
    // Warm-up: page cache and connection pools, not measured.
    wrk(&url, "2s", None, "/healthz");
    wrk(&url, "2s", Some(&by_id), "/");
    let floor = wrk(&url, &duration, None, "/healthz");
    let get = wrk(&url, &duration, Some(&by_id), "/");
    let list = wrk(&url, &duration, Some(&by_product), "/");
    let by_status = wrk(&url, &duration, None, STATUS_LIST);
    let rss_after = server.memory();
    drop(server);

    let mut out = String::new();
    let now = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let uptime = Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let _ = writeln!(out, "## ferry-server HTTP API ({now})\n");
    let _ = writeln!(
        out,
        "`ferry serve` (release build, SQLite, anonymous read, pollers off) with {n} releases stored \
         ({PRODUCTS} products; the store benchmark's document: 4 environments × 3 applications × 4 steps, \
         snapshot; all terminal). Machine: {cores} cores shared with other engineers' builds; \
         `uptime` at the end: `{uptime}`.\n"
    );
    let _ = writeln!(
        out,
        "Command: `cargo build --release -p ferry-cli && FERRY_API_BENCH_CACHE=/tmp/ferry-api-bench \
         cargo bench -p ferry-server --bench api` (wrk {} {} -d{duration}; wrk runs on the same 2 cores).\n",
        WRK_ARGS.join(" "),
        connections()
    );
    match insert {
        Some(d) => {
            let _ = writeln!(
                out,
                "Data set built in {:.1} s ({} releases through `Store::create_release`, the rest \
                 copied inside SQLite); database file {:.0} MB.\n",
                d.as_secs_f64(),
                n.min(SEED_MAX),
                file_mb(&data.join("ferry.db"))
            );
        }
        None => {
            let _ = writeln!(
                out,
                "Data set reused from the cache directory; database file {:.0} MB.\n",
                file_mb(&data.join("ferry.db"))
            );
        }
    }
    let _ = writeln!(
        out,
        "| measurement | result | goal | baseline | ratio |\n|---|---|---|---|---|"
    );
    let _ = writeln!(
        out,
        "| spawn → `/readyz` 200 | {:.0} ms | ≤ 500 ms | {:.0} ms (empty data dir) | {:.2} |",
        ms(ready_full),
        ms(ready_empty),
        ready_full.as_secs_f64() / ready_empty.as_secs_f64()
    );
    for (name, r, goal) in [
        (
            "`GET /api/v1/releases/{id}` (random of 10,000 ids)",
            &get,
            "≥ 2,000 req/s, p99 ≤ 25 ms",
        ),
        (
            "`GET /api/v1/products/{p}/releases` (first page, 50)",
            &list,
            "≥ 2,000 req/s, p99 ≤ 25 ms; issue 24: ≥ 3,000 req/s, p99 ≤ 15 ms at 32 connections",
        ),
        (
            "`GET /api/v1/releases?status=SUCCEEDED,FAILED` (first page, 50)",
            &by_status,
            "",
        ),
    ] {
        let _ = writeln!(
            out,
            "| {name} | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | {goal} | `/healthz` {:.0} req/s, p99 {:.2} ms | {:.2} (req/s) |",
            r.rps,
            r.p50_ms,
            r.p99_ms,
            floor.rps,
            floor.p99_ms,
            r.rps / floor.rps
        );
    }
    let _ = writeln!(
        out,
        "| RSS after ready | VmRSS {:.1} MB | | | |",
        rss_ready.rss_mb
    );
    let _ = writeln!(
        out,
        "| RSS after the load | VmRSS {:.1} MB, VmHWM {:.1} MB | ≤ 150 MB | after ready: {:.1} MB | {:.2} |",
        rss_after.rss_mb,
        rss_after.hwm_mb,
        rss_ready.rss_mb,
        rss_after.hwm_mb / rss_ready.rss_mb
    );
    let goals = [
        ("ready ≤ 500 ms", ms(ready_full) <= 500.0),
        ("release by id ≥ 2,000 req/s", get.rps >= 2000.0),
        ("release by id p99 ≤ 25 ms", get.p99_ms <= 25.0),
        ("product list ≥ 2,000 req/s", list.rps >= 2000.0),
        ("product list p99 ≤ 25 ms", list.p99_ms <= 25.0),
        ("RSS ≤ 150 MB", rss_after.hwm_mb <= 150.0),
    ];
    let missed: Vec<&str> = goals.iter().filter(|g| !g.1).map(|g| g.0).collect();
    let _ = writeln!(
        out,
        "\nGoals: {}\n",
        if missed.is_empty() {
            "all met.".to_string()
        } else {
            format!("missed: {}.", missed.join(", "))
        }
    );
    if let Ok(pg) = std::env::var("FERRY_API_BENCH_POSTGRES")
        && !pg.is_empty()
        && pg != "0"
    {
        let sqlite = [("release by id", &get), ("product list", &list)];
        postgres_phase(
            &mut out, &pg, &ferry, &config, &root, n, &duration, &floor, sqlite,
        );
    }
    print!("{out}");
    if std::env::var("FERRY_API_BENCH_APPEND").is_ok_and(|v| v == "1") {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../BENCHMARKS.md");
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open BENCHMARKS.md");
        write!(f, "\n{out}").expect("append BENCHMARKS.md");
        eprintln!("appended to {}", path.display());
    }
}

/// Issue 11: the same data set and wrk runs on PostgreSQL, appended to
/// `out` as a table beside the SQLite results of this run.
#[allow(clippy::too_many_arguments)]
fn postgres_phase(
    out: &mut String,
    setting: &str,
    ferry: &Path,
    config: &Path,
    root: &Path,
    n: usize,
    duration: &str,
    sqlite_floor: &WrkResult,
    sqlite: [(&str, &WrkResult); 2],
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let _cluster;
    let url = if setting.starts_with("postgres") {
        let url = format!("{}/ferry_api_bench", setting.trim_end_matches('/'));
        runtime.block_on(recreate_database(&url));
        url
    } else {
        let cluster = pg_cluster::Cluster::start();
        let url = runtime.block_on(cluster.database("ferry_api_bench"));
        _cluster = cluster;
        url
    };
    eprintln!("inserting {n} releases into PostgreSQL");
    let start = Instant::now();
    let ids = runtime.block_on(insert_postgres(&url, n));
    let insert = start.elapsed();
    drop(runtime);

    let data = root.join("data-postgres");
    let _ = std::fs::remove_dir_all(&data);
    let server = Served::start(ferry, config, &data, Some(&url));
    let ready = server.ready;
    sanity_checks(&server, &ids);
    let scripts = root.join("wrk");
    let by_id = scripts.join("release_by_id_pg.lua");
    std::fs::write(&by_id, release_script(&ids)).expect("write lua");
    let by_product = scripts.join("product_list.lua");
    let url_http = server.url("");
    wrk(&url_http, "2s", None, "/healthz");
    wrk(&url_http, "2s", Some(&by_id), "/");
    let floor = wrk(&url_http, duration, None, "/healthz");
    let get = wrk(&url_http, duration, Some(&by_id), "/");
    let list = wrk(&url_http, duration, Some(&by_product), "/");
    let rss = server.memory();
    drop(server);

    let _ = writeln!(
        out,
        "### The same on PostgreSQL (issue 11)\n\n\
         PostgreSQL 15, throw-away cluster on loopback (`fsync=off`); the same {n} releases \
         stored with 10 concurrent writers (one per product) in {:.1} s ({:.0} releases/s); \
         `ferry serve --database-url postgres://…` (pool of 16), ready in {:.0} ms; \
         RSS after the load {:.1} MB. Baseline: the SQLite server above, same run.\n",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64(),
        ms(ready),
        rss.hwm_mb
    );
    let _ = writeln!(
        out,
        "| measurement | PostgreSQL | SQLite (same run) | ratio PG / SQLite (req/s) | goal |\n|---|---|---|---|---|"
    );
    let mut missed = Vec::new();
    for ((name, sq), pg) in sqlite.iter().zip([&get, &list]) {
        let _ = writeln!(
            out,
            "| {name} | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms | {:.2} | ≥ 1,500 req/s, p99 ≤ 30 ms |",
            pg.rps,
            pg.p50_ms,
            pg.p99_ms,
            sq.rps,
            sq.p50_ms,
            sq.p99_ms,
            pg.rps / sq.rps
        );
        if pg.rps < 1500.0 || pg.p99_ms > 30.0 {
            missed.push(*name);
        }
    }
    let _ = writeln!(
        out,
        "| `/healthz` (HTTP floor) | {:.0} req/s, p99 {:.2} ms | {:.0} req/s, p99 {:.2} ms | {:.2} | |",
        floor.rps,
        floor.p99_ms,
        sqlite_floor.rps,
        sqlite_floor.p99_ms,
        floor.rps / sqlite_floor.rps
    );
    let _ = writeln!(
        out,
        "\nPostgreSQL goals: {}\n",
        if missed.is_empty() {
            "all met.".to_string()
        } else {
            format!("missed: {}.", missed.join(", "))
        }
    );
}

/// Drops and creates the database of `url` on a server the caller named.
async fn recreate_database(url: &str) {
    use sqlx::Connection;
    let (server, name) = url.rsplit_once('/').expect("database in the URL");
    let mut admin = sqlx::PgConnection::connect(&format!("{server}/postgres"))
        .await
        .expect("connect to FERRY_API_BENCH_POSTGRES");
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::query(&sql)
            .execute(&mut admin)
            .await
            .expect("recreate the bench database");
    }
}

/// The data set of [`dataset`] in PostgreSQL: one writer per product (a
/// product's numbers are assigned one after another), products in
/// parallel.
async fn insert_postgres(url: &str, n: usize) -> Vec<String> {
    let store = Store::open(url).await.expect("open PostgreSQL store");
    let template = finished(common::release("p0"));
    let mut writers = Vec::new();
    for p in 0..PRODUCTS {
        let (store, template) = (store.clone(), template.clone());
        writers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in (p..n).step_by(PRODUCTS) {
                let mut r = template.clone();
                r.id = ferry_release::new_release_id();
                r.product = format!("p{p}");
                let Created::New(r, _) = store
                    .create_release(r, Some(&format!("trigger-{i}")), common::first_events())
                    .await
                    .expect("create release")
                else {
                    panic!("unique trigger keys")
                };
                ids.push(r.id);
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(n);
    for w in writers {
        ids.extend(w.await.expect("writer"));
    }
    store.close().await;
    ids
}

/// The size of a file in MB (0 when it cannot be read).
fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1e6)
}

/// Milliseconds, for the table.
fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `FERRY_BIN`, or `ferry` in the profile directory this bench was built
/// into (`<target>/release/deps/api-*` → `<target>/release/ferry`).
fn ferry_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FERRY_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current exe");
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("ferry"))
        .expect("bench binary lives in <target>/<profile>/deps");
    assert!(
        candidate.is_file(),
        "{} missing: run `cargo build --release -p ferry-cli` first (or set FERRY_BIN)",
        candidate.display()
    );
    candidate
}

/// A minimal valid configuration: environments dev/qa/staging/prod, and
/// per product `p<i>` one application per environment and the flow
/// `main` the stored releases froze.
fn write_config(dir: &Path) {
    std::fs::create_dir_all(dir).expect("config dir");
    let mut envs = String::new();
    for (i, env) in ENVIRONMENTS.iter().enumerate() {
        let kind = if *env == "prod" { "PROD" } else { "NON_PROD" };
        let _ = write!(
            envs,
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: {env}\nspec:\n  kind: {kind}\n  order: {}\n  clusters:\n    - name: in-cluster\n      namespaces: [{env}]\n",
            (i + 1) * 10
        );
    }
    std::fs::write(dir.join("environments.yaml"), envs).expect("write config");
    let mut apps = String::new();
    let mut products = String::new();
    for p in 0..PRODUCTS {
        for env in ENVIRONMENTS {
            let _ = write!(
                apps,
                "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: p{p}-api-{env}\n  namespace: argocd\n  annotations:\n    codefresh.io/product: p{p}\nspec:\n  project: default\n  source:\n    repoURL: https://git.example/org/gitops.git\n    targetRevision: main\n    path: p{p}/envs/{env}\n  destination:\n    name: in-cluster\n    namespace: {env}\n"
            );
        }
        let _ = write!(
            products,
            "---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata:\n  name: p{p}\nspec:\n  promotionTemplate:\n    promotion:\n      values.yaml:\n        jsonPaths: [\"$..image\"]\n  promotionFlows:\n    - name: main\n"
        );
    }
    std::fs::write(dir.join("applications.yaml"), apps).expect("write config");
    products.push_str(
        "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: main\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [dev]\n    - environment: staging\n      dependsOn: [qa]\n    - environment: prod\n      dependsOn: [staging]\n",
    );
    std::fs::write(dir.join("products.yaml"), products).expect("write config");
}

/// The data directory with `n` releases, and their ids; reused when a
/// previous run completed it (marked by `ids.txt`, written last).
fn dataset(data: &Path, n: usize) -> (Vec<String>, Option<Duration>) {
    let ids_file = data.join("ids.txt");
    if let Ok(text) = std::fs::read_to_string(&ids_file) {
        let ids: Vec<String> = text.lines().map(str::to_string).collect();
        if ids.len() == n {
            eprintln!("reusing {} ({n} releases)", data.display());
            return (ids, None);
        }
    }
    let _ = std::fs::remove_dir_all(data);
    std::fs::create_dir_all(data).expect("data dir");
    // Beyond `SEED_MAX` releases, `SEED_MAX` go through the store and the
    // rest are copies made inside SQLite in one transaction (`replicate`):
    // a million releases one transaction each would take the better part
    // of an hour on this machine (issue 24: "seed the store directly").
    let seeded = n.min(SEED_MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = format!("sqlite://{}?mode=rwc", data.join("ferry.db").display());
    eprintln!("inserting {n} releases into {}", data.display());
    let start = Instant::now();
    let ids = runtime.block_on(async {
        let store = Store::open(&url).await.expect("open store");
        let template = finished(common::release("p0"));
        let mut ids = Vec::with_capacity(n);
        for i in 0..seeded {
            let mut r = template.clone();
            r.id = ferry_release::new_release_id();
            r.product = format!("p{}", i % PRODUCTS);
            let Created::New(r, _) = store
                .create_release(r, Some(&format!("trigger-{i}")), common::first_events())
                .await
                .expect("create release")
            else {
                panic!("unique trigger keys")
            };
            ids.push(r.id);
        }
        store.close().await;
        ids
    });
    let mut ids = ids;
    if n > seeded {
        ids.extend(replicate(&data.join("ferry.db"), seeded, n));
    }
    let took = start.elapsed();
    std::fs::write(&ids_file, ids.join("\n")).expect("write ids");
    (ids, Some(took))
}

/// Releases stored through `Store` before the rest are copied (see
/// `replicate`).
const SEED_MAX: usize = 20_000;

/// Above this many releases the copies' documents keep their
/// environments without their applications (≈ 2.5 kB instead of 15.6 kB):
/// a million whole documents need ≈ 17 GB, more disk than this shared
/// machine has free. Lists, status filters and start-up read no document;
/// release-by-id is measured on the releases stored through `Store`
/// (whole documents) only.
const TRIM_ABOVE: usize = 100_000;

/// Copies the `seeded` releases stored so far inside SQLite until there
/// are `n` (issue 24: a million releases "seeded directly in the store"):
/// rows of `releases`, `release_documents` and `release_events`, each copy
/// with its own id (the ULID's last six characters replaced by a serial
/// number, so ids stay valid, unique and near their original's in time)
/// and the next numbers of its product; `release_numbers` follows. The
/// documents and events get the new id and number by text replacement
/// (a document begins `{"id":"…","number":N,` as serde_json writes the
/// record; `sanity_checks` reads a copy back through the API). Uses the `sqlite3` command (Debian:
/// `apt-get install -y sqlite3`).
fn replicate(db: &Path, seeded: usize, n: usize) -> Vec<String> {
    assert!(
        n <= 1_000_000,
        "six-digit serial numbers: at most 1,000,000 releases"
    );
    assert_eq!(seeded % PRODUCTS, 0, "whole rounds of products");
    let sqlite = |sql: &str| {
        let out = Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                child
                    .stdin
                    .take()
                    .expect("stdin")
                    .write_all(sql.as_bytes())?;
                child.wait_with_output()
            })
            .expect("sqlite3 runs (Debian: apt-get install -y sqlite3)");
        assert!(
            out.status.success(),
            "sqlite3: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let columns: Vec<String> = sqlite("SELECT name FROM pragma_table_info('releases');")
        .lines()
        .map(str::to_owned)
        .collect();
    let new_id = "substr(r.id, 1, 20) || printf('%06d', c.k * $seeded + r.rowid - 1)";
    let new_number = format!("r.number + c.k * {}", seeded / PRODUCTS);
    let select: Vec<String> = columns
        .iter()
        .map(|c| match c.as_str() {
            "id" => "m.new".to_owned(),
            "number" => "m.number".to_owned(),
            other => format!("r.{other}"),
        })
        .collect();
    let copies = n.div_ceil(seeded);
    let sql = format!(
        ".output /dev/null\n\
         PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -1000000;\n\
         BEGIN;\n\
         CREATE TEMP TABLE c (k INTEGER PRIMARY KEY);\n\
         WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < {last})\n\
           INSERT INTO c SELECT k FROM s;\n\
         CREATE TEMP TABLE m AS SELECT r.id AS old, {new_id} AS new, {new_number} AS number, \
           r.number AS was, c.k AS k, r.rowid AS row\n\
           FROM releases r, c WHERE r.rowid <= $seeded AND c.k * $seeded + r.rowid <= {n};\n\
         INSERT INTO releases ({cols}) SELECT {select} FROM m JOIN releases r ON r.id = m.old;\n\
         CREATE TEMP TABLE t AS SELECT release_id, {trimmed} AS document FROM release_documents;\n\
         INSERT INTO release_documents (release_id, document)\n\
           SELECT m.new, replace(replace(d.document, \
             '{{\"id\":\"' || m.old || '\",\"number\":' || m.was || ',', \
             '{{\"id\":\"' || m.new || '\",\"number\":' || m.number || ','), m.old, m.new)\n\
           FROM m JOIN t d ON d.release_id = m.old;\n\
         INSERT INTO release_events (release_id, seq, at, document)\n\
           SELECT m.new, e.seq, e.at, replace(e.document, m.old, m.new)\n\
           FROM m JOIN release_events e ON e.release_id = m.old;\n\
         UPDATE release_numbers SET last_number =\n\
           (SELECT max(number) FROM releases WHERE releases.product = release_numbers.product);\n\
         COMMIT;\n\
         PRAGMA journal_mode = WAL;\n\
         .output stdout\n\
         SELECT new FROM m ORDER BY k, row;\n",
        last = copies - 1,
        trimmed = if n > TRIM_ABOVE {
            "json_set(document, '$.environments[0].applications', json('[]'), \
             '$.environments[1].applications', json('[]'), \
             '$.environments[2].applications', json('[]'), \
             '$.environments[3].applications', json('[]'))"
        } else {
            "document"
        },
        cols = columns.join(", "),
        select = select.join(", "),
    )
    .replace("$seeded", &seeded.to_string());
    let started = Instant::now();
    let ids: Vec<String> = sqlite(&sql).lines().map(str::to_owned).collect();
    eprintln!(
        "copied {} releases inside SQLite in {:.1} s",
        ids.len(),
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ids.len() + seeded, n);
    ids
}

/// The store benchmark's release, finished: a succeeded automatic release,
/// so the engine has nothing to resume at start.
fn finished(mut r: ferry_release::Release) -> ferry_release::Release {
    let at = r.created_at;
    r.status = ReleaseStatus::Succeeded;
    r.kind = ReleaseKind::Automatic;
    r.termination = None;
    r.finished_at = Some(at);
    for env in &mut r.environments {
        env.status = EnvironmentStatus::Successful;
        env.started_at = Some(at);
        env.finished_at = Some(at);
        for app in &mut env.applications {
            app.status = EnvironmentStatus::Successful;
            for step in &mut app.steps {
                step.status = StepStatus::Success;
                step.started_at = Some(at);
                step.finished_at = Some(at);
                step.attempts = 1;
            }
        }
    }
    r
}

struct Memory {
    rss_mb: f64,
    hwm_mb: f64,
}

/// A running `ferry serve`; killed (SIGTERM, then waited) on drop.
struct Served {
    child: Child,
    port: u16,
    ready: Duration,
}

impl Served {
    /// `ferry serve` on `data`, with its SQLite database there unless
    /// `database` names one.
    fn start(ferry: &Path, config: &Path, data: &Path, database: Option<&str>) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        std::fs::create_dir_all(data).expect("data dir");
        let log = std::fs::File::create(data.join("serve.log")).expect("log file");
        let start = Instant::now();
        let mut command = Command::new(ferry);
        command.arg("serve");
        if let Some(url) = database {
            command.args(["--database-url", url]);
        }
        let mut child = command
            .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
            .env("FERRY_DATA_DIR", data)
            .env("FERRY_CONFIG", config)
            .env("FERRY_ADMIN_TOKEN", TOKEN)
            .env("FERRY_ANONYMOUS_READ", "true")
            .env("FERRY_POLL_INTERVAL", "0")
            .env("FERRY_CONFIG_POLL_INTERVAL", "0")
            .env_remove("FERRY_DATABASE_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn ferry serve");
        let deadline = start + Duration::from_secs(60);
        loop {
            if let Ok((200, _)) = http_get(port, "/readyz") {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "ferry serve exited with {status}; see {}",
                    data.join("serve.log").display()
                );
            }
            assert!(Instant::now() < deadline, "ferry serve never became ready");
            std::thread::sleep(Duration::from_millis(2));
        }
        let ready = start.elapsed();
        Served { child, port, ready }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn memory(&self) -> Memory {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        let kb = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
                .expect("VmRSS/VmHWM in /proc status")
        };
        Memory {
            rss_mb: kb("VmRSS:") / 1024.0,
            hwm_mb: kb("VmHWM:") / 1024.0,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bare HTTP/1.0 GET (not chunked, closed by the server), returning
/// the status and body; enough for readiness polling and sanity checks.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let code = buf
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status line"))?;
    let body = buf.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
    Ok((code, body))
}

/// The endpoints answer what the load will ask (so wrk measures real
/// answers, not 404s).
fn sanity_checks(server: &Served, ids: &[String]) {
    let (code, body) = http_get(server.port, &format!("/api/v1/releases/{}", ids[0])).expect("get");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains(&ids[0]), "release body names its id: {body}");
    let (code, body) = http_get(server.port, "/api/v1/products/p1/releases").expect("list");
    assert_eq!(code, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    let items = page["items"].as_array().map_or(0, Vec::len);
    let expected = (ids.len() / PRODUCTS).min(ferry_store::DEFAULT_PAGE as usize);
    assert_eq!(items, expected, "first page of p1: {body:.300}");
    // The newest release of p1 (a copy when the data set was replicated)
    // reads back whole, with the id and number the list shows.
    let newest = &page["items"][0];
    let id = newest["id"].as_str().expect("an id");
    let (code, body) = http_get(server.port, &format!("/api/v1/releases/{id}")).expect("get");
    assert_eq!(code, 200, "{body:.300}");
    let release: serde_json::Value = serde_json::from_str(&body).expect("a release document");
    assert_eq!(release["id"], newest["id"], "{body:.300}");
    assert_eq!(release["number"], newest["number"], "{body:.300}");
    let (code, body) = http_get(server.port, STATUS_LIST).expect("status list");
    assert_eq!(code, 200, "{body:.300}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    assert_eq!(
        page["items"].as_array().map_or(0, Vec::len),
        ids.len().min(ferry_store::DEFAULT_PAGE as usize),
        "{body:.300}"
    );
}

/// The list of every product filtered by two statuses (issue 24: read as
/// one index walk per status, not every release with either status).
const STATUS_LIST: &str = "/api/v1/releases?status=SUCCEEDED,FAILED";

fn release_script(ids: &[String]) -> String {
    let mut s = String::from("ids = {");
    let step = (ids.len() / SCRIPT_IDS).max(1);
    for id in ids.iter().step_by(step).take(SCRIPT_IDS) {
        let _ = write!(s, "\"{id}\",");
    }
    s.push_str(
        "}\nmath.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/releases/\" .. ids[math.random(#ids)])\nend\n",
    );
    s
}

fn product_script() -> String {
    format!(
        "math.randomseed(7)\nrequest = function()\n  return wrk.format(\"GET\", \"/api/v1/products/p\" .. math.random(0, {}) .. \"/releases\")\nend\n",
        PRODUCTS - 1
    )
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs wrk and parses `Requests/sec` and the latency distribution; any
/// non-2xx answer or socket error fails the bench.
fn wrk(url: &str, duration: &str, script: Option<&Path>, path: &str) -> WrkResult {
    let mut cmd = Command::new("wrk");
    cmd.args(WRK_ARGS)
        .arg(connections())
        .arg(format!("-d{duration}"));
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(format!("{url}{path}"));
    let out = cmd.output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "wrk failed: {text}");
    eprintln!("{text}");
    assert!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "errors under load: {text}"
    );
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("Requests/sec in wrk output");
    let pct = |p: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(p))
            .map(|v| parse_wrk_duration(v.trim()))
            .expect("latency distribution in wrk output")
    };
    WrkResult {
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
    }
}

/// `812.00us`, `3.21ms`, `1.02s` → milliseconds.
fn parse_wrk_duration(v: &str) -> f64 {
    let (num, scale) = if let Some(x) = v.strip_suffix("us") {
        (x, 1e-3)
    } else if let Some(x) = v.strip_suffix("ms") {
        (x, 1.0)
    } else if let Some(x) = v.strip_suffix('m') {
        (x, 60_000.0)
    } else if let Some(x) = v.strip_suffix('s') {
        (x, 1e3)
    } else {
        (v, 1.0)
    };
    num.parse::<f64>().expect("wrk duration") * scale
}
