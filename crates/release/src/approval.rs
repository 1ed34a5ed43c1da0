//! An environment's approval gate as it stands (issue 20): how many
//! approvals it needs, until when, and every decision — who, approve or
//! reject, when, with what comment. Decisions are never removed: a retry
//! after a rejection or an expiry asks again in a new round, and the
//! earlier rounds stay as history.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

/// The gate of one environment (frozen from its policy when reached).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRun {
    /// Approvals needed, from different people.
    pub required: u32,
    /// The round: the release attempt in which the gate was last asked.
    /// Only this round's decisions count.
    pub round: u32,
    /// When the environment reached the gate (this round).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub requested_at: Timestamp,
    /// When the gate fails if it is still waiting (`expiresAfter`).
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expires_at: Option<Timestamp>,
    /// Who may decide, in words.
    pub approvers: String,
    /// Whether the release's initiator is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_initiator: bool,
    /// Every decision of every round, oldest first.
    #[serde(default)]
    pub decisions: Vec<ApprovalDecision>,
    /// Set when this round expired before it was decided.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub expired_at: Option<Timestamp>,
}

/// One person's decision at a gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecision {
    /// The token (person) that decided.
    pub by: String,
    pub decision: Decision,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// The round it was made in ([`ApprovalRun::round`]).
    pub round: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    /// The past tense, for history and pages.
    pub fn done(self) -> &'static str {
        match self {
            Decision::Approve => "approved",
            Decision::Reject => "rejected",
        }
    }
}

/// Where a gate stands in its current round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateState {
    /// Waiting: this many approvals of the required ones so far.
    Waiting {
        approvals: u32,
        required: u32,
    },
    Approved,
    Rejected,
    Expired,
}

impl ApprovalRun {
    /// This round's decisions.
    pub fn current(&self) -> impl Iterator<Item = &ApprovalDecision> {
        self.decisions.iter().filter(move |d| d.round == self.round)
    }

    /// This round's approvals.
    pub fn approvals(&self) -> u32 {
        let n = self
            .current()
            .filter(|d| d.decision == Decision::Approve)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// This round's rejection, if any.
    pub fn rejection(&self) -> Option<&ApprovalDecision> {
        self.current().find(|d| d.decision == Decision::Reject)
    }

    /// Whether `by` decided in this round already.
    pub fn decided_by(&self, by: &str) -> Option<&ApprovalDecision> {
        self.current().find(|d| d.by == by)
    }

    pub fn state(&self) -> GateState {
        if self.rejection().is_some() {
            return GateState::Rejected;
        }
        let approvals = self.approvals();
        if approvals >= self.required {
            return GateState::Approved;
        }
        if self.expired_at.is_some() {
            return GateState::Expired;
        }
        GateState::Waiting {
            approvals,
            required: self.required,
        }
    }

    /// Whether the gate waits for decisions now.
    pub fn is_waiting(&self) -> bool {
        matches!(self.state(), GateState::Waiting { .. })
    }

    /// "waiting for approval (k of N)", while it waits.
    pub fn waiting_reason(&self) -> Option<String> {
        match self.state() {
            GateState::Waiting {
                approvals,
                required,
            } => Some(format!("waiting for approval ({approvals} of {required})")),
            _ => None,
        }
    }

    /// Why the environment failed at the gate, if it did.
    pub fn failure(&self) -> Option<String> {
        match self.state() {
            GateState::Rejected => self.rejection().map(|d| {
                format!(
                    "rejected by {}{}",
                    d.by,
                    d.comment
                        .as_deref()
                        .map(|c| format!(": {c}"))
                        .unwrap_or_default()
                )
            }),
            GateState::Expired => Some(format!(
                "approval expired with {} of {} approvals{}",
                self.approvals(),
                self.required,
                self.expires_at
                    .and_then(|t| t
                        .format(&time::format_description::well_known::Rfc3339)
                        .ok())
                    .map(|t| format!(" (due {t})"))
                    .unwrap_or_default()
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(required: u32) -> ApprovalRun {
        ApprovalRun {
            required,
            round: 1,
            requested_at: crate::now(),
            expires_at: None,
            approvers: "a promoter".into(),
            not_initiator: false,
            decisions: vec![],
            expired_at: None,
        }
    }

    fn decide(g: &mut ApprovalRun, by: &str, decision: Decision, round: u32) {
        g.decisions.push(ApprovalDecision {
            by: by.into(),
            decision,
            comment: Some("looks good".into()),
            at: crate::now(),
            round,
        });
    }

    #[test]
    fn counts_this_rounds_approvals_only() {
        let mut g = gate(2);
        assert_eq!(
            g.waiting_reason().as_deref(),
            Some("waiting for approval (0 of 2)")
        );
        decide(&mut g, "ann", Decision::Approve, 1);
        assert_eq!(
            g.waiting_reason().as_deref(),
            Some("waiting for approval (1 of 2)")
        );
        decide(&mut g, "bob", Decision::Reject, 1);
        assert_eq!(g.state(), GateState::Rejected);
        assert_eq!(g.failure().as_deref(), Some("rejected by bob: looks good"));
        // A new round (a retry): the earlier decisions are history.
        g.round = 2;
        assert_eq!(
            g.state(),
            GateState::Waiting {
                approvals: 0,
                required: 2
            }
        );
        assert!(g.decided_by("ann").is_none());
        decide(&mut g, "ann", Decision::Approve, 2);
        decide(&mut g, "cid", Decision::Approve, 2);
        assert_eq!(g.state(), GateState::Approved);
        assert_eq!(g.decisions.len(), 4);
    }

    #[test]
    fn expiry_fails_a_waiting_gate_only() {
        let mut g = gate(1);
        g.expired_at = Some(crate::now());
        assert_eq!(g.state(), GateState::Expired);
        assert!(
            g.failure()
                .unwrap()
                .starts_with("approval expired with 0 of 1")
        );
        decide(&mut g, "ann", Decision::Approve, 1);
        assert_eq!(g.state(), GateState::Approved);
    }
}
