//! `FERRY_BENCH_NOTIFY=1` (issue 20): 1,000 releases with notifications
//! on against the same without, in one run. Four runs on fresh
//! repositories in the order off, on, on, off (drift on a shared machine
//! cancels out); "on" runs `ferry-notify`'s outbox writer and courier on
//! the engine's own store, as `ferry serve` does, with four subscriptions
//! taking every event — Slack, Teams, a signed webhook, CloudEvents — sent
//! to a local receiver. The releases' wall time is what must not grow;
//! the time the last delivery needed after the last release is reported
//! beside it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::post;
use ferry_notify::{Courier, CourierSettings, Filter, Kind, Outbox, Secret, Subscription};
use ferry_store::DeliveryStatus;
use tokio::sync::Notify;

use super::{
    EngineResult, PRODUCTS_PER_REPO, REPOS, ReleaseStatus, World, engine_phase, median,
    new_replica_on,
};

async fn receiver() -> (String, Arc<AtomicU64>) {
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    let app = Router::new().route(
        "/{*path}",
        post(move || {
            let c = Arc::clone(&c);
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, count)
}

fn subscriptions(base: &str) -> Vec<Subscription> {
    [
        ("chat", Kind::Slack, "/services/T0/B0/x", None),
        ("team", Kind::Teams, "/workflows/x", None),
        ("hook", Kind::Webhook, "/hook", Some("bench-key")),
        ("bus", Kind::CloudEvents, "/events", Some("bench-key")),
    ]
    .into_iter()
    .map(|(name, kind, path, key)| Subscription {
        name: name.into(),
        kind,
        url: Secret::new(format!("{base}{path}")),
        signing_key: key.map(Secret::new),
        filter: Filter::default(),
        max_attempts: 8,
        timeout: Duration::from_secs(10),
    })
    .collect()
}

struct Run {
    on: bool,
    result: EngineResult,
    deliveries: u64,
    /// From the last release's end to the last delivery.
    drain: Duration,
}

pub(crate) async fn phases(per_product: usize) {
    let releases = REPOS * PRODUCTS_PER_REPO * per_product;
    let (base, received) = receiver().await;
    let mut runs = Vec::new();
    for on in [false, true, true, false] {
        let world = Arc::new(World::new());
        let url = format!(
            "sqlite://{}?mode=rwc",
            world.dir.path().join("ferry.db").display()
        );
        let store = ferry_store::Store::open(&url)
            .await
            .expect("open store")
            .with_instance("replica-0");
        let engine = new_replica_on(&world, store.clone(), "replica-0", world.workspace()).await;
        let stop = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        let before = received.load(Ordering::Relaxed);
        if on {
            let subs: Arc<[Subscription]> = subscriptions(&base).into();
            let wake = Arc::new(Notify::new());
            let outbox = Outbox::new(
                store.clone(),
                Arc::clone(&subs),
                "http://ferry.bench",
                Arc::clone(&wake),
            );
            let courier = Courier::new(
                store.clone(),
                &subs,
                CourierSettings::new("replica-0"),
                wake,
            );
            let (s1, s2) = (Arc::clone(&stop), Arc::clone(&stop));
            tasks.push(tokio::spawn(
                outbox.run(engine.subscribe(), async move { s1.notified().await }),
            ));
            tasks.push(tokio::spawn(
                courier.run(async move { s2.notified().await }),
            ));
        }
        let result = engine_phase(Arc::clone(&world), engine.clone(), per_product).await;
        let succeeded = result
            .releases
            .iter()
            .filter(|r| r.status == ReleaseStatus::Succeeded)
            .count();
        assert_eq!(succeeded, releases, "every release must succeed");
        let t = Instant::now();
        let mut deliveries = 0;
        if on {
            // The last events reach the outbox within its gathering window.
            tokio::time::sleep(Duration::from_millis(500)).await;
            loop {
                let counts = store.count_deliveries().await.unwrap();
                let get = |s| counts.iter().find(|(c, _)| *c == s).map_or(0, |(_, n)| *n);
                if get(DeliveryStatus::Pending) == 0 {
                    assert_eq!(get(DeliveryStatus::Dead), 0, "no dead letters");
                    deliveries = get(DeliveryStatus::Delivered);
                    break;
                }
                assert!(
                    t.elapsed() < Duration::from_secs(600),
                    "deliveries never drained"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(
                received.load(Ordering::Relaxed) - before,
                deliveries,
                "each sent once"
            );
        }
        let drain = t.elapsed();
        for _ in 0..tasks.len() {
            stop.notify_waiters();
        }
        for t in tasks {
            t.abort();
        }
        engine.shutdown();
        println!(
            "notifications {}: {:.1} s wall, {:.1} s CPU{}",
            if on { "on " } else { "off" },
            result.wall.as_secs_f64(),
            result.cpu,
            if on {
                format!(
                    "; {deliveries} deliveries, the last {:.1} s after the last release",
                    drain.as_secs_f64()
                )
            } else {
                String::new()
            }
        );
        runs.push(Run {
            on,
            result,
            deliveries,
            drain,
        });
    }
    let sum = |on: bool, f: &dyn Fn(&EngineResult) -> f64| -> f64 {
        runs.iter()
            .filter(|r| r.on == on)
            .map(|r| f(&r.result))
            .sum()
    };
    let wall = |r: &EngineResult| r.wall.as_secs_f64();
    let cpu = |r: &EngineResult| r.cpu;
    let create = |on: bool| {
        median(
            runs.iter()
                .filter(|r| r.on == on)
                .flat_map(|r| r.result.create_ms.clone())
                .collect(),
        )
    };
    println!();
    println!(
        "| {releases} releases, 3 environments | wall, 2 runs each | CPU | promote() median | ratio (wall) | ratio (CPU) |"
    );
    println!("|---|---|---|---|---|---|");
    for on in [false, true] {
        println!(
            "| notifications {} | {:.1} s + {:.1} s | {:.1} s | {:.1} ms | {:.3}× | {:.3}× |",
            if on {
                "on (4 subscriptions, every event)"
            } else {
                "off"
            },
            runs.iter()
                .filter(|r| r.on == on)
                .map(|r| wall(&r.result))
                .next()
                .unwrap_or(0.0),
            runs.iter()
                .filter(|r| r.on == on)
                .map(|r| wall(&r.result))
                .nth(1)
                .unwrap_or(0.0),
            sum(on, &cpu),
            create(on),
            sum(on, &wall) / sum(false, &wall),
            sum(on, &cpu) / sum(false, &cpu),
        );
    }
    let on: Vec<&Run> = runs.iter().filter(|r| r.on).collect();
    println!(
        "deliveries per \"on\" run: {}; last delivery after the last release: {:.1} s / {:.1} s",
        on.iter()
            .map(|r| r.deliveries.to_string())
            .collect::<Vec<_>>()
            .join(" / "),
        on[0].drain.as_secs_f64(),
        on[1].drain.as_secs_f64()
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
}
