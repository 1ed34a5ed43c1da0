//! Scale-out (issue 11) on both backends: leases (exclusive, renewed,
//! expiring, checked by every save on behalf of a holder), cursors moved
//! by compare-and-set, webhook deliveries recorded once, and (PostgreSQL)
//! event notices that reach a listener on another connection.

mod common;
mod pg_cluster;

use std::time::Duration;

use common::{first_events, release, sqlite_url};
use ferry_release::{EventKind, Release, ReleaseStatus};
use ferry_store::{Created, Error, EventNotice, Lease, NewEvent, Store};

const LONG: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(300);

async fn create(store: &Store, product: &str) -> Release {
    match store
        .create_release(release(product), None, first_events())
        .await
        .unwrap()
    {
        Created::New(r, _) => r,
        other => panic!("not created: {other:?}"),
    }
}

fn step(status: &str) -> Vec<NewEvent> {
    vec![NewEvent::new(EventKind::Release, status)]
}

async fn leases(url: &str) {
    let a = Store::open(url).await.unwrap();
    let b = Store::open(url).await.unwrap();
    let r = create(&a, "shop").await;
    let id = r.id.as_str();
    assert_eq!(
        a.lease_of(id).await.unwrap(),
        Some(Lease {
            holder: None,
            live: false
        })
    );
    assert_eq!(a.lease_of("01J0NOTTHERE").await.unwrap(), None);

    // Exclusive: the first taker wins, the second is refused; retaking
    // one's own lease extends it.
    assert!(a.lease_acquire(id, "replica-a", LONG).await.unwrap());
    assert!(!b.lease_acquire(id, "replica-b", LONG).await.unwrap());
    assert!(a.lease_acquire(id, "replica-a", LONG).await.unwrap());
    let lease = b.lease_of(id).await.unwrap().unwrap();
    assert_eq!(lease.holder.as_deref(), Some("replica-a"));
    assert!(lease.live);

    // Saves on behalf of the holder pass, others' are refused and write
    // nothing.
    a.save_held(&r, step("RUNNING"), "replica-a").await.unwrap();
    let err = b
        .save_held(&r, step("FAILED"), "replica-b")
        .await
        .unwrap_err();
    match &err {
        Error::LeaseLost { id: eid, holder } => {
            assert_eq!(eid, id);
            assert_eq!(holder, "replica-a");
        }
        other => panic!("expected LeaseLost, got {other}"),
    }
    assert!(err.to_string().contains("another replica"), "{err}");
    let events = a.events(id, 0, 0).await.unwrap();
    assert_eq!(events.len(), first_events().len() + 1);
    assert_eq!(events.last().unwrap().status, "RUNNING");

    // Renewal returns what the holder still holds; nobody drives an
    // actively leased release.
    assert_eq!(
        a.lease_renew("replica-a", LONG).await.unwrap(),
        vec![id.to_owned()]
    );
    assert!(b.lease_renew("replica-b", LONG).await.unwrap().is_empty());
    assert!(!b.lease_orphans(SHORT, 10).await.unwrap().contains(&r.id));

    // A lease that is not renewed runs out: the release is an orphan,
    // another replica takes it, and the old holder's saves and renewals
    // fail from then on.
    assert!(a.lease_acquire(id, "replica-a", SHORT).await.unwrap());
    tokio::time::sleep(SHORT * 3).await;
    assert!(!b.lease_of(id).await.unwrap().unwrap().live);
    assert_eq!(
        b.lease_orphans(SHORT, 10).await.unwrap(),
        vec![r.id.clone()]
    );
    assert!(b.lease_acquire(id, "replica-b", LONG).await.unwrap());
    assert!(b.lease_orphans(SHORT, 10).await.unwrap().is_empty());
    assert!(a.lease_renew("replica-a", LONG).await.unwrap().is_empty());
    assert!(matches!(
        a.save_held(&r, step("RUNNING"), "replica-a").await,
        Err(Error::LeaseLost { .. })
    ));
    b.save_held(&r, step("RUNNING"), "replica-b").await.unwrap();

    // Taking over for an operation works on a live lease; giving up only
    // releases one's own lease.
    assert!(a.lease_take(id, "replica-a", LONG).await.unwrap());
    b.lease_release(id, "replica-b").await.unwrap();
    assert_eq!(
        a.lease_of(id).await.unwrap().unwrap().holder.as_deref(),
        Some("replica-a")
    );
    a.lease_release(id, "replica-a").await.unwrap();
    assert_eq!(a.lease_of(id).await.unwrap().unwrap().holder, None);

    // Started releases of a product, whoever drives them; queued and
    // finished ones are not.
    let mut queued = release("shop");
    queued.id = "01J1QUEUED0000000000000000".into();
    queued.status = ReleaseStatus::Queued;
    let Created::New(_, _) = a.create_release(queued, None, vec![]).await.unwrap() else {
        panic!("new")
    };
    assert_eq!(
        a.started_of_product("shop").await.unwrap(),
        vec![r.id.clone()]
    );
    assert!(a.started_of_product("other").await.unwrap().is_empty());
    let mut done = r.clone();
    done.finished_at = Some(ferry_release::now());
    done.status = ferry_release::ReleaseStatus::Succeeded;
    a.save_held(&done, step("SUCCEEDED"), "replica-a")
        .await
        .unwrap();
    assert!(a.started_of_product("shop").await.unwrap().is_empty());
    // A finished release cannot be leased.
    assert!(!a.lease_acquire(id, "replica-a", LONG).await.unwrap());
    assert!(!a.lease_take(id, "replica-a", LONG).await.unwrap());
    a.close().await;
    b.close().await;
}

async fn never_leased_releases_become_orphans_after_the_grace(url: &str) {
    let store = Store::open(url).await.unwrap();
    let r = create(&store, "shop").await;
    assert!(store.lease_orphans(LONG, 10).await.unwrap().is_empty());
    tokio::time::sleep(SHORT * 2).await;
    assert_eq!(store.lease_orphans(SHORT, 10).await.unwrap(), vec![r.id]);
    store.close().await;
}

async fn cursors_and_deliveries(url: &str) {
    let a = Store::open(url).await.unwrap();
    let b = Store::open(url).await.unwrap();
    // Two replicas create the cursor: one wins.
    assert!(
        a.cursor_compare_and_set("trigger:shop:web", None, "c1")
            .await
            .unwrap()
    );
    assert!(
        !b.cursor_compare_and_set("trigger:shop:web", None, "c0")
            .await
            .unwrap()
    );
    // Both saw c1 and polled c2: one moves it, the other is told.
    assert!(
        a.cursor_compare_and_set("trigger:shop:web", Some("c1"), "c2")
            .await
            .unwrap()
    );
    assert!(
        !b.cursor_compare_and_set("trigger:shop:web", Some("c1"), "c2")
            .await
            .unwrap()
    );
    assert_eq!(
        b.cursor_get("trigger:shop:web").await.unwrap().as_deref(),
        Some("c2")
    );

    assert!(a.record_delivery("github", "d-1").await.unwrap());
    assert!(!b.record_delivery("github", "d-1").await.unwrap());
    assert!(b.record_delivery("gitlab", "d-1").await.unwrap());
    assert!(b.record_delivery("github", "d-2").await.unwrap());
    a.close().await;
    b.close().await;
}

macro_rules! on_sqlite_file {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let (_dir, url) = super::sqlite_url();
                super::$name(&url).await;
            }
        }
    )*};
}

on_sqlite_file!(
    leases,
    never_leased_releases_become_orphans_after_the_grace,
    cursors_and_deliveries
);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_postgres() {
    let cluster = pg_cluster::Cluster::start();
    leases(&cluster.database("s_leases").await).await;
    never_leased_releases_become_orphans_after_the_grace(&cluster.database("s_orphans").await)
        .await;
    cursors_and_deliveries(&cluster.database("s_dedup").await).await;

    // Notices: committed appends reach a listener on another connection,
    // naming the writer's instance and the seqs; SQLite has none.
    let url = cluster.database("s_notify").await;
    let writer = Store::open(&url).await.unwrap().with_instance("replica a");
    assert_eq!(writer.instance(), Some("replica_a"));
    let reader = Store::open(&url).await.unwrap();
    let mut listener = reader.listen_events().await.unwrap().expect("PostgreSQL");
    let r = create(&writer, "shop").await;
    let created = tokio::time::timeout(LONG, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        created,
        EventNotice {
            instance: "replica_a".into(),
            release_id: r.id.clone(),
            first_seq: 1,
            last_seq: first_events().len() as u64,
        }
    );
    let saved = writer
        .save(
            &r,
            vec![
                NewEvent::new(EventKind::Release, "RUNNING"),
                NewEvent::new(EventKind::Environment, "RUNNING").environment("qa"),
            ],
        )
        .await
        .unwrap();
    let notice = tokio::time::timeout(LONG, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.first_seq, saved[0].seq);
    assert_eq!(notice.last_seq, saved[1].seq);
    assert_eq!(reader.events_of(&notice).await.unwrap(), saved);
    // A save without events announces nothing; the next one does.
    writer.save(&r, vec![]).await.unwrap();
    let last = writer.save(&r, step("SUCCEEDED")).await.unwrap();
    let notice = tokio::time::timeout(LONG, listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (notice.first_seq, notice.last_seq),
        (last[0].seq, last[0].seq)
    );

    let (_dir, sqlite) = sqlite_url();
    assert!(
        Store::open(&sqlite)
            .await
            .unwrap()
            .listen_events()
            .await
            .unwrap()
            .is_none()
    );
}
