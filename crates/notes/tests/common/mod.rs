//! Fixtures: real Git repositories built with the git CLI, a real OCI
//! registry (Debian's `docker-registry`, started on a loopback port with
//! a throw-away storage directory), images pushed through the
//! Distribution API, and releases built in memory.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_release::{
    ApplicationSnapshot, FrozenFlow, Release, ReleaseKind, ReleaseStatus, Snapshot, Trigger,
};
use ferry_yamledit::{NormalizedPath, PathValue, Scalar, Value};
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- git

pub fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, "2026-01-01T00:00:00Z")
}

/// Runs git with fixed author/committer dates so SHAs and output are
/// reproducible.
pub fn git_at(dir: &Path, args: &[&str], date: &str) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "Ada Lovelace")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada Lovelace")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .env("GIT_AUTHOR_DATE", date)
        .env("GIT_COMMITTER_DATE", date)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A working repository with one branch `main`.
pub struct Repo {
    pub dir: PathBuf,
    clock: u32,
}

impl Repo {
    pub fn init(dir: PathBuf) -> Repo {
        std::fs::create_dir_all(&dir).unwrap();
        git(&dir, &["init", "-q", "-b", "main"]);
        Repo { dir, clock: 0 }
    }

    fn tick(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-01-{:02}T{:02}:{:02}:00+01:00",
            1 + self.clock / 24 / 60 % 28,
            self.clock / 60 % 24,
            self.clock % 60
        )
    }

    pub fn run(&mut self, args: &[&str]) -> String {
        let date = self.tick();
        git_at(&self.dir, args, &date)
    }

    pub fn write(&self, path: &str, text: &str) {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// Writes `path` (a line per commit, so every commit changes it) and
    /// commits with `message`; returns the SHA.
    pub fn commit(&mut self, path: &str, message: &str) -> String {
        let p = self.dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&p)
            .unwrap();
        writeln!(f, "{message}").unwrap();
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn commit_file(&mut self, path: &str, text: &str, message: &str) -> String {
        self.write(path, text);
        self.run(&["add", "-A"]);
        self.run(&["commit", "-q", "-m", message]);
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.dir, &["rev-parse", "HEAD"])
    }

    pub fn url(&self) -> String {
        self.dir.display().to_string()
    }
}

// ----------------------------------------------------------- releases

pub fn scalar(text: &str) -> Value {
    Value::Scalar(Scalar::string(text))
}

pub fn path_value(path: &str, value: Value) -> PathValue {
    PathValue {
        path: NormalizedPath::from_str(path).unwrap(),
        value,
    }
}

pub fn app_snapshot(
    name: &str,
    repo: &str,
    path: &str,
    revision: &str,
    values: Vec<(&str, Vec<PathValue>)>,
) -> ApplicationSnapshot {
    ApplicationSnapshot {
        application: name.into(),
        repo_url: repo.into(),
        path: path.into(),
        revision: revision.into(),
        values: values.into_iter().map(|(f, v)| (f.to_owned(), v)).collect(),
        files: BTreeMap::new(),
    }
}

pub fn release(
    product: &str,
    number: u64,
    version: &str,
    apps: Vec<(&str, ApplicationSnapshot)>,
) -> Release {
    let now = ferry_release::now();
    Release {
        id: ferry_release::new_release_id(),
        number,
        product: product.into(),
        flow: "main".into(),
        kind: ReleaseKind::Automatic,
        status: ReleaseStatus::Succeeded,
        initiator: "ada".into(),
        created_at: now,
        // A terminal status goes with its finishedAt (the store refuses one without the other).
        finished_at: Some(now),
        version: Some(version.into()),
        trigger: Trigger::default(),
        graph: FrozenFlow {
            name: "main".into(),
            trigger_environment: "dev".into(),
            steps: Vec::new(),
            hooks: Default::default(),
            trigger_post_action: None,
            timeout_seconds: 3600,
        },
        snapshot: Snapshot {
            environment: "dev".into(),
            applications: apps.into_iter().map(|(k, a)| (k.to_owned(), a)).collect(),
            pending: false,
        },
        environments: Vec::new(),
        hooks: Vec::new(),
        termination: None,
        hotfix: false,
        break_glass: None,
        attempt: 1,
        rolled_back_by: Vec::new(),
        rollback_for: None,
        timeout: None,
    }
}

pub fn workspace(cache: &Path) -> Arc<ferry_gitops::Workspace> {
    Arc::new(ferry_gitops::Workspace::new(
        cache.to_path_buf(),
        Arc::new(|_: &str| ferry_git::Credentials::None),
    ))
}

// ----------------------------------------------------------- registry

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Token authentication settings of a registry (`auth: token`).
pub struct TokenAuth {
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub root_cert: PathBuf,
}

/// A running `docker-registry` process; killed on drop.
pub struct Registry {
    child: Child,
    pub addr: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn registry_binary() -> PathBuf {
    let path = std::env::var_os("FERRY_REGISTRY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/docker-registry"));
    assert!(
        path.exists(),
        "{} is missing: install Debian's docker-registry (scripts/test does) or set FERRY_REGISTRY_BIN",
        path.display()
    );
    path
}

impl Registry {
    /// Starts a registry over `storage` (several registries may share it).
    pub fn start(work: &Path, storage: &Path, auth: Option<&TokenAuth>) -> Registry {
        Registry::start_at(work, storage, auth, free_port())
    }

    /// Starts a registry on a given loopback port (e.g. one that was
    /// refusing connections before: a registry that comes back).
    pub fn start_at(work: &Path, storage: &Path, auth: Option<&TokenAuth>, port: u16) -> Registry {
        let addr = format!("127.0.0.1:{port}");
        let auth_yaml = match auth {
            None => String::new(),
            Some(a) => format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                a.realm,
                a.service,
                a.issuer,
                a.root_cert.display()
            ),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth_yaml}",
            storage.display()
        );
        let config_path = work.join(format!("registry-{port}.yml"));
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(work.join(format!("registry-{port}.log"))).unwrap();
        let child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, addr };
        registry.wait_ready(work, port);
        registry
    }

    fn wait_ready(&self, work: &Path, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut s) = std::net::TcpStream::connect(&self.addr) {
                use std::io::Read;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut buf = [0u8; 16];
                if s.read(&mut buf).is_ok_and(|n| n >= 12) && buf.starts_with(b"HTTP/1.") {
                    return;
                }
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(work.join(format!("registry-{port}.log")))
                    .unwrap_or_default();
                panic!("registry on {} did not start:\n{log}", self.addr);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut out = String::from("sha256:");
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Pushes through the Distribution API of an anonymous registry.
pub struct Pusher {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Pushed {
    pub digest: String,
    pub size: usize,
    pub media_type: String,
}

impl Pusher {
    pub fn new(addr: &str) -> Pusher {
        Pusher {
            http: reqwest::Client::new(),
            base: format!("http://{addr}"),
        }
    }

    /// Monolithic upload: `POST …/blobs/uploads/` then `PUT <location>&digest=`.
    pub async fn blob(&self, name: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let resp = self
            .http
            .post(format!("{}/v2/{name}/blobs/uploads/", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 202, "start upload: {:?}", resp.text().await);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let resp = self
            .http
            .put(format!("{location}{sep}digest={digest}"))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "finish upload: {:?}", resp.text().await);
        digest
    }

    pub async fn manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Pushed {
        let resp = self
            .http
            .put(format!("{}/v2/{name}/manifests/{reference}", self.base))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201, "put manifest: {:?}", resp.text().await);
        Pushed {
            digest: sha256(body),
            size: body.len(),
            media_type: media_type.to_owned(),
        }
    }

    /// One image (config with `labels`, one layer) as an OCI or Docker
    /// schema2 manifest; tagged `tag` when given.
    pub async fn image(
        &self,
        name: &str,
        tag: Option<&str>,
        labels: &[(&str, &str)],
        docker: bool,
        arch: &str,
    ) -> Pushed {
        let labels: serde_json::Map<String, serde_json::Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": {"Labels": labels, "Env": ["PATH=/usr/bin"]},
            "rootfs": {"type": "layers", "diff_ids": []},
        }))
        .unwrap();
        let layer = format!("layer of {name} {arch} {labels:?}").into_bytes();
        let config_digest = self.blob(name, &config).await;
        let layer_digest = self.blob(name, &layer).await;
        let (mt, config_mt, layer_mt) = if docker {
            (
                "application/vnd.docker.distribution.manifest.v2+json",
                "application/vnd.docker.container.image.v1+json",
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
            )
        } else {
            (
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.config.v1+json",
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        };
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": config_mt, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_mt, "digest": layer_digest, "size": layer.len()}],
        }))
        .unwrap();
        let reference = match tag {
            Some(t) => t.to_owned(),
            None => sha256(&manifest),
        };
        self.manifest(name, &reference, mt, &manifest).await
    }

    /// A manifest list / index over already pushed manifests, each with
    /// its platform (`os/arch`, `unknown/unknown` for an attestation).
    pub async fn index(
        &self,
        name: &str,
        tag: &str,
        entries: &[(&Pushed, &str)],
        docker: bool,
    ) -> Pushed {
        let manifests: Vec<serde_json::Value> = entries
            .iter()
            .map(|(p, platform)| {
                let (os, arch) = platform.split_once('/').unwrap();
                let mut m = serde_json::json!({
                    "mediaType": p.media_type,
                    "digest": p.digest,
                    "size": p.size,
                    "platform": {"os": os, "architecture": arch},
                });
                if os == "unknown" {
                    m["annotations"] = serde_json::json!({
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": entries.last().unwrap().0.digest,
                    });
                }
                m
            })
            .collect();
        let mt = if docker {
            "application/vnd.docker.distribution.manifest.list.v2+json"
        } else {
            "application/vnd.oci.image.index.v1+json"
        };
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "manifests": manifests,
        }))
        .unwrap();
        self.manifest(name, tag, mt, &body).await
    }
}

// --------------------------------------------------- token endpoint

/// A self-signed RSA key and certificate made with the openssl CLI: the
/// registry trusts the certificate, the token endpoint signs with the key.
pub struct SigningKey {
    pub key: PathBuf,
    pub cert_pem: PathBuf,
    pub cert_der: Vec<u8>,
}

pub fn signing_key(dir: &Path) -> SigningKey {
    let key = dir.join("token.key");
    let cert_pem = dir.join("token.crt");
    let der = dir.join("token.der");
    let run = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=ferry-test-token-issuer",
        "-keyout",
        key.to_str().unwrap(),
        "-out",
        cert_pem.to_str().unwrap(),
    ]);
    run(&[
        "x509",
        "-in",
        cert_pem.to_str().unwrap(),
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    SigningKey {
        key,
        cert_pem,
        cert_der: std::fs::read(der).unwrap(),
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An RS256 JWT as distribution's token auth expects it: `x5c` header
/// chaining to the registry's root bundle, `iss`, `aud` = service, and the
/// granted `access`.
pub fn jwt(key: &SigningKey, issuer: &str, service: &str, name: &str, actions: &[&str]) -> String {
    use base64::Engine;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = serde_json::json!({
        "typ": "JWT", "alg": "RS256",
        "x5c": [base64::engine::general_purpose::STANDARD.encode(&key.cert_der)],
    });
    let claims = serde_json::json!({
        "iss": issuer, "sub": "", "aud": service,
        "exp": now + 300, "nbf": now - 60, "iat": now - 60,
        "jti": format!("ferry-test-{now}"),
        "access": [{"type": "repository", "name": name, "actions": actions}],
    });
    let input = format!(
        "{}.{}",
        b64url(&serde_json::to_vec(&header).unwrap()),
        b64url(&serde_json::to_vec(&claims).unwrap())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign", key.key.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    format!("{input}.{}", b64url(&out.stdout))
}

/// One request the token endpoint received.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub authorization: Option<String>,
}

/// An in-test token endpoint (`GET /token?service=&scope=`) that checks
/// the documented request shape and answers `{token, access_token,
/// expires_in, issued_at}`; requests with a wrong shape get 400.
pub struct TokenServer {
    pub realm: String,
    pub requests: Arc<std::sync::Mutex<Vec<TokenRequest>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl TokenServer {
    /// `basic`: when set, the endpoint requires these Basic credentials.
    pub fn start(
        key: SigningKey,
        issuer: &str,
        service: &str,
        basic: Option<(&str, &str)>,
    ) -> TokenServer {
        use base64::Engine;
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (srv, reqs) = (Arc::clone(&server), Arc::clone(&requests));
        let (issuer, service) = (issuer.to_owned(), service.to_owned());
        let expected_auth = basic.map(|(u, p)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        });
        let thread = std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let url = req.url().to_owned();
                let (path, query) = url.split_once('?').unwrap_or((&url, ""));
                let query: Vec<(String, String)> = query
                    .split('&')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p.split_once('=').unwrap_or((p, ""));
                        (k.to_owned(), percent_decode(v))
                    })
                    .collect();
                let authorization = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string());
                let record = TokenRequest {
                    method: req.method().to_string(),
                    path: path.to_owned(),
                    query: query.clone(),
                    authorization: authorization.clone(),
                };
                reqs.lock().unwrap().push(record);
                let get = |k: &str| query.iter().find(|(q, _)| q == k).map(|(_, v)| v.clone());
                let scope = get("scope").unwrap_or_default();
                let parts: Vec<&str> = scope.split(':').collect();
                let shape_ok = req.method() == &tiny_http::Method::Get
                    && path == "/token"
                    && get("service").as_deref() == Some(service.as_str())
                    && parts.len() == 3
                    && parts[0] == "repository";
                if !shape_ok {
                    let _ = req.respond(
                        tiny_http::Response::from_string("bad token request").with_status_code(400),
                    );
                    continue;
                }
                if expected_auth.is_some() && authorization != expected_auth {
                    let _ = req.respond(
                        tiny_http::Response::from_string("{\"details\":\"bad credentials\"}")
                            .with_status_code(401),
                    );
                    continue;
                }
                let actions: Vec<&str> = parts[2].split(',').collect();
                let token = jwt(&key, &issuer, &service, parts[1], &actions);
                let body = serde_json::json!({
                    "token": token, "access_token": token, "expires_in": 300,
                    "issued_at": "2026-11-27T08:00:00Z",
                });
                let header =
                    tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
                let _ = req.respond(
                    tiny_http::Response::from_string(body.to_string()).with_header(header),
                );
            }
        });
        TokenServer {
            realm: format!("http://127.0.0.1:{port}/token"),
            requests,
            server,
            thread: Some(thread),
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
