//! The engine's clock (issue 20): what time-based decisions read —
//! promotion windows and freezes, approval expiry, soak times — and how
//! the engine waits for a moment to come.
//!
//! Production uses the system clock. Tests drive a [`ManualClock`]: time
//! stands still until the test sets or advances it, and every
//! [`Clock::sleep_until`] waiting on it wakes when it passes the moment
//! waited for. The timestamps the engine *records* (steps started, events)
//! stay on the wall clock; a decision compares the clock with moments it
//! computed from the clock (a window's opening, an approval's expiry).

use std::sync::Arc;
use std::time::Duration;

use ferry_release::Timestamp;
use tokio::sync::watch;

/// How long a wait on the system clock sleeps before it looks at the time
/// again (the wall clock may be set while a wait is long).
const SYSTEM_RECHECK: Duration = Duration::from_secs(60);

/// The time as the engine sees it. Cheap to clone.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system clock.
    manual: Option<Arc<watch::Sender<Timestamp>>>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.manual {
            None => f.write_str("Clock(system)"),
            Some(t) => write!(f, "Clock(manual {})", *t.borrow()),
        }
    }
}

impl Clock {
    /// The system clock (UTC).
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => ferry_release::now(),
            Some(t) => *t.borrow(),
        }
    }

    /// Waits until the clock reads `at` or later.
    pub async fn sleep_until(&self, at: Timestamp) {
        match &self.manual {
            None => loop {
                let left = at - ferry_release::now();
                if !left.is_positive() {
                    return;
                }
                let left = Duration::try_from(left).unwrap_or(SYSTEM_RECHECK);
                tokio::time::sleep(left.min(SYSTEM_RECHECK)).await;
            },
            Some(t) => {
                let mut rx = t.subscribe();
                loop {
                    if *rx.borrow_and_update() >= at {
                        return;
                    }
                    if rx.changed().await.is_err() {
                        // The sender lives as long as this clock: unreachable,
                        // but never wake early.
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }
}

/// A clock that moves only when told (tests).
#[derive(Clone, Debug)]
pub struct ManualClock {
    clock: Clock,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        let (tx, _) = watch::channel(start);
        ManualClock {
            clock: Clock {
                manual: Some(Arc::new(tx)),
            },
        }
    }

    /// The clock to give the engine.
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sets the time (also backwards: a test may replay a moment).
    pub fn set(&self, at: Timestamp) {
        if let Some(t) = &self.clock.manual {
            t.send_replace(at);
        }
    }

    /// Moves the time forward by `by`.
    pub fn advance(&self, by: time::Duration) {
        self.set(self.now() + by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s, &time::format_description::well_known::Rfc3339).expect("a time")
    }

    #[tokio::test]
    async fn a_wait_on_a_manual_clock_ends_when_the_clock_passes_its_moment() {
        let manual = ManualClock::new(at("2026-12-07T08:00:00Z"));
        let clock = manual.clock();
        let wait = tokio::spawn(async move { clock.sleep_until(at("2026-12-07T09:00:00Z")).await });
        tokio::task::yield_now().await;
        manual.advance(time::Duration::minutes(59));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!wait.is_finished(), "woke before its moment");
        manual.advance(time::Duration::minutes(1));
        tokio::time::timeout(Duration::from_secs(5), wait)
            .await
            .expect("woke at its moment")
            .expect("the wait ran");
        assert_eq!(manual.now(), at("2026-12-07T09:00:00Z"));
    }

    #[tokio::test]
    async fn the_system_clock_reads_the_wall_clock_and_past_moments_do_not_wait() {
        let clock = Clock::system();
        let before = ferry_release::now();
        let now = clock.now();
        assert!(now >= before && now - before < time::Duration::seconds(5));
        tokio::time::timeout(
            Duration::from_secs(1),
            clock.sleep_until(before - time::Duration::hours(1)),
        )
        .await
        .expect("a moment in the past does not wait");
    }
}
