//! What the store takes and gives besides the release crate's own types.

use ferry_release::{EnvironmentStatus, ReleaseRef, ReleaseStatus, RollbackLink, Timestamp};
use serde::{Deserialize, Serialize};

/// An event to append (the release crate's type: the store gives it its
/// place, `release_id` and `seq`, in the release's history).
pub use ferry_release::NewEvent;

/// The outcome of [`crate::Store::create_release`].
/// Not boxed: it is made once per release creation and callers match
/// on it directly.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The release as stored (with its number) and its first events.
    New(ferry_release::Release, Vec<ferry_release::Event>),
    /// The trigger key was already used: the id of the release it created.
    /// Nothing was written.
    Duplicate(String),
    /// The idempotency key was used (less than a day ago): the answer to
    /// that first request. Nothing was written.
    Remembered(crate::Remembered),
}

/// The outcome of [`crate::Store::save_idempotent`].
#[derive(Debug, Clone, PartialEq)]
pub enum Saved {
    /// Saved, with its events as stored.
    Stored(Vec<ferry_release::Event>),
    /// The idempotency key was used (less than a day ago): the answer to
    /// that first request. Nothing was written.
    Remembered(crate::Remembered),
}

impl Saved {
    /// The events of a save made without a key (it cannot be remembered).
    pub(crate) fn events(self) -> Vec<ferry_release::Event> {
        match self {
            Saved::Stored(events) => events,
            Saved::Remembered(_) => Vec::new(),
        }
    }
}

/// One environment of a release in a list: enough for its status icon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSummary {
    pub name: String,
    pub status: EnvironmentStatus,
    /// What ferry holds it for before its first write while it is
    /// SUSPENDED there (issue 20): an approval gate ("waiting for approval
    /// (k of N)"), a closed promotion window, a freeze, soak time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// A release in a list (SPEC §9 web UI releases list): the columns of the
/// `releases` row, without the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ReleaseSummary {
    pub id: String,
    pub number: u64,
    pub product: String,
    pub flow: String,
    pub status: ReleaseStatus,
    pub initiator: String,
    /// Millisecond precision (the full value is in the release document).
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub finished_at: Option<Timestamp>,
    pub version: Option<String>,
    pub environments: Vec<EnvironmentSummary>,
    /// The newer release that superseded it (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<ReleaseRef>,
    /// The rollback releases ferry started for it (issue 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rolled_back_by: Vec<RollbackLink>,
    /// On a rollback release ferry started: the failed release it rolls
    /// back (issue 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_for: Option<RollbackLink>,
}

/// Which releases [`crate::Store::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// One product's releases (ordered by number), or all (ordered by id).
    pub product: Option<String>,
    /// Any of these statuses; empty means every status.
    pub statuses: Vec<ReleaseStatus>,
    /// Page size: 0 means [`DEFAULT_PAGE`], more than [`MAX_PAGE`] is capped.
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// One page of releases, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = ReleasePage))]
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub items: Vec<ReleaseSummary>,
    /// Present when more releases follow.
    pub next_cursor: Option<String>,
}
