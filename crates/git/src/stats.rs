//! Process-wide counters of the git commands this process ran.
//!
//! Why: the release engine's cost has two parts — Git (clone, fetch, push:
//! child processes that dominate wall time) and everything else (the
//! engine's own bookkeeping). Counting the first lets the benchmarks report
//! the second ("time not spent in Git") directly instead of by difference,
//! and lets operators see how much of a promotion is spent waiting on the
//! remote. Two relaxed atomic adds per command: nothing measurable.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static COMMANDS: AtomicU64 = AtomicU64::new(0);
static BUSY_NANOS: AtomicU64 = AtomicU64::new(0);

/// What [`stats`] returns: totals since the process started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GitStats {
    /// git commands started (fetch, push, clone, ls-remote, …).
    pub commands: u64,
    /// Summed wall time from spawning each command to reaping it.
    pub busy: Duration,
}

impl GitStats {
    /// The work done between `earlier` and `self`.
    pub fn since(&self, earlier: &GitStats) -> GitStats {
        GitStats {
            commands: self.commands.saturating_sub(earlier.commands),
            busy: self.busy.saturating_sub(earlier.busy),
        }
    }
}

/// Totals of the git commands run by this process so far.
pub fn stats() -> GitStats {
    GitStats {
        commands: COMMANDS.load(Ordering::Relaxed),
        busy: Duration::from_nanos(BUSY_NANOS.load(Ordering::Relaxed)),
    }
}

/// Records one finished (or timed-out) command.
pub(crate) fn record(elapsed: Duration) {
    COMMANDS.fetch_add(1, Ordering::Relaxed);
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    BUSY_NANOS.fetch_add(nanos, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_and_never_underflows() {
        let a = GitStats {
            commands: 3,
            busy: Duration::from_millis(30),
        };
        let b = GitStats {
            commands: 5,
            busy: Duration::from_millis(42),
        };
        assert_eq!(
            b.since(&a),
            GitStats {
                commands: 2,
                busy: Duration::from_millis(12)
            }
        );
        assert_eq!(a.since(&b), GitStats::default());
    }

    #[test]
    fn recording_moves_the_totals() {
        let before = stats();
        record(Duration::from_millis(7));
        let d = stats().since(&before);
        // Other tests in this process may run commands at the same time.
        assert!(d.commands >= 1);
        assert!(d.busy >= Duration::from_millis(7));
    }
}
