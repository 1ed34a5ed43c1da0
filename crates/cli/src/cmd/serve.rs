//! `ferry serve`: the server (settings file, `FERRY_*` variables, flags).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use ferry_server::{Overrides, Server, Settings};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Settings file (TOML); every key can also come from FERRY_* variables.
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Listen address (default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<String>,
    /// Configuration directory or Git repository URL.
    #[arg(long)]
    pub config: Option<String>,
    /// Branch of the configuration repository.
    #[arg(long)]
    pub config_branch: Option<String>,
    /// Path inside the configuration repository.
    #[arg(long)]
    pub config_path: Option<String>,
    /// Database URL (default: SQLite file in the data directory).
    #[arg(long)]
    pub database_url: Option<String>,
    /// Data directory (default ./ferry-data).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Public base URL used in links.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Allow reads without a token.
    #[arg(long)]
    pub anonymous_read: bool,
    /// Log lines as text or as one JSON object per line.
    #[arg(long, value_enum, env = "FERRY_LOG_FORMAT", default_value_t = super::LogFormat::Text)]
    pub log_format: super::LogFormat,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::load(
        args.settings.as_deref(),
        |name| std::env::var(name).ok(),
        Overrides {
            listen: args.listen,
            database_url: args.database_url,
            base_url: args.base_url,
            config: args.config,
            config_branch: args.config_branch,
            config_path: args.config_path,
            data_dir: args.data_dir,
            anonymous_read: args.anonymous_read.then_some(true),
        },
    )?;
    // Traces only when an endpoint is set (SPEC §10).
    let traces = settings
        .otlp_endpoint
        .as_deref()
        .map(ferry_telemetry::Traces::start)
        .transpose()?;
    super::init_logging(args.log_format, traces.as_ref());
    if let Some(endpoint) = &settings.otlp_endpoint {
        tracing::info!(endpoint = %endpoint, "exporting traces (OTLP over HTTP)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let served = runtime.block_on(async move {
        let server = Server::build(settings).await?;
        if let Some(token) = server.generated_admin_token() {
            eprintln!(
                "generated the admin token (shown once; only its hash is stored):\n  {token}"
            );
        }
        let bound = server.bind().await?;
        eprintln!("ferry listening on http://{}", bound.local_addr());
        bound.serve().await?;
        anyhow::Ok(())
    });
    // The spans of the last moments still go out.
    if let Some(t) = traces {
        t.shutdown();
    }
    served?;
    Ok(ExitCode::SUCCESS)
}
