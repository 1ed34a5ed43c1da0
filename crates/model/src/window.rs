//! Promotion windows evaluated (issue 20): whether a product may write into
//! an environment at a moment, and if not, why and until when.
//!
//! A window is open at `t` when `t` is inside one of its `allow` ranges
//! (or it has none) and inside none of its `deny` ranges. An environment
//! is open when every window selecting it is open. A recurring range
//! starts at each match of its cron schedule, in the window's time zone
//! (croner over jiff: daylight-saving gaps and folds as cron does them),
//! and lasts its duration; an absolute range is `[from, until)`.
//!
//! Times are Unix seconds at this crate's edge (the model has no clock and
//! no time type of its own); jiff does the calendar work inside.

use std::str::FromStr;
use std::sync::Arc;

use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::config::Config;
use crate::policy::selector_matches_parts;
use crate::resource::{PromotionWindow, WindowRange, parse_duration};

/// How far ahead the next opening is looked for (iterations over range
/// boundaries): past this, a closed environment is "closed, no opening
/// ahead" — it still opens when the configuration changes.
const MAX_STEPS: usize = 256;

/// A window's problem, with the field it is at (`spec.deny[1].schedule`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowProblem {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone)]
enum Rule {
    Recurring {
        cron: Box<Cron>,
        length: SignedDuration,
    },
    Absolute {
        from: Timestamp,
        until: Timestamp,
    },
}

#[derive(Debug, Clone)]
struct Range {
    rule: Rule,
    reason: Option<String>,
}

/// One window, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledWindow {
    name: String,
    tz_name: String,
    tz: TimeZone,
    allow: Vec<Range>,
    deny: Vec<Range>,
    window: Arc<PromotionWindow>,
}

/// Why an environment is closed now, and until when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The window that closes it now.
    pub window: String,
    /// `frozen until 2026-12-28 09:00 Europe/Berlin by window "year-end": year-end freeze`
    /// or `outside window "prod-hours" until 2026-12-08 09:00 Europe/Berlin`.
    pub reason: String,
    /// When every window selecting it is open again (Unix seconds); `None`
    /// when no opening was found ahead.
    pub until: Option<i64>,
    /// Whether a deny range closes it (a freeze), rather than being
    /// outside every allow range.
    pub denied: bool,
}

/// Every window of a configuration, compiled once per configuration.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<CompiledWindow>,
}

impl Windows {
    /// Compiles the configuration's windows. A window with a problem
    /// (reported by validation; an active configuration has none) closes
    /// what it selects, saying so: a broken freeze must not let writes
    /// through.
    pub fn new(config: &Config) -> Windows {
        Windows {
            windows: config
                .windows
                .iter()
                .map(|w| compile(w).unwrap_or_else(|problems| broken(w, &problems)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Whether `product` may write into `environment` at `now` (Unix
    /// seconds): `None` when open, else why not and until when.
    pub fn closed(
        &self,
        config: &Config,
        product: &str,
        environment: &str,
        now: i64,
    ) -> Option<Closed> {
        let selected: Vec<&CompiledWindow> = self
            .windows
            .iter()
            .filter(|w| {
                selector_matches_parts(config, &w.window.spec.selector, product, environment)
            })
            .collect();
        if selected.is_empty() {
            return None;
        }
        let start = Timestamp::from_second(now).ok()?;
        let mut first: Option<(&CompiledWindow, Option<&Range>)> = None;
        let mut t = start;
        let mut until = None;
        for _ in 0..MAX_STEPS {
            let Some((w, why)) = selected
                .iter()
                .find_map(|w| w.closed_at(t).map(|why| (*w, why)))
            else {
                until = Some(t);
                break;
            };
            first.get_or_insert((w, why));
            match w.next_open(t) {
                Some(next) if next > t => t = next,
                _ => break,
            }
        }
        let (w, why) = first?;
        let until_text = until.map(|u| w.local(u));
        let reason = match (why, &until_text) {
            (Some(range), Some(u)) => format!(
                "frozen until {u} by window \"{}\"{}",
                w.name,
                reason_suffix(range)
            ),
            (Some(range), None) => format!(
                "frozen by window \"{}\"{}, with no opening ahead",
                w.name,
                reason_suffix(range)
            ),
            (None, Some(u)) => format!("outside window \"{}\" until {u}", w.name),
            (None, None) => format!("outside window \"{}\", with no opening ahead", w.name),
        };
        Some(Closed {
            window: w.name.clone(),
            reason,
            until: until.map(|u| u.as_second()),
            denied: why.is_some(),
        })
    }
}

fn reason_suffix(range: &Range) -> String {
    range
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default()
}

/// A window that did not compile: closed for good, saying why.
fn broken(w: &PromotionWindow, problems: &[WindowProblem]) -> CompiledWindow {
    let why = problems
        .first()
        .map(|p| format!("{}: {}", p.field, p.message))
        .unwrap_or_default();
    CompiledWindow {
        name: w.name().to_owned(),
        tz_name: "UTC".into(),
        tz: TimeZone::UTC,
        allow: Vec::new(),
        deny: vec![Range {
            rule: Rule::Absolute {
                from: Timestamp::MIN,
                until: Timestamp::MAX,
            },
            reason: Some(format!("the window is invalid ({why})")),
        }],
        window: Arc::new(w.clone()),
    }
}

impl CompiledWindow {
    /// `None` when open at `t`; else the deny range that closes it
    /// (`Some(Some(range))`) or `Some(None)`: outside every allow range.
    fn closed_at(&self, t: Timestamp) -> Option<Option<&Range>> {
        if let Some(d) = self.deny.iter().find(|r| self.covering_end(r, t).is_some()) {
            return Some(Some(d));
        }
        if self.allow.is_empty() || self.allow.iter().any(|r| self.covering_end(r, t).is_some()) {
            return None;
        }
        Some(None)
    }

    /// The first moment from `t` on when this window is open.
    fn next_open(&self, mut t: Timestamp) -> Option<Timestamp> {
        for _ in 0..MAX_STEPS {
            if let Some(end) = self
                .deny
                .iter()
                .filter_map(|r| self.covering_end(r, t))
                .max()
            {
                t = end;
                continue;
            }
            if self.allow.is_empty() || self.allow.iter().any(|r| self.covering_end(r, t).is_some())
            {
                return Some(t);
            }
            t = self
                .allow
                .iter()
                .filter_map(|r| self.next_start(r, t))
                .min()?;
        }
        None
    }

    /// The end of the occurrence of `r` that covers `t`, if one does.
    fn covering_end(&self, r: &Range, t: Timestamp) -> Option<Timestamp> {
        match &r.rule {
            Rule::Absolute { from, until } => (*from <= t && t < *until).then_some(*until),
            Rule::Recurring { cron, length } => {
                // The latest start at or before `t` has the latest end.
                let start = cron
                    .find_previous_occurrence(&t.to_zoned(self.tz.clone()), true)
                    .ok()?;
                let end = start.timestamp().checked_add(*length).ok()?;
                (t < end).then_some(end)
            }
        }
    }

    /// The first start of `r` after `t`.
    fn next_start(&self, r: &Range, t: Timestamp) -> Option<Timestamp> {
        match &r.rule {
            Rule::Absolute { from, .. } => (*from > t).then_some(*from),
            Rule::Recurring { cron, .. } => cron
                .find_next_occurrence(&t.to_zoned(self.tz.clone()), false)
                .ok()
                .map(|z| z.timestamp()),
        }
    }

    /// `t` as people of the window's zone read it.
    fn local(&self, t: Timestamp) -> String {
        let z: Zoned = t.to_zoned(self.tz.clone());
        format!("{} {}", z.strftime("%Y-%m-%d %H:%M"), self.tz_name)
    }
}

/// Compiles one window; every problem, with its field.
pub fn compile(w: &PromotionWindow) -> Result<CompiledWindow, Vec<WindowProblem>> {
    let mut problems = Vec::new();
    let tz_name = w.spec.time_zone.clone().unwrap_or_else(|| "UTC".into());
    let tz = match jiff::tz::db().get(&tz_name) {
        Ok(tz) => tz,
        Err(_) => {
            problems.push(WindowProblem {
                field: "spec.timeZone".into(),
                message: format!(
                    "unknown time zone `{tz_name}` (an IANA name such as `Europe/Berlin`, or `UTC`)"
                ),
            });
            TimeZone::UTC
        }
    };
    let mut ranges = |list: &[WindowRange], field: &str| -> Vec<Range> {
        list.iter()
            .enumerate()
            .filter_map(|(i, r)| match range(r, &tz) {
                Ok(rule) => Some(Range {
                    rule,
                    reason: r.reason.clone(),
                }),
                Err((sub, message)) => {
                    problems.push(WindowProblem {
                        field: format!("spec.{field}[{i}]{sub}"),
                        message,
                    });
                    None
                }
            })
            .collect()
    };
    let allow = ranges(&w.spec.allow, "allow");
    let deny = ranges(&w.spec.deny, "deny");
    if w.spec.allow.is_empty() && w.spec.deny.is_empty() {
        problems.push(WindowProblem {
            field: "spec".into(),
            message: "a window needs `allow` or `deny` ranges".into(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(CompiledWindow {
        name: w.name().to_owned(),
        tz_name,
        tz,
        allow,
        deny,
        window: Arc::new(w.clone()),
    })
}

/// One range; on a problem, the sub-field (`.schedule`) and the message.
fn range(r: &WindowRange, tz: &TimeZone) -> Result<Rule, (String, String)> {
    match (&r.schedule, &r.from) {
        (Some(_), Some(_)) => Err((
            String::new(),
            "give either `schedule` with `duration`, or `from` with `until`, not both".into(),
        )),
        (None, None) => Err((
            String::new(),
            "a range needs `schedule` with `duration`, or `from` with `until`".into(),
        )),
        (Some(schedule), None) => {
            if r.until.is_some() {
                return Err((
                    ".until".into(),
                    "`until` ends an absolute range (`from`); a schedule's range lasts `duration`"
                        .into(),
                ));
            }
            let cron = Cron::from_str(schedule).map_err(|e| {
                (
                    ".schedule".into(),
                    format!("`{schedule}` is not a cron schedule: {e}"),
                )
            })?;
            let Some(duration) = &r.duration else {
                return Err((
                    ".duration".into(),
                    "a schedule needs a `duration` (how long each range lasts, e.g. `8h`)".into(),
                ));
            };
            let length = parse_duration(duration).map_err(|e| (".duration".into(), e))?;
            let length = SignedDuration::try_from(length)
                .ok()
                .filter(|d| d.is_positive())
                .ok_or_else(|| (".duration".into(), "must be longer than zero".to_owned()))?;
            Ok(Rule::Recurring {
                cron: Box::new(cron),
                length,
            })
        }
        (None, Some(from)) => {
            if r.duration.is_some() {
                return Err((
                    ".duration".into(),
                    "`duration` belongs to a `schedule`; an absolute range ends at `until`".into(),
                ));
            }
            let Some(until) = &r.until else {
                return Err((
                    ".until".into(),
                    "an absolute range needs `until` (its end, excluded)".into(),
                ));
            };
            let from_t = moment(from, tz).map_err(|e| (".from".into(), e))?;
            let until_t = moment(until, tz).map_err(|e| (".until".into(), e))?;
            if until_t <= from_t {
                return Err((".until".into(), format!("`{until}` is not after `{from}`")));
            }
            Ok(Rule::Absolute {
                from: from_t,
                until: until_t,
            })
        }
    }
}

/// An absolute time: RFC 3339 with an offset, or a local date-time or
/// date in the window's zone.
fn moment(text: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if let Ok(t) = Timestamp::from_str(text) {
        return Ok(t);
    }
    let civil = jiff::civil::DateTime::from_str(text)
        .or_else(|_| jiff::civil::Date::from_str(text).map(|d| d.to_datetime(jiff::civil::Time::midnight())))
        .map_err(|_| {
            format!("`{text}` is not a time: write `2026-12-21T09:00` (in `timeZone`), `2026-12-21`, or RFC 3339 with an offset")
        })?;
    tz.to_ambiguous_zoned(civil)
        .compatible()
        .map(|z| z.timestamp())
        .map_err(|e| format!("`{text}`: {e}"))
}
