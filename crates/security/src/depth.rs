//! JSON nesting limit. serde_json stops at 128 levels, but handlers and
//! whatever they hand the value to may recurse further; no request body
//! ferry accepts is deeper than a few levels, so anything past
//! [`MAX_JSON_DEPTH`] is refused before it is parsed.

/// Deepest nesting of arrays and objects accepted in a request body.
pub const MAX_JSON_DEPTH: usize = 32;

/// The first byte offset at which `body` nests deeper than `max`, if any.
/// Brackets inside strings (escapes included) do not count. A linear scan
/// without allocation: cheap enough to run on every JSON body.
pub fn too_deep(body: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_nesting_outside_strings() {
        assert_eq!(too_deep(br#"{"a":[1,{"b":2}]}"#, 3), None);
        assert_eq!(too_deep(br#"{"a":[1,{"b":2}]}"#, 2), Some(8));
        assert_eq!(too_deep(br#"{"a":"[[[[[[\"[[["}"#, 1), None);
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert_eq!(too_deep(deep.as_bytes(), MAX_JSON_DEPTH), Some(32));
        assert_eq!(too_deep(b"", 0), None);
    }
}
