//! `ferry serve` with an Argo CD instance (an in-test Argo CD API server):
//! the product dashboard shows Argo CD's live sync and health, annotated
//! applications found only in Argo CD join the product, and conflicts with
//! manifests are reported by the configuration status.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ferry_appstate::argocd::fake::{FakeArgoCd, application, set_resources, set_state};
use ferry_server::Secret;
use ferry_settings::ArgoCdSettings;
use serde_json::Value;

const ARGO_TOKEN: &str = "argocd-api-token-9f8e";

fn annotated(name: &str, repo: &str, path: &str, ns: &str) -> Value {
    let mut app = application(name, "argocd", repo, path);
    app["metadata"]["annotations"]["codefresh.io/product"] = "p".into();
    app["spec"]["destination"] = serde_json::json!({"name": "in-cluster", "namespace": ns});
    app
}

fn app_in<'a>(product: &'a Value, env: &str, name: &str) -> Option<&'a Value> {
    product["environments"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == env)?["applications"]
        .as_array()?
        .iter()
        .find(|a| a["name"] == name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_live_state_and_discovered_applications() {
    let f = fixture();
    let repo = f.bare.display().to_string();
    let fake = FakeArgoCd::start(ARGO_TOKEN).await;
    // Manifest applications as Argo CD has them; api-dev's path differs.
    let mut dev = annotated("api-dev", &repo, "envs/elsewhere", "p-dev");
    set_state(&mut dev, "Synced", "abc", "Healthy", None);
    fake.put(dev);
    let mut qa = annotated("api-qa", &repo, "envs/qa", "p-qa");
    set_state(&mut qa, "Synced", "def", "Degraded", None);
    set_resources(
        &mut qa,
        &[("Deployment", "api", "Degraded", Some("CrashLoopBackOff"))],
    );
    fake.put(qa);
    // Only in Argo CD: joins product p in qa.
    let mut worker = annotated("worker-qa", &repo, "envs/qa", "p-qa");
    set_state(&mut worker, "OutOfSync", "def", "Progressing", None);
    fake.put(worker);
    // Not annotated: ignored.
    fake.put(application("unrelated", "argocd", &repo, "other"));

    let mut settings = settings(&f);
    settings.argocd = vec![ArgoCdSettings {
        name: "main".into(),
        url: fake.url().into(),
        ui_url: Some("https://argocd.example".into()),
        token: Some(Secret::new(ARGO_TOKEN)),
        default: true,
        ..ArgoCdSettings::default()
    }];
    settings.anonymous_read = true;
    let server = start(settings).await;

    let (status, product) = server.get("/api/v1/products/p").await;
    assert_eq!(status, 200, "{product}");
    let qa = app_in(&product, "qa", "api-qa").expect("api-qa on the dashboard");
    assert_eq!(qa["stateProvider"], "argocd");
    assert_eq!(qa["health"], "Degraded");
    assert_eq!(qa["sync"], "Synced");
    assert_eq!(qa["live"]["instance"], "main");
    assert_eq!(qa["live"]["revision"], "def");
    assert_eq!(qa["live"]["message"], "CrashLoopBackOff");
    assert_eq!(
        qa["live"]["link"],
        "https://argocd.example/applications/argocd/api-qa"
    );
    assert_eq!(
        qa["live"]["unhealthyResources"][0],
        "Deployment p-qa/api: Degraded: CrashLoopBackOff"
    );
    let worker = app_in(&product, "qa", "worker-qa").expect("the discovered application joined");
    assert_eq!(worker["health"], "Progressing");
    assert_eq!(worker["sync"], "OutOfSync");
    assert!(app_in(&product, "qa", "unrelated").is_none());
    // The manifest wins for api-dev.
    assert_eq!(
        app_in(&product, "dev", "api-dev").unwrap()["path"],
        "envs/dev"
    );

    let (_, config) = server.get("/api/v1/config/status").await;
    let conflicts = config["discoveryConflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{config:#}");
    let c = conflicts[0].as_str().unwrap();
    assert!(
        c.contains("applications.yaml") && c.contains("spec.source.path"),
        "{c}"
    );
    assert!(c.contains("`envs/dev` here, `envs/elsewhere` there"), "{c}");

    // A new annotated application in Argo CD joins without a restart.
    let mut cron = annotated("cron-qa", &repo, "envs/qa", "p-qa");
    set_state(&mut cron, "Synced", "def", "Healthy", None);
    fake.put(cron);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, product) = server.get("/api/v1/products/p").await;
        if let Some(cron) = app_in(&product, "qa", "cron-qa") {
            assert_eq!(cron["health"], "Healthy");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "cron-qa never joined: {product:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Argo CD saw the documented requests, each with the token; ferry's
    // answers never carry it.
    assert_eq!(fake.violations(), Vec::<String>::new());
    let paths: Vec<String> = fake.requests().iter().map(|s| s.path.clone()).collect();
    assert!(
        paths.contains(&"/api/v1/applications".to_owned()),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"/api/v1/stream/applications".to_owned()),
        "{paths:?}"
    );
    for body in [product.to_string(), config.to_string()] {
        assert!(!body.contains(ARGO_TOKEN));
    }
    // Every application is watched through Argo CD: no "git provider" note.
    let page = server.text("/products/p").await;
    assert!(page.contains("worker-qa"), "{page}");
    assert!(!page.contains("No cluster is watched"), "{page}");
    server.stop().await;
}
