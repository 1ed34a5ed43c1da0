//! [`compute`]: the facts of a period → the figures the API, the page,
//! the CLI and the metrics show.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::band::{self, Band};
use crate::deploy::{Cause, Deployment, deployments};
use crate::facts::{Arrival, EnvRun, FirstSeen, Millis, Phase};
use crate::period::{DAY, Period, format_date, format_instant};
use crate::stats::{Bucket, Summary, distribution};

/// What to compute: a period, and the products with their environments
/// (in display order) and which of them are production.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub period: Period,
    pub products: Vec<ProductScope>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductScope {
    pub name: String,
    pub environments: Vec<EnvScope>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvScope {
    pub name: String,
    pub production: bool,
}

/// The facts available. Figures count only what falls in the period;
/// runs after it are used to tell whether a deployment of the period was
/// rolled back or followed by a hotfix, and when a failure of the period
/// recovered. The result is the same for the whole history as for the
/// runs that ended in the period plus, per product and environment with
/// a deployment in it, the first deployment and the first successful
/// deployment at or after its end (what the store loads).
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    pub runs: &'a [EnvRun],
    pub arrivals: &'a [Arrival],
    pub first_seen: &'a [FirstSeen],
}

/// The figures of a period.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub from: String,
    pub to: String,
    pub days: f64,
    /// Where the bands come from.
    pub bands_source: &'static str,
    pub products: Vec<ProductReport>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProductReport {
    pub product: String,
    pub production_environments: Vec<String>,
    /// The four measures over the production environments; `None` when
    /// the product has no production environment (see `note`).
    pub measures: Option<Measures>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'static str>,
    /// The production figures week by week (Monday 00:00 UTC; the first
    /// and last week may be partial).
    pub weeks: Vec<Week>,
    /// Change lead times into production, by length.
    pub lead_time_distribution: Vec<Bucket>,
    /// How long its releases waited in the product's queue.
    pub queue: Spread,
    pub environments: Vec<EnvironmentReport>,
}

/// "No production environment": the product's measures are not computed.
pub const NO_PRODUCTION: &str = "no production environment";

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentReport {
    pub name: String,
    pub production: bool,
    /// When the environment first ran a release of the product (measures
    /// of an environment added later start there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// The four measures for this environment alone.
    pub measures: Measures,
    /// Where time goes: every phase that happened in runs that ended in
    /// the period.
    pub phases: Vec<PhaseReport>,
}

/// The four DORA measures.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Measures {
    pub deployment_frequency: Frequency,
    pub lead_time: LeadTime,
    pub change_failure_rate: FailureRate,
    pub recovery_time: RecoveryTime,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Frequency {
    /// Successful deployments in the period (for a product: releases with
    /// at least one successful production deployment in the period).
    pub deployments: u64,
    /// Days measured: the period, from 00:00 UTC of the day of the first
    /// production run on when the environment was added during it.
    pub days: f64,
    pub per_day: Option<f64>,
    pub per_week: Option<f64>,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LeadTime {
    /// Commits that first ran there during the period (for a product: one
    /// per commit and production environment).
    pub changes: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailureRate {
    /// Deployments in the period (for a product: releases with at least
    /// one production deployment in the period).
    pub deployments: u64,
    pub failed: u64,
    /// `failed / deployments`, 0–1.
    pub rate: Option<f64>,
    pub band: Option<Band>,
    /// Failed ones by cause (a product's release by the cause of its
    /// first failed deployment).
    pub causes: Vec<CauseCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CauseCount {
    pub cause: Cause,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecoveryTime {
    /// Failed deployments of the period.
    pub failures: u64,
    /// Those not recovered yet (no successful deployment since).
    pub unrecovered: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
    pub band: Option<Band>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Week {
    /// The week's first instant in the period.
    pub start: String,
    pub deployments: u64,
    /// Deployments (CFR's denominator) and the failed ones.
    pub attempted: u64,
    pub failed: u64,
    pub change_failure_rate: Option<f64>,
    pub lead_time_median_seconds: Option<f64>,
    pub recovery_median_seconds: Option<f64>,
}

/// Count, median and 90th percentile of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Spread {
    pub count: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

impl From<Summary> for Spread {
    fn from(s: Summary) -> Spread {
        Spread {
            count: s.count,
            median_seconds: s.median.map(seconds),
            p90_seconds: s.p90.map(seconds),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PhaseReport {
    pub phase: Phase,
    pub label: &'static str,
    /// Environment runs (ended in the period) in which it happened.
    pub runs: u64,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// 00:00 UTC of the day of `t`: an environment added later is measured
/// from the start of the day it first ran a release, so one deployment
/// minutes after it was added is not a rate of thousands per day.
fn day_start(t: Millis) -> Millis {
    t - t.rem_euclid(DAY)
}

fn seconds(ms: Millis) -> f64 {
    ms as f64 / 1000.0
}

/// One classified deployment of a period, as the figures need it: what
/// [`deployments`] says of it, without the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dep<'a> {
    /// When it happened (the run's end).
    pub at: Millis,
    pub release: &'a str,
    pub successful: bool,
    pub cause: Option<Cause>,
    /// Failed deployment recovery time (failed deployments that
    /// recovered only).
    pub recovery: Option<Millis>,
}

impl<'a> From<&Deployment<'a>> for Dep<'a> {
    fn from(d: &Deployment<'a>) -> Dep<'a> {
        Dep {
            at: d.at,
            release: &d.run.release_id,
            successful: d.successful,
            cause: d.cause,
            recovery: d.recovery(),
        }
    }
}

/// What happened in one environment of one product during a period, the
/// figures' whole input: its deployments in order (classified over the
/// environment's whole history), its commits' lead times
/// (`(arrived_at, lead)`) and its runs' time per phase. Built from raw facts by [`compute`], from the store's day
/// aggregates by [`crate::aggregate::compute_days`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PairFacts<'a> {
    pub deps: Vec<Dep<'a>>,
    pub leads: Vec<(Millis, Millis)>,
    /// Per phase ([`Phase::ALL`] order), the durations.
    pub phases: [Vec<Millis>; 8],
}

/// The figures of `query.period` from `history`.
pub fn compute(query: &Query, history: &History<'_>) -> Report {
    let period = query.period;
    let mut runs: HashMap<(&str, &str), Vec<&EnvRun>> = HashMap::new();
    for r in history.runs {
        runs.entry((&r.product, &r.environment))
            .or_default()
            .push(r);
    }
    let mut pairs: HashMap<(&str, &str), PairFacts<'_>> = HashMap::new();
    for (key, env_runs) in &runs {
        let facts = pairs.entry(*key).or_default();
        facts.deps = deployments(env_runs)
            .iter()
            .filter(|d| period.contains(d.at))
            .map(Dep::from)
            .collect();
        for r in env_runs.iter().filter(|r| period.contains(r.finished_at)) {
            for (phase, v) in r.phases.iter() {
                facts.phases[phase as usize].push(v);
            }
        }
    }
    for a in history.arrivals {
        if period.contains(a.arrived_at) {
            pairs
                .entry((&a.product, &a.environment))
                .or_default()
                .leads
                .push((a.arrived_at, lead_of(a)));
        }
    }
    let first_seen: HashMap<(&str, &str), Millis> = history
        .first_seen
        .iter()
        .map(|f| ((f.product.as_str(), f.environment.as_str()), f.at))
        .collect();
    compute_pairs(query, &pairs, &first_seen)
}

/// A commit's lead time: from its commit to its arrival (never negative).
pub fn lead_of(a: &Arrival) -> Millis {
    (a.arrived_at - a.committed_at).max(0)
}

/// The figures of `query.period` from what happened in each environment
/// during it (`pairs`, keyed by product and environment) and when each
/// environment was first seen.
pub fn compute_pairs(
    query: &Query,
    pairs: &HashMap<(&str, &str), PairFacts<'_>>,
    first_seen: &HashMap<(&str, &str), Millis>,
) -> Report {
    let period = query.period;
    // Environments the product ran in that the scope does not name (no
    // longer configured): from the first-seen facts alone, which cover the
    // whole history (every run's environment), so the list depends
    // neither on what the period loaded nor on how.
    let mut seen_envs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &(p, e) in first_seen.keys() {
        let envs = seen_envs.entry(p).or_default();
        if !envs.contains(&e) {
            envs.push(e);
        }
    }
    let products = query
        .products
        .iter()
        .map(|scope| {
            let mut envs: Vec<EnvScope> = scope.environments.clone();
            let mut extra: Vec<&str> = seen_envs
                .get(scope.name.as_str())
                .into_iter()
                .flatten()
                .copied()
                .filter(|e| !envs.iter().any(|s| s.name == *e))
                .collect();
            extra.sort_unstable();
            envs.extend(extra.into_iter().map(|name| EnvScope {
                name: name.to_owned(),
                production: false,
            }));
            product_report(scope, &envs, period, pairs, first_seen)
        })
        .collect();
    Report {
        from: format_instant(period.from),
        to: format_instant(period.to),
        days: period.days(),
        bands_source: band::SOURCE,
        products,
    }
}

fn product_report(
    scope: &ProductScope,
    envs: &[EnvScope],
    period: Period,
    pairs: &HashMap<(&str, &str), PairFacts<'_>>,
    first_seen: &HashMap<(&str, &str), Millis>,
) -> ProductReport {
    let product = scope.name.as_str();
    let empty = PairFacts::default();
    let mut environments = Vec::new();
    let mut production_deps: Vec<Dep> = Vec::new();
    let mut production_leads: Vec<(Millis, Millis)> = Vec::new();
    let mut production_since: Option<Millis> = None;
    let mut queue = Vec::new();
    for env in envs {
        let key = (product, env.name.as_str());
        let facts = pairs.get(&key).unwrap_or(&empty);
        let since = first_seen.get(&key).copied();
        let measures = measures_of(
            &facts.deps,
            &facts.leads,
            period,
            since.map_or(Some(period), |s| period.from_on(day_start(s))),
            true,
        );
        queue.extend_from_slice(&facts.phases[Phase::Queue as usize]);
        if env.production {
            production_deps.extend(facts.deps.iter().copied());
            production_leads.extend(facts.leads.iter().copied());
            if let Some(s) = since {
                production_since = Some(production_since.map_or(s, |p: Millis| p.min(s)));
            }
        }
        environments.push(EnvironmentReport {
            name: env.name.clone(),
            production: env.production,
            since: since.map(format_instant),
            measures,
            phases: Phase::ALL
                .into_iter()
                .filter(|&phase| phase != Phase::Queue && !facts.phases[phase as usize].is_empty())
                .map(|phase| {
                    let s = Summary::of(facts.phases[phase as usize].clone());
                    PhaseReport {
                        phase,
                        label: phase.label(),
                        runs: s.count,
                        median_seconds: s.median.map(seconds),
                        p90_seconds: s.p90.map(seconds),
                    }
                })
                .collect(),
        });
    }
    let production_environments: Vec<String> = envs
        .iter()
        .filter(|e| e.production)
        .map(|e| e.name.clone())
        .collect();
    let (measures, note, weeks, lead_time_distribution) = if production_environments.is_empty() {
        (None, Some(NO_PRODUCTION), Vec::new(), Vec::new())
    } else {
        // Measured from the UTC day of the first production run on (a
        // production environment added during the period); the whole
        // period when the store knows of none yet.
        let measured = |p: Period| production_since.map_or(Some(p), |s| p.from_on(day_start(s)));
        // In time order (stable: a release failing at one instant in two
        // environments keeps the first environment's cause), so each week
        // reads only its own slice.
        production_deps.sort_by_key(|d| d.at);
        production_leads.sort_by_key(|&(at, _)| at);
        let m = measures(
            &production_deps,
            &production_leads,
            period,
            measured(period),
        );
        let weeks = period
            .weeks()
            .into_iter()
            .map(|w| {
                let deps = &production_deps[production_deps.partition_point(|d| d.at < w.from)
                    ..production_deps.partition_point(|d| d.at < w.to)];
                let leads = &production_leads[production_leads
                    .partition_point(|&(at, _)| at < w.from)
                    ..production_leads.partition_point(|&(at, _)| at < w.to)];
                let m = measures(deps, leads, w, measured(w));
                Week {
                    start: format_date(w.from),
                    deployments: m.deployment_frequency.deployments,
                    attempted: m.change_failure_rate.deployments,
                    failed: m.change_failure_rate.failed,
                    change_failure_rate: m.change_failure_rate.rate,
                    lead_time_median_seconds: m.lead_time.median_seconds,
                    recovery_median_seconds: m.recovery_time.median_seconds,
                }
            })
            .collect();
        let leads: Vec<Millis> = production_leads.iter().map(|&(_, lead)| lead).collect();
        (Some(m), None, weeks, distribution(&leads))
    };
    ProductReport {
        product: product.to_owned(),
        production_environments,
        measures,
        note,
        weeks,
        lead_time_distribution,
        queue: Summary::of(queue).into(),
        environments,
    }
}

/// A release's deployments of a period: any successful, and the first
/// failed one's instant and cause.
type Outcome = (bool, Option<(Millis, Cause)>);

/// The four measures of `deps` (classified over their environments'
/// whole lists) and `leads` (`(arrived_at, lead)`) over `period`;
/// deployment frequency per day over `measured` (`None`: nothing to
/// measure yet). Deployments are grouped by release, so a product's
/// release counts once however many production environments it reached.
fn measures(
    deps: &[Dep],
    leads: &[(Millis, Millis)],
    period: Period,
    measured: Option<Period>,
) -> Measures {
    measures_of(deps, leads, period, measured, false)
}

/// [`measures`]; `one_environment`: `deps` are one environment's, where a
/// release deploys once ([`deployments`] keeps one deployment per release,
/// the store one run per release and environment), so each deployment is
/// its own release and nothing needs grouping.
fn measures_of(
    deps: &[Dep],
    leads: &[(Millis, Millis)],
    period: Period,
    measured: Option<Period>,
    one_environment: bool,
) -> Measures {
    // Release → (any successful, first failure cause by time) over the
    // deployments of the period.
    let mut releases: HashMap<&str, Outcome> = HashMap::new();
    let mut alone: Vec<Outcome> = Vec::new();
    if one_environment {
        alone.reserve(deps.len());
    } else {
        releases.reserve(deps.len());
    }
    let mut recoveries = Vec::new();
    let (mut failures, mut unrecovered) = (0u64, 0u64);
    for d in deps {
        if period.contains(d.at) {
            let mut own = Outcome::default();
            let e = if one_environment {
                &mut own
            } else {
                releases.entry(d.release).or_default()
            };
            e.0 |= d.successful;
            if let Some(cause) = d.cause
                && e.1.is_none_or(|(at, _)| d.at < at)
            {
                e.1 = Some((d.at, cause));
            }
            if one_environment {
                alone.push(own);
            }
        }
        if d.cause.is_some() && period.contains(d.at) {
            failures += 1;
            match d.recovery {
                Some(r) => recoveries.push(r),
                None => unrecovered += 1,
            }
        }
    }
    let outcomes = || releases.values().chain(alone.iter());
    let successful = outcomes().filter(|(ok, _)| *ok).count() as u64;
    let attempted = (releases.len() + alone.len()) as u64;
    let mut causes: BTreeMap<Cause, u64> = BTreeMap::new();
    for (_, failure) in outcomes() {
        if let Some((_, cause)) = failure {
            *causes.entry(*cause).or_default() += 1;
        }
    }
    let failed: u64 = causes.values().sum();
    let days = measured.map_or(0.0, |p| p.days());
    let per_day = (days > 0.0).then(|| successful as f64 / days);
    let frequency_band = per_day
        .filter(|_| successful > 0 || days >= 30.0)
        .map(band::deployment_frequency);
    let rate = (attempted > 0).then(|| failed as f64 / attempted as f64);
    let leads = Summary::of(
        leads
            .iter()
            .filter(|&&(at, _)| period.contains(at))
            .map(|&(_, lead)| lead)
            .collect(),
    );
    let recovery = Summary::of(recoveries);
    Measures {
        deployment_frequency: Frequency {
            deployments: successful,
            days,
            per_day,
            per_week: per_day.map(|d| d * 7.0),
            band: frequency_band,
        },
        lead_time: LeadTime {
            changes: leads.count,
            median_seconds: leads.median.map(seconds),
            p90_seconds: leads.p90.map(seconds),
            band: leads.median.map(band::lead_time),
        },
        change_failure_rate: FailureRate {
            deployments: attempted,
            failed,
            rate,
            band: rate.map(band::change_failure_rate),
            causes: causes
                .into_iter()
                .map(|(cause, count)| CauseCount { cause, count })
                .collect(),
        },
        recovery_time: RecoveryTime {
            failures,
            unrecovered,
            median_seconds: recovery.median.map(seconds),
            p90_seconds: recovery.p90.map(seconds),
            band: recovery.median.map(band::recovery_time),
        },
    }
}
