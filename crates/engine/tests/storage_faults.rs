//! Storage faults never strand or finish a release (issue 23). The
//! engine's store is wrapped so that it fails on purpose:
//! - unavailable for 3 s while releases run (every save and read fails as
//!   the store reports a pool timeout): the saves are retried, nothing is
//!   stored as finished meanwhile, the releases read from memory answer at
//!   once, and every release then succeeds with one commit per
//!   environment and a gapless history;
//! - one save refused for good (not a storage outage): the driver stops
//!   without recording more, gives its lease up, and the release is
//!   resumed from the store by the same engine and succeeds.

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
/// `refuse_save` (1-based, 0: none) with an error that is not an outage.
struct Flaky {
    inner: LeasedStore,
    down: Arc<AtomicBool>,
    saves: AtomicUsize,
    refuse_save: usize,
    refused: Arc<AtomicBool>,
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
    let (down, refused) = (Arc::clone(down), Arc::clone(refused));
    let engine = fx
        .replica_on(
            "engine-test",
            "cache",
            |_| {},
            move |inner| {
                Arc::new(Flaky {
                    inner,
                    down,
                    saves: AtomicUsize::new(0),
                    refuse_save,
                    refused,
                })
            },
        )
        .await;
    (fx, engine)
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
