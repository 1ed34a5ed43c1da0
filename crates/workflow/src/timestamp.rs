//! Wall-clock instants as RFC 3339 UTC, the form both Argo (`metav1.Time`) and the
//! ferry API use. Hand-rolled to keep a date crate out of the dependency tree; only
//! the UTC `Z` form (what Kubernetes emits) and numeric offsets are parsed.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time with second-or-better precision, displayed as RFC 3339 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(SystemTime);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }

    /// The underlying system time.
    pub fn as_system_time(&self) -> SystemTime {
        self.0
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`; `None` when malformed.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = s.get(r)?;
            if !part.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            part.parse().ok()
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (hour, min, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || min > 59
            || sec > 60
        {
            return None;
        }
        let mut rest = &s[19..];
        let mut nanos: u32 = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return None;
            }
            let mut padded: String = frac[..digits.min(9)].to_string();
            while padded.len() < 9 {
                padded.push('0');
            }
            nanos = padded.parse().ok()?;
            rest = &frac[digits..];
        }
        let offset_secs: i64 = match rest {
            "Z" | "z" => 0,
            o if o.len() == 6
                && (o.starts_with('+') || o.starts_with('-'))
                && o.get(3..4) == Some(":") =>
            {
                let h: i64 = o.get(1..3)?.parse().ok()?;
                let m: i64 = o.get(4..6)?.parse().ok()?;
                let v = h * 3600 + m * 60;
                if o.starts_with('-') { -v } else { v }
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + min * 60 + sec - offset_secs;
        let base = if secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))?
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
        };
        Some(Timestamp(
            base.checked_add(Duration::from_nanos(u64::from(nanos)))?,
        ))
    }
}

/// Calendar fields of a [`Timestamp`] in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Civil {
    pub(crate) year: i64,
    pub(crate) month: u32,
    pub(crate) day: u32,
    pub(crate) hour: u32,
    pub(crate) minute: u32,
    pub(crate) second: u32,
    pub(crate) nanos: u32,
    /// 0 = Sunday.
    pub(crate) weekday: u32,
    /// 1-based day of the year.
    pub(crate) yearday: u32,
    pub(crate) unix: i64,
}

impl Timestamp {
    /// The UTC calendar fields (for Go-layout formatting).
    pub(crate) fn civil(&self) -> Civil {
        let (unix, nanos) = match self.0.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_nanos()),
            Err(e) => (-(e.duration().as_secs() as i64), 0),
        };
        let days = unix.div_euclid(86_400);
        let tod = unix.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Civil {
            year: y,
            month: m as u32,
            day: d as u32,
            hour: (tod / 3600) as u32,
            minute: ((tod % 3600) / 60) as u32,
            second: (tod % 60) as u32,
            nanos,
            weekday: (days + 4).rem_euclid(7) as u32,
            yearday: (days - days_from_civil(y, 1, 1) + 1) as u32,
            unix,
        }
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Timestamp(t)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, millis) = match self.0.duration_since(UNIX_EPOCH) {
            Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
            Err(e) => (-(e.duration().as_secs() as i64), 0),
        };
        let days = secs.div_euclid(86_400);
        let tod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            tod / 3600,
            (tod % 3600) / 60,
            tod % 60
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_utc() {
        let t = Timestamp::parse_rfc3339("2024-02-29T13:45:07Z").unwrap();
        assert_eq!(t.to_string(), "2024-02-29T13:45:07.000Z");
        let secs = t
            .as_system_time()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_709_214_307);
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
