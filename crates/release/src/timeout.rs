//! The flow timeout's account (SPEC §1.6, issue 20).
//!
//! A release is terminated when its flow's `timeout` has passed since its
//! creation — not counting the time ferry itself made it wait:
//! - while it is *held*: every environment it has started and not
//!   finished waits SUSPENDED with a [`Hold`] (a closed promotion window,
//!   a stop-the-line freeze, soak time). A weekend freeze must not kill
//!   the releases it holds;
//! - while it is QUEUED behind another release of its product (which may
//!   itself be held): each release gets its whole timeout once it runs.
//!
//! Waiting for people — an approval gate, a pull request, a suspended
//! workflow step — counts: the timeout is what ends a release nobody acts
//! on. While one environment is held and another runs (parallel branches
//! of a flow) the timeout counts too: work is going on.
//!
//! The account is part of the stored record, so a restart keeps the time
//! paused so far and a pause that began before it. Times are on the
//! engine's clock (the system clock in production).
//!
//! [`Hold`]: crate::Hold

use serde::{Deserialize, Serialize};

use crate::{EnvironmentStatus, Release, ReleaseStatus, Timestamp};

/// When the flow timeout of a release runs out, and the pauses that
/// moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FlowTimeout {
    /// When the release is terminated unless it finished: its creation,
    /// plus the flow's `timeout`, plus every pause that ended. While
    /// `pausedSince` is set it does not run out.
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub deadline: Timestamp,
    /// Seconds the release was queued or held by windows, freezes or soak
    /// time (pauses that ended), added to the deadline.
    #[serde(default)]
    pub paused_seconds: u64,
    /// Set while the release is queued or waits for nothing but holds:
    /// since when the timeout stands still.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub paused_since: Option<Timestamp>,
}

impl FlowTimeout {
    /// The account of a release created at `at` (on the engine's clock)
    /// whose flow allows `seconds`.
    pub fn starting(at: Timestamp, seconds: u64) -> FlowTimeout {
        FlowTimeout {
            deadline: at.saturating_add(seconds_to_duration(seconds)),
            paused_seconds: 0,
            paused_since: None,
        }
    }
}

fn seconds_to_duration(seconds: u64) -> time::Duration {
    time::Duration::seconds(i64::try_from(seconds).unwrap_or(i64::MAX))
}

impl Release {
    /// Whether the flow timeout stands still (see the module
    /// documentation): the release is QUEUED, or at least one environment
    /// is SUSPENDED with a hold and every other environment that started
    /// and did not finish too.
    pub fn timeout_paused(&self) -> bool {
        if self.termination.is_some() || !self.is_active() {
            return false;
        }
        if self.status == ReleaseStatus::Queued {
            return true;
        }
        let mut held = false;
        for e in &self.environments {
            match e.status {
                EnvironmentStatus::Suspended if e.hold.is_some() => held = true,
                EnvironmentStatus::Running | EnvironmentStatus::Suspended => return false,
                _ => {}
            }
        }
        held
    }

    /// The flow timeout's account; a release stored before it was kept
    /// counts from its creation, none of its time paused.
    pub fn flow_timeout(&self) -> FlowTimeout {
        self.timeout
            .clone()
            .unwrap_or_else(|| FlowTimeout::starting(self.created_at, self.graph.timeout_seconds))
    }

    /// When the flow timeout runs out; `None` while it stands still.
    pub fn timeout_deadline(&self) -> Option<Timestamp> {
        let t = self.flow_timeout();
        t.paused_since.is_none().then_some(t.deadline)
    }

    /// Brings the flow timeout's account up to date at `now` (the engine's
    /// clock), after a change: a release that became queued or held
    /// pauses it, one that no longer is adds the time since the pause to
    /// the deadline. Returns whether the account changed.
    pub fn account_pauses(&mut self, now: Timestamp) -> bool {
        let held = self.timeout_paused();
        let mut t = self.flow_timeout();
        match (held, t.paused_since) {
            (true, None) => t.paused_since = Some(now),
            (false, Some(since)) => {
                let seconds = u64::try_from((now - since).whole_seconds()).unwrap_or(0);
                t.paused_seconds = t.paused_seconds.saturating_add(seconds);
                t.deadline = t.deadline.saturating_add(seconds_to_duration(seconds));
                t.paused_since = None;
            }
            _ => return false,
        }
        self.timeout = Some(t);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Hold, HoldKind};

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s, &time::format_description::well_known::Rfc3339).expect("a time")
    }

    /// dev → staging → prod, created at 10:00 with a one-hour timeout,
    /// staging and prod PENDING.
    fn release() -> Release {
        let env = |name: &str, status: &str| serde_json::json!({"name": name, "status": status, "dependsOn": [], "issues": [], "applications": []});
        serde_json::from_value(serde_json::json!({
            "id": "01J", "number": 1, "product": "p", "flow": "f",
            "kind": {"type": "flow"}, "status": "RUNNING", "initiator": "me",
            "createdAt": "2026-12-07T10:00:00Z", "version": "1.0",
            "trigger": {"repoUrl": "", "sha": "", "message": "", "author": "", "date": "", "branch": ""},
            "graph": {"name": "f", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 3600},
            "snapshot": {"environment": "dev", "applications": {}},
            "environments": [env("dev", "SUCCESSFUL"), env("staging", "PENDING"), env("prod", "PENDING")]
        }))
        .expect("a release")
    }

    fn hold(r: &mut Release, env: &str, kind: HoldKind) {
        let e = r.environment_mut(env).expect("environment");
        e.status = EnvironmentStatus::Suspended;
        e.hold = Some(Hold {
            kind,
            reason: "held".into(),
            until: None,
            by: "x".into(),
            since: at("2026-12-07T10:00:00Z"),
        });
    }

    fn start(r: &mut Release, env: &str) {
        let e = r.environment_mut(env).expect("environment");
        e.status = EnvironmentStatus::Running;
        e.hold = None;
    }

    #[test]
    fn a_release_stored_before_the_account_counts_from_its_creation() {
        let r = release();
        assert_eq!(r.timeout, None);
        assert_eq!(r.timeout_deadline(), Some(at("2026-12-07T11:00:00Z")));
    }

    #[test]
    fn time_held_by_a_window_freeze_or_soak_time_moves_the_deadline() {
        for kind in [HoldKind::Window, HoldKind::Freeze, HoldKind::Soak] {
            let mut r = release();
            r.timeout = Some(FlowTimeout::starting(at("2026-12-07T10:00:00Z"), 3600));
            hold(&mut r, "staging", kind);
            assert!(r.timeout_paused());
            assert!(r.account_pauses(at("2026-12-07T10:20:00Z")));
            assert_eq!(r.timeout_deadline(), None, "stands still while held");
            // Nothing changed: the account neither.
            assert!(!r.account_pauses(at("2026-12-09T10:20:00Z")));
            start(&mut r, "staging");
            assert!(r.account_pauses(at("2026-12-10T10:20:00Z")));
            let t = r.flow_timeout();
            assert_eq!(t.paused_seconds, 3 * 24 * 3600);
            assert_eq!(t.paused_since, None);
            assert_eq!(r.timeout_deadline(), Some(at("2026-12-10T11:00:00Z")));
        }
    }

    #[test]
    fn waiting_for_people_or_running_beside_a_hold_counts() {
        // An approval gate (no hold) counts.
        let mut r = release();
        let e = r.environment_mut("staging").expect("staging");
        e.status = EnvironmentStatus::Suspended;
        assert!(!r.timeout_paused());
        assert!(!r.account_pauses(at("2026-12-07T12:00:00Z")));
        assert_eq!(r.timeout_deadline(), Some(at("2026-12-07T11:00:00Z")));
        // One branch held, another running: counts.
        let mut r = release();
        hold(&mut r, "staging", HoldKind::Window);
        start(&mut r, "prod");
        assert!(!r.timeout_paused());
        // The running branch ends: now only the hold is left.
        r.environment_mut("prod").expect("prod").status = EnvironmentStatus::Successful;
        assert!(r.timeout_paused());
        // A terminated release is not held.
        r.termination = Some(crate::Termination {
            reason: crate::TerminationReason::User,
            by: "me".into(),
            release: None,
            at: at("2026-12-07T10:30:00Z"),
        });
        assert!(!r.timeout_paused());
    }

    #[test]
    fn a_queued_release_waits_its_turn_without_its_timeout_running() {
        let mut r = release();
        r.status = ReleaseStatus::Queued;
        r.timeout = Some(FlowTimeout::starting(at("2026-12-07T10:00:00Z"), 3600));
        assert!(r.account_pauses(at("2026-12-07T10:00:00Z")));
        r.status = ReleaseStatus::Running;
        assert!(r.account_pauses(at("2026-12-07T16:00:00Z")));
        assert_eq!(r.timeout_deadline(), Some(at("2026-12-07T17:00:00Z")));
    }

    #[test]
    fn the_account_survives_a_round_trip_through_json() {
        let mut r = release();
        r.timeout = Some(FlowTimeout::starting(at("2026-12-07T10:00:00Z"), 3600));
        hold(&mut r, "prod", HoldKind::Freeze);
        r.account_pauses(at("2026-12-07T10:05:00Z"));
        let back: Release =
            serde_json::from_str(&serde_json::to_string(&r).expect("json")).expect("read back");
        assert_eq!(back.timeout, r.timeout);
        assert_eq!(
            back.flow_timeout().paused_since,
            Some(at("2026-12-07T10:05:00Z"))
        );
    }
}
