use std::fmt;

use serde::{Deserialize, Serialize};

use super::ObjectMeta;
use crate::diagnostic::Origin;

/// Which workflows run around a promotion and how it writes to Git, for the
/// products and environments its selector matches (SPEC §1.5, §2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionPolicy {
    pub metadata: ObjectMeta,
    pub spec: PromotionPolicySpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPolicySpec {
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub selector: PolicySelector,
    #[serde(default)]
    pub policy: PolicySettings,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySelector {
    /// Absent: every product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<NameSelector>,
    /// Absent: every environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_environment: Option<EnvironmentSelector>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct NameSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Matched against the product's labels, written `key` (label present)
    /// or `key=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct EnvironmentSelector {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<super::EnvironmentKind>,
    /// Matched against the environment's labels, like [`NameSelector::tags`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The three policy fields. Each is optional: resolution takes every field
/// from the first policy that sets it (SPEC §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_action: Option<String>,
    /// A ferry extension (issue 20): the environment waits for people's
    /// approval before its applications start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalGate>,
    /// What ferry does when the environment fails after its promotion
    /// commit (ferry extension, issue 20); absent means `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
}

/// An approval gate (issue 20): before its applications start, the
/// environment waits — SUSPENDED, "waiting for approval (k of N)" — until
/// `required` different people allowed by `approvers` approved it. One
/// rejection fails it, with the rejection's comment; so does the gate
/// expiring.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalGate {
    /// How many different people must approve (at least 1; default 1).
    #[serde(default = "one")]
    pub required: u32,
    /// Who may approve or reject.
    #[serde(default)]
    pub approvers: Approvers,
    /// The release's initiator (the token that promoted, the author of an
    /// automatic release's commit) may not approve it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_initiator: bool,
    /// How long the environment waits for its approvals once it reached
    /// the gate (a Go duration: `4h`, `30m`); then it fails, saying so.
    /// Absent: until the flow's timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<String>,
}

fn one() -> u32 {
    1
}

/// Who may decide at an approval gate: a token with one of `roles`, or a
/// token named in `names`. Both empty: any `promoter` or `admin` who may
/// promote the product into the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Approvers {
    /// Token roles (`viewer`, `promoter`, `admin`) whose holders may decide.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Token names (the name a token was created with) that may decide,
    /// whatever their role.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// The roles an approval gate may name.
pub const APPROVER_ROLES: [&str; 3] = ["viewer", "promoter", "admin"];

impl ApprovalGate {
    /// Whether the token `name` with `role` may decide here
    /// (`may_promote`: whether it may promote the product into the
    /// environment, which is what empty `approvers` ask). Not the
    /// initiator rule: see [`ApprovalGate::not_initiator`].
    pub fn allows(&self, name: &str, role: &str, may_promote: bool) -> bool {
        let a = &self.approvers;
        if a.roles.is_empty() && a.names.is_empty() {
            return may_promote && matches!(role, "promoter" | "admin");
        }
        a.names.iter().any(|n| n == name) || a.roles.iter().any(|r| r == role)
    }

    /// Who may decide, in words (for refusals and pages).
    pub fn approvers_text(&self) -> String {
        let a = &self.approvers;
        let mut parts = Vec::new();
        if !a.roles.is_empty() {
            parts.push(format!("a token with role {}", a.roles.join(" or ")));
        }
        if !a.names.is_empty() {
            parts.push(format!("token {}", a.names.join(", ")));
        }
        if parts.is_empty() {
            parts.push("a promoter or admin who may promote here".to_owned());
        }
        parts.join(", or ")
    }
}

/// What ferry does when an environment fails after its promotion commit
/// landed (ferry extension, issue 20).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OnFailure {
    /// The failure stops what depends on the environment (SPEC §4.2).
    #[default]
    Stop,
    /// As `stop`, and ferry promotes the environment's previous
    /// successful snapshot back, once, as a linked rollback release.
    Rollback,
}

impl OnFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnFailure::Stop => "stop",
            OnFailure::Rollback => "rollback",
        }
    }
}

impl fmt::Display for OnFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a promotion writes to Git.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// One commit on the target branch, pushed.
    Commit,
    /// The same commit on a new branch, through a pull request.
    Pr,
    /// No Git change.
    None,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Commit => "commit",
            Action::Pr => "pr",
            Action::None => "none",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PromotionPolicy {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}
