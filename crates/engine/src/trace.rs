//! The trace of a release step (SPEC §10): each attempt of a step runs in
//! a root span of its own — one trace per step — under which git, forge,
//! workflow and sync-wait spans nest. The spans use the target
//! `ferry::trace` (`ferry_telemetry::TARGET`), which the OpenTelemetry
//! layer exports when an endpoint is set; without it they are plain
//! `tracing` spans (their fields prefix the step's log lines) and a step
//! has no trace id.

use ferry_release::StepPhase;
use tracing::Span;

/// The target of every span that belongs in a trace.
pub const TARGET: &str = "ferry::trace";

/// A new trace for one attempt of a step. Its `trace_id` field holds the
/// OpenTelemetry trace id (so every log line of the step carries it).
pub(crate) fn step_span(
    release: &str,
    env: Option<&str>,
    app: &str,
    phase: StepPhase,
    step: &str,
) -> Span {
    let phase = crate::stats::phase_name(phase);
    let span = tracing::info_span!(
        target: TARGET,
        parent: None,
        "step",
        otel.name = %format_args!("{phase} {step}"),
        release = %release,
        environment = env.unwrap_or(""),
        application = %app,
        step.phase = phase,
        step.name = %step,
        trace_id = tracing::field::Empty,
    );
    if let Some(id) = trace_id(&span) {
        span.record("trace_id", id.as_str());
    }
    span
}

/// The trace id of the current span (the step's, inside a step).
pub(crate) fn current() -> Option<String> {
    trace_id(&Span::current())
}

/// The OpenTelemetry trace id of `span`, 32 hex digits; `None` when traces
/// are not exported (no OpenTelemetry layer, or the span is disabled).
pub fn trace_id(span: &Span) -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let cx = span.context();
    let context = cx.span().span_context().clone();
    context.is_valid().then(|| context.trace_id().to_string())
}
