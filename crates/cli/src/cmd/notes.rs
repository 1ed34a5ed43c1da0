//! `ferry release notes <id> [--format markdown|json]`: a release's notes
//! from the server (SPEC §7, §9). Markdown is rendered here from the JSON
//! document with the same renderer the server uses, so both read alike.

use std::process::ExitCode;

use anyhow::Context;

use super::client::{Client, ClientArgs, encode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NotesFormat {
    /// Grouped Markdown (the default; what promotion PRs carry).
    #[value(alias = "human", alias = "md")]
    Markdown,
    /// The JSON document of `GET /api/v1/releases/{id}/notes`.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct NotesArgs {
    pub id: String,
    #[arg(long, alias = "output", value_enum, default_value = "markdown")]
    pub format: NotesFormat,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(a: NotesArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let doc = c.get(&format!("/api/v1/releases/{}/notes", encode(&a.id)))?;
    match a.format {
        NotesFormat::Json => crate::output::print_json(&doc)?,
        NotesFormat::Markdown => {
            let notes: ferry_notes::ReleaseNotes = serde_json::from_value(doc)
                .context("the server's release notes have an unexpected shape")?;
            crate::output::print(&ferry_notes::markdown(&notes))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
