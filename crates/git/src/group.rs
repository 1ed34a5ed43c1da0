//! Group commit: promotions onto one branch of one mirror share pushes
//! (issue 24).
//!
//! Why: every push to a branch is a round trip the remote serialises (it
//! accepts one fast-forward at a time), and each costs a `git push`
//! process, a `receive-pack` and its connectivity check. Promotions of
//! different products onto the same branch used to queue on the mirror
//! lock for each other's push, one push each — ten at once meant the last
//! waited for nine pushes. Like a database's group commit, they now form a
//! *lane* per (mirror, branch):
//!
//! - each promotion builds its commit in-process on the lane's newest
//!   commit (the branch tip, or the last commit built but not pushed yet),
//!   so the commits form a chain; building is serialised by the lane (each
//!   builds on the one before), and takes milliseconds;
//! - whoever finds no push running pushes the chain's end — every commit
//!   built so far, each with its own message and trailers — in one `git
//!   push`; the others wait for a push that carries their commit;
//! - a push that loses the race (or fails) drops every commit not pushed:
//!   they were built on a tip the remote no longer has. Each owner builds
//!   its commit again on the new tip (after the usual jittered backoff),
//!   exactly as a lone promotion does after a lost race.
//!
//! Nothing changes for the remote: it receives fast-forwards only, and every
//! promotion still gets its own commit, found again by its trailers. The
//! lanes live in this process (one per mirror directory and branch, as the
//! fetch flights do); between processes the remote stays the arbiter.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};

use git2::Oid;

/// The commits of one branch of one mirror that wait for a push.
#[derive(Default)]
pub(crate) struct Lane {
    /// Held while a commit is built on the lane's end (one at a time:
    /// each builds on the one before).
    build: Mutex<()>,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Built and not pushed yet, oldest first: (sequence number, commit).
    /// Each commit's parent is the one before it (the first's is the
    /// branch tip it was built on).
    chain: Vec<(u64, Oid)>,
    /// The sequence number of the next commit appended.
    next: u64,
    /// Commits numbered below this are on the remote.
    pushed: u64,
    /// Commits numbered below this and not pushed were dropped (their push
    /// lost a race or failed): built again by their owners.
    dropped: u64,
    /// A push of the chain is running.
    pushing: bool,
}

/// What became of a commit in the lane.
pub(crate) enum Fate {
    /// It is on the remote.
    Pushed,
    /// Its push lost a race or failed: build it again.
    Dropped,
    /// Nobody pushes now: push `end` (which carries it), then call
    /// [`Pushing::done`].
    Push(Pushing),
}

/// The duty to push the lane up to `end`; ends the push as failed when
/// dropped without [`Pushing::done`] (so that no waiter waits forever).
pub(crate) struct Pushing {
    lane: Arc<Lane>,
    /// The chain's end when the push began.
    pub end: Oid,
    /// Sequence numbers below this are carried by the push.
    upto: u64,
    finished: bool,
}

impl Pushing {
    /// The push ended: landed (`true`) or lost / failed (`false`).
    pub(crate) fn done(mut self, landed: bool) {
        self.finished = true;
        self.lane.finish(self.upto, landed);
    }
}

impl Drop for Pushing {
    fn drop(&mut self) {
        if !self.finished {
            self.lane.finish(self.upto, false);
        }
    }
}

/// The build turn of a lane: held while a commit is built on its end.
pub(crate) struct Building<'l> {
    lane: &'l Lane,
    _turn: MutexGuard<'l, ()>,
}

impl Building<'_> {
    /// The newest commit of the lane not pushed yet, if any (else the
    /// branch tip is the end).
    pub(crate) fn end(&self) -> Option<Oid> {
        self.lane.state().chain.last().map(|(_, c)| *c)
    }

    /// The sequence number of `commit` if it waits in the lane.
    pub(crate) fn waiting(&self, commit: Oid) -> Option<u64> {
        self.lane
            .state()
            .chain
            .iter()
            .find(|(_, c)| *c == commit)
            .map(|(seq, _)| *seq)
    }

    /// Appends `commit`, built on `parent` (`None`: on the branch tip, the
    /// lane being empty). `None` when the lane's end is no longer `parent`
    /// (a push finished meanwhile): build again.
    pub(crate) fn append(&self, parent: Option<Oid>, commit: Oid) -> Option<u64> {
        let mut state = self.lane.state();
        if state.chain.last().map(|(_, c)| *c) != parent {
            return None;
        }
        let seq = state.next;
        state.next += 1;
        state.chain.push((seq, commit));
        Some(seq)
    }
}

/// (mirror directory, branch) → its lane.
type Lanes = HashMap<(PathBuf, String), Arc<Lane>>;

static LANES: LazyLock<Mutex<Lanes>> = LazyLock::new(Mutex::default);

/// The lane of `branch` in the mirror at `path` (shared by every `Mirror`
/// of it in this process).
pub(crate) fn lane(path: &Path, branch: &str) -> Arc<Lane> {
    let mut all = LANES.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        all.entry((path.to_path_buf(), branch.to_owned()))
            .or_default(),
    )
}

impl Lane {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for the turn to build a commit on the lane's end.
    pub(crate) fn build(&self) -> Building<'_> {
        Building {
            lane: self,
            _turn: self.build.lock().unwrap_or_else(|p| p.into_inner()),
        }
    }

    /// Waits until commit `seq` is pushed or dropped — or until nobody
    /// pushes, in which case the caller pushes the chain.
    pub(crate) fn wait(self: &Arc<Self>, seq: u64) -> Fate {
        let mut state = self.state();
        loop {
            if seq < state.pushed {
                return Fate::Pushed;
            }
            if seq < state.dropped {
                return Fate::Dropped;
            }
            if !state.pushing {
                if let Some(&(_, end)) = state.chain.last() {
                    state.pushing = true;
                    return Fate::Push(Pushing {
                        lane: Arc::clone(self),
                        end,
                        upto: state.next,
                        finished: false,
                    });
                }
                // Not pushed, not dropped, not in the chain: cannot happen
                // (every path out of the chain moves `pushed` or `dropped`);
                // build again rather than wait for nothing.
                return Fate::Dropped;
            }
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn finish(&self, upto: u64, landed: bool) {
        let mut state = self.state();
        state.pushing = false;
        if landed {
            state.pushed = state.pushed.max(upto);
            state.chain.retain(|(seq, _)| *seq >= upto);
        } else {
            // Everything not pushed was built on what the remote refused.
            state.dropped = state.next;
            state.chain.clear();
        }
        drop(state);
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oid(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn one_push_carries_every_commit_built_before_it() {
        let lane = Arc::new(Lane::default());
        let a = lane.build().append(None, oid(1)).unwrap();
        let b = lane.build().append(Some(oid(1)), oid(2)).unwrap();
        let Fate::Push(push) = lane.wait(a) else {
            panic!("the first waiter pushes");
        };
        assert_eq!(push.end, oid(2));
        // Built while the push runs: on the chain, for the next push.
        let c = lane.build().append(Some(oid(2)), oid(3)).unwrap();
        push.done(true);
        assert!(matches!(lane.wait(a), Fate::Pushed));
        assert!(matches!(lane.wait(b), Fate::Pushed));
        let Fate::Push(next) = lane.wait(c) else {
            panic!("c waits for the next push");
        };
        assert_eq!(next.end, oid(3));
        next.done(true);
        assert!(matches!(lane.wait(c), Fate::Pushed));
        // The lane is empty: the next commit builds on the branch tip.
        assert_eq!(lane.build().end(), None);
    }

    #[test]
    fn a_lost_push_drops_every_commit_not_pushed() {
        let lane = Arc::new(Lane::default());
        let a = lane.build().append(None, oid(1)).unwrap();
        let Fate::Push(push) = lane.wait(a) else {
            panic!("pushes");
        };
        let b = lane.build().append(Some(oid(1)), oid(2)).unwrap();
        // Dropped without `done` (a panic, an error): lost.
        drop(push);
        assert!(matches!(lane.wait(a), Fate::Dropped));
        assert!(matches!(lane.wait(b), Fate::Dropped));
        assert_eq!(lane.build().end(), None);
        // A commit built on a dropped end is refused.
        assert_eq!(lane.build().append(Some(oid(2)), oid(3)), None);
        let d = lane.build().append(None, oid(4)).unwrap();
        assert!(matches!(lane.wait(d), Fate::Push(_)));
    }
}
