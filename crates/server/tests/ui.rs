//! The web UI against the real server (in-process, 127.0.0.1), real Git
//! repositories and real releases: sign-in/out and CSRF over plain HTTP,
//! every page checked for well-formed, escaped, accessible HTML, and an
//! end-to-end run in headless Chromium (live updates, issues panel,
//! Terminate, deep links), with screenshots saved as artefacts.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;
mod uifixture;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use serde_json::json;
use uiclient::{Client, hidden};
use uifixture::{checked, env_status, promote, ui_config, wait_release};

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
