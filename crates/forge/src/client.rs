//! The HTTP client every forge shares: JSON in and out, the forge's answer
//! turned into a [`ForgeError`] that says whether and when to retry, and the
//! rate-limit headers honoured (reference §1, §2).
//!
//! Tokens are passed in as headers per call and never formatted into a
//! message; URLs in messages are the API URL, which carries no credentials
//! (the registry refuses API URLs with a user or password).

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tracing::Instrument;

use crate::{ForgeError, ForgeKind};

/// Longest wait a rate-limit header can impose before the call is tried
/// anyway (a wrong clock must not stall statuses for hours).
const MAX_RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);
/// GitHub's advice for a secondary rate limit without headers: at least a
/// minute (reference §1).
const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    kind: ForgeKind,
    /// Set when a response said the budget is spent: calls wait until then.
    paused_until: Mutex<Option<Instant>>,
}

/// A 2xx answer.
pub(crate) struct Answer {
    pub body: Value,
    /// The next page of a list (`Link: <…>; rel="next"`), when it is on
    /// the API's own origin (a token is never sent elsewhere).
    pub next: Option<String>,
}

impl Client {
    pub(crate) fn new(
        kind: ForgeKind,
        base: &str,
        timeout: Duration,
    ) -> Result<Client, ForgeError> {
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("ferry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ForgeError::Transport {
                call: format!("{kind} HTTP client"),
                message: e.to_string(),
                timeout: false,
            })?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            kind,
            paused_until: Mutex::new(None),
        })
    }

    /// The API base URL (no trailing slash).
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// Whether `url` is on the API's own origin (safe to send the token to).
    pub(crate) fn is_own(&self, url: &str) -> bool {
        same_origin(url, &self.base)
    }

    /// Sends `method path` with `headers` (auth) and an optional JSON body;
    /// returns a 2xx answer's JSON (`Null` when empty).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<&Value>,
    ) -> Result<Answer, ForgeError> {
        let url = format!("{}{path}", self.base);
        self.send_url(method, &url, headers, body).await
    }

    /// `GET path` and the pages after it (`Link` rel="next", as GitHub,
    /// GitLab and Gitea page their lists), up to `max_pages`: the items of
    /// every page, in order. Stops early once `enough` holds for an item.
    pub(crate) async fn get_pages(
        &self,
        path: &str,
        headers: &HeaderMap,
        max_pages: usize,
        enough: impl Fn(&Value) -> bool,
    ) -> Result<Vec<Value>, ForgeError> {
        let mut items = Vec::new();
        let mut url = format!("{}{path}", self.base);
        for _ in 0..max_pages {
            let answer = self
                .send_url(Method::GET, &url, headers.clone(), None)
                .await?;
            let page = match answer.body {
                Value::Array(a) => a,
                _ => Vec::new(),
            };
            let done = page.iter().any(&enough);
            items.extend(page);
            match answer.next {
                Some(next) if !done => url = next,
                _ => break,
            }
        }
        Ok(items)
    }

    /// [`send`](Self::send) to a full URL (on this API's origin).
    pub(crate) async fn send_url(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<&Value>,
    ) -> Result<Answer, ForgeError> {
        // A span in the caller's trace (a step's pull request); none for
        // calls outside any span (the commit-status publisher's), which
        // would each make a trace of one span. The URL's path stays out (it
        // names repositories and commits — the attributes follow the
        // metrics' labels).
        let span = if tracing::Span::current().is_none() {
            tracing::Span::none()
        } else {
            tracing::info_span!(target: "ferry::trace", "forge.request",
                forge = self.kind.as_str(), http.request.method = %method,
                http.response.status_code = tracing::field::Empty)
        };
        self.send_traced(method, url, headers, body)
            .instrument(span)
            .await
    }

    async fn send_traced(
        &self,
        method: Method,
        url: &str,
        headers: HeaderMap,
        body: Option<&Value>,
    ) -> Result<Answer, ForgeError> {
        let call = format!("{method} {url}");
        self.wait_for_budget().await;
        let started = Instant::now();
        let method_name = method.as_str().to_owned();
        let record = |status: Option<u16>| {
            crate::stats::record(self.kind, &method_name, status, started.elapsed());
        };
        let mut req = self.http.request(method, url).headers(headers);
        if let Some(b) = body {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| {
            record(None);
            ForgeError::Transport {
                call: call.clone(),
                message: describe_transport(&e),
                timeout: e.is_timeout(),
            }
        })?;
        let status = resp.status().as_u16();
        tracing::Span::current().record("http.response.status_code", status);
        let retry_after = self.rate_limit(status, resp.headers());
        let next = header_str(resp.headers(), "link")
            .and_then(next_link)
            .filter(|n| same_origin(n, &self.base));
        let bytes = resp.bytes().await.map_err(|e| {
            record(None);
            ForgeError::Transport {
                call: call.clone(),
                message: describe_transport(&e),
                timeout: e.is_timeout(),
            }
        })?;
        record(Some(status));
        let json: Option<Value> = serde_json::from_slice(&bytes).ok();
        if (200..300).contains(&status) {
            return Ok(Answer {
                body: json.unwrap_or(Value::Null),
                next,
            });
        }
        let message = json
            .as_ref()
            .and_then(error_message)
            .unwrap_or_else(|| crate::truncate_chars(String::from_utf8_lossy(&bytes).trim(), 300));
        let secondary = status == 403
            && json
                .as_ref()
                .and_then(|j| j.get("documentation_url"))
                .and_then(Value::as_str)
                .is_some_and(|u| u.contains("secondary-rate-limits") || u.contains("abuse"));
        let retry_after = retry_after.or(secondary.then_some(SECONDARY_LIMIT_WAIT));
        Err(ForgeError::Status {
            forge: self.kind,
            call,
            status,
            message,
            retry_after,
        })
    }

    async fn wait_for_budget(&self) {
        let until = *self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                tokio::time::sleep(until - now).await;
            }
        }
    }

    /// Reads `Retry-After` and the rate-limit headers: the wait an error
    /// answer asks for, and a pause for later calls when the budget is
    /// spent (GitHub `x-ratelimit-*`, GitLab `RateLimit-*`).
    fn rate_limit(&self, status: u16, headers: &HeaderMap) -> Option<Duration> {
        let retry_after = header_str(headers, "retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let remaining = header_str(headers, "x-ratelimit-remaining")
            .or_else(|| header_str(headers, "ratelimit-remaining"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        let reset = header_str(headers, "x-ratelimit-reset")
            .or_else(|| header_str(headers, "ratelimit-reset"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(until_epoch);
        let spent = remaining == Some(0);
        let wait = match (retry_after, spent, reset) {
            (Some(w), _, _) => Some(w),
            (None, true, Some(w)) => Some(w),
            _ => None,
        }
        .map(|w| w.min(MAX_RATE_LIMIT_WAIT));
        if let Some(w) = wait.filter(|_| spent || status == 429 || status == 403) {
            let mut p = self.paused_until.lock().unwrap_or_else(|p| p.into_inner());
            let until = Instant::now() + w;
            if p.is_none_or(|old| old < until) {
                *p = Some(until);
            }
        }
        if (200..300).contains(&status) {
            None
        } else {
            wait
        }
    }
}

/// The `rel="next"` target of an RFC 8288 `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            })
            .then(|| target.to_owned())
    })
}

/// Whether `url` is on the scheme, host and port of `base`.
fn same_origin(url: &str, base: &str) -> bool {
    let origin = |u: &str| -> Option<String> {
        let (scheme, rest) = u.split_once("://")?;
        let authority = rest.split(['/', '?', '#']).next()?;
        Some(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            authority.to_ascii_lowercase()
        ))
    };
    origin(url).is_some() && origin(url) == origin(base)
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Time from now until the Unix epoch second `reset` (zero when past).
fn until_epoch(reset: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    Duration::from_secs(reset.saturating_sub(now))
}

/// The forge's own error message: GitHub/Gitea `message` (+ `errors[].message`),
/// GitLab `message`/`error`, Bitbucket `error.message`.
fn error_message(v: &Value) -> Option<String> {
    let mut parts = Vec::new();
    match v.get("message") {
        Some(Value::String(s)) => parts.push(s.clone()),
        Some(other @ (Value::Object(_) | Value::Array(_))) => parts.push(other.to_string()),
        _ => {}
    }
    if let Some(Value::String(s)) = v.get("error") {
        parts.push(s.clone());
    }
    if let Some(s) = v
        .get("error")
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
    {
        parts.push(s.to_owned());
    }
    if let Some(errors) = v.get("errors").and_then(Value::as_array) {
        for e in errors {
            if let Some(m) = e.get("message").and_then(Value::as_str) {
                parts.push(m.to_owned());
            }
        }
    }
    (!parts.is_empty()).then(|| crate::truncate_chars(&parts.join(": "), 300))
}

fn describe_transport(e: &reqwest::Error) -> String {
    // reqwest's Display includes the URL, which carries no credentials here.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A header map with one header (for auth).
pub(crate) fn header(name: &'static str, value: &str) -> Result<HeaderMap, ForgeError> {
    let mut map = HeaderMap::new();
    let v = HeaderValue::from_str(value).map_err(|_| ForgeError::Transport {
        call: format!("building the {name} header"),
        message: "the token contains characters not allowed in an HTTP header".into(),
        timeout: false,
    })?;
    map.insert(HeaderName::from_static(name), v);
    Ok(map)
}

/// Percent-encodes one path segment (every byte but RFC 3986 unreserved).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `owner/repo` split in two; GitHub, Gitea and Bitbucket need exactly that.
pub(crate) fn owner_repo(repo: &str) -> Result<(String, String), ForgeError> {
    match repo.split_once('/') {
        Some((o, r)) if !o.is_empty() && !r.is_empty() && !r.contains('/') => {
            Ok((encode_segment(o), encode_segment(r)))
        }
        _ => Err(ForgeError::Repository {
            repo: repo.to_owned(),
            message: "expected `owner/repository`".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("group/sub proj"), "group%2Fsub%20proj");
        assert_eq!(encode_segment("a-b_c.d~e"), "a-b_c.d~e");
        assert!(owner_repo("a/b/c").is_err());
        assert_eq!(owner_repo("a/b").unwrap(), ("a".into(), "b".into()));
    }

    #[test]
    fn next_links_are_followed_on_the_same_origin_only() {
        let l = r#"<https://api.github.com/repositories/1/pulls?page=2>; rel="next", <https://api.github.com/repositories/1/pulls?page=5>; rel="last""#;
        assert_eq!(
            next_link(l).as_deref(),
            Some("https://api.github.com/repositories/1/pulls?page=2")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
        assert!(same_origin(
            "https://API.github.com/x?page=2",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "https://evil.example/x",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "http://api.github.com/x",
            "https://api.github.com"
        ));
    }

    #[test]
    fn error_messages_are_collected() {
        let v: Value = serde_json::json!({"message": "Validation Failed", "errors": [{"message": "description is too long"}]});
        assert_eq!(
            error_message(&v).unwrap(),
            "Validation Failed: description is too long"
        );
        let v: Value = serde_json::json!({"type": "error", "error": {"message": "Bad state"}});
        assert_eq!(error_message(&v).unwrap(), "Bad state");
    }
}
