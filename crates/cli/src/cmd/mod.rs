pub mod client;
pub mod demo;
pub mod notes;
pub mod policy;
pub mod promote;
pub mod release;
pub mod releases;
pub mod serve;
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Human,
    Json,
}
