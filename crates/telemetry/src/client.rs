//! The exporter's HTTP client: reqwest's blocking client (the SDK's batch
//! processor exports from its own thread, where a blocking call is right)
//! on the reqwest ferry already uses, with the system's CA certificates.

use std::io::Read;
use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};

/// A collector's answer is a short status; more than this is refused.
const MAX_RESPONSE_BYTES: u64 = 4 << 20;

#[derive(Debug)]
pub(crate) struct BlockingClient(reqwest::blocking::Client);

impl BlockingClient {
    /// Builds the client on a thread of its own: reqwest's blocking client
    /// starts (and later drops) a runtime of its own, which must not happen
    /// on a thread that runs async tasks.
    pub(crate) fn new(timeout: Duration) -> Result<BlockingClient, String> {
        std::thread::Builder::new()
            .name("otlp-client".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| e.to_string())
            })
            .map_err(|e| e.to_string())?
            .join()
            .map_err(|_| "building the HTTP client failed".to_owned())?
            .map(BlockingClient)
    }
}

#[async_trait::async_trait]
impl HttpClient for BlockingClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body.to_vec())
            .send()?;
        let status = response.status();
        let headers = response.headers().clone();
        let mut bytes = Vec::new();
        response
            .take(MAX_RESPONSE_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_RESPONSE_BYTES {
            return Err(
                format!("the collector answered more than {MAX_RESPONSE_BYTES} bytes").into(),
            );
        }
        let mut answer = Response::new(Bytes::from(bytes));
        *answer.status_mut() = status;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}
