//! Approval gates end to end (issue 20): a real product, a real Git
//! repository and the local executor; the gate holds `prod` SUSPENDED
//! until two people other than the initiator approve it, a rejection fails
//! it with the reason, and a gate expires on the engine's clock.

mod common;

use common::*;
use ferry_engine::{ApprovalRequest, Approver, Engine, Error, ManualClock, PromotionRequest};
use ferry_release::{
    Decision, EnvironmentStatus, EventKind, IssueKind, Release, ReleaseStatus, StepStatus,
};

const GATED: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: main}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: qa, dependsOn: [dev]}
    - {environment: prod, dependsOn: [qa]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionPolicy
metadata: {name: prod-gate}
spec:
  selector: {targetEnvironment: {names: [prod]}}
  policy:
    postAction: ok
    approval:
      required: 2
      approvers: {roles: [admin], names: [carol]}
      notInitiator: true
      expiresAfter: 2h
"#;

fn approver(name: &str, role: &str) -> Approver {
    Approver {
        name: name.into(),
        role: role.into(),
        may_promote: true,
    }
}

fn ask(decision: Decision, comment: &str) -> ApprovalRequest {
    ApprovalRequest {
        environment: "prod".into(),
        decision,
        comment: Some(comment.into()),
    }
}

async fn decide(
    engine: &Engine,
    id: &str,
    who: &Approver,
    decision: Decision,
    comment: &str,
) -> Result<Release, Error> {
    engine
        .decide_approval(id, &ask(decision, comment), who, None)
        .await
        .map(|p| p.release().clone())
}

/// The release once `prod` waits at its gate.
async fn at_gate(engine: &Engine, id: &str) -> Release {
    wait_for(engine, id, 60, |r| {
        r.environment("prod")
            .and_then(|e| e.waiting_reason())
            .is_some()
    })
    .await
}

async fn setup(clock: Option<&ManualClock>) -> (Fixture, Engine, Release) {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: GATED.into(),
    });
    fx.commit_dev("main-bbbb", "2.0.0", "feat: gated release");
    let engine = match clock {
        Some(c) => fx.engine_on_clock(c.clock()).await,
        None => fx.engine().await,
    };
    // `admin-ann` (an admin) promotes: the initiator.
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "admin-ann")
        .await
        .unwrap();
    let waiting = at_gate(&engine, &release.id).await;
    (fx, engine, waiting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvals_from_others_than_the_initiator_open_the_gate() {
    let (fx, engine, waiting) = setup(None).await;
    let id = waiting.id.clone();
    // Waiting honestly: SUSPENDED, nothing of prod ran, the reason says
    // how many approvals it has.
    assert_eq!(waiting.status, ReleaseStatus::Suspended);
    assert_eq!(env_status(&waiting, "qa"), "SUCCESSFUL");
    let prod = waiting.environment("prod").unwrap();
    assert_eq!(prod.status, EnvironmentStatus::Suspended);
    assert_eq!(
        prod.waiting_reason().as_deref(),
        Some("waiting for approval (0 of 2)")
    );
    assert!(
        prod.applications
            .iter()
            .flat_map(|a| &a.steps)
            .all(|s| s.status == StepStatus::Pending),
        "nothing of prod runs before the approvals"
    );
    assert!(
        !fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-bbbb")
    );

    // The initiator is refused, clearly, and nothing is recorded.
    let err = decide(
        &engine,
        &id,
        &approver("admin-ann", "admin"),
        Decision::Approve,
        "mine",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotApprover(_)), "{err:?}");
    assert!(
        err.to_string().contains("started release #1")
            && err.to_string().contains("other than the initiator"),
        "{err}"
    );
    // Someone who is neither an admin nor named is refused.
    let err = decide(
        &engine,
        &id,
        &approver("pete", "promoter"),
        Decision::Approve,
        "",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::NotApprover(_)), "{err:?}");
    assert!(err.to_string().contains("role admin"), "{err}");

    // The first approval: one of two, still waiting.
    let one = decide(
        &engine,
        &id,
        &approver("admin-bob", "admin"),
        Decision::Approve,
        "tested in qa",
    )
    .await
    .unwrap();
    let gate = one.environment("prod").unwrap();
    assert_eq!(
        gate.waiting_reason().as_deref(),
        Some("waiting for approval (1 of 2)")
    );
    // The same person cannot approve twice.
    let err = decide(
        &engine,
        &id,
        &approver("admin-bob", "admin"),
        Decision::Approve,
        "again",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ApprovalConflict(_)), "{err:?}");
    assert!(err.to_string().contains("already approved"), "{err}");

    // A named approver (a viewer by role) is the second.
    decide(
        &engine,
        &id,
        &approver("carol", "viewer"),
        Decision::Approve,
        "",
    )
    .await
    .unwrap();
    let done = wait_final(&engine, &id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded, "{done:#?}");
    assert!(
        fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-bbbb")
    );
    // Who approved when, with comments, stays on the environment.
    let gate = done.environment("prod").unwrap().approval.clone().unwrap();
    let who: Vec<(&str, Option<&str>)> = gate
        .decisions
        .iter()
        .map(|d| (d.by.as_str(), d.comment.as_deref()))
        .collect();
    assert_eq!(
        who,
        vec![("admin-bob", Some("tested in qa")), ("carol", None)]
    );
    assert!(gate.decisions[0].at <= gate.decisions[1].at);
    // A decision after the gate opened is refused.
    let err = decide(
        &engine,
        &id,
        &approver("admin-dan", "admin"),
        Decision::Approve,
        "late",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ApprovalConflict(_)), "{err:?}");

    // The history: needed, each decision, open — then prod runs.
    let events = history(&fx, &id).await;
    let approval: Vec<(String, String)> = events
        .iter()
        .filter(|e| e.kind == EventKind::Approval)
        .map(|e| (e.status.clone(), e.message.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        approval.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        ["NEEDED", "APPROVED", "APPROVED", "OPEN"],
        "{approval:#?}"
    );
    assert!(
        approval[0].1.contains("2 approvals needed"),
        "{approval:#?}"
    );
    assert!(approval[0].1.contains("not the initiator"), "{approval:#?}");
    assert_eq!(
        approval[1].1,
        "approved by admin-bob (1 of 2): tested in qa"
    );
    assert_eq!(approval[2].1, "approved by carol (2 of 2)");
    let prod_suspended = events.iter().position(|e| {
        e.kind == EventKind::Environment
            && e.environment.as_deref() == Some("prod")
            && e.status == "SUSPENDED"
    });
    let prod_step = events
        .iter()
        .position(|e| e.kind == EventKind::Step && e.environment.as_deref() == Some("prod"));
    assert!(prod_suspended.is_some() && prod_suspended < prod_step);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_fails_the_environment_with_its_reason() {
    let (fx, engine, waiting) = setup(None).await;
    let id = waiting.id.clone();
    decide(
        &engine,
        &id,
        &approver("admin-bob", "admin"),
        Decision::Approve,
        "ok",
    )
    .await
    .unwrap();
    decide(
        &engine,
        &id,
        &approver("carol", "viewer"),
        Decision::Reject,
        "the migration is not reviewed",
    )
    .await
    .unwrap();
    let done = wait_final(&engine, &id).await;
    assert_eq!(done.status, ReleaseStatus::Failed);
    let prod = done.environment("prod").unwrap();
    assert_eq!(prod.status, EnvironmentStatus::Failed);
    let issue = prod.issues.last().unwrap();
    assert_eq!(issue.kind, IssueKind::Approval);
    assert_eq!(
        issue.message,
        "rejected by carol: the migration is not reviewed"
    );
    // Nothing of prod ran; nothing reached its files.
    assert!(
        prod.applications
            .iter()
            .flat_map(|a| &a.steps)
            .all(|s| s.status == StepStatus::Skipped),
        "{prod:#?}"
    );
    assert!(
        !fx.remote_file("apps/web/prod/values.yaml")
            .contains("main-bbbb")
    );
    let events = history(&fx, &id).await;
    assert!(events.iter().any(|e| e.kind == EventKind::Approval
        && e.status == "REJECTED"
        && e.message.as_deref()
            == Some("rejected by carol (1 of 2): the migration is not reviewed")));

    // A retry asks again in a new round; the earlier decisions stay.
    engine.retry(&id, "admin-ann").await.unwrap();
    let again = wait_for(&engine, &id, 60, |r| {
        r.attempt == 2
            && r.environment("prod")
                .and_then(|e| e.waiting_reason())
                .is_some()
    })
    .await;
    let gate = again.environment("prod").unwrap().approval.clone().unwrap();
    assert_eq!(gate.round, 2);
    assert_eq!(gate.decisions.len(), 2);
    assert_eq!(
        again
            .environment("prod")
            .unwrap()
            .waiting_reason()
            .as_deref(),
        Some("waiting for approval (0 of 2)")
    );
    // carol decided in round 1, so she may decide again in round 2.
    decide(
        &engine,
        &id,
        &approver("carol", "viewer"),
        Decision::Approve,
        "reviewed now",
    )
    .await
    .unwrap();
    engine.terminate(&id, "admin-ann").await.unwrap();
    let ended = wait_final(&engine, &id).await;
    assert_eq!(ended.status, ReleaseStatus::Terminated);
    assert_eq!(env_status(&ended, "prod"), "TERMINATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gate_expires_on_the_engines_clock() {
    let start = time::OffsetDateTime::parse(
        "2026-12-07T08:00:00Z",
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let clock = ManualClock::new(start);
    let (_fx, engine, waiting) = setup(Some(&clock)).await;
    let id = waiting.id.clone();
    let gate = waiting
        .environment("prod")
        .unwrap()
        .approval
        .clone()
        .unwrap();
    assert_eq!(gate.requested_at, start);
    assert_eq!(gate.expires_at, Some(start + time::Duration::hours(2)));
    decide(
        &engine,
        &id,
        &approver("admin-bob", "admin"),
        Decision::Approve,
        "",
    )
    .await
    .unwrap();
    // Just before its expiry it still waits.
    clock.advance(time::Duration::minutes(119));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let still = engine.release(&id).await.unwrap().unwrap();
    assert_eq!(
        still
            .environment("prod")
            .unwrap()
            .waiting_reason()
            .as_deref(),
        Some("waiting for approval (1 of 2)")
    );
    clock.advance(time::Duration::minutes(1));
    let done = wait_final(&engine, &id).await;
    assert_eq!(done.status, ReleaseStatus::Failed);
    let prod = done.environment("prod").unwrap();
    let issue = prod.issues.last().unwrap();
    assert_eq!(issue.kind, IssueKind::Approval);
    assert_eq!(
        issue.message,
        "approval expired with 1 of 2 approvals (due 2026-12-07T10:00:00Z)"
    );
    let err = decide(
        &engine,
        &id,
        &approver("carol", "viewer"),
        Decision::Approve,
        "late",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ApprovalConflict(_)), "{err:?}");
}

/// The same person deciding twice at once, each request with its own
/// `Idempotency-Key`: one decision is recorded, the other refused — and
/// the refused request, sent again with its key, is refused again instead
/// of replaying an answer it never had (its key was not stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_decision_stores_no_idempotency_key() {
    let (_fx, engine, waiting) = setup(None).await;
    let id = waiting.id.clone();
    let bob = approver("admin-bob", "admin");
    let request = ask(Decision::Approve, "twice");
    let keyed = |key: &str| ferry_store::IdempotentRequest {
        scope: format!("admin-bob POST /api/v1/releases/{id}/approvals"),
        key: key.into(),
        fingerprint: "same body".into(),
        status: 200,
    };
    let (k1, k2) = (keyed("first"), keyed("second"));
    let (a, b) = tokio::join!(
        engine.decide_approval(&id, &request, &bob, Some(&k1)),
        engine.decide_approval(&id, &request, &bob, Some(&k2)),
    );
    let (won, lost) = match (a.is_ok(), b.is_ok()) {
        (true, false) => (&k1, &k2),
        (false, true) => (&k2, &k1),
        other => panic!("exactly one decision is taken: {other:?} {a:?} {b:?}"),
    };
    // The winner's repeat is answered from its first answer.
    assert!(
        engine
            .decide_approval(&id, &request, &bob, Some(won))
            .await
            .is_ok()
    );
    // The loser's repeat is decided again: refused, and still one decision.
    let err = engine
        .decide_approval(&id, &request, &bob, Some(lost))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ApprovalConflict(_)), "{err:?}");
    let now = engine.release(&id).await.unwrap().unwrap();
    let gate = now.environment("prod").unwrap().approval.as_ref().unwrap();
    assert_eq!(gate.decisions.len(), 1, "{:?}", gate.decisions);
}

async fn history(fx: &Fixture, id: &str) -> Vec<ferry_release::Event> {
    let store = ferry_store::Store::open(&fx.db).await.unwrap();
    store.events(id, 0, 10_000).await.unwrap()
}
