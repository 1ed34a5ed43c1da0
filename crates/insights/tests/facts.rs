//! Facts read off release records: the instants and phases of each
//! environment run, worked out by hand from the record.

use ferry_insights::period::MINUTE;
use ferry_insights::{Millis, Phase, RunStatus, millis, runs_of};
use ferry_release::{Release, TerminationReason};
use serde_json::{Value, json};

/// 2026-01-05T10:00:00Z plus `m` minutes, as RFC 3339.
fn at(m: i64) -> String {
    let t = time::macros::datetime!(2026-01-05 10:00 UTC) + time::Duration::minutes(m);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn ms(m: i64) -> Millis {
    millis(time::macros::datetime!(2026-01-05 10:00 UTC)) + m * MINUTE
}

fn step(name: &str, phase: &str, status: &str, start: i64, end: i64) -> Value {
    json!({"name": name, "phase": phase, "status": status, "startedAt": at(start), "finishedAt": at(end), "attempts": 1})
}

fn app(name: &str, status: &str, steps: Vec<Value>) -> Value {
    json!({"name": name, "key": name, "status": status, "steps": steps})
}

fn env(
    name: &str,
    status: &str,
    deps: &[&str],
    start: i64,
    end: Option<i64>,
    apps: Vec<Value>,
) -> Value {
    let mut e = json!({
        "name": name, "status": status, "dependsOn": deps, "issues": [],
        "applications": apps, "startedAt": at(start),
    });
    if let Some(end) = end {
        e["finishedAt"] = json!(at(end));
    }
    e
}

fn release(status: &str, finished: Option<i64>, envs: Vec<Value>, extra: Value) -> Release {
    let mut r = json!({
        "id": "01JTEST", "number": 7, "product": "shop", "flow": "main",
        "kind": {"type": "automatic"}, "status": status, "initiator": "ada",
        "createdAt": at(0), "finishedAt": finished.map(at), "version": "1.2.3",
        "trigger": {"repoUrl": "", "sha": "abc", "message": "", "author": "", "date": "", "branch": "main"},
        "graph": {"name": "main", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 3600},
        "snapshot": {"environment": "dev", "applications": {}},
        "environments": envs,
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    serde_json::from_value(r).unwrap()
}

#[test]
fn a_release_through_three_environments() {
    // Created at 0; queued until dev started at 5.
    // dev (trigger): post-action 5–6.
    // staging (after dev ended at 6, started at 9: 3 min waiting to start):
    //   api: pre 10–14, commit 14–15, sync 15–18, post 18–20
    //   web: pre 10–12, commit 12–13, sync 13–25 (the slow one)
    //   hooks: onSuccess 25–26; ended 26.
    // prod (after staging ended at 26, started at 26): api: pr 27–87
    //   (merged), sync 87–90, post-action FAILED 90–91; ended FAILED 92.
    let r = release(
        "FAILED",
        Some(93),
        vec![
            json!({"name": "dev", "status": "SUCCESSFUL", "dependsOn": [], "trigger": true, "issues": [],
                   "applications": [app("api", "SUCCESSFUL", vec![step("verify", "postAction", "SUCCESS", 5, 6)])],
                   "startedAt": at(5), "finishedAt": at(6)}),
            {
                let mut e = env(
                    "staging",
                    "SUCCESSFUL",
                    &["dev"],
                    9,
                    Some(26),
                    vec![
                        app(
                            "api",
                            "SUCCESSFUL",
                            vec![
                                step("smoke", "preAction", "SUCCESS", 10, 14),
                                step("commit", "action", "SUCCESS", 14, 15),
                                step("sync", "sync", "SUCCESS", 15, 18),
                                step("notify", "postAction", "SUCCESS", 18, 20),
                            ],
                        ),
                        app(
                            "web",
                            "SUCCESSFUL",
                            vec![
                                step("smoke", "preAction", "SUCCESS", 10, 12),
                                step("commit", "action", "SUCCESS", 12, 13),
                                step("sync", "sync", "SUCCESS", 13, 25),
                            ],
                        ),
                    ],
                );
                e["hooks"] = json!([step("onSuccess: tell", "hook", "SUCCESS", 25, 26)]);
                e
            },
            env(
                "prod",
                "FAILED",
                &["staging"],
                26,
                Some(92),
                vec![app(
                    "api",
                    "FAILED",
                    vec![
                        step("pr", "action", "SUCCESS", 27, 87),
                        step("sync", "sync", "SUCCESS", 87, 90),
                        step("health", "postAction", "FAILED", 90, 91),
                    ],
                )],
            ),
        ],
        json!({}),
    );
    let runs = runs_of(&r);
    assert_eq!(runs.len(), 3);
    let (dev, staging, prod) = (&runs[0], &runs[1], &runs[2]);

    assert!(dev.trigger);
    assert_eq!(dev.phases.get(Phase::Queue), Some(5 * MINUTE));
    assert_eq!(dev.phases.get(Phase::PostAction), Some(MINUTE));
    assert_eq!(
        dev.changed_at, None,
        "nothing is promoted into the trigger environment"
    );
    assert!(!dev.is_deployment());

    assert_eq!(staging.status, RunStatus::Successful);
    assert_eq!(staging.phases.get(Phase::Queue), None);
    assert_eq!(staging.phases.get(Phase::Window), Some(3 * MINUTE));
    assert_eq!(
        staging.phases.get(Phase::PreAction),
        Some(4 * MINUTE),
        "10–14 over both apps"
    );
    assert_eq!(staging.phases.get(Phase::Commit), Some(3 * MINUTE), "12–15");
    assert_eq!(staging.phases.get(Phase::Sync), Some(12 * MINUTE), "13–25");
    assert_eq!(staging.phases.get(Phase::PostAction), Some(2 * MINUTE));
    assert_eq!(staging.phases.get(Phase::Hooks), Some(MINUTE));
    assert_eq!(staging.phases.get(Phase::PullRequest), None);
    assert_eq!(staging.changed_at, Some(ms(15)), "the last commit");
    assert_eq!(
        staging.running_at,
        Some(ms(25)),
        "the last application synced and healthy"
    );
    assert_eq!((staging.finished_at, staging.failed_at), (ms(26), None));
    assert!(staging.is_deployment());

    assert_eq!(prod.status, RunStatus::Failed);
    assert_eq!(prod.phases.get(Phase::Window), Some(0));
    assert_eq!(prod.phases.get(Phase::PullRequest), Some(60 * MINUTE));
    assert_eq!(prod.phases.get(Phase::Commit), None);
    assert_eq!(prod.changed_at, Some(ms(87)), "the pull request's merge");
    assert_eq!(
        prod.running_at, None,
        "a failed run never counts as running there"
    );
    assert_eq!(prod.failed_at, Some(ms(92)));
    assert!(prod.is_deployment());
    assert_eq!(
        (prod.product.as_str(), prod.number, prod.release_id.as_str()),
        ("shop", 7, "01JTEST")
    );
}

#[test]
fn terminated_runs_and_unfinished_environments() {
    // Terminated as superseded while prod waited for sync (its commit was
    // pushed at 14); qa never started (PENDING): no run.
    let superseded = release(
        "TERMINATED",
        Some(30),
        vec![
            env(
                "prod",
                "TERMINATED",
                &[],
                10,
                Some(30),
                vec![app(
                    "api",
                    "TERMINATED",
                    vec![
                        step("commit", "action", "SUCCESS", 12, 14),
                        step("sync", "sync", "TERMINATED", 14, 30),
                    ],
                )],
            ),
            json!({"name": "qa", "status": "PENDING", "dependsOn": [], "issues": [], "applications": []}),
        ],
        json!({"termination": {"reason": "superseded", "by": "ferry", "at": at(30)}, "hotfix": true}),
    );
    let runs = runs_of(&superseded);
    assert_eq!(runs.len(), 1);
    let prod = &runs[0];
    assert_eq!(prod.status, RunStatus::Terminated);
    assert_eq!(prod.termination, Some(TerminationReason::Superseded));
    assert_eq!(prod.changed_at, Some(ms(14)));
    assert_eq!(prod.failed_at, None);
    assert!(
        !prod.is_deployment(),
        "the newer release's deployment counts, not this one"
    );
    assert!(prod.hotfix);
    assert_eq!(prod.phases.get(Phase::Sync), Some(16 * MINUTE));

    // The same, terminated by a person: a failed deployment.
    let mut by_user = superseded.clone();
    by_user.termination.as_mut().unwrap().reason = TerminationReason::User;
    let prod = &runs_of(&by_user)[0];
    assert_eq!(prod.failed_at, Some(ms(30)));
    assert!(prod.is_deployment());

    // A rollback that is still running has no run yet; its kind is kept.
    let running = release(
        "RUNNING",
        None,
        vec![env("prod", "RUNNING", &[], 10, None, vec![])],
        json!({"kind": {"type": "rollback", "fromRelease": "01JOLD"}}),
    );
    assert!(runs_of(&running).is_empty());
    let mut done = running.clone();
    done.environments[0].status = ferry_release::EnvironmentStatus::Successful;
    done.environments[0].finished_at = Some(done.created_at + time::Duration::minutes(11));
    let runs = runs_of(&done);
    assert!(runs[0].rollback);
    assert_eq!(
        runs[0].changed_at, None,
        "an environment without applications changes nothing"
    );
}
