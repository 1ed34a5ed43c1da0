//! Durable storage of releases (SPEC §4, issue 5; PostgreSQL for issue 11).
//!
//! A release is stored whole as a JSON document (the `ferry-release`
//! record, so the store never falls behind the record's fields) beside the
//! columns that lists and the engine filter on; its history is an
//! append-only table of events numbered from 1 without gaps. SQLite (a file
//! in the data directory, WAL) is the default; PostgreSQL uses the same
//! tables and the same SQL, the differences are kept in the `backend` module.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferry_store::Error> {
//! let store = ferry_store::Store::open("sqlite:///var/lib/ferry/ferry.db?mode=rwc").await?;
//! let page = store.list(&ferry_store::ListFilter::default()).await?;
//! # Ok(()) }
//! ```

mod backend;
mod columns;
mod cursor;
mod dedup;
mod deliveries;
mod error;
mod freezes;
mod idempotency;
mod insights;
mod invariant;
mod lease;
mod notes;
mod notifications;
mod notify;
mod plans;
mod product_gate;
mod security;
mod store;
mod types;
mod ui_sessions;
mod url;

pub use error::{Error, Result};
pub use freezes::{Freeze, NewFreeze};
pub use idempotency::{IDEMPOTENCY_WINDOW, IdempotentRequest, Remembered};
pub use insights::{INSIGHT_FACTS_VERSION, InsightDays, InsightFacts, ProductFilter};
pub use invariant::Repaired;
pub use lease::Lease;
pub use notes::{NewRendition, NotesRendition, NotesValidator};
pub use notifications::{
    DeliveryOutcome, DeliveryPage, DeliveryStatus, NewDelivery, NotificationProgress, OutboxRow,
    ProgressMove,
};
pub use notify::{EVENTS_CHANNEL, EventListener, EventNotice};
pub use plans::QueryPlan;
pub use product_gate::ProductGate;
pub use security::{AuditEntry, AuditFilter, AuditPage, NewAuditEntry, NewToken, TokenRecord};
pub use store::{MAX_EVENTS_PAGE, Store};
pub use types::{
    Created, DEFAULT_PAGE, EnvironmentSummary, ListFilter, MAX_PAGE, NewEvent, Page,
    ReleaseSummary, Saved,
};
pub use ui_sessions::UiSession;
pub use url::{BackendKind, redact};
