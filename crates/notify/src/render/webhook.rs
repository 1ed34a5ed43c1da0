//! The generic webhook: ferry's notification JSON, signed as Standard
//! Webhooks (standardwebhooks.com) specifies, so receivers can use its
//! libraries: `webhook-id` (the de-duplication id), `webhook-timestamp`
//! (Unix seconds, for refusing replays) and `webhook-signature`
//! (`v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`). A key given
//! as `whsec_…` is the base64 of the key bytes, as that specification
//! says; any other key is used as its bytes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::notice::Notification;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

pub(super) fn body(n: &Notification) -> Value {
    let mut v = serde_json::to_value(n).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("type".into(), json!(n.type_name()));
    }
    v
}

fn key_bytes(key: &str) -> Vec<u8> {
    match key.strip_prefix("whsec_") {
        Some(b64) => STANDARD
            .decode(b64)
            .unwrap_or_else(|_| key.as_bytes().to_vec()),
        None => key.as_bytes().to_vec(),
    }
}

/// The `webhook-signature` value of `body` sent as `id` at `timestamp`.
pub fn sign(key: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_bytes(key))
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

pub(super) fn signature_headers(
    key: &str,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        (ID_HEADER, id.to_owned()),
        (TIMESTAMP_HEADER, timestamp.to_string()),
        (SIGNATURE_HEADER, sign(key, id, timestamp, body)),
    ]
}
