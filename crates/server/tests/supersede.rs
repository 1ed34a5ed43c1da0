//! Issue 20 end to end through the real server, a fake GitHub that keeps
//! GitHub's rules, real Git repositories and headless Chromium:
//!
//! - concurrency `supersede`: releases created while an older one works
//!   replace each other; the older one, once it waits on its pull request,
//!   is replaced too — its pull request closed with a comment naming the
//!   newest release, the commit statuses on its head ending `error`
//!   "superseded by release #4" —, and the release view shows SUPERSEDED
//!   with a link to the release that replaced it;
//! - automatic rollback: the failed release and its rollback link to each
//!   other in the API and in the release view.

mod browser;
mod common;
mod htmlcheck;
mod uifixture;

use std::path::PathBuf;

use common::*;
use ferry_forge::fake::{FakeForge, Options, PrState};
use ferry_forge::{ForgeEntry, ForgeKind, Secret};
use serde_json::Value;
use uifixture::wait_release;

/// Product `p` (dev → qa) with `concurrency`, qa's pre-action `gate`
/// waiting for the gate file, then `qa_policy`; `check` fails for
/// version 2.0.0. Returns the gate file.
fn config(f: &Fixture, concurrency: &str, qa_policy: &str) -> PathBuf {
    let gate = f.root.path().join("gate");
    let product = format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata:
  name: p
spec:
  concurrency: {concurrency}
  promotionTemplate:
    versionSource:
      file: version.yaml
      jsonPath: $.version
    promotion:
      values.yaml:
        jsonPaths: ["$..image"]
      version.yaml:
        jsonPaths: ["$.version"]
  promotionFlows:
    - name: standard
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: standard
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {qa_policy}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: gate, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "while [ ! -f {gate} ]; do sleep 0.05; done"}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: check, annotations: {{codefresh.io/workflow-origin: promotion}}}}
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
          echo healthy
"#,
        gate = gate.display()
    );
    std::fs::write(f.config.join("product.yaml"), product).unwrap();
    gate
}

async fn release(s: &TestServer, id: &str) -> Value {
    let (status, r) = s.get(&format!("/api/v1/releases/{id}")).await;
    assert_eq!(status, 200, "{r}");
    r
}

fn qa_app(r: &Value) -> &Value {
    let qa = r["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap();
    &qa["applications"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn superseded_releases_close_their_pull_requests_and_link_to_the_newest() {
    let f = fixture();
    let gate = config(&f, "supersede", "{preAction: gate, action: pr}");
    let fake = FakeForge::start(ForgeKind::Github, Options::default()).await;
    let mut settings = settings(&f);
    settings.base_url = Some("https://ferry.example".into());
    // The pages are read without signing in.
    settings.anonymous_read = true;
    let parent = f.root.path().parent().unwrap();
    settings.forges = vec![ForgeEntry {
        kind: Some(ForgeKind::Github),
        repo_prefix: format!("{}/", parent.display()),
        api_url: Some(fake.api_url()),
        token: Some(Secret::new(Options::default().token)),
        webhook_secret: Some(Secret::new("unused")),
        poll_interval: Some(1),
        retry_initial_ms: Some(5),
        retry_max_ms: Some(50),
        ..ForgeEntry::default()
    }];
    let s = start(settings).await;
    let first = s.promote("standard").await;
    wait_release(&s, &first, "qa's pre-action running", |r| {
        qa_app(r)["steps"][0]["status"] == "RUNNING"
    })
    .await;
    // Three more while #1 works: each replaces the queued one before it.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(s.promote("standard").await);
    }
    for (older, by) in ids.iter().zip(2..) {
        if by == 4 {
            break;
        }
        let r = s.wait_finished(older).await;
        assert_eq!(r["status"], "SUPERSEDED", "{r:#}");
        assert_eq!(r["termination"]["reason"], "superseded");
        assert_eq!(r["termination"]["release"]["number"], by + 1, "{r:#}");
    }
    let working = release(&s, &first).await;
    assert_eq!(working["status"], "RUNNING", "not interrupted: {working:#}");
    assert!(working["termination"].is_null());

    // #1 opens its pull request and waits: replaced by #4.
    std::fs::write(&gate, "").unwrap();
    let one = s.wait_finished(&first).await;
    assert_eq!(one["status"], "SUPERSEDED", "{one:#}");
    assert_eq!(one["termination"]["by"], "release #4");
    let pr = &qa_app(&one)["pullRequest"];
    let number = pr["number"].as_u64().expect("a pull request");
    assert!(pr["closedAt"].is_string(), "{one:#}");
    let pull = fake
        .pull_requests()
        .into_iter()
        .find(|p| p.number == number)
        .unwrap();
    assert_eq!(pull.state, PrState::Closed);
    assert_eq!(pull.comments.len(), 1, "{:?}", pull.comments);
    assert!(
        pull.comments[0].contains("release [#1](https://ferry.example/products/p/releases/1)")
            && pull.comments[0].contains("superseded by release #4"),
        "{}",
        pull.comments[0]
    );
    // The commit statuses on its head end as what happened.
    let head = pr["head"].as_str().expect("the head commit").to_owned();
    let statuses = wait_statuses(&fake, &head, "error").await;
    let release_status = &statuses["ferry/p"];
    assert_eq!(release_status.state, "error");
    assert!(
        release_status
            .description
            .contains("superseded by release #4"),
        "{release_status:?}"
    );
    // #4 is the only one left, waiting on its own pull request.
    let four = wait_release(&s, &ids[2], "#4's pull request", |r| {
        r["status"] == "SUSPENDED" && qa_app(r)["pullRequest"]["number"].is_u64()
    })
    .await;
    assert_ne!(qa_app(&four)["pullRequest"]["number"], number);
    let open: Vec<u64> = fake
        .pull_requests()
        .into_iter()
        .filter(|p| p.state == PrState::Open)
        .map(|p| p.number)
        .collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());

    // The release view and the list say so, with the link.
    let b = browser::Browser::start().await;
    b.goto(&s.url("/products/p/releases/1")).await;
    assert_eq!(b.text(".superseded-by a").await, "release #4");
    let href = b
        .eval("return document.querySelector('.superseded-by a').getAttribute('href')")
        .await;
    assert_eq!(href, "/products/p/releases/4");
    let headline = b.text(".now .headline").await;
    assert!(
        headline.starts_with("Superseded by release #4"),
        "{headline}"
    );
    let badge = b.text("h1 .st").await;
    assert!(badge.contains("SUPERSEDED"), "{badge}");
    htmlcheck::check(&b.source().await).expect("valid HTML");
    b.screenshot("supersede-01-release-view").await;
    b.click(".superseded-by a").await;
    b.wait_true(
        "the newest release's page",
        "return location.pathname === '/products/p/releases/4'",
    )
    .await;
    b.goto(&s.url("/products/p/releases")).await;
    let list = b.text("main").await;
    assert_eq!(list.matches("SUPERSEDED").count(), 3, "{list}");
    // Each SUPERSEDED row links to the release that replaced it.
    let links = b
        .eval(
            "return [...document.querySelectorAll('table.releases tbody tr')].map(tr => { \
               var a = tr.querySelector('.superseded-by a'); \
               return tr.querySelector('.c-id a').textContent + ' ' + (a ? a.textContent + ' ' + a.getAttribute('href') : '-'); })",
        )
        .await;
    assert_eq!(
        links,
        serde_json::json!([
            "#4 -",
            "#3 #4 /products/p/releases/4",
            "#2 #3 /products/p/releases/3",
            "#1 #4 /products/p/releases/4"
        ])
    );
    b.screenshot("supersede-02-list").await;
    b.click("table.releases tbody tr:last-child .superseded-by a")
        .await;
    b.wait_true(
        "the newest release's page, from the list",
        "return location.pathname === '/products/p/releases/4'",
    )
    .await;
    b.quit().await;
    // The list API's items say it too.
    let (code, page) = s.get("/api/v1/products/p/releases").await;
    assert_eq!(code, 200, "{page}");
    let by: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["supersededBy"]["number"].clone())
        .collect();
    assert_eq!(by, [Value::Null, 4.into(), 3.into(), 4.into()], "{page:#}");
    s.stop().await;
}

/// The statuses of `sha` once `ferry/p` reached `state`.
async fn wait_statuses(
    fake: &FakeForge,
    sha: &str,
    state: &str,
) -> std::collections::BTreeMap<String, ferry_forge::fake::FakeStatus> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let latest = fake.latest(sha);
        if latest.get("ferry/p").is_some_and(|s| s.state == state) {
            return latest;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ferry/p never {state} on {sha}: {latest:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_and_the_failed_release_link_to_each_other() {
    let f = fixture();
    let gate = config(&f, "queue", "{postAction: check, onFailure: rollback}");
    std::fs::write(&gate, "").unwrap();
    let mut settings = settings(&f);
    settings.anonymous_read = true;
    let s = start(settings).await;
    commit_dev(&f, "1.5.0");
    let good = s.promote("standard").await;
    assert_eq!(s.wait_finished(&good).await["status"], "SUCCEEDED");
    commit_dev(&f, "2.0.0");
    let bad = s.promote("standard").await;
    let failed = s.wait_finished(&bad).await;
    assert_eq!(failed["status"], "FAILED", "{failed:#}");
    let link = &failed["rolledBackBy"][0];
    assert_eq!(link["environment"], "qa");
    assert_eq!(link["number"], 3);
    let rollback = s
        .wait_finished(link["release"].as_str().expect("the rollback's id"))
        .await;
    assert_eq!(rollback["status"], "SUCCEEDED", "{rollback:#}");
    assert_eq!(rollback["kind"]["type"], "rollback");
    assert_eq!(rollback["rollbackFor"]["number"], 2);
    assert_eq!(rollback["version"], "1.5.0");

    let b = browser::Browser::start().await;
    b.goto(&s.url("/products/p/releases/2")).await;
    assert_eq!(b.text(".rolled-back-by a").await, "release #3");
    let headline = b.text(".now .headline").await;
    assert!(
        headline.contains("rolled back by release #3 (qa)"),
        "{headline}"
    );
    htmlcheck::check(&b.source().await).expect("valid HTML");
    b.screenshot("rollback-01-failed-release").await;
    b.click(".rolled-back-by a").await;
    b.wait_true(
        "the rollback's page",
        "return location.pathname === '/products/p/releases/3'",
    )
    .await;
    assert_eq!(b.text(".rollback-for a").await, "release #2");
    let facts = b.text(".facts").await;
    assert!(facts.contains("rollback to #1"), "{facts}");
    b.screenshot("rollback-02-rollback-release").await;
    // The list links them both ways too.
    b.goto(&s.url("/products/p/releases")).await;
    let link = |css: &str| {
        format!(
            "var a = document.querySelector('{css}'); return a ? a.textContent + ' ' + a.getAttribute('href') + ' ' + a.closest('div').textContent.trim() : null;"
        )
    };
    assert_eq!(
        b.eval(&link("table.releases .rolled-back-by a")).await,
        "#3 /products/p/releases/3 rolled back by #3 (qa)"
    );
    assert_eq!(
        b.eval(&link("table.releases .rollback-for a")).await,
        "#2 /products/p/releases/2 rollback for #2 (qa)"
    );
    htmlcheck::check(&b.source().await).expect("valid HTML");
    b.screenshot("rollback-03-list").await;
    b.click("table.releases .rollback-for a").await;
    b.wait_true(
        "the failed release's page, from the list",
        "return location.pathname === '/products/p/releases/2'",
    )
    .await;
    b.quit().await;
    let (code, page) = s.get("/api/v1/products/p/releases").await;
    assert_eq!(code, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items[0]["rollbackFor"]["number"], 2, "{page:#}");
    assert_eq!(items[1]["rolledBackBy"][0]["number"], 3, "{page:#}");
    s.stop().await;
}
