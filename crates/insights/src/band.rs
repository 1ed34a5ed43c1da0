//! DORA's performance bands (elite, high, medium, low) for each measure.
//!
//! The bands are the software-delivery performance clusters of the
//! *Accelerate State of DevOps Report 2024* (dora.dev/research/2024/
//! dora-report/): the latest report dora.dev publishes with these four
//! levels (the 2025 report, *State of AI-assisted Software Development*,
//! describes team profiles and 0–10 scores instead). Each cluster is a
//! typical team, so a cluster's value is not a bound on its own; a figure
//! gets **the best band whose published value it meets**, and `low` when
//! it meets none. The 2024 clusters are not ordered on every measure (the
//! medium cluster had a lower change failure rate, 10 %, than the high
//! one, 20 %; both had "less than one day" recovery), so with this rule
//! `medium` is never given for those two measures: any figure that meets
//! medium's value meets high's too.

use serde::{Deserialize, Serialize};

use crate::facts::Millis;
use crate::period::{DAY, HOUR, MONTH, WEEK};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

impl Band {
    pub const ALL: [Band; 4] = [Band::Elite, Band::High, Band::Medium, Band::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Band::Elite => "elite",
            Band::High => "high",
            Band::Medium => "medium",
            Band::Low => "low",
        }
    }
}

/// Where the bands come from (shown beside them).
pub const SOURCE: &str = "DORA, Accelerate State of DevOps Report 2024 (https://dora.dev/research/2024/dora-report/), software delivery performance levels";

/// The published value of each band, as the report words it: (band,
/// deployment frequency, change lead time, change fail rate, failed
/// deployment recovery time).
pub const PUBLISHED: [(Band, &str, &str, &str, &str); 4] = [
    (
        Band::Elite,
        "On demand (multiple deploys per day)",
        "Less than one day",
        "5%",
        "Less than one hour",
    ),
    (
        Band::High,
        "Between once per day and once per week",
        "Between one day and one week",
        "20%",
        "Less than one day",
    ),
    (
        Band::Medium,
        "Between once per week and once per month",
        "Between one week and one month",
        "10%",
        "Less than one day",
    ),
    (
        Band::Low,
        "Between once per month and once every six months",
        "Between one month and six months",
        "40%",
        "Between one week and one month",
    ),
];

/// Deployment frequency, from the average deployments per day: more than
/// one a day is on demand (elite); at least once a week high; at least
/// once a month (30 days) medium; less often low.
pub fn deployment_frequency(per_day: f64) -> Band {
    if per_day > 1.0 {
        Band::Elite
    } else if per_day * 7.0 >= 1.0 {
        Band::High
    } else if per_day * 30.0 >= 1.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Change lead time, from the median: under a day elite, under a week
/// high, under a month (30 days) medium, else low.
pub fn lead_time(median: Millis) -> Band {
    if median < DAY {
        Band::Elite
    } else if median < WEEK {
        Band::High
    } else if median < MONTH {
        Band::Medium
    } else {
        Band::Low
    }
}

/// Change fail rate (0–1): at most 5 % elite, at most 20 % high (which
/// includes medium's 10 %), else low.
pub fn change_failure_rate(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.20 {
        Band::High
    } else {
        Band::Low
    }
}

/// Failed deployment recovery time, from the median: under an hour
/// elite, under a day high (medium's value too), else low.
pub fn recovery_time(median: Millis) -> Band {
    if median < HOUR {
        Band::Elite
    } else if median < DAY {
        Band::High
    } else {
        Band::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_edges() {
        assert_eq!(deployment_frequency(3.0), Band::Elite);
        assert_eq!(deployment_frequency(1.0), Band::High, "once a day is high");
        assert_eq!(deployment_frequency(1.0 / 7.0), Band::High);
        assert_eq!(deployment_frequency(1.0 / 8.0), Band::Medium);
        assert_eq!(deployment_frequency(1.0 / 30.0), Band::Medium);
        assert_eq!(deployment_frequency(1.0 / 31.0), Band::Low);
        assert_eq!(deployment_frequency(0.0), Band::Low);

        assert_eq!(lead_time(DAY - 1), Band::Elite);
        assert_eq!(lead_time(DAY), Band::High);
        assert_eq!(lead_time(WEEK), Band::Medium);
        assert_eq!(lead_time(MONTH), Band::Low);

        assert_eq!(change_failure_rate(0.0), Band::Elite);
        assert_eq!(change_failure_rate(0.05), Band::Elite);
        assert_eq!(change_failure_rate(0.10), Band::High);
        assert_eq!(change_failure_rate(0.20), Band::High);
        assert_eq!(change_failure_rate(0.21), Band::Low);

        assert_eq!(recovery_time(HOUR - 1), Band::Elite);
        assert_eq!(recovery_time(HOUR), Band::High);
        assert_eq!(recovery_time(DAY), Band::Low);
    }
}
