//! A throw-away PostgreSQL cluster for tests: `initdb` + `pg_ctl` from
//! Debian's binaries under /usr/lib/postgresql/*/bin (or `FERRY_PG_BIN`),
//! on a free loopback port with trust auth, in a temporary directory. As
//! root it runs as the `postgres` user, since PostgreSQL refuses root.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use sqlx::Connection;

/// A running throw-away PostgreSQL cluster, stopped on drop (also when a
/// test panics).
pub struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
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

    pub fn start() -> Cluster {
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

    /// `pg_ctl <args…>` on this cluster (`restart`, `stop`, `start`), with
    /// the options it was started with.
    pub fn pg_ctl(&self, args: &[&str]) {
        let data = self.data.to_str().unwrap().to_string();
        let base = self.data.parent().unwrap().to_str().unwrap().to_string();
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {base} -c fsync=off -c max_connections=200",
            self.port
        );
        let log = format!("{base}/postgres.log");
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-D", &data, "-l", &log, "-o", &options, "-w"]);
        self.run("pg_ctl", &all);
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://ferry@127.0.0.1:{}/{database}", self.port)
    }

    /// A fresh empty database.
    pub async fn database(&self, name: &str) -> String {
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
