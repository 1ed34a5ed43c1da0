//! `pr` promotions through a forge (the `PullRequests` hook) that cannot
//! open the pull request at once: while the forge's answers are transient
//! (5xx, 429, no answer) the environment waits SUSPENDED with one issue
//! saying so and the request is opened again; an answer retrying cannot
//! change fails the environment; terminating stops the retries.
//!
//! A terminated release leaves nothing open (SPEC §12): its pull request is
//! closed with a comment naming it and its branch deleted; a merge after
//! that (and the webhook saying so) neither resumes it nor is credited to
//! it; steps it never ran end TERMINATED.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::{Fixture, Setup, env_status, wait_final, wait_for};
use ferry_engine::{
    OpenedPullRequest, PromotionRequest, PullRequestError, PullRequestSpec, PullRequestState,
    PullRequests,
};
use ferry_release::{IssueKind, ReleaseStatus, StepPhase, StepStatus};

const PRODUCT: &str = r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: shop}
spec:
  promotionFlows: [{name: gated}]
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: gated}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: prod, dependsOn: [dev], policy: {action: pr}}
"#;

/// The forge's answer to an open that may succeed later.
#[derive(Debug)]
struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("POST /repos/acme/gitops/pulls: github answered 503: Service Unavailable")
    }
}

impl std::error::Error for Unavailable {}

/// A forge that refuses the first `transient` opens with 503 (or every
/// open for good with `permanent`), then opens pull request #5.
#[derive(Default)]
struct Forge {
    transient: AtomicU32,
    permanent: bool,
    opens: AtomicU32,
    opened: Mutex<Vec<PullRequestSpec>>,
    merged: AtomicBool,
    /// (number, comment) of every pull request closed.
    closed: Mutex<Vec<(u64, String)>>,
    /// Merged by someone just before ferry closes it (after ferry last
    /// looked).
    merged_before_close: AtomicBool,
}

#[async_trait]
impl PullRequests for Forge {
    fn handles(&self, _repo_url: &str) -> bool {
        true
    }

    async fn open(&self, spec: &PullRequestSpec) -> Result<OpenedPullRequest, PullRequestError> {
        self.opens.fetch_add(1, Ordering::SeqCst);
        if self.permanent {
            return Err(
                "POST /repos/acme/gitops/pulls: github answered 422: Validation Failed".into(),
            );
        }
        if self
            .transient
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(Box::new(Unavailable));
        }
        self.opened.lock().unwrap().push(spec.clone());
        Ok(OpenedPullRequest {
            number: 5,
            url: "https://github.example/acme/gitops/pull/5".into(),
        })
    }

    async fn state(
        &self,
        _repo_url: &str,
        _number: u64,
    ) -> Result<PullRequestState, PullRequestError> {
        Ok(if self.merged.load(Ordering::SeqCst) {
            PullRequestState::Merged { merge_commit: None }
        } else if !self.closed.lock().unwrap().is_empty() {
            PullRequestState::Closed
        } else {
            PullRequestState::Open
        })
    }

    async fn close(
        &self,
        repo_url: &str,
        number: u64,
        comment: &str,
    ) -> Result<PullRequestState, PullRequestError> {
        if self.merged_before_close.load(Ordering::SeqCst) {
            return Ok(PullRequestState::Merged { merge_commit: None });
        }
        let state = self.state(repo_url, number).await?;
        if state == PullRequestState::Open {
            self.closed
                .lock()
                .unwrap()
                .push((number, comment.to_owned()));
            return Ok(PullRequestState::Closed);
        }
        Ok(state)
    }

    fn poll_interval(&self, _repo_url: &str) -> Duration {
        Duration::from_millis(50)
    }

    fn is_transient(&self, error: &PullRequestError) -> bool {
        error.downcast_ref::<Unavailable>().is_some()
    }

    fn reopen_delay(&self, _repo_url: &str, _failures: u32) -> Duration {
        Duration::from_millis(30)
    }
}

fn fixture() -> Fixture {
    let fx = Fixture::new(Setup {
        environments: &["dev", "prod"],
        product: PRODUCT.into(),
    });
    fx.commit_dev("main-eeee", "4.0.0", "feat: gated");
    fx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_the_forge_cannot_open_yet_waits_suspended_and_is_opened_later() {
    let fx = fixture();
    let forge = Arc::new(Forge::default());
    forge.transient.store(4, Ordering::SeqCst);
    let engine = fx.engine_with_pull_requests(forge.clone()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    // While the forge answers 503 the environment waits, saying why.
    let waiting = wait_for(&engine, &release.id, 30, |r| {
        r.status == ReleaseStatus::Suspended
            && r.environment("prod").is_some_and(|e| !e.issues.is_empty())
    })
    .await;
    assert_eq!(env_status(&waiting, "prod"), "SUSPENDED");
    let issue = &waiting.environment("prod").unwrap().issues[0];
    assert_eq!(issue.kind, IssueKind::Forge);
    assert!(
        issue.message.contains("could not be opened yet") && issue.message.contains("503"),
        "{}",
        issue.message
    );
    // Then the forge opens it; the promotion waits for the merge as usual.
    let open = wait_for(&engine, &release.id, 30, |r| {
        r.environment("prod").unwrap().applications[0]
            .pull_request
            .is_some()
    })
    .await;
    assert_eq!(open.status, ReleaseStatus::Suspended);
    assert_eq!(
        open.environment("prod").unwrap().applications[0]
            .pull_request
            .as_ref()
            .unwrap()
            .number,
        5
    );
    assert_eq!(
        forge.opens.load(Ordering::SeqCst),
        5,
        "four refusals, one success"
    );
    assert_eq!(forge.opened.lock().unwrap().len(), 1, "opened once");
    fx.merge_branch("ferry/shop/prod/1", "Merge promotion PR");
    forge.merged.store(true, Ordering::SeqCst);
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    let issues = &done.environment("prod").unwrap().issues;
    assert_eq!(
        issues.len(),
        1,
        "one issue for the wait, not one per try: {issues:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_retrying_cannot_change_fails_the_environment() {
    let fx = fixture();
    let forge = Arc::new(Forge {
        permanent: true,
        ..Forge::default()
    });
    let engine = fx.engine_with_pull_requests(forge.clone()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Failed);
    let issue = &done.environment("prod").unwrap().issues[0];
    assert_eq!(issue.kind, IssueKind::Forge);
    assert!(issue.message.contains("422"), "{}", issue.message);
    assert_eq!(forge.opens.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_stops_the_retries() {
    let fx = fixture();
    let forge = Arc::new(Forge::default());
    forge.transient.store(u32::MAX, Ordering::SeqCst);
    let engine = fx.engine_with_pull_requests(forge.clone()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    wait_for(&engine, &release.id, 30, |r| {
        r.status == ReleaseStatus::Suspended
    })
    .await;
    engine.terminate(&release.id, "dan").await.unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
    let tries = forge.opens.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        forge.opens.load(Ordering::SeqCst),
        tries,
        "no more tries after terminate"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_closes_the_pull_request_and_deletes_its_branch_and_a_later_merge_changes_nothing()
 {
    let fx = fixture();
    let forge = Arc::new(Forge::default());
    let engine = fx.engine_with_pull_requests(forge.clone()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    let waiting = wait_for(&engine, &release.id, 30, |r| {
        r.environment("prod").unwrap().applications[0]
            .pull_request
            .is_some()
    })
    .await;
    // The step that waits on the pull request is SUSPENDED, like its
    // application — not RUNNING.
    let app = &waiting.environment("prod").unwrap().applications[0];
    assert_eq!(app.status.as_str(), "SUSPENDED");
    let pr_step = app
        .steps
        .iter()
        .find(|s| s.phase == StepPhase::Action)
        .unwrap();
    assert_eq!(pr_step.status, StepStatus::Suspended, "{pr_step:?}");
    let branch = "ferry/shop/prod/1";
    assert!(fx.remote_branches().contains(&branch.to_owned()));

    engine.terminate(&release.id, "dan").await.unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
    // Closed once, with a comment naming the release and who ended it.
    let closed = forge.closed.lock().unwrap().clone();
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0].0, 5);
    assert!(
        closed[0].1.contains("release [#1](")
            && closed[0].1.contains("/products/shop/releases/1)")
            && closed[0].1.contains("terminated by dan"),
        "{}",
        closed[0].1
    );
    // The branch is gone from the repository.
    assert!(
        !fx.remote_branches().iter().any(|b| b.starts_with("ferry/")),
        "{:?}",
        fx.remote_branches()
    );
    let app = &done.environment("prod").unwrap().applications[0];
    assert!(app.pull_request.as_ref().unwrap().closed_at.is_some());
    // No step is left PENDING or RUNNING; the ones never run are TERMINATED.
    for s in &app.steps {
        assert!(s.status.is_final(), "{s:?}");
    }
    let pr_step = app
        .steps
        .iter()
        .find(|s| s.phase == StepPhase::Action)
        .unwrap();
    assert_eq!(pr_step.status, StepStatus::Terminated);
    assert!(
        pr_step
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("pull request #5 closed, branch `ferry/shop/prod/1` deleted"),
        "{pr_step:?}"
    );
    let sync = app
        .steps
        .iter()
        .find(|s| s.phase == StepPhase::Sync)
        .unwrap();
    assert_eq!(sync.status, StepStatus::Terminated);
    assert_eq!(
        sync.message.as_deref(),
        Some("not run: the release was terminated")
    );
    assert!(done.environment("prod").unwrap().issues.is_empty());

    // Someone merges the pull request anyway (a forge that kept it, a
    // reopen): the webhook wakes nothing, the release stays as it ended.
    forge.merged.store(true, Ordering::SeqCst);
    let woken = engine.notify_pull_request(5, &|_| true);
    assert_eq!(woken, 0, "no promotion waits on it any more");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = engine.release(&release.id).await.unwrap().unwrap();
    assert_eq!(after, done, "a merge after termination changes nothing");
    assert!(!engine.is_driving(&release.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_request_that_cannot_be_closed_is_an_issue_saying_what_to_do() {
    let fx = fixture();
    let forge = Arc::new(Forge::default());
    let engine = fx.engine_with_pull_requests(forge.clone()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("gated"), "dan")
        .await
        .unwrap();
    wait_for(&engine, &release.id, 30, |r| {
        r.environment("prod").unwrap().applications[0]
            .pull_request
            .is_some()
    })
    .await;
    // Merged in the moment between ferry's last check and the terminate.
    forge.merged_before_close.store(true, Ordering::SeqCst);
    engine.terminate(&release.id, "dan").await.unwrap();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Terminated);
    assert!(
        forge.closed.lock().unwrap().is_empty(),
        "a merged one is left alone"
    );
    let issues = &done.environment("prod").unwrap().issues;
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0].kind, IssueKind::Forge);
    assert!(
        issues[0]
            .message
            .contains("pull request #5 was merged although the release was terminated"),
        "{}",
        issues[0].message
    );
    assert_eq!(
        issues[0].link.as_deref(),
        Some("https://github.example/acme/gitops/pull/5")
    );
}
