//! Delivery insights benchmark (issue 21): 100,000 releases × 5
//! environments (10 products; dev → qa → staging → prod-eu, prod-us, the
//! two prod ones production; one release in 15 failing in prod; two
//! commits per release arriving in each environment it deployed to),
//! spread evenly over 365 days, recorded as the keeper records them, on
//! SQLite and on PostgreSQL (a throw-away cluster).
//!
//! Measured: what every `GET /api/v1/insights` and `/metrics` scrape does
//! after catching up — `Store::insight_history` for the period plus
//! `ferry_insights::compute` — for the default 30 days and for the whole
//! year, every product; against the named baseline "count": a plain
//! `SELECT COUNT(*)` of the same period's rows of `insight_runs` on the
//! same database, in the same run.
//!
//! Run: `cargo bench -p ferry-store --bench insights_bench`
//! (`FERRY_INSIGHTS_BENCH_RELEASES=10000` for a quicker run;
//! `FERRY_INSIGHTS_BENCH_BACKENDS=sqlite` for one backend).

#[path = "../tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::time::{Duration, Instant};

use ferry_insights::period::{DAY, HOUR, MINUTE};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, History, Millis, Period, Phase, Phases, ProductScope, Query,
    RunStatus, compute,
};
use ferry_store::{ProductFilter, Store};

const ENVS: [&str; 5] = ["dev", "qa", "staging", "prod-eu", "prod-us"];
const PRODUCTS: usize = 10;
const ITERS: usize = 15;
/// 2026-12-07 00:00 UTC: the end of the history.
const END: Millis = 1_796_601_600_000;

fn runs_of(n: usize, total: usize) -> (Vec<EnvRun>, Vec<Arrival>) {
    let product = format!("product-{:02}", n % PRODUCTS);
    let number = (n / PRODUCTS + 1) as u64;
    let created = END - 365 * DAY + (n as Millis * 365 * DAY) / total as Millis;
    let id = format!("rel-{n:07}");
    let failing = n % 15 == 7;
    let mut runs = Vec::new();
    let mut arrivals = Vec::new();
    let mut at = created + MINUTE;
    for (i, env) in ENVS.iter().enumerate() {
        let start = at;
        let trigger = i == 0;
        let mut phases = Phases::default();
        if trigger {
            phases.set(Phase::Queue, Some(MINUTE));
        } else {
            phases.set(Phase::Window, Some((n as Millis % 7) * MINUTE));
            phases.set(Phase::Commit, Some(MINUTE));
            phases.set(Phase::Sync, Some((2 + n as Millis % 5) * MINUTE));
            phases.set(Phase::PostAction, Some(3 * MINUTE));
        }
        let end = start + 10 * MINUTE + (n as Millis % 11) * MINUTE;
        let prod = env.starts_with("prod");
        let status = if prod && failing {
            RunStatus::Failed
        } else {
            RunStatus::Successful
        };
        let changed = (!trigger).then_some(start + 2 * MINUTE);
        let running = (status == RunStatus::Successful && !trigger).then_some(end - 3 * MINUTE);
        runs.push(EnvRun {
            release_id: id.clone(),
            product: product.clone(),
            number,
            environment: (*env).into(),
            trigger,
            rollback: false,
            hotfix: false,
            status,
            termination: None,
            started_at: Some(start),
            changed_at: changed,
            running_at: running,
            finished_at: end,
            failed_at: (status == RunStatus::Failed).then_some(end),
            phases,
        });
        if let Some(r) = running {
            for c in 0..2 {
                arrivals.push(Arrival {
                    product: product.clone(),
                    environment: (*env).into(),
                    sha: format!("{:038x}{c:02}", n),
                    committed_at: created - (c + 1) * 3 * HOUR,
                    arrived_at: r,
                    release_id: id.clone(),
                });
            }
        }
        // prod-us runs beside prod-eu, after staging.
        if i != 3 {
            at = end;
        }
    }
    (runs, arrivals)
}

async fn fill(store: &Store, total: usize) -> Duration {
    let t = Instant::now();
    let mut batch = Vec::new();
    for n in 0..total {
        let (runs, arrivals) = runs_of(n, total);
        let last = runs.iter().map(|r| r.finished_at).max();
        store
            .record_insight_runs(&runs[0].release_id, &runs[0].product, last, &runs)
            .await
            .expect("runs recorded");
        batch.extend(arrivals);
        if batch.len() >= 4000 || n + 1 == total {
            store
                .record_arrivals(&batch, None)
                .await
                .expect("arrivals recorded");
            batch.clear();
        }
    }
    t.elapsed()
}

fn scopes() -> Vec<ProductScope> {
    (0..PRODUCTS)
        .map(|p| ProductScope {
            name: format!("product-{p:02}"),
            environments: ENVS
                .iter()
                .map(|e| EnvScope {
                    name: (*e).into(),
                    production: e.starts_with("prod"),
                })
                .collect(),
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn measure(backend: &str, store: &Store, count: impl AsyncFn(Period) -> i64) {
    let products = scopes();
    for (name, days) in [("30 days", 30), ("365 days", 365)] {
        let period = Period::new(END - days * DAY, END).expect("period");
        let (mut report_t, mut count_t) = (Vec::new(), Vec::new());
        let mut rows = 0;
        let mut deployments = 0;
        for _ in 0..ITERS {
            let t = Instant::now();
            let facts = store
                .insight_history(ProductFilter::All, period)
                .await
                .expect("history");
            let report = compute(
                &Query {
                    period,
                    products: products.clone(),
                },
                &History {
                    runs: &facts.runs,
                    arrivals: &facts.arrivals,
                    first_seen: &facts.first_seen,
                },
            );
            report_t.push(t.elapsed());
            rows = facts.runs.len() + facts.arrivals.len();
            deployments = report
                .products
                .iter()
                .filter_map(|p| p.measures.as_ref())
                .map(|m| m.deployment_frequency.deployments)
                .sum::<u64>();
            let t = Instant::now();
            let n = count(period).await;
            count_t.push(t.elapsed());
            assert!(n > 0, "the period has runs");
        }
        let (r, c) = (median(report_t), median(count_t));
        println!(
            "{backend:<10} {name:<9} insights {:>8.1} ms  count {:>7.2} ms  ratio {:>6.1}×  ({rows} rows read, {deployments} successful production deployments)",
            ms(r),
            ms(c),
            r.as_secs_f64() / c.as_secs_f64()
        );
    }
}

fn main() {
    let total: usize = std::env::var("FERRY_INSIGHTS_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let backends =
        std::env::var("FERRY_INSIGHTS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "insights over {total} releases × {} environments, {PRODUCTS} products, over 365 days; median of {ITERS}",
        ENVS.len()
    );
    if backends.contains("sqlite") {
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("ferry.db");
            let store = Store::open_sqlite_file(&path).await.expect("store");
            let filled = fill(&store, total).await;
            println!("sqlite: recorded in {:.1} s", filled.as_secs_f64());
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("raw pool");
            measure("sqlite", &store, async |p: Period| {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM insight_runs WHERE finished_at >= ?1 AND finished_at < ?2",
                )
                .bind(p.from)
                .bind(p.to)
                .fetch_one(&pool)
                .await
                .expect("count")
            })
            .await;
        });
    }
    if backends.contains("postgres") {
        let cluster = pg_cluster::Cluster::start();
        rt.block_on(async {
            let url = cluster.database("insights_bench").await;
            let store = Store::open(&url).await.expect("store");
            let filled = fill(&store, total).await;
            println!("postgres: recorded in {:.1} s", filled.as_secs_f64());
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("raw pool");
            measure("postgres", &store, async |p: Period| {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM insight_runs WHERE finished_at >= $1 AND finished_at < $2",
                )
                .bind(p.from)
                .bind(p.to)
                .fetch_one(&pool)
                .await
                .expect("count")
            })
            .await;
        });
    }
}
