//! HTTP calls to the Argo Server REST API (reference §6): bearer auth, custom CA,
//! grpc-gateway error documents turned into typed errors. The token is only ever
//! put in the `Authorization` header; URLs in errors carry no credentials.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::Secret;
use crate::error::RunnerError;

pub(crate) struct ArgoClient {
    http: reqwest::Client,
    base: String,
    token: Option<Secret>,
}

impl ArgoClient {
    pub(crate) fn new(
        base_url: &str,
        token: Option<Secret>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, RunnerError> {
        let url = reqwest::Url::parse(base_url)
            .map_err(|e| RunnerError::Settings(format!("argo server URL: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            // Credentials belong in the token setting, never in a URL that ends up in logs.
            return Err(RunnerError::Settings(
                "argo server URL must not contain credentials; use the token setting".into(),
            ));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(RunnerError::Settings(format!(
                "argo server URL: unsupported scheme {:?}",
                url.scheme()
            )));
        }
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10));
        if let Some(pem) = ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| RunnerError::Settings(format!("argo CA certificate: {e}")))?;
            if certs.is_empty() {
                return Err(RunnerError::Settings(
                    "argo CA certificate: no certificate in the PEM data".into(),
                ));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let http = b
            .build()
            .map_err(|e| RunnerError::Settings(format!("argo HTTP client: {e}")))?;
        Ok(ArgoClient {
            http,
            base: base_url.trim_end_matches('/').to_string(),
            token,
        })
    }

    /// Sends a request and returns the body of a 2xx answer.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>, RunnerError> {
        let url = format!("{}{}", self.base, path);
        let mname: &'static str = match method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            _ => "request",
        };
        let mut req = self
            .http
            .request(method, &url)
            .query(query)
            .header("Accept", "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.map_err(|e| RunnerError::Http {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| RunnerError::Http {
            url: url.clone(),
            message: e.without_url().to_string(),
        })?;
        if !status.is_success() {
            return Err(api_error(mname, path, status, &bytes));
        }
        Ok(bytes.to_vec())
    }

    /// Sends a request and parses the JSON answer.
    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value, RunnerError> {
        let b = self.send(method, path, query, body).await?;
        serde_json::from_slice(&b).map_err(|e| RunnerError::Protocol {
            path: path.to_string(),
            message: format!("invalid JSON: {e}"),
        })
    }
}

/// grpc-gateway's `{code, error, message, details}`, or the raw text.
fn api_error(method: &'static str, path: &str, status: StatusCode, body: &[u8]) -> RunnerError {
    let message = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(String::from)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(500)])
                .trim()
                .to_string()
        });
    RunnerError::Api {
        method,
        path: path.to_string(),
        status: status.as_u16(),
        message,
    }
}
