//! The release engine end to end on real Git repositories, real workflow
//! processes and SQLite.

mod common;

use common::*;
use ferry_engine::PromotionRequest;
use ferry_release::{ReleaseStatus, StepStatus};

const SEQUENTIAL: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows:
    - name: hotfix
      gitTriggerSelectors:
        - {key: commitMessage, operator: In, values: ["hotfix*"]}
    - name: main
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
    - {environment: staging, dependsOn: [qa], policy: {preAction: ok, postAction: ok}}
    - {environment: prod, dependsOn: [staging], policy: {postAction: commit-facts}}
  hooks: {onSuccess: mark}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: hotfix}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: prod, dependsOn: [dev]}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_flow_promotes_every_environment_once() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product: SEQUENTIAL.into(),
    });
    let head = fx.commit_dev("main-bbbb", "1.1.0", "feat: new checkout");
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .unwrap();
    assert_eq!(release.number, 1);
    // Answered before any Git work: the driver reads the snapshot.
    assert!(release.snapshot.pending, "{release:?}");
    assert!(release.snapshot.applications.is_empty());
    assert_eq!(release.version, None);
    assert_eq!(release.trigger.sha, "");
    let read = wait_snapshot(&engine, &release.id).await;
    assert_eq!(read.version.as_deref(), Some("1.1.0"));
    assert_eq!(read.trigger.sha, head);
    assert_eq!(read.trigger.message.trim_end(), "feat: new checkout");
    assert_eq!(read.trigger.branch, "main");
    assert!(read.snapshot.applications.contains_key("web"), "{read:?}");
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    for env in ["dev", "qa", "staging", "prod"] {
        assert_eq!(env_status(&done, env), "SUCCESSFUL");
    }
    for env in ["qa", "staging", "prod"] {
        let values = fx.remote_file(&format!("apps/web/{env}/values.yaml"));
        assert_eq!(
            values,
            common::VALUES.replace("main-aaaa", "main-bbbb").trim_end(),
            "{env}"
        );
        assert!(
            fx.remote_file(&format!("apps/web/{env}/Chart.yaml"))
                .contains("appVersion: \"1.1.0\"")
        );
    }
    let log = fx.remote_log();
    let promotions: Vec<&String> = log
        .iter()
        .filter(|m| m.contains(&format!("Ferry-Release: {}", release.id)))
        .collect();
    assert_eq!(promotions.len(), 3, "{log:#?}");
    assert!(
        promotions
            .iter()
            .any(|m| m.starts_with("promote shop 1.1.0 to staging (web-staging)"))
    );
    // A committing promotion's post-action gets its commit.
    let prod_commit = done.environment("prod").unwrap().applications[0]
        .promotion_commit
        .clone()
        .unwrap();
    let facts = std::fs::read_to_string(fx.markers().join("commit-prod")).unwrap();
    assert_eq!(
        facts.trim(),
        format!("sha=[{prod_commit}] author=[ferry <ferry@localhost>]")
    );
    let staging = done.environment("staging").unwrap();
    let steps: Vec<(&str, &str)> = staging.applications[0]
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status.as_str()))
        .collect();
    assert_eq!(
        steps,
        vec![
            ("ok", "SUCCESS"),
            ("commit", "SUCCESS"),
            ("sync", "SUCCESS"),
            ("ok", "SUCCESS")
        ]
    );
    assert!(staging.applications[0].promotion_commit.is_some());
    assert_eq!(done.hooks.len(), 1);
    assert_eq!(done.hooks[0].name, "onSuccess: mark");
    assert!(std::fs::read_to_string(fx.markers().join("hook-shop")).is_ok());
}

const PARALLEL: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: regions}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: regions}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: staging, dependsOn: [dev]}
    - {environment: prod-eu, dependsOn: [staging]}
    - {environment: prod-us, dependsOn: [staging], policy: {postAction: fail}}
    - {environment: global, dependsOn: [prod-eu, prod-us]}
  hooks: {onFail: mark}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_region_stops_its_branch_and_the_join_but_not_the_other_region() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging", "prod-eu", "prod-us", "global"],
        product: PARALLEL.into(),
    });
    fx.commit_dev("main-cccc", "2.0.0", "feat: regions");
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("regions"), "bob")
        .await
        .unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Failed);
    assert_eq!(env_status(&done, "staging"), "SUCCESSFUL");
    assert_eq!(env_status(&done, "prod-eu"), "SUCCESSFUL");
    assert_eq!(env_status(&done, "prod-us"), "FAILED");
    assert_eq!(env_status(&done, "global"), "PENDING");
    let us = done.environment("prod-us").unwrap();
    let issue = &us.issues[0];
    assert_eq!(issue.application.as_deref(), Some("web-prod-us"));
    assert!(
        issue.message.contains("workflow `fail` failed"),
        "{issue:?}"
    );
    assert!(
        issue
            .details
            .as_deref()
            .unwrap_or("")
            .contains("smoke test failed: 503 from /health"),
        "{issue:?}"
    );
    // The rendered manifest: the template as the Workflow that ran, with
    // the arguments it got.
    let manifest: serde_json::Value =
        serde_json::from_str(issue.manifest.as_deref().unwrap_or("")).unwrap();
    assert_eq!(manifest["kind"], "Workflow", "{manifest:#}");
    let params = manifest["spec"]["arguments"]["parameters"]
        .as_array()
        .unwrap();
    let value = |name: &str| {
        params
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].clone())
    };
    assert_eq!(value("ENVIRONMENT"), Some(serde_json::json!("prod-us")));
    assert_eq!(value("APP_NAME"), Some(serde_json::json!("web-prod-us")));
    assert_eq!(
        value("COMMIT_SHA").and_then(|v| v.as_str().map(str::len)),
        Some(40),
        "a post-action's commit"
    );
    assert!(manifest["spec"]["templates"].is_array(), "{manifest:#}");
    // The commit to prod-us happened before its post-action failed.
    assert!(
        fx.remote_file("apps/web/prod-us/values.yaml")
            .contains("main-cccc")
    );
    assert!(
        !fx.remote_file("apps/web/global/values.yaml")
            .contains("main-cccc")
    );
    let failed = std::fs::read_to_string(fx.markers().join("hook-shop")).unwrap();
    assert!(
        failed.contains("prod-us") && failed.contains("FAILED"),
        "{failed}"
    );
    // The failed post-action makes the application Degraded beside what
    // the state provider observed (Healthy, with its time).
    let app = &us.applications[0];
    assert_eq!(app.health.as_deref(), Some("Healthy"));
    assert!(app.observed_at.is_some());
    let shown = app.health_shown().unwrap();
    assert_eq!(shown.health, "Degraded");
    assert!(
        shown
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("post-action `fail` failed"),
        "{shown:?}"
    );
    // A finished release has no PENDING or RUNNING step: `global` never
    // started, so its steps were SKIPPED, saying why.
    for e in &done.environments {
        for s in e.applications.iter().flat_map(|a| &a.steps) {
            assert!(s.status.is_final(), "{}: {s:?}", e.name);
        }
    }
    let global = &done.environment("global").unwrap().applications[0].steps;
    assert!(
        global.iter().all(|s| s.status == StepStatus::Skipped),
        "{global:?}"
    );
    assert!(
        global[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .starts_with("not run: the environment did not start"),
        "{global:?}"
    );
    assert_eq!((done.attempt, issue.attempt), (1, 1));

    // Retry after fixing the cause: nothing that succeeded runs again, no second commit.
    std::fs::write(fx.markers().join("fixed"), "").unwrap();
    let commits_before = fx.remote_log().len();
    engine.retry(&release.id, "bob").await.unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    let commits_after = fx.remote_log().len();
    assert_eq!(
        commits_after,
        commits_before + 1,
        "only `global` gets a new commit"
    );
    let us = done.environment("prod-us").unwrap();
    assert_eq!(
        us.applications[0]
            .steps
            .iter()
            .find(|s| s.name == "commit")
            .unwrap()
            .attempts,
        1
    );
    // The first attempt's issue, with its log, is kept (history is
    // append-only); the second attempt had none.
    assert_eq!(done.attempt, 2);
    assert_eq!(us.issues.len(), 1, "{:?}", us.issues);
    assert_eq!(us.issues[0].attempt, 1);
    assert!(us.issues[0].is_earlier(done.attempt));
    assert!(
        us.issues[0]
            .details
            .as_deref()
            .unwrap_or_default()
            .contains("smoke test failed: 503 from /health")
    );
    assert_eq!(
        us.applications[0].health_shown().unwrap().health,
        "Healthy",
        "the post-action passed this time"
    );
}

const TERMINATE: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: slow}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: slow}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev], policy: {preAction: sleep}}
    - {environment: prod, dependsOn: [qa]}
  hooks: {onFail: mark}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kills_the_workflow_and_runs_on_fail_hooks() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: TERMINATE.into(),
    });
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "carol")
        .await
        .unwrap();
    let pid_file = fx.markers().join("sleep-pid");
    wait_for(&engine, &release.id, 30, |_| pid_file.exists()).await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let r = engine.terminate(&release.id, "carol").await.unwrap();
    assert!(matches!(
        r.status,
        ReleaseStatus::Terminating | ReleaseStatus::Terminated
    ));
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
    assert_eq!(env_status(&done, "qa"), "TERMINATED");
    assert_eq!(env_status(&done, "prod"), "PENDING");
    let termination = done.termination.as_ref().unwrap();
    assert_eq!(termination.by, "carol");
    let pre = &done.environment("qa").unwrap().applications[0].steps[0];
    assert_eq!(pre.status.as_str(), "TERMINATED");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the workflow process must be killed"
    );
    assert!(
        std::fs::read_to_string(fx.markers().join("hook-shop")).is_ok(),
        "onFail hook ran"
    );
    assert!(
        !fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-bbbb")
    );
}

const PR: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: gated}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: gated}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: prod, dependsOn: [dev], policy: {action: pr, postAction: commit-facts}}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_action_waits_suspended_until_merged() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "prod"],
        product: PR.into(),
    });
    fx.commit_dev("main-dddd", "3.0.0", "feat: gated");
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    let suspended = wait_for(&engine, &release.id, 30, |r| {
        r.status == ReleaseStatus::Suspended
    })
    .await;
    assert_eq!(env_status(&suspended, "prod"), "SUSPENDED");
    let pr = suspended.environment("prod").unwrap().applications[0]
        .pull_request
        .clone()
        .unwrap();
    assert_eq!(pr.branch, "ferry/shop/prod/1");
    assert!(
        !fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-dddd"),
        "not on main before the merge"
    );
    // A person merges the pull request branch.
    fx.merge_branch("ferry/shop/prod/1", "Merge promotion PR");
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    assert!(
        fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-dddd")
    );
    // The post-action declares the COMMIT_* arguments: a `pr` promotion
    // passes them empty (SPEC §5) rather than leaving them out.
    let facts = std::fs::read_to_string(fx.markers().join("commit-prod")).unwrap();
    assert_eq!(facts.trim(), "sha=[] author=[]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_trigger_chooses_the_flow_by_commit_message_once() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product: SEQUENTIAL.into(),
    });
    let engine = fx.engine().await;
    assert!(
        engine.poll_triggers().await.unwrap().is_empty(),
        "first sight only records where dev stands"
    );
    fx.commit_dev("main-eeee", "4.0.1", "hotfix: payment timeout");
    let created = engine.poll_triggers().await.unwrap();
    assert_eq!(created.len(), 1);
    let r = &created[0];
    assert_eq!(r.flow, "hotfix");
    assert_eq!(r.initiator, "Dev Eloper");
    assert_eq!(r.trigger.message.trim(), "hotfix: payment timeout");
    assert!(
        engine.poll_triggers().await.unwrap().is_empty(),
        "exactly once per trigger"
    );
    let done = wait_final(&engine, &r.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    assert!(
        fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-eeee")
    );
    assert!(
        !fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-eeee"),
        "hotfix skips qa"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_concurrency_runs_one_release_at_a_time() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: TERMINATE.into(),
    });
    let engine = fx.engine().await;
    let first = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "eve")
        .await
        .unwrap();
    let second = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "eve")
        .await
        .unwrap();
    assert_eq!(second.status, ReleaseStatus::Queued);
    assert_eq!(second.number, 2);
    engine.terminate(&first.id, "eve").await.unwrap();
    wait_final(&engine, &first.id).await;
    // The queued one starts once the product is free.
    wait_for(&engine, &second.id, 30, |r| {
        r.status == ReleaseStatus::Running
    })
    .await;
    engine.terminate(&second.id, "eve").await.unwrap();
    let done = wait_final(&engine, &second.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_promotion_to_one_environment_and_rollback() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product: SEQUENTIAL.into(),
    });
    fx.commit_dev("main-ffff", "5.0.0", "feat: five");
    let engine = fx.engine().await;
    let req = PromotionRequest {
        flow: None,
        target_environment: Some("qa".into()),
        source_environment: None,
        policy: None,
        rollback_to: None,
    };
    let r1 = engine.promote("shop", req, "fay").await.unwrap();
    assert_eq!(r1.flow, "Manual");
    let d1 = wait_final(&engine, &r1.id).await;
    assert_eq!(d1.status, ReleaseStatus::Succeeded);
    assert!(
        fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-ffff")
    );
    fx.commit_dev("main-9999", "6.0.0", "feat: six");
    let req = PromotionRequest {
        flow: None,
        target_environment: Some("qa".into()),
        source_environment: None,
        policy: None,
        rollback_to: None,
    };
    let r2 = engine.promote("shop", req, "fay").await.unwrap();
    wait_final(&engine, &r2.id).await;
    assert!(
        fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-9999")
    );
    let rollback = PromotionRequest {
        flow: None,
        target_environment: Some("qa".into()),
        source_environment: None,
        policy: None,
        rollback_to: Some(r1.id.clone()),
    };
    let r3 = engine.promote("shop", rollback, "fay").await.unwrap();
    let d3 = wait_final(&engine, &r3.id).await;
    assert_eq!(d3.status, ReleaseStatus::Succeeded);
    assert!(
        fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-ffff"),
        "rolled back to release 1's snapshot"
    );
    assert!(fx.remote_file("apps/web/qa/Chart.yaml").contains("5.0.0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_terminates_the_release() {
    let product = TERMINATE.replace(
        "triggerEnvironment: dev\n",
        "triggerEnvironment: dev\n  timeout: 1s\n",
    );
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product,
    });
    let engine = fx.engine().await;
    let r = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "gus")
        .await
        .unwrap();
    let done = wait_final(&engine, &r.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
    assert_eq!(done.termination.as_ref().unwrap().by, "ferry");
    let qa = done.environment("qa").unwrap();
    assert!(
        qa.issues
            .iter()
            .any(|i| i.kind == ferry_release::IssueKind::Timeout),
        "{:?}",
        qa.issues
    );
}

/// Codefresh's `promotionTimeoutLimit` is minutes (its quick start sets 5
/// for "5 minutes"): the release carries the timeout the driver enforces.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codefresh_promotion_timeout_limit_is_the_release_timeout_in_minutes() {
    let product = SEQUENTIAL.replace(
        "metadata: {name: hotfix}\nspec:\n  triggerEnvironment: dev\n",
        "metadata: {name: hotfix}\nspec:\n  triggerEnvironment: dev\n  promotionTimeoutLimit: 5\n",
    );
    assert!(product.contains("promotionTimeoutLimit: 5"));
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product,
    });
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("hotfix"), "ida")
        .await
        .unwrap();
    assert_eq!(release.graph.timeout_seconds, 5 * 60);
    let main = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ida")
        .await
        .unwrap();
    assert_eq!(main.graph.timeout_seconds, 24 * 3600, "the default");
    assert_eq!(
        wait_final(&engine, &release.id).await.status,
        ReleaseStatus::Succeeded
    );
    wait_final(&engine, &main.id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_concurrency_supersedes_the_active_release() {
    let product = TERMINATE.replace(
        "spec:\n  promotionFlows: [{name: slow}]",
        "spec:\n  promotionFlows: [{name: slow}]\n  concurrency: {policy: terminate}",
    );
    assert!(product.contains("policy: terminate"));
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product,
    });
    let engine = fx.engine().await;
    let first = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "hal")
        .await
        .unwrap();
    wait_for(&engine, &first.id, 30, |r| {
        r.environment("qa")
            .is_some_and(|e| e.status == ferry_release::EnvironmentStatus::Running)
    })
    .await;
    let second = engine
        .promote("shop", PromotionRequest::for_flow("slow"), "hal")
        .await
        .unwrap();
    assert_ne!(second.status, ReleaseStatus::Queued);
    let old = wait_final(&engine, &first.id).await;
    assert_eq!(old.status, ReleaseStatus::Terminated);
    assert_eq!(
        old.termination.as_ref().unwrap().reason,
        ferry_release::TerminationReason::Superseded
    );
    wait_for(&engine, &second.id, 30, |r| {
        r.environment("qa")
            .is_some_and(|e| e.status == ferry_release::EnvironmentStatus::Running)
    })
    .await;
    engine.terminate(&second.id, "hal").await.unwrap();
    wait_final(&engine, &second.id).await;
}

/// The promotion action builds on the mirror without fetching first; when
/// the mirror says "nothing to change" the engine must look again after a
/// fetch, because someone may have changed the target since.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_to_change_on_a_stale_mirror_is_checked_against_the_remote() {
    let product = r#"apiVersion: codefresh.io/v1beta1
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
    - {environment: staging, dependsOn: [dev], policy: {preAction: revert}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: revert, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          set -e
          sleep 1
          d=$(mktemp -d)
          git clone -q REMOTE "$d/w"
          cd "$d/w"
          sed -i 's/main-bbbb/main-aaaa/' apps/web/staging/values.yaml
          if ! git diff --quiet; then
            git -c user.name=someone -c user.email=someone@example.com commit -qam "hand edit of staging"
            git push -q origin main
          fi
          rm -rf "$d"
"#;
    let fx = Fixture::new(Setup {
        environments: &["dev", "staging"],
        product: String::new(),
    });
    std::fs::write(
        fx.config_dir.join("product.yaml"),
        product.replace("REMOTE", &fx.remote.display().to_string()),
    )
    .unwrap();
    fx.commit_dev("main-bbbb", "2.0.0", "feat: two");
    let engine = fx.engine().await;
    // Release 1 brings staging to main-bbbb (the mirror sees it too).
    let to_staging = PromotionRequest {
        flow: None,
        target_environment: Some("staging".into()),
        source_environment: None,
        policy: None,
        rollback_to: None,
    };
    let r1 = engine.promote("shop", to_staging, "gil").await.unwrap();
    assert_eq!(
        wait_final(&engine, &r1.id).await.status,
        ReleaseStatus::Succeeded
    );
    assert!(
        fx.remote_file("apps/web/staging/values.yaml")
            .contains("main-bbbb")
    );
    // Release 2: its pre-action edits staging back on the remote after the
    // snapshot's fetch, so the mirror alone would say "nothing to change".
    let r2 = engine
        .promote("shop", PromotionRequest::for_flow("main"), "gil")
        .await
        .unwrap();
    let d2 = wait_final(&engine, &r2.id).await;
    assert_eq!(
        d2.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&d2).unwrap()
    );
    assert!(
        fx.remote_file("apps/web/staging/values.yaml")
            .contains("main-bbbb"),
        "the hand edit was promoted over"
    );
    let log = fx.remote_log();
    assert!(log[1].starts_with("hand edit of staging"), "{log:#?}");
    assert!(
        log[0].contains(&format!("Ferry-Release: {}", r2.id)),
        "{log:#?}"
    );
}

const HEAD_FLOW: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: up}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: up}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
    - {environment: prod, dependsOn: [qa], policy: {action: pr}}
"#;

/// Argo CD's `targetRevision: HEAD`, or none at all, deploys the
/// repository's default branch: ferry commits there, opens the pull
/// request against it, and the release names the branch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn target_revision_head_is_the_default_branch() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: HEAD_FLOW.into(),
    });
    let apps = fx.config_dir.join("applications.yaml");
    let text = std::fs::read_to_string(&apps).unwrap();
    let mut out = String::new();
    for doc in text.split("---\n").filter(|d| !d.is_empty()) {
        let doc = if doc.contains("name: web-qa") {
            doc.replace("targetRevision: main", "targetRevision: HEAD")
        } else if doc.contains("name: web-prod") {
            doc.replace(", targetRevision: main", "")
        } else {
            doc.to_owned()
        };
        out.push_str("---\n");
        out.push_str(&doc);
    }
    assert!(out.contains("targetRevision: HEAD") && out.matches("targetRevision").count() == 2);
    std::fs::write(&apps, out).unwrap();
    fx.commit_dev("main-eeee", "4.0.0", "feat: head");
    let engine = fx.engine().await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("up"), "hana")
        .await
        .unwrap();
    let release = wait_snapshot(&engine, &release.id).await;
    assert_eq!(release.trigger.branch, "main");
    let suspended = wait_for(&engine, &release.id, 30, |r| {
        r.status == ReleaseStatus::Suspended
    })
    .await;
    assert_eq!(env_status(&suspended, "qa"), "SUCCESSFUL");
    assert!(
        fx.remote_file("apps/web/qa/values.yaml")
            .contains("main-eeee"),
        "qa's commit is on main"
    );
    fx.merge_branch("ferry/shop/prod/1", "Merge");
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    assert!(
        fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-eeee")
    );
}

/// Two applications in the trigger environment with versions of their
/// own: an automatic release takes the version of the application whose
/// commit triggered it (SPEC §4.1), not of the first one listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_release_takes_the_trigger_applications_version() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: HEAD_FLOW.replace(
            "    - {environment: prod, dependsOn: [qa], policy: {action: pr}}\n",
            "",
        ),
    });
    // A second application in dev, `api`, listed first, at version 9.9.9.
    let d = fx.seed.join("apps/api/dev");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("values.yaml"), common::VALUES).unwrap();
    std::fs::write(d.join("Chart.yaml"), chart("9.9.9")).unwrap();
    git(&fx.seed, &["add", "."]);
    git(&fx.seed, &["commit", "-q", "-m", "api service"]);
    git(&fx.seed, &["push", "-q", "origin", "main"]);
    let apps = fx.config_dir.join("applications.yaml");
    let web = std::fs::read_to_string(&apps).unwrap();
    let api = web
        .split("---\n")
        .find(|d| d.contains("name: web-dev"))
        .unwrap()
        .replace("name: web-dev", "name: api-dev")
        .replace("apps/web/dev", "apps/api/dev");
    std::fs::write(&apps, format!("---\n{api}{web}")).unwrap();
    let engine = fx.engine().await;
    assert!(engine.poll_triggers().await.unwrap().is_empty());
    fx.commit_dev("main-ffff", "1.5.0", "feat: web 1.5.0");
    let created = engine.poll_triggers().await.unwrap();
    assert_eq!(created.len(), 1, "only web changed");
    assert_eq!(created[0].version.as_deref(), Some("1.5.0"));
    // A manual promotion has no trigger application: the first listed.
    let manual = engine
        .promote("shop", PromotionRequest::for_flow("up"), "ida")
        .await
        .unwrap();
    let manual = wait_snapshot(&engine, &manual.id).await;
    assert_eq!(manual.version.as_deref(), Some("9.9.9"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_labelled_hotfix_makes_hotfix_releases() {
    let product = SEQUENTIAL.replace(
        "metadata: {name: hotfix}",
        "metadata: {name: hotfix, labels: {ferry.io/hotfix: \"true\"}}",
    );
    assert_ne!(product, SEQUENTIAL);
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "staging", "prod"],
        product,
    });
    fx.commit_dev("main-bbbb", "1.1.0", "fix: checkout total");
    let engine = fx.engine().await;
    let hot = engine
        .promote("shop", PromotionRequest::for_flow("hotfix"), "alice")
        .await
        .unwrap();
    assert!(hot.hotfix);
    let done = wait_final(&engine, &hot.id).await;
    assert!(done.hotfix, "kept by the store");
    let main = engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .unwrap();
    assert!(!main.hotfix);
    wait_final(&engine, &main.id).await;
}
