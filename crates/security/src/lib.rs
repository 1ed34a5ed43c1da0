//! Request-level protections (SPEC §10; issue 10), applied by the router
//! as layers so no handler can forget one — put together by [`protect`]
//! ([`layers`]): request ids and spans, security headers ([`headers`]),
//! body limits ([`limit`]) — tower-http's layers — and JSON nesting
//! limits ([`depth`]); who the client is ([`remote`]) and rate limits
//! ([`rate`]) for the handlers; and the masking of secrets wherever text
//! leaves ferry:
//! the process-wide registry ([`register_secret`], [`redact`]), workflow
//! logs and messages ([`redacting_runner`]), log lines
//! ([`redacting_writer`]) and the JSON error body ([`json_error`]); and
//! the accept loop's limits on slow clients ([`conn`]).
//!
//! It knows HTTP and the workflow runner's interface, not the API's state.

mod body;
pub mod conn;
pub mod depth;
mod error_body;
mod guard;
pub mod headers;
pub mod layers;
pub mod limit;
pub mod rate;
pub mod redacting_runner;
pub mod redacting_writer;
pub mod remote;
mod secrets;

pub use body::{BodyFault, announced_length, body_refused, body_too_large};
pub use conn::{ConnLimits, serve};
pub use error_body::json_error;
pub use guard::{Security, too_many};
pub use layers::{REQUEST_ID, protect};
pub use limit::{BODY_LIMIT, WEBHOOK_BODY_LIMIT, WEBHOOKS_PREFIX};
pub use rate::RateLimiter;
pub use redacting_writer::RedactingWriter;
pub use remote::{TrustedProxies, client_address};
pub use secrets::{redact, register_secret};
