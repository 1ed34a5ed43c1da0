//! The JSON API (SPEC §9) and the operational endpoints.
//!
//! Everything under `/api/v1`; `/healthz`, `/readyz` and `/metrics` at the
//! root where probes and scrapers expect them; the OpenAPI document at
//! `/api/openapi.json` (generated, [`openapi`]) and its interactive
//! reference at `/api/docs` ([`reference`]).

//!
//! Handlers are one file per resource; what they share sits below them:
//! [`state`] (the shared state), [`extract`] (who is calling), [`auth`]
//! (tokens and roles) with [`session`] (browser sessions), [`audit`] (every
//! mutating call recorded), [`error`] (the JSON errors), [`view`] (the
//! release as the API shows it). [`routes`] puts the handlers in one table.

pub mod approvals;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod csrf;
pub mod deployed;
pub mod error;
pub mod events;
pub mod extract;
pub mod freezes;
pub mod guard;
pub mod gzip;
pub mod insights;
pub mod metrics;
pub mod notes;
pub mod notes_bodies;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod products;
pub mod reference;
pub mod refusals;
pub mod releases;
pub mod routes;
pub mod session;
pub mod state;
pub mod tokens;
pub mod unavailable;
pub mod view;
pub mod webhooks;

pub use extract::{Authenticated, Reader};
pub use routes::{observe, routes, table};
pub use state::{AppState, Shared};
pub use unavailable::fail_fast;
