//! Owned YAML values: what a snapshot stores and what `apply` writes.
//!
//! We do not store `serde_json::Value` in snapshots because it would lose
//! the scalar's text: `version: 54.10` must be promoted as `54.10`, not
//! re-printed as `54.1`. A [`Scalar`] keeps its exact text plus its type.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scalar::{ScalarKind, ScalarStyle};
use crate::tree::{Document, NodeId, NodeKind};

/// Upper bound on nodes produced by expanding aliases.
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

/// A scalar value: its decoded text and its type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Scalar {
    /// Decoded text (escapes resolved); for numbers exactly as written.
    pub text: String,
    pub kind: ScalarKind,
    /// How the source wrote it; a hint for rendering only, ignored by
    /// equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub style: Option<ScalarStyle>,
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        // All spellings of null (`~`, `null`, empty) are the same value;
        // other kinds compare by exact text so `54.10` is promoted as
        // written.
        self.kind == other.kind && (self.kind == ScalarKind::Null || self.text == other.text)
    }
}
impl Eq for Scalar {}

impl Scalar {
    /// A string scalar.
    pub fn string(text: impl Into<String>) -> Self {
        Scalar {
            text: text.into(),
            kind: ScalarKind::String,
            style: None,
        }
    }

    /// A scalar of the given kind with its exact text (e.g. `54.10`).
    pub fn typed(kind: ScalarKind, text: impl Into<String>) -> Self {
        Scalar {
            text: text.into(),
            kind,
            style: None,
        }
    }
}

/// A YAML value with mapping order kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Scalar(Scalar),
    Sequence(Vec<Value>),
    /// Keys are strings, as in JSON (non-string keys use their text).
    Mapping(Vec<(String, Value)>),
}

impl Value {
    /// Convert to JSON for display or comparison. Numbers that JSON cannot
    /// hold (`.inf`, `.nan`, out-of-range integers) become strings.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Scalar(s) => scalar_json(s),
            Value::Sequence(items) => items.iter().map(Value::to_json).collect(),
            Value::Mapping(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Build a value from JSON (strings become string scalars, numbers keep
    /// serde_json's text).
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Scalar(Scalar::typed(ScalarKind::Null, "null")),
            serde_json::Value::Bool(b) => {
                Value::Scalar(Scalar::typed(ScalarKind::Bool, b.to_string()))
            }
            serde_json::Value::Number(n) => {
                let kind = if n.is_f64() {
                    ScalarKind::Float
                } else {
                    ScalarKind::Int
                };
                Value::Scalar(Scalar::typed(kind, n.to_string()))
            }
            serde_json::Value::String(s) => Value::Scalar(Scalar::string(s.clone())),
            serde_json::Value::Array(a) => {
                Value::Sequence(a.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(o) => Value::Mapping(
                o.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// The text of a scalar value (e.g. a release version read from
    /// `versionSource`), `None` for collections.
    pub fn scalar_text(&self) -> Option<&str> {
        match self {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Look up a key of a mapping value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Mapping(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

fn scalar_json(s: &Scalar) -> serde_json::Value {
    use serde_json::Value as J;
    match s.kind {
        ScalarKind::Null => J::Null,
        ScalarKind::Bool => J::Bool(s.text.eq_ignore_ascii_case("true")),
        ScalarKind::Int => parse_int(&s.text)
            .map(J::from)
            .or_else(|| parse_uint(&s.text).map(J::from))
            .unwrap_or_else(|| J::String(s.text.clone())),
        ScalarKind::Float => s
            .text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(J::Number)
            .unwrap_or_else(|| J::String(s.text.clone())),
        ScalarKind::String => J::String(s.text.clone()),
    }
}

fn parse_int(t: &str) -> Option<i64> {
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn parse_uint(t: &str) -> Option<u64> {
    t.strip_prefix('+').unwrap_or(t).parse::<u64>().ok()
}

/// Text of a mapping key as a JSON object key.
pub(crate) fn key_text(doc: &Document<'_>, key: NodeId) -> Result<String> {
    let id = doc.resolve(key);
    match &doc.node(id).kind {
        NodeKind::Scalar { value, .. } => Ok(value.clone()),
        _ => Err(Error::ComplexKey {
            at: doc.location(doc.node(key).span.start),
        }),
    }
}

/// Whether a mapping key's text is `name` (without allocating).
pub(crate) fn key_is(doc: &Document<'_>, key: NodeId, name: &str) -> bool {
    matches!(&doc.node(doc.resolve(key)).kind, NodeKind::Scalar { value, .. } if value == name)
}

/// Convert a node (aliases expanded) into a [`Value`].
pub fn node_value(doc: &Document<'_>, id: NodeId) -> Result<Value> {
    let mut budget = MAX_EXPANDED_NODES;
    node_value_inner(doc, id, &mut budget, 0)
}

/// Deepest value we build once aliases are expanded (aliases can stack
/// the nesting of their targets).
pub const MAX_VALUE_DEPTH: usize = 512;

fn node_value_inner(
    doc: &Document<'_>,
    id: NodeId,
    budget: &mut usize,
    depth: usize,
) -> Result<Value> {
    if *budget == 0 {
        return Err(Error::AliasExpansion {
            limit: MAX_EXPANDED_NODES,
            at: doc.location(doc.node(id).span.start),
        });
    }
    if depth > MAX_VALUE_DEPTH {
        return Err(Error::TooDeep {
            limit: MAX_VALUE_DEPTH,
            at: doc.location(doc.node(id).span.start),
        });
    }
    *budget -= 1;
    let id = doc.resolve(id);
    let node = doc.node(id);
    Ok(match &node.kind {
        NodeKind::Scalar {
            value, style, kind, ..
        } => Value::Scalar(Scalar {
            text: value.clone(),
            kind: *kind,
            style: Some(*style),
        }),
        NodeKind::Sequence { items, .. } => Value::Sequence(
            items
                .iter()
                .map(|&i| node_value_inner(doc, i, budget, depth + 1))
                .collect::<Result<_>>()?,
        ),
        NodeKind::Mapping { entries, .. } => {
            let mut out: Vec<(String, Value)> = Vec::with_capacity(entries.len());
            for &(k, v) in entries {
                let key = key_text(doc, k)?;
                if out.iter().any(|(existing, _)| *existing == key) {
                    return Err(Error::DuplicateKey {
                        key,
                        at: doc.location(doc.node(k).span.start),
                    });
                }
                out.push((key, node_value_inner(doc, v, budget, depth + 1)?));
            }
            Value::Mapping(out)
        }
        NodeKind::Alias { .. } => unreachable_alias(),
    })
}

/// `Document::resolve` never returns an alias; keep the match total
/// without a panic path.
fn unreachable_alias() -> Value {
    Value::Scalar(Scalar::typed(ScalarKind::Null, ""))
}

/// Convert a node (aliases expanded) into JSON for JSONPath queries.
pub(crate) fn node_json(doc: &Document<'_>, id: NodeId) -> Result<serde_json::Value> {
    Ok(node_value(doc, id)?.to_json())
}
