//! Request-level protections (SPEC §10; issue 10), applied by the router
//! as layers so no handler can forget one: who the client is
//! ([`remote`]), rate limits ([`rate`]), JSON nesting limits ([`depth`]),
//! security headers on every response ([`headers`]) — put together by
//! [`guard()`] — and the masking of secrets wherever text leaves ferry:
//! the process-wide registry ([`register_secret`], [`redact`]), workflow
//! logs and messages ([`redacting_runner`]), log lines
//! ([`redacting_writer`]) and the JSON error body ([`json_error`]); and
//! the accept loop's limits on slow clients ([`conn`]).
//!
//! It knows HTTP and the workflow runner's interface, not the API's state:
//! the guard's state is [`Security`] alone.

pub mod conn;
pub mod depth;
mod error_body;
mod guard;
pub mod headers;
pub mod rate;
pub mod redacting_runner;
pub mod redacting_writer;
pub mod remote;
mod secrets;

pub use conn::{ConnLimits, serve};
pub use error_body::json_error;
pub use guard::{BODY_LIMIT, Security, WEBHOOK_BODY_LIMIT, WEBHOOKS_PREFIX, guard, too_many};
pub use rate::RateLimiter;
pub use redacting_writer::RedactingWriter;
pub use remote::{TrustedProxies, client_address};
pub use secrets::{redact, register_secret};
