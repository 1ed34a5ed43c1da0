//! Hand-built histories: environment runs and arrivals written directly,
//! with times relative to a Monday so weeks are easy to reason about.

#![allow(dead_code)]

use ferry_insights::period::{DAY, HOUR};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, FirstSeen, History, Millis, Period, Phase, Phases, ProductScope,
    Query, Report, RunStatus, compute, first_seen_of,
};
use ferry_release::TerminationReason;

/// Monday 2026-01-05 00:00 UTC.
pub const T0: Millis = 1_767_571_200_000;

pub fn day(d: f64) -> Millis {
    T0 + (d * DAY as f64) as Millis
}

pub fn hours(h: f64) -> Millis {
    (h * HOUR as f64) as Millis
}

/// A run of release `#number` (id `r<number>`) of `product` through `env`.
pub struct Run(pub EnvRun);

pub fn run(product: &str, number: u64, env: &str) -> Run {
    Run(EnvRun {
        release_id: format!("r{number:04}"),
        product: product.into(),
        number,
        environment: env.into(),
        trigger: false,
        rollback: false,
        hotfix: false,
        status: RunStatus::Successful,
        termination: None,
        started_at: None,
        changed_at: None,
        running_at: None,
        finished_at: T0,
        failed_at: None,
        phases: Phases::default(),
    })
}

impl Run {
    /// Deployed successfully: started 30 minutes before `at`, changed 20
    /// and running 10 minutes before.
    pub fn ok(mut self, at: Millis) -> Run {
        self.0.status = RunStatus::Successful;
        self.0.started_at = Some(at - hours(0.5));
        self.0.changed_at = Some(at - hours(1.0 / 3.0));
        self.0.running_at = Some(at - hours(1.0 / 6.0));
        self.0.finished_at = at;
        self
    }

    /// Failed after the change reached the environment.
    pub fn failed(mut self, at: Millis) -> Run {
        self.0.status = RunStatus::Failed;
        self.0.started_at = Some(at - hours(0.5));
        self.0.changed_at = Some(at - hours(1.0 / 3.0));
        self.0.finished_at = at;
        self.0.failed_at = Some(at);
        self
    }

    /// Failed before anything was promoted (a pre-action failed).
    pub fn failed_before_change(mut self, at: Millis) -> Run {
        self.0.status = RunStatus::Failed;
        self.0.started_at = Some(at - hours(0.5));
        self.0.finished_at = at;
        self
    }

    /// Terminated for `reason`, after the change when `changed`.
    pub fn terminated(mut self, at: Millis, reason: TerminationReason, changed: bool) -> Run {
        self.0.status = RunStatus::Terminated;
        self.0.termination = Some(reason);
        self.0.started_at = Some(at - hours(0.5));
        self.0.finished_at = at;
        if changed {
            self.0.changed_at = Some(at - hours(1.0 / 3.0));
            if matches!(reason, TerminationReason::User | TerminationReason::Timeout) {
                self.0.failed_at = Some(at);
            }
        }
        self
    }

    /// Succeeded after a retry; the first attempt failed at `failed`.
    pub fn retried(self, failed: Millis, at: Millis) -> Run {
        let mut r = self.ok(at);
        r.0.failed_at = Some(failed);
        r
    }

    pub fn rollback(mut self) -> Run {
        self.0.rollback = true;
        self
    }

    pub fn hotfix(mut self) -> Run {
        self.0.hotfix = true;
        self
    }

    pub fn trigger(mut self) -> Run {
        self.0.trigger = true;
        self
    }

    pub fn id(mut self, id: &str) -> Run {
        self.0.release_id = id.into();
        self
    }

    pub fn phase(mut self, phase: Phase, ms: Millis) -> Run {
        self.0.phases.set(phase, Some(ms));
        self
    }
}

pub fn arrival(product: &str, env: &str, sha: &str, committed: Millis, arrived: Millis) -> Arrival {
    Arrival {
        product: product.into(),
        environment: env.into(),
        sha: sha.into(),
        committed_at: committed,
        arrived_at: arrived,
        release_id: "r".into(),
    }
}

/// A product whose environments are `envs`, production when prefixed `prod`.
pub fn scope(product: &str, envs: &[&str]) -> ProductScope {
    ProductScope {
        name: product.into(),
        environments: envs
            .iter()
            .map(|e| EnvScope {
                name: (*e).into(),
                production: e.starts_with("prod"),
            })
            .collect(),
    }
}

pub fn period(from_day: f64, to_day: f64) -> Period {
    Period::new(day(from_day), day(to_day)).unwrap()
}

/// The figures of `period` over `runs` and `arrivals`, the environments
/// first seen as the runs say.
pub fn report(
    scopes: Vec<ProductScope>,
    period: Period,
    runs: &[Run],
    arrivals: &[Arrival],
) -> Report {
    let runs: Vec<EnvRun> = runs.iter().map(|r| r.0.clone()).collect();
    let first_seen = first_seen_of(&runs);
    report_with(scopes, period, &runs, arrivals, &first_seen)
}

pub fn report_with(
    scopes: Vec<ProductScope>,
    period: Period,
    runs: &[EnvRun],
    arrivals: &[Arrival],
    first_seen: &[FirstSeen],
) -> Report {
    compute(
        &Query {
            period,
            products: scopes,
        },
        &History {
            runs,
            arrivals,
            first_seen,
        },
    )
}

/// What the store loads for `period` out of a whole history: the runs that
/// ended in it, per product and environment with a deployment in it the
/// first deployment and the first successful deployment at or after its
/// end, and the arrivals of the period.
pub fn as_loaded(
    all: &[EnvRun],
    arrivals: &[Arrival],
    period: Period,
) -> (Vec<EnvRun>, Vec<Arrival>) {
    let mut runs: Vec<EnvRun> = all
        .iter()
        .filter(|r| period.contains(r.finished_at))
        .cloned()
        .collect();
    let mut keys: Vec<(String, String)> = runs
        .iter()
        .filter(|r| r.is_deployment())
        .map(|r| (r.product.clone(), r.environment.clone()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let order = |r: &&&EnvRun| (r.finished_at, r.number, r.release_id.clone());
    for (p, e) in keys {
        let after: Vec<&EnvRun> = all
            .iter()
            .filter(|r| r.product == p && r.environment == e && r.finished_at >= period.to)
            .filter(|r| r.is_deployment())
            .collect();
        if let Some(first) = after.iter().min_by_key(order) {
            runs.push((*first).clone());
        }
        if let Some(ok) = after
            .iter()
            .filter(|r| r.status == RunStatus::Successful)
            .min_by_key(order)
        {
            runs.push((*ok).clone());
        }
    }
    let arrivals = arrivals
        .iter()
        .filter(|a| period.contains(a.arrived_at))
        .cloned()
        .collect();
    (runs, arrivals)
}
