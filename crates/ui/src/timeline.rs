//! The release's history as people read it: newest first, events of the
//! same second under one time (a release start writes dozens at once),
//! each second labelled by its offset from the release's start (`+2m 13s`)
//! with the absolute time beside it. The release view shows the newest
//! [`RECENT`]; `…/timeline?before=SEQ` pages through all of them,
//! [`PAGE`] at a time.

use ferry_release::{Event, Timestamp};

use crate::layout::{When, when};
use crate::status::{self, Shown};
use crate::text::code_spans;

/// Events on the release view.
pub const RECENT: usize = 12;
/// Events per timeline page.
pub const PAGE: usize = 100;

pub struct EventView {
    pub kind: String,
    pub subject: String,
    pub status: Option<Shown>,
    pub status_text: String,
    /// HTML: escaped, `code` spans.
    pub message: String,
}

/// The events of one second.
pub struct Second {
    unix: i64,
    pub at: When,
    /// Offset from the release's start: `+0s`, `+2m 13s`, `+1h 02m`.
    pub offset: String,
    pub events: Vec<EventView>,
}

/// Events newest first, and where the pages around them start.
pub struct Timeline {
    pub seconds: Vec<Second>,
    /// Events older than those shown (0: the oldest is shown).
    pub older: usize,
    /// `before` of the page of older events.
    pub older_before: u64,
    /// Events newer than those shown (0: the newest is shown).
    pub newer: usize,
    /// `before` of the page of newer events (0: the newest page).
    pub newer_before: u64,
    pub total: usize,
}

fn event_view(e: &Event) -> EventView {
    let subject = [&e.environment, &e.application, &e.step]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" / ");
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    EventView {
        kind,
        subject,
        status: status::any(&e.status),
        status_text: e.status.clone(),
        message: e.message.as_deref().map(code_spans).unwrap_or_default(),
    }
}

/// `+2m 13s` from `start` to `t`.
pub fn offset(start: Timestamp, t: Timestamp) -> String {
    let s = (t - start).whole_seconds();
    let sign = if s < 0 { "-" } else { "+" };
    let s = s.unsigned_abs();
    if s >= 3600 {
        format!("{sign}{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{sign}{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{sign}{s}s")
    }
}

/// Up to `count` events of `events` (oldest first, as stored) with a
/// sequence number below `before` (0: from the newest), newest first and
/// grouped by second.
pub fn page(events: &[Event], start: Timestamp, before: u64, count: usize) -> Timeline {
    let end = if before == 0 {
        events.len()
    } else {
        events.partition_point(|e| e.seq < before)
    };
    let begin = end.saturating_sub(count);
    let shown = &events[begin..end];
    let mut seconds: Vec<Second> = Vec::new();
    for e in shown.iter().rev() {
        let second = e.at.unix_timestamp();
        match seconds.last_mut() {
            Some(s) if s.unix == second => s.events.push(event_view(e)),
            _ => seconds.push(Second {
                unix: second,
                at: when(e.at),
                offset: offset(start, e.at),
                events: vec![event_view(e)],
            }),
        }
    }
    let newer = events.len() - end;
    Timeline {
        seconds,
        older: begin,
        older_before: shown.first().map_or(0, |e| e.seq),
        newer,
        newer_before: if newer > count {
            events[end + count].seq
        } else {
            0
        },
        total: events.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_release::{EventKind, NewEvent};

    fn events(n: usize, per_second: usize) -> (Timestamp, Vec<Event>) {
        let t0 = time::macros::datetime!(2026-01-01 10:00:00 UTC);
        let evs = (0..n)
            .map(|i| {
                let mut e = NewEvent::new(EventKind::Step, "RUNNING").message("step `x`");
                e.at = t0 + time::Duration::seconds((i / per_second) as i64);
                e.into_event("r", i as u64 + 1)
            })
            .collect();
        (t0, evs)
    }

    #[test]
    fn newest_first_grouped_by_second() {
        let (t0, evs) = events(10, 4);
        let t = page(&evs, t0, 0, 100);
        assert_eq!(t.seconds.len(), 3);
        assert_eq!(t.seconds[0].offset, "+2s");
        assert_eq!(t.seconds[0].events.len(), 2);
        assert_eq!(t.seconds[2].events.len(), 4);
        assert_eq!(t.seconds[2].offset, "+0s");
        assert_eq!((t.older, t.newer), (0, 0));
        assert_eq!(t.seconds[0].events[0].message, "step <code>x</code>");
    }

    #[test]
    fn pages_reach_every_event() {
        let (t0, evs) = events(250, 7);
        let first = page(&evs, t0, 0, 100);
        assert_eq!((first.older, first.newer), (150, 0));
        assert_eq!(first.older_before, 151);
        let second = page(&evs, t0, first.older_before, 100);
        assert_eq!((second.older, second.newer), (50, 100));
        assert_eq!(second.newer_before, 0, "the newer page is the newest");
        let third = page(&evs, t0, second.older_before, 100);
        assert_eq!((third.older, third.newer), (0, 200));
        assert_eq!(third.newer_before, 151);
        let shown: usize = [first, second, third]
            .iter()
            .flat_map(|p| &p.seconds)
            .map(|s| s.events.len())
            .sum();
        assert_eq!(shown, 250);
    }

    #[test]
    fn offsets() {
        let t0 = time::macros::datetime!(2026-01-01 10:00:00 UTC);
        assert_eq!(offset(t0, t0 + time::Duration::seconds(133)), "+2m 13s");
        assert_eq!(offset(t0, t0 + time::Duration::seconds(3720)), "+1h 02m");
    }
}
