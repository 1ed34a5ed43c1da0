//! Approval gates in the web UI (issue 20), against the real server and
//! real Git: the release view shows where prod's gate stands and who
//! decided when, with comments; the Approve and Reject form is offered
//! only to those the gate lets decide now (not the initiator, not a
//! token it does not name, not twice), and a forged or foreign post is
//! refused — over plain HTTP and in headless Chromium.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;
mod uifixture;

use common::*;
use serde_json::json;
use uiclient::{Client, hidden};
use uifixture::{checked, promote, wait_release};

/// Two approvals from admins or `carol`, not the initiator.
const PROD_GATE: &str = "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: prod-gate}\nspec:\n  selector:\n    targetEnvironment: {names: [prod]}\n  policy:\n    approval:\n      required: 2\n      approvers: {roles: [admin], names: [carol]}\n      notInitiator: true\n";

const PAGE: &str = "/products/p/releases/1";
const FORM: &str = "#approval-prod form.decide";

async fn token(s: &TestServer, name: &str, role: &str) -> String {
    let (status, t) = s
        .post("/api/v1/tokens", &json!({"name": name, "role": role}))
        .await;
    assert_eq!(status, 201, "{t}");
    t["token"].as_str().unwrap().to_owned()
}

fn prod_reason(r: &serde_json::Value) -> String {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "prod"))
        .and_then(|e| e["waitingReason"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_from_the_release_view_with_role_checks() {
    let f = fixture();
    std::fs::write(f.config.join("gate.yaml"), PROD_GATE).unwrap();
    let s = start(settings(&f)).await;
    let ann = token(&s, "ann", "admin").await;
    let carol = token(&s, "carol", "viewer").await;
    let pete = token(&s, "pete", "promoter").await;
    // The bootstrap admin (`admin`) promotes: the initiator.
    let release = promote(&s, "standard").await;
    let id = release["id"].as_str().unwrap().to_owned();
    wait_release(&s, &id, "prod waits at its gate", |r| {
        prod_reason(r) == "waiting for approval (0 of 2)"
    })
    .await;

    // The initiator and a promoter the gate does not name see where the
    // gate stands, but no form; a post of theirs is refused.
    for (who, t) in [("admin", TOKEN), ("pete", pete.as_str())] {
        let mut c = Client::new(&s.base);
        c.sign_in(t).await;
        let view = c.get(PAGE).await;
        checked(PAGE, &view.body);
        assert!(
            view.body.contains("waiting for approval (0 of 2)")
                && view.body.contains("2 approvals needed from a token with role admin, or token carol, not the initiator"),
            "{who}: {}",
            view.body
        );
        assert!(
            !view.body.contains("class=\"decide\""),
            "{who} sees no form"
        );
        // What is happening says what prod waits for, truly.
        assert!(
            view.body
                .contains("Waiting in <strong>prod</strong> for approval (0 of 2)")
                && view
                    .body
                    .contains("<strong>prod</strong>: waiting for approval (0 of 2)"),
            "{who}: {}",
            view.body
        );
        let refused = c
            .post(
                "/products/p/releases/1/approvals?env=prod",
                &[
                    ("csrf", &hidden(&view.body, "csrf")),
                    ("decision", "approve"),
                    ("comment", ""),
                ],
            )
            .await;
        assert_eq!(refused.status, 403, "{who}: {}", refused.body);
    }

    // ann, in Chromium: the form, a comment, Approve.
    let b = browser::Browser::start().await;
    b.goto(&s.url(&format!("/signin?next={PAGE}"))).await;
    b.wait_for("#token").await;
    b.type_into("#token", &ann).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for(FORM).await;
    assert!(
        b.text("#approval-prod .approval-state")
            .await
            .contains("waiting for approval (0 of 2)")
    );
    b.type_into("#comment-prod", "qa looked fine for a day")
        .await;
    b.screenshot("30-approval-form").await;
    b.click(&format!("{FORM} button[value=approve]")).await;
    b.wait_true(
        "ann's approval shown",
        "var d = document.querySelector('#approval-prod .decision.approved'); return !!d && d.textContent.includes('ann approved') && d.textContent.includes('qa looked fine for a day');",
    )
    .await;
    assert!(
        b.text("#approval-prod .approval-state")
            .await
            .contains("waiting for approval (1 of 2)")
    );
    // Decided: ann is offered no second decision.
    assert!(b.find(FORM).await.is_none(), "no form after deciding");
    // The releases list says what it waits for, as the list API does.
    b.goto(&s.url("/products/p/releases")).await;
    let status = b.text("table.releases tbody tr .c-status").await;
    assert!(
        status.contains("in prod: waiting for approval (1 of 2)"),
        "{status}"
    );
    b.screenshot("31-approval-in-the-list").await;
    b.quit().await;
    let (code, page) = s.get("/api/v1/products/p/releases").await;
    assert_eq!(code, 200, "{page}");
    let prod = page["items"][0]["environments"]
        .as_array()
        .and_then(|envs| envs.iter().find(|e| e["name"] == "prod"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(prod["held"], "waiting for approval (1 of 2)", "{page:#}");

    // A forged CSRF token is refused even for an approver.
    let mut c = Client::new(&s.base);
    c.sign_in(&carol).await;
    let view = c.get(PAGE).await;
    assert!(view.body.contains("class=\"decide\""), "carol may decide");
    let forged = c
        .post(
            "/products/p/releases/1/approvals?env=prod",
            &[("csrf", "forged"), ("decision", "approve"), ("comment", "")],
        )
        .await;
    assert_eq!(forged.status, 403);
    // carol approves with the form's token: the gate opens, prod runs.
    let done = c
        .post(
            "/products/p/releases/1/approvals?env=prod",
            &[
                ("csrf", &hidden(&view.body, "csrf")),
                ("decision", "approve"),
                ("comment", "go"),
            ],
        )
        .await;
    assert_eq!(
        (done.status, done.location.as_str()),
        (303, "/products/p/releases/1#env-prod"),
        "{}",
        done.body
    );
    let finished = s.wait_finished(&id).await;
    assert_eq!(finished["status"], "SUCCEEDED", "{finished:#}");
    // Who approved when stays on the page.
    let view = c.get(PAGE).await;
    checked(PAGE, &view.body);
    let section = view
        .body
        .split("id=\"approval-prod\"")
        .nth(1)
        .unwrap_or_default();
    let ann_at = section.find("ann</span> approved <time datetime=");
    let carol_at = section.find("carol</span> approved <time datetime=");
    assert!(
        ann_at.is_some() && carol_at.is_some() && ann_at < carol_at,
        "{section}"
    );
    assert!(section.contains("<q>go</q>"), "{section}");
    assert!(!view.body.contains("class=\"decide\""), "closed: no form");
    s.stop().await;
}
