use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ObjectMeta, PolicySettings};
use crate::diagnostic::Origin;

/// The graph of environments a release moves through (SPEC §1.6).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionFlow {
    pub metadata: ObjectMeta,
    pub spec: PromotionFlowSpec,
    #[serde(skip)]
    pub origin: Origin,
}

/// The flow's spec, whichever layout it was written in.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionFlowSpec {
    #[serde(flatten)]
    pub body: FlowBody,
    /// Written in the older layout, with everything under `spec.properties`.
    #[serde(skip)]
    pub legacy_layout: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowBody {
    pub trigger_environment: String,
    /// Go-style duration (`24h`, `90m`, `1h30m`); default 24h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Codefresh's name for the flow timeout, in whole minutes (its Flow
    /// Builder's "Flow Timeout"). Validation refuses it together with a
    /// different `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_timeout_limit: Option<i64>,
    #[serde(default)]
    pub steps: Vec<FlowStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_policy: Option<PolicySettings>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStep {
    pub environment: String,
    #[serde(default)]
    pub depends_on: Vec<String>,
    /// Inline policy; overrides PromotionPolicies field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicySettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Hooks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_success: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<String>,
}

impl Hooks {
    /// `(field, workflow name)` for every hook that is set.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("onStart", &self.on_start),
            ("onSuccess", &self.on_success),
            ("onFail", &self.on_fail),
        ]
        .into_iter()
        .filter_map(|(f, v)| v.as_deref().map(|v| (f, v)))
    }
}

/// The default flow timeout (SPEC §1.6).
pub const DEFAULT_FLOW_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

impl PromotionFlow {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The flow timeout: `timeout`, else Codefresh's `promotionTimeoutLimit`
    /// (minutes), else 24 hours. An unparsable or non-positive value was
    /// reported by validation and falls back to the default here.
    pub fn timeout(&self) -> Duration {
        self.spec
            .body
            .timeout_setting()
            .unwrap_or(DEFAULT_FLOW_TIMEOUT)
    }
}

impl FlowBody {
    /// The timeout the flow sets, if it sets a valid one.
    pub fn timeout_setting(&self) -> Option<Duration> {
        if let Some(t) = self.timeout.as_deref().and_then(|t| parse_duration(t).ok()) {
            return Some(t);
        }
        self.promotion_timeout_limit
            .and_then(|m| u64::try_from(m).ok())
            .filter(|m| (1..=MAX_TIMEOUT_MINUTES).contains(m))
            .map(|m| Duration::from_secs(m * 60))
    }
}

/// The longest `promotionTimeoutLimit` accepted: the same bound as a
/// `timeout` duration (10^10 seconds).
pub const MAX_TIMEOUT_MINUTES: u64 = 10_000_000_000 / 60;

/// Parses a Go-style duration: one or more `<number><unit>` with units
/// `h`, `m`, `s`, `ms` (e.g. `24h`, `1h30m`, `45s`, `1.5h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "`{text}` is not a duration: expected a number at `{rest}`"
            ));
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| {
            format!(
                "`{text}` is not a duration: bad number `{}`",
                &rest[..num_len]
            )
        })?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "" => {
                return Err(format!(
                    "`{text}` is not a duration: missing unit (h, m, s or ms)"
                ));
            }
            other => {
                return Err(format!(
                    "`{text}` is not a duration: unknown unit `{other}` (expected h, m, s or ms)"
                ));
            }
        };
        total += number * seconds;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e10 {
        return Err(format!("`{text}` is too long a duration"));
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("24").unwrap_err().contains("missing unit"));
        assert!(
            parse_duration("2d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(
            parse_duration("h")
                .unwrap_err()
                .contains("expected a number")
        );
        assert!(parse_duration("").is_err());
    }
}
