//! Notifications against local HTTP receivers on real sockets (issue 20):
//! every kind's payload held to its vendor's schema, signatures verified
//! by the receiver, at-least-once with a de-duplication id under 30 %
//! injected failures (5xx, timeouts, resets) — each delivery delivered or
//! dead-lettered, none lost — and a sender killed mid-delivery replaced
//! by another that sends again, the receiver de-duplicating by id.

#[path = "../../store/tests/common/mod.rs"]
mod common;
mod receiver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_notify::{
    Backoff, Courier, CourierSettings, EventType, Filter, Kind, Outbox, Secret, Subscription,
};
use ferry_release::{EnvironmentStatus, EventKind, Release, ReleaseKind, ReleaseStatus};
use ferry_store::{DeliveryStatus, NewEvent, Store};
use receiver::{Behaviour, Receiver};
use serde_json::Value;
use tokio::sync::Notify;

const KEY: &str = "test-signing-key";
const BASE: &str = "https://ferry.example";

async fn store(dir: &tempfile::TempDir) -> Store {
    Store::open_sqlite_file(&dir.path().join("ferry.db"))
        .await
        .unwrap()
}

fn subscription(name: &str, kind: Kind, url: String, key: Option<&str>) -> Subscription {
    Subscription {
        name: name.into(),
        kind,
        url: Secret::new(url),
        signing_key: key.map(Secret::new),
        filter: Filter::default(),
        max_attempts: 6,
        timeout: Duration::from_millis(500),
    }
}

/// A release of `product` that started, ran qa and failed there with a
/// workflow's log.
async fn failed_release(store: &Store, product: &str) -> Release {
    let mut r = common::release(product);
    r.kind = ReleaseKind::Flow;
    r.termination = None;
    r.hotfix = false;
    let created = store
        .create_release(
            r,
            None,
            vec![
                NewEvent::new(EventKind::Release, "RUNNING"),
                NewEvent::new(EventKind::Environment, "RUNNING").environment("qa"),
            ],
        )
        .await
        .unwrap();
    let ferry_store::Created::New(mut r, _) = created else {
        panic!("a new release")
    };
    r.environments[1].status = EnvironmentStatus::Failed;
    r.environments[1].issues[0].details =
        Some("Error: smoke test failed\n  GET /health → 503\n".into());
    r.status = ReleaseStatus::Failed;
    r.finished_at = Some(ferry_release::now());
    store
        .save(
            &r,
            vec![
                NewEvent::new(EventKind::Environment, "FAILED").environment("qa"),
                NewEvent::new(EventKind::Release, "FAILED"),
            ],
        )
        .await
        .unwrap();
    r
}

fn settings(holder: &str) -> CourierSettings {
    CourierSettings {
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(200),
        },
        poll: Duration::from_millis(50),
        parallel: 8,
        ..CourierSettings::new(holder)
    }
}

/// Runs a courier until nothing is pending (or `limit`), then stops it.
async fn drain(store: &Store, subs: &[Subscription], settings: CourierSettings, limit: Duration) {
    let stop = Arc::new(Notify::new());
    let courier = Courier::new(store.clone(), subs, settings, Arc::new(Notify::new()));
    let s = stop.clone();
    let task = tokio::spawn(courier.run(async move { s.notified().await }));
    let start = Instant::now();
    loop {
        let counts = store.count_deliveries().await.unwrap();
        let pending = counts
            .iter()
            .find(|(s, _)| *s == DeliveryStatus::Pending)
            .map_or(0, |(_, n)| *n);
        if pending == 0 {
            break;
        }
        assert!(
            start.elapsed() < limit,
            "deliveries still pending after {limit:?}: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.notify_one();
    task.await.unwrap();
}

fn validator(schema: &str) -> jsonschema::Validator {
    let v: Value = serde_json::from_str(schema).unwrap();
    jsonschema::validator_for(&v).unwrap()
}

fn complaints(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    v.iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_is_delivered_in_its_vendors_shape() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let rx = Receiver::start(Some(KEY.as_bytes().to_vec()), |_, _| Behaviour::Ok).await;
    let subs = vec![
        subscription("chat", Kind::Slack, rx.url("/slack/T0/B0/s3cr3t"), None),
        subscription(
            "team",
            Kind::Teams,
            rx.url("/teams/workflow?sig=s3cr3t"),
            None,
        ),
        subscription("hook", Kind::Webhook, rx.url("/signed/hook"), Some(KEY)),
        subscription(
            "bus",
            Kind::CloudEvents,
            rx.url("/signed/events"),
            Some(KEY),
        ),
    ];
    let release = failed_release(&store, "shop").await;
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );
    assert_eq!(outbox.catch_up(&release.id).await.unwrap(), 16);
    // Mapping the same events again stores nothing twice.
    assert_eq!(outbox.catch_up(&release.id).await.unwrap(), 0);
    drain(&store, &subs, settings("a"), Duration::from_secs(30)).await;

    let requests = rx.requests();
    assert_eq!(requests.len(), 16, "one request per delivery");
    assert!(rx.bad_signatures.lock().unwrap().is_empty());
    let link = format!("{BASE}/products/shop/releases/{}", release.number);

    let slack = validator(include_str!("data/slack/incoming-webhook.schema.json"));
    let card = validator(include_str!("data/adaptivecards/adaptive-card-1.5.json"));
    let cloudevent = validator(include_str!("data/cloudevents/cloudevents.json"));
    let mut types = Vec::new();
    for r in &requests {
        let body = r.json();
        let ctype = r.header("content-type").unwrap_or_default().to_owned();
        if r.path.starts_with("/slack") {
            assert_eq!(ctype, "application/json");
            assert_eq!(complaints(&slack, &body), Vec::<String>::new(), "{body:#}");
            assert!(body.to_string().contains(&link));
        } else if r.path.starts_with("/teams") {
            assert_eq!(body["type"], "message");
            let a = &body["attachments"][0];
            assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
            assert_eq!(
                complaints(&card, &a["content"]),
                Vec::<String>::new(),
                "{body:#}"
            );
            assert_eq!(a["content"]["actions"][0]["url"], link.as_str());
        } else if r.path == "/signed/hook" {
            assert_eq!(ctype, "application/json");
            assert_eq!(body["id"], r.header("webhook-id").unwrap());
            assert_eq!(body["release"]["url"], link.as_str());
            types.push(body["type"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(ctype, "application/cloudevents+json; charset=utf-8");
            assert_eq!(
                complaints(&cloudevent, &body),
                Vec::<String>::new(),
                "{body:#}"
            );
            assert_eq!(body["specversion"], "1.0");
            assert_eq!(body["id"], r.header("webhook-id").unwrap());
            assert!(body["type"].as_str().unwrap().starts_with("io.ferry."));
            assert_eq!(body["data"]["release"]["url"], link.as_str());
        }
    }
    types.sort();
    assert_eq!(
        types,
        [
            "environment.failed",
            "environment.started",
            "release.failed",
            "release.started"
        ]
    );
    // The failure carries its reason and the first lines of the log.
    let failed = requests
        .iter()
        .find(|r| r.path == "/signed/hook" && r.json()["type"] == "environment.failed")
        .unwrap()
        .json();
    assert_eq!(failed["environment"], "qa");
    assert_eq!(failed["reason"], "smoke-test failed once");
    assert_eq!(
        failed["log"],
        serde_json::json!(["Error: smoke test failed", "  GET /health → 503"])
    );
    // Every row delivered once, with its answer.
    let page = store.list_deliveries(None, None, 100).await.unwrap();
    assert_eq!(page.items.len(), 16);
    assert!(
        page.items
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered
                && d.attempts == 1
                && d.last_status == Some(200))
    );
}

#[tokio::test]
async fn a_tampered_or_replayed_body_does_not_verify() {
    // The receiver's check is the one the tests trust: it must refuse
    // what ferry's signature does not cover.
    let n = serde_json::json!({"id": "r-1-hook"});
    let body = serde_json::to_vec(&n).unwrap();
    let now = ferry_release::now().unix_timestamp();
    let sig = ferry_notify::render::sign(KEY, "r-1-hook", now, &body);
    let mut r = receiver::Received {
        path: "/signed".into(),
        headers: [
            ("webhook-id".to_string(), "r-1-hook".to_string()),
            ("webhook-timestamp".to_string(), now.to_string()),
            ("webhook-signature".to_string(), sig.clone()),
        ]
        .into(),
        body: body.clone(),
        behaviour: Behaviour::Ok,
    };
    receiver::verify(KEY.as_bytes(), &r).unwrap();
    r.body = b"{\"id\":\"r-2-hook\"}".to_vec();
    assert!(receiver::verify(KEY.as_bytes(), &r).is_err());
    r.body = body;
    r.headers
        .insert("webhook-timestamp".into(), (now - 3600).to_string());
    r.headers.insert(
        "webhook-signature".into(),
        ferry_notify::render::sign(KEY, "r-1-hook", now - 3600, &r.body),
    );
    let e = receiver::verify(KEY.as_bytes(), &r).unwrap_err();
    assert!(e.contains("replay"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_percent_failures_are_retried_or_dead_lettered_never_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // A fixed pattern: 3 of every 10 requests fail — a 5xx, a hang past
    // the timeout, a reset — spread so that a delivery may meet several.
    let rx = Receiver::start(Some(KEY.as_bytes().to_vec()), |_, n| match n % 10 {
        1 => Behaviour::ServerError,
        4 => Behaviour::Hang,
        7 => Behaviour::Reset,
        _ => Behaviour::Ok,
    })
    .await;
    let mut hook = subscription("hook", Kind::Webhook, rx.url("/signed/hook"), Some(KEY));
    hook.timeout = Duration::from_millis(300);
    let mut bus = subscription("bus", Kind::CloudEvents, rx.url("/signed/bus"), Some(KEY));
    bus.timeout = Duration::from_millis(300);
    // Few tries for this one: some of its deliveries end as dead letters.
    bus.max_attempts = 2;
    bus.filter.events = vec![EventType::Failed, EventType::Started];
    let subs = vec![hook, bus];
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );
    for i in 0..15 {
        failed_release(&store, &format!("p{i}")).await;
    }
    outbox.scan().await;
    drain(&store, &subs, settings("a"), Duration::from_secs(90)).await;

    let page = store.list_deliveries(None, None, 500).await.unwrap();
    assert_eq!(
        page.items.len(),
        15 * 4 * 2,
        "every event for every subscription"
    );
    let accepted = rx.accepted();
    let mut dead = 0;
    for d in &page.items {
        match d.status {
            DeliveryStatus::Delivered => {
                assert!(
                    accepted.contains_key(&d.id),
                    "{} delivered but not received",
                    d.id
                )
            }
            DeliveryStatus::Dead => {
                dead += 1;
                assert_eq!(d.subscription, "bus", "{d:?}");
                assert_eq!(d.attempts, 2);
                let e = d.last_error.as_deref().unwrap();
                assert!(e.contains("gave up after 2 tries"), "{e}");
                assert!(!e.contains("127.0.0.1"), "the URL is never shown: {e}");
            }
            DeliveryStatus::Pending => panic!("{d:?} still pending"),
        }
    }
    let requests = rx.requests();
    let failures = requests
        .iter()
        .filter(|r| r.behaviour != Behaviour::Ok)
        .count();
    assert!(
        failures * 10 >= requests.len() * 2,
        "{failures} of {}",
        requests.len()
    );
    assert!(rx.bad_signatures.lock().unwrap().is_empty());
    // Each delivered id was received (answered) at least once: the
    // receiver counts its duplicates, and there are none it did not expect.
    let delivered = page
        .items
        .iter()
        .filter(|d| d.status == DeliveryStatus::Delivered)
        .count();
    assert_eq!(accepted.len(), delivered, "{dead} dead");
    let retried = page.items.iter().filter(|d| d.attempts > 1).count();
    assert!(retried > 0, "failures were met and retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_delivery_is_replaced_and_the_receiver_deduplicates() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    // The first request hangs (the sender is killed while it waits); then
    // every request is answered.
    let rx = Receiver::start(Some(KEY.as_bytes().to_vec()), |_, n| {
        if n == 0 {
            Behaviour::Hang
        } else {
            Behaviour::Ok
        }
    })
    .await;
    let mut hook = subscription("hook", Kind::Webhook, rx.url("/signed/hook"), Some(KEY));
    hook.timeout = Duration::from_secs(30);
    hook.filter.events = vec![EventType::Failed];
    hook.filter.subjects = vec![ferry_notify::Subject::Release];
    let subs = vec![hook];

    // The engine recorded the events, then the process died before any
    // delivery was stored: a new outbox writer finds them in the store.
    let release = failed_release(&store, "shop").await;
    assert_eq!(
        store.notification_backlog(0, 10).await.unwrap(),
        vec![release.id.clone()]
    );
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );
    outbox.scan().await;
    assert!(store.notification_backlog(0, 10).await.unwrap().is_empty());

    // Sender A claims it, sends, and dies while the receiver holds the
    // request (its claim is never given back).
    let mut a = settings("replica-a");
    a.claim = Some(Duration::from_secs(2));
    let courier = Courier::new(store.clone(), &subs, a, Arc::new(Notify::new()));
    let killed = tokio::spawn(courier.run(std::future::pending()));
    let start = Instant::now();
    while rx.requests().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "A never sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed.abort();
    let _ = killed.await;
    let row = &store.list_deliveries(None, None, 10).await.unwrap().items[0];
    assert_eq!((row.status, row.attempts), (DeliveryStatus::Pending, 1));

    // Sender B (another replica, or A restarted) takes it once A's claim
    // ran out and sends the same delivery again.
    drain(
        &store,
        &subs,
        settings("replica-b"),
        Duration::from_secs(20),
    )
    .await;
    let requests = rx.requests();
    assert_eq!(requests.len(), 2);
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect();
    assert_eq!(ids[0], ids[1], "the same de-duplication id");
    assert_eq!(ids[0], ferry_notify::dedup_id(&release.id, 4, "hook"));
    assert_eq!(rx.accepted().len(), 1, "the receiver took it once");
    let row = &store.list_deliveries(None, None, 10).await.unwrap().items[0];
    assert_eq!((row.status, row.attempts), (DeliveryStatus::Delivered, 2));
}

#[tokio::test]
async fn a_rollback_and_a_superseded_release_are_named_so() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let rx = Receiver::start(None, |_, _| Behaviour::Ok).await;
    let mut s = subscription("all", Kind::Webhook, rx.url("/hook"), Some(KEY));
    s.filter.subjects = vec![ferry_notify::Subject::Release];
    let subs = vec![s];
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );

    let mut r = common::release("shop");
    r.termination = None;
    let ferry_store::Created::New(mut rollback, _) = store
        .create_release(r, None, vec![NewEvent::new(EventKind::Release, "RUNNING")])
        .await
        .unwrap()
    else {
        panic!()
    };
    rollback.status = ReleaseStatus::Succeeded;
    rollback.finished_at = Some(ferry_release::now());
    for e in &mut rollback.environments {
        e.status = EnvironmentStatus::Successful;
    }
    store
        .save(
            &rollback,
            vec![NewEvent::new(EventKind::Release, "SUCCEEDED")],
        )
        .await
        .unwrap();

    let superseded = common::release("shop"); // terminated as superseded
    let ferry_store::Created::New(mut superseded, _) = store
        .create_release(
            superseded,
            None,
            vec![NewEvent::new(EventKind::Release, "QUEUED")],
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    superseded.status = ReleaseStatus::Terminated;
    superseded.finished_at = Some(ferry_release::now());
    for e in &mut superseded.environments {
        e.status = EnvironmentStatus::Terminated;
    }
    store
        .save(
            &superseded,
            vec![NewEvent::new(EventKind::Release, "TERMINATED")],
        )
        .await
        .unwrap();
    outbox.scan().await;
    drain(&store, &subs, settings("a"), Duration::from_secs(20)).await;
    let mut types: Vec<_> = rx
        .requests()
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["release"]["number"].as_u64().unwrap(),
                b["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            (1, "release.rolled-back".to_owned()),
            (1, "release.started".to_owned()),
            (2, "release.superseded".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_wait_says_why_a_frozen_environment_and_an_approval_among_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let rx = Receiver::start(None, |_, _| Behaviour::Ok).await;
    let mut s = subscription("waits", Kind::Webhook, rx.url("/hook"), Some(KEY));
    s.filter.events = vec![EventType::Suspended, EventType::ApprovalNeeded];
    let subs = vec![s];
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );

    let mut r = common::release("shop");
    r.kind = ReleaseKind::Flow;
    r.termination = None;
    let ferry_store::Created::New(mut r, _) = store
        .create_release(r, None, vec![NewEvent::new(EventKind::Release, "RUNNING")])
        .await
        .unwrap()
    else {
        panic!()
    };
    // staging is held by a freeze: its status event carries no message,
    // the record says why.
    r.environments[2].status = EnvironmentStatus::Suspended;
    r.environments[2].hold = Some(ferry_release::Hold {
        kind: ferry_release::HoldKind::Freeze,
        reason: "frozen until lifted: incident 42 (stop-the-line by ivy)".into(),
        until: None,
        by: "f-1".into(),
        since: ferry_release::now(),
    });
    store
        .save(
            &r,
            vec![NewEvent::new(EventKind::Environment, "SUSPENDED").environment("staging")],
        )
        .await
        .unwrap();
    // The writer reads the events as they come (the engine wakes it).
    outbox.scan().await;
    // qa reaches its approval gate: the gate's "needed" event and the
    // environment's SUSPENDED are saved together; one notification.
    r.environments[2].hold = None;
    r.environments[2].status = EnvironmentStatus::Pending;
    r.environments[1].status = EnvironmentStatus::Suspended;
    store
        .save(
            &r,
            vec![
                NewEvent::new(EventKind::Approval, "NEEDED")
                    .environment("qa")
                    .message("2 approvals needed from role admin, not the initiator"),
                NewEvent::new(EventKind::Environment, "SUSPENDED").environment("qa"),
            ],
        )
        .await
        .unwrap();
    outbox.scan().await;
    drain(&store, &subs, settings("a"), Duration::from_secs(20)).await;
    let mut got: Vec<(String, String)> = rx
        .requests()
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["type"].as_str().unwrap().to_owned(),
                b["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "environment.approval-needed".to_owned(),
                "2 approvals needed from role admin, not the initiator".to_owned()
            ),
            (
                "environment.suspended".to_owned(),
                "frozen until lifted: incident 42 (stop-the-line by ivy)".to_owned()
            ),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivered_rows_are_pruned_on_schedule_and_dead_letters_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir).await;
    let rx = Receiver::start(Some(KEY.as_bytes().to_vec()), |_, _| Behaviour::Ok).await;
    let subs = vec![
        subscription("hook", Kind::Webhook, rx.url("/signed/hook"), Some(KEY)),
        subscription("bus", Kind::CloudEvents, rx.url("/signed/bus"), Some(KEY)),
    ];
    let release = failed_release(&store, "shop").await;
    let outbox = Outbox::new(
        store.clone(),
        subs.clone().into(),
        BASE,
        Arc::new(Notify::new()),
    );
    assert_eq!(outbox.catch_up(&release.id).await.unwrap(), 8);
    let count = |counts: &[(DeliveryStatus, u64)], status| {
        counts
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    // Kept a week by default, then deleted: here a moment, every 100 ms.
    assert_eq!(
        CourierSettings::new("x").keep_delivered,
        Duration::from_secs(7 * 24 * 3600)
    );
    let stop = Arc::new(Notify::new());
    // `bus` left the settings: its deliveries are dead letters at once.
    let courier = Courier::new(
        store.clone(),
        &subs[..1],
        CourierSettings {
            keep_delivered: Duration::from_millis(1),
            prune_every: Duration::from_millis(100),
            ..settings("a")
        },
        Arc::new(Notify::new()),
    );
    let s = stop.clone();
    let task = tokio::spawn(courier.run(async move { s.notified().await }));
    let start = Instant::now();
    loop {
        let counts = store.count_deliveries().await.unwrap();
        if count(&counts, DeliveryStatus::Pending) == 0
            && count(&counts, DeliveryStatus::Delivered) == 0
            && rx.requests().len() >= 4
        {
            assert_eq!(count(&counts, DeliveryStatus::Dead), 4, "{counts:?}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "delivered rows never pruned: {counts:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rx.requests().len(), 4, "each delivered once");
    stop.notify_one();
    task.await.unwrap();
}
