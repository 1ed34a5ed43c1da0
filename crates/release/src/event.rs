//! The append-only history of a release (SPEC §4.3): every change of
//! status, with its time. The UI timeline and the live stream show it.

use serde::{Deserialize, Serialize};

use crate::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// Position in the release's history, from 1, without gaps.
    pub seq: u64,
    pub release_id: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// An approval gate (issue 20): `NEEDED` when an environment reaches
    /// it, `APPROVED`/`REJECTED` per decision (the message names who,
    /// the count and the comment), `EXPIRED`, and `OPEN` once approved.
    Approval,
}

/// An event before the store gives it its place in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NewEvent {
    pub fn new(kind: EventKind, status: impl Into<String>) -> NewEvent {
        NewEvent {
            at: crate::now(),
            kind,
            environment: None,
            application: None,
            step: None,
            status: status.into(),
            message: None,
        }
    }

    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.application = Some(application.into());
        self
    }

    pub fn step(mut self, step: impl Into<String>) -> Self {
        self.step = Some(step.into());
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// The stored event at position `seq` of release `release_id`.
    pub fn into_event(self, release_id: &str, seq: u64) -> Event {
        Event {
            seq,
            release_id: release_id.to_owned(),
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
