//! HTTP calls to one Argo CD API server (reference §5): bearer token,
//! custom CA, grpc-gateway error documents turned into one-line messages.
//! The token only ever goes into the `Authorization` header, and the base
//! URL is refused when it carries credentials, so no error or log line
//! can show a secret.

use std::time::Duration;

use reqwest::StatusCode;

use super::types::{ArgoApplication, ArgoApplicationList};
use super::{InstanceConfig, Secret};
use crate::Error;

pub(crate) struct Client {
    /// Requests with an overall timeout.
    http: reqwest::Client,
    /// The stream never ends on its own, so it has no overall timeout.
    stream_http: reqwest::Client,
    base: String,
    token: Option<Secret>,
    instance: String,
    refresh_timeout: Duration,
}

impl Client {
    pub(crate) fn new(cfg: &InstanceConfig) -> Result<Client, Error> {
        let err = |message: String| Error::ArgoCd {
            instance: cfg.name.clone(),
            message,
        };
        let url = reqwest::Url::parse(&cfg.url).map_err(|e| err(format!("url: {e}")))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(err(
                "url must not contain credentials; use the token setting".into(),
            ));
        }
        if !matches!(url.scheme(), "http" | "https") {
            return Err(err(format!("url: unsupported scheme `{}`", url.scheme())));
        }
        let builder = || -> Result<reqwest::ClientBuilder, Error> {
            // No gzip (reqwest has it for the CLI): a compressing proxy or
            // Argo CD's own gzip handler buffers small stream events, and
            // the watch stream must deliver each change at once.
            let mut b = reqwest::Client::builder()
                .no_gzip()
                .use_rustls_tls()
                .connect_timeout(Duration::from_secs(10))
                .tcp_keepalive(Duration::from_secs(30));
            if let Some(pem) = &cfg.ca_pem {
                let certs = reqwest::Certificate::from_pem_bundle(pem)
                    .map_err(|e| err(format!("CA certificate: {e}")))?;
                if certs.is_empty() {
                    return Err(err("CA certificate: no certificate in the PEM data".into()));
                }
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            Ok(b)
        };
        let http = builder()?
            .timeout(cfg.request_timeout)
            .build()
            .map_err(|e| err(format!("HTTP client: {e}")))?;
        let stream_http = builder()?
            .build()
            .map_err(|e| err(format!("HTTP client: {e}")))?;
        Ok(Client {
            http,
            stream_http,
            base: cfg.url.trim_end_matches('/').to_owned(),
            token: cfg.token.clone(),
            instance: cfg.name.clone(),
            refresh_timeout: cfg.refresh_timeout,
        })
    }

    fn err(&self, message: String) -> Error {
        Error::ArgoCd {
            instance: self.instance.clone(),
            message,
        }
    }

    fn request(
        &self,
        http: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut req = http
            .get(format!("{}{path}", self.base))
            .query(query)
            .header("Accept", "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t.expose());
        }
        req
    }

    async fn body(&self, path: &str, req: reqwest::RequestBuilder) -> Result<Vec<u8>, Error> {
        let resp = req
            .send()
            .await
            .map_err(|e| self.err(format!("GET {path}: {}", e.without_url())))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| self.err(format!("GET {path}: {}", e.without_url())))?;
        if !status.is_success() {
            return Err(self.err(api_message(path, status, &bytes)));
        }
        Ok(bytes.to_vec())
    }

    /// `GET /api/v1/applications/{name}`; `refresh` is `hard` (or `normal`)
    /// to make Argo CD re-read Git first — that call blocks until the
    /// controller has refreshed, hence its own, longer timeout.
    pub(crate) async fn application(
        &self,
        name: &str,
        app_namespace: Option<&str>,
        refresh: Option<&str>,
    ) -> Result<ArgoApplication, Error> {
        let path = format!("/api/v1/applications/{}", segment(name));
        let mut query = Vec::new();
        if let Some(ns) = app_namespace {
            query.push(("appNamespace", ns));
        }
        if let Some(r) = refresh {
            query.push(("refresh", r));
        }
        let mut req = self.request(&self.http, &path, &query);
        if refresh.is_some() {
            req = req.timeout(self.refresh_timeout);
        }
        let body = self.body(&path, req).await?;
        serde_json::from_slice(&body)
            .map_err(|e| self.err(format!("GET {path}: not an Application: {e}")))
    }

    /// `GET /api/v1/applications` (one namespace when given).
    pub(crate) async fn applications(
        &self,
        app_namespace: Option<&str>,
    ) -> Result<Vec<ArgoApplication>, Error> {
        let path = "/api/v1/applications";
        let query: Vec<(&str, &str)> = app_namespace
            .map(|ns| vec![("appNamespace", ns)])
            .unwrap_or_default();
        let body = self
            .body(path, self.request(&self.http, path, &query))
            .await?;
        let list: ArgoApplicationList = serde_json::from_slice(&body)
            .map_err(|e| self.err(format!("GET {path}: not an application list: {e}")))?;
        Ok(list.items.unwrap_or_default())
    }

    /// Opens `GET /api/v1/stream/applications`; the caller reads the body.
    pub(crate) async fn stream(
        &self,
        app_namespace: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let path = "/api/v1/stream/applications";
        let query: Vec<(&str, &str)> = app_namespace
            .map(|ns| vec![("appNamespace", ns)])
            .unwrap_or_default();
        let resp = self
            .request(&self.stream_http, path, &query)
            .send()
            .await
            .map_err(|e| self.err(format!("GET {path}: {}", e.without_url())))?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(self.err(api_message(path, status, &bytes)));
        }
        Ok(resp)
    }
}

/// An application name as one path segment (names are DNS labels, but a
/// bad one must not change the path).
fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// grpc-gateway's `{error, code, message, details}`, or the start of the body.
fn api_message(path: &str, status: StatusCode, body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_owned()
        });
    format!("GET {path}: {} {text}", status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_one_segment() {
        assert_eq!(segment("web-dev"), "web-dev");
        assert_eq!(segment("../x y"), "..%2Fx%20y");
    }

    #[test]
    fn grpc_gateway_errors_read_as_one_line() {
        let m = api_message(
            "/api/v1/applications/x",
            StatusCode::FORBIDDEN,
            br#"{"error":"permission denied","code":7,"message":"permission denied","details":[]}"#,
        );
        assert_eq!(m, "GET /api/v1/applications/x: 403 permission denied");
        let m = api_message("/p", StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(m, "GET /p: 502 <html>bad gateway</html>");
    }
}
