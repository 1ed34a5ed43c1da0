//! OpenTelemetry traces (SPEC §10), off unless an endpoint is set
//! (`otlpEndpoint`, `FERRY_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`).
//!
//! The code that does the work stays on `tracing`: each release step opens
//! a root span, and git, forge, workflow and sync-wait code open child
//! spans under it. Spans meant for traces use the target [`TARGET`]
//! (`ferry::trace`); [`Traces::layer`] sends those — and warnings and
//! errors logged inside them, as span events — to an OTLP collector over
//! HTTP/protobuf through `tracing-opentelemetry` and the OpenTelemetry
//! SDK's batch processor. Request spans and debug chatter stay in the logs.

mod client;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::registry::LookupSpan;

/// The `tracing` target of the spans that make up ferry's traces.
pub const TARGET: &str = "ferry::trace";

/// How long one export may take before it is given up (the collector is
/// down or slow: spans are dropped, the promotion never waits for it).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("otlpEndpoint `{endpoint}`: {message}")]
    Endpoint { endpoint: String, message: String },
    #[error("starting the OTLP exporter for {endpoint}: {message}")]
    Exporter { endpoint: String, message: String },
}

/// The running trace pipeline: spans go to the collector in batches until
/// [`Traces::shutdown`] (or drop) flushes the rest.
pub struct Traces {
    provider: SdkTracerProvider,
}

impl Traces {
    /// Starts exporting to the OTLP/HTTP collector at `endpoint`, a base
    /// URL such as `http://otel-collector:4318`: spans are posted to
    /// `{endpoint}/v1/traces`, as `OTEL_EXPORTER_OTLP_ENDPOINT` means it.
    /// `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_SERVICE_NAME` are honoured.
    pub fn start(endpoint: &str) -> Result<Traces, TelemetryError> {
        let url = traces_url(endpoint)?;
        let client = client::BlockingClient::new(EXPORT_TIMEOUT).map_err(|message| {
            TelemetryError::Exporter {
                endpoint: url.clone(),
                message,
            }
        })?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|e| TelemetryError::Exporter {
                endpoint: url.clone(),
                message: e.to_string(),
            })?;
        let mut resource = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ));
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name("ferry");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        Ok(Traces { provider })
    }

    /// The layer that turns ferry's trace spans into OpenTelemetry spans
    /// (with warnings and errors logged inside them as span events).
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let tracer = self.provider.tracer("ferry");
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(
                Targets::new()
                    .with_target("ferry", tracing::Level::WARN)
                    .with_target(TARGET, tracing::Level::INFO),
            )
    }

    /// Exports every span ended so far (blocks until the collector
    /// answered or the export timed out).
    pub fn flush(&self) {
        if let Err(e) = self.provider.force_flush() {
            tracing::warn!(error = %e, "flushing traces");
        }
    }

    /// Flushes and stops the exporter.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "stopping the trace exporter");
        }
    }
}

/// `{endpoint}/v1/traces` for an `http`/`https` base URL.
fn traces_url(endpoint: &str) -> Result<String, TelemetryError> {
    let bad = |message: &str| TelemetryError::Endpoint {
        endpoint: endpoint.to_owned(),
        message: message.to_owned(),
    };
    let trimmed = endpoint.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| bad("not an http:// or https:// URL"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("no host"));
    }
    Ok(format!("{trimmed}/v1/traces"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_to_the_base_url() {
        assert_eq!(
            traces_url("http://collector:4318").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("https://otel.example/base/").unwrap(),
            "https://otel.example/base/v1/traces"
        );
        for bad in ["collector:4318", "grpc://c:4317", "http://", "http:///x"] {
            let e = traces_url(bad).unwrap_err().to_string();
            assert!(e.contains(bad.trim()), "{e}");
        }
    }
}
