use serde::{Deserialize, Serialize};

use super::{ObjectMeta, PolicySelector};
use crate::diagnostic::Origin;

/// When promotions may write into the environments it selects (issue 20):
/// `allow` ranges (when given, only inside one of them) and `deny` ranges
/// (never inside one), each a cron recurrence with a duration or an
/// absolute range, in `timeZone`. A release reaching a closed environment
/// waits, SUSPENDED, until it opens (`crate::window` evaluates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionWindow {
    pub metadata: ObjectMeta,
    pub spec: PromotionWindowSpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionWindowSpec {
    /// Which products and target environments it governs: the shape of a
    /// PromotionPolicy's selector (names, environment types, labels).
    #[serde(default)]
    pub selector: PolicySelector,
    /// IANA time zone of the schedules and of absolute times written
    /// without an offset; default `UTC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// When given, promotions write only inside one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<WindowRange>,
    /// Never inside one of these (a deny wins over an allow).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<WindowRange>,
}

/// A recurring range (`schedule` + `duration`) or an absolute one
/// (`from` + `until`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowRange {
    /// A cron expression (five fields: minute hour day-of-month month
    /// day-of-week): each match opens a range…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// …that lasts this long (a Go duration: `8h`, `1h30m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Start of an absolute range: `2026-12-21T00:00` (in `timeZone`),
    /// `2026-12-21` (midnight), or RFC 3339 with an offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// End of an absolute range (excluded), written like `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Shown with the wait ("frozen until …: year-end freeze").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl PromotionWindow {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}
