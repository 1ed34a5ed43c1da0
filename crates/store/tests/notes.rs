//! The release-notes cache and the earlier-releases query (issue 8), on
//! a SQLite file and on a real PostgreSQL cluster started by the test.

mod common;
mod pg_cluster;

use ferry_store::{Created, Store};

use common::{first_events, release, sqlite_url};

async fn notes_cache_and_earlier_releases(url: &str) {
    let store = Store::open(url).await.unwrap();
    let mut ids = Vec::new();
    for product in ["shop", "shop", "other", "shop"] {
        match store
            .create_release(release(product), None, first_events())
            .await
            .unwrap()
        {
            Created::New(r, _) => ids.push((r.id, r.number)),
            Created::Duplicate(id) => panic!("duplicate {id}"),
        }
    }
    let (third_shop, number) = ids[3].clone();
    assert_eq!(number, 3);

    // Nothing cached yet.
    assert_eq!(store.release_notes(&third_shop).await.unwrap(), None);
    store
        .put_release_notes(&third_shop, 1, r#"{"formatVersion":1}"#)
        .await
        .unwrap();
    assert_eq!(
        store.release_notes(&third_shop).await.unwrap(),
        Some((1, r#"{"formatVersion":1}"#.to_owned()))
    );
    // Replaced, not duplicated (a second replica computing the same notes).
    store
        .put_release_notes(&third_shop, 2, "{\"formatVersion\":2,\"x\":\"é\"}")
        .await
        .unwrap();
    assert_eq!(
        store.release_notes(&third_shop).await.unwrap(),
        Some((2, "{\"formatVersion\":2,\"x\":\"é\"}".to_owned()))
    );
    // Notes of an unknown release are refused by the foreign key.
    assert!(
        store
            .put_release_notes("01NOSUCHRELEASE", 1, "{}")
            .await
            .is_err()
    );

    // Earlier releases of the same product, closest first.
    let before = store.releases_before("shop", 3, 10).await.unwrap();
    let numbers: Vec<u64> = before.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 1]);
    assert!(before.iter().all(|r| r.product == "shop"));
    assert_eq!(before[0].id, ids[1].0);
    assert_eq!(store.releases_before("shop", 3, 1).await.unwrap().len(), 1);
    assert!(
        store
            .releases_before("shop", 1, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .releases_before("none", 9, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.close().await;

    // Kept across a reopen.
    let again = Store::open(url).await.unwrap();
    assert_eq!(
        again.release_notes(&third_shop).await.unwrap().map(|n| n.0),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_on_sqlite() {
    let (_dir, url) = sqlite_url();
    notes_cache_and_earlier_releases(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_on_postgres() {
    let cluster = pg_cluster::Cluster::start();
    notes_cache_and_earlier_releases(&cluster.database("t_notes").await).await;
}
