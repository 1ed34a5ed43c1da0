//! The release-notes document: what the API serves as JSON, what the
//! store caches, and what Markdown is rendered from. Field names are the
//! API's (camelCase); `FORMAT_VERSION` changes whenever they do, so a
//! cached document of an older shape is rebuilt instead of misread.

use serde::{Deserialize, Serialize};

use crate::message::IssueLink;

/// Version of the document's shape, stored beside each cached document.
pub const FORMAT_VERSION: u32 = 1;

/// The changes that led to one release (SPEC §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseNotes {
    pub format_version: u32,
    pub release: ReleaseRef,
    /// The release these notes count from (same product, same trigger
    /// environment); `None` for the product's first release.
    pub previous_release: Option<ReleaseRef>,
    /// Configuration commits, one entry per application of the snapshot.
    pub configuration: Vec<ConfigChanges>,
    /// Promoted values that name container images and changed.
    pub images: Vec<ImageChange>,
    /// Code commits, one entry per source repository and revision range.
    pub sources: Vec<SourceChanges>,
    /// What could not be found out (registry unreachable, repository
    /// missing, history rewritten …): the notes are still served.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NotesRelease))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRef {
    pub id: String,
    pub number: u64,
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// Commits touching one application's source path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigChanges {
    pub application: String,
    pub repo_url: String,
    pub path: String,
    /// Revision of the previous release; `None` on a first release.
    pub from: Option<String>,
    pub to: String,
    pub commits: Vec<Commit>,
    /// More commits exist than were listed (first-release or size limit).
    pub truncated: bool,
}

/// One promoted image value, old → new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImageChange {
    pub application: String,
    pub file: String,
    /// The promoted JSONPath (normalized) the value sits at.
    pub path: String,
    /// Image repository, e.g. `ghcr.io/acme/api`.
    pub repository: String,
    pub from: Option<String>,
    pub to: String,
    /// Source repository and revisions, when they could be found.
    pub source: Option<ResolvedRange>,
}

/// Where an image's code came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResolvedRange {
    pub repo_url: String,
    pub from: Option<String>,
    pub to: String,
    /// `labels` (OCI image labels) or `mapping` (`spec.releaseNotes.sources`).
    pub via: SourceVia,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum SourceVia {
    Labels,
    Mapping,
}

/// Code commits of one source repository between two revisions, grouped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceChanges {
    pub repo_url: String,
    /// Images built from this repository.
    pub images: Vec<String>,
    pub from: Option<String>,
    pub to: String,
    pub groups: Groups,
    pub truncated: bool,
}

/// Commits by kind. A breaking commit is listed under `breaking` only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NotesGroups))]
#[serde(rename_all = "camelCase")]
pub struct Groups {
    pub breaking: Vec<Commit>,
    pub features: Vec<Commit>,
    pub fixes: Vec<Commit>,
    pub performance: Vec<Commit>,
    pub other: Vec<Commit>,
}

impl Groups {
    /// Sorts `commits` (newest first) into groups, keeping their order.
    pub fn of(commits: Vec<Commit>) -> Groups {
        let mut g = Groups::default();
        for c in commits {
            let list = if c.breaking {
                &mut g.breaking
            } else {
                match c.kind.as_deref() {
                    Some("feat" | "feature") => &mut g.features,
                    Some("fix") => &mut g.fixes,
                    Some("perf") => &mut g.performance,
                    _ => &mut g.other,
                }
            };
            list.push(c);
        }
        g
    }

    /// `(title, commits)` in display order.
    pub fn named(&self) -> [(&'static str, &[Commit]); 5] {
        [
            ("Breaking changes", &self.breaking),
            ("Features", &self.features),
            ("Fixes", &self.fixes),
            ("Performance", &self.performance),
            ("Other changes", &self.other),
        ]
    }

    pub fn len(&self) -> usize {
        self.named().iter().map(|(_, c)| c.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One commit as the notes show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NotesCommit))]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub sha: String,
    pub author: Author,
    /// Author date, RFC 3339 in the author's offset.
    pub date: String,
    pub subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Conventional Commit type (`feat`, `fix` …), lower case.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub breaking: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_request: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<IssueLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = NotesAuthor))]
pub struct Author {
    pub name: String,
    pub email: String,
}
