//! Medians, 90th percentiles and distributions of durations.
//!
//! Percentiles are *nearest-rank*: the p-th percentile of n values is the
//! value at rank ⌈p·n/100⌉ in ascending order (1-based). The median is the
//! 50th percentile by the same rule, so with an even count it is the lower
//! of the two middle values — always a duration that actually happened.

use serde::Serialize;

use crate::facts::Millis;
use crate::period::{DAY, HOUR, MINUTE, MONTH, WEEK};

/// Count, median and 90th percentile of some durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub median: Option<Millis>,
    pub p90: Option<Millis>,
}

impl Summary {
    /// The same figures as [`percentile`] of the sorted values, found by
    /// selection (linear time, no full sort: a year's phase durations
    /// are summarised per environment on every report).
    pub fn of(mut values: Vec<Millis>) -> Summary {
        let n = values.len();
        if n == 0 {
            return Summary::default();
        }
        let (r50, r90) = (rank(n, 50), rank(n, 90));
        let (below, &mut p90, _) = values.select_nth_unstable(r90 - 1);
        // Every value ranked before the 90th percentile is in `below`.
        let median = if r50 < r90 {
            *below.select_nth_unstable(r50 - 1).1
        } else {
            p90
        };
        Summary {
            count: n as u64,
            median: Some(median),
            p90: Some(p90),
        }
    }
}

/// The nearest-rank `p`-th percentile (0 < p ≤ 100) of `sorted`.
pub fn percentile(sorted: &[Millis], p: u32) -> Option<Millis> {
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[rank(sorted.len(), p) - 1])
}

/// The nearest rank (1-based) of the `p`-th percentile of `n` > 0 values:
/// ⌈p·n/100⌉ in integers (floating point makes 0.9 × 10 round up to 10).
fn rank(n: usize, p: u32) -> usize {
    (p as usize * n).div_ceil(100).clamp(1, n)
}

/// One bar of a distribution: the values in `[from, to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    pub label: &'static str,
    /// Lower bound in seconds.
    pub from_seconds: i64,
    /// Upper bound in seconds (excluded); `None` for the last bar.
    pub to_seconds: Option<i64>,
    pub count: u64,
}

/// Upper bounds of the distribution's bars; DORA's band edges (one hour,
/// one day, one week, one month) are among them.
const EDGES: [(Millis, &str); 8] = [
    (10 * MINUTE, "< 10 min"),
    (HOUR, "10 min – 1 h"),
    (6 * HOUR, "1 – 6 h"),
    (DAY, "6 h – 1 d"),
    (3 * DAY, "1 – 3 d"),
    (WEEK, "3 d – 1 w"),
    (MONTH, "1 w – 1 mo"),
    (6 * MONTH, "1 – 6 mo"),
];

/// How many `values` fall in each bar (every bar listed, empty ones too).
pub fn distribution(values: &[Millis]) -> Vec<Bucket> {
    let mut bars: Vec<Bucket> = Vec::with_capacity(EDGES.len() + 1);
    let mut lower = 0;
    for (upper, label) in EDGES {
        bars.push(Bucket {
            label,
            from_seconds: lower / 1000,
            to_seconds: Some(upper / 1000),
            count: 0,
        });
        lower = upper;
    }
    bars.push(Bucket {
        label: "≥ 6 mo",
        from_seconds: lower / 1000,
        to_seconds: None,
        count: 0,
    });
    for &v in values {
        let i = EDGES
            .iter()
            .position(|(upper, _)| v < *upper)
            .unwrap_or(EDGES.len());
        bars[i].count += 1;
    }
    bars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let ten: Vec<Millis> = (1..=10).collect();
        assert_eq!(percentile(&ten, 50), Some(5));
        assert_eq!(percentile(&ten, 90), Some(9));
        assert_eq!(percentile(&ten, 100), Some(10));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
        let s = Summary::of(vec![30, 10, 20]);
        assert_eq!((s.count, s.median, s.p90), (3, Some(20), Some(30)));
        let eleven: Vec<Millis> = (1..=11).collect();
        // ⌈0.9 × 11⌉ = 10.
        assert_eq!(percentile(&eleven, 90), Some(10));
    }

    #[test]
    fn summary_by_selection_is_the_sorted_percentiles() {
        for n in 1..60 {
            let values: Vec<Millis> = (0..n).map(|i| (i * 7919 + 13) % 31).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let s = Summary::of(values);
            assert_eq!(s.count, n as u64);
            assert_eq!(s.median, percentile(&sorted, 50), "n = {n}");
            assert_eq!(s.p90, percentile(&sorted, 90), "n = {n}");
        }
        assert_eq!(Summary::of(Vec::new()), Summary::default());
    }

    #[test]
    fn every_value_lands_in_one_bar() {
        let values = [0, 10 * MINUTE - 1, 10 * MINUTE, DAY, 200 * DAY];
        let d = distribution(&values);
        assert_eq!(d.len(), 9);
        assert_eq!(d.iter().map(|b| b.count).sum::<u64>(), 5);
        assert_eq!(d[0].count, 2);
        assert_eq!(d[1].count, 1);
        assert_eq!(d[4].count, 1, "one day starts the 1 – 3 d bar");
        assert_eq!(d[8].count, 1);
        assert_eq!(d[8].to_seconds, None);
    }
}
