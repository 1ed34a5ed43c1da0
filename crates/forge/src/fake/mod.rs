//! In-process fake forges (feature `fake`) for tests and benches: real
//! HTTP servers on 127.0.0.1 that answer the calls ferry makes the way the
//! forges do, and enforce the rules that matter — written from the
//! vendors' material, not from ferry's client:
//!
//! - request bodies are validated against the published schemas vendored
//!   in `tests/data/schemas` (GitHub's REST description, Gitea's swagger,
//!   Microsoft's Azure DevOps specification); a body that does not
//!   validate is answered 422/400 and recorded as a violation;
//! - GitHub's 140-character status description limit (422), Bitbucket's
//!   40-character status `key` (400), GitLab's commit-status state machine
//!   (400 "Cannot transition status", counted), Azure DevOps' 4,000-character
//!   pull-request description and `api-version`;
//! - authentication as each forge takes it, duplicate pull requests
//!   answered as each forge does (422, 409), and lists paged with `Link`
//!   headers (GitHub, GitLab, Gitea), `next` (Bitbucket);
//! - optional fault injection: a share of calls answered 502/503 or 429
//!   (with `Retry-After`) before anything is done;
//! - pull requests close as each forge closes them (GitHub/Gitea `state:
//!   closed`, GitLab `state_event: close`, Bitbucket decline, Azure DevOps
//!   `abandoned`) and only while open (merged ones answer as the forge
//!   does), and comments are kept per pull request.
//!
//! One module per forge; [`FakeForge`] is the server and what tests read
//! back (latest status per context, pull requests, violations).

mod azure;
mod bitbucket;
mod gitea;
mod github;
mod gitlab;
mod schema;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::ForgeKind;

/// How a fake forge behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// The API token it accepts.
    pub token: String,
    /// The path the forge is installed under (`git` serves
    /// `http://addr/git/api/v1`), without slashes; empty at the root.
    pub path_prefix: String,
    /// Share of API calls answered with a fault (502, 503 or 429) before
    /// anything is done, 0.0–1.0.
    pub fault_rate: f64,
    /// `Retry-After` seconds sent with injected 429s.
    pub retry_after: u64,
    /// Seed of the fault injection (runs are repeatable).
    pub seed: u64,
    /// Azure DevOps organisation (the first path segment of `apiUrl`).
    pub organisation: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            token: "fake-token".into(),
            path_prefix: String::new(),
            fault_rate: 0.0,
            retry_after: 1,
            seed: 7,
            organisation: "acme".into(),
        }
    }
}

/// One commit status as the forge keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    /// Lowercase `owner/repo` (GitLab: the project path; Azure DevOps: `project/repo`).
    pub repo: String,
    pub sha: String,
    /// As ferry names it: GitHub/Gitea `context`, GitLab `name`, Bitbucket
    /// `name`, Azure DevOps `genre/name`.
    pub context: String,
    /// The forge's own word (`pending`, `running`, `INPROGRESS`, `succeeded`…).
    pub state: String,
    pub description: String,
    pub target_url: String,
    /// Bitbucket's `key`.
    pub key: Option<String>,
}

impl FakeStatus {
    /// Whether the forge's word is a final one.
    pub fn is_final(&self) -> bool {
        matches!(
            self.state.as_str(),
            "success"
                | "failure"
                | "error"
                | "failed"
                | "canceled"
                | "SUCCESSFUL"
                | "FAILED"
                | "STOPPED"
                | "succeeded"
        )
    }
}

/// Where a fake pull request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrState {
    Open,
    Merged,
    Closed,
}

/// One pull (merge) request.
#[derive(Debug, Clone)]
pub struct FakePull {
    pub repo: String,
    pub number: u64,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: PrState,
    pub merge_commit: Option<String>,
    /// Comments left on it, oldest first (their text).
    pub comments: Vec<String>,
}

pub(crate) struct State {
    kind: ForgeKind,
    opts: Options,
    rng: fastrand::Rng,
    /// Every status accepted, oldest first.
    statuses: Vec<FakeStatus>,
    /// GitLab: which statuses are still `pending`/`running` rows (index
    /// into `statuses`) per (repo, sha, name).
    gitlab_rows: HashMap<(String, String, String), usize>,
    pulls: Vec<FakePull>,
    violations: Vec<String>,
    refused_transitions: u64,
    requests: u64,
    faults: u64,
}

/// A request as the per-forge handlers see it.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    /// Path segments after the API prefix, percent-decoded.
    pub segments: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: Value,
    /// `http://addr/<prefix>/<api path>`, for links.
    pub api_url: String,
    /// The raw path after the API prefix (links are built from it).
    pub raw_path: String,
}

impl Req<'_> {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn segs(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    pub fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// An answer.
pub(crate) struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Resp {
    pub fn json(status: u16, body: Value) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Resp {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

impl State {
    pub(crate) fn violation(&mut self, what: String) {
        self.violations.push(what);
    }

    fn fault(&mut self) -> Option<Resp> {
        if self.opts.fault_rate <= 0.0 || self.rng.f64() >= self.opts.fault_rate {
            return None;
        }
        self.faults += 1;
        Some(match self.rng.u8(0..3) {
            0 => Resp::json(502, json!({"message": "Bad Gateway"})),
            1 => Resp::json(503, json!({"message": "Service Unavailable"})),
            _ => Resp::json(
                429,
                json!({"message": "API rate limit exceeded", "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}),
            )
            .header("retry-after", self.opts.retry_after.to_string()),
        })
    }

    /// Pull request `number` (as written in a path) of `repo`.
    pub(crate) fn pull(&self, repo: &str, number: &str) -> Option<&FakePull> {
        let n: u64 = number.parse().ok()?;
        self.pulls.iter().find(|p| p.repo == repo && p.number == n)
    }

    /// Pull request `number` of `repo`, to change.
    pub(crate) fn pull_mut(&mut self, repo: &str, number: &str) -> Option<&mut FakePull> {
        let n: u64 = number.parse().ok()?;
        self.pulls
            .iter_mut()
            .find(|p| p.repo == repo && p.number == n)
    }

    /// Next number of a pull request in `repo` (GitHub/Gitea share issue
    /// numbers; one counter per repository is enough here).
    fn next_number(&self, repo: &str) -> u64 {
        self.pulls.iter().filter(|p| p.repo == repo).count() as u64 + 1
    }
}

/// A running fake forge.
pub struct FakeForge {
    pub kind: ForgeKind,
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    api_path: String,
}

impl FakeForge {
    /// Starts a fake `kind` on 127.0.0.1 (a free port).
    pub async fn start(kind: ForgeKind, opts: Options) -> FakeForge {
        let mut api_path = String::new();
        if !opts.path_prefix.is_empty() {
            api_path.push('/');
            api_path.push_str(opts.path_prefix.trim_matches('/'));
        }
        api_path.push_str(match kind {
            ForgeKind::Github => "/api/v3",
            ForgeKind::Gitlab => "/api/v4",
            ForgeKind::Gitea => "/api/v1",
            ForgeKind::Bitbucket => "/2.0",
            ForgeKind::AzureDevOps => "",
        });
        if kind == ForgeKind::AzureDevOps {
            api_path.push('/');
            api_path.push_str(&opts.organisation);
        }
        let state = Arc::new(Mutex::new(State {
            kind,
            rng: fastrand::Rng::with_seed(opts.seed),
            opts,
            statuses: Vec::new(),
            gitlab_rows: HashMap::new(),
            pulls: Vec::new(),
            violations: Vec::new(),
            refused_transitions: 0,
            requests: 0,
            faults: 0,
        }));
        // Bound before the router so links can name the address.
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake {kind}: binding 127.0.0.1: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("fake {kind}: {e}"),
        };
        let st = Arc::clone(&state);
        let prefix = api_path.clone();
        let app = axum::Router::new().fallback(
            move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                let st = Arc::clone(&st);
                let prefix = prefix.clone();
                async move { handle(&st, &prefix, addr, &method, &uri, &headers, &body) }
            },
        );
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeForge {
            kind,
            addr,
            state,
            api_path,
        }
    }

    /// The `apiUrl` to configure.
    pub fn api_url(&self) -> String {
        format!("http://{}{}", self.addr, self.api_path)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every status accepted, oldest first.
    pub fn history(&self) -> Vec<FakeStatus> {
        self.lock().statuses.clone()
    }

    /// The status each context of `sha` shows now (the newest accepted),
    /// over every repository.
    pub fn latest(&self, sha: &str) -> BTreeMap<String, FakeStatus> {
        let mut out = BTreeMap::new();
        for s in self.lock().statuses.iter().filter(|s| s.sha == sha) {
            out.insert(s.context.clone(), s.clone());
        }
        out
    }

    /// The newest status of every (repository, commit, context).
    pub fn all_latest(&self) -> Vec<FakeStatus> {
        let mut out: BTreeMap<(String, String, String), FakeStatus> = BTreeMap::new();
        for s in &self.lock().statuses {
            out.insert(
                (s.repo.clone(), s.sha.clone(), s.context.clone()),
                s.clone(),
            );
        }
        out.into_values().collect()
    }

    /// Requests answered 4xx because they broke the forge's rules (schema,
    /// limits, authentication, unknown route).
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// GitLab: status transitions refused with 400 "Cannot transition status".
    pub fn refused_transitions(&self) -> u64 {
        self.lock().refused_transitions
    }

    pub fn pull_requests(&self) -> Vec<FakePull> {
        self.lock().pulls.clone()
    }

    /// Merges pull request `number` of `repo` (lowercase `owner/repo`), as
    /// someone pressing the button would; `merge_commit` is what lands.
    pub fn merge(&self, repo: &str, number: u64, merge_commit: &str) -> bool {
        self.set_pr(repo, number, PrState::Merged, Some(merge_commit))
    }

    /// Closes (declines, abandons) pull request `number` without merging.
    pub fn close(&self, repo: &str, number: u64) -> bool {
        self.set_pr(repo, number, PrState::Closed, None)
    }

    fn set_pr(&self, repo: &str, number: u64, state: PrState, commit: Option<&str>) -> bool {
        let mut st = self.lock();
        let repo = repo.to_lowercase();
        match st
            .pulls
            .iter_mut()
            .find(|p| p.repo == repo && p.number == number)
        {
            Some(p) => {
                p.state = state;
                p.merge_commit = commit.map(str::to_owned);
                true
            }
            None => false,
        }
    }

    /// Opens a pull request directly (tests of paging, adoption).
    pub fn add_pull(&self, repo: &str, head: &str, base: &str) -> u64 {
        let mut st = self.lock();
        let repo = repo.to_lowercase();
        let number = st.next_number(&repo);
        st.pulls.push(FakePull {
            repo,
            number,
            head: head.into(),
            base: base.into(),
            title: format!("pull request {number}"),
            body: String::new(),
            state: PrState::Open,
            merge_commit: None,
            comments: Vec::new(),
        });
        number
    }

    /// Changes the share of calls answered with a fault.
    pub fn set_fault_rate(&self, rate: f64) {
        self.lock().opts.fault_rate = rate;
    }

    /// (API calls answered, of which injected faults).
    pub fn calls(&self) -> (u64, u64) {
        let st = self.lock();
        (st.requests, st.faults)
    }
}

fn handle(
    st: &Mutex<State>,
    api_path: &str,
    addr: SocketAddr,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let mut st = st.lock().unwrap_or_else(|p| p.into_inner());
    let Some(raw) = uri.path().strip_prefix(api_path) else {
        st.violation(format!(
            "{method} {}: not under the API path {api_path}",
            uri.path()
        ));
        return respond(Resp::json(404, json!({"message": "Not Found"})));
    };
    st.requests += 1;
    if let Some(fault) = st.fault() {
        return respond(fault);
    }
    let json_body = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => {
                st.violation(format!("{method} {raw}: body is not JSON: {e}"));
                return respond(Resp::json(400, json!({"message": "Problems parsing JSON"})));
            }
        }
    };
    let req = Req {
        method,
        segments: raw
            .split('/')
            .filter(|s| !s.is_empty())
            .map(decode)
            .collect(),
        query: uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(&v.replace('+', " ")))
            })
            .collect(),
        headers,
        body: json_body,
        api_url: format!("http://{addr}{api_path}"),
        raw_path: raw.to_owned(),
    };
    let resp = match st.kind {
        ForgeKind::Github => github::handle(&mut st, &req),
        ForgeKind::Gitlab => gitlab::handle(&mut st, &req),
        ForgeKind::Gitea => gitea::handle(&mut st, &req),
        ForgeKind::Bitbucket => bitbucket::handle(&mut st, &req),
        ForgeKind::AzureDevOps => azure::handle(&mut st, &req),
    };
    respond(resp)
}

fn respond(r: Resp) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, axum::Json(r.body)).into_response();
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (
            axum::http::HeaderName::from_bytes(k.as_bytes()),
            axum::http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp
}

/// Percent-decoding of one path segment or query part.
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Percent-encoding for links the fakes build.
pub(crate) fn encode(s: &str) -> String {
    crate::client::encode_segment(s)
}

/// Whether `s` is a 40-character hex SHA-1.
pub(crate) fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A page of `items` (1-based `page` of `per_page`) and the RFC 8288
/// `Link` header GitHub, GitLab and Gitea send with it.
pub(crate) fn page<T: Clone>(
    items: &[T],
    page: usize,
    per_page: usize,
    link_base: &str,
    query: &HashMap<String, String>,
    page_key: &str,
) -> (Vec<T>, Option<String>) {
    let page = page.max(1);
    let per_page = per_page.max(1);
    let start = (page - 1).saturating_mul(per_page);
    let slice: Vec<T> = items.iter().skip(start).take(per_page).cloned().collect();
    let last = items.len().div_ceil(per_page).max(1);
    if last == 1 {
        // One page: the forges send no `Link` header.
        return (slice, None);
    }
    let url = |p: usize| {
        let mut q: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != page_key)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        q.sort();
        q.push((page_key.to_owned(), p.to_string()));
        let qs: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        format!("<{link_base}?{}>", qs.join("&"))
    };
    let mut rels = Vec::new();
    if page < last {
        rels.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        rels.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    rels.push(format!("{}; rel=\"first\"", url(1)));
    rels.push(format!("{}; rel=\"last\"", url(last)));
    (slice, Some(rels.join(", ")))
}
