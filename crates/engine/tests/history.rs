//! The event history of a release as the engine records it: gapless, in
//! the order things happened, with every status change — including those
//! stored together with the next step's save (`ReleaseHandle::defer`).

mod common;

use common::*;
use ferry_engine::PromotionRequest;
use ferry_release::{EventKind, ReleaseStatus};

const FLOW: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: main}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
    - {environment: prod, dependsOn: [qa]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_change_is_in_the_history_in_order_without_gaps() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: FLOW.into(),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: new checkout");
    let engine = fx.engine().await;
    let mut live = engine.subscribe();
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);

    let mut events = Vec::new();
    while let Ok(e) = live.try_recv() {
        if e.release_id == release.id {
            events.push(e);
        }
    }
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "gapless and in order");

    for env in ["qa", "prod"] {
        let of_env: Vec<String> = events
            .iter()
            .filter(|e| e.environment.as_deref() == Some(env))
            .filter(|e| matches!(e.kind, EventKind::Environment | EventKind::Step))
            .map(|e| format!("{} {}", e.step.as_deref().unwrap_or("env"), e.status))
            .collect();
        assert_eq!(
            of_env,
            [
                "env RUNNING",
                "commit RUNNING",
                "commit SUCCESS",
                "sync SUCCESS",
                "env SUCCESSFUL"
            ],
            "{env}: {events:#?}"
        );
    }
    // The stored record agrees with what was streamed.
    let stored = done.environment("qa").unwrap();
    assert!(stored.started_at.is_some() && stored.finished_at.is_some());
    let commit = &stored.applications[0].steps[0];
    assert!(commit.started_at <= commit.finished_at);
    assert_eq!(commit.attempts, 1);
}
