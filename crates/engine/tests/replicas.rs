//! Several replicas on one PostgreSQL database (issue 11): the per-product
//! concurrency decision holds across them.
//!
//! Uses `FERRY_TEST_POSTGRES_URL` when set (as `scripts/test` does), else
//! starts its own throw-away cluster: the property only exists with a
//! database that several engines share, so it never runs on SQLite.

#[path = "../../store/tests/pg_cluster/mod.rs"]
mod pg_cluster;

mod common;

use common::{Fixture, Setup};
use ferry_engine::{Engine, PromotionRequest};
use ferry_release::{EventKind, Release, ReleaseStatus};
use time::OffsetDateTime;

const QUEUED: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: main}]
  concurrency: {policy: queue}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
    - {environment: prod, dependsOn: [qa]}
"#;

/// A fixture whose database is on PostgreSQL, and the cluster when this
/// test started one (kept alive by the caller).
async fn postgres_fixture(product: &str) -> (Fixture, Option<pg_cluster::Cluster>) {
    let mut fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: product.into(),
    });
    if fx.db.starts_with("postgres") {
        return (fx, None);
    }
    let cluster = pg_cluster::Cluster::start();
    fx.db = cluster.database("replicas").await;
    (fx, Some(cluster))
}

/// When the store says the release began to run (its creation event or
/// the hand-over event carrying RUNNING) and when it finished.
async fn running_window(
    store: &ferry_store::Store,
    r: &Release,
) -> (OffsetDateTime, OffsetDateTime) {
    let events = store.events(&r.id, 0, 10_000).await.unwrap();
    let began = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Audit | EventKind::Release))
        .find(|e| e.status == "RUNNING")
        .unwrap_or_else(|| panic!("release {} never ran: {events:#?}", r.number))
        .at;
    (began, r.finished_at.expect("finished"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_run_two_releases_of_a_queued_product_at_once() {
    let (fx, _cluster) = postgres_fixture(QUEUED).await;
    fx.commit_dev("main-1234", "2.0.0", "feat: two");
    let a = fx.replica("replica-a", "cache-a", |_| {}).await;
    let b = fx.replica("replica-b", "cache-b", |_| {}).await;
    // Both replicas decide about the same product at the same moment,
    // several times each.
    const EACH: usize = 4;
    let promote = |engine: Engine| async move {
        engine
            .promote("shop", PromotionRequest::for_flow("main"), "tester")
            .await
            .expect("promote")
    };
    let mut calls = Vec::new();
    for _ in 0..EACH {
        calls.push(tokio::spawn(promote(a.clone())));
        calls.push(tokio::spawn(promote(b.clone())));
    }
    let mut ids = Vec::new();
    for c in calls {
        ids.push(c.await.unwrap().id);
    }
    let mut done = Vec::new();
    for id in &ids {
        // Each release is driven by whichever replica holds its lease;
        // either reads the same store.
        done.push(
            common::wait_for(&a, id, 120, |r| {
                r.finished_at.is_some() && r.status.is_final()
            })
            .await,
        );
    }
    for r in &done {
        assert_eq!(r.status, ReleaseStatus::Succeeded, "release {}", r.number);
    }

    // Never two at once, by the store's own record: sorted by the moment
    // each began to run, each began no earlier than the previous finished.
    let store = ferry_store::Store::open(&fx.db).await.unwrap();
    let mut windows = Vec::new();
    for r in &done {
        windows.push((running_window(&store, r).await, r.number));
    }
    windows.sort();
    for pair in windows.windows(2) {
        let (((_, finished), first), ((began, _), second)) = (pair[0], pair[1]);
        assert!(
            began >= finished,
            "release {second} began to run at {began} while release {first} ran until {finished}"
        );
    }

    a.shutdown();
    b.shutdown();
}
