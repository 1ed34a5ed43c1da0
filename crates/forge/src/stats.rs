//! Process-wide counters of the forge API calls this process made, for the
//! server's `/metrics` (`ferry_forge_requests_total`,
//! `ferry_forge_request_duration_seconds`).
//!
//! Why here and not in the server: every call goes through one function
//! (`client::Client::send`), so counting there sees statuses, pull
//! requests and webhook follow-ups alike, retries included, without each
//! caller remembering to. Labels are the forge, the HTTP method and the
//! answer's status code (or `error` when no answer came) — never the path,
//! which holds repository names and SHAs and would grow without bound.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::ForgeKind;

/// Calls of one (forge, method, status) and their summed duration.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CallCount {
    pub calls: u64,
    pub seconds: f64,
}

/// (forge, method, status) → calls; status is the HTTP code or `error`.
pub type ForgeStats = BTreeMap<(&'static str, String, String), CallCount>;

static CALLS: Mutex<ForgeStats> = Mutex::new(BTreeMap::new());

/// Commit statuses per forge that were not delivered because the forge's
/// state machine does not take them (`ferry_forge_status_refused_total`).
static REFUSED: Mutex<BTreeMap<&'static str, u64>> = Mutex::new(BTreeMap::new());

/// Refused status transitions by forge, since the process started.
pub fn refused() -> BTreeMap<&'static str, u64> {
    REFUSED.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

pub(crate) fn record_refused(kind: ForgeKind) {
    *REFUSED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry(kind.as_str())
        .or_default() += 1;
}

/// Every forge call made by this process so far.
pub fn stats() -> ForgeStats {
    CALLS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Records one call: `status` is the answer's code, `None` when the call
/// got no answer (connection refused, timeout).
pub(crate) fn record(kind: ForgeKind, method: &str, status: Option<u16>, elapsed: Duration) {
    let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
    let mut calls = CALLS.lock().unwrap_or_else(|p| p.into_inner());
    let c = calls
        .entry((kind.as_str(), method.to_owned(), status))
        .or_default();
    c.calls += 1;
    c.seconds += elapsed.as_secs_f64();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_forge_method_and_status() {
        // Process-wide: compare with what was there before.
        let key = |s: &str| ("bitbucket", "PATCH".to_owned(), s.to_owned());
        let before = stats();
        record(
            ForgeKind::Bitbucket,
            "PATCH",
            Some(201),
            Duration::from_millis(20),
        );
        record(
            ForgeKind::Bitbucket,
            "PATCH",
            Some(201),
            Duration::from_millis(30),
        );
        record(
            ForgeKind::Bitbucket,
            "PATCH",
            None,
            Duration::from_millis(5),
        );
        let after = stats();
        let grew = |s: &str| {
            let b = before.get(&key(s)).copied().unwrap_or_default();
            let a = after.get(&key(s)).copied().unwrap_or_default();
            (
                a.calls - b.calls,
                ((a.seconds - b.seconds) * 1000.0).round(),
            )
        };
        assert_eq!(grew("201"), (2, 50.0));
        assert_eq!(grew("error"), (1, 5.0));
    }
}
