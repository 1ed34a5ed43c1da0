//! Stop-the-line and break-glass through the API and the web UI (issue
//! 20) against the real server: admin only, audited, a held release
//! visible in the list and the release with its reason, one release let
//! through; in headless Chromium the freeze banner on every page and the
//! break-glass button for admins only.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;

use std::time::{Duration, Instant};

use common::{TOKEN, fixture, settings, start};
use reqwest::Method;
use serde_json::{Value, json};

async fn call(
    s: &common::TestServer,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s
        .http
        .request(method.clone(), s.url(path))
        .bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    common::documented(method.as_str(), path, r).await
}

async fn token(s: &common::TestServer, name: &str, role: &str) -> String {
    let (status, v) = call(
        s,
        Method::POST,
        "/api/v1/tokens",
        TOKEN,
        Some(json!({"name": name, "role": role})),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

fn env<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == name))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_stops_the_line_and_lets_one_release_through() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let promoter = token(&s, "pat", "promoter").await;

    // Admin only, and audited when refused.
    let (status, body) = call(
        &s,
        Method::POST,
        "/api/v1/freezes",
        &promoter,
        Some(json!({"reason": "incident 42"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    // A reason is required.
    let (status, body) = s.post("/api/v1/freezes", &json!({"reason": " "})).await;
    assert_eq!(status, 400, "{body}");
    let (status, freeze) = s
        .post(
            "/api/v1/freezes",
            &json!({"environments": ["prod"], "reason": "incident 42"}),
        )
        .await;
    assert_eq!(status, 201, "{freeze}");
    assert_eq!(freeze["createdBy"], "admin");
    assert_eq!(freeze["environments"], json!(["prod"]));
    // Any reader sees the active freezes (the UI's banner).
    let (status, list) = call(&s, Method::GET, "/api/v1/freezes", &promoter, None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // A release is created, promoted to qa, and held before prod.
    let id = s.promote("standard").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = loop {
        let (status, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        assert_eq!(status, 200);
        if env(&r, "prod")["status"] == "SUSPENDED" {
            break r;
        }
        assert!(Instant::now() < deadline, "never held: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(held["status"], "SUSPENDED");
    assert_eq!(env(&held, "qa")["status"], "SUCCESSFUL");
    let reason = "frozen until lifted: incident 42 (stop-the-line by admin)";
    assert_eq!(env(&held, "prod")["hold"]["reason"], reason);
    assert_eq!(env(&held, "prod")["hold"]["kind"], "freeze");
    // The list says why too.
    let (status, page) = s.get("/api/v1/releases?product=p").await;
    assert_eq!(status, 200);
    let item = &page["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(env(item, "prod")["held"], reason);

    // Break-glass: admin only, with a reason.
    let path = format!("/api/v1/releases/{id}/break-glass");
    let (status, body) = call(
        &s,
        Method::POST,
        &path,
        &promoter,
        Some(json!({"reason": "hotfix"})),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = s.post(&path, &json!({"reason": ""})).await;
    assert_eq!(status, 400, "{body}");
    let (status, marked) = s
        .post(&path, &json!({"reason": "hotfix for incident 42"}))
        .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["breakGlass"]["by"], "admin");
    assert_eq!(marked["breakGlass"]["reason"], "hotfix for incident 42");
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");

    // Exactly one: the next release is held at prod again.
    let next = s.promote("standard").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{next}")).await;
        if env(&r, "prod")["status"] == "SUSPENDED" {
            assert!(r["breakGlass"].is_null());
            break;
        }
        assert!(Instant::now() < deadline, "never held: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Audited: the freeze, the refusals, the break-glass.
    let (status, audit) = s.get("/api/v1/audit").await;
    assert_eq!(status, 200);
    let entries = audit["items"].as_array().unwrap();
    let has = |action: &str, outcome: u64| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["outcome"] == outcome)
    };
    assert!(has("freeze", 201), "{audit:#}");
    assert!(has("freeze", 403), "{audit:#}");
    assert!(has("break-glass", 200), "{audit:#}");
    assert!(has("break-glass", 403), "{audit:#}");
    assert!(entries.iter().any(|e| e["action"] == "break-glass"
        && e["outcome"] == 200
        && e["releaseId"] == id.as_str()
        && e["detail"] == "hotfix for incident 42"));

    // Lifted: the held release goes on.
    let freeze_id = freeze["id"].as_str().unwrap();
    let (status, lifted) = s
        .post(&format!("/api/v1/freezes/{freeze_id}/lift"), &json!({}))
        .await;
    assert_eq!(status, 200, "{lifted}");
    assert_eq!(lifted["liftedBy"], "admin");
    let (_, list) = s.get("/api/v1/freezes").await;
    assert_eq!(list["items"], json!([]));
    let (_, all) = s.get("/api/v1/freezes?all=true").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));
    let done = s.wait_finished(&next).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    s.stop().await;
}

/// Signs `b` in with `token`, landing on `next`.
async fn sign_in(b: &browser::Browser, s: &common::TestServer, token: &str, next: &str) {
    b.goto(&s.url(&format!("/signin?next={next}"))).await;
    b.wait_for("#token").await;
    b.type_into("#token", token).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_true(
        "signed in",
        &format!("return location.pathname === '{next}';"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_freeze_banner_is_on_every_page_and_break_glass_is_for_admins() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let promoter = token(&s, "pat", "promoter").await;
    let (status, freeze) = s
        .post(
            "/api/v1/freezes",
            &json!({"products": ["p"], "reason": "incident 42"}),
        )
        .await;
    assert_eq!(status, 201, "{freeze}");
    let id = s.promote("standard").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        if env(&r, "qa")["status"] == "SUSPENDED" {
            break;
        }
        assert!(Instant::now() < deadline, "never held: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let release = "/products/p/releases/1";

    // A promoter: the banner on every page, the hold on the release and
    // in the list, no break-glass.
    let b = browser::Browser::start().await;
    sign_in(&b, &s, &promoter, release).await;
    for page in ["/products", "/releases", "/insights", release] {
        b.goto(&s.url(page)).await;
        b.wait_for("#freeze-banner").await;
        let banner = b.text("#freeze-banner").await;
        assert!(
            banner.contains("p in every environment frozen by admin")
                && banner.contains("incident 42"),
            "{page}: {banner}"
        );
    }
    assert!(
        b.text("p.held")
            .await
            .contains("qa is held before its first write: frozen until lifted: incident 42")
    );
    assert!(b.find("form.break-glass-form").await.is_none());
    assert_eq!(
        b.text(".now .headline").await,
        "Held in qa: frozen until lifted: incident 42 (stop-the-line by admin)"
    );
    b.goto(&s.url("/releases")).await;
    b.wait_for("#freeze-banner").await;
    assert!(
        b.source()
            .await
            .contains("in qa: frozen until lifted: incident 42 (stop-the-line by admin)")
    );
    b.screenshot("20-freeze-banner").await;
    b.quit().await;
    // The form's route refuses a promoter too (same role check as the API).
    let mut c = uiclient::Client::new(&s.base);
    c.sign_in(&promoter).await;
    let page = c.get(release).await;
    let csrf = uiclient::hidden(&page.body, "csrf");
    let refused = c
        .post(
            &format!("{release}/break-glass"),
            &[("csrf", csrf.as_str()), ("reason", "let me")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    // An admin: the button, a reason, and the release goes through.
    let b = browser::Browser::start().await;
    sign_in(&b, &s, TOKEN, release).await;
    b.wait_for("form.break-glass-form").await;
    b.type_into("#break-glass-reason", "hotfix for incident 42")
        .await;
    b.screenshot("21-break-glass").await;
    b.click("form.break-glass-form button[type=submit]").await;
    b.wait_true(
        "SUCCEEDED after the break-glass",
        "var r = document.querySelector('.release-body'); return !!r && r.dataset.status === 'SUCCEEDED';",
    )
    .await;
    assert!(b.text("p.break-glass").await.contains("by admin at"));
    assert!(
        b.text("p.break-glass")
            .await
            .contains("hotfix for incident 42")
    );
    assert!(b.find("form.break-glass-form").await.is_none());
    b.quit().await;

    // Lifted: no banner.
    let freeze_id = freeze["id"].as_str().unwrap();
    let (status, _) = s
        .post(&format!("/api/v1/freezes/{freeze_id}/lift"), &json!({}))
        .await;
    assert_eq!(status, 200);
    let mut c = uiclient::Client::new(&s.base);
    c.sign_in(TOKEN).await;
    let page = c.get("/releases").await;
    assert!(!page.body.contains("freeze-banner"), "{}", page.body);
    s.stop().await;
}
