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
