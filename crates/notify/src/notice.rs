//! The kind-neutral notification: what the outbox stores, and what every
//! receiver's shape (`render/`) is drawn from.

use serde::{Deserialize, Serialize};

use crate::subscription::{EventType, Subject};

/// The release an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRef {
    pub id: String,
    pub product: String,
    pub number: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub initiator: String,
    /// The release view (the public base URL's release page).
    pub url: String,
    /// The release this one rolls back to, for a rollback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<String>,
}

/// One event for one subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The de-duplication id: the same for every try and every replica.
    pub id: String,
    pub subscription: String,
    pub subject: Subject,
    pub event: EventType,
    /// When it happened (RFC 3339).
    pub time: String,
    pub release: ReleaseRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The status the release or environment went to (SPEC §4.3).
    pub status: String,
    /// Why: what a suspended release waits for, what failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first lines of the failing step's log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log: Vec<String>,
    /// The event's place in the release's history.
    pub seq: u64,
}

impl Notification {
    /// `environment.failed`, `release.started`, …
    pub fn type_name(&self) -> String {
        format!("{}.{}", self.subject.as_str(), self.event.as_str())
    }

    /// One line for people: "shop #12 failed in prod".
    pub fn headline(&self) -> String {
        let what = match self.event {
            EventType::Started => "started",
            EventType::Suspended => "is waiting",
            EventType::ApprovalNeeded => "needs approval",
            EventType::Failed => "failed",
            EventType::Succeeded => "succeeded",
            EventType::RolledBack => "rolled back",
            EventType::Superseded => "was superseded",
            EventType::Terminated => "was terminated",
        };
        let r = &self.release;
        match &self.environment {
            Some(e) => format!("{} #{} {what} in {e}", r.product, r.number),
            None => format!("{} #{} {what}", r.product, r.number),
        }
    }
}

/// The de-duplication id of the event at `seq` of `release_id` for
/// `subscription`.
pub fn dedup_id(release_id: &str, seq: u64, subscription: &str) -> String {
    format!("{release_id}-{seq}-{subscription}")
}
