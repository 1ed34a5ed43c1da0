//! The notification outbox (issue 20) on either backend.

use ferry_store::NewDelivery;

use super::*;

/// Notifications out (issue 20): deliveries stored once per id with the
/// release's progress moved by compare-and-set; claims shared by senders
/// without overlap; outcomes; the admin list.
pub async fn notification_outbox(url: &str) {
    use std::time::Duration;

    use ferry_store::{DeliveryOutcome, DeliveryStatus};

    let store = Store::open(url).await.unwrap();
    let r = create(&store, release("shop"), None).await;
    assert_eq!(
        store.notification_backlog(0, 10).await.unwrap(),
        vec![r.id.clone()]
    );
    let delivery = |seq: u64, sub: &str| started(&r, seq, sub);
    let first = [delivery(1, "a"), delivery(1, "b"), delivery(2, "a")];
    assert!(
        store
            .enqueue_notifications(&r.id, None, 2, "{\"x\":1}", &first)
            .await
            .unwrap()
    );
    // A second writer with the old progress stores nothing.
    assert!(
        !store
            .enqueue_notifications(&r.id, None, 2, "{}", &first)
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_notifications(&r.id, Some(1), 2, "{}", &[delivery(9, "a")])
            .await
            .unwrap()
    );
    let p = store.notification_progress(&r.id).await.unwrap().unwrap();
    assert_eq!((p.last_seq, p.state.as_str()), (2, "{\"x\":1}"));
    assert!(store.notification_backlog(0, 10).await.unwrap().is_empty());
    // A repeated id (the same event mapped again) is kept once.
    assert!(
        store
            .enqueue_notifications(&r.id, Some(2), 2, "{}", &first[..1])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .list_deliveries(None, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        3
    );

    // Two senders claim without overlap; a claim counts a try.
    let ttl = Duration::from_secs(60);
    let a = store.claim_deliveries("A", ttl, 2, &[]).await.unwrap();
    let b = store
        .claim_deliveries("B", ttl, 10, &["nobody"])
        .await
        .unwrap();
    assert_eq!((a.len(), b.len()), (2, 1));
    assert!(
        a.iter()
            .all(|d| d.attempts == 1 && !b.iter().any(|e| e.id == d.id))
    );
    assert!(
        store
            .claim_deliveries("C", ttl, 10, &[])
            .await
            .unwrap()
            .is_empty()
    );

    let delivered = DeliveryOutcome::Delivered { status: 204 };
    // Only the holder records an outcome.
    assert!(
        !store
            .finish_delivery(&a[0].id, "B", &delivered)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_delivery(&a[0].id, "A", &delivered)
            .await
            .unwrap()
    );
    let retry = DeliveryOutcome::Retry {
        after: Duration::ZERO,
        error: "HTTP 503".into(),
        status: Some(503),
    };
    assert!(store.finish_delivery(&a[1].id, "A", &retry).await.unwrap());
    let dead = DeliveryOutcome::Dead {
        error: "HTTP 404".into(),
        status: Some(404),
    };
    assert!(store.finish_delivery(&b[0].id, "B", &dead).await.unwrap());
    // The retried one is due again at once and claimed with its second try.
    // Subscriptions a sender skips are left for later.
    assert!(
        store
            .claim_deliveries("C", ttl, 10, &["a", "b"])
            .await
            .unwrap()
            .is_empty()
    );
    let again = store
        .claim_deliveries("C", ttl, 10, &["nobody"])
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].id.as_str(), again[0].attempts),
        (a[1].id.as_str(), 2)
    );
    assert_eq!(again[0].last_error.as_deref(), Some("HTTP 503"));
    // A delivery handed back untried keeps its count of tries.
    store.unclaim_delivery(&again[0].id, "C").await.unwrap();
    let again = store.claim_deliveries("C", ttl, 10, &[]).await.unwrap();
    assert_eq!(again[0].attempts, 2);
    // A graceful stop gives claims back at once.
    store.release_delivery_claims("C").await.unwrap();
    assert_eq!(
        store
            .claim_deliveries("D", ttl, 10, &[])
            .await
            .unwrap()
            .len(),
        1
    );

    let counts = store.count_deliveries().await.unwrap();
    for (status, n) in [
        (DeliveryStatus::Delivered, 1),
        (DeliveryStatus::Pending, 1),
        (DeliveryStatus::Dead, 1),
    ] {
        assert!(counts.contains(&(status, n)), "{counts:?}");
    }
    // Pages newest first, by status, with a cursor.
    let page = store.list_deliveries(None, None, 2).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = store
        .list_deliveries(None, page.next.as_deref(), 2)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert!(rest.next.is_none());
    let dead_only = store
        .list_deliveries(Some(DeliveryStatus::Dead), None, 10)
        .await
        .unwrap();
    assert_eq!(dead_only.items.len(), 1);
    assert_eq!(dead_only.items[0].last_status, Some(404));
    assert!(dead_only.items[0].finished_at.is_some());
    assert!(matches!(
        store.list_deliveries(None, Some("nope"), 2).await,
        Err(Error::BadCursor { .. })
    ));
    // Delivered rows are pruned after a while; dead letters stay.
    assert_eq!(
        store
            .prune_deliveries(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        store
            .prune_deliveries(Duration::from_millis(1))
            .await
            .unwrap(),
        1
    );

    // A round of several releases in one write: each moves by its own
    // compare-and-set; one that lost it stores nothing, the others do.
    let r2 = create(&store, release("shop"), None).await;
    let r3 = create(&store, release("shop"), None).await;
    let of = |r: &Release, seq: u64| started(r, seq, "a");
    let step = |r: &Release, from: Option<u64>| ferry_store::ProgressMove {
        release_id: r.id.clone(),
        from,
        to_seq: 1,
        state: "{}".into(),
        deliveries: vec![of(r, 1)],
    };
    assert_eq!(
        store
            .enqueue_notification_batch(&[step(&r2, None), step(&r3, Some(7))])
            .await
            .unwrap(),
        [true, false]
    );
    assert!(store.notification_progress(&r3.id).await.unwrap().is_none());
    let pending = store
        .list_deliveries(Some(DeliveryStatus::Pending), None, 10)
        .await
        .unwrap();
    assert!(pending.items.iter().any(|d| d.release_id == r2.id));
    assert!(!pending.items.iter().any(|d| d.release_id == r3.id));
    // A sender's round: what its tries came to and its next claim, in one
    // write.
    let claimed = store.claim_deliveries("E", ttl, 10, &[]).await.unwrap();
    assert!(!claimed.is_empty());
    let done: Vec<(String, DeliveryOutcome)> = claimed
        .iter()
        .map(|d| (d.id.clone(), DeliveryOutcome::Delivered { status: 200 }))
        .collect();
    let next = store
        .finish_and_claim("E", &done, ttl, 10, &[])
        .await
        .unwrap();
    assert!(next.iter().all(|n| !claimed.iter().any(|c| c.id == n.id)));
    let delivered = store
        .list_deliveries(Some(DeliveryStatus::Delivered), None, 10)
        .await
        .unwrap();
    for d in &claimed {
        assert!(delivered.items.iter().any(|x| x.id == d.id));
    }
}

/// The delivery of `release`'s event `seq` ("release.started") to subscription `sub`.
fn started(release: &Release, seq: u64, sub: &str) -> NewDelivery {
    NewDelivery {
        id: format!("{}-{seq}-{sub}", release.id),
        subscription: sub.into(),
        release_id: release.id.clone(),
        seq,
        event_type: "release.started".into(),
        product: "shop".into(),
        environment: None,
        payload: "{}".into(),
    }
}
