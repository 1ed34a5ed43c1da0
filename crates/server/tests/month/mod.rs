//! A scripted month of releases (issue 21's end-to-end check): a
//! generator that plays the engine's part with a controllable clock and
//! writes what the engine and the release notes would have stored — the
//! release records (environments, applications, steps, timestamps) and
//! each release's notes (the configuration commits it brought, with their
//! author dates) — so the keeper, the store, `ferry-insights`, the API
//! and the pages all run for real over a month nobody had to wait for.
//!
//! The script, product `p` of the common fixture (dev → qa → prod, prod
//! of kind PROD), one release every weekday at 10:00 UTC from Monday
//! 2026-11-02 to Friday 2026-11-27 (20 releases, `k` = 1…20):
//! - release `k`'s notes list two configuration commits, authored 2 h and
//!   26 h before it was created;
//! - dev (trigger): starts 1 min after creation (queued 1 min), ends at
//!   2 min, no steps;
//! - qa: starts when dev ends; commit 1 min, sync 3 min, ends;
//! - prod: starts 4 min after qa ended (waiting to start 4 min); pull
//!   request open `P(k)` = 30 + 20·(k mod 4) min, sync 5 min, post-action
//!   `smoke` 4 min, ends 1 min later. `smoke` fails for releases 5 and 12
//!   (prod FAILED, the release FAILED).

#![allow(dead_code)]

use ferry_notes::document::ReleaseNotes;
use ferry_release::Release;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

/// Monday 2026-11-02 00:00 UTC: the month's first instant.
pub const START: OffsetDateTime = time::macros::datetime!(2026-11-02 00:00 UTC);
/// The period the figures are checked over: four whole weeks.
pub const FROM: &str = "2026-11-02";
pub const TO: &str = "2026-11-30";
pub const RELEASES: u64 = 20;
/// Releases whose prod post-action fails.
pub const FAILING: [u64; 2] = [5, 12];

/// The clock the generator moves: every timestamp it writes is read off
/// it, and only the script advances it.
pub struct Clock(OffsetDateTime);

impl Clock {
    pub fn at(t: OffsetDateTime) -> Clock {
        Clock(t)
    }

    pub fn now(&self) -> OffsetDateTime {
        self.0
    }

    pub fn advance(&mut self, minutes: i64) -> OffsetDateTime {
        self.0 += Duration::minutes(minutes);
        self.0
    }

    pub fn set(&mut self, t: OffsetDateTime) {
        self.0 = t;
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// When release `k` is created: the `k`-th weekday of the month, 10:00.
pub fn created(k: u64) -> OffsetDateTime {
    let (week, weekday) = ((k - 1) / 5, (k - 1) % 5);
    START + Duration::days((week * 7 + weekday) as i64) + Duration::hours(10)
}

/// Minutes release `k`'s pull request into prod stayed open.
pub fn pull_request_minutes(k: u64) -> i64 {
    30 + 20 * (k % 4) as i64
}

/// A step run over `minutes` of the clock.
fn step(clock: &mut Clock, name: &str, phase: &str, minutes: i64, ok: bool) -> Value {
    let start = clock.now();
    let end = clock.advance(minutes);
    json!({
        "name": name, "phase": phase, "status": if ok { "SUCCESS" } else { "FAILED" },
        "startedAt": rfc3339(start), "finishedAt": rfc3339(end), "attempts": 1,
    })
}

fn environment(
    name: &str,
    deps: &[&str],
    started: OffsetDateTime,
    ended: OffsetDateTime,
    ok: bool,
    steps: Vec<Value>,
) -> Value {
    let status = if ok { "SUCCESSFUL" } else { "FAILED" };
    json!({
        "name": name, "status": status, "dependsOn": deps, "trigger": deps.is_empty(),
        "issues": [],
        "applications": [{
            "name": format!("api-{name}"), "key": format!("api-{name}"),
            "path": format!("envs/{name}"), "targetRevision": "main",
            "status": status, "steps": steps,
        }],
        "startedAt": rfc3339(started), "finishedAt": rfc3339(ended),
    })
}

/// Release `k` as the engine would have stored it once finished.
pub fn release(k: u64) -> Release {
    let mut clock = Clock::at(created(k));
    let created_at = clock.now();
    // dev (trigger): queued 1 minute, then 1 minute with nothing to do.
    let dev_start = clock.advance(1);
    let dev_end = clock.advance(1);
    let dev = environment("dev", &[], dev_start, dev_end, true, Vec::new());
    // qa: starts as dev ends.
    let qa_start = clock.now();
    let qa_steps = vec![
        step(&mut clock, "commit", "action", 1, true),
        step(&mut clock, "sync", "sync", 3, true),
    ];
    let qa = environment("qa", &["dev"], qa_start, clock.now(), true, qa_steps);
    // prod: waits 4 minutes to start, a pull request, sync, smoke.
    let prod_start = clock.advance(4);
    let ok = !FAILING.contains(&k);
    let prod_steps = vec![
        step(&mut clock, "pr", "action", pull_request_minutes(k), true),
        step(&mut clock, "sync", "sync", 5, true),
        step(&mut clock, "smoke", "postAction", 4, ok),
    ];
    let prod_end = clock.advance(1);
    let prod = environment("prod", &["qa"], prod_start, prod_end, ok, prod_steps);
    let record = json!({
        "id": id(k), "number": k, "product": "p", "flow": "standard",
        "kind": {"type": "automatic"}, "status": if ok { "SUCCEEDED" } else { "FAILED" },
        "initiator": "month", "createdAt": rfc3339(created_at), "finishedAt": rfc3339(prod_end),
        "version": format!("1.{k}.0"),
        "trigger": {"repoUrl": "", "sha": sha(k, 0), "message": format!("release {k}"),
                    "author": "month", "date": rfc3339(created_at - Duration::hours(2)), "branch": "main"},
        "graph": {"name": "standard", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 86400},
        "snapshot": {"environment": "dev", "applications": {}},
        "environments": [dev, qa, prod],
    });
    serde_json::from_value(record).expect("a release record")
}

pub fn id(k: u64) -> String {
    format!("01MONTH{k:019}")
}

/// The sha of release `k`'s `i`-th commit.
pub fn sha(k: u64, i: u64) -> String {
    format!("{:040x}", k * 16 + i)
}

/// Release `k`'s notes: two configuration commits of dev's application,
/// authored 2 h and 26 h before the release was created.
pub fn notes(k: u64) -> ReleaseNotes {
    let commit = |i: u64, hours: i64| {
        json!({
            "sha": sha(k, i), "author": {"name": "Dev", "email": "dev@example.com"},
            "date": rfc3339(created(k) - Duration::hours(hours)),
            "subject": format!("change {i} for release {k}"), "breaking": false,
        })
    };
    serde_json::from_value(json!({
        "formatVersion": ferry_notes::document::FORMAT_VERSION,
        "release": {"id": id(k), "number": k, "product": "p"},
        "previousRelease": (k > 1).then(|| json!({"id": id(k - 1), "number": k - 1, "product": "p"})),
        "configuration": [{
            "application": "api-dev", "repoUrl": "", "path": "envs/dev",
            "from": (k > 1).then(|| sha(k - 1, 0)), "to": sha(k, 0),
            "commits": [commit(1, 2), commit(2, 26)], "truncated": false,
        }],
        "images": [], "sources": [], "notes": [],
    }))
    .expect("release notes")
}

/// Stores the month: every release, in order, and its notes.
pub async fn store(store: &ferry_store::Store) {
    for k in 1..=RELEASES {
        let created = store
            .create_release(release(k), None, Vec::new())
            .await
            .expect("release stored");
        let _ = created;
        ferry_notes::cache::store_notes(store, &id(k), &notes(k))
            .await
            .expect("notes stored");
    }
}
