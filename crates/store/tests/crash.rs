//! Crash safety, on SQLite and on PostgreSQL: a writer process killed with
//! SIGKILL in the middle of its writes leaves every committed write and no
//! half-written one.
//!
//! The test binary plays both parts: run normally it is the parent, which
//! starts itself again with `FERRY_STORE_CRASH_CHILD` set as the writer.

mod common;
mod pg_cluster;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use ferry_release::{EventKind, ReleaseStatus};
use ferry_store::{Created, ListFilter, NewEvent, Store};

const CHILD_ENV: &str = "FERRY_STORE_CRASH_CHILD";
const CREATE_EVENTS: usize = 5;
const SAVE_EVENTS: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_leaves_only_whole_writes() {
    if let Ok(url) = std::env::var(CHILD_ENV) {
        return write_until_killed(&url).await;
    }
    let (_dir, url) = common::sqlite_url();
    kill_writer_and_check(&url).await;
    let cluster = pg_cluster::Cluster::start();
    kill_writer_and_check(&cluster.database("t_crash").await).await;
}

/// Runs a writer child on `url`, kills it after 40 acknowledged saves and
/// checks what the database holds.
async fn kill_writer_and_check(url: &str) {
    // Create the schema first so the child starts writing at once.
    Store::open(url).await.unwrap().close().await;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "killed_writer_leaves_only_whole_writes",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut created = Vec::new();
    let mut saved = Vec::new();
    // The pipe stays open until after the kill, so the kill (not a
    // broken pipe) is what ends the writer, wherever it stands.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(id) = line.strip_prefix("created ") {
            created.push(id.to_string());
        } else if let Some(id) = line.strip_prefix("saved ") {
            saved.push(id.to_string());
            if saved.len() == 40 {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback, no checkpoint
    child.wait().unwrap();
    drop(lines);

    let store = Store::open(url).await.unwrap();
    // Every acknowledged write is there.
    for id in &created {
        let r = store
            .get(id)
            .await
            .unwrap()
            .expect("acknowledged release is stored");
        assert!(
            store.events(id, 0, 0).await.unwrap().len() >= CREATE_EVENTS,
            "{}",
            r.id
        );
    }
    for id in &saved {
        assert_eq!(
            store.get(id).await.unwrap().unwrap().status,
            ReleaseStatus::Succeeded
        );
        assert_eq!(
            store.events(id, 0, 0).await.unwrap().len(),
            CREATE_EVENTS + SAVE_EVENTS
        );
    }
    // And nothing is half written: each release has exactly the events of
    // the writes that reached it, numbered without gaps.
    let page = store
        .list(&ListFilter {
            product: Some("crash".into()),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(page.items.len() >= saved.len());
    let numbers: Vec<u64> = page.items.iter().map(|s| s.number).collect();
    assert_eq!(
        numbers,
        (1..=page.items.len() as u64).rev().collect::<Vec<_>>()
    );
    for summary in &page.items {
        let events = store.events(&summary.id, 0, 0).await.unwrap();
        let expected = match summary.status {
            ReleaseStatus::Running => CREATE_EVENTS,
            ReleaseStatus::Succeeded => CREATE_EVENTS + SAVE_EVENTS,
            other => panic!("unexpected status {other}"),
        };
        assert_eq!(events.len(), expected, "release {}", summary.id);
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=expected as u64).collect::<Vec<_>>()
        );
    }
    // The store still takes writes after the crash.
    let next = store
        .create_release(common::release("crash"), None, vec![])
        .await
        .unwrap();
    let Created::New(next, _) = next else {
        panic!("new release")
    };
    assert_eq!(next.number, page.items.len() as u64 + 1);
}

/// The child: creates and finishes releases forever, printing each write
/// once it is committed.
async fn write_until_killed(url: &str) {
    let store = Store::open(url).await.unwrap();
    loop {
        let events = (0..CREATE_EVENTS)
            .map(|i| NewEvent::new(EventKind::Audit, format!("E{i}")))
            .collect();
        let Created::New(mut r, _) = store
            .create_release(common::release("crash"), None, events)
            .await
            .unwrap()
        else {
            unreachable!("no trigger key")
        };
        println!("created {}", r.id);
        r.status = ReleaseStatus::Succeeded;
        r.finished_at = Some(ferry_release::now());
        let events = (0..SAVE_EVENTS)
            .map(|i| NewEvent::new(EventKind::Release, format!("S{i}")))
            .collect();
        store.save(&r, events).await.unwrap();
        println!("saved {}", r.id);
    }
}
