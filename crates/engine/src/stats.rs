//! Process-wide durations of the steps this engine finished, for the
//! server's `/metrics` (`ferry_step_duration_seconds`, SPEC §10).
//!
//! Why here: a step's end is known for sure only where its release is
//! saved (`ReleaseHandle::update`), and only on the replica that drives it,
//! so summing the replicas' counters counts every step once (events relayed
//! from other replicas never pass through here).

use std::collections::BTreeMap;
use std::sync::Mutex;

use ferry_release::{Release, StepPhase, StepStatus};

/// Upper bounds of the step-duration histogram, in seconds: from a quick
/// commit to a long approval.
pub const STEP_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// The finished steps of one (phase, status).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepDurations {
    /// Steps that took at most `STEP_BUCKETS[i]` seconds (cumulative).
    pub buckets: [u64; STEP_BUCKETS.len()],
    pub count: u64,
    pub sum_seconds: f64,
}

/// (phase, status) → durations, e.g. (`postAction`, `FAILED`).
pub type StepStats = BTreeMap<(&'static str, &'static str), StepDurations>;

static STEPS: Mutex<StepStats> = Mutex::new(BTreeMap::new());

/// The durations of the steps finished by this process so far.
pub fn step_stats() -> StepStats {
    STEPS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

pub(crate) fn phase_name(p: StepPhase) -> &'static str {
    match p {
        StepPhase::PreAction => "preAction",
        StepPhase::Action => "action",
        StepPhase::Sync => "sync",
        StepPhase::PostAction => "postAction",
        StepPhase::Hook => "hook",
    }
}

/// Records the steps of `release` at `(environment, application, "i:name")`
/// that have just finished (saved with a final status).
pub(crate) fn record_finished(release: &Release, steps: &[(String, String, String)]) {
    if steps.is_empty() {
        return;
    }
    let mut all = STEPS.lock().unwrap_or_else(|p| p.into_inner());
    for (env, app, step) in steps {
        let Some(index) = step
            .split_once(':')
            .and_then(|(i, _)| i.parse::<usize>().ok())
        else {
            continue;
        };
        let Some(s) = release
            .environment(env)
            .and_then(|e| e.applications.iter().find(|a| &a.name == app))
            .and_then(|a| a.steps.get(index))
        else {
            continue;
        };
        let (Some(start), Some(end)) = (s.started_at, s.finished_at) else {
            continue;
        };
        let seconds = (end - start).as_seconds_f64().max(0.0);
        record(phase_name(s.phase), s.status, seconds, &mut all);
    }
}

fn record(phase: &'static str, status: StepStatus, seconds: f64, all: &mut StepStats) {
    let d = all.entry((phase, status.as_str())).or_default();
    for (i, bound) in STEP_BUCKETS.iter().enumerate() {
        if seconds <= *bound {
            d.buckets[i] += 1;
        }
    }
    d.count += 1;
    d.sum_seconds += seconds;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative() {
        let mut all = StepStats::new();
        record("sync", StepStatus::Success, 0.3, &mut all);
        record("sync", StepStatus::Success, 42.0, &mut all);
        let d = &all[&("sync", "SUCCESS")];
        assert_eq!(d.count, 2);
        assert_eq!(d.buckets[0], 0, "0.1 s");
        assert_eq!(d.buckets[1], 1, "0.5 s");
        assert_eq!(d.buckets[6], 2, "60 s");
        assert!((d.sum_seconds - 42.3).abs() < 1e-9);
    }
}
