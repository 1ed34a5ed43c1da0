//! Approval gates over HTTP (issue 20), as docs/api.md says: `POST
//! /api/v1/releases/{id}/approvals` with the gate's role checks (403 for a
//! token the gate does not name, 403 for the initiator, both in the audit
//! log), one decision per token (409), an `Idempotency-Key` repeat
//! answered with the first status, and a rejection failing the
//! environment with its comment. Every answer is checked against the
//! OpenAPI document.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, TestServer, fixture, settings, start};
use serde_json::{Value, json};

/// A gate on prod: two approvals from admins or `carol`, not the initiator.
pub const PROD_GATE: &str = "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: prod-gate}\nspec:\n  selector:\n    targetEnvironment: {names: [prod]}\n  policy:\n    approval:\n      required: 2\n      approvers: {roles: [admin], names: [carol]}\n      notInitiator: true\n";

async fn call(
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

async fn token(s: &TestServer, name: &str, role: &str) -> String {
    let (status, _, v) = call(
        s,
        "/api/v1/tokens",
        TOKEN,
        None,
        &json!({"name": name, "role": role}),
    )
    .await;
    assert_eq!(status, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
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

fn prod(r: &Value) -> &Value {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "prod"))
        .unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvals_over_http_with_role_checks_and_idempotent_repeats() {
    let f = fixture();
    std::fs::write(f.config.join("gate.yaml"), PROD_GATE).unwrap();
    let s = start(settings(&f)).await;
    let ann = token(&s, "ann", "admin").await;
    let carol = token(&s, "carol", "viewer").await;
    let pete = token(&s, "pete", "promoter").await;
    // The bootstrap admin token (`admin`) promotes: the initiator.
    let id = s.promote("standard").await;
    let waiting = wait_for(&s, &id, "waited at prod's gate", |r| {
        prod(r)["waitingReason"] == "waiting for approval (0 of 2)"
    })
    .await;
    assert_eq!(waiting["status"], "SUSPENDED");
    assert_eq!(prod(&waiting)["status"], "SUSPENDED");
    assert_eq!(prod(&waiting)["approval"]["required"], 2);
    let path = format!("/api/v1/releases/{id}/approvals");
    let approve =
        |comment: &str| json!({"environment": "prod", "decision": "approve", "comment": comment});

    // The initiator: 403, saying why.
    let (status, _, refused) = call(&s, &path, TOKEN, None, &approve("mine")).await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("other than the initiator"),
        "{refused}"
    );
    // A promoter the gate does not name: 403.
    let (status, _, refused) = call(&s, &path, &pete, None, &approve("")).await;
    assert_eq!(status, 403, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("role admin"),
        "{refused}"
    );
    // A bad body: 400, nothing recorded.
    let (status, _, refused) = call(
        &s,
        &path,
        &ann,
        None,
        &json!({"environment": "prod", "decision": "maybe"}),
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    // ann approves with a key; the repeat is answered from the first answer.
    let (status, replayed, first) =
        call(&s, &path, &ann, Some("a-1"), &approve("qa is green")).await;
    assert_eq!((status, replayed), (200, false), "{first}");
    assert_eq!(
        prod(&first)["waitingReason"],
        "waiting for approval (1 of 2)"
    );
    let (status, replayed, again) =
        call(&s, &path, &ann, Some("a-1"), &approve("qa is green")).await;
    assert_eq!((status, replayed), (200, true), "{again}");
    assert_eq!(again["id"], id.as_str());
    // Another body under the same key: 422.
    let (status, _, refused) = call(&s, &path, &ann, Some("a-1"), &approve("other")).await;
    assert_eq!(status, 422, "{refused}");
    // A second decision by ann under a new key: 409.
    let (status, _, refused) = call(&s, &path, &ann, Some("a-2"), &approve("twice")).await;
    assert_eq!(status, 409, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("already approved"),
        "{refused}"
    );
    let decisions = prod(&again)["approval"]["decisions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(decisions.len(), 1, "one decision, not one per request");
    assert_eq!(decisions[0]["by"], "ann");
    assert_eq!(decisions[0]["comment"], "qa is green");

    // carol (named; a viewer) rejects: prod fails with her comment.
    let (status, _, _) = call(
        &s,
        &path,
        &carol,
        None,
        &json!({"environment": "prod", "decision": "reject", "comment": "change freeze for the audit"}),
    )
    .await;
    assert_eq!(status, 200);
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "FAILED");
    assert_eq!(prod(&done)["status"], "FAILED");
    let issue = &prod(&done)["issues"][0];
    assert_eq!(issue["kind"], "approval");
    assert_eq!(
        issue["message"],
        "rejected by carol: change freeze for the audit"
    );
    // Too late now: 409.
    let (status, _, _) = call(&s, &path, &pete, None, &approve("")).await;
    assert_eq!(status, 403, "pete is still not an approver");
    let (status, _, refused) = call(&s, &path, &carol, Some("c-2"), &approve("")).await;
    assert_eq!(status, 409, "{refused}");

    // The audit log: the denials and the decisions, with who and where.
    let (status, audit) = s.get(&format!("/api/v1/audit?release={id}")).await;
    assert_eq!(status, 200, "{audit}");
    let entries: Vec<(String, String, u64)> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap_or_default().to_owned(),
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    for want in [
        ("admin", "approve", 403),
        ("pete", "approve", 403),
        ("ann", "approve", 200),
        ("ann", "approve", 409),
        ("carol", "reject", 200),
    ] {
        assert!(
            entries
                .iter()
                .any(|(a, b, c)| (a.as_str(), b.as_str(), *c) == want),
            "{want:?} in {entries:#?}"
        );
    }
    s.stop().await;
}
