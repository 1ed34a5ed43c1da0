//! Insights page benchmark (issue 21's "page render ≤ 20 ms"): the
//! product page and the across-products page of a report over 365 days
//! (53 weeks of trend bars) for 10 products × 5 environments, computed
//! from 100,000 releases' facts, rendered by
//! `ferry_ui::render_insights_page` (view model, SVG charts and askama
//! template) against the named baseline "JSON": `serde_json::to_vec` of
//! the same report, what `GET /api/v1/insights` does with it. Both in
//! the same run.
//!
//! Run: `cargo bench -p ferry-ui --bench insights_page`
//! (`FERRY_INSIGHTS_PAGE_ITERS`, default 200).

use std::time::{Duration, Instant};

use ferry_insights::period::{DAY, MINUTE};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, History, Millis, Period, Phase, Phases, ProductScope, Query,
    RunStatus, compute, first_seen_of,
};

const ENVS: [&str; 5] = ["dev", "qa", "staging", "prod-eu", "prod-us"];
const PRODUCTS: usize = 10;
const RELEASES: usize = 100_000;
/// 2026-12-07 00:00 UTC.
const END: Millis = 1_796_601_600_000;

/// Every release through every environment, an hour apart; one in 12
/// failing in production; phases varying with the release.
fn history() -> (Vec<EnvRun>, Vec<Arrival>) {
    let mut runs = Vec::with_capacity(RELEASES * ENVS.len());
    let mut arrivals = Vec::new();
    for n in 0..RELEASES {
        let created = END - 365 * DAY + (n as Millis * 365 * DAY) / RELEASES as Millis;
        for (i, env) in ENVS.iter().enumerate() {
            let end = created + (i as Millis + 1) * 60 * MINUTE;
            let failed = env.starts_with("prod") && n % 12 == 5;
            let mut phases = Phases::default();
            phases.set(Phase::Sync, Some((n as Millis % 9 + 1) * MINUTE));
            phases.set(Phase::PullRequest, Some((n as Millis % 50) * MINUTE));
            let run = EnvRun {
                release_id: format!("r{n}"),
                product: format!("product-{:02}", n % PRODUCTS),
                number: (n / PRODUCTS) as u64 + 1,
                environment: (*env).into(),
                trigger: i == 0,
                rollback: false,
                hotfix: false,
                status: if failed {
                    RunStatus::Failed
                } else {
                    RunStatus::Successful
                },
                termination: None,
                started_at: Some(end - 50 * MINUTE),
                changed_at: (i > 0).then_some(end - 40 * MINUTE),
                running_at: (i > 0 && !failed).then_some(end - 5 * MINUTE),
                finished_at: end,
                failed_at: failed.then_some(end),
                phases,
            };
            if let Some(at) = run.running_at {
                arrivals.push(Arrival {
                    product: run.product.clone(),
                    environment: run.environment.clone(),
                    sha: format!("{n:040x}"),
                    committed_at: created - (n as Millis % 30) * 60 * MINUTE,
                    arrived_at: at,
                    release_id: run.release_id.clone(),
                });
            }
            runs.push(run);
        }
    }
    (runs, arrivals)
}

/// The median time of `f` over `iters` calls, and what it returned.
fn time(iters: usize, mut f: impl FnMut() -> usize) -> (Duration, usize) {
    let mut all = Vec::with_capacity(iters);
    let mut size = 0;
    for _ in 0..iters {
        let t = Instant::now();
        size = f();
        all.push(t.elapsed());
    }
    all.sort();
    (all[iters / 2], size)
}

fn main() {
    let iters: usize = std::env::var("FERRY_INSIGHTS_PAGE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let (runs, arrivals) = history();
    let first_seen = first_seen_of(&runs);
    let period = Period::new(END - 365 * DAY, END).expect("period");
    let report = compute(
        &Query {
            period,
            products: (0..PRODUCTS)
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
                .collect(),
        },
        &History {
            runs: &runs,
            arrivals: &arrivals,
            first_seen: &first_seen,
        },
    );
    let mut one = report.clone();
    one.products.truncate(1);
    println!(
        "Insights page render over 365 days, {PRODUCTS} products × {} environments ({RELEASES} releases); median of {iters}",
        ENVS.len()
    );
    for (name, r, product) in [
        ("product page", &one, Some("product-00")),
        ("across products", &report, None),
    ] {
        let (page, html) = time(iters, || {
            ferry_ui::render_insights_page(r, product)
                .expect("renders")
                .len()
        });
        let (json, bytes) = time(iters, || serde_json::to_vec(r).expect("serialises").len());
        println!(
            "{name:<16} render {:>7.3} ms ({:>6} KB)  JSON {:>7.3} ms ({:>6} KB)  ratio {:>5.1}×",
            page.as_secs_f64() * 1000.0,
            html / 1024,
            json.as_secs_f64() * 1000.0,
            bytes / 1024,
            page.as_secs_f64() / json.as_secs_f64()
        );
    }
}
