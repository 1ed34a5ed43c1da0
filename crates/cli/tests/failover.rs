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

mod support;

use std::time::{Duration, Instant};

use support::replicas::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_s_releases_finish_on_the_other_with_one_commit_each() {
    let pg = Postgres::start();
    let dir = tempfile::tempdir().unwrap();
    let (remote, config) = setup_with(dir.path(), "4");
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
    let followers: Vec<_> = ids
        .iter()
        .map(|id| tokio::spawn(follow(client.clone(), base_b.clone(), id.clone())))
        .collect();

    // Let A write a while (its events reach B's clients live), then kill
    // it mid-flight.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let killed_at = Instant::now();
    let killed_wall = std::time::SystemTime::now();
    a.kill();

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
            // Driven by A: events A wrote after the client's replay was
            // read, received by B's client before A died, can only have
            // come through NOTIFY and B's relay (B drove nothing of them).
            live_from_a += seen
                .iter()
                .filter(|e| e.written > e.connected && e.written < killed_wall && e.at < killed_at)
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

    b.kill();
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
