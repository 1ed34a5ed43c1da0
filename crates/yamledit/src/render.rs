//! Writing fresh YAML for values that have no existing bytes to reuse:
//! inserted keys, appended sequence items, replaced nodes.

use crate::scalar::{self, ScalarKind, ScalarStyle};
use crate::value::{Scalar, Value};

fn spaces(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// A scalar written inline, honouring the source's quoting when it had
/// any (a snapshot of `tag: '1.2'` inserts `'1.2'`).
pub(crate) fn scalar_inline(s: &Scalar, flow: bool) -> String {
    if s.kind != ScalarKind::String {
        return scalar::inline(s.kind, &s.text, flow);
    }
    match s.style {
        Some(ScalarStyle::SingleQuoted) => {
            scalar::single_quoted(&s.text).unwrap_or_else(|| scalar::double_quoted(&s.text))
        }
        Some(ScalarStyle::DoubleQuoted | ScalarStyle::Literal | ScalarStyle::Folded) => {
            scalar::double_quoted(&s.text)
        }
        Some(ScalarStyle::Plain) | None => scalar::inline(s.kind, &s.text, flow),
    }
}

/// A mapping key (JSON keys are strings).
pub(crate) fn key(k: &str, flow: bool) -> String {
    if scalar::plain_safe(k, flow) {
        k.to_string()
    } else {
        scalar::double_quoted(k)
    }
}

/// Flow-style rendering: `{a: 1, b: [x, y]}`; valid in any context.
pub(crate) fn inline(v: &Value, out: &mut String) {
    match v {
        Value::Scalar(s) => out.push_str(&scalar_inline(s, true)),
        Value::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline(item, out);
            }
            out.push(']');
        }
        Value::Mapping(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&key(k, true));
                out.push_str(": ");
                inline(v, out);
            }
            out.push('}');
        }
    }
}

/// Write a value right after `key:`; nested content goes on new lines
/// at `indent`.
pub(crate) fn after_key(out: &mut String, v: &Value, indent: usize, nl: &str) {
    match v {
        Value::Mapping(entries) if !entries.is_empty() => {
            for (k, child) in entries {
                out.push_str(nl);
                spaces(out, indent);
                out.push_str(&key(k, false));
                out.push(':');
                after_key(out, child, indent + 2, nl);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for item in items {
                out.push_str(nl);
                spaces(out, indent);
                out.push('-');
                after_dash(out, item, indent + 2, nl);
            }
        }
        Value::Scalar(s) if s.kind == ScalarKind::Null && s.text.is_empty() => {}
        Value::Scalar(s) => {
            out.push(' ');
            out.push_str(&scalar_inline(s, false));
        }
        _ => {
            out.push(' ');
            inline(v, out);
        }
    }
}

/// Write a value right after a sequence dash `-`; `indent` is the column
/// of the item's content.
pub(crate) fn after_dash(out: &mut String, v: &Value, indent: usize, nl: &str) {
    match v {
        Value::Mapping(entries) if !entries.is_empty() => {
            for (i, (k, child)) in entries.iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                } else {
                    out.push_str(nl);
                    spaces(out, indent);
                }
                out.push_str(&key(k, false));
                out.push(':');
                after_key(out, child, indent + 2, nl);
            }
        }
        Value::Sequence(items) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                if i == 0 {
                    out.push(' ');
                } else {
                    out.push_str(nl);
                    spaces(out, indent);
                }
                out.push('-');
                after_dash(out, item, indent + 2, nl);
            }
        }
        Value::Scalar(s) if s.kind == ScalarKind::Null && s.text.is_empty() => {}
        Value::Scalar(s) => {
            out.push(' ');
            out.push_str(&scalar_inline(s, false));
        }
        _ => {
            out.push(' ');
            inline(v, out);
        }
    }
}

/// A block collection whose first entry starts at the cursor and whose
/// other entries start at column `indent`.
pub(crate) fn block_collection(v: &Value, indent: usize, nl: &str) -> String {
    let mut out = String::new();
    match v {
        Value::Mapping(entries) => {
            for (i, (k, child)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(nl);
                    spaces(&mut out, indent);
                }
                out.push_str(&key(k, false));
                out.push(':');
                after_key(&mut out, child, indent + 2, nl);
            }
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(nl);
                    spaces(&mut out, indent);
                }
                out.push('-');
                after_dash(&mut out, item, indent + 2, nl);
            }
        }
        Value::Scalar(s) => out.push_str(&scalar_inline(s, false)),
    }
    out
}

/// Literal/folded block body lines for `text`, or `None` if a block
/// scalar cannot carry it faithfully (we then fall back to quotes).
pub(crate) fn block_body(text: &str) -> Option<(Vec<&str>, usize)> {
    let trailing = text.len() - text.trim_end_matches('\n').len();
    let body = &text[..text.len() - trailing];
    if body.is_empty() {
        return None;
    }
    if !body.chars().all(|c| {
        c == '\n'
            || c == '\t'
            || !(c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}'))
    }) {
        return None;
    }
    let lines: Vec<&str> = body.split('\n').collect();
    let first = lines.iter().find(|l| !l.is_empty())?;
    if first.starts_with([' ', '\t']) {
        return None;
    }
    if lines.iter().any(|l| !l.is_empty() && l.trim().is_empty()) {
        return None;
    }
    // Leading empty lines would need care with indentation detection.
    if lines[0].is_empty() {
        return None;
    }
    Some((lines, trailing))
}
