//! Automatic rollback (policy `onFailure: rollback`, issue 20), end to end
//! with a real Git repository: an environment whose post-action fails
//! after its promotion commit gets the previous successful snapshot
//! promoted back by a linked rollback release — the files' bytes are
//! again those the previous release left — once, also when the engine
//! restarts in the middle of the rollback.

mod common;

use std::time::Duration;

use common::{Fixture, Setup, git, wait_final, wait_for};
use ferry_engine::PromotionRequest;
use ferry_release::{Release, ReleaseKind, ReleaseStatus, StepPhase, StepStatus};

/// `verify` fails for version 2.0.0 (the commit message names the
/// version); otherwise it waits while `<markers>/hold` exists.
fn config(markers: &std::path::Path) -> String {
    format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {{name: shop}}
spec:
  promotionFlows: [{{name: main}}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {{name: main}}
spec:
  triggerEnvironment: dev
  steps:
    - {{environment: qa, dependsOn: [dev]}}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionPolicy
metadata: {{name: qa-verified}}
spec:
  selector: {{targetEnvironment: {{names: [qa]}}}}
  policy: {{postAction: verify, onFailure: rollback}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: verify, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: COMMIT_MESSAGE
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          case "{{{{workflow.parameters.COMMIT_MESSAGE}}}}" in
            *2.0.0*) echo "smoke test failed: 500 from /checkout" >&2; exit 1 ;;
          esac
          while [ -f {m}/hold ]; do sleep 0.05; done
          echo healthy
"#,
        m = markers.display()
    )
}

fn pretty(r: &Release) -> String {
    serde_json::to_string_pretty(r).unwrap()
}

const FILES: [&str; 2] = ["apps/web/qa/values.yaml", "apps/web/qa/Chart.yaml"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_environment_gets_its_previous_snapshot_back_once_byte_for_byte() {
    let f = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: String::new(),
    });
    std::fs::write(f.config_dir.join("product.yaml"), config(&f.markers())).unwrap();
    // A version whose formatting the edit must keep: quotes, comments.
    f.commit_dev("main-1111", "1.5.0", "feat: good");
    let engine = f.engine().await;
    let good = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let good = wait_final(&engine, &good.id).await;
    assert_eq!(good.status, ReleaseStatus::Succeeded, "{}", pretty(&good));
    let before: Vec<Vec<u8>> = FILES
        .iter()
        .map(|p| common::git(&f.remote, &["show", &format!("main:{p}")]).into_bytes())
        .collect();

    f.commit_dev("main-2222", "2.0.0", "feat: bad");
    std::fs::write(f.markers().join("hold"), "").unwrap();
    let bad = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let bad = wait_final(&engine, &bad.id).await;
    assert_eq!(bad.status, ReleaseStatus::Failed, "{}", pretty(&bad));
    let qa = &bad.environment("qa").unwrap().applications[0];
    let landed = qa
        .promotion_commit
        .clone()
        .expect("failed after its commit");
    // Its commit landed (the rollback may already have moved main on).
    assert!(git(&f.remote, &["show", &format!("{landed}:{}", FILES[0])]).contains("main-2222"));
    assert_eq!(bad.rolled_back_by.len(), 1, "{}", pretty(&bad));
    let link = &bad.rolled_back_by[0];
    assert_eq!(link.environment, "qa");
    assert_eq!(link.number, 3);

    // The rollback runs its post-action (held): restart the engine there.
    wait_for(&engine, &link.release, 30, |r| {
        r.environment("qa").is_some_and(|e| {
            e.applications[0]
                .steps
                .iter()
                .any(|s| s.phase == StepPhase::PostAction && s.status == StepStatus::Running)
        })
    })
    .await;
    engine.shutdown();
    engine.idle().await;
    drop(engine);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let engine = f.engine().await;
    std::fs::remove_file(f.markers().join("hold")).unwrap();
    let rollback = wait_final(&engine, &link.release).await;
    assert_eq!(
        rollback.status,
        ReleaseStatus::Succeeded,
        "{}",
        pretty(&rollback)
    );
    assert_eq!(
        rollback.kind,
        ReleaseKind::Rollback {
            from_release: good.id.clone()
        }
    );
    let of = rollback.rollback_for.as_ref().expect("links back");
    assert_eq!((of.release.as_str(), of.number), (bad.id.as_str(), 2));
    assert_eq!(rollback.version.as_deref(), Some("1.5.0"));
    assert!(rollback.rolled_back_by.is_empty());

    // Byte for byte what the good release left.
    let after: Vec<Vec<u8>> = FILES
        .iter()
        .map(|p| common::git(&f.remote, &["show", &format!("main:{p}")]).into_bytes())
        .collect();
    assert_eq!(after, before);
    // Once: one rollback commit, no fourth release, the failed release
    // still linked to the one rollback.
    let log = f.remote_log();
    assert_eq!(
        log.iter()
            .filter(|m| m.contains(&format!("Ferry-Release: {}", rollback.id)))
            .count(),
        1,
        "{log:#?}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let store = ferry_store::Store::open(&f.db).await.unwrap();
    let page = store
        .list(&ferry_store::ListFilter {
            product: Some("shop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3, "{:#?}", page.items);
    let bad = engine.release(&bad.id).await.unwrap().unwrap();
    assert_eq!(bad.rolled_back_by.len(), 1);
    let events = store.events(&bad.id, 0, 0).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.status == "ROLLED_BACK" && e.environment.as_deref() == Some("qa")),
        "{events:#?}"
    );
    engine.shutdown();
}
