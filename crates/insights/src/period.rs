//! The period figures are computed over: `[from, to)` in epoch
//! milliseconds, its weeks (Monday 00:00 UTC, ISO 8601), and the words
//! people give it in (`30d`, `2026-01-31`, RFC 3339).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::facts::Millis;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;
pub const WEEK: Millis = 7 * DAY;
/// A month, where DORA's bands say "month": 30 days.
pub const MONTH: Millis = 30 * DAY;

/// 1970-01-05, the first Monday of the epoch.
const FIRST_MONDAY: Millis = 4 * DAY;

/// A half-open interval of time, `from` included, `to` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    pub from: Millis,
    pub to: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("the period is empty: from {from} is not before to {to}")]
    Empty { from: String, to: String },
    #[error("`{0}` is not a duration such as 30d, 12w, 36h or 90m")]
    Span(String),
    #[error("`{0}` is not a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)")]
    Instant(String),
}

impl Period {
    pub fn new(from: Millis, to: Millis) -> Result<Period, PeriodError> {
        if from >= to {
            return Err(PeriodError::Empty {
                from: format_instant(from),
                to: format_instant(to),
            });
        }
        Ok(Period { from, to })
    }

    /// The `span` before `to`.
    pub fn ending(to: Millis, span: Millis) -> Result<Period, PeriodError> {
        Period::new(to.saturating_sub(span), to)
    }

    pub fn contains(&self, t: Millis) -> bool {
        self.from <= t && t < self.to
    }

    pub fn millis(&self) -> Millis {
        self.to - self.from
    }

    pub fn days(&self) -> f64 {
        self.millis() as f64 / DAY as f64
    }

    /// The part of the period from `start` on (an environment added
    /// later); `None` when `start` is at or after its end.
    pub fn from_on(&self, start: Millis) -> Option<Period> {
        Period::new(self.from.max(start), self.to).ok()
    }

    /// The period cut at every Monday 00:00 UTC: the first and the last
    /// week may be partial.
    pub fn weeks(&self) -> Vec<Period> {
        let mut weeks = Vec::new();
        let mut start = self.from;
        while start < self.to {
            let next = week_start(start).saturating_add(WEEK).min(self.to);
            weeks.push(Period {
                from: start,
                to: next,
            });
            start = next;
        }
        weeks
    }
}

/// The period people name: `to` a date or RFC 3339 time (default `now`),
/// `from` one too or a span before `to` (`30d`; default `default_span`).
pub fn parse_period(
    from: Option<&str>,
    to: Option<&str>,
    now: Millis,
    default_span: Millis,
) -> Result<Period, PeriodError> {
    let to = match to.map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => parse_instant(t)?,
        None => now,
    };
    match from.map(str::trim).filter(|s| !s.is_empty()) {
        None => Period::ending(to, default_span),
        Some(f) => match parse_span(f) {
            Ok(span) => Period::ending(to, span),
            Err(_) => Period::new(parse_instant(f)?, to),
        },
    }
}

/// The Monday 00:00 UTC at or before `t`.
pub fn week_start(t: Millis) -> Millis {
    t - (t - FIRST_MONDAY).rem_euclid(WEEK)
}

/// `30d`, `12w`, `36h`, `90m`, `45s` → milliseconds.
pub fn parse_span(s: &str) -> Result<Millis, PeriodError> {
    let err = || PeriodError::Span(s.to_owned());
    let s = s.trim();
    let unit = s.chars().last().ok_or_else(err)?;
    let n: Millis = s[..s.len() - unit.len_utf8()].parse().map_err(|_| err())?;
    let unit = match unit {
        'w' => WEEK,
        'd' => DAY,
        'h' => HOUR,
        'm' => MINUTE,
        's' => SECOND,
        _ => return Err(err()),
    };
    if n <= 0 {
        return Err(err());
    }
    n.checked_mul(unit).ok_or_else(err)
}

/// A date (`2026-01-31`, midnight UTC) or an RFC 3339 time.
pub fn parse_instant(s: &str) -> Result<Millis, PeriodError> {
    let err = || PeriodError::Instant(s.to_owned());
    let s = s.trim();
    let t = if s.len() == 10 {
        let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| err())?;
        date.midnight().assume_utc()
    } else {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|_| err())?
    };
    Ok(crate::facts::millis(t))
}

/// RFC 3339, UTC, to the millisecond when there is one.
pub fn format_instant(ms: Millis) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// The UTC date of `ms` (`2026-01-31`).
pub fn format_date(ms: Millis) -> String {
    let s = format_instant(ms);
    s.get(..10).map(str::to_owned).unwrap_or(s)
}

/// A duration for people, in its two largest units (`3h 5m`, `2d 4h`,
/// `42s`), as the page and the CLI show it.
pub fn format_seconds(seconds: f64) -> String {
    let s = seconds.round() as i64;
    let units = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)];
    let mut parts = Vec::new();
    let mut rest = s.max(0);
    for (u, n) in units {
        // The largest unit present, then the next one whatever it is.
        if !parts.is_empty() || rest >= n || n == 1 {
            parts.push(format!("{}{u}", rest / n));
            rest %= n;
        }
        if parts.len() == 2 {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_show_two_units() {
        assert_eq!(format_seconds(0.0), "0s");
        assert_eq!(format_seconds(42.4), "42s");
        assert_eq!(format_seconds(3.0 * 3600.0 + 5.0 * 60.0 + 7.0), "3h 5m");
        assert_eq!(format_seconds(2.0 * 86_400.0 + 4.0 * 3600.0), "2d 4h");
        assert_eq!(format_seconds(86_400.0 + 30.0), "1d 0h");
    }

    #[test]
    fn weeks_are_cut_at_monday_midnight_utc() {
        // 2026-01-01 is a Thursday.
        let from = parse_instant("2026-01-01").unwrap();
        let to = parse_instant("2026-01-15").unwrap();
        let weeks = Period::new(from, to).unwrap().weeks();
        let starts: Vec<String> = weeks.iter().map(|w| format_date(w.from)).collect();
        assert_eq!(starts, ["2026-01-01", "2026-01-05", "2026-01-12"]);
        assert_eq!(weeks[0].to, parse_instant("2026-01-05").unwrap());
        assert_eq!(weeks[2].to, to);
        assert_eq!(
            week_start(parse_instant("2026-01-11T23:59:59Z").unwrap()),
            weeks[1].from
        );
    }

    #[test]
    fn spans_and_instants() {
        assert_eq!(parse_span("30d").unwrap(), 30 * DAY);
        assert_eq!(parse_span("2w").unwrap(), 14 * DAY);
        assert_eq!(parse_span("36h").unwrap(), 36 * HOUR);
        for bad in ["", "d", "30", "-3d", "0d", "3y", "3.5d"] {
            assert!(parse_span(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_instant("2026-01-31T12:00:00+01:00").unwrap(),
            parse_instant("2026-01-31").unwrap() + 11 * HOUR
        );
        assert!(parse_instant("31/01/2026").is_err());
        assert!(Period::new(5, 5).is_err());
        assert_eq!(format_instant(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn periods_people_name() {
        let now = parse_instant("2026-02-01").unwrap();
        let p = parse_period(None, None, now, 30 * DAY).unwrap();
        assert_eq!((p.from, p.to), (now - 30 * DAY, now));
        let p = parse_period(Some("7d"), Some("2026-01-15"), now, 30 * DAY).unwrap();
        assert_eq!(format_date(p.from), "2026-01-08");
        assert_eq!(format_date(p.to), "2026-01-15");
        let p = parse_period(Some("2026-01-01"), None, now, 30 * DAY).unwrap();
        assert_eq!(p.days(), 31.0);
        assert!(matches!(
            parse_period(Some("2026-03-01"), None, now, DAY),
            Err(PeriodError::Empty { .. })
        ));
        assert!(matches!(
            parse_period(Some("yesterday"), None, now, DAY),
            Err(PeriodError::Instant(_))
        ));
    }

    #[test]
    fn an_environment_added_later_is_measured_from_its_start() {
        let p = Period::new(0, 10 * DAY).unwrap();
        assert_eq!(p.from_on(4 * DAY).unwrap().days(), 6.0);
        assert_eq!(p.from_on(-DAY).unwrap(), p);
        assert!(p.from_on(10 * DAY).is_none());
    }
}
