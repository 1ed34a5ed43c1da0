//! Slow clients against the whole server (issue 23): the real router and
//! accept loop (`ferry_server`'s `run`, `ferry_security::serve`), on
//! 127.0.0.1. 200 connections trickle a request header a byte at a time
//! (slowloris) and 20 trickle a promotion's body a byte at a time, while
//! other clients are served: every header trickler is closed without an
//! answer within the header timeout, every body trickler gets the JSON 408
//! once under the minimum rate, `/healthz` stays at p99 ≤ 50 ms, and a
//! promotion and a read of the API succeed meanwhile.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{TOKEN, fixture, settings, start};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TRICKLERS: usize = 200;
const BODY_TRICKLERS: usize = 20;
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
const BODY_GRACE: Duration = Duration::from_secs(1);
/// One byte per tick: 4 bytes a second.
const TICK: Duration = Duration::from_millis(250);

/// How a trickling connection ended: after how long, and what the server
/// answered before closing it (nothing for a header cut off).
struct Ended {
    after: Duration,
    answer: String,
}

/// Sends `start` at once, then one byte of `drip` per [`TICK`] until the
/// server closes the connection (or 30 s pass).
async fn trickle(addr: SocketAddr, start: String, drip: u8) -> Ended {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let t = Instant::now();
    s.write_all(start.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while t.elapsed() < Duration::from_secs(30) {
        // The server may have closed while the byte was on its way.
        let _ = s.write_all(&[drip]).await;
        match tokio::time::timeout(TICK, s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    Ended {
        after: t.elapsed(),
        answer: String::from_utf8_lossy(&answer).into_owned(),
    }
}

/// `GET path` on a fresh connection (as a load balancer's probe): the
/// status line and how long it took.
async fn probe(addr: SocketAddr, path: &str) -> (String, Duration) {
    let t = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: ferry\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let status = out.lines().next().unwrap_or_default().to_owned();
    (status, t.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_clients_are_cut_off_while_others_are_served() {
    let f = fixture();
    let mut settings = settings(&f);
    settings.http.header_timeout = HEADER_TIMEOUT;
    settings.http.body_rate_grace = BODY_GRACE;
    // All clients here come from 127.0.0.1.
    settings.http.max_connections_per_ip = 1000;
    let s = start(settings).await;
    let addr: SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();

    let mut headers = Vec::new();
    for i in 0..HEADER_TRICKLERS {
        let start = format!("GET /api/v1/releases?{i} HTTP/1.1\r\nHost: ferry\r\n");
        headers.push(tokio::spawn(trickle(addr, start, b'X')));
    }
    let mut bodies = Vec::new();
    for _ in 0..BODY_TRICKLERS {
        let start = format!(
            "POST /api/v1/products/p/promotions HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        );
        bodies.push(tokio::spawn(trickle(addr, start, b' ')));
    }

    // Others are served meanwhile: health probes, a read, a promotion.
    let attack = Instant::now();
    let mut latencies = Vec::new();
    let mut served = None;
    while attack.elapsed() < HEADER_TIMEOUT + Duration::from_secs(1) {
        let (status, took) = probe(addr, "/healthz").await;
        assert!(status.starts_with("HTTP/1.1 200"), "/healthz: {status}");
        latencies.push(took);
        if served.is_none() && attack.elapsed() > Duration::from_millis(500) {
            let t = Instant::now();
            let (status, page) = s.get("/api/v1/releases").await;
            assert_eq!(status, 200, "{page}");
            let (status, release) = s
                .post(
                    "/api/v1/products/p/promotions",
                    &json!({"flow": "standard"}),
                )
                .await;
            assert_eq!(status, 201, "{release}");
            served = Some(t.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut slowest_header = Duration::ZERO;
    for h in headers {
        let ended = h.await.unwrap();
        assert!(
            ended.answer.is_empty(),
            "a header trickler got an answer: {}",
            ended.answer
        );
        slowest_header = slowest_header.max(ended.after);
    }
    let mut slowest_body = Duration::ZERO;
    for b in bodies {
        let ended = b.await.unwrap();
        let (head, body) = ended
            .answer
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("a body trickler got no answer: {:?}", ended.answer));
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        let error: Value = serde_json::from_str(body).unwrap();
        assert_eq!(error["status"], 408, "{error}");
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("arrived slower than 1024 bytes per second"),
            "{error}"
        );
        slowest_body = slowest_body.max(ended.after);
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "{HEADER_TRICKLERS} header tricklers closed after at most {slowest_header:?} (header \
         timeout {HEADER_TIMEOUT:?}); {BODY_TRICKLERS} body tricklers answered 408 after at most \
         {slowest_body:?} (minimum rate 1024 B/s after {BODY_GRACE:?}); /healthz p99 {p99:?} over \
         {} probes; a read and a promotion meanwhile in {:?}",
        latencies.len(),
        served.unwrap_or_default()
    );
    assert!(served.is_some(), "no request was served during the attack");
    assert!(
        slowest_header < HEADER_TIMEOUT + Duration::from_secs(1),
        "{slowest_header:?}"
    );
    assert!(
        slowest_body < BODY_GRACE + Duration::from_secs(1),
        "{slowest_body:?}"
    );
    assert!(p99 <= Duration::from_millis(50), "/healthz p99 {p99:?}");
    s.stop().await;
}
