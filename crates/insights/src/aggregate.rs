//! Day aggregates: what happened in one environment of one product during
//! one UTC day, classified and packed into a few bytes, so a report over
//! any period reads one small row per product, environment and day
//! instead of every fact (issue 21's "100,000 releases in ≤ 200 ms").
//!
//! A day's aggregate holds exactly what [`compute`](crate::compute) uses
//! of the day — nothing is approximated:
//! - its deployments (those that ended that day) in order, each with its
//!   release, whether it succeeded, why it counts as failed and its
//!   recovery time, classified over the environment's whole history
//!   ([`deployments`]);
//! - the lead time of every commit that first ran there that day, with
//!   the instant it arrived;
//! - the time per phase of every run that ended that day, with that end.
//!
//! Every entry keeps its instant, so a period that starts or ends within
//! a day filters that day's entries, and the figures from aggregates are
//! the figures from the raw facts ([`compute_days`] builds the same
//! [`PairFacts`] as [`compute`](crate::compute); a property test checks
//! it on random histories and periods).
//!
//! A deployment's classification depends on the deployments after it
//! (the next one may be a rollback; the next successful one is its
//! recovery), so recording a run can change days before it: from the day
//! of the last successful deployment before the run (see
//! [`affected_from`]) to the run's own day. The store rebuilds those days
//! with [`day_buckets`] in the transaction that records the run.

use std::collections::{BTreeMap, HashMap};

use crate::deploy::{Cause, deployments};
use crate::facts::{Arrival, EnvRun, FirstSeen, Millis, Phase};
use crate::period::{DAY, Period, WEEK, week_start};
use crate::report::{Dep, PairFacts, Query, Report, compute_pairs, lead_of};

/// The aggregates' format: a row of another version is rebuilt.
pub const FORMAT: u8 = 1;

/// 00:00 UTC of the day of `t`.
pub fn day_of(t: Millis) -> Millis {
    t - t.rem_euclid(DAY)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the insights aggregate of {product}/{environment} for day {day} is corrupt: {reason}")]
pub struct AggregateError {
    pub product: String,
    pub environment: String,
    pub day: Millis,
    pub reason: &'static str,
}

/// One stored aggregate, as read: of a day, or of a week (Monday 00:00
/// UTC on: its seven days' entries together, so a long period reads a
/// row per week).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayRow {
    pub product: String,
    pub environment: String,
    /// 00:00 UTC of the day (of the Monday, for a week).
    pub day: Millis,
    /// [`DAY`] or [`WEEK`].
    pub span: Millis,
    pub facts: Vec<u8>,
}

/// The weeks (their Mondays) wholly inside `period`, as a half-open range
/// of Mondays, and the day ranges around them: what a period reads —
/// aggregates of whole weeks, of the days before and after them.
pub fn split(period: Period) -> Split {
    let first = week_start(period.from);
    let first = if first < period.from {
        first + WEEK
    } else {
        first
    };
    let end = week_start(period.to);
    let start = day_of(period.from);
    if first >= end {
        return Split {
            weeks: None,
            days: [(start, period.to), (period.to, period.to)],
        };
    }
    Split {
        weeks: Some((first, end)),
        days: [(start, first), (end, period.to)],
    }
}

/// See [`split`]: `weeks` (Mondays `from..to`) and `days` (days starting
/// in `from..to`, each range possibly empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub weeks: Option<(Millis, Millis)>,
    pub days: [(Millis, Millis); 2],
}

/// The aggregate of a week from those of its days (`parts`: day, bytes, in
/// day order); `None` when a part is corrupt, an empty vector when there
/// is nothing.
pub fn merge_days(parts: &[(Millis, &[u8])], week: Millis) -> Option<Vec<u8>> {
    let mut b = Buffer::default();
    for (day, bytes) in parts {
        decode(
            bytes,
            *day,
            |d| b.deps.push(d),
            |at, lead| b.leads.push((at, lead)),
            |at, phase, v| b.phases.push((at, phase, v)),
        )?;
    }
    Some(if b.is_empty() {
        Vec::new()
    } else {
        b.encode(week)
    })
}

/// The aggregates of the days `days` (00:00 UTC of the first and of the
/// last day) of one product and environment, from its `runs` — those that
/// ended in those days plus, when anything ended after them, the first
/// deployment and the first successful deployment after them (what
/// classifies the days' deployments) — and `arrivals` (those arriving in
/// those days). Days with nothing are left out. Runs and arrivals of other
/// products or environments must not be given.
pub fn day_buckets(
    runs: &[EnvRun],
    arrivals: &[Arrival],
    days: (Millis, Millis),
) -> Vec<(Millis, Vec<u8>)> {
    let range = Period {
        from: days.0,
        to: days.1.saturating_add(DAY),
    };
    let mut buckets: BTreeMap<Millis, Buffer> = BTreeMap::new();
    let refs: Vec<&EnvRun> = runs.iter().collect();
    for d in deployments(&refs) {
        if range.contains(d.at) {
            let day = day_of(d.at);
            let b = buckets.entry(day).or_default();
            b.deps.push(Dep::from(&d));
        }
    }
    for r in runs.iter().filter(|r| range.contains(r.finished_at)) {
        let b = buckets.entry(day_of(r.finished_at)).or_default();
        b.phases
            .extend(r.phases.iter().map(|(p, v)| (r.finished_at, p, v)));
    }
    for a in arrivals.iter().filter(|a| range.contains(a.arrived_at)) {
        let b = buckets.entry(day_of(a.arrived_at)).or_default();
        b.leads.push((a.arrived_at, lead_of(a)));
    }
    buckets
        .into_iter()
        .filter(|(_, b)| !b.is_empty())
        .map(|(day, b)| (day, b.encode(day)))
        .collect()
}

#[derive(Default)]
struct Buffer<'a> {
    deps: Vec<Dep<'a>>,
    leads: Vec<(Millis, Millis)>,
    phases: Vec<(Millis, Phase, Millis)>,
}

impl Buffer<'_> {
    fn is_empty(&self) -> bool {
        self.deps.is_empty() && self.leads.is_empty() && self.phases.is_empty()
    }

    /// The bytes: a format byte, then the deployments, the lead times and
    /// the phases, each a count and its entries in time order; each
    /// instant as the step from the one before (the first from the
    /// bucket's start), integers as LEB128 varints (signed ones
    /// zigzagged) — a year of 100,000 releases packs into ~20 MB. Hand
    /// written: a few lines, and no serialisation crate in the tree packs
    /// these as tightly.
    fn encode(mut self, start: Millis) -> Vec<u8> {
        // Entries in one order whatever order the facts were read in: the
        // same facts give the same bytes.
        self.leads.sort_unstable();
        self.phases.sort_unstable();
        let mut out = Vec::with_capacity(
            8 + self.deps.len() * 24 + self.leads.len() * 6 + self.phases.len() * 6,
        );
        out.push(FORMAT);
        put_u(&mut out, self.deps.len() as u64);
        let mut prev = start;
        for d in &self.deps {
            put_i(&mut out, d.at - prev);
            prev = d.at;
            put_u(&mut out, d.release.len() as u64);
            out.extend_from_slice(d.release.as_bytes());
            let cause = d.cause.map_or(0, |c| {
                1 + Cause::ALL.iter().position(|x| *x == c).unwrap_or(0) as u8
            });
            let flags = u8::from(d.successful) | cause << 1 | u8::from(d.recovery.is_some()) << 4;
            out.push(flags);
            if let Some(r) = d.recovery {
                put_i(&mut out, r);
            }
        }
        put_u(&mut out, self.leads.len() as u64);
        let mut prev = start;
        for &(at, lead) in &self.leads {
            put_i(&mut out, at - prev);
            prev = at;
            put_i(&mut out, lead);
        }
        put_u(&mut out, self.phases.len() as u64);
        let mut prev = start;
        for &(at, phase, v) in &self.phases {
            put_i(&mut out, at - prev);
            prev = at;
            out.push(phase as u8);
            put_i(&mut out, v);
        }
        out
    }
}

fn put_u(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_i(out: &mut Vec<u8>, v: i64) {
    put_u(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Reads a day's bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn u(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn i(&mut self) -> Option<i64> {
        let u = self.u()?;
        Some((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.u()?).ok()?;
        let end = self.at.checked_add(len)?;
        let s = std::str::from_utf8(self.bytes.get(self.at..end)?).ok()?;
        self.at = end;
        Some(s)
    }

    fn count(&mut self) -> Option<usize> {
        // Every entry takes at least two bytes: a count past that is corrupt.
        let n = usize::try_from(self.u()?).ok()?;
        (n <= self.bytes.len()).then_some(n)
    }
}

/// Hands every entry of `bytes` (an aggregate starting at `start`) to
/// `dep`, `lead` (`(arrived_at, lead)`) and `phase` (`(finished_at,
/// phase, duration)`), in the stored order; `None` when the bytes are not
/// an aggregate of this format.
fn decode<'a>(
    bytes: &'a [u8],
    start: Millis,
    mut dep: impl FnMut(Dep<'a>),
    mut lead: impl FnMut(Millis, Millis),
    mut phase: impl FnMut(Millis, Phase, Millis),
) -> Option<()> {
    let mut r = Reader { bytes, at: 0 };
    if r.byte()? != FORMAT {
        return None;
    }
    let mut at = start;
    for _ in 0..r.count()? {
        at = at.checked_add(r.i()?)?;
        let release = r.str()?;
        let flags = r.byte()?;
        let cause = match (flags >> 1) & 0b111 {
            0 => None,
            c => Some(*Cause::ALL.get(usize::from(c) - 1)?),
        };
        let recovery = if flags & 0b1_0000 != 0 {
            Some(r.i()?)
        } else {
            None
        };
        dep(Dep {
            at,
            release,
            successful: flags & 1 != 0,
            cause,
            recovery,
        });
    }
    let mut at = start;
    for _ in 0..r.count()? {
        at = at.checked_add(r.i()?)?;
        lead(at, r.i()?);
    }
    let mut at = start;
    for _ in 0..r.count()? {
        at = at.checked_add(r.i()?)?;
        let p = *Phase::ALL.get(usize::from(r.byte()?))?;
        phase(at, p, r.i()?);
    }
    (r.at == bytes.len()).then_some(())
}

/// Appends the entries of the aggregate `bytes` (starting at `start`,
/// `span` long) that fall in `period` to `facts`.
fn decode_into<'a>(
    bytes: &'a [u8],
    start: Millis,
    span: Millis,
    period: Period,
    facts: &mut PairFacts<'a>,
) -> Option<()> {
    let PairFacts {
        deps,
        leads,
        phases,
    } = facts;
    if period.from <= start && start.saturating_add(span) <= period.to {
        decode(
            bytes,
            start,
            |d| deps.push(d),
            |at, l| leads.push((at, l)),
            |_, p, v| phases[p as usize].push(v),
        )
    } else {
        decode(
            bytes,
            start,
            |d| {
                if period.contains(d.at) {
                    deps.push(d)
                }
            },
            |at, l| {
                if period.contains(at) {
                    leads.push((at, l))
                }
            },
            |at, p, v| {
                if period.contains(at) {
                    phases[p as usize].push(v)
                }
            },
        )
    }
}

/// The figures of `query.period` from the day aggregates of the days it
/// touches (any order) and when each environment was first seen: the
/// same report [`compute`](crate::compute) gives from the raw facts.
pub fn compute_days(
    query: &Query,
    days: &[DayRow],
    first_seen: &[FirstSeen],
) -> Result<Report, AggregateError> {
    let period = query.period;
    let mut ordered: Vec<&DayRow> = days.iter().collect();
    ordered.sort_unstable_by(|a, b| {
        (&a.product, &a.environment, a.day).cmp(&(&b.product, &b.environment, b.day))
    });
    let mut pairs: HashMap<(&str, &str), PairFacts<'_>> = HashMap::new();
    for row in ordered {
        let facts = pairs
            .entry((row.product.as_str(), row.environment.as_str()))
            .or_default();
        decode_into(&row.facts, row.day, row.span, period, facts).ok_or_else(|| {
            AggregateError {
                product: row.product.clone(),
                environment: row.environment.clone(),
                day: row.day,
                reason: "not a day aggregate of this version",
            }
        })?;
    }
    let first_seen: HashMap<(&str, &str), Millis> = first_seen
        .iter()
        .map(|f| ((f.product.as_str(), f.environment.as_str()), f.at))
        .collect();
    Ok(compute_pairs(query, &pairs, &first_seen))
}
