//! Notifications out (issue 20): release and environment events to Slack
//! incoming webhooks, Microsoft Teams workflows (Adaptive Cards), signed
//! HTTP webhooks and CloudEvents 1.0 receivers.
//!
//! The path, each part below the one before:
//! - [`outbox`] — the engine records events; [`Outbox`] reads them from
//!   the store (woken by the engine's broadcast, and by a scan of the
//!   store's backlog) and stores one delivery per (event, subscription)
//!   with its de-duplication id, in the transaction that moves the
//!   release's progress. Nothing waits for it, so nothing blocks a
//!   release.
//! - [`mapping`] — which events are worth telling ([`EventType`]), with
//!   their reason and log lines.
//! - [`courier`] — [`Courier`] claims due deliveries, renders them
//!   ([`render`]), POSTs them, and records each try: delivered, retried
//!   with backoff, or dead-lettered after the subscription's tries.
//! - [`subscription`] — a `[[notifications]]` entry: kind, URL and key
//!   (secrets, never printed), filter.

pub mod courier;
pub mod mapping;
pub mod notice;
pub mod outbox;
pub mod render;
pub mod subscription;

pub use courier::{Backoff, Courier, CourierSettings};
pub use notice::{Notification, ReleaseRef, dedup_id};
pub use outbox::Outbox;
pub use subscription::{
    DEFAULT_MAX_ATTEMPTS, DEFAULT_TIMEOUT, EventType, Filter, Kind, Secret, Subject, Subscription,
};
