//! The status publisher against an in-test GitHub: the SPEC §8 mapping,
//! coalescing, retries with Retry-After / rate-limit headers, and the last
//! state winning under injected faults.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Answer;
use ferry_forge::registry::Entry;
use ferry_forge::status::statuses;
use ferry_forge::{ForgeKind, GitHub, Registry, RetryPolicy, Secret, StatusPublisher, StatusState};
use serde_json::json;

const REPO: &str = "https://github.com/acme/gitops.git";
const BASE: &str = "https://ferry.example";

fn sha(n: u64) -> String {
    format!("{n:040x}")
}

fn registry(api: &str, timeout: Duration) -> Arc<Registry> {
    Arc::new(Registry::from_forges(vec![Entry {
        kind: ForgeKind::Github,
        repo_prefix: "https://github.com/".into(),
        forge: Arc::new(GitHub::new(api, Secret::new("t"), Secret::default(), timeout).unwrap()),
        webhook_secret: Secret::default(),
        poll_interval: Duration::from_secs(60),
        web_path: String::new(),
        retry: None,
    }]))
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(100),
        max_attempts: 30,
    }
}

#[test]
fn spec_mapping_contexts_and_links() {
    let r = common::release(
        REPO,
        &sha(1),
        "shop",
        4,
        "FAILED",
        &[
            ("qa", "SUCCESSFUL"),
            ("staging", "FAILED"),
            ("prod", "PENDING"),
            ("perf", "TERMINATED"),
            ("uat", "SUSPENDED"),
            ("demo", "RUNNING"),
        ],
    );
    let got = statuses(&r, "https://ferry.example/");
    let by_context: HashMap<String, _> = got
        .iter()
        .map(|(repo, s, st)| {
            assert_eq!(repo, REPO);
            assert_eq!(s, &sha(1));
            (st.context.clone(), st.clone())
        })
        .collect();
    assert_eq!(
        by_context.len(),
        7,
        "one per target environment and one for the release; the trigger environment has none"
    );
    let state = |c: &str| by_context[c].state;
    assert_eq!(state("ferry/shop"), StatusState::Failure);
    assert_eq!(state("ferry/shop/qa"), StatusState::Success);
    assert_eq!(state("ferry/shop/staging"), StatusState::Failure);
    assert_eq!(state("ferry/shop/prod"), StatusState::Pending);
    assert_eq!(state("ferry/shop/perf"), StatusState::Error);
    // SUSPENDED: `pending` on GitHub (SPEC §8), `running` on GitLab.
    assert_eq!(state("ferry/shop/uat"), StatusState::Waiting);
    assert_eq!(state("ferry/shop/demo"), StatusState::Running);
    assert!(!by_context.contains_key("ferry/shop/dev"));
    assert_eq!(
        by_context["ferry/shop/staging"].target_url,
        "https://ferry.example/products/shop/releases/4#env-staging"
    );
    assert_eq!(
        by_context["ferry/shop"].target_url,
        "https://ferry.example/products/shop/releases/4"
    );
    assert_eq!(
        by_context["ferry/shop/prod"].description,
        "prod: waiting for staging"
    );
    assert_eq!(
        by_context["ferry/shop/qa"].description,
        "qa: 1.2.3 promoted"
    );
    for s in by_context.values() {
        assert!(s.description.chars().count() <= 140);
    }
}

/// A GitHub that keeps the last accepted state per (sha, context).
type Board = Arc<Mutex<HashMap<(String, String), String>>>;

fn accept(board: &Board, path: &str, body: &serde_json::Value) -> Answer {
    let sha = path.rsplit('/').next().unwrap_or("").to_owned();
    let ctx = body["context"].as_str().unwrap_or("").to_owned();
    let state = body["state"].as_str().unwrap_or("").to_owned();
    board.lock().unwrap().insert((sha, ctx), state.clone());
    Answer::json(
        201,
        json!({"id": 1, "state": state, "context": body["context"]}),
    )
}

#[tokio::test]
async fn identical_updates_are_coalesced() {
    let board: Board = Arc::default();
    let b2 = Arc::clone(&board);
    let fake = common::start(move |r| accept(&b2, &r.path, &r.body)).await;
    let p = StatusPublisher::new(
        registry(&fake.url(""), Duration::from_secs(5)),
        BASE,
        fast_policy(),
    );
    let r = common::release(
        REPO,
        &sha(7),
        "shop",
        1,
        "RUNNING",
        &[("qa", "RUNNING"), ("prod", "PENDING")],
    );
    for _ in 0..10 {
        p.publish(&r);
    }
    p.idle().await;
    assert_eq!(fake.requests().len(), 3, "one call per context");
    let r2 = common::release(
        REPO,
        &sha(7),
        "shop",
        1,
        "RUNNING",
        &[("qa", "SUCCESSFUL"), ("prod", "RUNNING")],
    );
    for _ in 0..5 {
        p.publish(&r2);
    }
    p.idle().await;
    // qa and prod changed state; the release's own context stays RUNNING
    // but now says "promoting to prod": a new description is sent too.
    assert_eq!(fake.requests().len(), 6, "the three changed contexts");
    let last_release_status = fake
        .requests()
        .iter()
        .rev()
        .find(|r| r.body["context"] == "ferry/shop")
        .map(|r| r.body["description"].to_string())
        .unwrap_or_default();
    assert!(
        last_release_status.contains("promoting to prod"),
        "{last_release_status}"
    );
    let s = p.stats();
    assert_eq!(s.calls, 6);
    assert_eq!(s.changes, 6);
    // The same release again: nothing new to say.
    p.publish(&r2);
    p.idle().await;
    assert_eq!(fake.requests().len(), 6);
    assert_eq!(
        board.lock().unwrap()[&(sha(7), "ferry/shop/qa".to_string())],
        "success"
    );
    // A repository without a forge entry gets nothing.
    let other = common::release(
        "https://gitlab.com/a/b.git",
        &sha(8),
        "shop",
        2,
        "RUNNING",
        &[("qa", "RUNNING")],
    );
    p.publish(&other);
    p.idle().await;
    assert_eq!(fake.requests().len(), 6);
}

#[tokio::test]
async fn retry_after_and_rate_limit_reset_are_honoured() {
    let n = Arc::new(AtomicU64::new(0));
    let board: Board = Arc::default();
    let (n2, b2) = (Arc::clone(&n), Arc::clone(&board));
    let fake = common::start(move |r| match n2.fetch_add(1, Ordering::SeqCst) {
        0 => Answer::json(429, json!({"message": "slow down"})).header("retry-after", "1"),
        1 => {
            let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 2;
            Answer::json(403, json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}))
                .header("x-ratelimit-remaining", "0")
                .header("x-ratelimit-reset", reset.to_string())
        }
        _ => accept(&b2, &r.path, &r.body),
    })
    .await;
    let p = StatusPublisher::new(
        registry(&fake.url(""), Duration::from_secs(5)),
        BASE,
        fast_policy(),
    );
    let r = common::release(REPO, &sha(9), "shop", 1, "SUCCEEDED", &[]);
    p.publish(&r);
    p.idle().await;
    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs[1].at - reqs[0].at >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    assert!(
        reqs[2].at - reqs[1].at >= Duration::from_secs(1),
        "x-ratelimit-reset was not waited for"
    );
    assert_eq!(
        board.lock().unwrap()[&(sha(9), "ferry/shop".to_string())],
        "success"
    );
}

/// Walks releases through their life; with 30 % of calls failing (500,
/// 429 + Retry-After, or a timeout), every context ends at the final state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_state_wins_under_faults() {
    let board: Board = Arc::default();
    let b2 = Arc::clone(&board);
    let counter = Arc::new(AtomicU64::new(0));
    let c2 = Arc::clone(&counter);
    let fake = common::start(move |r| {
        // A fixed pseudo-random sequence: the run is reproducible.
        let i = c2.fetch_add(1, Ordering::SeqCst);
        let roll = (i.wrapping_mul(2654435761) >> 7) % 100;
        match roll {
            0..10 => Answer::json(500, json!({"message": "Server Error"})),
            10..20 => Answer::json(429, json!({"message": "slow down"})).header("retry-after", "0"),
            20..30 => {
                // The forge applied it, but the answer never arrives in time.
                let mut a = accept(&b2, &r.path, &r.body);
                a.delay = Some(Duration::from_millis(600));
                a
            }
            _ => accept(&b2, &r.path, &r.body),
        }
    })
    .await;
    let p = StatusPublisher::new(
        registry(&fake.url(""), Duration::from_millis(200)),
        BASE,
        fast_policy(),
    );
    let lifecycle: [(&str, [&str; 3]); 6] = [
        ("QUEUED", ["PENDING", "PENDING", "PENDING"]),
        ("RUNNING", ["RUNNING", "PENDING", "PENDING"]),
        ("RUNNING", ["SUCCESSFUL", "RUNNING", "PENDING"]),
        ("SUSPENDED", ["SUCCESSFUL", "SUSPENDED", "PENDING"]),
        ("RUNNING", ["SUCCESSFUL", "SUCCESSFUL", "RUNNING"]),
        ("FAILED", ["SUCCESSFUL", "SUCCESSFUL", "FAILED"]),
    ];
    let names = ["qa", "staging", "prod"];
    for (step, (status, envs)) in lifecycle.iter().enumerate() {
        for n in 0..20u64 {
            let envs: Vec<(&str, &str)> = names.iter().copied().zip(envs.iter().copied()).collect();
            // Odd releases end SUCCEEDED instead.
            let (status, envs) = if step == 5 && n % 2 == 1 {
                (
                    "SUCCEEDED",
                    vec![
                        ("qa", "SUCCESSFUL"),
                        ("staging", "SUCCESSFUL"),
                        ("prod", "SUCCESSFUL"),
                    ],
                )
            } else {
                (*status, envs)
            };
            p.publish(&common::release(
                REPO,
                &sha(100 + n),
                "shop",
                n + 1,
                status,
                &envs,
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    p.idle().await;
    let stats = p.stats();
    assert!(stats.failed_calls > 0, "no fault was injected");
    assert_eq!(stats.abandoned, 0);
    let board = board.lock().unwrap();
    for n in 0..20u64 {
        let want = |c: &str| board.get(&(sha(100 + n), c.to_string())).cloned();
        let ok = n % 2 == 1;
        assert_eq!(
            want("ferry/shop").as_deref(),
            Some(if ok { "success" } else { "failure" }),
            "release {n}"
        );
        assert_eq!(want("ferry/shop/qa").as_deref(), Some("success"));
        assert_eq!(want("ferry/shop/staging").as_deref(), Some("success"));
        assert_eq!(
            want("ferry/shop/prod").as_deref(),
            Some(if ok { "success" } else { "failure" }),
            "release {n}"
        );
    }
}

// ------------------------------------------------ GitLab's state machine

/// The life of a release whose `qa` environment promotes through a pull
/// request, as the engine's saves show it: (release status, qa status,
/// qa's steps as (name, phase, status), pull request number).
fn pr_lifecycle() -> Vec<ferry_release::Release> {
    use ferry_release::{PullRequest, StepPhase, StepRun, StepStatus};
    let step = |name: &str, phase, status| StepRun {
        status,
        ..StepRun::pending(name, phase)
    };
    let stages: Vec<(&str, &str, Vec<StepRun>, bool)> = vec![
        ("RUNNING", "PENDING", vec![], false),
        (
            "RUNNING",
            "RUNNING",
            vec![
                step("smoke", StepPhase::PreAction, StepStatus::Running),
                step("pr", StepPhase::Action, StepStatus::Pending),
                step("sync", StepPhase::Sync, StepStatus::Pending),
            ],
            false,
        ),
        (
            "RUNNING",
            "RUNNING",
            vec![
                step("smoke", StepPhase::PreAction, StepStatus::Success),
                step("pr", StepPhase::Action, StepStatus::Running),
                step("sync", StepPhase::Sync, StepStatus::Pending),
            ],
            false,
        ),
        (
            "SUSPENDED",
            "SUSPENDED",
            vec![
                step("smoke", StepPhase::PreAction, StepStatus::Success),
                step("pr", StepPhase::Action, StepStatus::Running),
                step("sync", StepPhase::Sync, StepStatus::Pending),
            ],
            true,
        ),
        (
            "RUNNING",
            "RUNNING",
            vec![
                step("smoke", StepPhase::PreAction, StepStatus::Success),
                step("pr", StepPhase::Action, StepStatus::Success),
                step("sync", StepPhase::Sync, StepStatus::Running),
            ],
            true,
        ),
        (
            "SUCCEEDED",
            "SUCCESSFUL",
            vec![
                step("smoke", StepPhase::PreAction, StepStatus::Success),
                step("pr", StepPhase::Action, StepStatus::Success),
                step("sync", StepPhase::Sync, StepStatus::Success),
            ],
            true,
        ),
    ];
    stages
        .into_iter()
        .map(|(rel, qa, steps, pr)| {
            let mut r = common::release(GITLAB_REPO, &sha(1), "shop", 4, rel, &[("qa", qa)]);
            let app = &mut r.environments[1].applications[0];
            app.steps = steps;
            if pr {
                app.pull_request = Some(PullRequest {
                    number: 7,
                    url: "https://gitlab.example/group/gitops/-/merge_requests/7".into(),
                    branch: "ferry/shop/qa/4".into(),
                    head: Some(sha(2)),
                    closed_at: None,
                });
            }
            r
        })
        .collect()
}

const GITLAB_REPO: &str = "https://gitlab.example/group/gitops.git";

async fn gitlab_publisher(fake: &ferry_forge::fake::FakeForge) -> StatusPublisher {
    let entry = ferry_forge::ForgeEntry {
        kind: Some(ForgeKind::Gitlab),
        repo_prefix: "https://gitlab.example/".into(),
        api_url: Some(fake.api_url()),
        token: Some(Secret::new("fake-token")),
        ..ferry_forge::ForgeEntry::default()
    };
    let registry = Arc::new(Registry::from_entries(&[entry], |_| None).unwrap());
    StatusPublisher::new(registry, BASE, fast_policy())
}

/// GitLab refuses a second description in the same state and any way
/// back to `pending`: through a pull-request wait the publisher sends
/// only what GitLab takes, counts the rest as refused (never delivered),
/// and every context ends final with the current description, on the
/// trigger commit and on the merge request's head commit.
#[tokio::test]
async fn gitlab_a_pull_request_wait_ends_final_and_current() {
    let fake = ferry_forge::fake::FakeForge::start(
        ForgeKind::Gitlab,
        ferry_forge::fake::Options::default(),
    )
    .await;
    let publisher = gitlab_publisher(&fake).await;
    let life = pr_lifecycle();
    for r in &life {
        publisher.publish(r);
        publisher.idle().await;
    }
    let last = life.last().unwrap();
    let wanted = statuses(last, BASE);
    for commit in [sha(1), sha(2)] {
        let shown = fake.latest(&commit);
        for (_, c, s) in wanted.iter().filter(|(_, c, _)| *c == commit) {
            let got = &shown[&s.context];
            assert_eq!(got.state, "success", "{c} {}", s.context);
            assert_eq!(got.description, s.description, "{c} {}: current", s.context);
            assert_eq!(got.target_url, s.target_url);
        }
        assert_eq!(shown.len(), 2, "ferry/shop and ferry/shop/qa on {commit}");
    }
    let st = publisher.stats();
    // The publisher knew the machine: GitLab never had to refuse.
    assert_eq!(fake.refused_transitions(), 0);
    assert_eq!(
        st.delivered,
        fake.history().len() as u64,
        "only what GitLab accepted counts as delivered"
    );
    assert!(st.refused >= 3, "same-state changes were not sent: {st:?}");
    assert_eq!(st.abandoned, 0);
    // While waiting for the merge request the environment was `running`
    // on GitLab (no way back to `pending`), and the merge request's head
    // commit said what it waits for.
    let head_history: Vec<_> = fake
        .history()
        .into_iter()
        .filter(|s| s.sha == sha(2) && s.context == "ferry/shop/qa")
        .map(|s| (s.state, s.description))
        .collect();
    assert_eq!(
        head_history,
        vec![
            (
                "running".to_string(),
                "qa: waiting for pull request #7 to be merged".to_string()
            ),
            ("success".to_string(), "qa: 1.2.3 promoted".to_string()),
        ]
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

/// A publisher that does not know what was delivered (a restart, another
/// replica) sends a transition GitLab refuses: 400 "Cannot transition
/// status", counted as refused, not as delivered, not retried; the final
/// state still lands.
#[tokio::test]
async fn gitlab_a_refused_transition_is_not_delivered() {
    let fake = ferry_forge::fake::FakeForge::start(
        ForgeKind::Gitlab,
        ferry_forge::fake::Options::default(),
    )
    .await;
    let life = pr_lifecycle();
    let first = gitlab_publisher(&fake).await;
    first.publish(&life[1]);
    first.idle().await;
    let before = fake.history().len();
    let second = gitlab_publisher(&fake).await;
    second.publish(&life[4]);
    second.idle().await;
    let st = second.stats();
    assert!(fake.refused_transitions() >= 1);
    assert_eq!(st.refused, fake.refused_transitions());
    assert_eq!(
        st.delivered as usize,
        fake.history().len() - before,
        "refused calls are not counted as delivered"
    );
    second.publish(&life[5]);
    second.idle().await;
    for (_, c, s) in statuses(&life[5], BASE) {
        if c == sha(1) {
            assert_eq!(fake.latest(&c)[&s.context].state, "success");
            assert_eq!(fake.latest(&c)[&s.context].description, s.description);
        }
    }
}

/// A `pr` promotion whose pull request the forge could not open yet says
/// so (the engine waits SUSPENDED and opens it again).
#[test]
fn a_pull_request_not_opened_yet_is_described() {
    use ferry_release::{StepPhase, StepRun, StepStatus};
    let mut r = common::release(
        REPO,
        &sha(1),
        "shop",
        4,
        "SUSPENDED",
        &[("prod", "SUSPENDED")],
    );
    r.environments[1].applications[0].steps = vec![StepRun {
        status: StepStatus::Running,
        ..StepRun::pending("pr", StepPhase::Action)
    }];
    let s = statuses(&r, BASE);
    let prod = s
        .iter()
        .find(|(_, _, s)| s.context == "ferry/shop/prod")
        .unwrap();
    assert_eq!(prod.2.state, StatusState::Waiting);
    assert_eq!(
        prod.2.description,
        "prod: the pull request for shop-prod could not be opened yet; trying again"
    );
}

/// An environment held at an approval gate (issue 20) says so in its
/// commit status, with how many approvals it has: `pending` on GitHub.
#[test]
fn an_approval_gate_is_described_with_its_count() {
    use ferry_release::{ApprovalDecision, ApprovalRun, Decision};
    let mut r = common::release(
        GITLAB_REPO,
        &sha(1),
        "shop",
        4,
        "SUSPENDED",
        &[("qa", "SUSPENDED")],
    );
    r.environments[1].approval = Some(ApprovalRun {
        required: 2,
        round: 1,
        requested_at: ferry_release::now(),
        expires_at: None,
        approvers: "a token with role admin".into(),
        not_initiator: true,
        decisions: vec![ApprovalDecision {
            by: "ann".into(),
            decision: Decision::Approve,
            comment: None,
            at: ferry_release::now(),
            round: 1,
        }],
        expired_at: None,
    });
    let qa = statuses(&r, BASE)
        .into_iter()
        .find(|(_, _, s)| s.context == "ferry/shop/qa")
        .map(|(_, _, s)| s)
        .expect("a status for qa");
    assert_eq!(qa.description, "qa: waiting for approval (1 of 2)");
    assert_eq!(qa.state, StatusState::Waiting);
}

/// An environment held by a closed promotion window (issue 20): its
/// status and the release's say why and until when.
#[test]
fn an_environment_held_by_a_window_says_why() {
    let mut r = common::release(
        REPO,
        &sha(1),
        "shop",
        4,
        "SUSPENDED",
        &[("staging", "SUCCESSFUL"), ("prod", "SUSPENDED")],
    );
    let reason = "outside window \"prod-hours\" until 2026-12-07 09:00 UTC";
    r.environments[2].hold = Some(ferry_release::Hold {
        kind: ferry_release::HoldKind::Window,
        reason: reason.into(),
        until: None,
        by: "prod-hours".into(),
        since: ferry_release::now(),
    });
    let s = statuses(&r, BASE);
    let of = |c: &str| s.iter().find(|(_, _, s)| s.context == c).unwrap().2.clone();
    assert_eq!(of("ferry/shop/prod").state, StatusState::Waiting);
    assert_eq!(of("ferry/shop/prod").description, format!("prod: {reason}"));
    assert_eq!(
        of("ferry/shop").description,
        format!("release #4 (1.2.3): prod: {reason}")
    );
}
