//! `ferry release notes <RELEASE> [--format markdown|json] [--refresh]`: a
//! release's notes from the server (SPEC §7, §9). Markdown is rendered
//! here from the JSON document with the same renderer the server uses, so
//! both read alike. `--refresh` has the server compute them again first
//! (`POST /api/v1/releases/{id}/notes/refresh`, a promoter's call): notes
//! computed while a registry or repository was unavailable say so, and
//! are otherwise kept as they are.

use std::process::ExitCode;

use anyhow::Context;

use super::client::{Client, ClientArgs, encode};

/// How long `ferry release notes` waits for a just-accepted release to
/// read its snapshot (the server's 409 until then).
const SNAPSHOT_PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

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
    /// The release: `PRODUCT#N` (e.g. `shop#2`), `N` with --product, or its id.
    #[arg(value_name = "RELEASE")]
    pub id: String,
    /// The product of a release given by its number.
    #[arg(long)]
    pub product: Option<String>,
    #[arg(long, alias = "output", value_enum, default_value = "markdown")]
    pub format: NotesFormat,
    /// Compute the notes again instead of reading the cached ones (e.g. a
    /// registry or repository was unavailable the first time); needs a
    /// token that may promote the release's product.
    #[arg(long)]
    pub refresh: bool,
    #[command(flatten)]
    pub client: ClientArgs,
}

pub fn run(a: NotesArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let id = super::release::ReleaseName::parse(&a.id, a.product.as_deref())?.id(&c)?;
    let path = format!("/api/v1/releases/{}/notes", encode(&id));
    let doc = if a.refresh {
        c.post(&format!("{path}/refresh"), &serde_json::json!({}))?
    } else {
        // Right after `ferry promote` the release may not have read its
        // snapshot yet (the server accepts first, then works; issue 24):
        // its notes are a moment away, not an error.
        c.get_when_ready(&path, SNAPSHOT_PATIENCE)?
    };
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
