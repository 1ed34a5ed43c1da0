//! Notifications out through `ferry serve` (issue 20): real releases on
//! real Git, `[[notifications]]` pointing at local receivers (axum on
//! real sockets). A receiver that never answers holds no release and no
//! other subscription's deliveries; admins see every delivery in the API
//! and in the web UI (headless Chromium), others are refused; no
//! subscription URL or key ever shows.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;
mod uifixture;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use common::*;
use ferry_settings::NotificationSettings;
use serde_json::{Value, json};
use uiclient::Client;

/// What the receivers got: (path, headers' webhook-id, body).
#[derive(Clone, Default)]
struct Seen {
    answered: Arc<Mutex<Vec<Value>>>,
    hanging: Arc<Mutex<Vec<String>>>,
}

async fn answer(State(s): State<Seen>, body: Bytes) -> &'static str {
    s.answered
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
    "ok"
}

async fn hang(State(s): State<Seen>, headers: HeaderMap) -> &'static str {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    s.hanging.lock().unwrap().push(id);
    std::future::pending::<()>().await;
    "never"
}

async fn receivers() -> (String, Seen) {
    let seen = Seen::default();
    let app = Router::new()
        .route("/services/T0/B0/{secret}", post(answer))
        .route("/hang", post(hang))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, seen)
}

const SLACK_SECRET: &str = "xoxb-secret-path-4711";
const HOOK_KEY: &str = "hook-key-secret-0815";

fn notifying(f: &Fixture, base: &str) -> ferry_server::Settings {
    let mut s = settings(f);
    // Links in notifications use the public base URL.
    s.base_url = Some("https://ferry.example".into());
    s.notifications = vec![
        NotificationSettings {
            name: "chat".into(),
            kind: "slack".into(),
            url: Some(ferry_server::Secret::new(format!(
                "{base}/services/T0/B0/{SLACK_SECRET}"
            ))),
            ..NotificationSettings::default()
        },
        NotificationSettings {
            name: "audit-sink".into(),
            kind: "webhook".into(),
            url: Some(ferry_server::Secret::new(format!("{base}/hang"))),
            secret: Some(ferry_server::Secret::new(HOOK_KEY)),
            // Longer than the test: every try stays in flight.
            timeout: Some(600),
            ..NotificationSettings::default()
        },
    ];
    s
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "{what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_receiver_holds_no_release_and_admins_see_every_delivery() {
    let f = fixture();
    let (base, seen) = receivers().await;
    let s = start(notifying(&f, &base)).await;

    let first = s.promote("standard").await;
    let done = s.wait_finished(&first).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // The hanging receiver holds requests open that will never be answered…
    wait_until("the hanging receiver got requests", || {
        !seen.hanging.lock().unwrap().is_empty()
    })
    .await;
    // …and the next release runs to its end all the same.
    let second = s.promote("standard").await;
    let done = s.wait_finished(&second).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let hanging_now = seen.hanging.lock().unwrap().len();
    assert!(hanging_now >= 1);

    // Slack got both releases' news while the other receiver hung.
    wait_until("Slack got both releases' success", || {
        seen.answered
            .lock()
            .unwrap()
            .iter()
            .filter(|b| b["text"].as_str().is_some_and(|t| t.ends_with("succeeded")))
            .count()
            >= 2
    })
    .await;
    let texts: Vec<String> = seen
        .answered
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(texts.contains(&"p #1 started".to_owned()), "{texts:?}");
    assert!(
        texts.contains(&"p #2 succeeded in prod".to_owned()),
        "{texts:?}"
    );
    let slack_body = seen.answered.lock().unwrap()[0].to_string();
    assert!(
        slack_body.contains("https://ferry.example/products/p/releases/"),
        "{slack_body}"
    );

    // Admins see every delivery: delivered for Slack, pending (a try in
    // flight) for the hanging one; never a URL or a key.
    let (status, list) = s.get("/api/v1/notifications/deliveries?limit=200").await;
    assert_eq!(status, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    let chat: Vec<&Value> = items
        .iter()
        .filter(|d| d["subscription"] == "chat")
        .collect();
    let sink: Vec<&Value> = items
        .iter()
        .filter(|d| d["subscription"] == "audit-sink")
        .collect();
    assert_eq!(chat.len(), sink.len(), "every event to both: {list:#}");
    assert!(
        sink.iter()
            .all(|d| d["status"] == "PENDING" && d["attempts"].as_u64() <= Some(1))
    );
    assert!(
        chat.iter()
            .any(|d| d["status"] == "DELIVERED" && d["lastStatus"] == 200)
    );
    assert!(items.iter().any(|d| d["type"] == "environment.succeeded"
        && d["environment"] == "prod"
        && d["number"] == 2));
    let counts = &list["counts"];
    let total = ["pending", "delivered", "dead"]
        .iter()
        .map(|k| counts[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(total, items.len() as u64, "{counts}");
    assert!(counts["pending"].as_u64().unwrap() >= sink.len() as u64);
    let text = list.to_string();
    for secret in [SLACK_SECRET, HOOK_KEY, "/hang"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
    let (status, bad) = s.get("/api/v1/notifications/deliveries?status=lost").await;
    assert_eq!(status, 400, "{bad}");
    let (status, dead) = s.get("/api/v1/notifications/deliveries?status=dead").await;
    assert_eq!(
        (status, dead["items"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    // A viewer token is refused.
    let (status, viewer) = s
        .post(
            "/api/v1/tokens",
            &json!({"name": "watcher", "role": "viewer"}),
        )
        .await;
    assert_eq!(status, 201, "{viewer}");
    let viewer_token = viewer["token"].as_str().unwrap().to_owned();
    let r = s
        .http
        .get(s.url("/api/v1/notifications/deliveries"))
        .bearer_auth(&viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The web UI: admins have the page and its link; a viewer neither.
    let mut c = Client::new(&s.base);
    c.sign_in(&viewer_token).await;
    let page = c.get("/products").await;
    assert!(
        !page.body.contains("/admin/notifications"),
        "no link for viewers"
    );
    let refused = c.get("/admin/notifications").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(!refused.body.contains("audit-sink"));

    let b = browser::Browser::start().await;
    b.goto(&s.url("/signin?next=/products")).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("a[href='/admin/notifications']").await;
    b.click("a[href='/admin/notifications']").await;
    b.wait_for("table.deliveries").await;
    let html = b.source().await;
    uifixture::checked("/admin/notifications", &html);
    for secret in [SLACK_SECRET, HOOK_KEY] {
        assert!(!html.contains(secret), "{secret} shown on the page");
    }
    let rows = b
        .eval("return document.querySelectorAll('table.deliveries tbody tr').length;")
        .await;
    assert_eq!(rows.as_u64(), Some(items.len().min(50) as u64));
    let pending = b.text("[data-count=pending]").await;
    assert!(pending.ends_with("pending"), "{pending}");
    assert!(
        b.find("tr[data-status=DELIVERED] a[href^='/products/p/releases/']")
            .await
            .is_some()
    );
    b.screenshot("notifications-admin-all").await;
    // Only the dead letters: none.
    b.click("nav.filter a[href='/admin/notifications?status=dead']")
        .await;
    b.wait_true(
        "the dead-letter filter",
        "return document.body.textContent.includes('No deliveries');",
    )
    .await;
    b.screenshot("notifications-admin-dead").await;
    b.quit().await;
    s.stop().await;
}
