//! Windows, freezes and break-glass end to end (issue 20): real Git, real
//! workflow processes, SQLite (or PostgreSQL), and the engine on a manual
//! clock.

mod common;

use common::*;
use ferry_engine::{Engine, ManualClock, PromotionRequest};
use ferry_release::{
    EnvironmentStatus, EventKind, HoldKind, IssueKind, Release, ReleaseStatus, TerminationReason,
};

const FLOW: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows:
    - name: main
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: staging, dependsOn: [dev]}
    - {environment: prod, dependsOn: [staging]}
"#;

const PROD_HOURS: &str = r#"---
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: prod-hours}
spec:
  selector: {targetEnvironment: {types: [PROD]}}
  allow: [{schedule: "0 9 * * 1-5", duration: 8h}]
"#;

fn time(text: &str) -> ferry_release::Timestamp {
    ferry_release::Timestamp::parse(text, &time::format_description::well_known::Rfc3339)
        .expect("a time")
}

fn held(r: &Release, env: &str) -> bool {
    r.environment(env)
        .is_some_and(|e| e.status == EnvironmentStatus::Suspended && e.hold.is_some())
}

async fn history(fx: &Fixture, id: &str) -> Vec<ferry_release::Event> {
    let store = ferry_store::Store::open(&fx.db).await.expect("store");
    store.events(id, 0, 0).await.expect("events")
}

/// Waits a little and says whether `r` still satisfies `held` (nothing
/// moved on meanwhile).
async fn stays(engine: &Engine, id: &str, check: impl Fn(&Release) -> bool) -> bool {
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let r = engine.release(id).await.expect("read").expect("exists");
    check(&r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_waits_at_a_closed_window_and_goes_on_when_it_opens() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod"],
        product: format!("{FLOW}{PROD_HOURS}"),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: checkout");
    // Monday 07:00 UTC: prod opens at 09:00.
    let clock = ManualClock::new(time("2026-12-07T07:00:00Z"));
    let engine = fx.engine_on_clock(clock.clock()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .expect("promote");
    let r = wait_for(&engine, &release.id, 60, |r| held(r, "prod")).await;
    // Staging is not governed by the window: promoted.
    assert_eq!(env_status(&r, "staging"), "SUCCESSFUL");
    assert_eq!(r.status, ReleaseStatus::Suspended);
    let hold = r
        .environment("prod")
        .and_then(|e| e.hold.clone())
        .expect("hold");
    assert_eq!(hold.kind, HoldKind::Window);
    assert_eq!(hold.by, "prod-hours");
    assert_eq!(
        hold.reason,
        "outside window \"prod-hours\" until 2026-12-07 09:00 UTC"
    );
    assert_eq!(hold.until, Some(time("2026-12-07T09:00:00Z")));
    // Nothing of prod ran: no step started, prod's files as they were.
    let prod = r.environment("prod").expect("prod");
    assert!(prod.started_at.is_none());
    assert!(
        prod.applications
            .iter()
            .all(|a| a.status == EnvironmentStatus::Pending)
    );
    assert!(fx.remote_file("apps/web/prod/Chart.yaml").contains("1.0.0"));
    let commits = fx.remote_log().len();
    // The wait is a status event with its reason, as every other.
    let events = history(&fx, &release.id).await;
    let suspended: Vec<_> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Environment
                && e.environment.as_deref() == Some("prod")
                && e.status == "SUSPENDED"
        })
        .collect();
    assert_eq!(suspended.len(), 1, "{events:#?}");
    assert_eq!(suspended[0].message.as_deref(), Some(hold.reason.as_str()));

    // A minute before the opening: still waiting, nothing written.
    clock.set(time("2026-12-07T08:59:00Z"));
    assert!(stays(&engine, &release.id, |r| held(r, "prod")).await);
    assert_eq!(fx.remote_log().len(), commits);

    // At the opening it goes on by itself.
    clock.set(time("2026-12-07T09:00:00Z"));
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert!(fx.remote_file("apps/web/prod/Chart.yaml").contains("1.1.0"));
    assert_eq!(fx.remote_log().len(), commits + 1);
    assert!(done.environment("prod").is_some_and(|e| e.hold.is_none()));
    let events = history(&fx, &release.id).await;
    let running = events
        .iter()
        .find(|e| {
            e.kind == EventKind::Environment
                && e.environment.as_deref() == Some("prod")
                && e.status == "RUNNING"
        })
        .expect("prod started");
    assert_eq!(
        running.message.as_deref(),
        Some("no longer held (outside window \"prod-hours\" until 2026-12-07 09:00 UTC)")
    );
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_the_line_holds_every_release_and_none_writes_until_lifted() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod"],
        product: FLOW.into(),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: checkout");
    let clock = ManualClock::new(time("2026-12-07T10:00:00Z"));
    let engine = fx.engine_on_clock(clock.clock()).await;
    assert!(matches!(
        engine.freeze(vec![], vec![], "  ", "ivy").await,
        Err(ferry_engine::Error::BadRequest(_))
    ));
    let freeze = engine
        .freeze(vec![], vec![], "incident 42", "ivy")
        .await
        .expect("freeze");
    assert_eq!(
        engine.freezes(false).await.expect("list"),
        vec![freeze.clone()]
    );
    let before = fx.remote_log();
    // New releases are still created while frozen…
    let first = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .expect("created while frozen");
    let second = engine
        .promote("shop", PromotionRequest::for_flow("main"), "bob")
        .await
        .expect("created while frozen");
    // …but none writes: the first waits at its first environment, the
    // second in the product's queue behind it.
    let r = wait_for(&engine, &first.id, 60, |r| held(r, "staging")).await;
    let hold = r
        .environment("staging")
        .and_then(|e| e.hold.clone())
        .expect("hold");
    assert_eq!(hold.kind, HoldKind::Freeze);
    assert_eq!(hold.by, freeze.id);
    assert_eq!(
        hold.reason,
        "frozen until lifted: incident 42 (stop-the-line by ivy)"
    );
    assert_eq!(hold.until, None);
    // A day passes: a freeze does not open with time.
    clock.set(time("2026-12-08T10:00:00Z"));
    assert!(stays(&engine, &first.id, |r| held(r, "staging")).await);
    let queued = engine.release(&second.id).await.unwrap().unwrap();
    assert_eq!(queued.status, ReleaseStatus::Queued);
    assert_eq!(fx.remote_log(), before, "nothing written while frozen");

    // Lifted: both go through, in order.
    let lifted = engine.unfreeze(&freeze.id, "ops").await.expect("unfreeze");
    assert_eq!(lifted.lifted_by.as_deref(), Some("ops"));
    assert!(engine.freezes(false).await.expect("list").is_empty());
    assert_eq!(engine.freezes(true).await.expect("history").len(), 1);
    let first = wait_final(&engine, &first.id).await;
    assert_eq!(first.status, ReleaseStatus::Succeeded, "{first:#?}");
    let second = wait_final(&engine, &second.id).await;
    assert_eq!(second.status, ReleaseStatus::Succeeded, "{second:#?}");
    assert!(fx.remote_log().len() > before.len());
    assert!(matches!(
        engine.unfreeze("no-such-freeze", "ops").await,
        Err(ferry_engine::Error::NotFound(_))
    ));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_lets_exactly_one_release_through_with_its_reason_recorded() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod"],
        product: format!("{FLOW}{PROD_HOURS}"),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "fix: payment rounding");
    // Saturday: prod is closed by the window, and the line is stopped.
    let clock = ManualClock::new(time("2026-12-12T12:00:00Z"));
    let engine = fx.engine_on_clock(clock.clock()).await;
    engine
        .freeze(vec!["shop".into()], vec![], "payments incident", "ivy")
        .await
        .expect("freeze");
    let hotfix = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .expect("promote");
    let other = engine
        .promote("shop", PromotionRequest::for_flow("main"), "bob")
        .await
        .expect("promote");
    wait_for(&engine, &hotfix.id, 60, |r| held(r, "staging")).await;
    let before = fx.remote_log().len();

    // A reason is mandatory.
    assert!(matches!(
        engine.break_glass(&hotfix.id, "carol", "").await,
        Err(ferry_engine::Error::BadRequest(_))
    ));
    let marked = engine
        .break_glass(&hotfix.id, "carol", "hotfix for the payments incident")
        .await
        .expect("break-glass");
    let mark = marked.break_glass.clone().expect("marked on the release");
    assert_eq!(mark.by, "carol");
    assert_eq!(mark.reason, "hotfix for the payments incident");
    // Once per release.
    assert!(
        engine
            .break_glass(&hotfix.id, "carol", "again")
            .await
            .is_err()
    );
    // Through the freeze (staging) and the closed window (prod).
    let done = wait_final(&engine, &hotfix.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert!(fx.remote_file("apps/web/prod/Chart.yaml").contains("1.1.0"));
    assert_eq!(fx.remote_log().len(), before + 2);
    let events = history(&fx, &hotfix.id).await;
    assert!(
        events.iter().any(|e| e.kind == EventKind::Audit
            && e.message.as_deref().is_some_and(
                |m| m.starts_with("break-glass by carol: hotfix for the payments incident")
            )),
        "{events:#?}"
    );
    assert!(events.iter().any(|e| e.kind == EventKind::Environment
        && e.environment.as_deref() == Some("staging")
        && e.status == "RUNNING"
        && e.message.as_deref()
            == Some("let through by break-glass of carol: hotfix for the payments incident")));

    // Exactly one: the next release of the product is held by the freeze.
    let r = wait_for(&engine, &other.id, 60, |r| held(r, "staging")).await;
    assert!(r.break_glass.is_none());
    assert!(stays(&engine, &other.id, |r| held(r, "staging")).await);
    assert_eq!(fx.remote_log().len(), before + 2);
    // A finished release cannot be let through.
    assert!(matches!(
        engine.break_glass(&hotfix.id, "carol", "late").await,
        Err(ferry_engine::Error::Conflict { .. })
    ));
    engine.shutdown();
}

/// `FLOW` with a one-hour flow timeout, and `extra` documents.
fn timed_flow(extra: &str) -> String {
    let flow = FLOW.replace(
        "  triggerEnvironment: dev\n",
        "  triggerEnvironment: dev\n  timeout: 1h\n",
    );
    assert_ne!(flow, FLOW);
    format!("{flow}{extra}")
}

async fn stored(fx: &Fixture, id: &str) -> Release {
    let store = ferry_store::Store::open(&fx.db).await.expect("store");
    store.get(id).await.expect("read").expect("stored")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_longer_than_the_flow_timeout_does_not_end_the_release() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod"],
        product: timed_flow(""),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: checkout");
    let clock = ManualClock::new(time("2026-12-07T10:00:00Z"));
    let engine = fx.engine_on_clock(clock.clock()).await;
    let freeze = engine
        .freeze(vec![], vec![], "incident 7", "ivy")
        .await
        .expect("freeze");
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .expect("promote");
    let r = wait_for(&engine, &release.id, 60, |r| held(r, "staging")).await;
    // One hour from creation, on the engine's clock, standing still since
    // the hold began — as stored, not only in memory.
    let account = stored(&fx, &release.id).await.flow_timeout();
    assert_eq!(account.deadline, time("2026-12-07T11:00:00Z"), "{r:#?}");
    assert_eq!(account.paused_since, Some(time("2026-12-07T10:00:00Z")));
    assert_eq!(r.timeout_deadline(), None);

    // Two hours pass (past the timeout), then the engine restarts.
    clock.set(time("2026-12-07T12:00:00Z"));
    engine.shutdown();
    engine.idle().await;
    drop(engine);
    let engine = fx.engine_on_clock(clock.clock()).await;
    wait_for(&engine, &release.id, 60, |r| held(r, "staging")).await;
    // A weekend later the freeze is lifted: the release goes on and
    // succeeds, the time held added to its deadline.
    clock.set(time("2026-12-09T10:00:00Z"));
    engine.unfreeze(&freeze.id, "ops").await.expect("unfreeze");
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert!(done.termination.is_none());
    assert!(fx.remote_file("apps/web/prod/Chart.yaml").contains("1.1.0"));
    let account = done.flow_timeout();
    assert_eq!(account.paused_seconds, 2 * 24 * 3600);
    assert_eq!(account.paused_since, None);
    assert_eq!(account.deadline, time("2026-12-09T11:00:00Z"));
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_approval_counts_and_the_flow_timeout_ends_the_release() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod"],
        product: timed_flow(
            r#"---
apiVersion: codefresh.io/v1beta1
kind: PromotionPolicy
metadata: {name: prod-gate}
spec:
  selector: {targetEnvironment: {names: [prod]}}
  policy:
    approval: {required: 1}
"#,
        ),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: checkout");
    let clock = ManualClock::new(time("2026-12-07T10:00:00Z"));
    let engine = fx.engine_on_clock(clock.clock()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .expect("promote");
    let r = wait_for(&engine, &release.id, 60, |r| {
        r.environment("prod")
            .and_then(|e| e.waiting_reason())
            .is_some()
    })
    .await;
    assert_eq!(r.status, ReleaseStatus::Suspended);
    // Nobody holds it but people: the timeout runs.
    assert_eq!(r.timeout_deadline(), Some(time("2026-12-07T11:00:00Z")));
    clock.set(time("2026-12-07T11:00:00Z"));
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated, "{done:#?}");
    assert_eq!(
        done.termination.as_ref().map(|t| t.reason),
        Some(TerminationReason::Timeout)
    );
    let prod = done.environment("prod").expect("prod");
    assert_eq!(prod.status, EnvironmentStatus::Terminated);
    assert!(prod.issues.iter().any(|i| i.kind == IssueKind::Timeout));
    assert_eq!(done.flow_timeout().paused_seconds, 0);
    assert!(!fx.remote_file("apps/web/prod/Chart.yaml").contains("1.1.0"));
    engine.shutdown();
}
