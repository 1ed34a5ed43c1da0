//! Storage faults never strand or finish a release (issue 23). The
//! engine's store is wrapped so that it fails on purpose:
//! - unavailable for 3 s while releases run (every save and read fails as
//!   the store reports a pool timeout): the saves are retried, nothing is
//!   stored as finished meanwhile, the releases read from memory answer at
//!   once, and every release then succeeds with one commit per
//!   environment and a gapless history;
//! - one save refused for good (not a storage outage): the driver stops
//!   without recording more, gives its lease up, and the release is
//!   resumed from the store by the same engine and succeeds;
//! - idempotency keys of retry and terminate stored with their effect, in
//!   one transaction, across crashes;
//! - a queue hand-over refused: the periodic scan hands the queue on;
//! - the workflow runner failing (not a storage fault): the step and its
//!   release fail, recorded, with nothing left RUNNING.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::*;
use ferry_engine::{Created, LeasedStore, Leases, PromotionRequest, ReleaseStore, StoreError};
use ferry_release::{Event, NewEvent, Release, ReleaseStatus, StepStatus};

const FLOW: &str = r#"apiVersion: codefresh.io/v1beta1
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
    - {environment: qa, dependsOn: [dev], policy: {preAction: pause}}
    - {environment: prod, dependsOn: [qa], policy: {postAction: pause}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: pause, annotations: {codefresh.io/workflow-origin: promotion}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {image: alpine, command: [sh], source: "sleep 1"}
"#;

/// A store that fails while `down`, and refuses the save numbered
/// `refuse_save` (1-based, 0: none) with an error that is not an outage;
/// while `refuse_keys` it refuses saves that store an idempotency key, and
/// it refuses the next `fail_queue_reads` reads of a product's queue —
/// both with errors that are not outages.
struct Flaky {
    inner: LeasedStore,
    down: Arc<AtomicBool>,
    saves: AtomicUsize,
    refuse_save: usize,
    refused: Arc<AtomicBool>,
    refuse_keys: Arc<AtomicBool>,
    fail_queue_reads: Arc<AtomicUsize>,
}

/// What a [`Flaky`] store refuses besides outages and a numbered save.
#[derive(Default, Clone)]
struct Refusals {
    keys: Arc<AtomicBool>,
    queue_reads: Arc<AtomicUsize>,
}

fn outage() -> StoreError {
    Box::new(ferry_store::Error::Database {
        operation: "saving (test outage)",
        source: sqlx::Error::PoolTimedOut,
    })
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(outage())
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl ReleaseStore for Flaky {
    async fn create(
        &self,
        release: Release,
        trigger_key: Option<String>,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        self.check()?;
        self.inner.create(release, trigger_key, events).await
    }
    async fn save(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, StoreError> {
        self.check()?;
        let n = self.saves.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.refuse_save {
            self.refused.store(true, Ordering::SeqCst);
            return Err("refused on purpose (not an outage)".into());
        }
        self.inner.save(release, events).await
    }
    async fn save_idempotent(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        request: &ferry_store::IdempotentRequest,
    ) -> Result<ferry_store::Saved, StoreError> {
        self.check()?;
        if self.refuse_keys.load(Ordering::SeqCst) {
            return Err("the idempotency key could not be stored (refused on purpose)".into());
        }
        self.inner.save_idempotent(release, events, request).await
    }
    async fn create_idempotent(
        &self,
        release: Release,
        request: &ferry_store::IdempotentRequest,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        self.check()?;
        self.inner.create_idempotent(release, request, events).await
    }
    async fn idempotent_answer(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<ferry_store::Remembered>, StoreError> {
        self.check()?;
        self.inner.idempotent_answer(scope, key).await
    }
    async fn get(&self, id: &str) -> Result<Option<Release>, StoreError> {
        self.check()?;
        self.inner.get(id).await
    }
    async fn active_ids(&self) -> Result<Vec<String>, StoreError> {
        self.check()?;
        self.inner.active_ids().await
    }
    async fn queued_of_product(&self, product: &str) -> Result<Vec<Release>, StoreError> {
        self.check()?;
        let refuse = self
            .fail_queue_reads
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if refuse {
            return Err("reading the queue refused on purpose (not an outage)".into());
        }
        self.inner.queued_of_product(product).await
    }
    async fn cursor_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.cursor_get(key).await
    }
    async fn cursor_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.cursor_set(key, value).await
    }
    async fn product_gate(
        &self,
        product: &str,
    ) -> Result<Option<ferry_store::ProductGate>, StoreError> {
        self.check()?;
        self.inner.product_gate(product).await
    }
    fn leases(&self) -> Option<&dyn Leases> {
        self.inner.leases()
    }
}

async fn stored(db: &str, id: &str) -> (Release, Vec<Event>) {
    let store = ferry_store::Store::open(db).await.unwrap();
    let r = store.get(id).await.unwrap().unwrap();
    let events = store.events(id, 0, 0).await.unwrap();
    store.close().await;
    (r, events)
}

fn commits_of(fx: &Fixture, id: &str, env: &str) -> usize {
    fx.remote_log()
        .iter()
        .filter(|m| m.contains(&format!("Ferry-Release: {id}")))
        .filter(|m| m.contains(&format!("Ferry-Environment: {env}")))
        .count()
}

fn assert_gapless(events: &[Event]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
}

/// A fixture with one product and an engine on a [`Flaky`] store that is
/// down while `down` and refuses save number `refuse_save`.
async fn flaky_engine(
    tag: &str,
    down: &Arc<AtomicBool>,
    refuse_save: usize,
    refused: &Arc<AtomicBool>,
) -> (Fixture, ferry_engine::Engine) {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: FLOW.into(),
    });
    fx.commit_dev(tag, "8.0.0", "feat: storage fault");
    let engine = engine_on(
        &fx,
        down,
        refuse_save,
        refused,
        &Refusals::default(),
        |_| {},
    )
    .await;
    (fx, engine)
}

/// An engine on `fx`'s database through a [`Flaky`] store.
async fn engine_on(
    fx: &Fixture,
    down: &Arc<AtomicBool>,
    refuse_save: usize,
    refused: &Arc<AtomicBool>,
    refusals: &Refusals,
    tweak: impl FnOnce(&mut ferry_engine::EngineSettings),
) -> ferry_engine::Engine {
    let (down, refused, refusals) = (Arc::clone(down), Arc::clone(refused), refusals.clone());
    fx.replica_on("engine-test", "cache", tweak, move |inner| {
        Arc::new(Flaky {
            inner,
            down,
            saves: AtomicUsize::new(0),
            refuse_save,
            refused,
            refuse_keys: refusals.keys,
            fail_queue_reads: refusals.queue_reads,
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_wait_out_an_outage_and_the_releases_succeed() {
    let down = Arc::new(AtomicBool::new(false));
    let (fx, engine) = flaky_engine("main-5678", &down, 0, &Arc::default()).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    // Down while qa's pre-action runs: its end and the commit wait.
    wait_for(&engine, &release.id, 30, |r| {
        r.environment("qa")
            .is_some_and(|e| e.applications[0].steps[0].status == StepStatus::Running)
    })
    .await;
    down.store(true, Ordering::SeqCst);
    let outage_started = Instant::now();
    while outage_started.elapsed() < Duration::from_secs(3) {
        // Reading the release being driven answers from memory at once.
        let t = Instant::now();
        let r = engine.release(&release.id).await.unwrap().unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "{:?}",
            t.elapsed()
        );
        assert!(r.finished_at.is_none(), "finished during the outage");
        assert!(!r.status.is_final());
        // A new promotion fails at once, saying why, instead of hanging.
        let t = Instant::now();
        let err = engine
            .promote("shop", PromotionRequest::for_flow("main"), "ivy")
            .await
            .unwrap_err();
        assert!(matches!(err, ferry_engine::Error::Unavailable(_)), "{err}");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (during, _) = stored(&fx.db, &release.id).await;
    assert!(during.finished_at.is_none());
    assert_eq!(during.status, ReleaseStatus::Running);
    down.store(false, Ordering::SeqCst);
    let back = Instant::now();
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    println!("finished {:?} after the outage", back.elapsed());
    let (stored, events) = stored(&fx.db, &release.id).await;
    assert_eq!(stored.status, ReleaseStatus::Succeeded);
    assert_gapless(&events);
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == ferry_release::EventKind::Release && e.status == "SUCCEEDED")
            .count(),
        1
    );
    for env in ["qa", "prod"] {
        assert_eq!(commits_of(&fx, &release.id, env), 1, "{env}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_that_cannot_save_stops_and_the_release_resumes() {
    let refused = Arc::new(AtomicBool::new(false));
    // Past the start and qa's first saves: mid-flight.
    let (fx, engine) = flaky_engine("main-9abc", &Arc::default(), 4, &refused).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let done = wait_for(&engine, &release.id, 90, |r| {
        r.finished_at.is_some() && r.status.is_final()
    })
    .await;
    assert!(refused.load(Ordering::SeqCst), "no save was refused");
    assert_eq!(
        done.status,
        ReleaseStatus::Succeeded,
        "{}",
        serde_json::to_string_pretty(&done).unwrap()
    );
    let (stored, events) = stored(&fx.db, &release.id).await;
    assert_eq!(stored.status, ReleaseStatus::Succeeded);
    assert_gapless(&events);
    assert!(!events.iter().any(|e| e.status == "FAILED"), "{events:#?}");
    for env in ["qa", "prod"] {
        assert_eq!(commits_of(&fx, &release.id, env), 1, "{env}");
    }
}

/// A promotion sent again with the same `Idempotency-Key` (its answer was
/// lost) is answered with the release the first one created; the same key
/// with another body is refused; another key is another release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_idempotent_promotion_creates_one_release() {
    let (_fx, engine) = flaky_engine("main-def0", &Arc::default(), 0, &Arc::default()).await;
    let request = |key: &str, fingerprint: &str| ferry_store::IdempotentRequest {
        scope: "ivy POST /api/v1/products/shop/promotions".into(),
        key: key.into(),
        fingerprint: fingerprint.into(),
        status: 201,
    };
    let first = match engine
        .promote_idempotent(
            "shop",
            PromotionRequest::for_flow("main"),
            "ivy",
            &request("k1", "a"),
        )
        .await
        .unwrap()
    {
        ferry_engine::Promoted::Created(r) => r,
        other => panic!("{other:?}"),
    };
    match engine
        .promote_idempotent(
            "shop",
            PromotionRequest::for_flow("main"),
            "ivy",
            &request("k1", "a"),
        )
        .await
        .unwrap()
    {
        ferry_engine::Promoted::Replayed { release, status } => {
            assert_eq!(release.id, first.id);
            assert_eq!(status, 201);
        }
        other => panic!("{other:?}"),
    }
    let err = engine
        .promote_idempotent(
            "shop",
            PromotionRequest::for_flow("main"),
            "ivy",
            &request("k1", "b"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ferry_engine::Error::IdempotencyKeyReused(_)),
        "{err}"
    );
    let second = engine
        .promote_idempotent(
            "shop",
            PromotionRequest::for_flow("main"),
            "ivy",
            &request("k2", "a"),
        )
        .await
        .unwrap();
    assert!(matches!(second, ferry_engine::Promoted::Created(r) if r.number == 2));
}

/// The second flow: qa's post-action fails until the `fixed` marker exists.
const FAILING: &str = r#"apiVersion: codefresh.io/v1beta1
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
    - {environment: qa, dependsOn: [dev], policy: {postAction: fail}}
"#;

/// Retry and terminate with an `Idempotency-Key` (issue 23): the key is
/// stored with the operation's effect, in one transaction. When the key
/// cannot be stored, neither is the effect (the answer is an error and a
/// resend acts once); once both are stored, a resend — after a crash of
/// the server, which loses the first answer — is answered with the first
/// status, never 409 "is RUNNING", and does not act a second time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_retry_and_terminate_survive_a_crash() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa"],
        product: FAILING.into(),
    });
    fx.commit_dev("main-1d3f", "8.1.0", "feat: idempotent operations");
    let (down, refused, refusals) = (Arc::default(), Arc::default(), Refusals::default());
    let engine = engine_on(&fx, &down, 0, &refused, &refusals, |_| {}).await;
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let failed = wait_final(&engine, &release.id).await;
    assert_eq!(failed.status, ReleaseStatus::Failed);
    let key = |action: &str, key: &str| ferry_store::IdempotentRequest {
        scope: format!("ivy POST /api/v1/releases/{}/{action}", release.id),
        key: key.into(),
        fingerprint: String::new(),
        status: 200,
    };
    let retry = key("retry", "r-1");

    // The key cannot be stored: the retry is not either.
    refusals.keys.store(true, Ordering::SeqCst);
    let err = engine
        .retry_idempotent(&release.id, "ivy", &retry)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("refused on purpose"), "{err}");
    let (unchanged, _) = stored(&fx.db, &release.id).await;
    assert_eq!(unchanged.status, ReleaseStatus::Failed);
    assert!(unchanged.finished_at.is_some());
    refusals.keys.store(false, Ordering::SeqCst);

    // The resend acts, once; the server dies before its answer is sent.
    std::fs::write(fx.markers().join("fixed"), "").unwrap();
    let retried = engine
        .retry_idempotent(&release.id, "ivy", &retry)
        .await
        .unwrap();
    assert!(
        matches!(&retried, ferry_engine::Promoted::Created(r) if r.status == ReleaseStatus::Running),
        "{retried:?}"
    );
    engine.shutdown();
    engine.release_leases().await;
    drop(engine);

    // After the restart the client sends it again: the first answer.
    let engine = engine_on(&fx, &down, 0, &refused, &refusals, |_| {}).await;
    match engine
        .retry_idempotent(&release.id, "ivy", &retry)
        .await
        .unwrap()
    {
        ferry_engine::Promoted::Replayed { release: r, status } => {
            assert_eq!((r.id.as_str(), status), (release.id.as_str(), 200));
        }
        other => panic!("a resend after the crash acted again: {other:?}"),
    }
    let done = wait_final(&engine, &release.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    // Still answered from the key once the release finished: no second retry.
    assert!(matches!(
        engine
            .retry_idempotent(&release.id, "ivy", &retry)
            .await
            .unwrap(),
        ferry_engine::Promoted::Replayed { .. }
    ));
    let (_, events) = stored(&fx.db, &release.id).await;
    assert_gapless(&events);
    let retries = events
        .iter()
        .filter(|e| {
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("retry requested"))
        })
        .count();
    assert_eq!(retries, 1, "{events:#?}");
    // Without the key the same request is refused: it would have been 409.
    let err = engine.retry(&release.id, "ivy").await.unwrap_err();
    assert!(matches!(err, ferry_engine::Error::Conflict { .. }), "{err}");

    // Terminate: the same, on a release still running.
    std::fs::remove_file(fx.markers().join("fixed")).unwrap();
    fx.commit_dev("main-2e4a", "8.2.0", "feat: terminate me");
    let second = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let terminate = ferry_store::IdempotentRequest {
        scope: format!("ivy POST /api/v1/releases/{}/terminate", second.id),
        ..key("terminate", "t-1")
    };
    assert!(matches!(
        engine
            .terminate_idempotent(&second.id, "ivy", &terminate)
            .await
            .unwrap(),
        ferry_engine::Promoted::Created(_)
    ));
    engine.shutdown();
    engine.release_leases().await;
    drop(engine);
    let engine = engine_on(&fx, &down, 0, &refused, &refusals, |_| {}).await;
    let ended = wait_final(&engine, &second.id).await;
    assert_eq!(ended.status, ReleaseStatus::Terminated);
    match engine
        .terminate_idempotent(&second.id, "ivy", &terminate)
        .await
        .unwrap()
    {
        ferry_engine::Promoted::Replayed { release: r, status } => {
            assert_eq!((r.status, status), (ReleaseStatus::Terminated, 200));
        }
        other => panic!("{other:?}"),
    }
    let err = engine.terminate(&second.id, "ivy").await.unwrap_err();
    assert!(matches!(err, ferry_engine::Error::Conflict { .. }), "{err}");
}

/// A queue hand-over refused by the store (a fault that is not an outage,
/// so it is not waited out): the queued release would wait for the
/// product's next release to end. The periodic scan hands it on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_queue_hand_over_is_made_by_the_scan() {
    let fx = Fixture::new(Setup {
        environments: &["dev", "qa", "prod"],
        product: FLOW.into(),
    });
    fx.commit_dev("main-3f5b", "8.3.0", "feat: queued");
    let refusals = Refusals::default();
    let engine = engine_on(&fx, &Arc::default(), 0, &Arc::default(), &refusals, |s| {
        s.queue_scan_interval = Duration::from_millis(500)
    })
    .await;
    let first = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let second = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    assert_eq!(second.status, ReleaseStatus::Queued);
    // The hand-over when the first ends is refused (and a scan meeting
    // the end first is refused too).
    refusals.queue_reads.store(2, Ordering::SeqCst);
    let done = wait_final(&engine, &first.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
    let started = wait_for(&engine, &second.id, 30, |r| {
        r.status != ReleaseStatus::Queued
    })
    .await;
    assert_eq!(
        refusals.queue_reads.load(Ordering::SeqCst),
        0,
        "the hand-over was not refused"
    );
    assert!(!started.status.is_final() || started.status == ReleaseStatus::Succeeded);
    let done = wait_final(&engine, &second.id).await;
    assert_eq!(done.status, ReleaseStatus::Succeeded);
}

/// The workflow runner failing — not a storage fault; here the local
/// executor cannot make its run directory — fails the step and its
/// release with the runner's error, recorded: the release ends FAILED and
/// finished, nothing left RUNNING, and the environment holds the issue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_error_fails_the_step_and_the_release() {
    let (fx, engine) = flaky_engine("main-4a6c", &Arc::default(), 0, &Arc::default()).await;
    let runs = fx.dir.path().join("runs");
    let _ = std::fs::remove_dir_all(&runs);
    std::fs::write(&runs, "not a directory").unwrap();
    let release = engine
        .promote("shop", PromotionRequest::for_flow("main"), "ivy")
        .await
        .unwrap();
    let done = wait_final(&engine, &release.id).await;
    let json = serde_json::to_string_pretty(&done).unwrap();
    assert_eq!(done.status, ReleaseStatus::Failed, "{json}");
    let qa = done.environment("qa").unwrap();
    assert_eq!(
        qa.status,
        ferry_release::EnvironmentStatus::Failed,
        "{json}"
    );
    assert_eq!(
        qa.applications[0].status,
        ferry_release::EnvironmentStatus::Failed,
        "{json}"
    );
    let pre = &qa.applications[0].steps[0];
    assert_eq!(pre.status, StepStatus::Failed, "{json}");
    assert!(pre.finished_at.is_some(), "{json}");
    let issue = qa
        .issues
        .iter()
        .find(|i| i.kind == ferry_release::IssueKind::Internal);
    let issue = issue.unwrap_or_else(|| panic!("no internal issue: {json}"));
    assert!(
        issue.message.contains("workflow `pause` could not be run"),
        "{json}"
    );
    for e in &done.environments {
        for a in &e.applications {
            for s in &a.steps {
                assert_ne!(s.status, StepStatus::Running, "{json}");
            }
        }
    }
    assert_eq!(
        done.environment("prod").unwrap().status,
        ferry_release::EnvironmentStatus::Pending
    );
    let (stored, events) = stored(&fx.db, &release.id).await;
    assert_eq!(stored.status, ReleaseStatus::Failed);
    assert!(stored.finished_at.is_some());
    assert_gapless(&events);
}
