//! An in-test forge: a real HTTP server on 127.0.0.1 that records every
//! request and answers through a test-provided function, plus release
//! builders.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use ferry_release::Release;
use serde_json::{Value, json};

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string (`""` when none).
    pub query: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the fake answers: status, extra headers, JSON body, and an
/// optional delay before answering (to make the client time out).
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
    pub delay: Option<Duration>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body,
            delay: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Answer {
        self.headers.push((name, value.into()));
        self
    }
}

type Responder = dyn Fn(&Recorded) -> Answer + Send + Sync;

pub struct Fake {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Fake {
    pub fn url(&self, base_path: &str) -> String {
        format!("http://{}{base_path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// Starts a fake forge answering with `respond`.
pub async fn start(respond: impl Fn(&Recorded) -> Answer + Send + Sync + 'static) -> Fake {
    let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
    let respond: Arc<Responder> = Arc::new(respond);
    let log = Arc::clone(&requests);
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = Arc::clone(&log);
            let respond = Arc::clone(&respond);
            async move {
                let rec = Recorded {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or("").to_owned(),
                    headers,
                    body: if body.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_slice(&body)
                            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()))
                    },
                    at: Instant::now(),
                };
                log.lock().unwrap().push(rec.clone());
                let a = respond(&rec);
                if let Some(d) = a.delay {
                    tokio::time::sleep(d).await;
                }
                let mut r: Response =
                    (StatusCode::from_u16(a.status).unwrap(), axum::Json(a.body)).into_response();
                for (k, v) in a.headers {
                    r.headers_mut().insert(k, v.parse().unwrap());
                }
                r
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Fake { addr, requests }
}

/// A release of `product` number `number` triggered by `sha` in
/// `repo_url`, with target environments `envs` (name, status) after the
/// trigger environment `dev`.
pub fn release(
    repo_url: &str,
    sha: &str,
    product: &str,
    number: u64,
    status: &str,
    envs: &[(&str, &str)],
) -> Release {
    let mut environments = vec![json!({
        "name": "dev", "status": "SUCCESSFUL", "dependsOn": [], "trigger": true,
        "issues": [], "applications": []
    })];
    let mut prev = "dev".to_string();
    for (name, st) in envs {
        environments.push(json!({
            "name": name, "status": st, "dependsOn": [prev], "issues": [],
            "applications": [{
                "name": format!("{product}-{name}"), "key": product, "repoUrl": repo_url,
                "path": format!("apps/{name}"), "targetRevision": "main",
                "status": st, "steps": []
            }]
        }));
        prev = name.to_string();
    }
    serde_json::from_value(json!({
        "id": format!("01REL{number:021}"),
        "number": number,
        "product": product,
        "flow": "default",
        "kind": {"type": "automatic"},
        "status": status,
        "initiator": "dev@example.com",
        "createdAt": "2026-01-01T00:00:00Z",
        "finishedAt": null,
        "version": "1.2.3",
        "trigger": {"repoUrl": repo_url, "sha": sha, "message": "bump", "author": "dev",
                    "date": "2026-01-01T00:00:00Z", "branch": "main"},
        "graph": {"name": "default", "triggerEnvironment": "dev", "steps": [], "timeoutSeconds": 600},
        "snapshot": {"environment": "dev", "applications": {}},
        "environments": environments,
    }))
    .unwrap()
}
