//! Restart safety: an engine that stops mid-release (its tasks dropped, as
//! when the process dies) is replaced by a new one on the same database;
//! the release resumes where it stood and no promotion commit is made twice.

mod common;

use std::time::Duration;

use common::*;
use ferry_engine::PromotionRequest;
use ferry_release::{ReleaseStatus, StepStatus};

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
    - {environment: staging, dependsOn: [qa], policy: {preAction: pause}}
    - {environment: prod, dependsOn: [staging]}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: pause, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {image: alpine, command: [sh], source: "sleep 1"}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_engine_resumes_the_release_without_a_second_commit() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product: FLOW.into(),
    });
    fx.commit_dev("main-1234", "7.0.0", "feat: resume");
    let first = fx.engine().await;
    let req = PromotionRequest::for_flow("main");
    let release = first.promote("shop", req, "ivy").await.unwrap();
    // Stop while staging's pre-action runs: qa is promoted, staging is not.
    wait_for(&first, &release.id, 30, |r| {
        r.environment("staging")
            .is_some_and(|e| e.applications[0].steps[0].status == StepStatus::Running)
    })
    .await;
    first.shutdown();
    first.idle().await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let second = fx.engine().await;
    let done = wait_final(&second, &release.id).await;
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    let pre = &done.environment("staging").unwrap().applications[0].steps[0];
    assert_eq!(pre.attempts, 2, "the interrupted pre-action ran again");
    let qa_commit = &done.environment("qa").unwrap().applications[0].steps[0];
    assert_eq!(qa_commit.attempts, 1, "qa's commit was not repeated");
    let ours: Vec<String> = fx
        .remote_log()
        .into_iter()
        .filter(|m| m.contains(&release.id))
        .collect();
    assert_eq!(ours.len(), 3, "one commit per environment: {ours:#?}");
    for env in ["qa", "staging", "prod"] {
        assert_eq!(
            ours.iter()
                .filter(|m| m.contains(&format!("Ferry-Environment: {env}")))
                .count(),
            1,
            "{env}"
        );
    }
}
