//! Properties over random histories: the order facts are stored in
//! changes no figure, and the figures of a period are the same from the
//! whole history as from what the store loads for the period.

mod common;

use common::*;
use ferry_insights::aggregate::{DayRow, compute_days, day_buckets, day_of, merge_days, split};
use ferry_insights::period::{DAY, HOUR, MINUTE, WEEK};
use ferry_insights::{Arrival, EnvRun, Millis, Period, Phase, Query, first_seen_of};
use ferry_release::TerminationReason;
use proptest::prelude::*;

const ENVS: [&str; 3] = ["qa", "prod-eu", "prod-us"];

/// One environment's run of a random release: (outcome, hours after the
/// release's time, a phase duration in minutes).
type EnvGen = (u8, u16, u16);

/// (hours since the previous release, kind, [per environment]).
type ReleaseGen = (u16, u8, [Option<EnvGen>; 3]);

fn release_gen() -> impl Strategy<Value = ReleaseGen> {
    (
        0u16..48,
        0u8..10,
        [
            proptest::option::of((0u8..9, 0u16..72, 0u16..600)),
            proptest::option::of((0u8..9, 0u16..72, 0u16..600)),
            proptest::option::of((0u8..9, 0u16..72, 0u16..600)),
        ],
    )
}

/// The runs and arrivals of random releases of two products.
fn history(gens: &[ReleaseGen], commits: &[(u8, u16, u16)]) -> (Vec<EnvRun>, Vec<Arrival>) {
    let mut runs = Vec::new();
    let mut t = day(-10.0);
    for (i, (gap, kind, envs)) in gens.iter().enumerate() {
        t += Millis::from(*gap) * HOUR;
        let product = if i % 3 == 2 { "api" } else { "shop" };
        for (env, g) in ENVS.iter().zip(envs) {
            let Some((outcome, after, minutes)) = *g else {
                continue;
            };
            let at = t + Millis::from(after) * HOUR + MINUTE;
            let mut r = run(product, i as u64 + 1, env);
            r = match outcome {
                0..=2 => r.ok(at),
                3 => r.failed(at),
                4 => r.failed_before_change(at),
                5 => r.terminated(at, TerminationReason::User, true),
                6 => r.terminated(at, TerminationReason::Superseded, true),
                7 => r.terminated(at, TerminationReason::Timeout, false),
                _ => r.retried(at - HOUR, at),
            };
            if *kind == 0 {
                r = r.rollback();
            } else if *kind == 1 {
                r = r.hotfix();
            }
            r = r
                .phase(Phase::PreAction, Millis::from(minutes) * MINUTE)
                .phase(Phase::Sync, Millis::from(minutes / 3) * MINUTE);
            if *env == "qa" {
                r = r.phase(Phase::Queue, Millis::from(minutes % 7) * MINUTE);
            }
            runs.push(r.0);
        }
    }
    let arrivals = commits
        .iter()
        .enumerate()
        .map(|(i, (env, lead, at))| {
            let arrived = day(-10.0) + Millis::from(*at) * HOUR;
            Arrival {
                product: if i % 2 == 0 { "shop" } else { "api" }.into(),
                environment: ENVS[usize::from(*env) % 3].into(),
                sha: format!("{i:040x}"),
                committed_at: arrived - Millis::from(*lead) * MINUTE,
                arrived_at: arrived,
                release_id: "r".into(),
            }
        })
        .collect();
    (runs, arrivals)
}

/// A permutation of `v` from `seed` (Fisher–Yates over a small LCG).
fn shuffled<T: Clone>(v: &[T], seed: u64) -> Vec<T> {
    let mut out = v.to_vec();
    let mut s = seed | 1;
    for i in (1..out.len()).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (s >> 33) as usize % (i + 1);
        out.swap(i, j);
    }
    out
}

fn scopes() -> Vec<ferry_insights::ProductScope> {
    vec![scope("shop", &ENVS), scope("api", &["qa", "prod-eu"])]
}

type Pair = (String, String);

/// Runs and arrivals by product and environment.
fn by_pair(runs: &[EnvRun], arrivals: &[Arrival]) -> Vec<(Pair, Vec<EnvRun>, Vec<Arrival>)> {
    let mut pairs: std::collections::BTreeMap<Pair, (Vec<EnvRun>, Vec<Arrival>)> =
        Default::default();
    for r in runs {
        let key = (r.product.clone(), r.environment.clone());
        pairs.entry(key).or_default().0.push(r.clone());
    }
    for a in arrivals {
        let key = (a.product.clone(), a.environment.clone());
        pairs.entry(key).or_default().1.push(a.clone());
    }
    pairs.into_iter().map(|(k, (r, a))| (k, r, a)).collect()
}

/// Every day aggregate of a history, as the store keeps them.
fn day_rows(runs: &[EnvRun], arrivals: &[Arrival]) -> Vec<DayRow> {
    let mut rows = Vec::new();
    for ((product, environment), runs, arrivals) in by_pair(runs, arrivals) {
        let instants = runs
            .iter()
            .map(|r| r.finished_at)
            .chain(arrivals.iter().map(|a| a.arrived_at));
        let (Some(lo), Some(hi)) = (instants.clone().min(), instants.max()) else {
            continue;
        };
        for (day, facts) in day_buckets(&runs, &arrivals, (day_of(lo), day_of(hi))) {
            rows.push(DayRow {
                product: product.clone(),
                environment: environment.clone(),
                day,
                span: DAY,
                facts,
            });
        }
    }
    rows
}

/// What the store reads for `period`: the aggregates of its whole weeks
/// (merged from their days) and of the days around them.
fn rows_for(period: Period, days: &[DayRow]) -> Vec<DayRow> {
    let s = split(period);
    let mut rows: Vec<DayRow> = days
        .iter()
        .filter(|r| s.days.iter().any(|&(from, to)| from <= r.day && r.day < to))
        .cloned()
        .collect();
    if let Some((first, end)) = s.weeks {
        let mut pairs: Vec<(String, String)> = days
            .iter()
            .map(|r| (r.product.clone(), r.environment.clone()))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        for (product, environment) in pairs {
            let mut week = first;
            while week < end {
                let mut parts: Vec<&DayRow> = days
                    .iter()
                    .filter(|r| r.product == product && r.environment == environment)
                    .filter(|r| week <= r.day && r.day < week + WEEK)
                    .collect();
                parts.sort_by_key(|r| r.day);
                let parts: Vec<(Millis, &[u8])> =
                    parts.iter().map(|r| (r.day, r.facts.as_slice())).collect();
                let facts = merge_days(&parts, week).expect("days decode");
                if !facts.is_empty() {
                    rows.push(DayRow {
                        product: product.clone(),
                        environment: environment.clone(),
                        day: week,
                        span: WEEK,
                        facts,
                    });
                }
                week += WEEK;
            }
        }
    }
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_order_facts_are_stored_in_changes_no_figure(
        gens in proptest::collection::vec(release_gen(), 0..40),
        commits in proptest::collection::vec((0u8..3, 0u16..5000, 0u16..1500), 0..30),
        seed in any::<u64>(),
        from in 0f64..60.0,
        len in 1f64..40.0,
    ) {
        let (runs, arrivals) = history(&gens, &commits);
        let first_seen = first_seen_of(&runs);
        let p = period(from - 10.0, from - 10.0 + len);
        let straight = report_with(scopes(), p, &runs, &arrivals, &first_seen);
        let mixed = report_with(
            scopes(),
            p,
            &shuffled(&runs, seed),
            &shuffled(&arrivals, seed ^ 0x9e37),
            &shuffled(&first_seen, seed ^ 0x51),
        );
        prop_assert_eq!(straight, mixed);
    }

    #[test]
    fn what_the_store_loads_for_a_period_gives_the_whole_historys_figures(
        gens in proptest::collection::vec(release_gen(), 0..40),
        commits in proptest::collection::vec((0u8..3, 0u16..5000, 0u16..1500), 0..30),
        from in 0f64..60.0,
        len in 1f64..40.0,
    ) {
        let (runs, arrivals) = history(&gens, &commits);
        let first_seen = first_seen_of(&runs);
        let p = period(from - 10.0, from - 10.0 + len);
        let whole = report_with(scopes(), p, &runs, &arrivals, &first_seen);
        let (loaded_runs, loaded_arrivals) = as_loaded(&runs, &arrivals, p);
        let loaded = report_with(scopes(), p, &loaded_runs, &loaded_arrivals, &first_seen);
        prop_assert_eq!(whole, loaded);
    }

    #[test]
    fn figures_from_day_aggregates_are_the_raw_facts_figures(
        gens in proptest::collection::vec(release_gen(), 0..40),
        commits in proptest::collection::vec((0u8..3, 0u16..5000, 0u16..1500), 0..30),
        seed in any::<u64>(),
        from in 0f64..60.0,
        len in 0.01f64..60.0,
    ) {
        let (runs, arrivals) = history(&gens, &commits);
        let first_seen = first_seen_of(&runs);
        // Periods starting and ending anywhere in a day, and on midnight
        // (whole weeks read as weeks, the days around them as days).
        let p = if seed % 4 == 0 {
            let from = day_of(day(from - 10.0));
            Period::new(from, from + (len.ceil() as Millis) * DAY).expect("period")
        } else {
            period(from - 10.0, from - 10.0 + len)
        };
        let whole = report_with(scopes(), p, &runs, &arrivals, &first_seen);
        // Aggregated from facts in any storage order; the days the period
        // touches are read, in any order.
        let days = day_rows(&shuffled(&runs, seed), &shuffled(&arrivals, seed ^ 0x9e37));
        let rows = shuffled(&rows_for(p, &days), seed ^ 0x51);
        let from_days = compute_days(&Query { period: p, products: scopes() }, &rows, &first_seen)
            .expect("aggregates decode");
        prop_assert_eq!(whole, from_days);
    }

    #[test]
    fn days_rebuilt_from_what_the_store_loads_are_the_whole_historys(
        gens in proptest::collection::vec(release_gen(), 0..40),
        commits in proptest::collection::vec((0u8..3, 0u16..5000, 0u16..1500), 0..30),
        first in -12i64..70,
        count in 0i64..20,
    ) {
        let (runs, arrivals) = history(&gens, &commits);
        let days = (day_of(day(0.0)) + first * DAY, day_of(day(0.0)) + (first + count) * DAY);
        let range = Period::new(days.0, days.1 + DAY).expect("range");
        let whole = day_rows(&runs, &arrivals);
        for ((product, environment), pair_runs, pair_arrivals) in by_pair(&runs, &arrivals) {
            // What the store reads to rebuild the days: the runs that
            // ended in them, the first deployment and the first successful
            // one after them, the arrivals in them.
            let (loaded_runs, loaded_arrivals) = as_loaded(&pair_runs, &pair_arrivals, range);
            let rebuilt = day_buckets(&loaded_runs, &loaded_arrivals, days);
            let expected: Vec<(Millis, Vec<u8>)> = whole
                .iter()
                .filter(|r| r.product == product && r.environment == environment)
                .filter(|r| range.contains(r.day))
                .map(|r| (r.day, r.facts.clone()))
                .collect();
            prop_assert_eq!(rebuilt, expected);
        }
    }
}
