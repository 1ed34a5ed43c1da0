//! Accept, then work (issue 24): a manual promotion is stored and answered
//! without Git; its driver reads the snapshot, and a snapshot that cannot
//! be read fails the trigger environment with the reason (nothing
//! downstream runs) until a retry reads it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferry_engine::PromotionRequest;
use ferry_release::{IssueKind, ReleaseStatus};

const PRODUCT: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows:
    - name: up
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: up}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
"#;

fn fixture() -> Fixture {
    Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: PRODUCT.into(),
    })
}

fn snapshot_issue(r: &ferry_release::Release) -> String {
    let dev = r.environment("dev").expect("dev");
    let issue = dev
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::Git)
        .unwrap_or_else(|| panic!("a Git issue on dev: {r:#?}"));
    issue.message.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_is_accepted_while_the_repository_is_unreachable_and_retried_once_it_is_back() {
    let fx = fixture();
    let head = fx.commit_dev("main-bbbb", "1.1.0", "feat: b");
    let engine = fx.engine().await;
    let qa_before = fx.remote_file("apps/web/qa/values.yaml");
    // No mirror yet (fresh cache), and the remote is gone: the request
    // needs neither.
    let away = fx.remote.with_extension("away");
    std::fs::rename(&fx.remote, &away).unwrap();
    let t = Instant::now();
    let release = engine
        .promote("shop", PromotionRequest::for_flow("up"), "alice")
        .await
        .expect("accepted without Git");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "answered at once, not after fetch retries: {:?}",
        t.elapsed()
    );
    assert!(release.snapshot.pending);
    assert_eq!(release.status, ReleaseStatus::Running);
    // The driver tries a few times (a network may come back), then fails
    // the trigger environment with the reason; qa never starts.
    let failed = wait_final(&engine, &release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed, "{failed:#?}");
    assert_eq!(env_status(&failed, "dev"), "FAILED");
    assert_eq!(env_status(&failed, "qa"), "PENDING");
    assert!(failed.snapshot.pending, "nothing was read");
    assert_eq!(failed.version, None);
    let message = snapshot_issue(&failed);
    assert!(
        message.contains("reading the snapshot of `dev`"),
        "{message}"
    );
    // Back: a retry reads the snapshot and promotes it.
    std::fs::rename(&away, &fx.remote).unwrap();
    assert_eq!(fx.remote_file("apps/web/qa/values.yaml"), qa_before);
    engine.retry(&release.id, "alice").await.expect("retry");
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert!(!done.snapshot.pending);
    assert_eq!(done.trigger.sha, head);
    assert_eq!(done.version.as_deref(), Some("1.1.0"));
    assert!(
        fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-bbbb")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promoted_file_missing_from_the_trigger_environment_fails_it_with_the_file_named() {
    let fx = fixture();
    let engine = fx.engine().await;
    let commits_before = fx.remote_log().len();
    git(&fx.seed, &["rm", "-q", "apps/web/dev/values.yaml"]);
    git(&fx.seed, &["commit", "-q", "-m", "drop dev values"]);
    git(&fx.seed, &["push", "-q", "origin", "main"]);
    let release = engine
        .promote("shop", PromotionRequest::for_flow("up"), "bob")
        .await
        .expect("accepted");
    let failed = wait_final(&engine, &release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed, "{failed:#?}");
    assert_eq!(env_status(&failed, "qa"), "PENDING");
    let message = snapshot_issue(&failed);
    assert!(message.contains("values.yaml"), "{message}");
    // Nothing pushed: only the seed's own commit is new.
    assert_eq!(fx.remote_log().len(), commits_before + 1);
    assert!(failed.snapshot.pending, "nothing was read");
}

/// `shop` with a queue, and an approval gate that holds qa.
const QUEUED: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows:
    - name: up
  concurrency: {policy: queue}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: up}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionPolicy
metadata: {name: qa-gate}
spec:
  selector: {targetEnvironment: {names: [qa]}}
  policy:
    approval:
      required: 1
      approvers: {names: [carol]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_release_promotes_its_trigger_environment_as_of_the_request() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: QUEUED.into(),
    });
    let engine = fx.engine().await;
    fx.commit_dev("main-aaaa", "1.1.0", "feat: a");
    let first = engine
        .promote("shop", PromotionRequest::for_flow("up"), "alice")
        .await
        .expect("accepted");
    wait_for(&engine, &first.id, 60, |r| {
        r.environment("qa")
            .and_then(|e| e.waiting_reason())
            .is_some()
    })
    .await;
    // Asked for while the first release holds the product: it queues, and
    // reads what dev holds now.
    let requested = fx.commit_dev("main-bbbb", "1.2.0", "feat: b");
    let queued = engine
        .promote("shop", PromotionRequest::for_flow("up"), "bob")
        .await
        .expect("accepted");
    assert_eq!(queued.status, ReleaseStatus::Queued);
    let t = Instant::now();
    while !engine.snapshot_read(&queued.id).await.expect("release") {
        assert!(t.elapsed() < Duration::from_secs(60), "never read");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Pushed after the request: not what the queued release promotes,
    // although it is there when the release leaves the queue.
    fx.commit_dev("main-cccc", "1.3.0", "feat: c");
    engine
        .terminate(&first.id, "alice")
        .await
        .expect("terminate");
    let started = wait_snapshot(&engine, &queued.id).await;
    assert_eq!(started.trigger.sha, requested, "{started:#?}");
    assert_eq!(started.version.as_deref(), Some("1.2.0"));
    assert_ne!(started.status, ReleaseStatus::Queued);
}
