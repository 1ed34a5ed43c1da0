//! Store benchmark (issue 5 numbers): 100,000 realistic releases in a
//! SQLite file, then `get(id)` and the first page of a product's list,
//! single and with 8 concurrent tasks, against the named baseline "raw
//! sqlx": the same row fetched with a bare `sqlx::query` and no decoding,
//! so the ratio is the store's own overhead.
//!
//! Run: `cargo bench -p ferry-store --bench store_bench`
//! (`FERRY_STORE_BENCH_RELEASES=10000` for a quicker run).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_store::{Created, ListFilter, Store};
use sqlx::sqlite::SqlitePoolOptions;

const PRODUCTS: usize = 50;
const OPS_SINGLE: usize = 20_000;
const OPS_PER_TASK: usize = 5_000;
const TASKS: usize = 8;

struct Stats {
    ops_per_s: f64,
    p50: Duration,
    p99: Duration,
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Stats {
        ops_per_s: latencies.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}

/// A small deterministic generator: the benchmark needs spread, not quality.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Runs `op` `per_task` times in each of `tasks` tasks on random inputs.
async fn measure<F, Fut>(tasks: usize, per_task: usize, op: F) -> Stats
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut seed = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
                let mut latencies = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let r = xorshift(&mut seed);
                    let t0 = Instant::now();
                    op(r).await;
                    latencies.push(t0.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    stats(all, start.elapsed())
}

fn row(name: &str, s: &Stats, base: &Stats) {
    println!(
        "| {name} | {:.0} | {:.3} | {:.3} | {:.0} | {:.2} |",
        s.ops_per_s,
        s.p50.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3,
        base.ops_per_s,
        s.ops_per_s / base.ops_per_s
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("FERRY_STORE_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());

    let store = Store::open(&url).await.unwrap();
    let template = common::release("p0");
    let doc_bytes = serde_json::to_vec(&template).unwrap().len();
    let mut ids = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let mut r = template.clone();
        r.id = ferry_release::new_release_id();
        r.product = format!("p{}", i % PRODUCTS);
        let Created::New(r, _) = store
            .create_release(r, Some(&format!("trigger-{i}")), common::first_events())
            .await
            .unwrap()
        else {
            panic!("unique trigger keys")
        };
        ids.push(r.id);
    }
    let insert = start.elapsed();
    store.close().await;
    drop(store);

    let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let wal = dir.path().join("ferry.db-wal");
    let file_mb = (size(&path) + size(&wal)) as f64 / 1e6;

    let start = Instant::now();
    let store = Store::open(&url).await.unwrap();
    let open = start.elapsed();

    let raw = SqlitePoolOptions::new()
        .max_connections(8)
        .connect(&url)
        .await
        .unwrap();
    let ids = Arc::new(ids);

    println!("## ferry-store (SQLite)\n");
    println!(
        "{n} releases ({PRODUCTS} products; document {doc_bytes} bytes: 4 environments × 3 applications × 4 steps, snapshot, 2 events each), 2 cores."
    );
    println!(
        "- insert (create_release, one transaction each, trigger key + 2 events): {:.1} s, {:.0} releases/s",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64()
    );
    println!(
        "- file size: {file_mb:.0} MB; open (connect + migrations check): {:.1} ms\n",
        open.as_secs_f64() * 1e3
    );
    println!("| operation | ops/s | p50 ms | p99 ms | baseline raw sqlx ops/s | ratio |");
    println!("|---|---|---|---|---|---|");

    for (tasks, per_task, label) in [(1, OPS_SINGLE, "1 task"), (TASKS, OPS_PER_TASK, "8 tasks")] {
        let (s, i) = (store.clone(), ids.clone());
        let get = measure(tasks, per_task, move |r| {
            let (s, i) = (s.clone(), i.clone());
            async move {
                let id = &i[(r % i.len() as u64) as usize];
                assert!(s.get(id).await.unwrap().is_some());
            }
        })
        .await;
        let (p, i) = (raw.clone(), ids.clone());
        let get_raw = measure(tasks, per_task, move |r| {
            let (p, i) = (p.clone(), i.clone());
            async move {
                let id = &i[(r % i.len() as u64) as usize];
                let row =
                    sqlx::query("SELECT document FROM release_documents WHERE release_id = $1")
                        .bind(id)
                        .fetch_optional(&p)
                        .await
                        .unwrap();
                assert!(row.is_some());
            }
        })
        .await;
        row(&format!("get(id), {label}"), &get, &get_raw);

        let page = (n / PRODUCTS).min(50);
        let s = store.clone();
        let list = measure(tasks, per_task, move |r| {
            let s = s.clone();
            async move {
                let filter = ListFilter {
                    product: Some(format!("p{}", r % PRODUCTS as u64)),
                    limit: 50,
                    ..Default::default()
                };
                assert_eq!(s.list(&filter).await.unwrap().items.len(), page);
            }
        })
        .await;
        let p = raw.clone();
        let list_raw = measure(tasks, per_task, move |r| {
            let p = p.clone();
            async move {
                let rows = sqlx::query(
                    "SELECT id, number, product, flow, status, initiator, created_at, finished_at, \
                     version, environments FROM releases WHERE product = $1 ORDER BY number DESC LIMIT 51",
                )
                .bind(format!("p{}", r % PRODUCTS as u64))
                .fetch_all(&p)
                .await
                .unwrap();
                assert_eq!(rows.len(), (n / PRODUCTS).min(51));
            }
        })
        .await;
        row(
            &format!("list first page (50) of a product, {label}"),
            &list,
            &list_raw,
        );
    }
    println!();
    println!("Issue 5 target for the HTTP API above this store: ≥ 2,000 req/s, p99 ≤ 25 ms.");
}
