//! The behaviour every backend must have. Each function gets the URL of a
//! fresh, empty database.
#![allow(dead_code)]

use std::collections::BTreeSet;

use ferry_release::{EnvironmentStatus, EventKind, Release, ReleaseStatus};
use ferry_store::{Created, Error, ListFilter, NewEvent, Store};

use crate::common::{first_events, release};

mod outbox;
mod plans;

pub use outbox::notification_outbox;
pub use plans::hot_queries_use_indexes;

async fn create(store: &Store, release: Release, key: Option<&str>) -> Release {
    match store
        .create_release(release, key, first_events())
        .await
        .unwrap()
    {
        Created::New(r, _) => r,
        other => panic!("not created: {other:?}"),
    }
}

pub async fn round_trip(url: &str) {
    let store = Store::open(url).await.unwrap();
    let original = release("shop");
    let Created::New(stored, events) = store
        .create_release(original.clone(), Some("commit:abc"), first_events())
        .await
        .unwrap()
    else {
        panic!("first creation is new")
    };
    assert_eq!(stored.number, 1);
    assert_eq!(
        Release {
            number: 1,
            ..original.clone()
        },
        stored
    );

    let read = store.get(&original.id).await.unwrap().unwrap();
    assert_eq!(read, stored, "every field survives, nanoseconds included");
    assert_eq!(read.created_at.nanosecond(), 123_456_789);
    assert_eq!(
        store.get_by_number("shop", 1).await.unwrap(),
        Some(stored.clone())
    );
    assert_eq!(store.get_by_number("shop", 2).await.unwrap(), None);
    assert_eq!(store.get_by_number("other", 1).await.unwrap(), None);
    assert_eq!(store.get("01J0NOTTHERE").await.unwrap(), None);

    assert_eq!(events.len(), 2);
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(events.iter().all(|e| e.release_id == original.id));
    assert_eq!(events[0].kind, EventKind::Release);
    assert_eq!(events[0].message.as_deref(), Some("created by jane"));
    assert_eq!(events[1].environment.as_deref(), Some("qa"));
    assert_eq!(store.events(&original.id, 0, 0).await.unwrap(), events);

    let page = store.list(&ListFilter::default()).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let summary = &page.items[0];
    assert_eq!(summary.id, original.id);
    assert_eq!(summary.number, 1);
    assert_eq!(summary.product, "shop");
    assert_eq!(summary.flow, "main");
    assert_eq!(summary.status, ReleaseStatus::Running);
    assert_eq!(summary.initiator, "jane@example.com");
    assert_eq!(summary.version.as_deref(), Some("1.4.2"));
    assert_eq!(summary.finished_at, None);
    assert_eq!(
        summary.created_at.unix_timestamp_nanos() / 1_000_000,
        original.created_at.unix_timestamp_nanos() / 1_000_000
    );
    let envs: Vec<_> = summary
        .environments
        .iter()
        .map(|e| (e.name.as_str(), e.status))
        .collect();
    assert_eq!(
        envs,
        [
            ("dev", EnvironmentStatus::Successful),
            ("qa", EnvironmentStatus::Running),
            ("staging", EnvironmentStatus::Pending),
            ("prod", EnvironmentStatus::Pending),
        ]
    );
    let json = serde_json::to_value(summary).unwrap();
    assert_eq!(json["createdAt"], "2026-11-27T05:00:00.123Z");
    assert_eq!(json["environments"][1]["status"], "RUNNING");
    assert!(json["finishedAt"].is_null());
    store.close().await;
}

pub async fn numbering_per_product(url: &str) {
    let store = Store::open(url).await.unwrap();
    for expected in 1..=3 {
        assert_eq!(create(&store, release("a"), None).await.number, expected);
    }
    assert_eq!(create(&store, release("b"), None).await.number, 1);
    assert_eq!(create(&store, release("a"), None).await.number, 4);

    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { create(&store, release("c"), None).await.number })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.push(t.await.unwrap());
    }
    numbers.sort();
    assert_eq!(
        numbers,
        (1..=20).collect::<Vec<u64>>(),
        "unique and gapless"
    );
    store.close().await;
}

pub async fn duplicate_trigger_writes_nothing(url: &str) {
    let store = Store::open(url).await.unwrap();
    let first = create(&store, release("shop"), Some("shop/dev@abc")).await;
    let second = release("shop");
    let outcome = store
        .create_release(second.clone(), Some("shop/dev@abc"), first_events())
        .await
        .unwrap();
    assert_eq!(outcome, Created::Duplicate(first.id.clone()));
    assert_eq!(store.get(&second.id).await.unwrap(), None);
    assert!(store.events(&second.id, 0, 0).await.unwrap().is_empty());
    assert_eq!(store.count_active("shop").await.unwrap(), 1);
    // The number was not consumed either.
    assert_eq!(
        create(&store, release("shop"), Some("shop/dev@def"))
            .await
            .number,
        2
    );

    // Racing creators with one key: exactly one release.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .create_release(release("race"), Some("race/dev@123"), first_events())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut new_ids = Vec::new();
    let mut duplicate_ids = BTreeSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Created::New(r, _) => new_ids.push(r.id),
            Created::Duplicate(id) => {
                duplicate_ids.insert(id);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(new_ids.len(), 1);
    assert_eq!(duplicate_ids, BTreeSet::from([new_ids[0].clone()]));
    assert_eq!(store.count_active("race").await.unwrap(), 1);
    store.close().await;
}

pub async fn save_appends_gapless_events(url: &str) {
    let store = Store::open(url).await.unwrap();
    let mut r = create(&store, release("shop"), None).await;

    r.status = ReleaseStatus::Succeeded;
    r.environments[1].status = EnvironmentStatus::Successful;
    r.finished_at = Some(ferry_release::now());
    let saved = store
        .save(
            &r,
            vec![
                NewEvent::new(EventKind::Environment, "SUCCESSFUL").environment("qa"),
                NewEvent::new(EventKind::Step, "SUCCESS")
                    .environment("qa")
                    .application("api-qa")
                    .step("sync"),
                NewEvent::new(EventKind::Release, "SUCCEEDED"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(saved.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
    assert_eq!(saved[1].step.as_deref(), Some("sync"));
    assert!(store.save(&r, vec![]).await.unwrap().is_empty());
    let one = store
        .save(&r, vec![NewEvent::new(EventKind::Audit, "RETRY")])
        .await
        .unwrap();
    assert_eq!(one[0].seq, 6);

    assert_eq!(store.get(&r.id).await.unwrap().unwrap(), r);
    let all = store.events(&r.id, 0, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
    assert_eq!(&all[2..5], &saved[..]);
    let after = store.events(&r.id, 4, 0).await.unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6]);
    let limited = store.events(&r.id, 1, 2).await.unwrap();
    assert_eq!(limited.iter().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);

    // Concurrent savers of one release: seqs stay unique and gapless.
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let r = r.clone();
            tokio::spawn(async move {
                store
                    .save(
                        &r,
                        vec![
                            NewEvent::new(EventKind::Audit, "A"),
                            NewEvent::new(EventKind::Audit, "B"),
                        ],
                    )
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        let events = t.await.unwrap();
        assert_eq!(
            events[1].seq,
            events[0].seq + 1,
            "one save's events are adjacent"
        );
    }
    let all = store.events(&r.id, 0, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=26).collect::<Vec<u64>>()
    );

    // Unknown releases and changed identities are refused, nothing written.
    let ghost = release("shop");
    assert!(
        matches!(store.save(&ghost, vec![NewEvent::new(EventKind::Audit, "X")]).await, Err(Error::NotFound { id }) if id == ghost.id)
    );
    assert!(store.events(&ghost.id, 0, 0).await.unwrap().is_empty());
    let renumbered = Release {
        number: 99,
        ..r.clone()
    };
    assert!(matches!(
        store.save(&renumbered, vec![]).await,
        Err(Error::Immutable {
            field: "number",
            ..
        })
    ));
    let moved = Release {
        product: "other".into(),
        ..r.clone()
    };
    assert!(matches!(
        store.save(&moved, vec![]).await,
        Err(Error::Immutable {
            field: "product",
            ..
        })
    ));
    assert_eq!(store.events(&r.id, 0, 0).await.unwrap().len(), 26);
    store.close().await;
}

pub async fn list_pagination_and_filters(url: &str) {
    let store = Store::open(url).await.unwrap();
    let statuses = [
        ReleaseStatus::Running,
        ReleaseStatus::Succeeded,
        ReleaseStatus::Failed,
        ReleaseStatus::Queued,
    ];
    // (id, product, number, status) of everything created.
    let mut all = Vec::new();
    for i in 0..250usize {
        let product = if i % 5 < 3 { "a" } else { "b" };
        let mut r = create(&store, release(product), None).await;
        r.status = statuses[i % 4];
        if r.status.is_final() {
            r.finished_at = Some(ferry_release::now());
        }
        if r.status != ReleaseStatus::Running {
            store.save(&r, vec![]).await.unwrap();
        }
        all.push((r.id, r.product, r.number, r.status));
    }

    let pages = |filter: ListFilter| {
        let store = store.clone();
        async move {
            let mut cursor = None;
            let mut items = Vec::new();
            let mut sizes = Vec::new();
            loop {
                let page = store
                    .list(&ListFilter {
                        cursor,
                        ..filter.clone()
                    })
                    .await
                    .unwrap();
                sizes.push(page.items.len());
                items.extend(page.items);
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            (items, sizes)
        }
    };

    // Everything, newest (largest ULID) first, in pages of 40.
    let (items, sizes) = pages(ListFilter {
        limit: 40,
        ..Default::default()
    })
    .await;
    let mut expected: Vec<&str> = all.iter().map(|a| a.0.as_str()).collect();
    expected.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(
        items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(sizes, [40, 40, 40, 40, 40, 40, 10]);

    // One product, by number descending, with a page size over the cap.
    let (items, sizes) = pages(ListFilter {
        product: Some("a".into()),
        limit: 1000,
        ..Default::default()
    })
    .await;
    assert_eq!(sizes, [150]);
    assert_eq!(
        items.iter().map(|s| s.number).collect::<Vec<_>>(),
        (1..=150).rev().collect::<Vec<u64>>()
    );
    let (items, _) = pages(ListFilter {
        product: Some("b".into()),
        limit: 7,
        ..Default::default()
    })
    .await;
    assert_eq!(
        items.iter().map(|s| s.number).collect::<Vec<_>>(),
        (1..=100).rev().collect::<Vec<u64>>()
    );
    assert!(items.iter().all(|s| s.product == "b"));

    // Default and capped page sizes.
    let first = store.list(&ListFilter::default()).await.unwrap();
    assert_eq!(first.items.len(), 50);
    let capped = store
        .list(&ListFilter {
            limit: 500,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(capped.items.len(), 200);
    assert!(capped.next_cursor.is_some());

    // Status filters, with and without a product.
    let wanted = [ReleaseStatus::Succeeded, ReleaseStatus::Failed];
    let (items, _) = pages(ListFilter {
        product: Some("b".into()),
        statuses: wanted.to_vec(),
        limit: 9,
        ..Default::default()
    })
    .await;
    let mut expected: Vec<u64> = all
        .iter()
        .filter(|a| a.1 == "b" && wanted.contains(&a.3))
        .map(|a| a.2)
        .collect();
    expected.reverse();
    assert!(!expected.is_empty());
    assert_eq!(items.iter().map(|s| s.number).collect::<Vec<_>>(), expected);
    assert!(items.iter().all(|s| wanted.contains(&s.status)));
    // Several statuses across products, one named twice: each release
    // once, newest first, in pages that continue where the last ended.
    let (items, sizes) = pages(ListFilter {
        statuses: vec![
            ReleaseStatus::Failed,
            ReleaseStatus::Queued,
            ReleaseStatus::Failed,
        ],
        limit: 13,
        ..Default::default()
    })
    .await;
    let mut expected: Vec<&str> = all
        .iter()
        .filter(|a| [ReleaseStatus::Failed, ReleaseStatus::Queued].contains(&a.3))
        .map(|a| a.0.as_str())
        .collect();
    expected.sort_unstable_by(|x, y| y.cmp(x));
    assert!(expected.len() > 13);
    assert_eq!(
        items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        expected
    );
    assert!(sizes.iter().rev().skip(1).all(|n| *n == 13), "{sizes:?}");
    let (items, _) = pages(ListFilter {
        statuses: vec![ReleaseStatus::Queued],
        limit: 11,
        ..Default::default()
    })
    .await;
    let mut expected: Vec<&str> = all
        .iter()
        .filter(|a| a.3 == ReleaseStatus::Queued)
        .map(|a| a.0.as_str())
        .collect();
    expected.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(
        items.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        expected
    );
    let none = store
        .list(&ListFilter {
            product: Some("zzz".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_cursor.is_none());

    // Cursors of one kind of list are refused by the other, garbage too.
    let by_product = store
        .list(&ListFilter {
            product: Some("a".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let cursor = by_product.next_cursor.unwrap();
    assert!(matches!(
        store
            .list(&ListFilter {
                cursor: Some(cursor),
                ..Default::default()
            })
            .await,
        Err(Error::BadCursor { .. })
    ));
    assert!(matches!(
        store
            .list(&ListFilter {
                cursor: Some("x'--".into()),
                ..Default::default()
            })
            .await,
        Err(Error::BadCursor { .. })
    ));
    store.close().await;
}

pub async fn reopen_keeps_data(url: &str) {
    let store = Store::open(url).await.unwrap();
    let r = create(&store, release("shop"), Some("k1")).await;
    store.cursor_set("poll:shop/dev", "abc123").await.unwrap();
    store.close().await;
    drop(store);

    // Opening again re-runs the migrations: they must be no-ops.
    let again = Store::open(url).await.unwrap();
    let third = Store::open(url).await.unwrap();
    assert_eq!(again.get(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(third.events(&r.id, 0, 0).await.unwrap().len(), 2);
    assert_eq!(
        again.cursor_get("poll:shop/dev").await.unwrap().as_deref(),
        Some("abc123")
    );
    assert!(matches!(
        again.create_release(release("shop"), Some("k1"), vec![]).await.unwrap(),
        Created::Duplicate(id) if id == r.id
    ));
    assert_eq!(create(&third, release("shop"), None).await.number, 2);
    again.close().await;
    third.close().await;
}

pub async fn active_releases_and_latest(url: &str) {
    let store = Store::open(url).await.unwrap();
    assert!(store.active_release_ids().await.unwrap().is_empty());
    assert!(store.latest_per_product().await.unwrap().is_empty());
    let a1 = create(&store, release("a"), None).await;
    let mut a2 = create(&store, release("a"), None).await;
    let b1 = create(&store, release("b"), None).await;
    let mut expected = vec![a1.id.clone(), a2.id.clone(), b1.id.clone()];
    expected.sort();
    assert_eq!(store.active_release_ids().await.unwrap(), expected);
    assert_eq!(store.count_active("a").await.unwrap(), 2);

    a2.status = ReleaseStatus::Failed;
    a2.finished_at = Some(ferry_release::now());
    store
        .save(&a2, vec![NewEvent::new(EventKind::Release, "FAILED")])
        .await
        .unwrap();
    let mut expected = vec![a1.id.clone(), b1.id.clone()];
    expected.sort();
    assert_eq!(store.active_release_ids().await.unwrap(), expected);
    assert_eq!(store.count_active("a").await.unwrap(), 1);
    assert_eq!(store.count_active("b").await.unwrap(), 1);
    assert_eq!(store.count_active("none").await.unwrap(), 0);

    let latest = store.latest_per_product().await.unwrap();
    let got: Vec<_> = latest
        .iter()
        .map(|s| (s.product.as_str(), s.number, s.status))
        .collect();
    assert_eq!(
        got,
        [
            ("a", 2, ReleaseStatus::Failed),
            ("b", 1, ReleaseStatus::Running)
        ]
    );
    assert!(latest[0].finished_at.is_some());
    assert!(latest[0].rolled_back_by.is_empty() && latest[0].superseded_by.is_none());

    // The links to other releases (issue 20) reach the list and the latest
    // releases without their documents.
    let now = ferry_release::now();
    let mut a1 = a1;
    a1.status = ReleaseStatus::Superseded;
    a1.finished_at = Some(now);
    a1.termination = Some(ferry_release::Termination {
        reason: ferry_release::TerminationReason::Superseded,
        by: "release #2".into(),
        release: Some(ferry_release::ReleaseRef {
            id: a2.id.clone(),
            number: 2,
        }),
        at: now,
    });
    store.save(&a1, vec![]).await.unwrap();
    let back = ferry_release::RollbackLink {
        environment: "qa".into(),
        release: b1.id.clone(),
        number: 1,
    };
    a2.rolled_back_by = vec![back.clone()];
    store.save(&a2, vec![]).await.unwrap();
    let page = store
        .list(&ListFilter {
            product: Some("a".into()),
            ..ListFilter::default()
        })
        .await
        .unwrap();
    let links: Vec<_> = page
        .items
        .iter()
        .map(|s| (s.number, s.superseded_by.clone(), s.rolled_back_by.clone()))
        .collect();
    assert_eq!(
        links,
        [
            (2, None, vec![back.clone()]),
            (
                1,
                Some(ferry_release::ReleaseRef {
                    id: a2.id.clone(),
                    number: 2
                }),
                vec![]
            ),
        ]
    );
    let latest = store.latest_per_product().await.unwrap();
    assert_eq!(latest[0].rolled_back_by, vec![back]);
    assert_eq!(latest[1].rollback_for, None);
    store.close().await;
}

pub async fn poller_cursors(url: &str) {
    let store = Store::open(url).await.unwrap();
    assert_eq!(store.cursor_get("poll:a").await.unwrap(), None);
    store.cursor_set("poll:a", "sha1").await.unwrap();
    store.cursor_set("poll:b", "other").await.unwrap();
    assert_eq!(
        store.cursor_get("poll:a").await.unwrap().as_deref(),
        Some("sha1")
    );
    store.cursor_set("poll:a", "sha2").await.unwrap();
    assert_eq!(
        store.cursor_get("poll:a").await.unwrap().as_deref(),
        Some("sha2")
    );
    assert_eq!(
        store.cursor_get("poll:b").await.unwrap().as_deref(),
        Some("other")
    );
    store.close().await;
}

/// Webhook delivery ids (issue 7): two replicas (two stores on one
/// database) receiving the same delivery at once act on it exactly once.
pub async fn webhook_deliveries_once(url: &str) {
    let a = Store::open(url).await.unwrap();
    let b = Store::open(url).await.unwrap();
    for i in 0..20 {
        let id = format!("delivery-{i}");
        let (x, y) = tokio::join!(
            a.record_delivery("github", &id),
            b.record_delivery("github", &id)
        );
        assert!(x.unwrap() ^ y.unwrap(), "delivery {i} acted on once");
    }
    assert!(a.record_delivery("gitlab", "delivery-0").await.unwrap());
    assert!(!b.record_delivery("gitlab", "delivery-0").await.unwrap());
    a.close().await;
    b.close().await;
}

/// SPEC §12: `finishedAt` is set if and only if the status is terminal; a
/// save that would break it is refused and changes nothing (issue 23).
pub async fn unfinishable_saves_are_refused(url: &str) {
    let store = Store::open(url).await.unwrap();
    let r = create(&store, release("shop"), None).await;
    let mut finished_running = r.clone();
    finished_running.finished_at = Some(ferry_release::now());
    let err = store
        .save(
            &finished_running,
            vec![NewEvent::new(EventKind::Audit, "X")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unfinishable {
                status: "RUNNING",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_unavailable());
    let mut failed_open = r.clone();
    failed_open.status = ReleaseStatus::Failed;
    let err = store.save(&failed_open, vec![]).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unfinishable {
                status: "FAILED",
                ..
            }
        ),
        "{err}"
    );
    let stored = store.get(&r.id).await.unwrap().unwrap();
    assert_eq!(stored.status, ReleaseStatus::Running);
    assert!(stored.finished_at.is_none());
    assert_eq!(store.events(&r.id, 0, 0).await.unwrap().len(), 2);
    store.close().await;
}

/// Runs `sql` (binding `id` as `$1`, `document` as `$2`) on the database
/// behind the store's back: how rows written before the rule look.
async fn behind_the_back(url: &str, sql: &str, id: &str, document: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(id)
            .bind(document)
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql)
            .bind(id)
            .bind(document)
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
}

/// Rows that break SPEC §12 — stored as finished while RUNNING (a save
/// that failed during a storage fault, issue 23), or FAILED without a
/// finish time — are re-opened on start-up with an audit note, and found
/// by the restart scan; a second check finds nothing.
pub async fn broken_finished_rows_are_repaired(url: &str) {
    let store = Store::open(url).await.unwrap();
    let running = |product: &str| {
        let mut r = release(product);
        r.termination = None;
        r
    };
    let stranded = create(&store, running("shop"), None).await;
    let mut doc = stranded.clone();
    doc.finished_at = Some(ferry_release::now());
    behind_the_back(
        url,
        "UPDATE releases SET finished_at = 1 WHERE id = $1 AND $2 <> ''",
        &stranded.id,
        "x",
    )
    .await;
    behind_the_back(
        url,
        "UPDATE release_documents SET document = $2 WHERE release_id = $1",
        &stranded.id,
        &serde_json::to_string(&doc).unwrap(),
    )
    .await;
    let failed_open = create(&store, running("web"), None).await;
    behind_the_back(
        url,
        "UPDATE releases SET status = 'FAILED' WHERE id = $1 AND $2 <> ''",
        &failed_open.id,
        "x",
    )
    .await;
    let mut doc = failed_open.clone();
    doc.status = ReleaseStatus::Failed;
    behind_the_back(
        url,
        "UPDATE release_documents SET document = $2 WHERE release_id = $1",
        &failed_open.id,
        &serde_json::to_string(&doc).unwrap(),
    )
    .await;
    let fine = create(&store, release("ok"), None).await;

    // The restart scan goes by status too, so neither is lost even
    // before the repair.
    let active = store.active_release_ids().await.unwrap();
    assert!(active.contains(&stranded.id) && active.contains(&failed_open.id));

    let mut repaired = store.repair_finished().await.unwrap();
    repaired.sort_by(|a, b| a.id.cmp(&b.id));
    let mut expected = vec![
        ferry_store::Repaired {
            id: stranded.id.clone(),
            was: ReleaseStatus::Running,
            now: ReleaseStatus::Running,
        },
        ferry_store::Repaired {
            id: failed_open.id.clone(),
            was: ReleaseStatus::Failed,
            now: ReleaseStatus::Running,
        },
    ];
    expected.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(repaired, expected);

    for id in [&stranded.id, &failed_open.id] {
        let r = store.get(id).await.unwrap().unwrap();
        assert!(r.finished_at.is_none(), "{id}");
        assert_eq!(r.status, ReleaseStatus::Running, "{id}");
        let events = store.events(id, 0, 0).await.unwrap();
        let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
        let note = events.last().unwrap();
        assert_eq!(note.kind, EventKind::Audit);
        assert!(
            note.message
                .as_deref()
                .is_some_and(|m| m.contains("repaired by ferry on start-up")),
            "{note:?}"
        );
    }
    let failed_events = store.events(&failed_open.id, 0, 0).await.unwrap();
    assert!(
        failed_events
            .iter()
            .any(|e| e.kind == EventKind::Release && e.status == "RUNNING")
    );
    assert_eq!(store.events(&fine.id, 0, 0).await.unwrap().len(), 2);
    assert!(store.repair_finished().await.unwrap().is_empty());
    store.close().await;
}

/// Idempotency keys (issue 23): a promotion's answer is remembered with its
/// release, in one transaction; the same key (same scope) within a day
/// names the first release and writes nothing; another scope is another
/// request; a day-old key is forgotten.
pub async fn idempotency_keys(url: &str) {
    use ferry_store::{IdempotentRequest, Remembered};
    let store = Store::open(url).await.unwrap();
    let request = |scope: &str, fingerprint: &str| IdempotentRequest {
        scope: scope.into(),
        key: "k-1".into(),
        fingerprint: fingerprint.into(),
        status: 201,
    };
    let ivy = request("ivy POST /api/v1/products/shop/promotions", "f1");
    let Created::New(first, _) = store
        .create_release_idempotent(release("shop"), &ivy, first_events())
        .await
        .unwrap()
    else {
        panic!("first request")
    };
    let again = store
        .create_release_idempotent(release("shop"), &request(&ivy.scope, "f2"), first_events())
        .await
        .unwrap();
    assert_eq!(
        again,
        Created::Remembered(Remembered {
            release_id: first.id.clone(),
            status: 201,
            fingerprint: "f1".into(),
        })
    );
    // Nothing written by the repeat: one release, number 1.
    assert_eq!(store.count_active("shop").await.unwrap(), 1);
    assert_eq!(
        store
            .idempotent_answer(&ivy.scope, "k-1")
            .await
            .unwrap()
            .map(|r| r.release_id),
        Some(first.id.clone())
    );
    let other = request("joe POST /api/v1/products/shop/promotions", "f1");
    let Created::New(second, _) = store
        .create_release_idempotent(release("shop"), &other, first_events())
        .await
        .unwrap()
    else {
        panic!("another scope is another request")
    };
    assert_eq!(second.number, 2);

    // An operation's answer is remembered with its effect, in one
    // transaction: the first save with the key stores both; a repeat
    // stores nothing and names the first answer.
    let terminate = IdempotentRequest {
        scope: format!("ivy POST /api/v1/releases/{}/terminate", first.id),
        key: "t-1".into(),
        fingerprint: "".into(),
        status: 200,
    };
    let before = store.events(&first.id, 0, 0).await.unwrap().len();
    let mut running = first.clone();
    running.status = ReleaseStatus::Running;
    let saved = store
        .save_idempotent(
            &running,
            vec![NewEvent::new(EventKind::Release, "RUNNING")],
            &terminate,
        )
        .await
        .unwrap();
    assert!(
        matches!(saved, ferry_store::Saved::Stored(ref e) if e.len() == 1),
        "{saved:?}"
    );
    let mut again = running.clone();
    again.status = ReleaseStatus::Suspended;
    let repeat = store
        .save_idempotent(
            &again,
            vec![NewEvent::new(EventKind::Release, "SUSPENDED")],
            &terminate,
        )
        .await
        .unwrap();
    assert_eq!(
        repeat,
        ferry_store::Saved::Remembered(Remembered {
            release_id: first.id.clone(),
            status: 200,
            fingerprint: String::new(),
        })
    );
    let stored = store.get(&first.id).await.unwrap().unwrap();
    assert_eq!(
        stored.status,
        ReleaseStatus::Running,
        "the repeat wrote nothing"
    );
    assert_eq!(
        store.events(&first.id, 0, 0).await.unwrap().len(),
        before + 1
    );

    // A day later the key is forgotten.
    behind_the_back(
        url,
        "UPDATE idempotency_keys SET created_at = created_at - 90000000 WHERE key = $1 AND $2 <> ''",
        "k-1",
        "x",
    )
    .await;
    assert_eq!(
        store.idempotent_answer(&ivy.scope, "k-1").await.unwrap(),
        None
    );
    let Created::New(third, _) = store
        .create_release_idempotent(release("shop"), &ivy, first_events())
        .await
        .unwrap()
    else {
        panic!("a day-old key is forgotten")
    };
    assert_eq!(third.number, 3);
    assert_eq!(store.forget_old_answers().await.unwrap(), 1);
    store.probe_write().await.unwrap();
    store.close().await;
}
