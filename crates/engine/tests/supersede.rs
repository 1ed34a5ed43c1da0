//! Concurrency `supersede` and soak-time batching (issue 20), end to end
//! with a real Git repository, the local workflow executor and SQLite (or
//! PostgreSQL with `FERRY_TEST_POSTGRES_URL`):
//!
//! - three releases created while an older one works: each replaces the
//!   queued one before it; the working one is not interrupted, and is
//!   replaced once it waits on its pull-request branch — which is then
//!   deleted — leaving only the newest;
//! - a release in the middle of a push finishes it: the commit lands and
//!   the release succeeds, the newer one runs after it;
//! - `minInterval`: with the engine's clock held, releases arriving during
//!   an environment's soak time wait SUSPENDED and replace each other;
//!   when the clock passes the soak time only the newest goes on.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{Fixture, Setup, wait_final, wait_for};
use ferry_engine::{Engine, ManualClock, PromotionRequest};
use ferry_release::{EnvironmentStatus, Release, ReleaseStatus, StepPhase, StepStatus};

/// `hold` waits while the file `<markers>/hold` exists.
fn hold_workflow(markers: &Path) -> String {
    format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: hold, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          while [ -f {m}/hold ]; do sleep 0.05; done
          echo released
"#,
        m = markers.display()
    )
}

fn product(concurrency: &str, qa_policy: &str) -> String {
    format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {{name: shop}}
spec:
  concurrency: {concurrency}
  promotionFlows: [{{name: main}}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {{name: main}}
spec:
  triggerEnvironment: dev
  steps:
    - {{environment: qa, dependsOn: [dev], policy: {qa_policy}}}
"#
    )
}

fn fixture(concurrency: &str, qa_policy: &str) -> Fixture {
    let f = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: product(concurrency, qa_policy),
    });
    std::fs::write(f.config_dir.join("hold.yaml"), hold_workflow(&f.markers())).unwrap();
    f
}

async fn promote(engine: &Engine) -> Release {
    engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .expect("promote")
}

async fn now(engine: &Engine, id: &str) -> Release {
    engine.release(id).await.unwrap().unwrap()
}

fn superseded_by(r: &Release) -> Option<u64> {
    r.termination
        .as_ref()
        .and_then(|t| t.release.as_ref())
        .map(|n| n.number)
}

fn step<'r>(r: &'r Release, env: &str, phase: StepPhase) -> &'r ferry_release::StepRun {
    r.environment(env).unwrap().applications[0]
        .steps
        .iter()
        .find(|s| s.phase == phase)
        .unwrap()
}

fn pretty(r: &Release) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_release_replaces_queued_and_waiting_ones_and_their_branches_go() {
    let f = fixture("supersede", "{preAction: hold, action: pr}");
    std::fs::write(f.markers().join("hold"), "").unwrap();
    f.commit_dev("main-0001", "1.0.1", "feat: one");
    let engine = f.engine().await;
    let r1 = promote(&engine).await;
    // #1 works: its pre-action runs.
    wait_for(&engine, &r1.id, 30, |r| {
        r.environment("qa")
            .is_some_and(|_| step(r, "qa", StepPhase::PreAction).status == StepStatus::Running)
    })
    .await;

    // Three more while #1 works: each queues and replaces the queued one
    // before it; #1 is not touched.
    let r2 = promote(&engine).await;
    assert_eq!(r2.status, ReleaseStatus::Queued);
    let r3 = promote(&engine).await;
    let r2_now = wait_final(&engine, &r2.id).await;
    assert_eq!(
        r2_now.status,
        ReleaseStatus::Superseded,
        "{}",
        pretty(&r2_now)
    );
    assert_eq!(superseded_by(&r2_now), Some(r3.number));
    let r4 = promote(&engine).await;
    let r3_now = wait_final(&engine, &r3.id).await;
    assert_eq!(r3_now.status, ReleaseStatus::Superseded);
    assert_eq!(superseded_by(&r3_now), Some(r4.number));
    assert_eq!(
        r3_now.termination.as_ref().map(|t| t.by.as_str()),
        Some("release #4")
    );
    // Never started: every step ended TERMINATED, nothing was written.
    for r in [&r2_now, &r3_now] {
        assert!(
            r.environments
                .iter()
                .flat_map(|e| &e.applications)
                .flat_map(|a| &a.steps)
                .all(|s| s.status == StepStatus::Terminated && s.attempts == 0),
            "{}",
            pretty(r)
        );
    }
    let one = now(&engine, &r1.id).await;
    assert!(one.termination.is_none(), "{}", pretty(&one));
    assert_eq!(one.status, ReleaseStatus::Running);
    assert_eq!(now(&engine, &r4.id).await.status, ReleaseStatus::Queued);

    // #1 finishes its pre-action, pushes its pull-request branch and
    // waits for the merge: now it waits, and #4 replaces it.
    std::fs::remove_file(f.markers().join("hold")).unwrap();
    let one = wait_final(&engine, &r1.id).await;
    assert_eq!(one.status, ReleaseStatus::Superseded, "{}", pretty(&one));
    assert_eq!(superseded_by(&one), Some(r4.number));
    let qa = &one.environment("qa").unwrap().applications[0];
    let pr = qa.pull_request.as_ref().expect("#1 pushed its branch");
    assert!(pr.closed_at.is_some(), "{}", pretty(&one));
    assert_eq!(
        step(&one, "qa", StepPhase::PreAction).status,
        StepStatus::Success
    );
    assert_eq!(
        step(&one, "qa", StepPhase::Action).status,
        StepStatus::Terminated
    );

    // #4 runs and waits on its own branch: the only release left.
    let four = wait_for(&engine, &r4.id, 60, |r| {
        r.status == ReleaseStatus::Suspended
    })
    .await;
    let branch = four.environment("qa").unwrap().applications[0]
        .pull_request
        .as_ref()
        .unwrap()
        .branch
        .clone();
    let branches = f.remote_branches();
    assert!(
        !branches.contains(&pr.branch),
        "#1's branch deleted: {branches:?}"
    );
    assert!(branches.contains(&branch), "{branches:?}");
    assert_eq!(
        branches.iter().filter(|b| b.starts_with("ferry/")).count(),
        1,
        "{branches:?}"
    );
    // The history says who replaced it.
    let store = ferry_store::Store::open(&f.db).await.unwrap();
    let events = store.events(&r1.id, 0, 0).await.unwrap();
    assert!(
        events.iter().any(|e| e.status == "SUPERSEDED"
            && e.kind == ferry_release::EventKind::Audit
            && e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("superseded by release #4 ("))),
        "{events:#?}"
    );
    assert!(
        events
            .iter()
            .any(|e| e.kind == ferry_release::EventKind::Release && e.status == "SUPERSEDED")
    );
    engine.shutdown();
}

/// A pre-receive hook that holds every push while `<markers>/hold-push`
/// exists, after saying it was entered.
fn slow_pushes(f: &Fixture) {
    let hook = f.remote.join("hooks/pre-receive");
    let m = f.markers();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncat >/dev/null\ntouch {m}/in-push\nwhile [ -f {m}/hold-push ]; do sleep 0.05; done\nexit 0\n",
            m = m.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_in_the_middle_of_a_push_finishes_its_write() {
    let f = fixture("supersede", "{action: commit}");
    f.commit_dev("main-0002", "2.0.0", "feat: two");
    slow_pushes(&f);
    std::fs::write(f.markers().join("hold-push"), "").unwrap();
    let engine = f.engine().await;
    let r1 = promote(&engine).await;
    // #1 is pushing its promotion commit (the remote holds the push).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !f.markers().join("in-push").exists() {
        assert!(std::time::Instant::now() < deadline, "no push started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pushing = now(&engine, &r1.id).await;
    assert_eq!(
        step(&pushing, "qa", StepPhase::Action).status,
        StepStatus::Running
    );
    let r2 = promote(&engine).await;
    let r3 = promote(&engine).await;
    assert_eq!(
        wait_final(&engine, &r2.id).await.status,
        ReleaseStatus::Superseded
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(now(&engine, &r1.id).await.termination.is_none());
    std::fs::remove_file(f.markers().join("hold-push")).unwrap();

    let one = wait_final(&engine, &r1.id).await;
    assert_eq!(one.status, ReleaseStatus::Succeeded, "{}", pretty(&one));
    let commit = one.environment("qa").unwrap().applications[0]
        .promotion_commit
        .clone()
        .expect("#1's commit");
    let three = wait_final(&engine, &r3.id).await;
    assert_eq!(three.status, ReleaseStatus::Succeeded, "{}", pretty(&three));
    // #3 started after #1 ended; #2 wrote nothing.
    assert!(three.environment("qa").unwrap().started_at >= one.finished_at);
    let log = f.remote_log();
    // #3 promotes what #1 did (dev did not move): its commit step finds
    // nothing to change.
    assert_eq!(
        step(&three, "qa", StepPhase::Action).status,
        StepStatus::Success
    );
    for (id, n) in [(&r1.id, 1), (&r2.id, 0), (&r3.id, 0)] {
        assert_eq!(
            log.iter()
                .filter(|m| m.contains(&format!("Ferry-Release: {id}")))
                .count(),
            n,
            "{log:#?}"
        );
    }
    assert!(
        log[0].contains(&format!("Ferry-Release: {}", r1.id)),
        "{log:#?}"
    );
    assert_eq!(
        f.remote_file("apps/web/qa/values.yaml"),
        f.remote_file("apps/web/dev/values.yaml")
    );
    assert_eq!(
        common::git(&f.remote, &["rev-parse", "main"]),
        commit,
        "#1's commit is the tip"
    );
    engine.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn during_a_soak_time_only_the_newest_release_goes_on() {
    let f = fixture(
        "{policy: supersede, minInterval: {qa: 30m}}",
        "{action: commit}",
    );
    let clock = ManualClock::new(ferry_release::now());
    let engine = f.engine_on_clock(clock.clock()).await;
    f.commit_dev("main-1001", "3.0.1", "feat: first");
    let r1 = promote(&engine).await;
    let one = wait_final(&engine, &r1.id).await;
    assert_eq!(one.status, ReleaseStatus::Succeeded, "{}", pretty(&one));
    let ended = one.environment("qa").unwrap().finished_at.unwrap();

    // Three more within the soak time: each waits in qa, the newest
    // replaces the older.
    let mut ids = Vec::new();
    for (i, tag) in ["main-1002", "main-1003", "main-1004"].iter().enumerate() {
        f.commit_dev(tag, &format!("3.0.{}", i + 2), "feat: more");
        let r = promote(&engine).await;
        let waiting = wait_for(&engine, &r.id, 30, |r| {
            r.environment("qa")
                .is_some_and(|e| e.status == EnvironmentStatus::Suspended)
        })
        .await;
        let qa = waiting.environment("qa").unwrap();
        let w = qa.hold.as_ref().expect("says why it waits");
        assert_eq!(w.kind, ferry_release::HoldKind::Soak);
        assert_eq!(w.until, Some(ended + time::Duration::minutes(30)));
        assert!(w.reason.contains("after release #1"), "{}", w.reason);
        assert_eq!(waiting.status, ReleaseStatus::Suspended);
        ids.push(r.id);
    }
    for (older, newer) in ids.iter().zip(ids.iter().skip(1)) {
        let r = wait_final(&engine, older).await;
        assert_eq!(r.status, ReleaseStatus::Superseded, "{}", pretty(&r));
        let newer = now(&engine, newer).await;
        assert_eq!(superseded_by(&r), Some(newer.number));
    }
    // Time stands still: the newest still waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let newest = ids.last().unwrap();
    assert_eq!(now(&engine, newest).await.status, ReleaseStatus::Suspended);

    clock.advance(time::Duration::minutes(29));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(now(&engine, newest).await.status, ReleaseStatus::Suspended);
    clock.advance(time::Duration::minutes(2));
    let last = wait_final(&engine, newest).await;
    assert_eq!(last.status, ReleaseStatus::Succeeded, "{}", pretty(&last));
    assert!(last.environment("qa").unwrap().hold.is_none());
    // Two commits into qa: #1's and the newest's.
    let log = f.remote_log();
    let promotions: Vec<&String> = log
        .iter()
        .filter(|m| m.contains("Ferry-Environment: qa"))
        .collect();
    assert_eq!(promotions.len(), 2, "{promotions:#?}");
    assert!(promotions[0].contains(newest.as_str()));
    assert!(
        f.remote_file("apps/web/qa/values.yaml")
            .contains("main-1004")
    );
    engine.shutdown();
}
