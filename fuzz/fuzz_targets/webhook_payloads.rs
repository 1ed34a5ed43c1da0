//! The five forges' webhook verification and parsing on arbitrary bodies
//! and header values (issue 10): never a panic — bad input is a 400/401
//! error value, nothing else.
#![no_main]

use ferry_forge::{ForgeKind, Secret, webhook};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;

const EVENTS: [(&str, &[&str]); 5] = [
    ("x-github-event", &["push", "pull_request", "ping", ""]),
    ("x-gitlab-event", &["Push Hook", "Merge Request Hook", "Tag Push Hook", ""]),
    ("x-gitea-event", &["push", "pull_request", "create", ""]),
    ("x-event-key", &["repo:push", "pullrequest:fulfilled", "pullrequest:rejected", ""]),
    // Azure DevOps names the event in the body (`eventType`).
    ("x-unused", &["", "", "", ""]),
];
const SIGNATURES: [&str; 6] = [
    "x-hub-signature-256",
    "x-gitlab-token",
    "x-gitea-signature",
    "x-hub-signature",
    "x-github-delivery",
    "authorization",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    // An optional header value taken from the input: up to the first 0x00.
    let (value, body) = match rest.iter().position(|b| *b == 0) {
        Some(i) if i <= 200 => (&rest[..i], &rest[i + 1..]),
        _ => (&b""[..], rest),
    };
    let forge = usize::from(selector & 7) % ForgeKind::ALL.len();
    let kind = ForgeKind::ALL[forge];
    let (event_header, events) = EVENTS[forge];
    let mut headers = HeaderMap::new();
    let event = events[usize::from((selector >> 3) & 3)];
    if !event.is_empty() {
        headers.insert(event_header, HeaderValue::from_static(event));
    }
    if let Ok(v) = HeaderValue::from_bytes(value) {
        let name = SIGNATURES[usize::from(selector >> 5) % SIGNATURES.len()];
        headers.insert(HeaderName::from_static(name), v);
    }
    let _ = webhook::verify(kind, &Secret::new("fuzz-secret"), &headers, body);
    let _ = webhook::parse(kind, &headers, body);
});
