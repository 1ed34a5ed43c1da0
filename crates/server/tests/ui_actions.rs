//! The web UI's actions against the real server (in-process, 127.0.0.1)
//! and real Git: merging a promotion branch and resuming a suspended
//! workflow from the release view, a lagging dashboard reading the state
//! again, and the action and error pages at phone width knowing the
//! viewer — over plain HTTP and in headless Chromium.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;
mod uifixture;

use std::time::Duration;

use common::*;
use serde_json::json;
use uiclient::{Client, hidden};
use uifixture::{checked, env_status, promote, ui_config, wait_release};

/// Product `p` with flow `reviewed`: qa by commit, prod through a pull
/// request (action `pr`) — without a forge, a branch that waits to be
/// merged into `main`.
fn reviewed_config(f: &Fixture) {
    std::fs::write(
        f.config.join("product.yaml"),
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata:
  name: p
spec:
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
    - name: reviewed
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: reviewed
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
    - environment: prod
      dependsOn: [qa]
      policy: {action: pr}
"#,
    )
    .unwrap();
}

const MERGE_BUTTON: &str = "Merge pull request…";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_merge_button_merges_the_promotion_branch_and_the_release_goes_on() {
    let f = fixture();
    reviewed_config(&f);

    // `ferry serve` (demo off): prod waits for its branch, no button, no route.
    let s = start(settings(&f)).await;
    let release = promote(&s, "reviewed").await;
    let id = release["id"].as_str().unwrap().to_owned();
    let waiting = wait_release(&s, &id, "prod waits for its pull request", |r| {
        env_status(r, "prod") == "SUSPENDED"
    })
    .await;
    let branch = waiting["environments"][2]["applications"][0]["pullRequest"]["branch"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(branch, "ferry/p/prod/1");
    let mut c = Client::new(&s.base);
    c.sign_in(TOKEN).await;
    let view = c.get("/products/p/releases/1").await;
    assert_eq!(view.status, 200);
    assert!(view.body.contains("SUSPENDED"), "{}", view.body);
    assert!(!view.body.contains(MERGE_BUTTON), "{}", view.body);
    assert!(!view.body.contains("/merge?"), "{}", view.body);
    let confirm_path = "/products/p/releases/1/merge?environment=prod";
    assert_eq!(c.get(confirm_path).await.status, 404);
    let csrf = hidden(&view.body, "csrf"); // the sign-out form's
    let r = c
        .post(
            "/products/p/releases/1/merge",
            &[("csrf", &csrf), ("environment", "prod")],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    s.stop().await;
    let main_before = git(&f.bare, &["rev-parse", "main"]);

    // Demo mode: the same waiting release now offers the button.
    let demo = || ferry_server::Settings {
        demo: true,
        ..settings(&f)
    };
    let s = start(demo()).await;
    c.base = s.base.clone();
    // (The restarted engine takes the release up again: read the page
    // once it waits again.)
    wait_release(&s, &id, "prod waits again after the restart", |r| {
        env_status(r, "prod") == "SUSPENDED"
            && r["environments"][2]["applications"][0]["status"] == "SUSPENDED"
    })
    .await;
    // The stored SUSPENDED is true before the restarted engine has looked
    // at the pull request again (it may show the step RUNNING meanwhile):
    // read the page until it offers the merge.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let view = loop {
        let view = c.get("/products/p/releases/1").await;
        assert_eq!(view.status, 200);
        if view.body.contains(MERGE_BUTTON) || std::time::Instant::now() > deadline {
            break view;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    checked("/products/p/releases/1 (demo)", &view.body);
    assert!(view.body.contains(MERGE_BUTTON), "{}", view.body);
    assert!(
        view.body
            .contains("href=\"/products/p/releases/1/merge?environment=prod\""),
        "{}",
        view.body
    );
    // Only the environment that waits has one (qa is done), offered in
    // the "what is happening" panel and in prod's section: one action
    // (one href) per environment, none per application.
    assert_eq!(view.body.matches(MERGE_BUTTON).count(), 2);
    assert_eq!(
        view.body.matches("/merge?environment=prod\"").count(),
        2,
        "{}",
        view.body
    );

    // The confirmation asks before merging; someone not signed in signs in first.
    let mut stranger = Client::new(&s.base);
    let r = stranger.get(confirm_path).await;
    assert_eq!(r.status, 303);
    assert!(r.location.starts_with("/signin?next="), "{}", r.location);
    let confirm = c.get(confirm_path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    checked(confirm_path, &confirm.body);
    assert!(
        confirm.body.contains("<code>ferry/p/prod/1</code>"),
        "{}",
        confirm.body
    );
    assert_eq!(hidden(&confirm.body, "environment"), "prod");
    assert!(confirm.body.contains("(api-prod)"), "{}", confirm.body);
    let token = hidden(&confirm.body, "csrf");

    // Without the CSRF token, or with a wrong one: refused, nothing merged.
    let post = "/products/p/releases/1/merge";
    let r = c.post(post, &[("environment", "prod")]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let wrong = "0".repeat(64);
    let r = c
        .post(post, &[("csrf", &wrong), ("environment", "prod")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(git(&f.bare, &["rev-parse", "main"]), main_before);

    // A viewer may look but not merge (the promote role is needed); audited.
    let (status, viewer) = s
        .post("/api/v1/tokens", &json!({"name": "vera", "role": "viewer"}))
        .await;
    assert_eq!(status, 201, "{viewer}");
    let mut vera = Client::new(&s.base);
    assert_eq!(
        vera.sign_in(viewer["token"].as_str().unwrap()).await.status,
        303
    );
    let vera_confirm = vera.get(confirm_path).await;
    assert_eq!(vera_confirm.status, 200);
    let vera_csrf = hidden(&vera_confirm.body, "csrf");
    let r = vera
        .post(post, &[("csrf", &vera_csrf), ("environment", "prod")])
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(git(&f.bare, &["rev-parse", "main"]), main_before);
    let (_, still) = s.get(&format!("/api/v1/releases/{id}")).await;
    assert_eq!(still["status"], "SUSPENDED", "{still:#}");

    // With the session's token: merged into main, and the release goes on.
    let r = c
        .post(post, &[("csrf", &token), ("environment", "prod")])
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/products/p/releases/1#env-prod");
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    let main = git(&f.bare, &["rev-parse", "main"]);
    assert_ne!(main.trim(), main_before.trim());
    assert_eq!(
        git(&f.bare, &["log", "-1", "--format=%s|%an", "main"]).trim(),
        "Merge promotion pull request ferry/p/prod/1|admin"
    );
    git(&f.bare, &["merge-base", "--is-ancestor", &branch, "main"]);
    // Nothing waits any more: no button, and a second merge is refused.
    let view = c.get("/products/p/releases/1").await;
    assert!(!view.body.contains(MERGE_BUTTON));
    let r = c
        .post(post, &[("csrf", &token), ("environment", "prod")])
        .await;
    assert_eq!(r.status, 409, "{}", r.body);

    // The audit log has the merge (and the viewer's denial), and the
    // release's history notes who merged.
    let (status, log) = s.get("/api/v1/audit?action=merge").await;
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    assert!(
        items.iter().any(|e| e["actor"] == "admin"
            && e["outcome"] == 200
            && e["releaseId"] == id.as_str()
            && e["detail"] == "prod: ferry/p/prod/1 into main"),
        "{log:#}"
    );
    assert!(
        items
            .iter()
            .any(|e| e["actor"] == "vera" && e["outcome"] == 403),
        "{log:#}"
    );
    let page = c.get("/products/p/releases/1").await;
    assert!(
        page.body.contains("merge by admin (admin)"),
        "{}",
        page.body
    );
    s.stop().await;
}

/// The merge button as a person uses it in the demo: in Chromium, signed
/// in, on the live release view; the release goes on without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_demo_merge_button_carries_the_release_on() {
    let f = fixture();
    reviewed_config(&f);
    let s = start(ferry_server::Settings {
        demo: true,
        ..settings(&f)
    })
    .await;
    let release = promote(&s, "reviewed").await;
    let id = release["id"].as_str().unwrap().to_owned();
    wait_release(&s, &id, "prod waits for its pull request", |r| {
        env_status(r, "prod") == "SUSPENDED"
    })
    .await;
    let b = browser::Browser::start().await;
    b.goto(&s.url("/signin?next=/products/p/releases/1")).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("#env-prod.st-wait").await;
    b.click("#env-prod a.button[href*='/merge?']").await;
    b.wait_for("form.confirm").await;
    assert!(b.text("main h1").await.contains("of prod"));
    b.screenshot("15-confirm-merge").await;
    b.click("form.confirm button[type=submit]").await;
    b.wait_true(
        "SUCCEEDED shown after the merge",
        "var r = document.querySelector('.release-body'); return !!r && r.dataset.status === 'SUCCEEDED' && location.pathname === '/products/p/releases/1';",
    )
    .await;
    assert!(b.text("#env-prod h3").await.contains("SUCCESSFUL"));
    b.screenshot("16-merged").await;
    let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
    assert_eq!(r["status"], "SUCCEEDED");
    b.quit().await;
    s.stop().await;
}

/// qa's pre-action is a workflow with a `suspend` step: the release view
/// offers Resume on it; the confirmation posts with the session's CSRF
/// token under the API's role check, and the release goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_workflow_is_resumed_from_the_release_view() {
    let f = fixture();
    std::fs::write(
        f.config.join("product.yaml"),
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: p}
spec:
  promotionTemplate:
    promotion:
      values.yaml: {jsonPaths: ["$..image"]}
  promotionFlows: [{name: approved}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: approved}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev], policy: {preAction: approval}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: approval, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: approve, template: wait}]]
    - name: wait
      suspend: {}
"#,
    )
    .unwrap();
    let s = start(settings(&f)).await;
    let release = promote(&s, "approved").await;
    let id = release["id"].as_str().unwrap().to_owned();
    let waiting = wait_release(&s, &id, "qa waits at the suspend step", |r| {
        env_status(r, "qa") == "SUSPENDED"
    })
    .await;
    let run = waiting["environments"][1]["applications"][0]["steps"][0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let confirm_path = format!(
        "/products/p/releases/1/resume?run={}",
        uiclient::urlencode(&run)
    );

    // A viewer sees the button (reading is enough to see it) but may not resume.
    let (status, t) = s
        .post("/api/v1/tokens", &json!({"name": "vic", "role": "viewer"}))
        .await;
    assert_eq!(status, 201, "{t}");
    let mut viewer = Client::new(&s.base);
    viewer.sign_in(t["token"].as_str().unwrap()).await;
    let view = viewer.get("/products/p/releases/1").await;
    checked("/products/p/releases/1", &view.body);
    assert!(
        view.body
            .contains(&format!("href=\"{}\"", confirm_path.replace('&', "&amp;"))),
        "{}",
        view.body
    );
    let confirm = viewer.get(&confirm_path).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    checked(&confirm_path, &confirm.body);
    let denied = viewer
        .post(&confirm_path, &[("csrf", &hidden(&confirm.body, "csrf"))])
        .await;
    assert_eq!(denied.status, 403, "{}", denied.body);

    // An admin: no CSRF token, refused; with it, resumed.
    let mut c = Client::new(&s.base);
    c.sign_in(TOKEN).await;
    let confirm = c.get(&confirm_path).await;
    assert!(
        confirm.body.contains("Resume approval of api-qa in qa?"),
        "{}",
        confirm.body
    );
    assert_eq!(
        c.post(&confirm_path, &[("csrf", "forged")]).await.status,
        403
    );
    let done = c
        .post(&confirm_path, &[("csrf", &hidden(&confirm.body, "csrf"))])
        .await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/products/p/releases/1#env-qa"),
        "{}",
        done.body
    );
    let finished = s.wait_finished(&id).await;
    assert_eq!(finished["status"], "SUCCEEDED", "{finished:#}");
    // Resumed already: the page says so instead of acting twice.
    assert_eq!(c.get(&confirm_path).await.status, 409);
    let (_, log) = s.get("/api/v1/audit?action=resume").await;
    let outcomes: Vec<(String, u64)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["outcome"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(outcomes.contains(&("vic".into(), 403)), "{outcomes:?}");
    assert!(outcomes.contains(&("admin".into(), 204)), "{outcomes:?}");
    s.stop().await;
}

/// The list and dashboard streams drop events for a subscriber that falls
/// behind and send it one `lagged` event instead: the page reads the state
/// again. Here the product dashboard follows `?product=p`; a burst of
/// another release's events (none for `p`, so no message reaches the
/// page, but each costs the stream a lookup) overflows its subscription.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_lagging_dashboard_reads_the_state_again() {
    let f = fixture();
    ui_config(&f);
    let s = start(settings(&f)).await;
    let b = browser::Browser::start().await;
    b.goto(&s.url("/signin?next=/products/p")).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("#live").await;
    b.eval("document.querySelector('#live > h2').dataset.stale = 'yes'; return true;")
        .await;
    // The page's stream is open before the burst.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let at = ferry_release::now();
    for n in 0..3 * 4096u64 {
        s.engine.publish(vec![ferry_release::Event {
            seq: 1,
            release_id: format!("elsewhere-{n}"),
            at,
            kind: ferry_release::EventKind::Release,
            environment: None,
            application: None,
            step: None,
            status: "RUNNING".into(),
            message: None,
        }]);
    }
    b.wait_true(
        "the dashboard read again after `lagged`",
        "var h = document.querySelector('#live > h2'); return !!h && h.dataset.stale === undefined;",
    )
    .await;
    b.quit().await;
    s.stop().await;
}

/// The pages that act on a release and the error pages, at phone width
/// (390 px, no sideways scroll), signed in: the resume confirmation, the
/// demo's merge confirmation and its refusal, and error pages, which know
/// who is signed in, say what happened in words and lead back to the
/// release and the product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_action_and_error_pages_fit_a_phone_and_know_the_viewer() {
    let f = fixture();
    std::fs::write(
        f.config.join("product.yaml"),
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: p}
spec:
  promotionTemplate:
    promotion:
      values.yaml: {jsonPaths: ["$..image"]}
  promotionFlows: [{name: approved}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: approved}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev], policy: {preAction: approval}}
    - {environment: prod, dependsOn: [qa], policy: {action: pr}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: approval, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
    - name: main
      steps: [[{name: approve, template: wait}]]
    - name: wait
      suspend: {}
"#,
    )
    .unwrap();
    let s = start(ferry_server::Settings {
        demo: true,
        ..settings(&f)
    })
    .await;
    let release = promote(&s, "approved").await;
    let id = release["id"].as_str().unwrap().to_owned();
    let waiting = wait_release(&s, &id, "qa waits at the suspend step", |r| {
        env_status(r, "qa") == "SUSPENDED"
    })
    .await;
    let run = waiting["environments"][1]["applications"][0]["steps"][0]["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let resume = format!(
        "/products/p/releases/1/resume?run={}",
        uiclient::urlencode(&run)
    );

    let b = browser::Browser::start().await;
    b.emulate(390, 844, true, false).await;
    b.goto(&s.url("/signin?next=/products/p/releases/1")).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for(".release-body").await;
    // Resume: the confirmation, then resumed.
    b.goto(&s.url(&resume)).await;
    fits_phone(&b, &resume).await;
    b.screenshot("phone-resume-confirm").await;
    b.click("form.confirm button[type=submit]").await;
    wait_release(&s, &id, "prod waits for its branch", |r| {
        env_status(r, "prod") == "SUSPENDED"
    })
    .await;

    // Resumed already: an error page that knows who is signed in, says
    // what happened in words and leads back to the release.
    b.goto(&s.url(&resume)).await;
    fits_phone(&b, &format!("{resume} (resumed already)")).await;
    assert_eq!(
        b.text("main h1").await,
        "Not done: it conflicts with the current state"
    );
    assert!(
        b.text("header.top .who")
            .await
            .contains("Signed in as admin")
    );
    assert!(b.find("header.top a[href='/signin']").await.is_none());
    let links = b
        .eval("return Array.from(document.querySelectorAll('ul.way-back a')).map(function (a) { return [a.textContent, a.getAttribute('href')]; });")
        .await;
    assert_eq!(
        links,
        json!([
            ["Release #1 of p", "/products/p/releases/1"],
            ["Product p", "/products/p"],
            ["All products", "/products"]
        ])
    );
    assert!(b.text("p.error").await.len() > 10);
    b.screenshot("phone-error-409").await;
    // A release that does not exist: the way to the releases there are.
    b.goto(&s.url("/products/p/releases/99")).await;
    fits_phone(&b, "/products/p/releases/99").await;
    assert_eq!(b.text("main h1").await, "Not found");
    assert!(b.text("p.error").await.contains("release #99"));
    assert!(
        b.text("header.top .who")
            .await
            .contains("Signed in as admin")
    );
    assert_eq!(
        b.eval("return document.querySelector('ul.way-back a').getAttribute('href');")
            .await,
        json!("/products/p/releases")
    );
    b.screenshot("phone-error-404").await;

    // The demo's merge: the confirmation, then refused once the release
    // was terminated meanwhile.
    let merge = "/products/p/releases/1/merge?environment=prod";
    b.goto(&s.url(merge)).await;
    b.wait_for("form.confirm").await;
    fits_phone(&b, merge).await;
    b.screenshot("phone-merge-confirm").await;
    let (status, body) = s
        .post(&format!("/api/v1/releases/{id}/terminate"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    s.wait_finished(&id).await;
    b.click("form.confirm button[type=submit]").await;
    b.wait_for("p.refused").await;
    fits_phone(&b, &format!("{merge} (refused)")).await;
    b.screenshot("phone-merge-refused").await;
    b.quit().await;
    s.stop().await;
}

/// The page shown fits 390 px: no sideways scroll.
async fn fits_phone(b: &browser::Browser, what: &str) {
    b.wait_for("main h1").await;
    let width = b.eval("return document.documentElement.scrollWidth;").await;
    assert!(
        width.as_u64().unwrap() <= 390,
        "{what} scrolls sideways at 390 px: {width}"
    );
}
