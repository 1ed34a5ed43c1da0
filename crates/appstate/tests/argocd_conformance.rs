//! The Argo CD client and the fake Argo CD against material Argo CD
//! published, not written here (`tests/data/argo-cd/`, see its README):
//! its API description (swagger) and real Application objects from its
//! documentation and tests.
//!
//! - every vendored Application validates against the description, as the
//!   answer of `GET /api/v1/applications/{name}`, in a list and in a
//!   stream event;
//! - ferry reads them: discovery (as configuration), and the state the
//!   provider reports for the live one;
//! - the fake's checks are live: a request or a document the description
//!   does not allow is a violation.

use std::path::Path;
use std::sync::Arc;

use ferry_apicheck::{Mode, Request};
use ferry_appstate::argocd::fake::{FakeArgoCd, swagger};
use ferry_appstate::argocd::types::ArgoApplication;
use ferry_appstate::argocd::{ArgoCdProvider, InstanceConfig, Secret, discovery};
use ferry_appstate::{AppRef, Health, SyncStatus};
use ferry_gitops::Workspace;
use serde_json::{Value, json};

const TOKEN: &str = "argocd-s3cret-token";

const APPLICATIONS: &[&str] = &[
    "application-live-diff-cache.yaml",
    "application-docs-operator-manual.yaml",
    "application-docs-multiple-sources.yaml",
];

/// A vendored document (YAML) as the JSON Argo CD's API sends.
fn data(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/argo-cd")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let docs = ferry_model::yaml::parse_documents(&text)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
    docs[0].root.to_json()
}

#[test]
fn argo_cds_own_applications_validate_against_its_description() {
    let s = swagger();
    for name in APPLICATIONS {
        let app = data(name);
        let mut problems = s.check_definition("v1alpha1Application", &app, Mode::Response);
        problems.extend(s.check_response("GET", "/api/v1/applications/x", 200, &app));
        problems.extend(s.check_response(
            "GET",
            "/api/v1/applications",
            200,
            &json!({"metadata": {"resourceVersion": "1"}, "items": [app]}),
        ));
        problems.extend(s.check_response(
            "GET",
            "/api/v1/stream/applications",
            200,
            &json!({"result": {"type": "ADDED", "application": app}}),
        ));
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
    // The description is live: a wrongly typed field is caught.
    let mut wrong = data(APPLICATIONS[0]);
    wrong["status"]["health"] = json!("Healthy");
    let p = s.check_definition("v1alpha1Application", &wrong, Mode::Response);
    assert!(
        p.len() == 1 && p[0].starts_with("at /status/health"),
        "{p:?}"
    );
}

#[test]
fn ferry_reads_argo_cds_own_applications() {
    for name in APPLICATIONS {
        let mut app = data(name);
        // Discovery reads annotated applications as configuration.
        app["metadata"]["annotations"]["codefresh.io/product"] = json!("p");
        if app["metadata"]["name"].is_null() {
            app["metadata"]["name"] = json!("unnamed");
        }
        let doc: ArgoApplication = serde_json::from_value(app).expect(name);
        let (apps, diagnostics) = discovery::discover("east", &[doc]);
        assert!(diagnostics.is_empty(), "{name}: {diagnostics:?}");
        assert_eq!(apps.len(), 1, "{name}");
        assert!(apps[0].promoted_source().is_some(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_provider_reads_a_live_application_from_argo_cds_tests() {
    let fake = FakeArgoCd::start(TOKEN).await;
    let live = data("application-live-diff-cache.yaml");
    fake.put(live.clone());
    let dir = tempfile::tempdir().unwrap();
    let workspace = Arc::new(Workspace::new(
        dir.path().join("cache"),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    ));
    let mut cfg = InstanceConfig::new("east", fake.url());
    cfg.token = Some(Secret::new(TOKEN));
    let provider = ArgoCdProvider::new(cfg, workspace).unwrap();
    let app = AppRef {
        name: "velero-test".into(),
        namespace: Some("test-lla".into()),
        repo_url: "https://github.com/foo/manifests-velero.git".into(),
        path: "instances/test".into(),
        target_revision: "test-lla".into(),
    };
    let obs = provider
        .observe_in(&app, Some("argo-cd"), None)
        .await
        .unwrap();
    assert_eq!(obs.state.sync, SyncStatus::Synced);
    assert_eq!(obs.state.health, Health::Healthy);
    assert_eq!(obs.state.revision.as_deref(), Some("rev1"));
    assert!(obs.state.unhealthy.is_empty());
    assert_eq!(
        obs.state.link.as_deref(),
        Some(format!("{}/applications/argo-cd/velero-test", fake.url()).as_str())
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_reports_what_argo_cds_description_does_not_allow() {
    let fake = FakeArgoCd::start(TOKEN).await;
    // Requests: a parameter Get does not have, `appNamespace` twice (it is
    // not repeatable), an operation that is not there.
    let http = reqwest::Client::new();
    for url in [
        "/api/v1/applications/web?appNamespace=a&appNamespace=b",
        "/api/v1/applications/web?refresh=hard&hardRefresh=true",
        "/api/v1/applications/web/resource-tree/extra",
    ] {
        http.get(format!("{}{url}", fake.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
    }
    // A document Argo CD would not send: health as a string.
    let mut bad = data("application-docs-multiple-sources.yaml");
    bad["status"] = json!({"health": "Healthy"});
    fake.put(bad);
    let v = fake.violations();
    let has = |s: &str| v.iter().any(|x| x.contains(s));
    assert!(has("`appNamespace` is given more than once"), "{v:#?}");
    assert!(
        has("`hardRefresh` is not a parameter of ApplicationService_Get"),
        "{v:#?}"
    );
    assert!(has("resource-tree/extra: no such operation"), "{v:#?}");
    assert!(has("at /status/health"), "{v:#?}");
    // And what ferry sends is allowed.
    let q = vec![
        ("appNamespace".to_owned(), "argocd".to_owned()),
        ("refresh".to_owned(), "hard".to_owned()),
    ];
    let ok = swagger().check_request(&Request {
        method: "GET",
        path: "/api/v1/applications/web-qa",
        query: &q,
        body: None,
    });
    assert_eq!(ok, Vec::<String>::new());
}
