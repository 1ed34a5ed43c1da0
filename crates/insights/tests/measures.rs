//! Each measure on a hand-built history whose right answer is worked out
//! beside it, one edge case per test.

mod common;

use common::*;
use ferry_insights::period::{DAY, HOUR, MINUTE};
use ferry_insights::{Band, Cause, NO_PRODUCTION, Phase};
use ferry_release::TerminationReason;

fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[test]
fn deployment_frequency_counts_successful_production_deployments_per_day() {
    // Period: 5 days. prod: 11 successful deployments in it, one failed
    // (not counted), one the day before (outside). staging deployments
    // are not production.
    let mut runs = Vec::new();
    for i in 0..11u64 {
        runs.push(run("shop", i + 1, "prod").ok(day(0.4 * i as f64 + 0.1)));
        runs.push(run("shop", i + 1, "staging").ok(day(0.4 * i as f64 + 0.05)));
    }
    runs.push(run("shop", 12, "prod").failed(day(4.9)));
    runs.push(run("shop", 13, "prod").ok(day(-1.0)));
    let r = report(
        vec![scope("shop", &["staging", "prod"])],
        period(0.0, 5.0),
        &runs,
        &[],
    );
    let p = &r.products[0];
    let f = &p.measures.as_ref().unwrap().deployment_frequency;
    // prod was first seen the day before the period: measured over 5 days.
    assert_eq!(f.deployments, 11);
    assert_eq!(f.days, 5.0);
    assert_eq!(f.per_day, Some(11.0 / 5.0));
    assert_eq!(
        f.band,
        Some(Band::Elite),
        "2.2 a day is more than one a day"
    );
    // staging alone: 11 in 5 days as well, but it is not production.
    let staging = &p.environments[0];
    assert!(!staging.production);
    assert_eq!(staging.measures.deployment_frequency.deployments, 11);
    assert_eq!(p.production_environments, ["prod"]);
}

#[test]
fn lead_time_is_commit_to_first_run_in_production() {
    // Three commits reach prod in the period after 2 h, 5 h and 30 h; one
    // arrived before the period (not counted); one reached only staging.
    let arrivals = vec![
        arrival("shop", "prod", "a", day(1.0) - hours(2.0), day(1.0)),
        arrival("shop", "prod", "b", day(2.0) - hours(5.0), day(2.0)),
        arrival("shop", "prod", "c", day(3.0) - hours(30.0), day(3.0)),
        arrival("shop", "prod", "d", day(-2.0), day(-1.0)),
        arrival("shop", "staging", "e", day(1.0) - hours(1.0), day(1.0)),
    ];
    let r = report(
        vec![scope("shop", &["staging", "prod"])],
        period(0.0, 7.0),
        &[],
        &arrivals,
    );
    let lt = &r.products[0].measures.as_ref().unwrap().lead_time;
    // Nearest rank: median = rank ⌈1.5⌉ = 2 → 5 h; p90 = rank ⌈2.7⌉ = 3 → 30 h.
    assert_eq!(lt.changes, 3);
    assert_eq!(lt.median_seconds, Some(secs(hours(5.0))));
    assert_eq!(lt.p90_seconds, Some(secs(hours(30.0))));
    assert_eq!(lt.band, Some(Band::Elite), "a 5 h median is under a day");
    let staging = &r.products[0].environments[0].measures.lead_time;
    assert_eq!(
        (staging.changes, staging.median_seconds),
        (1, Some(secs(HOUR)))
    );
    // The distribution holds the three production lead times.
    let d = &r.products[0].lead_time_distribution;
    assert_eq!(d.iter().map(|b| b.count).sum::<u64>(), 3);
    assert_eq!(d[2].count, 2, "2 h and 5 h: 1 – 6 h");
    assert_eq!(d[2].label, "1 – 6 h");
    assert_eq!(d[4].count, 1, "30 h: 1 – 3 d");
}

/// The history the failure tests share (prod only, days from T0):
/// - #1 day 1 ok
/// - #2 day 2 FAILED after the change
/// - #3 day 3 ok, then #4 (a rollback) day 3.5 ok → #3 rolled back
/// - #5 day 5 ok, then #6 (a hotfix) day 8 ok — after the period → #5 failed
fn failures() -> Vec<Run> {
    vec![
        run("shop", 1, "prod").ok(day(1.0)),
        run("shop", 2, "prod").failed(day(2.0)),
        run("shop", 3, "prod").ok(day(3.0)),
        run("shop", 4, "prod").rollback().ok(day(3.5)),
        run("shop", 5, "prod").ok(day(5.0)),
        run("shop", 6, "prod").hotfix().ok(day(8.0)),
    ]
}

#[test]
fn change_failure_rate_counts_failed_rolled_back_and_hotfixed_deployments() {
    let r = report(
        vec![scope("shop", &["prod"])],
        period(0.0, 7.0),
        &failures(),
        &[],
    );
    let cfr = &r.products[0].measures.as_ref().unwrap().change_failure_rate;
    // In the period: #1 … #5 (5 deployments, the rollback #4 included);
    // failed: #2 (FAILED), #3 (rolled back by #4), #5 (followed by the
    // hotfix #6, which ran after the period) → 3 / 5.
    assert_eq!(cfr.deployments, 5);
    assert_eq!(cfr.failed, 3);
    assert_eq!(cfr.rate, Some(0.6));
    assert_eq!(cfr.band, Some(Band::Low), "60 % meets no band's value");
    let causes: Vec<(Cause, u64)> = cfr.causes.iter().map(|c| (c.cause, c.count)).collect();
    assert_eq!(
        causes,
        [
            (Cause::Failed, 1),
            (Cause::RolledBack, 1),
            (Cause::Hotfix, 1)
        ]
    );
    // Successful ones (#1, #3, #4, #5) still count as deployments.
    let f = &r.products[0]
        .measures
        .as_ref()
        .unwrap()
        .deployment_frequency;
    assert_eq!(f.deployments, 4);
}

#[test]
fn recovery_time_runs_to_the_next_successful_deployment() {
    let r = report(
        vec![scope("shop", &["prod"])],
        period(0.0, 7.0),
        &failures(),
        &[],
    );
    let rt = &r.products[0].measures.as_ref().unwrap().recovery_time;
    // #2 failed on day 2 → #3 succeeded on day 3: 1 day.
    // #3 rolled back: from its deployment on day 3 → #4 on day 3.5: 12 h.
    // #5 hotfixed: from day 5 → #6 on day 8: 3 days (after the period,
    // still the recovery of a failure of the period).
    // Sorted: 12 h, 1 d, 3 d → median rank 2 = 1 d; p90 rank 3 = 3 d.
    assert_eq!((rt.failures, rt.unrecovered), (3, 0));
    assert_eq!(rt.median_seconds, Some(secs(DAY)));
    assert_eq!(rt.p90_seconds, Some(secs(3 * DAY)));
    assert_eq!(
        rt.band,
        Some(Band::Low),
        "a one-day median is not under a day"
    );

    // Without #6 the hotfixed failure is gone (nothing follows #5) and
    // the last failure has not recovered.
    let mut runs = failures();
    runs.pop();
    runs.push(run("shop", 6, "prod").failed(day(6.0)));
    let r = report(vec![scope("shop", &["prod"])], period(0.0, 7.0), &runs, &[]);
    let rt = &r.products[0].measures.as_ref().unwrap().recovery_time;
    // Failures: #2 (1 d), #3 (12 h), #6 (none since) → 2 recovered.
    assert_eq!((rt.failures, rt.unrecovered), (3, 1));
    assert_eq!(rt.median_seconds, Some(secs(12 * HOUR)));
    assert_eq!(rt.band, Some(Band::High));
}

#[test]
fn a_retry_that_succeeds_is_a_failed_deployment_and_its_own_recovery() {
    // #1's first attempt failed on day 1 at 10:00; the retry succeeded at 10:40.
    let runs = vec![
        run("shop", 1, "prod")
            .retried(day(1.0) + hours(10.0), day(1.0) + hours(10.0) + 40 * MINUTE),
    ];
    let r = report(vec![scope("shop", &["prod"])], period(0.0, 7.0), &runs, &[]);
    let m = r.products[0].measures.as_ref().unwrap();
    assert_eq!(m.deployment_frequency.deployments, 1);
    assert_eq!(
        (
            m.change_failure_rate.deployments,
            m.change_failure_rate.failed
        ),
        (1, 1)
    );
    assert_eq!(m.change_failure_rate.causes[0].cause, Cause::Retried);
    assert_eq!(m.recovery_time.median_seconds, Some(secs(40 * MINUTE)));
    assert_eq!(m.recovery_time.band, Some(Band::Elite));
}

#[test]
fn terminated_releases() {
    let runs = vec![
        run("shop", 1, "prod").ok(day(1.0)),
        // Terminated by a person after its commit reached prod: failed.
        run("shop", 2, "prod").terminated(day(2.0), TerminationReason::User, true),
        // Timed out waiting for sync: failed.
        run("shop", 3, "prod").terminated(day(3.0), TerminationReason::Timeout, true),
        // Superseded by #5 after its commit: not a deployment at all.
        run("shop", 4, "prod").terminated(day(4.0), TerminationReason::Superseded, true),
        // Terminated before anything was promoted: not a deployment.
        run("shop", 6, "prod").terminated(day(4.5), TerminationReason::User, false),
        run("shop", 5, "prod").ok(day(5.0)),
    ];
    let r = report(vec![scope("shop", &["prod"])], period(0.0, 7.0), &runs, &[]);
    let m = r.products[0].measures.as_ref().unwrap();
    // Deployments: #1, #2, #3, #5; failed #2 and #3 (terminated).
    assert_eq!(m.change_failure_rate.deployments, 4);
    assert_eq!(m.change_failure_rate.failed, 2);
    assert_eq!(m.change_failure_rate.causes[0].cause, Cause::Terminated);
    assert_eq!(m.change_failure_rate.causes[0].count, 2);
    assert_eq!(m.deployment_frequency.deployments, 2);
    // #2 (day 2) and #3 (day 3) recovered with #5 on day 5: 3 d and 2 d.
    assert_eq!(m.recovery_time.failures, 2);
    assert_eq!(m.recovery_time.median_seconds, Some(secs(2 * DAY)));
    assert_eq!(m.recovery_time.p90_seconds, Some(secs(3 * DAY)));
}

#[test]
fn a_pre_action_failure_is_no_deployment() {
    let runs = vec![
        run("shop", 1, "prod").failed_before_change(day(1.0)),
        run("shop", 2, "prod").ok(day(2.0)),
    ];
    let r = report(vec![scope("shop", &["prod"])], period(0.0, 7.0), &runs, &[]);
    let m = r.products[0].measures.as_ref().unwrap();
    assert_eq!(
        (
            m.change_failure_rate.deployments,
            m.change_failure_rate.failed
        ),
        (1, 0)
    );
    assert_eq!(m.change_failure_rate.rate, Some(0.0));
    assert_eq!(m.change_failure_rate.band, Some(Band::Elite));
    assert_eq!(m.recovery_time.failures, 0);
}

#[test]
fn releases_spanning_a_period_boundary() {
    // #1 ran prod-eu the day before the period and prod-us on its first
    // day; #2 ran prod-eu inside the period and prod-us after it; #3 is a
    // rollback after the period that makes #2's prod-eu run a failure.
    let runs = vec![
        run("shop", 1, "prod-eu").ok(day(-0.5)),
        run("shop", 1, "prod-us").ok(day(0.5)),
        run("shop", 2, "prod-eu").ok(day(6.0)),
        run("shop", 2, "prod-us").ok(day(7.5)),
        run("shop", 3, "prod-eu").rollback().ok(day(7.2)),
    ];
    let r = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(0.0, 7.0),
        &runs,
        &[],
    );
    let p = &r.products[0];
    let m = p.measures.as_ref().unwrap();
    // Both releases changed production during the period: each counts
    // once (#1 by prod-us, #2 by prod-eu).
    assert_eq!(m.deployment_frequency.deployments, 2);
    // #2's prod-eu deployment was rolled back (by #3, after the period).
    assert_eq!(
        (
            m.change_failure_rate.deployments,
            m.change_failure_rate.failed
        ),
        (2, 1)
    );
    assert_eq!(m.change_failure_rate.causes[0].cause, Cause::RolledBack);
    // Its recovery (day 6 → 7.2) ended after the period: still counted.
    assert_eq!(
        m.recovery_time.median_seconds,
        Some(secs((1.2 * DAY as f64) as i64))
    );
    // Per environment, each counts its own runs in the period.
    assert_eq!(
        p.environments[0].measures.deployment_frequency.deployments,
        1
    );
    assert_eq!(
        p.environments[1].measures.deployment_frequency.deployments,
        1
    );
    // The next period sees #2's prod-us run and #3, not #1 or #2's prod-eu.
    let next = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(7.0, 14.0),
        &runs,
        &[],
    );
    let m = next.products[0].measures.as_ref().unwrap();
    assert_eq!(m.deployment_frequency.deployments, 2);
    assert_eq!(m.change_failure_rate.failed, 0);
}

#[test]
fn a_release_reaching_two_production_environments_counts_once() {
    let runs = vec![
        run("shop", 1, "prod-eu").ok(day(1.0)),
        run("shop", 1, "prod-us").failed(day(1.1)),
        run("shop", 2, "prod-eu").ok(day(2.0)),
        run("shop", 2, "prod-us").ok(day(2.1)),
    ];
    let r = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(0.0, 7.0),
        &runs,
        &[],
    );
    let m = r.products[0].measures.as_ref().unwrap();
    assert_eq!(m.deployment_frequency.deployments, 2);
    // #1 failed in prod-us: one failed release of two.
    assert_eq!(
        (
            m.change_failure_rate.deployments,
            m.change_failure_rate.failed
        ),
        (2, 1)
    );
    assert_eq!(m.change_failure_rate.rate, Some(0.5));
    // prod-us recovered with #2: 1 day.
    assert_eq!(m.recovery_time.median_seconds, Some(secs(DAY)));
}

#[test]
fn an_environment_added_later_is_measured_from_the_day_of_its_first_run() {
    // prod-eu since before the period; prod-us added on day 4 of a
    // 10-day period.
    let mut runs = vec![run("shop", 100, "prod-eu").ok(day(-1.0))];
    for i in 0..10u64 {
        runs.push(run("shop", i + 1, "prod-eu").ok(day(i as f64 + 0.5)));
    }
    for i in 4..10u64 {
        runs.push(run("shop", i + 1, "prod-us").ok(day(i as f64 + 0.6)));
    }
    // prod-us's first run started 30 minutes before day 4.6.
    let r = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(0.0, 10.0),
        &runs,
        &[],
    );
    let p = &r.products[0];
    let us = &p.environments[1].measures.deployment_frequency;
    // From 00:00 UTC of the day it first ran: day 4.
    let us_days = 6.0;
    assert_eq!(us.deployments, 6);
    assert_eq!(us.days, us_days);
    assert_eq!(us.per_day, Some(6.0 / us_days));
    let since = ferry_insights::period::format_instant(day(4.6) - hours(0.5));
    assert!(since.starts_with("2026-01-09T13:5"), "{since}");
    assert_eq!(p.environments[1].since, Some(since));
    let eu = &p.environments[0].measures.deployment_frequency;
    assert_eq!((eu.deployments, eu.days), (10, 10.0));
    // The product: since prod-eu ran before the period, the whole period.
    let m = p.measures.as_ref().unwrap();
    assert_eq!(m.deployment_frequency.deployments, 10);
    assert_eq!(m.deployment_frequency.days, 10.0);
    // Without that earlier run, prod-eu (and the product) would count
    // from the day of its first run, 30 min before day 0.5: day 0.
    let later = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(0.0, 10.0),
        &runs[1..],
        &[],
    );
    let days = 10.0;
    assert_eq!(
        later.products[0]
            .measures
            .as_ref()
            .unwrap()
            .deployment_frequency
            .days,
        days
    );
    assert_eq!(
        later.products[0].environments[0]
            .measures
            .deployment_frequency
            .days,
        days
    );
    // A week before prod-us existed shows no per-day figure for it.
    let early = report(
        vec![scope("shop", &["prod-eu", "prod-us"])],
        period(0.0, 3.0),
        &runs,
        &[],
    );
    assert_eq!(
        early.products[0].environments[1]
            .measures
            .deployment_frequency
            .per_day,
        None
    );
}

#[test]
fn a_product_without_a_production_environment() {
    let runs = vec![
        run("lib", 1, "dev")
            .trigger()
            .ok(day(1.0))
            .phase(Phase::Queue, 5 * MINUTE),
        run("lib", 1, "qa")
            .ok(day(1.1))
            .phase(Phase::Sync, 3 * MINUTE),
    ];
    let r = report(
        vec![scope("lib", &["dev", "qa"])],
        period(0.0, 7.0),
        &runs,
        &[],
    );
    let p = &r.products[0];
    assert_eq!(p.measures, None);
    assert_eq!(p.note, Some(NO_PRODUCTION));
    assert!(p.weeks.is_empty());
    // Where time goes is still shown.
    assert_eq!(p.environments[1].phases[0].phase, Phase::Sync);
    assert_eq!(p.queue.median_seconds, Some(secs(5 * MINUTE)));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["products"][0]["note"], "no production environment");
    assert_eq!(json["products"][0]["measures"], serde_json::Value::Null);
}

#[test]
fn where_time_goes_per_environment_and_phase() {
    // staging: pre-action 8, 10, 12 min; sync 1, 2 min. prod: pull
    // request 19 h, 1 h; sync 5 min. One staging run ended outside.
    let runs = vec![
        run("shop", 1, "staging")
            .ok(day(1.0))
            .phase(Phase::PreAction, 8 * MINUTE)
            .phase(Phase::Sync, MINUTE),
        run("shop", 2, "staging")
            .ok(day(2.0))
            .phase(Phase::PreAction, 12 * MINUTE)
            .phase(Phase::Sync, 2 * MINUTE),
        run("shop", 3, "staging")
            .failed(day(3.0))
            .phase(Phase::PreAction, 10 * MINUTE),
        run("shop", 4, "staging")
            .ok(day(9.0))
            .phase(Phase::PreAction, 60 * MINUTE),
        run("shop", 1, "prod")
            .ok(day(1.5))
            .phase(Phase::PullRequest, 19 * HOUR)
            .phase(Phase::Sync, 5 * MINUTE),
        run("shop", 2, "prod")
            .ok(day(2.5))
            .phase(Phase::PullRequest, HOUR),
    ];
    let r = report(
        vec![scope("shop", &["staging", "prod"])],
        period(0.0, 7.0),
        &runs,
        &[],
    );
    let staging = &r.products[0].environments[0];
    let pre = staging
        .phases
        .iter()
        .find(|p| p.phase == Phase::PreAction)
        .unwrap();
    // 8, 10, 12 → median 10, p90 12 (the 60-minute run ended after the period).
    assert_eq!(
        (pre.runs, pre.median_seconds, pre.p90_seconds),
        (3, Some(600.0), Some(720.0))
    );
    assert_eq!(pre.label, "pre-action");
    let sync = staging
        .phases
        .iter()
        .find(|p| p.phase == Phase::Sync)
        .unwrap();
    // 1, 2 → median rank 1 = 1 min, p90 rank 2 = 2 min.
    assert_eq!(
        (sync.median_seconds, sync.p90_seconds),
        (Some(60.0), Some(120.0))
    );
    let prod = &r.products[0].environments[1];
    let pr = prod
        .phases
        .iter()
        .find(|p| p.phase == Phase::PullRequest)
        .unwrap();
    assert_eq!(
        (pr.median_seconds, pr.p90_seconds),
        (Some(3600.0), Some(19.0 * 3600.0))
    );
    // Phases that never happened are not listed.
    assert!(prod.phases.iter().all(|p| p.phase != Phase::PreAction));
}

#[test]
fn weeks_split_the_production_figures() {
    // Period: two weeks from Monday T0. Week 1: #1 ok, #2 failed;
    // week 2: #3 ok, #4 ok.
    let runs = vec![
        run("shop", 1, "prod").ok(day(1.0)),
        run("shop", 2, "prod").failed(day(2.0)),
        run("shop", 3, "prod").ok(day(8.0)),
        run("shop", 4, "prod").ok(day(9.0)),
    ];
    let arrivals = vec![arrival("shop", "prod", "a", day(7.5), day(8.0))];
    let r = report(
        vec![scope("shop", &["prod"])],
        period(0.0, 14.0),
        &runs,
        &arrivals,
    );
    let w = &r.products[0].weeks;
    assert_eq!(w.len(), 2);
    assert_eq!(
        (
            w[0].start.as_str(),
            w[0].deployments,
            w[0].attempted,
            w[0].failed
        ),
        ("2026-01-05", 1, 2, 1)
    );
    assert_eq!(w[0].change_failure_rate, Some(0.5));
    // #2's failure (day 2) recovered with #3 (day 8): 6 days, a failure of week 1.
    assert_eq!(w[0].recovery_median_seconds, Some(secs(6 * DAY)));
    assert_eq!(w[0].lead_time_median_seconds, None);
    assert_eq!((w[1].deployments, w[1].failed), (2, 0));
    assert_eq!(w[1].lead_time_median_seconds, Some(secs(DAY / 2)));
}
