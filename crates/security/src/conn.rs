//! Slow and greedy clients (issue 23): the HTTP server's accept loop with
//! the limits `axum::serve` does not set.
//!
//! - **Headers**: a request's header must arrive within
//!   [`ConnLimits::header_timeout`], else the connection is closed —
//!   hyper's `header_read_timeout` (axum's `serve` gives hyper no timer,
//!   so it had none: slowloris connections were held forever).
//! - **Body**: each piece of a request body must arrive within
//!   [`ConnLimits::body_timeout`] (tower-http's `TimeoutBody`), and after
//!   [`ConnLimits::body_rate_grace`] the body must have come at
//!   [`ConnLimits::body_min_rate`] bytes per second at least (hand-written:
//!   neither hyper nor tower-http measure a rate) — a body announced as
//!   10 MB and trickled is cut off instead of holding its connection.
//! - **Connections per client address**: at most
//!   [`ConnLimits::max_connections_per_ip`] open at once; one more is
//!   closed as soon as it is accepted (hand-written: tower's concurrency
//!   limits count requests per service, not connections per address).
//!
//! Behind a reverse proxy every connection comes from the proxy's address:
//! raise the per-address limit to what the proxy opens.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// The limits (see the module documentation); settings `http*`. A
/// `body_min_rate` of 0 turns the rate check off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub body_min_rate: u64,
    pub body_rate_grace: Duration,
    pub max_connections_per_ip: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 1024,
            body_rate_grace: Duration::from_secs(5),
            max_connections_per_ip: 256,
        }
    }
}

/// Open connections by client address.
#[derive(Clone, Default)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's place in [`PerAddress`], given back when dropped.
struct Slot(PerAddress, IpAddr);

impl PerAddress {
    fn take(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot(self.clone(), ip))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = (self.0).0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.1) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.1);
            }
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` completes,
/// then lets open connections finish their requests. Handlers see the
/// client's address as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let per_address = PerAddress::default();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause, go on.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_address.take(addr.ip(), limits.max_connections_per_ip) else {
            tracing::debug!(client = %addr.ip(), "too many connections from one address; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
            let mut req = req.map(|body| Body::new(limited(body, limits)));
            req.extensions_mut().insert(ConnectInfo(addr));
            app.clone().oneshot(req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// A request body under the body limits.
fn limited(
    body: Incoming,
    limits: ConnLimits,
) -> MinRate<tower_http::timeout::TimeoutBody<Incoming>> {
    MinRate {
        inner: Box::pin(tower_http::timeout::TimeoutBody::new(
            limits.body_timeout,
            body,
        )),
        received: 0,
        started: Instant::now(),
        limits,
        deadline: None,
    }
}

/// A body that must arrive at [`ConnLimits::body_min_rate`] after the
/// grace: a body needing `n` bytes more is given until
/// `start + grace + received / rate` for its next piece.
struct MinRate<B> {
    inner: Pin<Box<B>>,
    received: u64,
    started: Instant,
    limits: ConnLimits,
    deadline: Option<Pin<Box<Sleep>>>,
}

/// Why a request body was cut off.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body arrived slower than {rate} bytes per second ({received} bytes in {secs:.1} s)"
)]
pub struct TooSlow {
    rate: u64,
    received: u64,
    secs: f64,
}

impl<B> MinRate<B> {
    fn due(&self) -> Instant {
        let rate = self.limits.body_min_rate.max(1);
        self.started
            + self.limits.body_rate_grace
            + Duration::from_millis(self.received.saturating_mul(1000) / rate)
    }
}

impl<B> http_body::Body for MinRate<B>
where
    B: http_body::Body<Data = bytes::Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = bytes::Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<bytes::Bytes>, Self::Error>>> {
        let this = &mut *self;
        match this.inner.as_mut().poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                }
                this.deadline = None;
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if this.limits.body_min_rate == 0 => Poll::Pending,
            Poll::Pending => {
                let due = this.due();
                let deadline = this
                    .deadline
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(Box::new(TooSlow {
                        rate: this.limits.body_min_rate,
                        received: this.received,
                        secs: this.started.elapsed().as_secs_f64(),
                    }))));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn server(limits: ConnLimits) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
        let app = Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route(
                "/echo",
                post(|body: String| async move { format!("{}", body.len()) }),
            )
            .route(
                "/whoami",
                get(|ConnectInfo(a): ConnectInfo<SocketAddr>| async move { a.ip().to_string() }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(listener, app, limits, async move {
            let _ = stopped.await;
        }));
        (addr, stop)
    }

    /// Reads until the server closes; how long that took.
    async fn closed_after(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
        let t = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(limit, stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return Some(t.elapsed()),
                Ok(Ok(_)) => {}
                Err(_) => return None,
            }
        }
    }

    async fn get_ok(addr: SocketAddr, path: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_header_is_cut_off_at_the_header_timeout() {
        let limits = ConnLimits {
            header_timeout: Duration::from_millis(400),
            ..ConnLimits::default()
        };
        let (addr, _stop) = server(limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            .await
            .unwrap();
        let took = closed_after(&mut slow, Duration::from_secs(3))
            .await
            .expect("a connection sending its header slowly was never closed");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        // Others are served meanwhile, with their address.
        assert!(get_ok(addr, "/whoami").await.ends_with("127.0.0.1"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_per_address_are_capped() {
        let limits = ConnLimits {
            max_connections_per_ip: 2,
            ..ConnLimits::default()
        };
        let (addr, _stop) = server(limits).await;
        let _a = TcpStream::connect(addr).await.unwrap();
        let _b = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut c = TcpStream::connect(addr).await.unwrap();
        let took = closed_after(&mut c, Duration::from_secs(2))
            .await
            .expect("a third connection from one address was kept open");
        assert!(took < Duration::from_millis(500), "{took:?}");
        drop(_a);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(get_ok(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trickled_body_is_cut_off() {
        let limits = ConnLimits {
            body_min_rate: 1000,
            body_rate_grace: Duration::from_millis(300),
            ..ConnLimits::default()
        };
        let (addr, _stop) = server(limits).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\n",
        )
        .await
        .unwrap();
        let t = Instant::now();
        let mut answer = String::new();
        let mut buf = [0u8; 1024];
        // 10 bytes every 100 ms: 100 B/s, a tenth of the minimum.
        while t.elapsed() < Duration::from_secs(3) {
            if s.write_all(&[b'x'; 10]).await.is_err() {
                break;
            }
            if let Ok(Ok(n)) =
                tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await
            {
                answer.push_str(&String::from_utf8_lossy(&buf[..n]));
                if n == 0 || answer.contains("\r\n\r\n") {
                    break;
                }
            }
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(!answer.starts_with("HTTP/1.1 200"), "{answer}");
        // A body sent at once is fine.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        assert!(
            out.starts_with("HTTP/1.1 200") && out.ends_with('5'),
            "{out}"
        );
    }

    /// Slowloris (issue 23): 200 connections sending their headers a byte
    /// at a time are all closed within the header timeout, while health
    /// checks keep being answered quickly.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slowloris_connections_are_closed_and_health_checks_stay_fast() {
        let limits = ConnLimits {
            header_timeout: Duration::from_secs(2),
            max_connections_per_ip: 1000,
            ..ConnLimits::default()
        };
        let (addr, _stop) = server(limits).await;
        let started = Instant::now();
        let mut slow = Vec::new();
        for i in 0..200 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(format!("GET /healthz?{i} HTTP/1.1\r\n").as_bytes())
                .await
                .unwrap();
            slow.push(tokio::spawn(async move {
                let t = Instant::now();
                // One header byte every 500 ms, until the server closes.
                let mut buf = [0u8; 64];
                loop {
                    if s.write_all(b"X").await.is_err() {
                        return t.elapsed();
                    }
                    match tokio::time::timeout(Duration::from_millis(500), s.read(&mut buf)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => return t.elapsed(),
                        _ => {}
                    }
                    if t.elapsed() > Duration::from_secs(20) {
                        return t.elapsed();
                    }
                }
            }));
        }
        let mut latencies = Vec::new();
        while started.elapsed() < Duration::from_secs(3) {
            let t = Instant::now();
            assert!(get_ok(addr, "/healthz").await.starts_with("HTTP/1.1 200"));
            latencies.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut closed = Vec::new();
        for s in slow {
            closed.push(s.await.unwrap());
        }
        latencies.sort();
        let p99 = latencies[latencies.len() * 99 / 100];
        let slowest_close = closed.iter().max().copied().unwrap_or_default();
        println!(
            "200 slow connections closed after at most {slowest_close:?} (header timeout 2 s); \
             /healthz p99 {p99:?} over {} requests",
            latencies.len()
        );
        assert!(slowest_close < Duration::from_secs(3), "{slowest_close:?}");
        assert!(p99 <= Duration::from_millis(50), "p99 {p99:?}");
    }
}
