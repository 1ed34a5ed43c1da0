//! Scalar typing (YAML 1.2 core schema) and scalar rendering.
//!
//! Typing decides what a scalar *means* (so `"1.20"` stays a string and
//! `54.1` is a number); rendering decides how a new value is written so
//! that it reads back as the same value — including for readers that
//! still follow YAML 1.1 (Go's yaml, used by Helm, reads `yes` or `0123`
//! differently), which is why plain output is stricter than typing.

use serde::{Deserialize, Serialize};

/// The type a scalar resolves to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarKind {
    Null,
    Bool,
    Int,
    Float,
    String,
}

/// How a scalar is written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalarStyle {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

impl From<saphyr_parser::ScalarStyle> for ScalarStyle {
    fn from(s: saphyr_parser::ScalarStyle) -> Self {
        match s {
            saphyr_parser::ScalarStyle::Plain => ScalarStyle::Plain,
            saphyr_parser::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
            saphyr_parser::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
            saphyr_parser::ScalarStyle::Literal => ScalarStyle::Literal,
            saphyr_parser::ScalarStyle::Folded => ScalarStyle::Folded,
        }
    }
}

/// Resolve a scalar's type: quoted and block scalars are strings, a core
/// tag (`!!str`, `!!int`, ...) wins, plain scalars follow the 1.2 core
/// schema.
pub(crate) fn resolve(text: &str, style: ScalarStyle, tag: Option<&str>) -> ScalarKind {
    if let Some(tag) = tag {
        let suffix = tag
            .strip_prefix("tag:yaml.org,2002:")
            .or_else(|| tag.strip_prefix("!!"));
        match suffix {
            Some("str") => return ScalarKind::String,
            Some("null") if core_kind(text) == ScalarKind::Null => return ScalarKind::Null,
            Some("bool") if core_kind(text) == ScalarKind::Bool => return ScalarKind::Bool,
            Some("int") if core_kind(text) == ScalarKind::Int => return ScalarKind::Int,
            Some("float") if matches!(core_kind(text), ScalarKind::Float | ScalarKind::Int) => {
                return ScalarKind::Float;
            }
            _ => {}
        }
    }
    if style == ScalarStyle::Plain {
        core_kind(text)
    } else {
        ScalarKind::String
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub(crate) fn core_kind(t: &str) -> ScalarKind {
    match t {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarKind::Bool,
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float,
        _ => {}
    }
    let b = t.as_bytes();
    if let Some(rest) = t.strip_prefix("0o")
        && !rest.is_empty()
        && rest.bytes().all(|c| (b'0'..=b'7').contains(&c))
    {
        return ScalarKind::Int;
    }
    if let Some(rest) = t.strip_prefix("0x")
        && !rest.is_empty()
        && rest.bytes().all(|c| c.is_ascii_hexdigit())
    {
        return ScalarKind::Int;
    }
    let unsigned = match b.first() {
        Some(b'-' | b'+') => &b[1..],
        _ => b,
    };
    if !unsigned.is_empty() && unsigned.iter().all(u8::is_ascii_digit) {
        return ScalarKind::Int;
    }
    if is_core_float(unsigned) {
        return ScalarKind::Float;
    }
    ScalarKind::String
}

/// `(\.[0-9]+ | [0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
fn is_core_float(b: &[u8]) -> bool {
    let mut i = 0;
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int_digits = digits(&mut i);
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = digits(&mut i);
        if int_digits == 0 && frac == 0 {
            return false;
        }
    } else if int_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Would a YAML 1.1 reader (Go yaml, PyYAML) read this plain text as
/// something other than a string? Used only to decide quoting.
fn yaml11_non_string(t: &str) -> bool {
    let lower = t.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~"
    ) {
        return true;
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    let unsigned = cleaned.trim_start_matches(['-', '+']);
    if unsigned.starts_with("0b") || unsigned.starts_with("0x") || unsigned.starts_with("0o") {
        return true;
    }
    // Sexagesimal (`1:20`) and anything numeric after dropping `_`.
    if !unsigned.is_empty()
        && unsigned.as_bytes()[0].is_ascii_digit()
        && unsigned
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b':' || c == b'.')
        && unsigned.bytes().filter(|&c| c == b'.').count() <= 1
    {
        return true;
    }
    // Timestamps: 2001-12-14 and friends.
    let tb = t.as_bytes();
    if tb.len() >= 8
        && tb[..4].iter().all(u8::is_ascii_digit)
        && tb[4] == b'-'
        && tb[5].is_ascii_digit()
    {
        return true;
    }
    core_kind(&cleaned) != ScalarKind::String || core_kind(t) != ScalarKind::String
}

fn is_printable(c: char) -> bool {
    !(c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}'))
}

/// Can `t` be written as a plain scalar and read back as the string `t`
/// by both 1.2 and 1.1 readers? `flow` means inside `[...]`/`{...}`.
pub(crate) fn plain_safe(t: &str, flow: bool) -> bool {
    let Some(first) = t.chars().next() else {
        return false;
    };
    if yaml11_non_string(t) {
        return false;
    }
    if t.starts_with(char::is_whitespace) || t.ends_with(char::is_whitespace) {
        return false;
    }
    if t.starts_with("---") || t.starts_with("...") {
        return false;
    }
    let second = t[first.len_utf8()..].chars().next();
    match first {
        '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => return false,
        '-' | '?' | ':' => match second {
            None => return false,
            Some(c) if c.is_whitespace() => return false,
            Some(c) if flow && ",[]{}".contains(c) => return false,
            _ => {}
        },
        _ => {}
    }
    if t.ends_with(':') || t.contains(": ") || t.contains(" #") || t.contains(":\t") {
        return false;
    }
    if flow && t.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    t.chars().all(|c| c != '\t' && is_printable(c))
}

/// Double-quoted rendering with JSON-like escapes; represents any string.
pub(crate) fn double_quoted(t: &str) -> String {
    let mut out = String::with_capacity(t.len() + 2);
    out.push('"');
    for c in t.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if !is_printable(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{n:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Single-quoted rendering, or `None` when the text needs escapes that
/// single quotes cannot express (line breaks, control characters, or
/// edge whitespace that would be folded away).
pub(crate) fn single_quoted(t: &str) -> Option<String> {
    if !t.chars().all(|c| c != '\t' && is_printable(c)) {
        return None;
    }
    Some(format!("'{}'", t.replace('\'', "''")))
}

/// The inline text of a non-string scalar, or of a string chosen for an
/// unspecified style: plain when safe, double-quoted otherwise.
pub(crate) fn inline(kind: ScalarKind, text: &str, flow: bool) -> String {
    match kind {
        ScalarKind::String => {
            if plain_safe(text, flow) {
                text.to_string()
            } else {
                double_quoted(text)
            }
        }
        ScalarKind::Null if text.is_empty() => "null".to_string(),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_schema() {
        assert_eq!(core_kind("54.1"), ScalarKind::Float);
        assert_eq!(core_kind("54.10"), ScalarKind::Float);
        assert_eq!(core_kind("1e3"), ScalarKind::Float);
        assert_eq!(core_kind("."), ScalarKind::String);
        assert_eq!(core_kind("-12"), ScalarKind::Int);
        assert_eq!(core_kind("0x1F"), ScalarKind::Int);
        assert_eq!(core_kind("0o17"), ScalarKind::Int);
        assert_eq!(core_kind("yes"), ScalarKind::String);
        assert_eq!(core_kind("True"), ScalarKind::Bool);
        assert_eq!(core_kind("~"), ScalarKind::Null);
        assert_eq!(core_kind("1.2.3"), ScalarKind::String);
        assert_eq!(core_kind("main-abc123"), ScalarKind::String);
        assert_eq!(
            resolve("12", ScalarStyle::Plain, Some("tag:yaml.org,2002:str")),
            ScalarKind::String
        );
        assert_eq!(
            resolve("1.20", ScalarStyle::DoubleQuoted, None),
            ScalarKind::String
        );
    }

    #[test]
    fn plain_safety_is_conservative_for_yaml11_readers() {
        for t in [
            "1.20",
            "true",
            "0123",
            "yes",
            "Off",
            "1_000",
            "1:20",
            "2024-01-01",
            "null",
            "",
            " a",
            "a: b",
            "a #b",
            "-",
            "*x",
            "0x10",
            "1e3",
            "---x",
        ] {
            assert!(!plain_safe(t, false), "{t:?} must not be plain");
        }
        for t in [
            "main-abc123",
            "1.2.3",
            "v1.20",
            "nginx",
            "a:b",
            "ghcr.io/x/y",
            "-x",
        ] {
            assert!(plain_safe(t, false), "{t:?} should be plain");
        }
        assert!(!plain_safe("a,b", true));
        assert!(plain_safe("a,b", false));
    }

    #[test]
    fn quoting() {
        assert_eq!(double_quoted("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\x01\"");
        assert_eq!(single_quoted("it's").as_deref(), Some("'it''s'"));
        assert_eq!(single_quoted("a\nb"), None);
    }
}
