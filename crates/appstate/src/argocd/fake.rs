//! An in-process stand-in for Argo CD's API server, for tests and benches
//! (feature `fake`). It serves the documented shapes (reference §5) and
//! checks every request against them: method, path, query parameters and
//! `Authorization: Bearer <token>`; anything else is recorded as a
//! violation and answered like Argo CD would (grpc-gateway error body).
//!
//! The test drives it: [`FakeArgoCd::update`] changes an application and
//! sends `MODIFIED` to every open stream, [`FakeArgoCd::drop_streams`]
//! cuts them (the client must reconnect).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Argo CD's own namespace: where an application is looked up when a
/// request gives no `appNamespace`.
pub const CONTROL_NAMESPACE: &str = "argocd";

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
}

impl Seen {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

type StreamTx = mpsc::UnboundedSender<Result<String, std::io::Error>>;

#[derive(Default)]
struct Inner {
    token: String,
    /// (namespace, name) → Application document.
    apps: BTreeMap<(String, String), Value>,
    /// Open streams with their `appNamespace` filter.
    streams: Vec<(Option<String>, StreamTx)>,
    seen: Vec<Seen>,
    violations: Vec<String>,
}

/// A running fake; stops when dropped.
pub struct FakeArgoCd {
    url: String,
    inner: Arc<Mutex<Inner>>,
    server: tokio::task::AbortHandle,
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// An Application document shaped like Argo CD's (`metadata`, `spec` with
/// one source and a destination, `status` with sync, health, resources).
pub fn application(name: &str, namespace: &str, repo_url: &str, path: &str) -> Value {
    json!({
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "4f9b2c1e-0000-4000-8000-000000000000",
            "resourceVersion": "1000",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {},
            "annotations": {}
        },
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "path": path, "targetRevision": "main"},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
        },
        "status": {
            "sync": {
                "status": "OutOfSync",
                "comparedTo": {"source": {"repoURL": repo_url, "path": path, "targetRevision": "main"},
                               "destination": {"server": "https://kubernetes.default.svc", "namespace": name}},
                "revision": ""
            },
            "health": {"status": "Missing"},
            "resources": [],
            "reconciledAt": "2026-01-01T00:00:00Z",
            "sourceType": "Directory",
            "summary": {}
        }
    })
}

/// Sets `status.sync` and `status.health` (and the operation state a sync
/// leaves behind) the way Argo CD reports them.
pub fn set_state(app: &mut Value, sync: &str, revision: &str, health: &str, message: Option<&str>) {
    let status = &mut app["status"];
    status["sync"]["status"] = json!(sync);
    status["sync"]["revision"] = json!(revision);
    status["health"] = match message {
        Some(m) => json!({"status": health, "message": m}),
        None => json!({"status": health}),
    };
    status["operationState"] = json!({
        "operation": {"sync": {"revision": revision}},
        "phase": "Succeeded",
        "message": "successfully synced (all tasks run)",
        "syncResult": {"revision": revision},
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:05Z"
    });
}

/// Sets `status.resources[]` from `(kind, name, health, message)`.
pub fn set_resources(app: &mut Value, resources: &[(&str, &str, &str, Option<&str>)]) {
    let ns = app["spec"]["destination"]["namespace"].clone();
    app["status"]["resources"] = Value::Array(
        resources
            .iter()
            .map(|(kind, name, health, message)| {
                let mut h = json!({"status": health});
                if let Some(m) = message {
                    h["message"] = json!(m);
                }
                json!({"group": if *kind == "Deployment" || *kind == "Rollout" { "apps" } else { "" },
                       "version": "v1", "kind": kind, "namespace": ns, "name": name,
                       "status": "Synced", "health": h})
            })
            .collect(),
    );
}

fn grpc_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"error": message, "code": code, "message": message, "details": []}).to_string(),
    )
        .into_response()
}

fn key_of(app: &Value) -> (String, String) {
    (
        app["metadata"]["namespace"]
            .as_str()
            .unwrap_or(CONTROL_NAMESPACE)
            .to_owned(),
        app["metadata"]["name"].as_str().unwrap_or("").to_owned(),
    )
}

fn event(kind: &str, app: &Value) -> String {
    let mut line = json!({"result": {"type": kind, "application": app}}).to_string();
    line.push('\n');
    line
}

impl Inner {
    fn broadcast(&mut self, kind: &str, app: &Value) {
        let ns = key_of(app).0;
        let line = event(kind, app);
        self.streams.retain(|(filter, tx)| {
            if filter.as_deref().is_some_and(|f| f != ns) {
                return !tx.is_closed();
            }
            tx.send(Ok(line.clone())).is_ok()
        });
    }
}

impl FakeArgoCd {
    /// Serves plain HTTP on 127.0.0.1; every request must carry `token`.
    pub async fn start(token: &str) -> FakeArgoCd {
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Argo CD");
        let port = tcp.local_addr().expect("local addr").port();
        let (inner, app) = Self::router(token);
        let server = tokio::spawn(async move {
            let _ = axum::serve(tcp, app).await;
        })
        .abort_handle();
        FakeArgoCd {
            url: format!("http://127.0.0.1:{port}"),
            inner,
            server,
        }
    }

    /// Serves HTTPS with the given certificate chain and key (PEM).
    pub async fn start_tls(token: &str, cert_pem: &[u8], key_pem: &[u8]) -> FakeArgoCd {
        use tokio_rustls::rustls;
        use tokio_rustls::rustls::pki_types::pem::PemObject;
        use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .expect("certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("key PEM");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("TLS certificate");
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake Argo CD");
        let port = tcp.local_addr().expect("local addr").port();
        let listener = TlsListener {
            tcp,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        };
        let (inner, app) = Self::router(token);
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        })
        .abort_handle();
        FakeArgoCd {
            url: format!("https://127.0.0.1:{port}"),
            inner,
            server,
        }
    }

    fn router(token: &str) -> (Arc<Mutex<Inner>>, axum::Router) {
        let inner = Arc::new(Mutex::new(Inner {
            token: token.to_owned(),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        (inner, app)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Adds (`ADDED`) or replaces (`MODIFIED`) an application.
    pub fn put(&self, app: Value) {
        let mut inner = self.lock();
        let kind = if inner.apps.insert(key_of(&app), app.clone()).is_some() {
            "MODIFIED"
        } else {
            "ADDED"
        };
        inner.broadcast(kind, &app);
    }

    /// Changes the application `namespace/name` and sends `MODIFIED`.
    pub fn update(&self, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
        let mut inner = self.lock();
        let key = (namespace.to_owned(), name.to_owned());
        let Some(app) = inner.apps.get_mut(&key) else {
            panic!("fake Argo CD has no application {namespace}/{name}");
        };
        change(app);
        let rv = app["metadata"]["resourceVersion"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        app["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
        let app = app.clone();
        inner.broadcast("MODIFIED", &app);
    }

    pub fn delete(&self, namespace: &str, name: &str) {
        let mut inner = self.lock();
        if let Some(app) = inner.apps.remove(&(namespace.to_owned(), name.to_owned())) {
            inner.broadcast("DELETED", &app);
        }
    }

    /// The current document of an application.
    pub fn get(&self, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .apps
            .get(&(namespace.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Ends every open stream (as a restart of Argo CD or a proxy would).
    pub fn drop_streams(&self) {
        self.lock().streams.clear();
    }

    /// Streams currently open.
    pub fn open_streams(&self) -> usize {
        let mut inner = self.lock();
        inner.streams.retain(|(_, tx)| !tx.is_closed());
        inner.streams.len()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Requests that did not match the documented API.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }
}

/// The query parameters each endpoint documents (reference §5).
fn allowed(path: &str) -> Option<&'static [&'static str]> {
    if path == "/api/v1/applications" {
        Some(&[
            "selector",
            "projects",
            "project",
            "repo",
            "appNamespace",
            "name",
            "resourceVersion",
        ])
    } else if path == "/api/v1/stream/applications" {
        Some(&[
            "name",
            "selector",
            "projects",
            "appNamespace",
            "resourceVersion",
        ])
    } else if path.starts_with("/api/v1/applications/") && path.matches('/').count() == 4 {
        Some(&["appNamespace", "project", "refresh"])
    } else {
        None
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && s.is_char_boundary(i + 3) => {
                match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect();
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let seen = Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        authorization: authorization.clone(),
    };
    let mut f = inner.lock().unwrap_or_else(|p| p.into_inner());
    f.seen.push(seen.clone());
    if method != Method::GET {
        f.violations
            .push(format!("{method} {path}: only GET is used"));
        return grpc_error(StatusCode::NOT_IMPLEMENTED, 12, "Method Not Allowed");
    }
    let Some(params) = allowed(&path) else {
        f.violations
            .push(format!("GET {path}: not an Argo CD endpoint"));
        return grpc_error(StatusCode::NOT_FOUND, 5, "Not Found");
    };
    for (k, _) in &query {
        if !params.contains(&k.as_str()) {
            f.violations
                .push(format!("GET {path}: undocumented query parameter `{k}`"));
        }
    }
    if authorization.as_deref() != Some(&format!("Bearer {}", f.token)) {
        f.violations
            .push(format!("GET {path}: missing or wrong Authorization header"));
        return grpc_error(StatusCode::UNAUTHORIZED, 16, "no session information");
    }
    let app_ns = seen.param("appNamespace").map(str::to_owned);
    if path == "/api/v1/stream/applications" {
        let (tx, rx) = mpsc::unbounded_channel();
        for (key, app) in &f.apps {
            if app_ns.as_deref().is_none_or(|ns| ns == key.0) {
                let _ = tx.send(Ok(event("ADDED", app)));
            }
        }
        f.streams.push((app_ns, tx));
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        return (
            [("content-type", "application/json")],
            Body::from_stream(stream),
        )
            .into_response();
    }
    if path == "/api/v1/applications" {
        let items: Vec<&Value> = f
            .apps
            .iter()
            .filter(|(k, _)| app_ns.as_deref().is_none_or(|ns| ns == k.0))
            .map(|(_, v)| v)
            .collect();
        let body = json!({"metadata": {"resourceVersion": "1000"},
                          "items": if items.is_empty() { Value::Null } else { json!(items) }});
        return axum::Json(body).into_response();
    }
    // GET /api/v1/applications/{name}
    let name = decode(path.trim_start_matches("/api/v1/applications/"));
    if let Some(r) = seen.param("refresh")
        && !matches!(r, "hard" | "normal")
    {
        f.violations.push(format!(
            "GET {path}: refresh must be `hard` or `normal`, got `{r}`"
        ));
    }
    let ns = app_ns.unwrap_or_else(|| CONTROL_NAMESPACE.to_owned());
    match f.apps.get(&(ns, name.clone())) {
        Some(app) => axum::Json(app.clone()).into_response(),
        // Without `project` a missing application is a 403, not a 404.
        None if seen.param("project").is_none() => {
            grpc_error(StatusCode::FORBIDDEN, 7, "permission denied")
        }
        None => grpc_error(
            StatusCode::NOT_FOUND,
            5,
            &format!("applications.argoproj.io \"{name}\" not found"),
        ),
    }
}

/// An axum listener speaking TLS.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            // A client that rejects the certificate fails the handshake.
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
