//! JSONPath (RFC 9535) over the spanned tree.
//!
//! Queries run with `serde_json_path` on a JSON view of the document;
//! each result's normalized path is then walked in the YAML tree to find
//! the node and its byte span. Promotable paths in templates may use the
//! legacy form `$appVersion`, meaning `$.appVersion`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json_path::JsonPath;

use crate::error::{Error, Result};
use crate::tree::{Document, NodeId, NodeKind};
use crate::value::{self, Value};

/// One step of a normalized path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathElement {
    /// A mapping key.
    Name(String),
    /// A sequence index.
    Index(usize),
}

/// An RFC 9535 normalized path such as `$['flask-ui']['image']['tag']`:
/// the exact location of one promotable value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct NormalizedPath(pub Vec<PathElement>);

impl NormalizedPath {
    /// The steps of the path.
    pub fn elements(&self) -> &[PathElement] {
        &self.0
    }
}

impl fmt::Display for NormalizedPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("$")?;
        for e in &self.0 {
            match e {
                PathElement::Index(i) => write!(f, "[{i}]")?,
                PathElement::Name(n) => {
                    f.write_str("['")?;
                    for c in n.chars() {
                        match c {
                            '\'' => f.write_str("\\'")?,
                            '\\' => f.write_str("\\\\")?,
                            '\u{8}' => f.write_str("\\b")?,
                            '\u{c}' => f.write_str("\\f")?,
                            '\n' => f.write_str("\\n")?,
                            '\r' => f.write_str("\\r")?,
                            '\t' => f.write_str("\\t")?,
                            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
                            c => write!(f, "{c}")?,
                        }
                    }
                    f.write_str("']")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for NormalizedPath {
    type Err = Error;

    /// Parse the normalized form written by `Display` (as stored in a
    /// release snapshot).
    fn from_str(s: &str) -> Result<Self> {
        let err = |position: usize, message: &str| Error::NormalizedPath {
            path: s.to_string(),
            position,
            message: message.to_string(),
        };
        let b = s.as_bytes();
        if b.first() != Some(&b'$') {
            return Err(err(0, "must start with `$`"));
        }
        let mut i = 1;
        let mut out = Vec::new();
        while i < b.len() {
            if b[i] != b'[' {
                return Err(err(i, "expected `[`"));
            }
            i += 1;
            if i < b.len() && b[i] == b'\'' {
                i += 1;
                let mut name = String::new();
                loop {
                    let Some(c) = s[i..].chars().next() else {
                        return Err(err(i, "unterminated name"));
                    };
                    i += c.len_utf8();
                    match c {
                        '\'' => break,
                        '\\' => {
                            let Some(e) = s[i..].chars().next() else {
                                return Err(err(i, "unterminated escape"));
                            };
                            i += e.len_utf8();
                            match e {
                                '\'' => name.push('\''),
                                '\\' => name.push('\\'),
                                'b' => name.push('\u{8}'),
                                'f' => name.push('\u{c}'),
                                'n' => name.push('\n'),
                                'r' => name.push('\r'),
                                't' => name.push('\t'),
                                'u' => {
                                    let hex = s
                                        .get(i..i + 4)
                                        .ok_or_else(|| err(i, "short \\u escape"))?;
                                    let n = u32::from_str_radix(hex, 16)
                                        .map_err(|_| err(i, "bad \\u escape"))?;
                                    name.push(
                                        char::from_u32(n)
                                            .ok_or_else(|| err(i, "bad \\u escape"))?,
                                    );
                                    i += 4;
                                }
                                _ => return Err(err(i - e.len_utf8(), "unknown escape")),
                            }
                        }
                        c => name.push(c),
                    }
                }
                out.push(PathElement::Name(name));
            } else {
                let start = i;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let n = s[start..i]
                    .parse::<usize>()
                    .map_err(|_| err(start, "expected an index or a quoted name"))?;
                out.push(PathElement::Index(n));
            }
            if i >= b.len() || b[i] != b']' {
                return Err(err(i, "expected `]`"));
            }
            i += 1;
        }
        Ok(NormalizedPath(out))
    }
}

impl Serialize for NormalizedPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for NormalizedPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A compiled promotable-path expression.
#[derive(Debug, Clone)]
pub struct Query {
    expression: String,
    path: JsonPath,
}

impl Query {
    /// Compile an RFC 9535 expression; `$name` (no dot) is read as
    /// `$.name`.
    pub fn parse(expression: &str) -> Result<Query> {
        let trimmed = expression.trim();
        let legacy = trimmed.len() > 1
            && trimmed.starts_with('$')
            && !trimmed[1..].starts_with(['.', '[', ' ', '\t']);
        let fixed;
        let to_parse = if legacy {
            fixed = format!("$.{}", &trimmed[1..]);
            fixed.as_str()
        } else {
            trimmed
        };
        let lead = expression.len() - expression.trim_start().len();
        // serde_json_path 0.7.2 panics (`unreachable!`) when the input ends
        // inside a `\u` escape; such an expression is an unterminated
        // string anyway, so report it ourselves.
        if ["\\u", "\\uD", "\\ud"]
            .iter()
            .any(|e| to_parse.ends_with(e))
        {
            return Err(Error::JsonPath {
                expression: expression.to_string(),
                position: expression.trim_end().len(),
                message: "unterminated string: incomplete \\u escape".into(),
            });
        }
        let path = JsonPath::parse(to_parse).map_err(|e| {
            let pos = e.position();
            let pos = if legacy && pos > 1 { pos - 1 } else { pos };
            Error::JsonPath {
                expression: expression.to_string(),
                position: pos + lead,
                message: e.message().to_string(),
            }
        })?;
        Ok(Query {
            expression: expression.to_string(),
            path,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }
}

/// A query result: where it is and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: NormalizedPath,
    /// The node (after following aliases on the way, not at the end).
    pub node: NodeId,
    /// Byte span of the node in the text.
    pub span: std::ops::Range<usize>,
    /// Line:col where the node starts.
    pub at: crate::error::Location,
    pub value: Value,
}

impl Document<'_> {
    /// Run a JSONPath query. Results come in document order (RFC 9535
    /// leaves the order of object members open; reviewers read files top
    /// to bottom).
    pub fn query(&self, query: &Query) -> Result<Vec<Located>> {
        let Some(root) = self.root else {
            return Ok(Vec::new());
        };
        let json = value::node_json(self, root)?;
        let mut out = Vec::new();
        for located in query.path.query_located(&json) {
            let path = NormalizedPath(
                located
                    .location()
                    .iter()
                    .map(|e| match e {
                        serde_json_path::PathElement::Name(n) => {
                            PathElement::Name((*n).to_string())
                        }
                        serde_json_path::PathElement::Index(i) => PathElement::Index(*i),
                    })
                    .collect(),
            );
            let Walk::Found(node, _) = self.walk(&path) else {
                continue;
            };
            out.push(Located {
                span: self.node(node).span.clone(),
                at: self.location(self.node(node).span.start),
                value: value::node_value(self, node)?,
                path,
                node,
            });
        }
        // Aliases share their target's position; their own node position
        // keeps them apart.
        out.sort_by_key(|l| (self.node(l.node).span.start, l.path.0.len()));
        Ok(out)
    }

    /// Walk a normalized path, following aliases.
    pub(crate) fn walk(&self, path: &NormalizedPath) -> Walk {
        let Some(mut cur) = self.root else {
            return Walk::Missing {
                parent: None,
                depth: 0,
                via_alias: None,
            };
        };
        let mut via_alias = None;
        for (depth, el) in path.0.iter().enumerate() {
            let resolved = self.resolve(cur);
            if resolved != cur && via_alias.is_none() {
                via_alias = Some(cur);
            }
            let next = match (&self.node(resolved).kind, el) {
                (NodeKind::Mapping { entries, .. }, PathElement::Name(n)) => entries
                    .iter()
                    .rev()
                    .find(|(k, _)| value::key_is(self, *k, n))
                    .map(|(_, v)| *v),
                (NodeKind::Sequence { items, .. }, PathElement::Index(i)) => items.get(*i).copied(),
                _ => None,
            };
            match next {
                Some(n) => cur = n,
                None => {
                    return Walk::Missing {
                        parent: Some(cur),
                        depth,
                        via_alias,
                    };
                }
            }
        }
        Walk::Found(cur, via_alias)
    }
}

/// Outcome of walking a path in the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walk {
    /// The node, and the first alias the walk went through, if any.
    Found(NodeId, Option<NodeId>),
    /// `path[depth]` is missing under `parent`.
    Missing {
        parent: Option<NodeId>,
        depth: usize,
        via_alias: Option<NodeId>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_paths_round_trip() {
        let p = NormalizedPath(vec![
            PathElement::Name("flask-ui".into()),
            PathElement::Name("it's \\ ü\n".into()),
            PathElement::Index(3),
        ]);
        let s = p.to_string();
        assert_eq!(s, r"$['flask-ui']['it\'s \\ ü\n'][3]");
        assert_eq!(s.parse::<NormalizedPath>().unwrap(), p);
    }

    #[test]
    fn bad_normalized_paths_are_typed_errors() {
        for (bad, pos) in [
            ("x", 0),
            ("$[", 2),
            ("$['a", 4),
            ("$['\\ü']", 4),
            ("$[1", 3),
            ("$['a']x", 6),
        ] {
            match bad.parse::<NormalizedPath>() {
                Err(Error::NormalizedPath { position, .. }) => assert_eq!(position, pos, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn incomplete_unicode_escapes_are_errors_not_panics() {
        for bad in [
            "$['a\\u",
            "$['\\u00e9\\uD",
            "$['\\uD800\\u",
            "$['\\uD800\\uD",
            "$['\\ud",
        ] {
            assert!(
                matches!(Query::parse(bad), Err(Error::JsonPath { .. })),
                "{bad}"
            );
        }
        assert!(Query::parse("$['\\u00e9']").is_ok());
    }

    #[test]
    fn legacy_form_means_child_of_root() {
        assert!(Query::parse("$appVersion").is_ok());
        let e = Query::parse("$.a[").unwrap_err();
        assert!(matches!(e, Error::JsonPath { position: 3, .. }), "{e}");
    }
}
