//! Statuses (SPEC §4.3) and their aggregation rules.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Status of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReleaseStatus {
    Queued,
    Running,
    Suspended,
    Succeeded,
    Failed,
    Terminating,
    Terminated,
    /// Replaced by a newer release of its product before it wrote anything
    /// more (concurrency `supersede`, issue 20): terminal, like
    /// TERMINATED, and its termination names the release that replaced it.
    Superseded,
}

/// Status of an environment within a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnvironmentStatus {
    Pending,
    Running,
    Suspended,
    Successful,
    Failed,
    Terminated,
}

/// Status of one application within an environment: the same words as an
/// environment's, since an environment's status is built from them.
pub type ApplicationStatus = EnvironmentStatus;

/// Status of a workflow step (and of the action and sync steps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    Pending,
    Running,
    /// Started and waiting on someone: a pull request to be merged, a
    /// suspended workflow to be resumed. Its application is SUSPENDED.
    Suspended,
    Success,
    Failed,
    /// The workflow itself is invalid.
    Error,
    Terminated,
    Skipped,
}

macro_rules! display_as_serde {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}
display_as_serde!(ReleaseStatus, EnvironmentStatus, StepStatus);

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Queued => "QUEUED",
            ReleaseStatus::Running => "RUNNING",
            ReleaseStatus::Suspended => "SUSPENDED",
            ReleaseStatus::Succeeded => "SUCCEEDED",
            ReleaseStatus::Failed => "FAILED",
            ReleaseStatus::Terminating => "TERMINATING",
            ReleaseStatus::Terminated => "TERMINATED",
            ReleaseStatus::Superseded => "SUPERSEDED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Running,
            Self::Suspended,
            Self::Succeeded,
            Self::Failed,
            Self::Terminating,
            Self::Terminated,
            Self::Superseded,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The release will not change any more (until a retry).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReleaseStatus::Succeeded
                | ReleaseStatus::Failed
                | ReleaseStatus::Terminated
                | ReleaseStatus::Superseded
        )
    }
}

impl EnvironmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentStatus::Pending => "PENDING",
            EnvironmentStatus::Running => "RUNNING",
            EnvironmentStatus::Suspended => "SUSPENDED",
            EnvironmentStatus::Successful => "SUCCESSFUL",
            EnvironmentStatus::Failed => "FAILED",
            EnvironmentStatus::Terminated => "TERMINATED",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            EnvironmentStatus::Successful
                | EnvironmentStatus::Failed
                | EnvironmentStatus::Terminated
        )
    }

    /// An environment from its applications' statuses (SPEC §4.3): FAILED if
    /// any failed; else SUSPENDED if any waits; else RUNNING if any runs;
    /// SUCCESSFUL when every one passed; PENDING before it starts.
    /// (TERMINATED is set by termination, not aggregated.)
    pub fn aggregate(apps: impl IntoIterator<Item = EnvironmentStatus>) -> EnvironmentStatus {
        let all: Vec<EnvironmentStatus> = apps.into_iter().collect();
        let has = |s| all.contains(&s);
        if has(EnvironmentStatus::Failed) {
            EnvironmentStatus::Failed
        } else if has(EnvironmentStatus::Terminated) {
            EnvironmentStatus::Terminated
        } else if has(EnvironmentStatus::Suspended) {
            EnvironmentStatus::Suspended
        } else if has(EnvironmentStatus::Running) {
            EnvironmentStatus::Running
        } else if !all.is_empty() && all.iter().all(|s| *s == EnvironmentStatus::Successful) {
            EnvironmentStatus::Successful
        } else if has(EnvironmentStatus::Successful) {
            // Some applications done, others not yet started.
            EnvironmentStatus::Running
        } else {
            EnvironmentStatus::Pending
        }
    }
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "PENDING",
            StepStatus::Running => "RUNNING",
            StepStatus::Suspended => "SUSPENDED",
            StepStatus::Success => "SUCCESS",
            StepStatus::Failed => "FAILED",
            StepStatus::Error => "ERROR",
            StepStatus::Terminated => "TERMINATED",
            StepStatus::Skipped => "SKIPPED",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(
            self,
            StepStatus::Pending | StepStatus::Running | StepStatus::Suspended
        )
    }

    /// Whether the step has started and not ended.
    pub fn is_active(self) -> bool {
        matches!(self, StepStatus::Running | StepStatus::Suspended)
    }

    /// The same-named step over an environment's applications (SPEC §4.3):
    /// any FAILED → FAILED, any ERROR → ERROR, any TERMINATED → TERMINATED,
    /// any RUNNING → RUNNING, any SUSPENDED → SUSPENDED, any PENDING →
    /// PENDING, else SUCCESS. (SKIPPED only when every application skipped
    /// it.)
    pub fn aggregate(steps: impl IntoIterator<Item = StepStatus>) -> StepStatus {
        let all: Vec<StepStatus> = steps.into_iter().collect();
        for s in [
            StepStatus::Failed,
            StepStatus::Error,
            StepStatus::Terminated,
            StepStatus::Running,
            StepStatus::Suspended,
            StepStatus::Pending,
        ] {
            if all.contains(&s) {
                return s;
            }
        }
        if !all.is_empty() && all.iter().all(|s| *s == StepStatus::Skipped) {
            return StepStatus::Skipped;
        }
        StepStatus::Success
    }
}

impl ReleaseStatus {
    /// A release from its environments (SPEC §4.3). `terminating` /
    /// `terminated` come from a terminate request; `queued` while it waits
    /// for its turn; `work_remains` while anything can still run.
    ///
    /// The result is terminal exactly when no work remains (SPEC §12:
    /// `finishedAt` is set if and only if the status is terminal): a
    /// release whose failed environment stops one branch of its flow while
    /// an independent branch (or an `onFail` hook) still runs is RUNNING
    /// (or SUSPENDED), and FAILED once it ends — the environment shows the
    /// failure meanwhile.
    pub fn aggregate(
        envs: &[EnvironmentStatus],
        queued: bool,
        termination_requested: bool,
        work_remains: bool,
    ) -> ReleaseStatus {
        if termination_requested {
            return if work_remains {
                ReleaseStatus::Terminating
            } else {
                ReleaseStatus::Terminated
            };
        }
        if !work_remains {
            return if envs.contains(&EnvironmentStatus::Failed) {
                ReleaseStatus::Failed
            } else if !envs.is_empty() && envs.iter().all(|e| *e == EnvironmentStatus::Successful) {
                ReleaseStatus::Succeeded
            } else if envs.contains(&EnvironmentStatus::Terminated) {
                ReleaseStatus::Terminated
            } else {
                // Ended with environments that never completed and no
                // failure recorded: nothing runs them any more, so the
                // release did not succeed.
                ReleaseStatus::Failed
            };
        }
        if queued {
            return ReleaseStatus::Queued;
        }
        let running = envs.contains(&EnvironmentStatus::Running);
        if envs.contains(&EnvironmentStatus::Suspended) && !running {
            return ReleaseStatus::Suspended;
        }
        ReleaseStatus::Running
    }
}

#[cfg(test)]
mod tests {
    use super::EnvironmentStatus as E;
    use super::ReleaseStatus as R;
    use super::StepStatus as S;
    use proptest::prelude::*;

    #[test]
    fn strings_are_exactly_the_spec() {
        assert_eq!(
            serde_json::to_string(&R::Terminating).unwrap(),
            "\"TERMINATING\""
        );
        assert_eq!(
            serde_json::to_string(&E::Successful).unwrap(),
            "\"SUCCESSFUL\""
        );
        assert_eq!(serde_json::to_string(&S::Success).unwrap(), "\"SUCCESS\"");
        assert_eq!(R::parse("SUSPENDED"), Some(R::Suspended));
        assert_eq!(R::parse("suspended"), None);
    }

    #[test]
    fn environment_examples() {
        assert_eq!(E::aggregate([]), E::Pending);
        assert_eq!(E::aggregate([E::Pending, E::Pending]), E::Pending);
        assert_eq!(E::aggregate([E::Successful, E::Pending]), E::Running);
        assert_eq!(E::aggregate([E::Successful, E::Running]), E::Running);
        assert_eq!(E::aggregate([E::Suspended, E::Running]), E::Suspended);
        assert_eq!(E::aggregate([E::Failed, E::Suspended]), E::Failed);
        assert_eq!(E::aggregate([E::Successful, E::Successful]), E::Successful);
    }

    #[test]
    fn step_examples() {
        assert_eq!(S::aggregate([S::Success, S::Failed, S::Error]), S::Failed);
        assert_eq!(
            S::aggregate([S::Success, S::Error, S::Terminated]),
            S::Error
        );
        assert_eq!(S::aggregate([S::Running, S::Terminated]), S::Terminated);
        assert_eq!(S::aggregate([S::Running, S::Pending]), S::Running);
        assert_eq!(S::aggregate([S::Running, S::Suspended]), S::Running);
        assert_eq!(S::aggregate([S::Suspended, S::Pending]), S::Suspended);
        assert_eq!(
            serde_json::to_string(&S::Suspended).unwrap(),
            "\"SUSPENDED\""
        );
        assert_eq!(S::aggregate([S::Success, S::Pending]), S::Pending);
        assert_eq!(S::aggregate([S::Success, S::Skipped]), S::Success);
        assert_eq!(S::aggregate([S::Skipped, S::Skipped]), S::Skipped);
    }

    #[test]
    fn release_examples() {
        // A failed environment while an independent branch still runs:
        // RUNNING until the release ends (SPEC §12), then FAILED.
        assert_eq!(
            R::aggregate(&[E::Successful, E::Failed, E::Running], false, false, true),
            R::Running
        );
        assert_eq!(
            R::aggregate(
                &[E::Successful, E::Failed, E::Successful],
                false,
                false,
                false
            ),
            R::Failed
        );
        // Ended with an environment left behind: not a success.
        assert_eq!(
            R::aggregate(&[E::Successful, E::Running], false, false, false),
            R::Failed
        );
        assert_eq!(
            R::aggregate(
                &[E::Successful, E::Suspended, E::Pending],
                false,
                false,
                true
            ),
            R::Suspended
        );
        assert_eq!(
            R::aggregate(
                &[E::Successful, E::Suspended, E::Running],
                false,
                false,
                true
            ),
            R::Running
        );
        assert_eq!(
            R::aggregate(&[E::Successful, E::Pending], false, false, true),
            R::Running
        );
        assert_eq!(
            R::aggregate(&[E::Successful, E::Successful], false, false, false),
            R::Succeeded
        );
        assert_eq!(
            R::aggregate(&[E::Running], false, true, true),
            R::Terminating
        );
        assert_eq!(
            R::aggregate(&[E::Terminated, E::Pending], false, true, false),
            R::Terminated
        );
        assert_eq!(R::aggregate(&[E::Pending], true, false, true), R::Queued);
    }

    fn env() -> impl Strategy<Value = E> {
        prop_oneof![
            Just(E::Pending),
            Just(E::Running),
            Just(E::Suspended),
            Just(E::Successful),
            Just(E::Failed)
        ]
    }

    fn step() -> impl Strategy<Value = S> {
        prop_oneof![
            Just(S::Pending),
            Just(S::Running),
            Just(S::Suspended),
            Just(S::Success),
            Just(S::Failed),
            Just(S::Error),
            Just(S::Terminated),
            Just(S::Skipped)
        ]
    }

    proptest! {
        /// Aggregation ignores order, and the spec's precedence holds.
        #[test]
        fn environment_rules(mut apps in proptest::collection::vec(env(), 0..6)) {
            let a = E::aggregate(apps.clone());
            apps.reverse();
            prop_assert_eq!(a, E::aggregate(apps.clone()));
            if apps.contains(&E::Failed) { prop_assert_eq!(a, E::Failed); }
            else if apps.contains(&E::Suspended) { prop_assert_eq!(a, E::Suspended); }
            else if apps.contains(&E::Running) { prop_assert_eq!(a, E::Running); }
            else if !apps.is_empty() && apps.iter().all(|s| *s == E::Successful) { prop_assert_eq!(a, E::Successful); }
        }

        #[test]
        fn step_rules(mut steps in proptest::collection::vec(step(), 1..6)) {
            let a = S::aggregate(steps.clone());
            steps.reverse();
            prop_assert_eq!(a, S::aggregate(steps.clone()));
            if steps.contains(&S::Failed) { prop_assert_eq!(a, S::Failed); }
            if !steps.iter().any(|s| !matches!(s, S::Success | S::Skipped)) {
                prop_assert!(matches!(a, S::Success | S::Skipped));
            }
        }

        #[test]
        fn release_rules(envs in proptest::collection::vec(env(), 1..6), remains in any::<bool>()) {
            let r = R::aggregate(&envs, false, false, remains);
            // Terminal exactly when nothing remains (SPEC §12).
            prop_assert_eq!(r.is_final(), !remains);
            if envs.contains(&E::Failed) && !remains { prop_assert_eq!(r, R::Failed); }
            if r == R::Succeeded { prop_assert!(envs.iter().all(|e| *e == E::Successful)); }
            if remains && envs.contains(&E::Suspended) && !envs.contains(&E::Running) {
                prop_assert_eq!(r, R::Suspended);
            }
        }
    }
}
