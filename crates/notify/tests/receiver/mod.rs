//! A local HTTP receiver on a real socket, written against the HTTP/1.1
//! wire (not ferry's client), that behaves as the tests ask: answers,
//! fails with 5xx, hangs past the sender's timeout, or resets the
//! connection. It verifies Standard Webhooks signatures itself (its own
//! HMAC, the key given to it) and de-duplicates by delivery id, as a
//! receiver should.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the receiver does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Ok,
    ServerError,
    /// Never answers (until the sender gives up).
    Hang,
    /// Closes the connection with a TCP reset, no answer.
    Reset,
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub behaviour: Behaviour,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

type Decide = Box<dyn Fn(&Received, usize) -> Behaviour + Send + Sync>;

pub struct Receiver {
    pub addr: SocketAddr,
    /// Every request, in arrival order.
    pub requests: Arc<Mutex<Vec<Received>>>,
    /// Delivery id → how many times it arrived and was answered 2xx.
    pub accepted: Arc<Mutex<HashMap<String, usize>>>,
    /// Requests whose signature did not verify.
    pub bad_signatures: Arc<Mutex<Vec<String>>>,
}

/// The signature check a receiver makes: `webhook-signature` is `v1,` +
/// base64(HMAC-SHA256(key, id.timestamp.body)), the timestamp within
/// five minutes of now.
pub fn verify(key: &[u8], r: &Received) -> Result<(), String> {
    let id = r.header("webhook-id").ok_or("no webhook-id")?;
    let ts = r
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp")?;
    let sig = r
        .header("webhook-signature")
        .ok_or("no webhook-signature")?;
    let ts_n: i64 = ts.parse().map_err(|_| "timestamp not a number")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - ts_n).abs() > 300 {
        return Err(format!("timestamp {ts_n} too far from {now}: a replay?"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&r.body);
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let ok = sig
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == want);
    if ok {
        Ok(())
    } else {
        Err(format!("signature {sig} is not v1,{want}"))
    }
}

impl Receiver {
    /// `decide(request, n)` picks the behaviour of the `n`th request (from 0).
    /// With `key`, every request to a path under `/signed` must verify.
    pub async fn start(
        key: Option<Vec<u8>>,
        decide: impl Fn(&Received, usize) -> Behaviour + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(Mutex::new(HashMap::new()));
        let bad = Arc::new(Mutex::new(Vec::new()));
        let decide: Arc<Decide> = Arc::new(Box::new(decide));
        let (r2, a2, b2) = (requests.clone(), accepted.clone(), bad.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (r, a, b, d, key) = (
                    r2.clone(),
                    a2.clone(),
                    b2.clone(),
                    decide.clone(),
                    key.clone(),
                );
                tokio::spawn(async move {
                    let _ = serve(stream, r, a, b, d, key).await;
                });
            }
        });
        Receiver {
            addr,
            requests,
            accepted,
            bad_signatures: bad,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    pub fn accepted(&self) -> HashMap<String, usize> {
        self.accepted.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    requests: Arc<Mutex<Vec<Received>>>,
    accepted: Arc<Mutex<HashMap<String, usize>>>,
    bad: Arc<Mutex<Vec<String>>>,
    decide: Arc<Decide>,
    key: Option<Vec<u8>>,
) -> std::io::Result<()> {
    // One request per connection is enough: the sender may reuse it, so
    // the answer says `Connection: close`.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let mut headers = BTreeMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let mut r = Received {
        path,
        headers,
        body,
        behaviour: Behaviour::Ok,
    };
    let n = {
        let mut all = requests.lock().unwrap();
        let n = all.len();
        r.behaviour = decide(&r, n);
        all.push(r.clone());
        n
    };
    let _ = n;
    if r.path.starts_with("/signed")
        && let Some(k) = &key
        && let Err(e) = verify(k, &r)
    {
        bad.lock().unwrap().push(e);
        stream
            .write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    }
    match r.behaviour {
        Behaviour::Ok => {
            let id = r
                .header("webhook-id")
                .map(str::to_owned)
                .or_else(|| {
                    serde_json::from_slice::<serde_json::Value>(&r.body)
                        .ok()
                        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned))
                })
                .unwrap_or_default();
            *accepted.lock().unwrap().entry(id).or_insert(0) += 1;
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await?;
        }
        Behaviour::ServerError => {
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbusy")
                .await?;
        }
        Behaviour::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        Behaviour::Reset => {
            // A zero linger makes the close a reset (and never blocks).
            #[allow(deprecated)]
            stream.set_linger(Some(Duration::ZERO))?;
            drop(stream);
        }
    }
    Ok(())
}
