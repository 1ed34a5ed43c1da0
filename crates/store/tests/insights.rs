//! Delivery insights' facts on both backends (issue 21): what the store
//! loads for a period gives the figures of the whole history, whatever
//! order the facts were recorded in; the earliest arrival and first run
//! win; a recorded failure survives a successful retry; the backlog names
//! exactly the releases whose facts are missing or stale.

mod common;
mod pg_cluster;

use ferry_insights::aggregate::compute_days;
use ferry_insights::period::{DAY, HOUR, MINUTE};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, History, Millis, Period, Phase, Phases, ProductScope, Query,
    RunStatus, compute, first_seen_of,
};
use ferry_release::{ReleaseStatus, TerminationReason};
use ferry_store::{ProductFilter, Store};

/// Monday 2026-01-05 00:00 UTC.
const T0: Millis = 1_767_571_200_000;

fn env_run(product: &str, n: u64, env: &str, status: RunStatus, at: Millis) -> EnvRun {
    let changed = !(n.is_multiple_of(13) && env == "prod");
    let mut phases = Phases::default();
    phases.set(Phase::PreAction, Some((n as Millis % 9) * MINUTE));
    phases.set(Phase::Sync, Some((n as Millis % 4) * MINUTE + 1));
    if env == "qa" {
        phases.set(Phase::Queue, Some((n as Millis % 3) * MINUTE));
    }
    let termination = (status == RunStatus::Terminated).then(|| {
        if n.is_multiple_of(2) {
            TerminationReason::User
        } else {
            TerminationReason::Superseded
        }
    });
    EnvRun {
        release_id: format!("{product}-{n:03}"),
        product: product.into(),
        number: n,
        environment: env.into(),
        trigger: false,
        rollback: n.is_multiple_of(9),
        hotfix: n.is_multiple_of(11),
        status,
        termination,
        started_at: Some(at - 30 * MINUTE),
        changed_at: changed.then_some(at - 20 * MINUTE),
        running_at: (changed && status == RunStatus::Successful).then_some(at - 10 * MINUTE),
        finished_at: at,
        failed_at: (changed
            && (status == RunStatus::Failed
                || termination == Some(TerminationReason::User)
                || n.is_multiple_of(17)))
        .then_some(at - 5 * MINUTE),
        phases,
    }
}

/// 60 releases of `shop` (qa, then prod two hours later) and 20 of
/// `api` (prod only), every 5 hours from T0 − 2 days.
fn history() -> (Vec<EnvRun>, Vec<Arrival>) {
    let mut runs = Vec::new();
    let mut arrivals = Vec::new();
    for n in 1..=60u64 {
        let at = T0 - 2 * DAY + n as Millis * 5 * HOUR;
        let status = match n % 7 {
            3 => RunStatus::Failed,
            5 => RunStatus::Terminated,
            _ => RunStatus::Successful,
        };
        runs.push(env_run("shop", n, "qa", RunStatus::Successful, at));
        runs.push(env_run("shop", n, "prod", status, at + 2 * HOUR));
        if n <= 20 {
            runs.push(env_run("api", n, "prod", status, at + HOUR));
        }
        for (i, env) in ["qa", "prod"].into_iter().enumerate() {
            arrivals.push(Arrival {
                product: "shop".into(),
                environment: env.into(),
                sha: format!("{n:040x}"),
                committed_at: at - (n as Millis % 5 + 1) * HOUR,
                arrived_at: at + i as Millis * 2 * HOUR,
                release_id: format!("shop-{n:03}"),
            });
        }
    }
    (runs, arrivals)
}

fn scopes() -> Vec<ProductScope> {
    let scope = |name: &str, envs: &[&str]| ProductScope {
        name: name.into(),
        environments: envs
            .iter()
            .map(|e| EnvScope {
                name: (*e).into(),
                production: *e == "prod",
            })
            .collect(),
    };
    vec![scope("shop", &["qa", "prod"]), scope("api", &["prod"])]
}

/// Records every run of each release in one call, the releases in an
/// order unlike their history.
async fn record(store: &Store, runs: &[EnvRun], arrivals: &[Arrival]) {
    let mut ids: Vec<&str> = runs.iter().map(|r| r.release_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.sort_by_key(|id| id.bytes().rev().collect::<Vec<u8>>());
    for id in ids {
        let of: Vec<EnvRun> = runs
            .iter()
            .filter(|r| r.release_id == id)
            .cloned()
            .collect();
        store
            .record_insight_runs(id, &of[0].product, Some(of[0].finished_at), &of)
            .await
            .unwrap();
    }
    let (odd, even): (Vec<Arrival>, Vec<Arrival>) = arrivals
        .iter()
        .cloned()
        .partition(|a| a.committed_at % 2 == 1);
    store.record_arrivals(&even, None).await.unwrap();
    store.record_arrivals(&odd, None).await.unwrap();
}

async fn facts_give_the_whole_historys_figures(url: &str) {
    let store = Store::open(url).await.unwrap();
    let (runs, arrivals) = history();
    record(&store, &runs, &arrivals).await;
    let first_seen = first_seen_of(&runs);
    let periods = [
        (T0, T0 + 3 * DAY),
        (T0 + 2 * DAY, T0 + 9 * DAY),
        (T0 - 10 * DAY, T0 + 40 * DAY),
        (T0 + 30 * DAY, T0 + 31 * DAY),
    ];
    for (from, to) in periods {
        let period = Period::new(from, to).unwrap();
        let query = Query {
            period,
            products: scopes(),
        };
        let whole = compute(
            &query,
            &History {
                runs: &runs,
                arrivals: &arrivals,
                first_seen: &first_seen,
            },
        );
        let loaded = store
            .insight_history(ProductFilter::All, period)
            .await
            .unwrap();
        let from_store = compute(
            &query,
            &History {
                runs: &loaded.runs,
                arrivals: &loaded.arrivals,
                first_seen: &loaded.first_seen,
            },
        );
        assert_eq!(whole, from_store, "{period:?}");
        let days = store
            .insight_days(ProductFilter::All, period)
            .await
            .unwrap();
        assert_eq!(
            compute_days(&query, &days.days, &days.first_seen).unwrap(),
            whole,
            "from day aggregates, {period:?}"
        );
        let shop = store
            .insight_history(ProductFilter::One("shop"), period)
            .await
            .unwrap();
        assert!(shop.runs.iter().all(|r| r.product == "shop"));
        assert!(shop.first_seen.iter().all(|f| f.product == "shop"));
        let shop_only = compute(
            &Query {
                period,
                products: scopes()[..1].to_vec(),
            },
            &History {
                runs: &shop.runs,
                arrivals: &shop.arrivals,
                first_seen: &shop.first_seen,
            },
        );
        assert_eq!(shop_only.products[0], whole.products[0]);
    }
    // The figures are not empty: the history has deployments, failures
    // and recoveries in the widest period.
    let wide = store
        .insight_history(
            ProductFilter::One("shop"),
            Period::new(T0 - 10 * DAY, T0 + 40 * DAY).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(wide.runs.len(), 120);
    assert_eq!(wide.arrivals.len(), 120);
    let stored = wide
        .runs
        .iter()
        .find(|r| r.release_id == "shop-010" && r.environment == "qa")
        .unwrap();
    let expected = runs
        .iter()
        .find(|r| r.release_id == "shop-010" && r.environment == "qa")
        .unwrap();
    assert_eq!(stored, expected, "every field round-trips");
    store.close().await;
}

async fn order_independent_rules(url: &str) {
    let store = Store::open(url).await.unwrap();
    // A failure recorded once is kept when the retry succeeds.
    let failed = env_run("web", 1, "prod", RunStatus::Failed, T0 + HOUR);
    store
        .record_insight_runs(
            "web-001",
            "web",
            Some(T0 + HOUR),
            std::slice::from_ref(&failed),
        )
        .await
        .unwrap();
    let mut retried = env_run("web", 1, "prod", RunStatus::Successful, T0 + 3 * HOUR);
    retried.failed_at = None;
    store
        .record_insight_runs(
            "web-001",
            "web",
            Some(T0 + 3 * HOUR),
            std::slice::from_ref(&retried),
        )
        .await
        .unwrap();
    let period = Period::new(T0, T0 + DAY).unwrap();
    let h = store
        .insight_history(ProductFilter::One("web"), period)
        .await
        .unwrap();
    assert_eq!(h.runs.len(), 1);
    assert_eq!(h.runs[0].status, RunStatus::Successful);
    assert_eq!(h.runs[0].finished_at, T0 + 3 * HOUR);
    assert_eq!(h.runs[0].failed_at, failed.failed_at, "the failure is kept");
    // When the environment was first seen: the earliest run, whatever
    // order they were recorded in.
    assert_eq!(h.first_seen.len(), 1);
    assert_eq!(h.first_seen[0].at, T0 + HOUR - 30 * MINUTE);

    // The earliest arrival of a commit in an environment wins.
    let arrival = |at: Millis, release: &str| Arrival {
        product: "web".into(),
        environment: "prod".into(),
        sha: "c0ffee".into(),
        committed_at: T0,
        arrived_at: at,
        release_id: release.into(),
    };
    for (at, release) in [
        (T0 + 10 * HOUR, "late"),
        (T0 + 5 * HOUR, "early"),
        (T0 + 7 * HOUR, "middle"),
    ] {
        store
            .record_arrivals(&[arrival(at, release)], None)
            .await
            .unwrap();
    }
    let h = store
        .insight_history(ProductFilter::One("web"), period)
        .await
        .unwrap();
    assert_eq!(h.arrivals, [arrival(T0 + 5 * HOUR, "early")]);

    // What prod ran before a deployment ending at T0 + 3 h 1 ms: the
    // retried release; before it, nothing.
    assert_eq!(
        store
            .previous_deployment("web", "prod", T0 + 3 * HOUR + 1)
            .await
            .unwrap()
            .as_ref()
            .map(|(id, n)| (id.as_str(), *n)),
        Some(("web-001", 1))
    );
    assert_eq!(
        store
            .previous_deployment("web", "prod", T0 + 3 * HOUR)
            .await
            .unwrap(),
        None
    );
    store.close().await;
}

async fn backlog_names_missing_and_stale_facts(url: &str) {
    let store = Store::open(url).await.unwrap();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let r = common::release("shop");
        let created = match store.create_release(r, None, vec![]).await.unwrap() {
            ferry_store::Created::New(r, _) => r,
            other => panic!("{other:?}"),
        };
        ids.push(created);
    }
    assert!(
        store
            .insight_backlog(None, None, 100)
            .await
            .unwrap()
            .is_empty(),
        "none finished"
    );
    let finish = |mut r: ferry_release::Release, minutes: i64| {
        r.status = ReleaseStatus::Succeeded;
        r.termination = None;
        r.finished_at = Some(r.created_at + time::Duration::minutes(minutes));
        r
    };
    let done: Vec<ferry_release::Release> =
        ids.iter().take(2).map(|r| finish(r.clone(), 10)).collect();
    for r in &done {
        store.save(r, vec![]).await.unwrap();
    }
    let mut expected: Vec<String> = done.iter().map(|r| r.id.clone()).collect();
    expected.sort();
    assert_eq!(
        store.insight_backlog(None, None, 100).await.unwrap(),
        expected
    );
    // Paged by id.
    assert_eq!(
        store
            .insight_backlog(None, Some(&expected[0]), 100)
            .await
            .unwrap(),
        expected[1..]
    );
    let finished = |r: &ferry_release::Release| ferry_insights::millis(r.finished_at.unwrap());
    // Recorded, but not its arrivals yet: still listed; then done.
    store
        .record_insight_runs(&done[0].id, "shop", Some(finished(&done[0])), &[])
        .await
        .unwrap();
    assert!(
        store
            .insight_backlog(None, None, 100)
            .await
            .unwrap()
            .contains(&done[0].id)
    );
    store.record_arrivals(&[], Some(&done[0].id)).await.unwrap();
    assert_eq!(
        store.insight_backlog(None, None, 100).await.unwrap(),
        [done[1].id.clone()]
    );
    // Finished again later (a retry): stale.
    let again = finish(done[0].clone(), 50);
    store.save(&again, vec![]).await.unwrap();
    assert!(
        store
            .insight_backlog(None, None, 100)
            .await
            .unwrap()
            .contains(&done[0].id)
    );
    // Recorded while it ran: stale once it finished.
    store
        .record_insight_runs(&ids[2].id, "shop", None, &[])
        .await
        .unwrap();
    store.record_arrivals(&[], Some(&ids[2].id)).await.unwrap();
    assert!(
        !store
            .insight_backlog(None, None, 100)
            .await
            .unwrap()
            .contains(&ids[2].id)
    );
    store
        .save(&finish(ids[2].clone(), 5), vec![])
        .await
        .unwrap();
    assert!(
        store
            .insight_backlog(None, None, 100)
            .await
            .unwrap()
            .contains(&ids[2].id)
    );
    // Only those finished since an instant, and at most `limit`.
    let since = finished(&again);
    assert_eq!(
        store.insight_backlog(Some(since), None, 100).await.unwrap(),
        [done[0].id.clone()]
    );
    assert_eq!(store.insight_backlog(None, None, 1).await.unwrap().len(), 1);
    store.close().await;
}

/// Every write of facts changes the generation a cached report is tagged
/// with, whoever writes (another store on the same database: a replica);
/// reads and empty writes do not.
async fn generation_counts_every_write(url: &str) {
    let store = Store::open(url).await.unwrap();
    let replica = Store::open(url).await.unwrap();
    let g0 = store.insight_generation().await.unwrap();
    let run = env_run("web", 1, "prod", RunStatus::Successful, T0 + HOUR);
    replica
        .record_insight_runs(
            "web-001",
            "web",
            Some(T0 + HOUR),
            std::slice::from_ref(&run),
        )
        .await
        .unwrap();
    let g1 = store.insight_generation().await.unwrap();
    assert_ne!(g1, g0, "runs recorded by a replica");
    store
        .insight_history(ProductFilter::All, Period::new(T0, T0 + DAY).unwrap())
        .await
        .unwrap();
    store.record_arrivals(&[], None).await.unwrap();
    assert_eq!(
        store.insight_generation().await.unwrap(),
        g1,
        "nothing written"
    );
    let arrival = Arrival {
        product: "web".into(),
        environment: "prod".into(),
        sha: "c0ffee".into(),
        committed_at: T0,
        arrived_at: T0 + HOUR,
        release_id: "web-001".into(),
    };
    store.record_arrivals(&[arrival], None).await.unwrap();
    let g2 = replica.insight_generation().await.unwrap();
    assert!(g2 != g1 && g2 != g0, "arrivals recorded");
    store.record_arrivals(&[], Some("web-001")).await.unwrap();
    assert_ne!(
        store.insight_generation().await.unwrap(),
        g2,
        "arrivals marked complete"
    );
    replica.close().await;
    store.close().await;
}

/// Periods on and off day boundaries around T0.
fn periods() -> Vec<Period> {
    [
        (T0, T0 + 3 * DAY),
        (T0 + 5 * HOUR + 17 * MINUTE, T0 + 9 * DAY + 3 * HOUR),
        (T0 - 10 * DAY, T0 + 40 * DAY),
        (T0 + DAY + 1, T0 + DAY + 7 * HOUR),
        (T0 - 2 * DAY + 13 * HOUR, T0 + 6 * DAY - 1),
    ]
    .into_iter()
    .map(|(from, to)| Period::new(from, to).unwrap())
    .collect()
}

/// The figures from the day aggregates are the figures from the raw
/// facts, for every product and for one; and the aggregates kept up as
/// facts were recorded are the ones built again from all the facts.
async fn assert_aggregates_match(store: &Store, what: &str) {
    for period in periods() {
        for (filter, products) in [
            (ProductFilter::All, scopes()),
            (ProductFilter::One("shop"), scopes()[..1].to_vec()),
        ] {
            let query = Query { period, products };
            let raw = store.insight_history(filter, period).await.unwrap();
            let raw = compute(
                &query,
                &History {
                    runs: &raw.runs,
                    arrivals: &raw.arrivals,
                    first_seen: &raw.first_seen,
                },
            );
            let days = store.insight_days(filter, period).await.unwrap();
            let aggregated = compute_days(&query, &days.days, &days.first_seen).unwrap();
            assert_eq!(aggregated, raw, "{what}: {period:?} {filter:?}");
        }
    }
    let wide = Period::new(T0 - 100 * DAY, T0 + 100 * DAY).unwrap();
    let kept = store.insight_days(ProductFilter::All, wide).await.unwrap();
    store.rebuild_insight_days().await.unwrap();
    let rebuilt = store.insight_days(ProductFilter::All, wide).await.unwrap();
    let key =
        |d: &ferry_insights::aggregate::DayRow| (d.product.clone(), d.environment.clone(), d.day);
    let (mut kept, mut rebuilt) = (kept.days, rebuilt.days);
    kept.sort_by_key(key);
    rebuilt.sort_by_key(key);
    assert_eq!(kept, rebuilt, "{what}: kept aggregates == rebuilt ones");
}

/// Facts that change after they were aggregated — a run recorded again
/// with another end (a retry that failed, a release terminated later), a
/// rollback and a hotfix release classifying the deployments before them,
/// an earlier arrival of a commit moving its lead time to another day —
/// change the aggregates exactly as the raw facts' figures.
async fn aggregates_follow_every_change(url: &str) {
    let store = Store::open(url).await.unwrap();
    let (runs, arrivals) = history();
    record(&store, &runs, &arrivals).await;
    assert!(
        !store
            .insight_days(ProductFilter::All, periods()[2])
            .await
            .unwrap()
            .days
            .is_empty()
    );
    assert_aggregates_match(&store, "recorded out of order").await;
    // A successful prod deployment recorded again as failed, a day later.
    let mut again = runs
        .iter()
        .find(|r| r.release_id == "shop-008" && r.environment == "prod")
        .unwrap()
        .clone();
    assert_eq!(again.status, RunStatus::Successful);
    again.status = RunStatus::Failed;
    again.running_at = None;
    again.failed_at = Some(again.finished_at + DAY - MINUTE);
    again.finished_at += DAY;
    store
        .record_insight_runs("shop-008", "shop", Some(again.finished_at), &[again])
        .await
        .unwrap();
    assert_aggregates_match(&store, "a run recorded again").await;
    // A rollback and a hotfix release after deployments of the period.
    for (n, rollback) in [(901u64, true), (902, false)] {
        let mut r = env_run(
            "shop",
            n,
            "prod",
            RunStatus::Successful,
            T0 + 2 * DAY + n as Millis,
        );
        r.rollback = rollback;
        r.hotfix = !rollback;
        store
            .record_insight_runs(&r.release_id.clone(), "shop", Some(r.finished_at), &[r])
            .await
            .unwrap();
        assert_aggregates_match(&store, "a rollback or a hotfix").await;
    }
    // A release terminated in prod, recorded while it ran and after.
    let running = env_run("shop", 903, "qa", RunStatus::Successful, T0 + 4 * DAY);
    store
        .record_insight_runs("shop-903", "shop", None, std::slice::from_ref(&running))
        .await
        .unwrap();
    let ended = env_run(
        "shop",
        903,
        "prod",
        RunStatus::Terminated,
        T0 + 4 * DAY + 3 * HOUR,
    );
    store
        .record_insight_runs("shop-903", "shop", Some(T0 + 5 * DAY), &[running, ended])
        .await
        .unwrap();
    assert_aggregates_match(&store, "a terminated release").await;
    // A commit found earlier in prod: its lead time moves to another day.
    let mut earlier = arrivals
        .iter()
        .find(|a| a.environment == "prod" && a.arrived_at > T0 + 3 * DAY)
        .unwrap()
        .clone();
    earlier.arrived_at -= 2 * DAY + HOUR;
    store.record_arrivals(&[earlier], None).await.unwrap();
    assert_aggregates_match(&store, "an earlier arrival").await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_on_sqlite() {
    for check in 0..5 {
        let (_dir, url) = common::sqlite_url();
        match check {
            0 => facts_give_the_whole_historys_figures(&url).await,
            1 => order_independent_rules(&url).await,
            2 => generation_counts_every_write(&url).await,
            3 => aggregates_follow_every_change(&url).await,
            _ => backlog_names_missing_and_stale_facts(&url).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insights_on_postgres() {
    let cluster = pg_cluster::Cluster::start();
    facts_give_the_whole_historys_figures(&cluster.database("t_insight_facts").await).await;
    order_independent_rules(&cluster.database("t_insight_rules").await).await;
    backlog_names_missing_and_stale_facts(&cluster.database("t_insight_backlog").await).await;
    generation_counts_every_write(&cluster.database("t_insight_generation").await).await;
    aggregates_follow_every_change(&cluster.database("t_insight_days").await).await;
}
