//! A notification in each receiver's shape: one file per kind, each a
//! function from the kind-neutral [`Notification`] to the request body and
//! headers. Everything people read passes through `ferry_security::redact`
//! on its way out.

mod cloudevents;
mod slack;
mod teams;
mod webhook;

pub use webhook::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

use crate::notice::Notification;
use crate::subscription::{Kind, Subscription};

/// What to POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// `n` as `sub`'s receiver takes it, signed at `unix_time` (seconds) when
/// the subscription has a key.
pub fn render(sub: &Subscription, n: &Notification, unix_time: i64) -> Request {
    let n = &masked(n);
    let (content_type, body) = match sub.kind {
        Kind::Slack => ("application/json", slack::body(n)),
        Kind::Teams => ("application/json", teams::body(n)),
        Kind::Webhook => ("application/json", webhook::body(n)),
        Kind::CloudEvents => (cloudevents::CONTENT_TYPE, cloudevents::body(n)),
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    let mut headers = vec![("ferry-event", n.type_name())];
    if let Some(key) = &sub.signing_key {
        headers.extend(webhook::signature_headers(
            key.expose(),
            &n.id,
            unix_time,
            &body,
        ));
    } else {
        headers.push((ID_HEADER, n.id.clone()));
    }
    Request {
        content_type,
        headers,
        body,
    }
}

/// The notification with every known secret masked in what people read.
fn masked(n: &Notification) -> Notification {
    let mut n = n.clone();
    n.reason = n.reason.as_deref().map(ferry_security::redact);
    n.log = n.log.iter().map(|l| ferry_security::redact(l)).collect();
    n
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub(crate) fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
