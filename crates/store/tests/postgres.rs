//! The store suite on a real PostgreSQL: the test starts its own cluster
//! (`initdb` + `pg_ctl`, loopback port, trust auth, throw-away directory)
//! from Debian's binaries under /usr/lib/postgresql/*/bin, or from
//! `FERRY_PG_BIN`. As root, the cluster runs as the `postgres` user, since
//! PostgreSQL refuses to run as root.

mod common;
mod suite;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ferry_store::{BackendKind, Error, Store};
use sqlx::Connection;

/// A running throw-away PostgreSQL cluster, stopped on drop (also when a
/// test panics).
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("FERRY_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL binaries: install postgresql (Debian) or set FERRY_PG_BIN")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().expect("no /usr/lib/postgresql/*/bin/initdb")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

impl Cluster {
    fn run(&self, program: &str, args: &[&str]) {
        let exe = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        // Progress chatter off; errors (stderr) stay visible.
        let status = command.args(args).stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "{program} {args:?} failed: {status}");
    }

    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            bin: pg_bin(),
            data: dir.path().join("data"),
            port,
            as_postgres,
            _dir: dir,
        };
        let data = cluster.data.to_str().unwrap().to_string();
        let base = cluster.data.parent().unwrap().to_str().unwrap().to_string();
        cluster.run(
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
            "-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off -c max_connections=200"
        );
        let log = format!("{base}/postgres.log");
        cluster.run(
            "pg_ctl",
            &["-D", &data, "-l", &log, "-o", &options, "-w", "start"],
        );
        cluster
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://ferry@127.0.0.1:{}/{database}", self.port)
    }

    /// A fresh empty database.
    async fn database(&self, name: &str) -> String {
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        self.url(name)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_str().unwrap().to_string();
        let exe = self.bin.join("pg_ctl");
        let args = ["-D", data.as_str(), "-m", "immediate", "-w", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .stdout(Stdio::null())
                .status()
        } else {
            Command::new(&exe).args(args).stdout(Stdio::null()).status()
        };
    }
}

/// One cluster for the whole suite: starting PostgreSQL costs seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backend_passes_the_store_suite() {
    let cluster = Cluster::start();

    let url = cluster.database("t_round_trip").await;
    assert_eq!(
        Store::open(&url).await.unwrap().backend(),
        BackendKind::Postgres
    );
    suite::round_trip(&url).await;
    suite::numbering_per_product(&cluster.database("t_numbering").await).await;
    suite::duplicate_trigger_writes_nothing(&cluster.database("t_duplicate").await).await;
    suite::save_appends_gapless_events(&cluster.database("t_save").await).await;
    suite::list_pagination_and_filters(&cluster.database("t_list").await).await;
    suite::reopen_keeps_data(&cluster.database("t_reopen").await).await;
    suite::active_releases_and_latest(&cluster.database("t_active").await).await;
    suite::poller_cursors(&cluster.database("t_cursors").await).await;

    // Connection failures name the server without the password.
    let wrong = format!(
        "postgres://ferry:hunter2@127.0.0.1:{}/no_such_db",
        cluster.port
    );
    let err = Store::open(&wrong).await.unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("ferry:***@127.0.0.1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// The two migration directories must describe the same tables.
#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let cluster = Cluster::start();
    let pg_url = cluster.database("t_schema").await;
    Store::open(&pg_url).await.unwrap().close().await;
    let (_dir, sqlite_url) = common::sqlite_url();
    Store::open(&sqlite_url).await.unwrap().close().await;

    let mut pg = sqlx::PgConnection::connect(&pg_url).await.unwrap();
    let mut pg_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let mut lite = sqlx::SqliteConnection::connect(&sqlite_url).await.unwrap();
    let mut lite_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut lite)
    .await
    .unwrap();
    pg_columns.sort();
    lite_columns.sort();
    assert!(lite_columns.contains(&("releases".into(), "lease_owner".into())));
    assert_eq!(pg_columns, lite_columns);
}
