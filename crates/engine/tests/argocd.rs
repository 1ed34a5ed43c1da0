//! Releases that wait on Argo CD: real Git repositories, the engine on
//! SQLite, and an in-test Argo CD API server (the only faked part) that
//! plays the cluster: it reports the promotion commit synced, then
//! healthy — or Degraded, or never healthy.
//!
//! The sync interval is set to ten minutes, so a release can only finish
//! in these tests if the application stream wakes the engine.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use ferry_appstate::argocd::fake::{FakeArgoCd, application, set_resources, set_state};
use ferry_appstate::argocd::{ArgoCdProvider, Backoff, InstanceConfig, Secret};
use ferry_engine::{Engine, EngineParts, EngineSettings, PromotionRequest};
use ferry_gitops::Workspace;
use ferry_release::{IssueKind, ReleaseStatus};
use ferry_workflow::{LocalConfig, LocalExecutor};

const TOKEN: &str = "argocd-token-e2e";

fn product(timeout: &str) -> String {
    format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {{name: shop}}
spec:
  promotionFlows:
    - name: main
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {{name: main}}
spec:
  triggerEnvironment: dev
  timeout: {timeout}
  steps:
    - {{environment: qa, dependsOn: [dev]}}
"#
    )
}

struct World {
    fx: Fixture,
    fake: FakeArgoCd,
    engine: Engine,
    provider: Arc<ArgoCdProvider>,
}

async fn world(timeout: &str) -> World {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: product(timeout),
    });
    fx.commit_dev("main-bbbb", "1.1.0", "feat: new checkout");
    let fake = FakeArgoCd::start(TOKEN).await;
    let repo = fx.remote.display().to_string();
    for env in ["dev", "qa"] {
        let name = format!("web-{env}");
        let mut app = application(&name, "argocd", &repo, &format!("apps/web/{env}"));
        set_state(
            &mut app,
            "Synced",
            "0000000000000000000000000000000000000000",
            "Healthy",
            None,
        );
        fake.put(app);
    }
    let workspace = Arc::new(Workspace::new(
        fx.dir.path().join("cache"),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    ));
    let mut cfg = InstanceConfig::new("main", fake.url());
    cfg.token = Some(Secret::new(TOKEN));
    cfg.ui_url = Some("https://argocd.example".into());
    cfg.hard_refresh = true;
    cfg.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    let provider = Arc::new(ArgoCdProvider::new(cfg, Arc::clone(&workspace)).unwrap());
    common::create_postgres_database(&fx.db).await;
    let store = ferry_store::Store::open(&fx.db).await.unwrap();
    let loaded =
        ferry_config::load(&ferry_config::ConfigSource::Dir(fx.config_dir.clone())).unwrap();
    assert!(!loaded.has_errors());
    let engine = Engine::new(EngineParts {
        pull_requests: None,
        store: Arc::new(store),
        config: Arc::new(loaded),
        workspace,
        runner: Arc::new(LocalExecutor::new(LocalConfig {
            work_dir: Some(fx.dir.path().join("runs")),
            ..LocalConfig::default()
        })),
        appstate: Arc::clone(&provider) as Arc<dyn ferry_appstate::AppStateProvider>,
        settings: EngineSettings {
            base_url: "http://ferry.test".into(),
            poll_interval: None,
            sync_interval: Duration::from_secs(600),
            ..EngineSettings::default()
        },
    });
    engine.start().await.unwrap();
    for _ in 0..500 {
        if provider.stream_connected() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(provider.stream_connected());
    World {
        fx,
        fake,
        engine,
        provider,
    }
}

/// Promotes and waits until qa's promotion commit is pushed and the sync
/// wait has read Argo CD's (old) state; returns (release id, commit).
async fn promote_and_reach_sync_wait(w: &World) -> (String, String) {
    let release = w
        .engine
        .promote("shop", PromotionRequest::for_flow("main"), "alice")
        .await
        .unwrap();
    let r = wait_for(&w.engine, &release.id, 60, |r| {
        r.environment("qa")
            .and_then(|e| e.applications.first())
            .is_some_and(|a| a.promotion_commit.is_some() && a.sync.is_some())
    })
    .await;
    let commit = r.environment("qa").unwrap().applications[0]
        .promotion_commit
        .clone()
        .unwrap();
    assert_eq!(git(&w.fx.remote, &["rev-parse", "main"]), commit);
    (release.id, commit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_waits_for_synced_and_healthy_at_the_promotion_commit() {
    let w = world("1h").await;
    let (id, commit) = promote_and_reach_sync_wait(&w).await;
    let r = w.engine.release(&id).await.unwrap().unwrap();
    assert_eq!(
        r.status,
        ReleaseStatus::Running,
        "Argo CD still deploys an older revision"
    );

    // Argo CD syncs the commit; the rollout is progressing: still waiting.
    w.fake.update("argocd", "web-qa", |a| {
        set_state(
            a,
            "Synced",
            &commit,
            "Progressing",
            Some("Waiting for rollout to finish"),
        )
    });
    let r = wait_for(&w.engine, &id, 60, |r| {
        r.environment("qa").unwrap().applications[0]
            .health
            .as_deref()
            == Some("Progressing")
    })
    .await;
    assert_eq!(env_status(&r, "qa"), "RUNNING");
    assert_eq!(
        r.environment("qa").unwrap().applications[0].sync.as_deref(),
        Some("Synced")
    );

    // Healthy: the environment and the release succeed.
    w.fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Healthy", None)
    });
    let done = wait_final(&w.engine, &id).await;
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    let qa = done.environment("qa").unwrap();
    assert_eq!(qa.status.to_string(), "SUCCESSFUL");
    let app = &qa.applications[0];
    assert_eq!(app.health.as_deref(), Some("Healthy"));
    let sync_step = app
        .steps
        .iter()
        .find(|s| s.name == "sync")
        .expect("a sync step");
    assert_eq!(
        sync_step.message.as_deref(),
        Some(format!("synced at {commit} and healthy").as_str())
    );

    // Argo CD was asked to hard-refresh the application once, with the token.
    let refreshes: Vec<_> = w
        .fake
        .requests()
        .into_iter()
        .filter(|s| s.param("refresh").is_some())
        .collect();
    assert_eq!(refreshes.len(), 1, "{refreshes:?}");
    assert_eq!(refreshes[0].path, "/api/v1/applications/web-qa");
    assert_eq!(refreshes[0].param("refresh"), Some("hard"));
    assert_eq!(
        refreshes[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(w.fake.violations(), Vec::<String>::new());
    assert!(w.provider.stream_connects() >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_fails_the_environment_with_argo_cds_message() {
    let w = world("1h").await;
    let (id, commit) = promote_and_reach_sync_wait(&w).await;
    w.fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Degraded", None);
        set_resources(
            a,
            &[
                ("Service", "web", "Healthy", None),
                (
                    "Deployment",
                    "web",
                    "Degraded",
                    Some("Deployment \"web\" exceeded its progress deadline"),
                ),
            ],
        );
    });
    let done = wait_final(&w.engine, &id).await;
    assert_eq!(done.status, ReleaseStatus::Failed);
    let qa = done.environment("qa").unwrap();
    assert_eq!(qa.status.to_string(), "FAILED");
    assert_eq!(qa.issues.len(), 1, "{:?}", qa.issues);
    let issue = &qa.issues[0];
    assert_eq!(issue.kind, IssueKind::Application);
    assert_eq!(issue.application.as_deref(), Some("web-qa"));
    assert_eq!(
        issue.message,
        "web-qa is Degraded: Deployment \"web\" exceeded its progress deadline"
    );
    assert_eq!(
        issue.link.as_deref(),
        Some("https://argocd.example/applications/argocd/web-qa")
    );
    let details = issue.details.as_deref().unwrap();
    assert!(
        details.contains("unhealthy resources:\n  Deployment web-qa/web: Degraded: Deployment \"web\" exceeded its progress deadline"),
        "{details}"
    );
    assert!(!details.contains("Service"), "{details}");
    assert_eq!(w.fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_healthy_within_the_flow_timeout_fails_with_the_last_state() {
    let w = world("4s").await;
    let (id, commit) = promote_and_reach_sync_wait(&w).await;
    w.fake.update("argocd", "web-qa", |a| {
        set_state(
            a,
            "Synced",
            &commit,
            "Progressing",
            Some("Waiting for rollout to finish: 0 of 2 updated replicas are available"),
        )
    });
    let done = wait_final(&w.engine, &id).await;
    let qa = done.environment("qa").unwrap();
    assert_eq!(
        qa.status.to_string(),
        "FAILED",
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    let issue = qa
        .issues
        .iter()
        .find(|i| i.kind == IssueKind::Timeout)
        .expect("a timeout issue");
    assert_eq!(
        issue.message,
        format!(
            "web-qa was not synced at {commit} and healthy before the flow timeout; last seen: Synced at {}, Progressing: Waiting for rollout to finish: 0 of 2 updated replicas are available",
            &commit[..12]
        )
    );
    assert_eq!(
        issue.link.as_deref(),
        Some("https://argocd.example/applications/argocd/web-qa")
    );
    let sync_step = qa.applications[0]
        .steps
        .iter()
        .find(|s| s.name == "sync")
        .unwrap();
    assert_eq!(sync_step.status.to_string(), "FAILED");
}

/// Polls the triggers until a poll creates releases (the stream brings
/// Argo CD's new state a moment after the fake changes it).
async fn releases_from_triggers(engine: &Engine) -> Vec<ferry_release::Release> {
    for _ in 0..100 {
        let created = engine.poll_triggers().await.unwrap();
        if !created.is_empty() {
            return created;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Vec::new()
}

/// Two commits to the trigger application's path before Argo CD syncs:
/// it deploys the second, so the first is never "synced at". The trigger
/// releases the deployed commit instead of waiting for the first forever,
/// and releases later commits as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_commit_superseded_before_its_sync_does_not_stop_the_trigger() {
    let w = world("1h").await;
    assert!(
        w.engine.poll_triggers().await.unwrap().is_empty(),
        "first sight"
    );
    let first = w.fx.commit_dev("main-c1c1", "1.2.0", "feat: one");
    let second = w.fx.commit_dev("main-c2c2", "1.3.0", "feat: two");
    assert_ne!(first, second);
    // Not deployed yet: nothing.
    assert!(w.engine.poll_triggers().await.unwrap().is_empty());
    w.fake.update("argocd", "web-dev", |a| {
        set_state(a, "Synced", &second, "Healthy", None)
    });
    let created = releases_from_triggers(&w.engine).await;
    assert_eq!(created.len(), 1, "one release, for the deployed commit");
    assert_eq!(created[0].trigger.sha, second);
    assert_eq!(created[0].version.as_deref(), Some("1.3.0"));
    assert_eq!(created[0].trigger.branch, "main");
    // The trigger goes on: a third commit, deployed, makes the next release
    // (once the first release has pushed to qa, so the test's push is not
    // racing it).
    wait_for(&w.engine, &created[0].id, 60, |r| {
        r.environment("qa")
            .and_then(|e| e.applications.first())
            .is_some_and(|a| a.promotion_commit.is_some())
    })
    .await;
    let third = w.fx.commit_dev("main-c3c3", "1.4.0", "feat: three");
    w.fake.update("argocd", "web-dev", |a| {
        set_state(a, "Synced", &third, "Healthy", None)
    });
    let next = releases_from_triggers(&w.engine).await;
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].trigger.sha, third);
    assert!(w.fake.violations().is_empty(), "{:?}", w.fake.violations());
}
