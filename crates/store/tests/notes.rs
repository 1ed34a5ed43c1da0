//! The release-notes cache (the first version's documents and the
//! renditions of migration 18) and the earlier-releases query (issue 8), on
//! a SQLite file and on a real PostgreSQL cluster started by the test.

mod common;
mod pg_cluster;

use ferry_store::{Created, NewRendition, Store};

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
            other => panic!("not created: {other:?}"),
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

    // Renditions (migration 18): every format and encoding at once;
    // writing them drops the row of the first cache version.
    let json = (0..200_000u32)
        .flat_map(|i| i.to_le_bytes())
        .collect::<Vec<u8>>();
    assert_eq!(
        store
            .notes_rendition(&third_shop, "json", "gzip")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.notes_validator(&third_shop, "json").await.unwrap(),
        None
    );
    let row = |format, encoding, etag, size, body| NewRendition {
        format,
        encoding,
        etag,
        size,
        body,
    };
    store
        .put_notes_renditions(
            &third_shop,
            1,
            true,
            &[
                row("json", "gzip", "\"j1\"", 800_000, b"\x1f\x8b json"),
                row("json", "identity", "\"j1\"", 800_000, &json),
                row("markdown", "gzip", "\"m1\"", 7, b"\x1f\x8b md"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(store.release_notes(&third_shop).await.unwrap(), None);
    let got = store
        .notes_rendition(&third_shop, "json", "identity")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.body.as_slice(), got.encoding.as_str()),
        (json.as_slice(), "identity")
    );
    let v = &got.validator;
    assert_eq!(
        (
            v.format.as_str(),
            v.format_version,
            v.etag.as_str(),
            v.degraded,
            v.size
        ),
        ("json", 1, "\"j1\"", true, 800_000)
    );
    let age = ferry_release::now() - v.created_at;
    assert!(age.whole_seconds().abs() < 600, "{age}");
    assert_eq!(
        store
            .notes_validator(&third_shop, "json")
            .await
            .unwrap()
            .as_ref(),
        Some(v)
    );
    let gz = store
        .notes_rendition(&third_shop, "json", "gzip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (gz.body.as_slice(), &gz.validator),
        (&b"\x1f\x8b json"[..], v)
    );
    let md = store
        .notes_rendition(&third_shop, "markdown", "gzip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (md.body.as_slice(), md.validator.etag.as_str()),
        (&b"\x1f\x8b md"[..], "\"m1\"")
    );
    assert_eq!(
        store
            .notes_rendition(&third_shop, "markdown", "identity")
            .await
            .unwrap(),
        None
    );
    // Replaced by a recomputation (a refresh), not duplicated: what is
    // not written again is gone.
    store
        .put_notes_renditions(
            &third_shop,
            1,
            false,
            &[row("json", "gzip", "\"j2\"", 2, b"zz")],
        )
        .await
        .unwrap();
    let v2 = store
        .notes_validator(&third_shop, "json")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v2.etag.as_str(), v2.degraded, v2.size),
        ("\"j2\"", false, 2)
    );
    assert!(v2.created_at >= v.created_at);
    assert_eq!(
        store
            .notes_rendition(&third_shop, "json", "identity")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .notes_validator(&third_shop, "markdown")
            .await
            .unwrap(),
        None
    );
    // Unknown release: refused by the foreign key.
    assert!(
        store
            .put_notes_renditions(
                "01NOSUCHRELEASE",
                1,
                false,
                &[row("json", "gzip", "\"x\"", 1, b"x")]
            )
            .await
            .is_err()
    );
    store.close().await;

    // Kept across a reopen.
    let again = Store::open(url).await.unwrap();
    assert_eq!(
        again
            .notes_validator(&third_shop, "json")
            .await
            .unwrap()
            .map(|v| v.etag),
        Some("\"j2\"".to_owned())
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
