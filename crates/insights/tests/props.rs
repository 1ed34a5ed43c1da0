//! Properties over random histories: the order facts are stored in
//! changes no figure, and the figures of a period are the same from the
//! whole history as from what the store loads for the period.

mod common;

use common::*;
use ferry_insights::period::{HOUR, MINUTE};
use ferry_insights::{Arrival, EnvRun, Millis, Phase, first_seen_of};
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
}
