//! Wall-clock instants as RFC 3339 UTC, the form both Argo (`metav1.Time`) and the
//! ferry API use, on the `time` crate (already the release record's clock).

use std::fmt;
use std::time::SystemTime;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// A point in time with second-or-better precision, displayed as RFC 3339 UTC
/// with milliseconds (`2024-02-29T13:45:07.000Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(OffsetDateTime::now_utc())
    }

    /// The underlying system time.
    pub fn as_system_time(&self) -> SystemTime {
        self.0.into()
    }

    /// The instant in UTC, for calendar fields.
    pub fn utc(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`); `None` when
    /// malformed.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| Timestamp(t.to_offset(UtcOffset::UTC)))
    }

    /// RFC 3339 to the second, as Argo writes `creationTimestamp`,
    /// `startedAt` and `finishedAt` (`2024-02-29T13:45:07Z`).
    pub fn to_rfc3339_seconds(&self) -> String {
        self.0
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(OffsetDateTime::from(t).to_offset(UtcOffset::UTC))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .0
            .format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
            .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn round_trips_utc() {
        let t = Timestamp::parse_rfc3339("2024-02-29T13:45:07Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T13:45:07.000Z");
        assert_eq!(t.to_rfc3339_seconds(), "2024-02-29T13:45:07Z");
        let secs = t
            .as_system_time()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_709_214_307);
        assert_eq!(Timestamp::from(t.as_system_time()), t);
    }

    #[test]
    fn honours_offsets_and_fractions() {
        let a = Timestamp::parse_rfc3339("2024-01-01T02:00:00.250+02:00").unwrap();
        assert_eq!(a.to_string(), "2024-01-01T00:00:00.250Z");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01 00:00:00",
            "2024-01-01T00:00:00+0200",
            "yesterday",
            // Multi-byte characters where digits or separators belong.
            "2024-01-01T00:00:00+0\u{e9}00",
            "2024-01-01T00:00:0\u{e9}Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_none(), "{bad}");
        }
    }
}
