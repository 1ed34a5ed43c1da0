//! The HTTP client side of the CLI: `--server`, `--token`, and the calls
//! the client commands (`releases`, `release …`, `promote` against a
//! server) make. API errors come back as `{"error", "status"}` and are
//! shown as such; the token is never printed.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;

use super::OutputFormat;

/// Where the server is and how to authenticate.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// Base URL of the ferry server.
    #[arg(long, env = "FERRY_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// API token (sent as `Authorization: Bearer`).
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl Client {
    pub fn new(args: &ClientArgs) -> anyhow::Result<Client> {
        Ok(Client {
            base: args.server.trim_end_matches('/').to_owned(),
            token: args.token.clone().filter(|t| !t.is_empty()),
            http: reqwest::blocking::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                // A server that stops answering must not hang a script.
                .timeout(Duration::from_secs(120))
                .build()
                .context("building the HTTP client")?,
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::blocking::RequestBuilder {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            r = r.bearer_auth(t);
        }
        r
    }

    fn answer(
        &self,
        path: &str,
        r: reqwest::Result<reqwest::blocking::Response>,
    ) -> anyhow::Result<Value> {
        let r = r.with_context(|| format!("cannot reach the ferry server at {}", self.base))?;
        let status = r.status();
        let text = r
            .text()
            .with_context(|| format!("reading the answer to {path}"))?;
        if !status.is_success() {
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned))
                .unwrap_or(text);
            let hint = if status.as_u16() == 401 {
                " (give --token or set FERRY_TOKEN)"
            } else {
                ""
            };
            bail!(
                "{path}: server answered {}: {message}{hint}",
                status.as_u16()
            );
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{path}: the answer is not JSON"))
    }

    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.request(reqwest::Method::GET, path).send();
        self.answer(path, r)
    }

    /// A GET of something the server makes shortly after a release is
    /// accepted (its notes need the snapshot the engine reads first): a
    /// 409 is asked again every half second for up to `patience`, then
    /// answered as it is.
    pub fn get_when_ready(&self, path: &str, patience: Duration) -> anyhow::Result<Value> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            let r = self.request(reqwest::Method::GET, path).send();
            match &r {
                Ok(resp)
                    if resp.status() == reqwest::StatusCode::CONFLICT
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(500));
                }
                _ => return self.answer(path, r),
            }
        }
    }

    pub fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let r = self.request(reqwest::Method::POST, path).json(body).send();
        self.answer(path, r)
    }

    /// A POST the server carries out at most once however often it is
    /// sent (promote, retry, terminate; issue 23): it carries an
    /// `Idempotency-Key`, and is sent again with the same key when the
    /// connection is lost before the answer, or the server answers 503
    /// (its storage unavailable for now; after its `Retry-After`), at
    /// most [`ATTEMPTS`] times. A repeat the server already carried out is
    /// answered with the first result.
    pub fn post_idempotent(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let key = ulid::Ulid::new().to_string();
        let mut attempt = 1;
        loop {
            let r = self
                .request(reqwest::Method::POST, path)
                .header("Idempotency-Key", &key)
                .json(body)
                .send();
            let again = match &r {
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() => {
                    Some(backoff(attempt))
                }
                Ok(resp) if resp.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => Some(
                    resp.headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
                        .map_or_else(|| backoff(attempt), Duration::from_secs)
                        .min(MAX_WAIT),
                ),
                _ => None,
            };
            match again {
                Some(wait) if attempt < ATTEMPTS => {
                    eprintln!(
                        "{path}: {}; sending it again with the same Idempotency-Key in {} s \
                         (attempt {} of {ATTEMPTS})",
                        match &r {
                            Err(_) => "no answer from the server".to_owned(),
                            Ok(resp) => format!("server answered {}", resp.status().as_u16()),
                        },
                        wait.as_secs(),
                        attempt + 1
                    );
                    std::thread::sleep(wait);
                    attempt += 1;
                }
                _ => return self.answer(path, r),
            }
        }
    }

    pub fn delete(&self, path: &str) -> anyhow::Result<Value> {
        let r = self.request(reqwest::Method::DELETE, path).send();
        self.answer(path, r)
    }

    /// The SSE stream of a release's events, as a reader of lines.
    pub fn events(&self, id: &str) -> anyhow::Result<reqwest::blocking::Response> {
        let path = format!("/api/v1/releases/{}/events", encode(id));
        let r = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .context("building the HTTP client")?;
        let mut req = r.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .with_context(|| format!("cannot reach the ferry server at {}", self.base))?;
        if !resp.status().is_success() {
            let status = resp.status().as_u16();
            let text = resp.text().unwrap_or_default();
            bail!("{path}: server answered {status}: {text}");
        }
        Ok(resp)
    }
}

/// How often an idempotent request is sent at most, and the longest wait
/// between two sends.
pub const ATTEMPTS: u32 = 6;
const MAX_WAIT: Duration = Duration::from_secs(10);

/// 1 s, 2 s, 4 s, 8 s, then 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.saturating_sub(1).min(4)).min(MAX_WAIT)
}

/// Percent-encodes a path segment or query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `ferry promote` against a server: posts `request` (the API's promotion
/// body, e.g. `{"flow": "standard"}`) for `product` and prints the new
/// release.
// Called from `promote.rs`, which is written on another branch.
#[allow(dead_code)]
pub fn promote_via_server(
    client: &ClientArgs,
    product: &str,
    request: &Value,
    output: OutputFormat,
) -> anyhow::Result<ExitCode> {
    let c = Client::new(client)?;
    let release = c.post_idempotent(
        &format!("/api/v1/products/{}/promotions", encode(product)),
        request,
    )?;
    match output {
        OutputFormat::Json => crate::output::print_json(&release)?,
        OutputFormat::Human => crate::output::print(&super::release::render(&release))?,
    }
    Ok(ExitCode::SUCCESS)
}
