//! The web UI against the real server (in-process, 127.0.0.1), real Git
//! repositories and real releases: sign-in/out and CSRF over plain HTTP,
//! every page checked for well-formed, escaped, accessible HTML, and an
//! end-to-end run in headless Chromium (live updates, issues panel,
//! Terminate, deep links), with screenshots saved as artefacts.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use uiclient::{Client, hidden};

/// Product `p` with flows `standard` (dev → qa → prod, qa's pre-action
/// waits until the gate file exists) and `broken` (qa's pre-action fails
/// with a log line). Returns the gate file's path.
fn ui_config(f: &Fixture) -> PathBuf {
    let gate = f.root.path().join("gate");
    let product = format!(
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
    - name: standard
    - name: broken
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
      policy: {{preAction: gate}}
    - environment: prod
      dependsOn: [qa]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: broken
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {{preAction: smoke}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: gate, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "while [ ! -f {gate} ]; do sleep 0.1; done"}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: smoke, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "echo 'smoke test failed: 503 from /health' >&2; exit 1"}}
"#,
        gate = gate.display()
    );
    std::fs::write(f.config.join("product.yaml"), product).unwrap();
    gate
}

/// A dev commit whose message is markup, to prove it is shown as text.
fn hostile_dev_commit(f: &Fixture) {
    let work = f.root.path().join("hostile");
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::fs::write(work.join("envs/dev/version.yaml"), "version: 1.3.0\n").unwrap();
    git(
        &work,
        &["commit", "-qam", "<script>alert('x')</script> & \"quoted\""],
    );
    git(&work, &["push", "-q", "origin", "main"]);
}

async fn promote(s: &TestServer, flow: &str) -> Value {
    let (status, r) = s
        .post("/api/v1/products/p/promotions", &json!({ "flow": flow }))
        .await;
    assert_eq!(status, 201, "{r}");
    r
}

async fn wait_release(s: &TestServer, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        if ok(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "{what}: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn env_status(r: &Value, env: &str) -> String {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == env))
        .and_then(|e| e["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn checked(path: &str, html: &str) -> Vec<htmlcheck::Element> {
    let els = htmlcheck::check(html).unwrap_or_else(|e| panic!("{path}: {e}\n{html}"));
    htmlcheck::check_accessible(html, &els).unwrap_or_else(|e| panic!("{path}: {e}\n{html}"));
    els
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sign_out_and_csrf() {
    let f = fixture();
    let gate = ui_config(&f);
    std::fs::write(&gate, "open").unwrap();
    let s = start(settings(&f)).await;
    let mut c = Client::new(&s.base);

    // Not signed in, no anonymous read: pages send to the sign-in form.
    let r = c.get("/products/p").await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/signin?next=%2Fproducts%2Fp");
    // The event stream (for live updates) needs a session too.
    assert_eq!(c.get("/api/v1/releases/x/events").await.status, 401);

    // A sign-in form posted without its double-submit cookie is refused.
    let form = c.get("/signin").await;
    checked("/signin", &form.body);
    let csrf = hidden(&form.body, "csrf");
    let mut stranger = Client::new(&s.base);
    let r = stranger
        .post(
            "/signin",
            &[("csrf", &csrf), ("token", TOKEN), ("next", "/")],
        )
        .await;
    assert_eq!(r.status, 403, "login CSRF is refused");
    assert!(
        r.set_cookies
            .iter()
            .all(|c| !c.starts_with("ferry_session"))
    );

    // A wrong token: 401 and the form again, no session.
    let r = c
        .post(
            "/signin",
            &[("csrf", &csrf), ("token", "wrong"), ("next", "/")],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.body.contains("not valid"), "{}", r.body);
    assert!(!c.cookies.contains_key("ferry_session"));
    assert!(!r.body.contains("wrong\""), "the token is not echoed");

    // The right token: a session cookie with the safe flags, back to `next`.
    let r = c.sign_in(TOKEN).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/products/p");
    let cookie = r
        .set_cookies
        .iter()
        .find(|c| c.starts_with("ferry_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http base URL");
    assert!(!cookie.contains(TOKEN), "the cookie is not the token");
    let page = c.get("/products/p").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Signed in as <strong>admin</strong>"));
    // Open redirects are not followed.
    let form = c.get("/signin").await;
    let csrf2 = hidden(&form.body, "csrf");
    let r = c
        .post(
            "/signin",
            &[
                ("csrf", &csrf2),
                ("token", TOKEN),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.location, "/products");

    // A running release; terminate without / with a wrong CSRF token fails.
    std::fs::remove_file(&gate).unwrap();
    let release = promote(&s, "standard").await;
    let id = release["id"].as_str().unwrap().to_owned();
    wait_release(&s, &id, "qa running", |r| env_status(r, "qa") == "RUNNING").await;
    let path = format!("/products/p/releases/{}/terminate", release["number"]);
    let confirm = c.get(&path).await;
    assert_eq!(confirm.status, 200);
    checked(&path, &confirm.body);
    let token = hidden(&confirm.body, "csrf");
    assert_eq!(c.post(&path, &[]).await.status, 403);
    assert_eq!(
        c.post(&path, &[("csrf", "0".repeat(64).as_str())])
            .await
            .status,
        403
    );
    let (_, still) = s.get(&format!("/api/v1/releases/{id}")).await;
    assert_eq!(still["status"], "RUNNING", "nothing happened");
    // With the session's token it works, recorded under the token's name.
    let r = c.post(&path, &[("csrf", &token)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.location,
        format!("/products/p/releases/{}", release["number"])
    );
    let done = wait_release(&s, &id, "terminated", |r| r["status"] == "TERMINATED").await;
    assert_eq!(done["termination"]["by"], "admin");

    // Sessions are stored: a restarted server still knows this one.
    s.stop().await;
    let s = start(settings(&f)).await;
    c.base = s.base.clone();
    let r = c.get("/products").await;
    assert_eq!(r.status, 200, "the session survived the restart");

    // Sign-out needs the CSRF token, then the session is dead server-side.
    let session = c.cookies["ferry_session"].clone();
    assert_eq!(c.post("/signout", &[("csrf", "nope")]).await.status, 403);
    let r = c.post("/signout", &[("csrf", &token)]).await;
    assert_eq!(r.status, 303);
    assert!(r.set_cookies.iter().any(|c| c.contains("Max-Age=0")));
    let mut replay = Client::new(&s.base);
    replay.cookies.insert("ferry_session".into(), session);
    assert_eq!(
        replay.get("/products").await.status,
        303,
        "an old cookie is worthless"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_attempts_are_rate_limited() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let mut c = Client::new(&s.base);
    let mut codes = Vec::new();
    for _ in 0..12 {
        codes.push(c.sign_in("ferry_not_a_token").await.status);
    }
    assert!(codes[..10].iter().all(|c| *c == 401), "{codes:?}");
    assert_eq!(codes[11], 429, "{codes:?}");
    // The right token is refused too while the client is over its limit.
    assert_eq!(c.sign_in(TOKEN).await.status, 429);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_is_well_formed_escaped_and_accessible() {
    let f = fixture();
    let gate = ui_config(&f);
    std::fs::write(&gate, "open").unwrap();
    hostile_dev_commit(&f);
    let s = start(settings(&f)).await;
    let ok = promote(&s, "standard").await;
    let ok_id = ok["id"].as_str().unwrap().to_owned();
    let done = s.wait_finished(&ok_id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert!(
        done["trigger"]["message"]
            .as_str()
            .unwrap()
            .contains("<script>")
    );
    let bad = promote(&s, "broken").await;
    let failed = s.wait_finished(bad["id"].as_str().unwrap()).await;
    assert_eq!(failed["status"], "FAILED", "{failed:#}");

    let mut c = Client::new(&s.base);
    c.sign_in(TOKEN).await;
    let pages = [
        "/products",
        "/products/p",
        "/products/p/releases",
        "/products/p/releases?status=FAILED",
        "/releases",
        "/products/p/releases/1",
        "/products/p/releases/2",
        "/products/p/flows/standard",
        "/policies",
        "/policies?product=p&environment=qa",
        "/environments",
        "/products/p/releases/2/retry",
        "/products/p/releases/1/notes",
        "/products/p/releases/1/timeline",
        "/products/p/releases/2/timeline?before=3",
        "/products/p/promote",
        "/products/p/promote?target=qa",
        "/products/p/promote?flow=standard",
        "/signin",
    ];
    let mut bodies = HashMap::new();
    for path in pages {
        let r = c.get(path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let els = checked(path, &r.body);
        // Every status badge says its status in words beside the colour.
        for (i, e) in els.iter().enumerate() {
            if e.attr("class").is_some_and(|c| c.starts_with("st st-")) {
                let next = &els[i + 1];
                assert_eq!(
                    next.attr("aria-hidden"),
                    Some("true"),
                    "{path}: icon is decorative"
                );
            }
        }
        bodies.insert(path, r.body);
    }
    let one = &bodies["/products/p/releases/1"];
    assert!(!one.contains("<script>alert"), "markup from Git is text");
    assert!(
        one.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"),
        "escaped commit message in:\n{one}"
    );
    for env in ["dev", "qa", "prod"] {
        assert!(
            one.contains(&format!("id=\"env-{env}\"")),
            "anchor env-{env}"
        );
    }
    assert!(one.contains("SUCCEEDED") && one.contains("SUCCESSFUL"));
    assert!(one.contains("<svg class=\"flow\""));
    assert!(!one.contains("data-events"), "a finished release is static");
    assert!(one.contains("href=\"/products/p/releases/1/notes\""));
    let notes = &bodies["/products/p/releases/1/notes"];
    assert!(notes.contains("Release notes: p #1"), "{notes}");
    assert!(notes.contains("Configuration changes"), "{notes}");
    assert!(
        !notes.contains("<script>alert") && notes.contains("&lt;script&gt;alert"),
        "the trigger commit is listed, as text:\n{notes}"
    );
    let two = &bodies["/products/p/releases/2"];
    assert!(
        two.contains("smoke test failed: 503 from /health"),
        "the failing step's log:\n{two}"
    );
    assert!(two.contains("Retry…") && !two.contains("Terminate…"));
    // What is happening, at the top: where it failed and the log's head.
    assert!(two.contains("<section class=\"now st-fail\""), "{two}");
    assert!(
        two.contains("Failed in <strong>qa</strong>: api-qa, pre-action <code>smoke</code>"),
        "{two}"
    );
    let panel = &two[two.find("class=\"now").unwrap()..two.find("<dl class=\"facts\"").unwrap()];
    assert!(
        panel.contains("<pre class=\"log head\">smoke test failed: 503 from /health</pre>"),
        "{panel}"
    );
    assert!(panel.contains("href=\"#issue-qa-1\""), "{panel}");
    assert!(two.contains("id=\"issue-qa-1\""));
    assert!(
        two.contains("<details class=\"env st-fail\" id=\"env-qa\" open>"),
        "the failed environment is open: {two}"
    );
    // Successful environments fold to one line.
    assert!(
        one.contains("<details class=\"env st-ok\" id=\"env-prod\">\n<summary>"),
        "{one}"
    );
    assert!(one.contains("Succeeded: 3 environments in "), "{one}");
    // Icons are inline SVG, not font glyphs.
    for glyph in ['\u{2714}', '\u{2716}', '\u{23F8}', '\u{25B6}'] {
        assert!(!one.contains(glyph) && !two.contains(glyph), "{glyph}");
    }
    assert!(one.contains("<use href=\"#i-ok\"/>") && one.contains("<symbol id=\"i-ok\""));
    // Retry is not drawn like Terminate.
    assert!(two.contains("<a class=\"button primary\" href=\"/products/p/releases/2/retry\">"));
    let retry = &bodies["/products/p/releases/2/retry"];
    assert!(
        retry.contains("<button type=\"submit\" class=\"primary\">"),
        "{retry}"
    );
    // The timeline pages through every event, grouped by second.
    let timeline = &bodies["/products/p/releases/1/timeline"];
    assert!(timeline.contains("<ol class=\"timeline\">"), "{timeline}");
    assert!(timeline.contains("<time class=\"rel\""), "{timeline}");
    // The promote form preselects the environment after the newest
    // release's (release 2 got to dev only: qa is next).
    let form = &bodies["/products/p/promote"];
    assert!(form.contains("<option selected>qa</option>"), "{form}");
    // qa holds dev's values already (release 1): an explicit "no change".
    let review = &bodies["/products/p/promote?target=qa"];
    assert!(
        review.contains("No change: api-qa already holds these values"),
        "{review}"
    );
    assert!(
        review.contains("Start the release (nothing to change)"),
        "{review}"
    );
    let flow = &bodies["/products/p/promote?flow=standard"];
    assert!(flow.contains("aria-label=\"Changes in prod\""), "{flow}");
    // The Markdown export is the notes crate's, for the signed-in person.
    let md = c.get("/products/p/releases/1/notes.md").await;
    assert_eq!(md.status, 200);
    assert!(md.body.starts_with("# Release notes: p #1"), "{}", md.body);
    let list = &bodies["/products/p/releases?status=FAILED"];
    assert!(list.contains("#2") && !list.contains(">#1<"), "{list}");
    // One column per environment, named in the header; the failed
    // release says where it failed.
    let releases = &bodies["/products/p/releases"];
    for env in ["dev", "qa", "prod"] {
        assert!(
            releases.contains(&format!("<th scope=\"col\" class=\"env-col\">{env}</th>")),
            "{releases}"
        );
    }
    assert!(
        releases.contains("<span class=\"where\">in qa</span>"),
        "{releases}"
    );
    let policy = &bodies["/policies?product=p&environment=qa"];
    assert!(
        policy.contains("preAction") && policy.contains("<td>commit</td><td>default</td>"),
        "{policy}"
    );
    let dash = &bodies["/products/p"];
    let prod_commit = done["environments"][2]["applications"][0]["promotionCommit"]
        .as_str()
        .unwrap();
    assert!(
        dash.contains(&prod_commit[..10]),
        "the dashboard shows prod's revision"
    );
    assert!(dash.contains("1.3.0"));
    assert!(
        dash.contains("No cluster is watched for 3 applications"),
        "the git state provider is said plainly: {dash}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_read_assets_and_errors() {
    let f = fixture();
    ui_config(&f);
    let mut st = settings(&f);
    st.anonymous_read = true;
    let s = start(st).await;
    let mut c = Client::new(&s.base);
    let r = c.get("/products").await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("Sign in"));
    // Reading is open, acting is not: Terminate sends to sign-in.
    let release = promote(&s, "standard").await;
    let path = format!("/products/p/releases/{}/terminate", release["number"]);
    let r = c.get(&path).await;
    assert_eq!(r.status, 303);
    assert!(r.location.starts_with("/signin?next="));
    assert_eq!(c.post(&path, &[("csrf", "")]).await.status, 303);
    let (_, still) = s
        .get(&format!(
            "/api/v1/releases/{}",
            release["id"].as_str().unwrap()
        ))
        .await;
    assert_ne!(still["status"], "TERMINATED");

    // Assets: embedded, cached, revalidated by ETag.
    for (asset, kind) in [("ferry.css", "text/css"), ("ferry.js", "text/javascript")] {
        let r = s
            .http
            .get(s.url(&format!("/assets/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("max-age")
        );
        let etag = r.headers()["etag"].clone();
        let again = s
            .http
            .get(s.url(&format!("/assets/{asset}")))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    // gzip when accepted, the same bytes once inflated.
    let plain = s.http.get(s.url("/assets/ferry.css")).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let zipped = s
        .http
        .get(s.url("/assets/ferry.css"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["vary"], "accept-encoding");
    let zipped = zipped.bytes().await.unwrap();
    assert!(zipped.len() < plain.len());
    let mut inflated = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut inflated,
    )
    .unwrap();
    assert_eq!(inflated, plain);

    // Errors are pages with the right status.
    let r = c.get("/products/p/releases/999").await;
    assert_eq!(r.status, 404);
    checked("404", &r.body);
    assert_eq!(c.get("/products/p/releases/abc").await.status, 400);
    assert_eq!(c.get("/products/nope/releases").await.status, 404);
    assert_eq!(c.get("/releases?status=BOGUS").await.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_live_updates_issues_terminate_and_deep_links() {
    let f = fixture();
    let gate = ui_config(&f);
    let s = start(settings(&f)).await;
    let b = browser::Browser::start().await;

    // Sign in through the form.
    b.goto(&s.url("/products")).await;
    b.wait_for("#token").await;
    assert!(b.url().await.contains("/signin?next="));
    b.screenshot("01-signin").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("table").await;
    assert!(b.url().await.ends_with("/products"));

    // A release waits in qa's pre-action; follow links to it.
    let first = promote(&s, "standard").await;
    let id = first["id"].as_str().unwrap().to_owned();
    wait_release(&s, &id, "qa running", |r| env_status(r, "qa") == "RUNNING").await;
    b.goto(&s.url("/products")).await;
    b.screenshot("02-products").await;
    b.click("tbody th a[href='/products/p']").await;
    b.wait_for("table.grid").await;
    b.screenshot("03-product").await;
    b.click("a[href='/products/p/releases']").await;
    b.wait_for("form.filter").await;
    b.screenshot("04-releases").await;
    b.click("a[href='/products/p/releases/1']").await;
    b.wait_for("#env-qa.st-run").await;
    assert!(b.text("#env-qa h3").await.contains("RUNNING"));
    b.screenshot("05-release-running").await;

    // Live: qa goes RUNNING → SUCCESSFUL without a reload (a marker set
    // on the page survives) and without moving the scroll position.
    b.eval("window.__ferryMarker = 42; window.scrollTo(0, 300); return true;")
        .await;
    let y0 = b.eval("return window.scrollY;").await;
    std::fs::write(&gate, "open").unwrap();
    b.wait_true(
        "qa SUCCESSFUL live",
        "var e = document.getElementById('env-qa'); return !!e && e.classList.contains('st-ok') && e.textContent.indexOf('SUCCESSFUL') >= 0;",
    )
    .await;
    b.wait_true(
        "release SUCCEEDED live",
        "var r = document.querySelector('.release-body'); return !!r && r.dataset.status === 'SUCCEEDED';",
    )
    .await;
    assert_eq!(
        b.eval("return window.__ferryMarker;").await,
        json!(42),
        "no reload"
    );
    assert_eq!(b.eval("return window.scrollY;").await, y0, "scroll kept");
    // Times are shown in the viewer's zone by the script.
    let t = b.text(".release-head time").await;
    assert!(t.contains("ago") || t.contains("in "), "{t}");
    b.screenshot("06-release-succeeded").await;

    // Hooks toggle: a release without hooks has none to toggle.
    assert_eq!(
        b.eval("return !document.querySelector('.toggle-hooks');")
            .await,
        json!(true)
    );

    // Deep link as the commit status uses it.
    b.goto(&s.url("/products/p/releases/1#env-prod")).await;
    b.wait_true(
        "#env-prod is the target",
        "var t = document.querySelector(':target'); return !!t && t.id === 'env-prod';",
    )
    .await;
    b.screenshot("07-deep-link").await;

    // A failed release: the issues panel shows the failing step's log.
    let bad = promote(&s, "broken").await;
    s.wait_finished(bad["id"].as_str().unwrap()).await;
    b.goto(&s.url("/products/p/releases/2#env-qa")).await;
    let log = b.text("#env-qa .issues pre.log").await;
    assert!(log.contains("smoke test failed: 503 from /health"), "{log}");
    assert!(b.text("#env-qa h3").await.contains("FAILED"));
    b.screenshot("08-issues").await;

    // Terminate from the UI, with its confirmation page.
    std::fs::remove_file(&gate).unwrap();
    let third = promote(&s, "standard").await;
    let third_id = third["id"].as_str().unwrap().to_owned();
    wait_release(&s, &third_id, "qa running", |r| {
        env_status(r, "qa") == "RUNNING"
    })
    .await;
    b.goto(&s.url("/products/p/releases/3")).await;
    b.click("a.button.danger").await;
    b.wait_for("form.confirm").await;
    b.screenshot("09-confirm-terminate").await;
    b.click("form.confirm button[type=submit]").await;
    b.wait_true(
        "TERMINATED shown",
        "var r = document.querySelector('.release-body'); return !!r && r.dataset.status === 'TERMINATED' && location.pathname === '/products/p/releases/3';",
    )
    .await;
    assert!(b.text(".release-head h1").await.contains("TERMINATED"));
    b.screenshot("10-terminated").await;
    let (_, r) = s.get(&format!("/api/v1/releases/{third_id}")).await;
    assert_eq!(r["status"], "TERMINATED");
    assert_eq!(r["termination"]["by"], "admin");

    // The flow, policy and environments pages render in the browser too.
    for (path, name) in [
        ("/products/p/flows/standard", "11-flow"),
        ("/policies?product=p&environment=qa", "12-policy"),
        ("/environments", "13-environments"),
    ] {
        b.goto(&s.url(path)).await;
        b.wait_for("main h1").await;
        b.screenshot(name).await;
    }
    // Phone width: the page reflows; only the graph scrolls, in its box.
    b.resize(390, 844).await;
    b.goto(&s.url("/products/p/releases/2")).await;
    b.wait_for("#env-qa").await;
    b.wait_true(
        "no sideways scrolling at phone width",
        "return document.documentElement.scrollWidth <= window.innerWidth + 1;",
    )
    .await;
    b.screenshot("14-release-phone").await;
    let shot = browser::artifacts_dir().join("10-terminated.png");
    assert!(Path::new(&shot).exists());
    b.quit().await;
    s.stop().await;
}

/// A commit status's Details link (`…/releases/<n>#env-<env>`) opened
/// without a session: sign-in comes first, then the browser lands on the
/// environment, anchor included (issue 18).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_a_details_link_keeps_its_anchor_through_sign_in() {
    let f = fixture();
    let _gate = ui_config(&f);
    let s = start(settings(&f)).await;
    let first = promote(&s, "standard").await;
    let n = first["number"].as_u64().unwrap();
    let b = browser::Browser::start().await;
    b.goto(&s.url(&format!("/products/p/releases/{n}#env-qa")))
        .await;
    b.wait_for("#token").await;
    let at = b.url().await;
    assert!(
        at.contains("/signin?next=") && at.ends_with("#env-qa"),
        "{at}"
    );
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("#env-qa").await;
    let landed = b.url().await;
    assert!(
        landed.ends_with(&format!("/products/p/releases/{n}#env-qa")),
        "{landed}"
    );
    b.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_with_the_diff_then_roll_back() {
    let f = fixture();
    let gate = ui_config(&f);
    std::fs::write(&gate, "open").unwrap();
    let s = start(settings(&f)).await;
    let mut c = Client::new(&s.base);
    // Not signed in: the promotion page asks to sign in first.
    let r = c.get("/products/p/promote?target=qa").await;
    assert_eq!(r.status, 303);
    assert!(
        r.location
            .starts_with("/signin?next=%2Fproducts%2Fp%2Fpromote"),
        "{}",
        r.location
    );
    c.sign_in(TOKEN).await;

    let form = c.get("/products/p/promote").await;
    assert_eq!(form.status, 200);
    checked("/products/p/promote", &form.body);
    // Review: the exact diff of qa's files, nothing written yet.
    let review = c
        .get("/products/p/promote?target=qa&source=dev&action=commit")
        .await;
    assert_eq!(review.status, 200, "{}", review.body);
    checked("review", &review.body);
    assert!(
        review
            .body
            .contains("-image: registry.example/shop/api:1.0.0"),
        "{}",
        review.body
    );
    assert!(
        review
            .body
            .contains("+image: registry.example/shop/api:1.2.0")
    );
    assert!(review.body.contains("+version: 1.2.0"));
    let before = git(&f.bare, &["rev-parse", "main"]);
    // The diff is coloured line by line, at full length.
    assert!(
        review
            .body
            .contains("<span class=\"del\">-image: registry.example/shop/api:1.0.0</span>"),
        "{}",
        review.body
    );
    // Without a diff (no application to promote from), no Confirm.
    let blind = c.get("/products/p/promote?target=qa&source=nowhere").await;
    assert_eq!(blind.status, 200, "{}", blind.body);
    assert!(
        blind.body.contains("Cannot show the diff"),
        "{}",
        blind.body
    );
    assert!(
        !blind.body.contains("type=\"submit\" class=\"primary\""),
        "{}",
        blind.body
    );
    // Bad combinations are named, not guessed.
    let bad = c.get("/products/p/promote?flow=standard&target=qa").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("choose a flow, or a target environment"));

    // Confirm without the CSRF token: refused; with it: a release.
    let fields = [("target", "qa"), ("source", "dev"), ("action", "commit")];
    assert_eq!(c.post("/products/p/promote", &fields).await.status, 403);
    assert_eq!(
        git(&f.bare, &["rev-parse", "main"]),
        before,
        "nothing committed"
    );
    let token = hidden(&review.body, "csrf");
    let mut with_token = fields.to_vec();
    with_token.push(("csrf", &token));
    let r = c.post("/products/p/promote", &with_token).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/products/p/releases/1");
    let (_, list) = s.get("/api/v1/products/p/releases").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(done["initiator"], "admin");
    let qa = git(&f.bare, &["show", "main:envs/qa/values.yaml"]);
    assert!(qa.contains("registry.example/shop/api:1.2.0"), "{qa}");

    // Roll back: the finished release offers it; review, confirm.
    let view = c.get("/products/p/releases/1").await;
    assert!(
        view.body
            .contains("Roll back to #1: promote its snapshot to"),
        "{}",
        view.body
    );
    let path = format!("/products/p/promote?rollback={id}&target=prod");
    let review = c.get(&path).await;
    assert_eq!(review.status, 200, "{}", review.body);
    checked(&path, &review.body);
    // The rollback's review names the release by number and shows its diff.
    assert!(
        review.body.contains("Roll prod back to release #1"),
        "{}",
        review.body
    );
    assert!(
        review.body.contains("<dd>#1 (1.2.0)</dd>"),
        "{}",
        review.body
    );
    assert!(
        review
            .body
            .contains("<span class=\"add\">+image: registry.example/shop/api:1.2.0</span>"),
        "{}",
        review.body
    );
    assert!(review.body.contains("Confirm and start the release"));
    let token = hidden(&review.body, "csrf");
    let r = c
        .post(
            "/products/p/promote",
            &[("rollback", &id), ("target", "prod"), ("csrf", &token)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location, "/products/p/releases/2");
    let (_, list) = s.get("/api/v1/products/p/releases").await;
    let second = list["items"][0]["id"].as_str().unwrap().to_owned();
    let done = s.wait_finished(&second).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(done["kind"]["type"], "rollback");
    s.stop().await;
}

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
    let view = c.get("/products/p/releases/1").await;
    assert_eq!(view.status, 200);
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
