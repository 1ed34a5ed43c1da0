//! What the store takes and gives besides the release crate's own types.

use ferry_release::{EnvironmentStatus, Event, EventKind, ReleaseStatus, Timestamp};
use serde::{Deserialize, Serialize};

/// An event to append: an [`Event`] before the store gives it its place
/// (`release_id`, `seq`) in the release's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at: Timestamp,
    pub kind: EventKind,
    pub environment: Option<String>,
    pub application: Option<String>,
    pub step: Option<String>,
    /// The new status, as its SPEC string.
    pub status: String,
    pub message: Option<String>,
}

impl NewEvent {
    /// An event of `kind` now, with the new `status`.
    pub fn new(kind: EventKind, status: impl Into<String>) -> NewEvent {
        NewEvent {
            at: ferry_release::now(),
            kind,
            environment: None,
            application: None,
            step: None,
            status: status.into(),
            message: None,
        }
    }

    pub fn environment(mut self, name: impl Into<String>) -> NewEvent {
        self.environment = Some(name.into());
        self
    }

    pub fn application(mut self, name: impl Into<String>) -> NewEvent {
        self.application = Some(name.into());
        self
    }

    pub fn step(mut self, name: impl Into<String>) -> NewEvent {
        self.step = Some(name.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> NewEvent {
        self.message = Some(message.into());
        self
    }

    /// The event at position `seq` of release `release_id`.
    pub fn into_event(self, release_id: &str, seq: u64) -> Event {
        Event {
            seq,
            release_id: release_id.to_string(),
            at: self.at,
            kind: self.kind,
            environment: self.environment,
            application: self.application,
            step: self.step,
            status: self.status,
            message: self.message,
        }
    }
}

impl From<Event> for NewEvent {
    /// Drops `release_id` and `seq`: the store assigns them.
    fn from(e: Event) -> NewEvent {
        NewEvent {
            at: e.at,
            kind: e.kind,
            environment: e.environment,
            application: e.application,
            step: e.step,
            status: e.status,
            message: e.message,
        }
    }
}

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
}

/// One environment of a release in a list: enough for its status icon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSummary {
    pub name: String,
    pub status: EnvironmentStatus,
}

/// A release in a list (SPEC §9 web UI releases list): the columns of the
/// `releases` row, without the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub created_at: Timestamp,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub finished_at: Option<Timestamp>,
    pub version: Option<String>,
    pub environments: Vec<EnvironmentSummary>,
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
#[serde(rename_all = "camelCase")]
pub struct Page {
    pub items: Vec<ReleaseSummary>,
    /// Present when more releases follow.
    pub next_cursor: Option<String>,
}
