pub mod client;
pub mod demo;
pub mod docs;
pub mod freeze;
pub mod insights;
pub mod notes;
pub mod policy;
pub mod promote;
pub mod release;
pub mod releases;
pub mod serve;
pub mod token;
pub mod validate;
pub mod workflow;

use clap::Args as ClapArgs;

/// Where the configuration comes from; shared by every command that reads it.
#[derive(Debug, Clone, ClapArgs)]
pub struct SourceArgs {
    /// Branch of the configuration repository (default: its HEAD).
    #[arg(long)]
    pub branch: Option<String>,
    /// Path inside the configuration repository.
    #[arg(long)]
    pub path: Option<String>,
    /// Most YAML files the configuration may have [default: 100000].
    #[arg(long, env = "FERRY_CONFIG_MAX_FILES", value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Configuration limits")]
    pub config_max_files: Option<u64>,
    /// Most bytes of all its YAML files together [default: 134217728, 128 MiB].
    #[arg(long, env = "FERRY_CONFIG_MAX_BYTES", value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Configuration limits")]
    pub config_max_bytes: Option<u64>,
    /// Most bytes of one file; a larger file is an error and not read [default: 16777216, 16 MiB].
    #[arg(long, env = "FERRY_CONFIG_MAX_FILE_BYTES", value_name = "BYTES", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Configuration limits")]
    pub config_max_file_bytes: Option<u64>,
    /// Most YAML nodes of one document of a kind ferry reads [default: 100000].
    #[arg(long, env = "FERRY_CONFIG_MAX_DOCUMENT_NODES", value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = "Configuration limits")]
    pub config_max_document_nodes: Option<u64>,
}

impl SourceArgs {
    /// How much of the source is read at most.
    pub fn budget(&self) -> ferry_config::Budget {
        let d = ferry_config::Budget::default();
        let count = |v: Option<u64>, default: usize| {
            v.map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
        };
        ferry_config::Budget {
            max_files: count(self.config_max_files, d.max_files),
            max_bytes: self.config_max_bytes.unwrap_or(d.max_bytes),
            max_file_bytes: self.config_max_file_bytes.unwrap_or(d.max_file_bytes),
            max_document_nodes: count(self.config_max_document_nodes, d.max_document_nodes),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}

/// Logs of the server commands (`serve`, `demo`) on stderr, every line
/// through the server's redactor so no registered secret or URL credential
/// is ever written. The level comes from `FERRY_LOG` (`error`, `warn`,
/// `info` — the default, `warn` for `ferry demo` —, `debug`, `trace`).
/// With `traces`, ferry's trace spans also go to the OTLP collector (their
/// level does not depend on `FERRY_LOG`).
pub fn init_logging(format: LogFormat, traces: Option<&ferry_telemetry::Traces>) {
    init_logging_at(
        tracing_subscriber::filter::LevelFilter::INFO,
        format,
        traces,
    );
}

/// How log lines are written (`--log-format`, `FERRY_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `message` and the
    /// event's fields), for log collectors.
    Json,
}

/// [`init_logging`] with another level when `FERRY_LOG` is not set
/// (`ferry demo` keeps its terminal for its own progress: warnings up).
pub fn init_logging_at(
    default: tracing_subscriber::filter::LevelFilter,
    format: LogFormat,
    traces: Option<&ferry_telemetry::Traces>,
) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let level = std::env::var("FERRY_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::LevelFilter>().ok())
        .unwrap_or(default);
    // Every line goes through the redacting writer, whatever its format.
    let writer = || ferry_security::RedactingWriter::new(std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        // A closed stderr must not take the server down: tracing would report
        // the failed write with `eprintln!`, which panics then.
        .log_internal_errors(false)
        .with_ansi(false)
        .with_writer(writer);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        // The step's span (with its `trace_id`) on each line logged in it.
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(level))
        .with(traces.map(ferry_telemetry::Traces::layer))
        .try_init();
}
