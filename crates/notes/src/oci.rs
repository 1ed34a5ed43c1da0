//! Reading an image's labels through the OCI Distribution API.
//!
//! `GET /v2/<name>/manifests/<ref>` (accepting OCI and Docker manifests and
//! indexes) → for an index, the first platform's manifest (attestation
//! entries skipped) → its `config.digest` → `GET /v2/<name>/blobs/<digest>`
//! → `.config.Labels`. Manifest and index `annotations` fill in what the
//! labels lack (OCI images may carry the same keys there).
//!
//! Authentication follows the registry's `WWW-Authenticate` challenge:
//! `Bearer realm=…,service=…,scope=…` → `GET <realm>?service=&scope=`
//! (anonymously, or with the registry's Basic credentials when configured)
//! → `token`/`access_token` → retry with `Authorization: Bearer`. Tokens
//! are cached per registry and scope. A `Basic` challenge is answered with
//! the configured credentials. Redirects (common for blobs) are followed by
//! reqwest, which drops `Authorization` when the host changes.
//!
//! Credentials and tokens never appear in errors: messages name the
//! registry and the path asked for only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::image::ImageRef;

/// The label keys of the image-spec that name the source.
pub const SOURCE_LABEL: &str = "org.opencontainers.image.source";
pub const REVISION_LABEL: &str = "org.opencontainers.image.revision";
pub const VERSION_LABEL: &str = "org.opencontainers.image.version";

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Largest manifest or config blob read; real ones are a few kB.
const MAX_DOCUMENT: usize = 4 * 1024 * 1024;
/// Nested indexes followed at most this deep.
const MAX_DEPTH: usize = 3;

/// Registry settings.
#[derive(Clone, Default)]
pub struct OciSettings {
    /// Registries (`host[:port]`) spoken to over plain HTTP. Loopback
    /// registries always are.
    pub insecure: Vec<String>,
    /// Basic credentials by registry host, for the token endpoint or a
    /// Basic challenge.
    pub credentials: HashMap<String, (String, String)>,
    /// Per request; default 10 s.
    pub timeout: Option<Duration>,
}

impl std::fmt::Debug for OciSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciSettings")
            .field("insecure", &self.insecure)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// What an image says about its source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageSource {
    pub labels: BTreeMap<String, String>,
    /// The manifest digest the tag pointed at.
    pub digest: Option<String>,
}

impl ImageSource {
    pub fn source(&self) -> Option<&str> {
        self.labels
            .get(SOURCE_LABEL)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
    pub fn revision(&self) -> Option<&str> {
        self.labels
            .get(REVISION_LABEL)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// A cached bearer token.
struct Token {
    value: String,
    expires: Instant,
}

/// An OCI Distribution client (cheap to share; one per server).
pub struct OciClient {
    http: reqwest::Client,
    settings: OciSettings,
    tokens: Mutex<HashMap<(String, String), Token>>,
}

impl std::fmt::Debug for OciClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciClient")
            .field("settings", &self.settings)
            .finish()
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="…",service="…",scope="…"` (quoted values may hold
/// commas; unquoted tokens end at a comma).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = BTreeMap::new();
    let mut chars = rest.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n)
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                value.push(*c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        params.insert(key, value);
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

fn is_loopback(registry: &str) -> bool {
    let host = if let Some(rest) = registry.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        registry.split(':').next().unwrap_or("")
    };
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

impl OciClient {
    pub fn new(settings: OciSettings) -> Result<OciClient> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout.unwrap_or(Duration::from_secs(10)))
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Internal(format!("building the HTTP client: {e}")))?;
        Ok(OciClient {
            http,
            settings,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// `scheme://host` of a registry (Docker Hub's API host for `docker.io`).
    pub fn endpoint(&self, registry: &str) -> String {
        let host = if registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            registry
        };
        let plain = is_loopback(registry) || self.settings.insecure.iter().any(|r| r == registry);
        format!("{}://{host}", if plain { "http" } else { "https" })
    }

    /// The labels (and annotations) of `image`.
    pub async fn image_source(&self, image: &ImageRef) -> Result<ImageSource> {
        let mut reference = image.reference().to_owned();
        let mut annotations = BTreeMap::new();
        let mut digest = None;
        for _ in 0..MAX_DEPTH {
            let (media, body, got_digest) = self.manifest(image, &reference).await?;
            if digest.is_none() {
                digest = got_digest;
            }
            let doc: Value = serde_json::from_slice(&body).map_err(|e| Error::Registry {
                registry: image.registry.clone(),
                message: format!("manifest {}:{reference} is not JSON: {e}", image.name),
            })?;
            merge_annotations(&mut annotations, &doc);
            let media = if media.is_empty() {
                doc["mediaType"].as_str().unwrap_or_default().to_owned()
            } else {
                media
            };
            let is_index = media == OCI_INDEX
                || media == DOCKER_LIST
                || (media.is_empty() && doc["manifests"].is_array());
            if is_index {
                reference = first_platform(&doc).ok_or_else(|| Error::Registry {
                    registry: image.registry.clone(),
                    message: format!(
                        "index {}:{} lists no image manifest",
                        image.name,
                        image.reference()
                    ),
                })?;
                continue;
            }
            let Some(config) = doc["config"]["digest"].as_str() else {
                return Err(Error::Registry {
                    registry: image.registry.clone(),
                    message: format!(
                        "manifest {}:{reference} ({media}) has no config digest",
                        image.name
                    ),
                });
            };
            let blob = self
                .get(image, &format!("blobs/{config}"), "application/json, */*")
                .await?;
            let config_doc: Value =
                serde_json::from_slice(&blob.1).map_err(|e| Error::Registry {
                    registry: image.registry.clone(),
                    message: format!("config blob {config} is not JSON: {e}"),
                })?;
            let mut labels = BTreeMap::new();
            if let Some(map) = config_doc["config"]["Labels"].as_object() {
                for (k, v) in map {
                    if let Some(v) = v.as_str() {
                        labels.insert(k.clone(), v.to_owned());
                    }
                }
            }
            for (k, v) in annotations {
                labels.entry(k).or_insert(v);
            }
            return Ok(ImageSource { labels, digest });
        }
        Err(Error::Registry {
            registry: image.registry.clone(),
            message: format!(
                "{}:{}: indexes nested deeper than {MAX_DEPTH}",
                image.name,
                image.reference()
            ),
        })
    }

    /// A manifest: its media type, body and `Docker-Content-Digest`.
    async fn manifest(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<(String, Vec<u8>, Option<String>)> {
        let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let (headers, body) = self
            .get(image, &format!("manifests/{reference}"), &accept)
            .await?;
        let media = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
            .unwrap_or_default();
        let digest = headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((media, body, digest))
    }

    /// `GET /v2/<name>/<rest>`, answering one authentication challenge.
    async fn get(
        &self,
        image: &ImageRef,
        rest: &str,
        accept: &str,
    ) -> Result<(HeaderMap, Vec<u8>)> {
        let url = format!(
            "{}/v2/{}/{rest}",
            self.endpoint(&image.registry),
            image.name
        );
        let scope = format!("repository:{}:pull", image.name);
        let what = format!("GET /v2/{}/{rest}", image.name);
        let cached = self.cached_token(&image.registry, &scope);
        let mut auth = cached.map(|t| format!("Bearer {t}"));
        for attempt in 0..2 {
            let mut req = self.http.get(&url).header(ACCEPT, accept);
            if let Some(a) = &auth {
                req = req.header(AUTHORIZATION, a);
            }
            let resp = req
                .send()
                .await
                .map_err(|e| self.unreachable(image, &what, &e))?;
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED && attempt == 0 {
                let challenge = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_challenge);
                auth = Some(self.answer(image, &scope, challenge).await?);
                continue;
            }
            if !status.is_success() {
                let body = read_limited(resp).await.unwrap_or_default();
                return Err(Error::Registry {
                    registry: image.registry.clone(),
                    message: format!("{what}: {}", error_text(status, &body)),
                });
            }
            let headers = resp.headers().clone();
            let body = read_limited(resp).await.map_err(|m| Error::Registry {
                registry: image.registry.clone(),
                message: format!("{what}: {m}"),
            })?;
            return Ok((headers, body));
        }
        Err(Error::Registry {
            registry: image.registry.clone(),
            message: format!("{what}: still unauthorized after authenticating"),
        })
    }

    fn cached_token(&self, registry: &str, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(&(registry.to_owned(), scope.to_owned()))
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.value.clone())
    }

    /// The `Authorization` value that answers `challenge`.
    async fn answer(
        &self,
        image: &ImageRef,
        scope: &str,
        challenge: Option<Challenge>,
    ) -> Result<String> {
        let registry = &image.registry;
        let creds = self.settings.credentials.get(registry);
        let Some(ch) = challenge else {
            return Err(Error::Registry {
                registry: registry.clone(),
                message: "401 without a WWW-Authenticate challenge".into(),
            });
        };
        match ch.scheme.as_str() {
            "basic" => match creds {
                Some((user, password)) => Ok(basic(user, password)),
                None => Err(Error::Registry {
                    registry: registry.clone(),
                    message: "the registry wants Basic credentials and none are configured".into(),
                }),
            },
            "bearer" => {
                let realm = ch.params.get("realm").ok_or_else(|| Error::Registry {
                    registry: registry.clone(),
                    message: "Bearer challenge without a realm".into(),
                })?;
                if !(realm.starts_with("https://") || realm.starts_with("http://")) {
                    return Err(Error::Registry {
                        registry: registry.clone(),
                        message: format!("token realm `{realm}` is not an http(s) URL"),
                    });
                }
                let scope = ch.params.get("scope").map_or(scope, String::as_str);
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(service) = ch.params.get("service") {
                    query.push(("service", service));
                }
                for s in scope.split(' ').filter(|s| !s.is_empty()) {
                    query.push(("scope", s));
                }
                let mut req = self.http.get(realm).query(&query);
                if let Some((user, password)) = creds {
                    req = req.header(AUTHORIZATION, basic(user, password));
                }
                let what = format!("token endpoint {}", realm_for_errors(realm));
                let resp = req
                    .send()
                    .await
                    .map_err(|e| self.unreachable(image, &what, &e))?;
                let status = resp.status();
                let body = read_limited(resp).await.map_err(|m| Error::Registry {
                    registry: registry.clone(),
                    message: format!("{what}: {m}"),
                })?;
                if !status.is_success() {
                    return Err(Error::Registry {
                        registry: registry.clone(),
                        message: format!("{what}: {}", error_text(status, &body)),
                    });
                }
                let doc: Value = serde_json::from_slice(&body).map_err(|_| Error::Registry {
                    registry: registry.clone(),
                    message: format!("{what}: the answer is not JSON"),
                })?;
                let token = doc["token"]
                    .as_str()
                    .or_else(|| doc["access_token"].as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::Registry {
                        registry: registry.clone(),
                        message: format!("{what}: no `token` or `access_token` in the answer"),
                    })?
                    .to_owned();
                let lifetime = doc["expires_in"].as_u64().unwrap_or(60).max(1);
                // Renew a little early so a token does not expire in flight.
                let expires =
                    Instant::now() + Duration::from_secs(lifetime.saturating_sub(5).max(1));
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(
                        (registry.clone(), scope.to_owned()),
                        Token {
                            value: token.clone(),
                            expires,
                        },
                    );
                Ok(format!("Bearer {token}"))
            }
            other => Err(Error::Registry {
                registry: registry.clone(),
                message: format!("unsupported authentication scheme `{other}`"),
            }),
        }
    }

    fn unreachable(&self, image: &ImageRef, what: &str, e: &reqwest::Error) -> Error {
        // reqwest's Display includes the URL, which holds no credentials
        // here (they travel in headers only); the source chain says why.
        let mut cause = String::new();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let kind = if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            format!("cannot connect ({cause})")
        } else {
            format!("request failed ({cause})")
        };
        Error::Unreachable {
            registry: image.registry.clone(),
            message: format!("{what}: {kind}"),
        }
    }
}

/// A realm URL without its query (which could carry an account name).
fn realm_for_errors(realm: &str) -> &str {
    realm.split('?').next().unwrap_or(realm)
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
}

fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The registry's error codes and messages, else the status.
fn error_text(status: StatusCode, body: &[u8]) -> String {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let errors: Vec<String> = parsed
        .as_ref()
        .and_then(|v| v["errors"].as_array())
        .map(|errs| {
            errs.iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["code"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                    .trim()
                    .to_owned()
                })
                .collect()
        })
        .unwrap_or_default();
    if errors.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", errors.join("; "))
    }
}

async fn read_limited(mut resp: reqwest::Response) -> std::result::Result<Vec<u8>, String> {
    if resp
        .content_length()
        .is_some_and(|n| n > MAX_DOCUMENT as u64)
    {
        return Err(format!("larger than {MAX_DOCUMENT} bytes"));
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading: {e}"))? {
        if out.len() + chunk.len() > MAX_DOCUMENT {
            return Err(format!("larger than {MAX_DOCUMENT} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

fn merge_annotations(into: &mut BTreeMap<String, String>, doc: &Value) {
    if let Some(map) = doc["annotations"].as_object() {
        for (k, v) in map {
            if let Some(v) = v.as_str() {
                into.entry(k.clone()).or_insert_with(|| v.to_owned());
            }
        }
    }
}

/// The digest of the first platform's manifest of an index, skipping
/// attestation manifests (buildx stores them as `unknown/unknown` entries
/// annotated `vnd.docker.reference.type: attestation-manifest`).
pub fn first_platform(index: &Value) -> Option<String> {
    index["manifests"].as_array()?.iter().find_map(|m| {
        let attestation = m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest"
            || m["platform"]["os"] == "unknown";
        if attestation {
            return None;
        }
        m["digest"].as_str().map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token?a=b,c",service="registry.example.com",scope="repository:acme/api:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.example.com/token?a=b,c");
        assert_eq!(c.params["service"], "registry.example.com");
        assert_eq!(c.params["scope"], "repository:acme/api:pull");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        assert_eq!(c.params["realm"], "Registry Realm");
        let c = parse_challenge("Bearer realm=https://a/t, service=s").unwrap();
        assert_eq!(c.params["realm"], "https://a/t");
        assert_eq!(c.params["service"], "s");
    }

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn platforms_skip_attestations() {
        let index = serde_json::json!({"manifests": [
            {"digest": "sha256:att", "platform": {"os": "unknown", "architecture": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
            {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "sha256:arm", "platform": {"os": "linux", "architecture": "arm64"}}
        ]});
        assert_eq!(first_platform(&index).as_deref(), Some("sha256:amd"));
        assert_eq!(first_platform(&serde_json::json!({"manifests": []})), None);
    }

    #[test]
    fn endpoints() {
        let c = OciClient::new(OciSettings {
            insecure: vec!["registry.lan:5000".into()],
            ..OciSettings::default()
        })
        .unwrap();
        assert_eq!(c.endpoint("docker.io"), "https://registry-1.docker.io");
        assert_eq!(c.endpoint("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(c.endpoint("localhost:5000"), "http://localhost:5000");
        assert_eq!(c.endpoint("registry.lan:5000"), "http://registry.lan:5000");
        assert_eq!(c.endpoint("ghcr.io"), "https://ghcr.io");
    }
}
