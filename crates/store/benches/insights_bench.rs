//! Delivery insights benchmark (issue 21): 100,000 releases × 5
//! environments (10 products; dev → qa → staging → prod-eu, prod-us, the
//! two prod ones production; one release in 15 failing in prod; two
//! commits per release arriving in each environment it deployed to),
//! spread evenly over 365 days, on SQLite and on PostgreSQL (a throw-away
//! cluster).
//!
//! The facts are written straight into the store's real tables (multi-row
//! `INSERT`s on a database the store migrated), with the `releases` rows
//! and `insight_releases` rows saying they are recorded: recording them
//! one release at a time as the keeper does took 316 s on SQLite, and is
//! not what is measured here.
//!
//! The day aggregates are then built from those facts the way migration 35
//! builds them for an existing database (`Store::rebuild_insight_days`,
//! `Store::build_stale_insight_days`).
//!
//! Measured, for the last 30 days (on day boundaries and not) and the
//! whole year, every product:
//! - "aggregated": what a query does when no report of the current facts
//!   is kept — `Store::insight_days` for the period plus
//!   `ferry_insights::aggregate::compute_days` (the keeper's path);
//! - "raw": the path before the aggregates — `Store::insight_history`
//!   (every fact of the period) plus `ferry_insights::compute`; its report
//!   is checked equal to the aggregated one;
//! - "kept": what a query does when one is (the keeper's cache hit) — the
//!   keeper's catch-up look-up (`Store::insight_backlog` since its
//!   watermark, finding nothing), `Store::insight_generation`, and a clone
//!   of the kept report;
//!
//! against the named baseline "count": a plain `SELECT COUNT(*)` of the
//! same period's rows of `insight_runs` on the same database, in the same
//! run.
//!
//! Run: `cargo bench -p ferry-store --bench insights_bench`
//! (`FERRY_INSIGHTS_BENCH_RELEASES=10000` for a quicker run;
//! `FERRY_INSIGHTS_BENCH_BACKENDS=sqlite` for one backend;
//! `FERRY_INSIGHTS_BENCH_ITERS`, default 5, for "aggregated" and "raw").

#[path = "../tests/pg_cluster/mod.rs"]
mod pg_cluster;

use std::time::{Duration, Instant};

use ferry_insights::aggregate::compute_days;
use ferry_insights::period::{DAY, HOUR, MINUTE};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, History, Millis, Period, Phase, Phases, ProductScope, Query, Report,
    RunStatus, compute,
};
use ferry_store::{ProductFilter, Store};

const ENVS: [&str; 5] = ["dev", "qa", "staging", "prod-eu", "prod-us"];
const PRODUCTS: usize = 10;
/// Samples of the cheap paths.
const KEPT_ITERS: usize = 31;
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

/// `v` as an SQL literal.
fn lit(v: Option<Millis>) -> String {
    v.map_or_else(|| "NULL".into(), |v| v.to_string())
}

/// Multi-row `INSERT`s of every fact (the values are generated here, so
/// literals are safe), 500 rows each.
fn seed_statements(total: usize) -> Vec<String> {
    const ROWS: usize = 500;
    let mut runs = Vec::new();
    let mut arrivals = Vec::new();
    let mut releases = Vec::new();
    let mut recorded = Vec::new();
    let mut all_runs = Vec::new();
    for n in 0..total {
        let (rs, as_) = runs_of(n, total);
        let last = rs.iter().map(|r| r.finished_at).max().unwrap_or(END);
        let first = &rs[0];
        releases.push(format!(
            "('{}', '{}', {}, 'SUCCEEDED', 'standard', 'bench', {}, {last}, {last}, '[]')",
            first.release_id,
            first.product,
            first.number,
            first.started_at.unwrap_or(last) - MINUTE,
        ));
        recorded.push(format!(
            "('{}', '{}', {last}, {}, 1)",
            first.release_id,
            first.product,
            ferry_store::INSIGHT_FACTS_VERSION
        ));
        for r in &rs {
            let p = |ph: Phase| lit(r.phases.get(ph));
            runs.push(format!(
                "('{}', '{}', '{}', {}, {}, {}, {}, '{}', NULL, {}, {}, {}, {}, {}, {}, \
                 {}, {}, {}, {}, {}, {}, {}, {})",
                r.release_id,
                r.environment,
                r.product,
                r.number,
                i64::from(r.trigger),
                i64::from(r.rollback),
                i64::from(r.hotfix),
                r.status.as_str(),
                i64::from(r.is_deployment()),
                lit(r.started_at),
                lit(r.changed_at),
                lit(r.running_at),
                r.finished_at,
                lit(r.failed_at),
                p(Phase::Queue),
                p(Phase::Window),
                p(Phase::PreAction),
                p(Phase::Commit),
                p(Phase::PullRequest),
                p(Phase::Sync),
                p(Phase::PostAction),
                p(Phase::Hooks),
            ));
        }
        for a in as_ {
            arrivals.push(format!(
                "('{}', '{}', '{}', {}, {}, '{}')",
                a.product, a.environment, a.sha, a.committed_at, a.arrived_at, a.release_id
            ));
        }
        all_runs.extend(rs);
    }
    let seen: Vec<String> = ferry_insights::first_seen_of(&all_runs)
        .into_iter()
        .map(|f| format!("('{}', '{}', {})", f.product, f.environment, f.at))
        .collect();
    let mut out = Vec::new();
    for (head, rows) in [
        (
            "INSERT INTO releases (id, product, number, status, flow, initiator, created_at, \
             finished_at, updated_at, environments) VALUES ",
            &releases,
        ),
        (
            "INSERT INTO insight_releases (release_id, product, finished_at, version, arrivals) \
             VALUES ",
            &recorded,
        ),
        (
            "INSERT INTO insight_runs (release_id, environment, product, number, trigger_env, \
             rollback, hotfix, status, termination, deployment, started_at, changed_at, \
             running_at, finished_at, failed_at, queue_ms, window_ms, pre_action_ms, commit_ms, \
             pull_request_ms, sync_ms, post_action_ms, hooks_ms) VALUES ",
            &runs,
        ),
        (
            "INSERT INTO insight_arrivals (product, environment, sha, committed_at, arrived_at, \
             release_id) VALUES ",
            &arrivals,
        ),
        (
            "INSERT INTO insight_environments (product, environment, first_at) VALUES ",
            &seen,
        ),
    ] {
        for chunk in rows.chunks(ROWS) {
            out.push(format!("{head}{}", chunk.join(", ")));
        }
    }
    out
}

/// Runs `statements` in one transaction on a raw pool of either backend.
macro_rules! seed {
    ($pool:expr, $statements:expr) => {{
        let t = Instant::now();
        let mut tx = $pool.begin().await.expect("begin");
        for sql in $statements {
            sqlx::query(sql).execute(&mut *tx).await.expect("seeded");
        }
        tx.commit().await.expect("commit");
        t.elapsed()
    }};
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median_of(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// What a report computed now costs from the day aggregates (the
/// keeper's path) and from the raw facts (the path before them).
async fn aggregated(store: &Store, products: &[ProductScope], period: Period) -> (Report, usize) {
    let t = Instant::now();
    let days = store
        .insight_days(ProductFilter::All, period)
        .await
        .expect("days");
    if std::env::var_os("FERRY_INSIGHTS_BENCH_SPLIT").is_some() {
        let bytes: usize = days.days.iter().map(|d| d.facts.len()).sum();
        println!("  read {:.1} ms ({bytes} bytes)", ms(t.elapsed()));
    }
    let t = Instant::now();
    let report = compute_days(
        &Query {
            period,
            products: products.to_vec(),
        },
        &days.days,
        &days.first_seen,
    )
    .expect("aggregates decode");
    if std::env::var_os("FERRY_INSIGHTS_BENCH_SPLIT").is_some() {
        println!("  compute {:.1} ms", ms(t.elapsed()));
    }
    (report, days.days.len())
}

async fn raw(store: &Store, products: &[ProductScope], period: Period) -> (Report, usize) {
    let facts = store
        .insight_history(ProductFilter::All, period)
        .await
        .expect("history");
    let report = compute(
        &Query {
            period,
            products: products.to_vec(),
        },
        &History {
            runs: &facts.runs,
            arrivals: &facts.arrivals,
            first_seen: &facts.first_seen,
        },
    );
    (report, facts.runs.len() + facts.arrivals.len())
}

async fn measure(backend: &str, store: &Store, iters: usize, count: impl AsyncFn(Period) -> i64) {
    let products = scopes();
    // Whole days, and a period starting and ending within a day (its edge
    // days' entries filtered).
    for (name, from, to) in [
        ("30 days", END - 30 * DAY, END),
        ("30 d, mid-day", END - 30 * DAY - 7 * HOUR, END - 5 * HOUR),
        ("365 days", END - 365 * DAY, END),
    ] {
        let period = Period::new(from, to).expect("period");
        let (mut days_t, mut raw_t, mut kept_t, mut count_t) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut day_rows, mut fact_rows, mut deployments) = (0, 0, 0);
        let mut kept = None;
        for _ in 0..iters {
            let t = Instant::now();
            let (report, rows) = aggregated(store, &products, period).await;
            days_t.push(t.elapsed());
            day_rows = rows;
            deployments = report
                .products
                .iter()
                .filter_map(|p| p.measures.as_ref())
                .map(|m| m.deployment_frequency.deployments)
                .sum::<u64>();
            kept = Some(report);
        }
        let kept = kept.expect("computed at least once");
        // (FERRY_INSIGHTS_BENCH_SKIP_RAW: once, for a quicker run.)
        let raw_iters = if std::env::var_os("FERRY_INSIGHTS_BENCH_SKIP_RAW").is_some() {
            1
        } else {
            iters
        };
        for _ in 0..raw_iters {
            let t = Instant::now();
            let (report, rows) = raw(store, &products, period).await;
            raw_t.push(t.elapsed());
            fact_rows = rows;
            assert!(
                report == kept,
                "the day aggregates give the raw facts' figures"
            );
        }
        // The keeper's cache hit: catch up (nothing finished since its
        // watermark), read the generation, hand out the kept report.
        for _ in 0..KEPT_ITERS {
            let t = Instant::now();
            let backlog = store
                .insight_backlog(Some(END - 10 * MINUTE), None, 200)
                .await
                .expect("backlog");
            let generation = store.insight_generation().await.expect("generation");
            let report = std::hint::black_box(kept.clone());
            kept_t.push(t.elapsed());
            assert!(backlog.is_empty() && generation >= 0 && report == kept);
        }
        for _ in 0..KEPT_ITERS {
            let t = Instant::now();
            let n = count(period).await;
            count_t.push(t.elapsed());
            assert!(n > 0, "the period has runs");
        }
        let (d, r, k, c) = (
            median_of(days_t),
            median_of(raw_t),
            median_of(kept_t),
            median_of(count_t),
        );
        let x = |v: Duration| v.as_secs_f64() / c.as_secs_f64();
        println!(
            "{backend:<8} {name:<13} aggregated {:>8.1} ms ({:>5.1}× count, {day_rows} day rows)  raw {:>9.1} ms ({:>6.0}× count, {fact_rows} rows; {:.0}× aggregated)  kept {:>6.3} ms  count {:>7.3} ms  ({deployments} successful production deployments)",
            ms(d),
            x(d),
            ms(r),
            x(r),
            r.as_secs_f64() / d.as_secs_f64(),
            ms(k),
            ms(c),
        );
    }
}

/// Builds the day aggregates of the facts written straight into the
/// tables — the path migration 35 takes for an existing database.
async fn aggregate(backend: &str, store: &Store) {
    let t = Instant::now();
    store.rebuild_insight_days().await.expect("mark");
    let built = store.build_stale_insight_days().await.expect("build");
    println!(
        "{backend}: built the day aggregates of {built} environments in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}

fn main() {
    let total: usize = std::env::var("FERRY_INSIGHTS_BENCH_RELEASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let iters: usize = std::env::var("FERRY_INSIGHTS_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(5);
    let backends =
        std::env::var("FERRY_INSIGHTS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "insights over {total} releases × {} environments, {PRODUCTS} products, over 365 days; computed: median of {iters}, kept and count: median of {KEPT_ITERS}",
        ENVS.len()
    );
    let statements = seed_statements(total);
    if backends.contains("sqlite") {
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("ferry.db");
            let store = Store::open_sqlite_file(&path).await.expect("store");
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("raw pool");
            let seeded = seed!(pool, &statements);
            sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
            println!("sqlite: seeded in {:.1} s", seeded.as_secs_f64());
            aggregate("sqlite", &store).await;
            sqlx::query("ANALYZE").execute(&pool).await.expect("analyze");
            measure("sqlite", &store, iters, async |p: Period| {
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
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .expect("raw pool");
            let seeded = seed!(pool, &statements);
            // What autovacuum does to a database this size: statistics and
            // the visibility map (index-only scans).
            sqlx::query("VACUUM ANALYZE")
                .execute(&pool)
                .await
                .expect("vacuum");
            println!("postgres: seeded in {:.1} s", seeded.as_secs_f64());
            aggregate("postgres", &store).await;
            sqlx::query("VACUUM ANALYZE")
                .execute(&pool)
                .await
                .expect("vacuum");
            measure("postgres", &store, iters, async |p: Period| {
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
