//! `ferry validate --argocd`: the real binary discovers annotated
//! Applications from an (in-test) Argo CD API server, merges them into the
//! configuration, and reports where they conflict with manifests.

use std::process::Command;

use ferry_appstate::argocd::fake::{FakeArgoCd, application};

const TOKEN: &str = "validate-argocd-token";

const CONFIG: &str = r#"apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [web-qa, worker-qa]}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web-qa
  annotations: {codefresh.io/product: shop}
spec:
  source: {repoURL: 'https://git.example/gitops.git', path: apps/web/qa, targetRevision: main}
  destination: {name: in-cluster, namespace: web-qa}
"#;

fn annotated(name: &str, path: &str) -> serde_json::Value {
    let mut app = application(name, "argocd", "https://git.example/gitops.git", path);
    app["metadata"]["annotations"]["codefresh.io/product"] = "shop".into();
    app["spec"]["destination"] = serde_json::json!({"name": "in-cluster", "namespace": name});
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovered_applications_join_and_conflicts_are_warned() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(annotated("web-qa", "apps/web/moved"));
    fake.put(annotated("worker-qa", "apps/worker/qa"));
    fake.put(application(
        "infra",
        "argocd",
        "https://git.example/infra.git",
        "x",
    ));

    let url = fake.url().to_owned();
    let source = dir.path().to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["validate", &source, "--argocd", &url])
            .env("FERRY_ARGOCD_TOKEN", TOKEN)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}\n{err}");
    let root = dir.path().display();
    assert!(
        text.contains(&format!(
            "{root}/config.yaml:9:9: warning: spec.source.path: application `web-qa` differs from its copy in Argo CD (argocd://argocd/argocd/web-qa): `apps/web/qa` here, `apps/web/moved` there; the manifest is used"
        )),
        "{text}"
    );
    assert!(
        text.contains("worker-qa"),
        "the discovered application is listed: {text}"
    );
    assert!(!text.contains("infra"), "{text}");
    assert!(!text.contains(TOKEN) && !err.contains(TOKEN));

    let seen = fake.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/api/v1/applications");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[test]
fn an_unreachable_argocd_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.yaml"), CONFIG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "validate",
            dir.path().to_str().unwrap(),
            "--argocd",
            "http://127.0.0.1:9",
        ])
        .env("FERRY_ARGOCD_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Argo CD argocd: GET /api/v1/applications"),
        "{err}"
    );
    assert!(!err.contains(TOKEN));
}
