//! The per-product decision gate (issue 11): on PostgreSQL one holder at a
//! time per product across every store on the database, other products not
//! held up, a dropped gate freed, and many gates at once never exhausting
//! the pool; on SQLite (one replica) a no-op.

mod common;
mod pg_cluster;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_store::{ListFilter, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_holder_per_product_across_stores_on_postgres() {
    let cluster = pg_cluster::Cluster::start();
    let url = cluster.database("gates").await;
    let a = Store::open(&url).await.unwrap();
    let b = Store::open(&url).await.unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));

    let held = a.product_gate("shop").await.unwrap();
    // Another product is not held up by it.
    b.product_gate("other")
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    let waiter = {
        let (b, order) = (b.clone(), Arc::clone(&order));
        tokio::spawn(async move {
            let gate = b.product_gate("shop").await.unwrap();
            order.lock().unwrap().push("b took it");
            gate
        })
    };
    // Give the waiter every chance to take it while `a` holds it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    order.lock().unwrap().push("a gave it up");
    held.release().await.unwrap();
    let b_gate = waiter.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["a gave it up", "b took it"]);

    // Dropped without `release` (a cancelled decision): freed as well.
    drop(b_gate);
    a.product_gate("shop")
        .await
        .unwrap()
        .release()
        .await
        .unwrap();

    // Far more products deciding at once than the pool has connections,
    // each reading the store while it holds its gate: all get through.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let a = a.clone();
        tasks.push(tokio::spawn(async move {
            let gate = a.product_gate(&format!("p{i}")).await.unwrap();
            a.list(&ListFilter::default()).await.unwrap();
            gate.release().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_no_op_on_sqlite() {
    let (_dir, url) = common::sqlite_url();
    let store = Store::open(&url).await.unwrap();
    // One replica per SQLite database: the engine's own lock orders its
    // decisions, so the gate neither blocks nor fails.
    let first = store.product_gate("shop").await.unwrap();
    let second = store.product_gate("shop").await.unwrap();
    first.release().await.unwrap();
    second.release().await.unwrap();
}
