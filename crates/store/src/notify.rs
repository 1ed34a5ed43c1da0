//! Change notifications between replicas (issue 11): on PostgreSQL every
//! transaction that appends events to a release also sends
//! `NOTIFY ferry_events, '<instance> <release id> <first seq> <last seq>'`,
//! delivered to listeners when (and only if) it commits. A replica's
//! server listens ([`Store::listen_events`]), reads the announced events
//! from the store and hands them to its browsers' live streams, so a
//! browser sees a release's events whichever replica drives it. The
//! notification carries only ids: PostgreSQL caps payloads at 8 kB, and
//! the events are already durable by the time it arrives.
//!
//! SQLite has one replica, whose engine broadcasts in-process: there is
//! nothing to listen to.

use std::sync::Arc;

use ferry_release::Event;
use sqlx::postgres::PgListener;

use crate::backend::Backend;
use crate::error::{Error, Result, db};
use crate::store::Store;

/// The channel events are announced on.
pub const EVENTS_CHANNEL: &str = "ferry_events";

/// One committed append of events to a release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventNotice {
    /// The instance id of the store that wrote them (see
    /// [`Store::with_instance`]); empty when it had none.
    pub instance: String,
    pub release_id: String,
    pub first_seq: u64,
    pub last_seq: u64,
}

impl EventNotice {
    fn payload(&self) -> String {
        let instance = if self.instance.is_empty() {
            "-"
        } else {
            &self.instance
        };
        format!(
            "{instance} {} {} {}",
            self.release_id, self.first_seq, self.last_seq
        )
    }

    /// Reads a payload; `None` for anything else sent on the channel.
    pub fn parse(payload: &str) -> Option<EventNotice> {
        let mut parts = payload.split(' ');
        let instance = parts.next()?;
        let release_id = parts.next()?.to_owned();
        let first_seq = parts.next()?.parse().ok()?;
        let last_seq = parts.next()?.parse().ok()?;
        if parts.next().is_some() || release_id.is_empty() || first_seq > last_seq {
            return None;
        }
        Some(EventNotice {
            instance: if instance == "-" {
                String::new()
            } else {
                instance.to_owned()
            },
            release_id,
            first_seq,
            last_seq,
        })
    }
}

/// A subscription to [`EVENTS_CHANNEL`] on its own connection.
pub struct EventListener {
    listener: PgListener,
}

impl EventListener {
    /// The next notice. A lost connection is re-established by the driver
    /// (notices sent meanwhile are lost; live streams catch up from the
    /// store on their next notice or reconnect).
    pub async fn recv(&mut self) -> Result<EventNotice> {
        loop {
            let n = self
                .listener
                .recv()
                .await
                .map_err(db("waiting for event notifications"))?;
            if let Some(notice) = EventNotice::parse(n.payload()) {
                return Ok(notice);
            }
        }
    }
}

impl Store {
    /// The same store, naming this process `instance` in its event
    /// notices (letters, digits, `-`, `.`, `_`; anything else is replaced
    /// by `_`, as the payload is space-separated).
    pub fn with_instance(mut self, instance: &str) -> Store {
        let clean: String = instance
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.instance = Some(Arc::from(clean));
        self
    }

    /// The instance id given by [`Store::with_instance`].
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// Listens for event notices (PostgreSQL); `None` on SQLite.
    pub async fn listen_events(&self) -> Result<Option<EventListener>> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(None);
        };
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(db("connecting the event listener"))?;
        listener
            .listen(EVENTS_CHANNEL)
            .await
            .map_err(db("listening for event notifications"))?;
        Ok(Some(EventListener { listener }))
    }

    /// The events a notice announces, read from the store.
    pub async fn events_of(&self, notice: &EventNotice) -> Result<Vec<Event>> {
        let count = notice.last_seq - notice.first_seq + 1;
        let limit = u32::try_from(count).map_err(|_| Error::OutOfRange {
            id: notice.release_id.clone(),
            field: "event notice",
        })?;
        self.events(&notice.release_id, notice.first_seq - 1, limit)
            .await
    }

    /// The payload announcing `events` of `release_id` (PostgreSQL only).
    pub(crate) fn notice_payload(&self, release_id: &str, events: &[Event]) -> Option<String> {
        if !matches!(self.backend, Backend::Postgres(_)) {
            return None;
        }
        let (first, last) = (events.first()?, events.last()?);
        Some(
            EventNotice {
                instance: self.instance.as_deref().unwrap_or_default().to_owned(),
                release_id: release_id.to_owned(),
                first_seq: first.seq,
                last_seq: last.seq,
            }
            .payload(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::EventNotice;

    #[test]
    fn payload_round_trips_and_rejects_other_text() {
        let n = EventNotice {
            instance: "pod-a".into(),
            release_id: "01J0000000000000000000000A".into(),
            first_seq: 3,
            last_seq: 7,
        };
        assert_eq!(EventNotice::parse(&n.payload()), Some(n));
        let anonymous = EventNotice {
            instance: String::new(),
            release_id: "r".into(),
            first_seq: 1,
            last_seq: 1,
        };
        assert_eq!(EventNotice::parse(&anonymous.payload()), Some(anonymous));
        assert_eq!(EventNotice::parse("hello"), None);
        assert_eq!(EventNotice::parse("a r 5 4"), None);
        assert_eq!(EventNotice::parse("a r 1 2 extra"), None);
    }
}
