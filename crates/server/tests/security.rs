//! Security of the API (issue 10) against the real server on 127.0.0.1:
//! roles and scopes on every mutating endpoint, the token API, the audit
//! log, security headers, the JSON depth limit and the webhook rate limit.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, add_qa_gate, fixture, settings, start};
use reqwest::Method;
use serde_json::{Value, json};

struct Api<'a> {
    s: &'a common::TestServer,
}

impl Api<'_> {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.s.http.request(method.clone(), self.s.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        common::documented(method.as_str(), path, r).await
    }

    async fn create_token(&self, body: Value) -> String {
        let (status, v) = self
            .call(Method::POST, "/api/v1/tokens", Some(TOKEN), Some(body))
            .await;
        assert_eq!(status, 201, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("ferry_") && token.len() > 40, "{token}");
        token
    }

    /// Polls a release until `pred` holds.
    async fn wait_for(&self, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, r) = self
                .call(
                    Method::GET,
                    &format!("/api/v1/releases/{id}"),
                    Some(TOKEN),
                    None,
                )
                .await;
            assert_eq!(status, 200, "{r}");
            if pred(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "release never {what}: {r:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The run id of the suspended qa gate of a release.
fn gate_run(r: &Value) -> Option<String> {
    r["environments"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == "qa")?["applications"][0]["steps"]
        .as_array()?
        .iter()
        .find(|s| s["status"] == "SUSPENDED" && s["runId"].is_string())
        .and_then(|s| s["runId"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_role_on_each_mutating_endpoint() {
    let f = fixture();
    add_qa_gate(&f.config);
    let s = start(settings(&f)).await;
    let api = Api { s: &s };

    let viewer = api
        .create_token(json!({"name": "vera", "role": "viewer"}))
        .await;
    let promoter = api
        .create_token(json!({"name": "pat", "role": "promoter"}))
        .await;
    let scoped = api
        .create_token(
            json!({"name": "sam", "role": "promoter", "products": ["p"], "nonProduction": true}),
        )
        .await;
    let elsewhere = api
        .create_token(json!({"name": "olga", "role": "promoter", "products": ["other"]}))
        .await;
    let flow = json!({"flow": "standard"});
    let to_qa = json!({"targetEnvironment": "qa", "sourceEnvironment": "dev"});
    let promotions = "/api/v1/products/p/promotions";

    // Reads: every role.
    for t in [&viewer, &promoter, &scoped] {
        let (status, _) = api
            .call(Method::GET, "/api/v1/releases", Some(t), None)
            .await;
        assert_eq!(status, 200);
    }

    // Promote.
    let (status, _) = api
        .call(Method::POST, promotions, None, Some(flow.clone()))
        .await;
    assert_eq!(status, 401);
    for (t, body, why) in [
        (&viewer, &flow, "viewer"),
        (&elsewhere, &flow, "product"),
        (&elsewhere, &to_qa, "product"),
        (&scoped, &flow, "production"),
    ] {
        let (status, v) = api
            .call(Method::POST, promotions, Some(t), Some(body.clone()))
            .await;
        assert_eq!(status, 403, "{why}: {v}");
        assert_eq!(v["status"], 403);
        assert!(v["error"].as_str().unwrap().contains(why), "{v}");
    }
    let (status, a) = api
        .call(
            Method::POST,
            promotions,
            Some(&promoter),
            Some(flow.clone()),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["initiator"], "pat");
    let a_id = a["id"].as_str().unwrap().to_owned();
    let a = api
        .wait_for(&a_id, "suspended at the qa gate", |r| {
            r["status"] == "SUSPENDED" && gate_run(r).is_some()
        })
        .await;
    let a_run = gate_run(&a).unwrap();

    // Terminate and resume a release that writes to prod.
    let terminate_a = format!("/api/v1/releases/{a_id}/terminate");
    let resume_a = format!("/api/v1/workflows/{a_run}/resume");
    for path in [&terminate_a, &resume_a] {
        let (status, _) = api.call(Method::POST, path, None, None).await;
        assert_eq!(status, 401, "{path}");
        for t in [&viewer, &elsewhere] {
            let (status, v) = api.call(Method::POST, path, Some(t), None).await;
            assert_eq!(status, 403, "{path}: {v}");
        }
    }
    let (status, v) = api
        .call(Method::POST, &terminate_a, Some(&scoped), None)
        .await;
    assert_eq!(status, 403, "prod is outside sam's scope: {v}");
    let (status, v) = api
        .call(Method::POST, &terminate_a, Some(&promoter), None)
        .await;
    assert_eq!(status, 200, "{v}");
    api.wait_for(&a_id, "terminated", |r| r["status"] == "TERMINATED")
        .await;

    // Retry.
    let retry_a = format!("/api/v1/releases/{a_id}/retry");
    let (status, _) = api.call(Method::POST, &retry_a, None, None).await;
    assert_eq!(status, 401);
    for t in [&viewer, &elsewhere, &scoped] {
        let (status, v) = api.call(Method::POST, &retry_a, Some(t), None).await;
        assert_eq!(status, 403, "{v}");
    }
    let (status, v) = api
        .call(Method::POST, &retry_a, Some(&promoter), None)
        .await;
    assert_eq!(status, 200, "{v}");
    let a = api
        .wait_for(&a_id, "suspended again", |r| {
            r["status"] == "SUSPENDED" && gate_run(r).is_some()
        })
        .await;
    // Resume by an unscoped promoter: the release goes on to prod.
    let a_run = gate_run(&a).unwrap();
    let (status, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/workflows/{a_run}/resume"),
            Some(&promoter),
            None,
        )
        .await;
    assert_eq!(status, 204, "{v}");
    api.wait_for(&a_id, "succeeded", |r| r["status"] == "SUCCEEDED")
        .await;

    // The scoped promoter: qa is in scope for promote, resume, terminate,
    // retry.
    let (status, b) = api
        .call(Method::POST, promotions, Some(&scoped), Some(to_qa.clone()))
        .await;
    assert_eq!(status, 201, "{b}");
    assert_eq!(b["initiator"], "sam");
    let b_id = b["id"].as_str().unwrap().to_owned();
    let b = api
        .wait_for(&b_id, "suspended at the qa gate", |r| gate_run(r).is_some())
        .await;
    let (status, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/releases/{b_id}/terminate"),
            Some(&scoped),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    api.wait_for(&b_id, "terminated", |r| r["status"] == "TERMINATED")
        .await;
    assert!(gate_run(&b).is_some());
    let (status, v) = api
        .call(
            Method::POST,
            &format!("/api/v1/releases/{b_id}/retry"),
            Some(&scoped),
            None,
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let b = api
        .wait_for(&b_id, "suspended again", |r| {
            r["status"] == "SUSPENDED" && gate_run(r).is_some()
        })
        .await;
    let b_run = gate_run(&b).unwrap();
    let resume_b = format!("/api/v1/workflows/{b_run}/resume");
    let (status, v) = api
        .call(Method::POST, &resume_b, Some(&elsewhere), None)
        .await;
    assert_eq!(status, 403, "{v}");
    let (status, v) = api.call(Method::POST, &resume_b, Some(&scoped), None).await;
    assert_eq!(status, 204, "{v}");
    api.wait_for(&b_id, "succeeded", |r| r["status"] == "SUCCEEDED")
        .await;

    // Token administration and the audit log: admin only.
    for (method, path, body) in [
        (Method::GET, "/api/v1/tokens", None),
        (
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"name": "x", "role": "viewer"})),
        ),
        (Method::DELETE, "/api/v1/tokens/vera", None),
        (Method::GET, "/api/v1/audit", None),
    ] {
        let (status, _) = api.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(status, 401, "{method} {path}");
        for t in [&viewer, &promoter, &scoped] {
            let (status, v) = api.call(method.clone(), path, Some(t), body.clone()).await;
            assert_eq!(status, 403, "{method} {path}: {v}");
        }
    }

    // Every action is in the audit log: who, what, where, how it ended.
    let (status, log) = api
        .call(
            Method::GET,
            "/api/v1/audit?actor=sam&limit=200",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let has = |action: &str, outcome: u64| {
        items
            .iter()
            .any(|e| e["action"] == action && e["outcome"] == outcome && e["remote"] == "127.0.0.1")
    };
    assert!(has("promote", 403), "{log:#}");
    assert!(has("promote", 201), "{log:#}");
    assert!(has("terminate", 403), "{log:#}");
    assert!(has("terminate", 200), "{log:#}");
    assert!(has("retry", 200), "{log:#}");
    assert!(has("resume", 204), "{log:#}");
    assert!(has("token.create", 403), "{log:#}");
    let denied = items
        .iter()
        .find(|e| e["action"] == "promote" && e["outcome"] == 403)
        .unwrap();
    assert_eq!(denied["product"], "p");
    assert_eq!(denied["target"], "p");
    assert!(denied["detail"].as_str().unwrap().contains("production"));
    let created_b = items
        .iter()
        .find(|e| e["action"] == "promote" && e["outcome"] == 201)
        .unwrap();
    assert_eq!(created_b["releaseId"], b_id.as_str());

    // … and in the release history.
    let events = s
        .http
        .get(s.url(&format!("/api/v1/releases/{a_id}/events")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    let mut body = events;
    while !text.contains("resume by pat (promoter) from 127.0.0.1") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.chunk())
            .await
            .expect("the history holds the audit notes")
            .unwrap()
            .expect("stream open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    for note in [
        "promote by pat (promoter) from 127.0.0.1",
        "terminate by pat (promoter) from 127.0.0.1",
        "retry by pat (promoter) from 127.0.0.1",
    ] {
        assert!(text.contains(note), "{note} in {text}");
    }
    drop(body);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_shown_once_listed_without_secrets_and_revocable() {
    let f = fixture();
    let mut set = settings(&f);
    set.trusted_proxies = vec!["127.0.0.1".into()];
    let s = start(set).await;
    let api = Api { s: &s };

    let token = api
        .create_token(json!({"name": "ci-bot", "role": "promoter", "products": ["p"]}))
        .await;
    let (status, v) = api
        .call(Method::GET, "/api/v1/releases", Some(&token), None)
        .await;
    assert_eq!(status, 200, "{v}");

    let r = s
        .http
        .get(s.url("/api/v1/tokens"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains(&token), "the value is never listed: {text}");
    let hash = sha2_hex(&token);
    assert!(!text.contains(&hash), "nor its hash");
    let list: Value = serde_json::from_str(&text).unwrap();
    let entry = &list["items"][0];
    assert_eq!(entry["name"], "ci-bot");
    assert_eq!(entry["role"], "promoter");
    assert_eq!(entry["products"], json!(["p"]));
    assert_eq!(entry["createdBy"], "admin");
    assert!(entry.get("token").is_none());

    // Bad requests name the field.
    for (body, field, code) in [
        (json!({"name": "x", "role": "root"}), "role", 400),
        (json!({"name": "", "role": "viewer"}), "name", 400),
        (json!({"name": "a b", "role": "viewer"}), "name", 400),
        (json!({"name": "admin", "role": "viewer"}), "name", 400),
        (
            json!({"name": "v", "role": "viewer", "products": ["p"]}),
            "products",
            400,
        ),
        (json!({"name": "ci-bot", "role": "viewer"}), "ci-bot", 409),
    ] {
        let (status, v) = api
            .call(Method::POST, "/api/v1/tokens", Some(TOKEN), Some(body))
            .await;
        assert_eq!(status, code, "{v}");
        assert!(v["error"].as_str().unwrap().contains(field), "{v}");
    }

    // Revoked: rejected at once.
    let r = s
        .http
        .delete(s.url("/api/v1/tokens/ci-bot"))
        .bearer_auth(TOKEN)
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let revoked: Value = r.json().await.unwrap();
    assert_eq!(revoked["revokedBy"], "admin");
    let (status, _) = api
        .call(Method::GET, "/api/v1/releases", Some(&token), None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = api
        .call(Method::DELETE, "/api/v1/tokens/ci-bot", Some(TOKEN), None)
        .await;
    assert_eq!(status, 404);
    let (_, all) = api
        .call(Method::GET, "/api/v1/tokens?all=true", Some(TOKEN), None)
        .await;
    assert!(all["items"][0]["revokedAt"].is_string(), "{all}");
    let (_, live) = api
        .call(Method::GET, "/api/v1/tokens", Some(TOKEN), None)
        .await;
    assert_eq!(live["items"], json!([]));

    // Audited, with the client named by the trusted proxy.
    let (status, log) = api
        .call(
            Method::GET,
            "/api/v1/audit?action=token.revoke",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let items = log["items"].as_array().unwrap();
    // Newest first: the second revoke (404, no forwarded header: the
    // proxy itself), then the first (200, the client it named).
    assert_eq!(items[0]["outcome"], 404, "{log}");
    assert_eq!(items[0]["remote"], "127.0.0.1");
    assert_eq!(items[1]["outcome"], 200);
    assert_eq!(items[1]["remote"], "198.51.100.7");
    assert_eq!(items[1]["actor"], "admin");
    assert_eq!(items[1]["target"], "ci-bot");
    let (_, created) = api
        .call(
            Method::GET,
            "/api/v1/audit?action=token.create&limit=1",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(created["items"].as_array().unwrap().len(), 1);
    assert!(created["nextCursor"].is_string(), "{created}");
    let (status, _) = api
        .call(Method::GET, "/api/v1/audit?cursor=bogus", Some(TOKEN), None)
        .await;
    assert_eq!(status, 400);
    s.stop().await;
}

fn sha2_hex(text: &str) -> String {
    // The server's own hash function, so the test checks the stored form.
    hex_encode(&ferry_api::auth::hash(text))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_on_every_response() {
    let f = fixture();
    let s = start(settings(&f)).await;
    for (method, path, token) in [
        (Method::GET, "/healthz", None),
        (Method::GET, "/api/v1/releases", Some(TOKEN)),
        (Method::GET, "/api/v1/releases", None),
        (Method::GET, "/no/such/route", None),
        (Method::POST, "/api/v1/products/p/promotions", None),
        (Method::GET, "/api/openapi.json", None),
    ] {
        let mut req = s.http.request(method.clone(), s.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let r = req.send().await.unwrap();
        let h = r.headers();
        let csp = h
            .get("content-security-policy")
            .unwrap_or_else(|| panic!("{method} {path}: no CSP"))
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS over http"
        );
        // Every answer carries its request id (a new UUID here).
        let id = h
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{method} {path}: no request id"))
            .to_str()
            .unwrap();
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.matches('-').count(), 4, "{id}");
    }
    // A request id given by the client (or a proxy) is kept.
    let r = s
        .http
        .get(s.url("/healthz"))
        .header("x-request-id", "from-the-proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "from-the-proxy-42");
    s.stop().await;

    // HSTS once the public base URL is https.
    let mut set = settings(&f);
    set.base_url = Some("https://ferry.example".into());
    let s = start(set).await;
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert!(r.headers().contains_key("strict-transport-security"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_is_refused_before_parsing() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let deep = format!(
        "{{\"flow\": \"standard\", \"policy\": {}1{}}}",
        "[".repeat(100),
        "]".repeat(100)
    );
    for path in ["/api/v1/products/p/promotions", "/api/v1/tokens"] {
        let r = s
            .http
            .post(s.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(deep.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("nested deeper than 32"),
            "{v}"
        );
    }
    // Brackets inside strings are data, not nesting.
    let (status, v) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "[".repeat(100)}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("flow"), "{v}");
    // Oversize bodies: 413.
    let big = format!("{{\"flow\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = s
        .http
        .post(s.url("/api/v1/products/p/promotions"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(r.headers()["connection"], "close");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 413, "{v}");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("larger than 1048576 bytes"),
        "{v}"
    );
    // The same without a Content-Length (chunked): cut off while read
    // (just over the limit, so the client has sent it all by then).
    let chunks = (0..17).map(|_| Ok::<_, std::io::Error>(vec![b' '; 64 * 1024]));
    let r = s
        .http
        .post(s.url("/api/v1/products/p/promotions"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("larger than 1048576 bytes"),
        "{v}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unverified_webhook_deliveries_are_rate_limited_per_client() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let mut limited = None;
    for i in 0..2000 {
        let r = s
            .http
            .post(s.url("/api/v1/webhooks/github"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            let retry: u64 = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= 1);
            limited = Some(i);
            break;
        }
    }
    let at = limited.expect("a flood of unverified webhook deliveries is limited");
    assert!(
        at >= 100,
        "a burst of deliveries passes first (limited at {at})"
    );
    // Other paths are not limited by it.
    let (status, _) = s.get("/api/v1/releases").await;
    assert_eq!(status, 200);
    s.stop().await;
}

/// A small deterministic generator (xorshift), so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `seed` with a few random edits: bytes replaced, inserted (JSON's own
/// punctuation mostly), ranges deleted or repeated, the end cut off.
fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    const BYTES: &[u8] = b"{}[]\",:\\0123456789.-+eEtrufalsn \n\t\xff\x00\xc3";
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(5) {
            0 if at < b.len() => b[at] = BYTES[rng.below(BYTES.len())],
            1 => b.insert(at, BYTES[rng.below(BYTES.len())]),
            2 if at < b.len() => {
                let end = (at + 1 + rng.below(8)).min(b.len());
                b.drain(at..end);
            }
            3 if at < b.len() => {
                let end = (at + 1 + rng.below(16)).min(b.len());
                let piece: Vec<u8> = b[at..end].to_vec();
                for _ in 0..1 + rng.below(40) {
                    b.splice(at..at, piece.iter().copied());
                }
            }
            _ => b.truncate(at),
        }
    }
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_bodies_never_give_a_server_error() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let cases: [(&str, &[&str]); 3] = [
        (
            // An unknown product: parsing and checks run, no release is made.
            "/api/v1/products/nope/promotions",
            &[
                r#"{"flow": "standard"}"#,
                r#"{"targetEnvironment": "qa", "sourceEnvironment": "dev", "policy": {"preAction": "a", "action": "commit", "postAction": "b"}}"#,
                r#"{"rollbackTo": "01J0000000000000000000000A", "targetEnvironment": "prod"}"#,
            ],
        ),
        (
            "/api/v1/tokens",
            &[
                r#"{"name": "fz", "role": "promoter", "products": ["p", "q"], "nonProduction": true}"#,
            ],
        ),
        (
            "/api/v1/workflows/no-such-run/resume",
            &[r#"{"step": "approve"}"#],
        ),
    ];
    let mut rng = Rng(0x5eed_f00d_d00d_beef);
    let mut seen = std::collections::BTreeMap::<u16, usize>::new();
    for (path, seeds) in cases {
        for i in 0..300 {
            let body = mutate(&mut rng, seeds[i % seeds.len()].as_bytes());
            let r = s
                .http
                .post(s.url(path))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            *seen.entry(status).or_default() += 1;
            assert!(
                status < 500,
                "{path} answered {status} to {:?}: {}",
                String::from_utf8_lossy(&body),
                r.text().await.unwrap_or_default()
            );
            if status >= 400 {
                let v: Value = r.json().await.unwrap();
                assert!(v["error"].is_string(), "{path}: an error message: {v}");
            }
        }
    }
    // The mutations reached past the JSON parser, not only into it.
    assert!(seen.get(&400).copied().unwrap_or(0) > 0, "{seen:?}");
    assert!(seen.get(&404).copied().unwrap_or(0) > 0, "{seen:?}");
    // Still serving.
    let (status, _) = s.get("/api/v1/releases").await;
    assert_eq!(status, 200);
    s.stop().await;
}
