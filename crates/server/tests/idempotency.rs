//! `Idempotency-Key` over HTTP (issue 23), as docs/api.md says the API
//! answers: a repeat gets the first status, the release as it is now and
//! `Idempotent-Replayed: true`; another body under a promotion's key is
//! 422; a malformed key 400; keys belong to their token; a repeated
//! retry or terminate is answered so even after the release moved on
//! (where the same call without the key is 409). Every answer is checked
//! against the OpenAPI document.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, TestServer, add_qa_gate, fixture, settings, start};
use serde_json::{Value, json};

/// `POST path` with `token` and `key`: status, whether it was a replay,
/// body.
async fn post(
    s: &TestServer,
    path: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> (u16, bool, Value) {
    let mut req = s.http.post(s.url(path)).bearer_auth(token).json(body);
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = req.send().await.unwrap();
    let replayed = r
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let (status, body) = common::documented("POST", path, r).await;
    (status, replayed, body)
}

async fn wait_for(s: &TestServer, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, r) = s.get(&format!("/api/v1/releases/{id}")).await;
        assert_eq!(status, 200, "{r}");
        if pred(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "release never {what}: {r:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_requests_get_the_first_answer() {
    let f = fixture();
    add_qa_gate(&f.config);
    let s = start(settings(&f)).await;
    let promotions = "/api/v1/products/p/promotions";
    let flow = json!({"flow": "standard"});

    // A promotion and its repeat: one release, the repeat marked.
    let (status, replayed, first) = post(&s, promotions, TOKEN, Some("k-1"), &flow).await;
    assert_eq!((status, replayed), (201, false), "{first}");
    let id = first["id"].as_str().unwrap().to_owned();
    let (status, replayed, again) = post(&s, promotions, TOKEN, Some("k-1"), &flow).await;
    assert_eq!((status, replayed), (201, true), "{again}");
    assert_eq!(again["id"], id.as_str());

    // The same key with another body: 422, nothing created.
    let other = json!({"targetEnvironment": "qa"});
    let (status, _, refused) = post(&s, promotions, TOKEN, Some("k-1"), &other).await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("idempotency key `k-1` was used for a different request"),
        "{refused}"
    );
    // Malformed keys: 400, nothing created.
    for bad in ["with space", &"k".repeat(256)] {
        let (status, _, refused) = post(&s, promotions, TOKEN, Some(bad), &flow).await;
        assert_eq!(status, 400, "{refused}");
        assert_eq!(
            refused["error"],
            "Idempotency-Key: 1 to 255 visible ASCII characters"
        );
    }
    let (_, page) = s.get("/api/v1/products/p/releases").await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");

    // Another token's key of the same text is another request.
    let (status, created) = s
        .post(
            "/api/v1/tokens",
            &json!({"name": "pat", "role": "promoter"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let pat = created["token"].as_str().unwrap().to_owned();
    let (status, replayed, theirs) = post(&s, promotions, &pat, Some("k-1"), &flow).await;
    assert_eq!((status, replayed), (201, false), "{theirs}");
    assert_ne!(theirs["id"], id.as_str());

    // Terminate, repeated after the release has finished: the first
    // answer's status, not the 409 a new terminate gets.
    wait_for(&s, &id, "suspended at the qa gate", |r| {
        r["status"] == "SUSPENDED"
    })
    .await;
    let terminate = format!("/api/v1/releases/{id}/terminate");
    let (status, replayed, _) = post(&s, &terminate, TOKEN, Some("t-1"), &json!({})).await;
    assert_eq!((status, replayed), (200, false));
    wait_for(&s, &id, "terminated", |r| r["status"] == "TERMINATED").await;
    let (status, replayed, now) = post(&s, &terminate, TOKEN, Some("t-1"), &json!({})).await;
    assert_eq!((status, replayed), (200, true), "{now}");
    assert_eq!(now["status"], "TERMINATED");
    let (status, _, refused) = post(&s, &terminate, TOKEN, None, &json!({})).await;
    assert_eq!(status, 409, "{refused}");

    // Retry, repeated while the retried release runs: the same.
    let retry = format!("/api/v1/releases/{id}/retry");
    let (status, replayed, _) = post(&s, &retry, TOKEN, Some("r-1"), &json!({})).await;
    assert_eq!((status, replayed), (200, false));
    let (status, replayed, now) = post(&s, &retry, TOKEN, Some("r-1"), &json!({})).await;
    assert_eq!((status, replayed), (200, true), "{now}");
    assert_eq!(now["id"], id.as_str());
    let (status, _, refused) = post(&s, &retry, TOKEN, None, &json!({})).await;
    assert_eq!(status, 409, "{refused}");
    s.stop().await;
}
