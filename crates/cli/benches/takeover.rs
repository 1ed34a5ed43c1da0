//! Takeover time (issue 11: "another replica takes over within 10 s of the
//! holder dying"): two real `ferry serve` replicas on one real PostgreSQL;
//! replica A drives 20 releases whose workflows sleep 30 s; A is stopped,
//! and for each of its releases the time from the stop until B's first
//! event of it is measured — by the event's own write time (B resumed it
//! and recorded the interrupted step starting again; A writes nothing in
//! its 30 s sleep, and nothing once dead), read from B's SSE stream.
//!
//! Two ways of stopping A, in the same run:
//! - **SIGKILL** (the measured case): A's leases must expire (6 s) and
//!   B's scan (every 2 s) must find them;
//! - **SIGTERM** (the named baseline): A gives its leases up as it stops,
//!   so only B's scan interval and the resume remain.
//!
//! Run: `cargo bench -p ferry-cli --bench takeover` (needs Debian's
//! PostgreSQL binaries, as the tests do). `FERRY_TAKEOVER_ROUNDS` rounds
//! of each (default 3).

#[path = "../tests/support/replicas.rs"]
mod replicas;

use std::time::{Duration, SystemTime};

use replicas::*;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(0.0, f64::max)
}

/// One round: A drives `PRODUCTS` releases, is stopped with `signal`;
/// seconds from the stop until B's first event of each release.
async fn round(pg: &Postgres, signal: &str, client: &reqwest::Client) -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let (_remote, config) = setup_with(dir.path(), "30");
    // A fresh database per round.
    let name: String = dir
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_ascii_lowercase()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let url = pg.database(&format!("takeover_{name}"));
    let (port_a, port_b) = (free_port(), free_port());
    let (base_a, base_b) = (
        format!("http://127.0.0.1:{port_a}"),
        format!("http://127.0.0.1:{port_b}"),
    );
    let mut a = replica(dir.path(), "a", &config, &url, port_a);
    wait_ready(client, &base_a).await;
    let mut b = replica(dir.path(), "b", &config, &url, port_b);
    wait_ready(client, &base_b).await;
    let mut ids = Vec::new();
    for p in 0..PRODUCTS {
        let resp = client
            .post(format!("{base_a}/api/v1/products/p{p}/promotions"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"flow": "f"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let r: serde_json::Value = resp.json().await.unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    // Every release is in its 30 s workflow on A.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stopped = SystemTime::now();
    let status = std::process::Command::new("kill")
        .args([signal, &a.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    a.wait();
    let followers: Vec<_> = ids
        .iter()
        .map(|id| {
            tokio::spawn(follow_until(
                client.clone(),
                base_b.clone(),
                id.clone(),
                move |e| e.written > stopped,
            ))
        })
        .collect();
    let mut out = Vec::new();
    for f in followers {
        let seen = tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("B took the release over")
            .unwrap();
        let first = seen.last().unwrap().written;
        out.push(first.duration_since(stopped).unwrap().as_secs_f64());
    }
    b.kill();
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize = std::env::var("FERRY_TAKEOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let pg = Postgres::start();
    let client = reqwest::Client::new();
    let mut kill = Vec::new();
    let mut term = Vec::new();
    for r in 0..rounds {
        let k = round(&pg, "-KILL", &client).await;
        println!(
            "round {r} SIGKILL: median {:.2} s, max {:.2} s",
            median(k.clone()),
            max(&k)
        );
        kill.extend(k);
        let t = round(&pg, "-TERM", &client).await;
        println!(
            "round {r} SIGTERM: median {:.2} s, max {:.2} s",
            median(t.clone()),
            max(&t)
        );
        term.extend(t);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "| stop of the holder | releases | takeover, median | p100 (max) | goal | ratio to SIGTERM (median) |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| SIGKILL (leases expire: ttl 6 s, scan every 2 s) | {} | {:.2} s | {:.2} s | ≤ 10 s | {:.2}× |",
        kill.len(),
        median(kill.clone()),
        max(&kill),
        median(kill.clone()) / median(term.clone())
    );
    println!(
        "| SIGTERM (leases given up; baseline) | {} | {:.2} s | {:.2} s | | 1.00× |",
        term.len(),
        median(term.clone()),
        max(&term)
    );
    println!("load average at end: {}", load.trim());
}
