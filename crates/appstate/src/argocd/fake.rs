//! An in-process stand-in for Argo CD's API server, for tests and benches
//! (feature `fake`). It serves the documented shapes (reference §5) and
//! checks every request against them: method, path, query parameters and
//! `Authorization: Bearer <token>`; anything else is recorded as a
//! violation and answered like Argo CD would (grpc-gateway error body).
//!
//! The test drives it: [`FakeArgoCd::update`] changes an application and
//! sends `MODIFIED` to every open stream, [`FakeArgoCd::drop_streams`]
//! cuts them (the client must reconnect).
//!
//! [`FakeArgoCd::violations`] also holds both sides to Argo CD's published
//! API description (`assets/swagger.json`, vendored in
//! `tests/data/argo-cd/`): every request received, and the documents the
//! fake serves (each application as `GET` returns it, the list, a stream
//! event, an error). That check runs when the test asks, not per request,
//! so benches that drive the fake measure ferry, not the checker.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Argo CD's own namespace: where an application is looked up when a
/// request gives no `appNamespace`.
pub const CONTROL_NAMESPACE: &str = "argocd";

/// Argo CD's API description: the three operations ferry uses.
pub fn swagger() -> &'static ferry_apicheck::Swagger {
    static SWAGGER: LazyLock<ferry_apicheck::Swagger> = LazyLock::new(|| {
        ferry_apicheck::Swagger::parse(include_str!("../../tests/data/argo-cd/swagger-subset.json"))
            .and_then(|s| {
                s.with_corrections(include_str!("../../tests/data/argo-cd/corrections.json"))
            })
            .unwrap_or_else(|e| panic!("vendored Argo CD swagger: {e}"))
    });
    &SWAGGER
}

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

fn error_body(code: u32, message: &str) -> Value {
    json!({"error": message, "code": code, "message": message, "details": []})
}

fn grpc_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        error_body(code, message).to_string(),
    )
        .into_response()
}

/// `GET /api/v1/applications`: `items` is `null` when there are none.
fn list_body<'a>(items: impl Iterator<Item = &'a Value>) -> Value {
    let items: Vec<&Value> = items.collect();
    json!({"metadata": {"resourceVersion": "1000"},
           "items": if items.is_empty() { Value::Null } else { json!(items) }})
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

    /// Requests that did not match the documented API, then everything
    /// Argo CD's API description does not allow in the requests received
    /// and in the documents served (see the module documentation).
    pub fn violations(&self) -> Vec<String> {
        let inner = self.lock();
        let mut out = inner.violations.clone();
        let swagger = swagger();
        let mut found = Vec::new();
        for s in &inner.seen {
            found.extend(swagger.check_request(&ferry_apicheck::Request {
                method: &s.method,
                path: &s.path,
                query: &s.query,
                body: None,
            }));
        }
        for ((_, name), app) in &inner.apps {
            let path = format!("/api/v1/applications/{name}");
            found.extend(swagger.check_response("GET", &path, 200, app));
            let line: Value = serde_json::from_str(&event("MODIFIED", app)).unwrap_or(Value::Null);
            found.extend(swagger.check_response("GET", "/api/v1/stream/applications", 200, &line));
        }
        found.extend(swagger.check_response(
            "GET",
            "/api/v1/applications",
            200,
            &list_body(inner.apps.values()),
        ));
        found.extend(swagger.check_response(
            "GET",
            "/api/v1/applications/x",
            403,
            &error_body(7, "permission denied"),
        ));
        // The same problem found on every request or application is one violation.
        found.dedup();
        out.extend(found.into_iter().map(|p| format!("swagger: {p}")));
        out
    }
}

async fn handle(
    State(inner): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let path = uri.path().to_owned();
    let query = ferry_apicheck::parse_query(uri.query().unwrap_or(""));
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
    // Which operation, and whether its parameters are Argo CD's, is
    // decided by Argo CD's API description (checked in `violations`); the
    // fake serves the three operations ferry uses.
    if swagger().operation_id(method.as_str(), &path).is_none() {
        return grpc_error(StatusCode::NOT_FOUND, 5, "Not Found");
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
        let body = list_body(
            f.apps
                .iter()
                .filter(|(k, _)| app_ns.as_deref().is_none_or(|ns| ns == k.0))
                .map(|(_, v)| v),
        );
        return axum::Json(body).into_response();
    }
    // GET /api/v1/applications/{name}
    // Argo CD takes any `refresh` value: `hard` is a hard refresh, any other a normal one.
    let name = ferry_apicheck::percent_decode(path.trim_start_matches("/api/v1/applications/"));
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
