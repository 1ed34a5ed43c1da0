//! What the API does with a JSON request body before a handler sees it
//! (issue 10): the nesting guard (`security::depth`) and the typed body of
//! `POST /api/v1/products/{p}/promotions`. Never a panic; the guard names a
//! position inside the body, and whatever it lets through is shallow
//! enough for the JSON parser.
#![no_main]

use ferry_security::depth::{MAX_JSON_DEPTH, too_deep};
use libfuzzer_sys::fuzz_target;

/// Nesting of a parsed value.
fn depth(v: &serde_json::Value) -> usize {
    match v {
        serde_json::Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    match too_deep(data, MAX_JSON_DEPTH) {
        Some(at) => assert!(at <= data.len(), "position {at} beyond {} bytes", data.len()),
        None => {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
                assert!(depth(&v) <= MAX_JSON_DEPTH, "a body nested deeper than the limit passed");
            }
            let _ = serde_json::from_slice::<ferry_engine::PromotionRequest>(data);
        }
    }
});
