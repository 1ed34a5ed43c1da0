//! One fetch at a time per mirror in this process, shared by every caller
//! it satisfies (single-flight, issue 24).
//!
//! A caller asks for a fetch that started at or after some instant (its
//! request: "the branch as of now"). While a fetch runs, callers that
//! arrive wait for it; those that arrived before it started are served by
//! it, the others by the one fetch that starts after it for all of them.
//! So a burst of releases needing one repository costs at most two
//! fetches, and waiting callers hold no lock file and start no process.
//! The mirror's lock file and fetch marker still order fetches between
//! processes (see [`crate::mirror`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// The fetch state of one mirror directory.
#[derive(Default)]
pub(crate) struct Flight {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Default)]
struct State {
    /// When the running fetch started (set when it has the mirror lock).
    running: Option<SystemTime>,
    /// Counts finished fetches, so a waiter knows the one it waited for ended.
    finished: u64,
    /// When the newest fetch this process saw succeed started.
    last_ok: Option<SystemTime>,
    /// How the newest finished fetch failed, if it did (message, transient).
    last_error: Option<(String, bool)>,
}

static FLIGHTS: LazyLock<Mutex<HashMap<PathBuf, Arc<Flight>>>> = LazyLock::new(Mutex::default);

/// The flight of the mirror at `path` (shared by every `Mirror` of it).
pub(crate) fn of(path: &Path) -> Arc<Flight> {
    let mut all = FLIGHTS.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(all.entry(path.to_path_buf()).or_default())
}

impl std::fmt::Debug for Flight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("Flight")
            .field("running", &state.running)
            .field("last_ok", &state.last_ok)
            .finish()
    }
}

impl Flight {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes sure a fetch that started at or after `since` has succeeded:
    /// waits for the running one, and runs `fetch` (given a callback to
    /// report when it really started) only when no fetch serves the call.
    /// `Ok(true)` when this call ran the fetch that served it.
    pub(crate) fn since(
        &self,
        since: SystemTime,
        url: &str,
        fetch: impl FnOnce(&dyn Fn(SystemTime)) -> Result<bool>,
    ) -> Result<bool> {
        let mut state = self.state();
        loop {
            if state.last_ok.is_some_and(|last| last >= since) {
                return Ok(false);
            }
            let Some(started) = state.running else {
                break;
            };
            let serves = started >= since;
            let ticket = state.finished;
            while state.finished == ticket {
                state = self.done.wait(state).unwrap_or_else(|p| p.into_inner());
            }
            if serves && let Some((message, transient)) = &state.last_error {
                // The fetch that was to serve this call failed: say so
                // rather than repeat it at once, one caller after another.
                return Err(Error::SharedFetch {
                    url: url.to_owned(),
                    message: message.clone(),
                    transient: *transient,
                });
            }
        }
        // This call runs the next fetch.
        state.running = Some(SystemTime::now());
        drop(state);
        let report = |at: SystemTime| {
            let mut state = self.state();
            state.running = Some(at);
        };
        let result = fetch(&report);
        let mut state = self.state();
        let started = state.running.take();
        state.finished += 1;
        match &result {
            Ok(_) => {
                state.last_ok = state.last_ok.max(started);
                state.last_error = None;
            }
            Err(e) => state.last_error = Some((e.to_string(), e.is_transient())),
        }
        drop(state);
        self.done.notify_all();
        result
    }
}
