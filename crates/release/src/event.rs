//! The append-only history of a release (SPEC §4.3): every change of
//! status, with its time. The UI timeline and the live stream show it.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the release's history, from 1, without gaps.
    pub seq: u64,
    pub release_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The new status, as its SPEC string.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventKind {
    Release,
    Environment,
    Application,
    Step,
    Hook,
    Issue,
    /// A person's action (promote, terminate, retry, resume).
    Audit,
}
