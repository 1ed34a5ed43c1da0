//! Applying a snapshot to a target file: set every promoted path to its
//! snapshot value by replacing only the bytes of the values that differ.
//!
//! Rules (SPEC §4.2):
//! - equal values are left alone, so an up-to-date file is not touched;
//! - a promoted mapping gets the source's keys; keys present only in the
//!   target are kept (files that exist only in the target are left alone,
//!   and the same courtesy applies to keys);
//! - a missing key is inserted when its parent mapping exists, with the
//!   indentation of its siblings and the file's line ending;
//! - an edited scalar keeps its quoting style when that style can still
//!   express the new value with the same type.
//!
//! After editing we parse the result again and check every promoted path;
//! a mismatch is returned as an error instead of a wrong file.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::path::{NormalizedPath, PathElement, Walk};
use crate::render;
use crate::scalar::{ScalarKind, ScalarStyle};
use crate::source;
use crate::tree::{self, Document, NodeId, NodeKind};
use crate::value::{self, Scalar, Value};

/// One promotable value of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathValue {
    pub path: NormalizedPath,
    pub value: Value,
}

/// Result of [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new file contents.
    pub text: String,
    /// Whether any byte changed.
    pub changed: bool,
}

/// A byte-range replacement. `seq` keeps insertion order for edits at the
/// same position (deeper inserts are planned first and must come first).
#[derive(Debug)]
struct Edit {
    range: Range<usize>,
    text: String,
    seq: usize,
}

struct Planner<'d, 'a> {
    doc: &'d Document<'a>,
    edits: Vec<Edit>,
    path: Vec<PathElement>,
}

/// Set every snapshot path in `target` to its snapshot value.
pub fn apply(target: &str, snapshot: &[PathValue]) -> Result<Edited> {
    let mut current = target.to_string();
    let mut changed = false;
    let mut i = 0;
    while i < snapshot.len() {
        let doc = tree::parse(&current)?;
        let mut planner = Planner {
            doc: &doc,
            edits: Vec::new(),
            path: Vec::new(),
        };
        // Plan as many entries as possible on this parse. An entry whose
        // edits touch bytes (or an insertion point) that an earlier entry
        // of this batch edits is planned again after splicing and parsing
        // anew, so later paths always see the effect of earlier ones.
        while i < snapshot.len() {
            let before = planner.edits.len();
            planner.entry(&snapshot[i])?;
            let (old, new) = planner.edits.split_at(before);
            let conflict = new.iter().any(|n| {
                old.iter()
                    .any(|o| n.range.start <= o.range.end && o.range.start <= n.range.end)
            });
            if conflict {
                planner.edits.truncate(before);
                break;
            }
            i += 1;
        }
        if planner.edits.is_empty() {
            if i < snapshot.len() {
                // Unreachable in practice: a conflict needs earlier edits.
                return Err(Error::Verification {
                    path: snapshot[i].path.to_string(),
                    detail: "conflicting edits without progress".into(),
                });
            }
            break;
        }
        let next = splice(&current, planner.edits)?;
        drop(doc);
        if next != current {
            changed = true;
            current = next;
        }
    }
    if changed {
        verify(&current, snapshot)?;
    }
    Ok(Edited {
        text: current,
        changed,
    })
}

fn splice(text: &str, mut edits: Vec<Edit>) -> Result<String> {
    edits.sort_by_key(|e| (e.range.start, e.seq));
    let mut out = String::with_capacity(text.len() + 64);
    let mut cursor = 0;
    for e in &edits {
        if e.range.start < cursor
            || e.range.end < e.range.start
            || e.range.end > text.len()
            || !text.is_char_boundary(e.range.start)
            || !text.is_char_boundary(e.range.end)
        {
            return Err(Error::Verification {
                path: String::new(),
                detail: format!("overlapping or invalid edit at byte {}", e.range.start),
            });
        }
        out.push_str(&text[cursor..e.range.start]);
        out.push_str(&e.text);
        cursor = e.range.end;
    }
    out.push_str(&text[cursor..]);
    Ok(out)
}

/// Is every part of `want` present and equal in `have`?
fn covers(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Scalar(a), Value::Scalar(b)) => a == b,
        (Value::Sequence(a), Value::Sequence(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| covers(x, y))
        }
        (Value::Mapping(_), Value::Mapping(b)) => b
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| covers(h, v))),
        _ => false,
    }
}

fn verify(text: &str, snapshot: &[PathValue]) -> Result<()> {
    let doc = tree::parse(text).map_err(|e| Error::Verification {
        path: String::new(),
        detail: format!("edited text does not parse: {e}"),
    })?;
    for entry in snapshot {
        let fail = |detail: String| Error::Verification {
            path: entry.path.to_string(),
            detail,
        };
        match doc.walk(&entry.path) {
            Walk::Found(id, _) => {
                let have = value::node_value(&doc, id)?;
                if !covers(&have, &entry.value) {
                    return Err(fail(format!(
                        "found {} instead of {}",
                        have.to_json(),
                        entry.value.to_json()
                    )));
                }
            }
            Walk::Missing { .. } => return Err(fail("path missing after edit".into())),
        }
    }
    Ok(())
}

impl Planner<'_, '_> {
    fn path_string(&self) -> String {
        NormalizedPath(self.path.clone()).to_string()
    }

    fn push(&mut self, range: Range<usize>, text: String) {
        let seq = self.edits.len();
        self.edits.push(Edit { range, text, seq });
    }

    fn entry(&mut self, entry: &PathValue) -> Result<()> {
        let doc = self.doc;
        match doc.walk(&entry.path) {
            Walk::Found(id, via_alias) => {
                self.path = entry.path.0.clone();
                let before = self.edits.len();
                self.set(id, &entry.value)?;
                if let (Some(alias), true) = (via_alias, self.edits.len() > before) {
                    return Err(Error::ThroughAlias {
                        path: entry.path.to_string(),
                        at: doc.location(doc.node(alias).span.start),
                    });
                }
                Ok(())
            }
            Walk::Missing { parent: None, .. } => Err(Error::PathNotCreatable {
                path: entry.path.to_string(),
                reason: "the target document is empty".into(),
            }),
            Walk::Missing {
                parent: Some(parent),
                depth,
                via_alias,
            } => {
                if let Some(alias) = via_alias {
                    return Err(Error::ThroughAlias {
                        path: entry.path.to_string(),
                        at: doc.location(doc.node(alias).span.start),
                    });
                }
                let rest = &entry.path.0[depth..];
                let mut value = entry.value.clone();
                for el in rest[1..].iter().rev() {
                    match el {
                        PathElement::Name(n) => value = Value::Mapping(vec![(n.clone(), value)]),
                        PathElement::Index(_) => {
                            return Err(Error::PathNotCreatable {
                                path: entry.path.to_string(),
                                reason: "a missing sequence index cannot be created".into(),
                            });
                        }
                    }
                }
                let PathElement::Name(key) = &rest[0] else {
                    return Err(Error::PathNotCreatable {
                        path: entry.path.to_string(),
                        reason: format!(
                            "index {} is out of range",
                            NormalizedPath(rest[..1].to_vec())
                        ),
                    });
                };
                let node = doc.node(parent);
                if doc.resolve(parent) != parent {
                    return Err(Error::ThroughAlias {
                        path: entry.path.to_string(),
                        at: doc.location(node.span.start),
                    });
                }
                if !matches!(node.kind, NodeKind::Mapping { .. }) {
                    return Err(Error::PathNotCreatable {
                        path: entry.path.to_string(),
                        reason: format!(
                            "{} at {} is not a mapping",
                            NormalizedPath(entry.path.0[..depth].to_vec()),
                            doc.location(node.span.start)
                        ),
                    });
                }
                self.path = entry.path.0[..depth].to_vec();
                self.insert_key(parent, key, &value)
            }
        }
    }

    /// Make the node `id` equal (structurally) to `want`.
    fn set(&mut self, id: NodeId, want: &Value) -> Result<()> {
        let doc = self.doc;
        let node = doc.node(id);
        // An empty value we can only fill where it follows `key:` or `-`
        // (or sits in a flow collection); elsewhere (e.g. `? key` without
        // `:`) there is no place to write it.
        if node.span.is_empty()
            && !node.in_flow
            && !matches!(
                doc.text.as_bytes().get(node.span.start.wrapping_sub(1)),
                Some(b':' | b'-')
            )
            && value::node_value(doc, id)? != *want
        {
            return Err(Error::Unsupported {
                path: self.path_string(),
                at: doc.location(node.span.start),
                reason: "empty value without `key:` or `-` before it".into(),
            });
        }
        match (&node.kind, want) {
            (NodeKind::Scalar { .. }, Value::Scalar(s)) => self.set_scalar(id, s),
            (NodeKind::Mapping { entries, .. }, Value::Mapping(src)) => {
                let mut missing = Vec::new();
                // Phase 1: recurse into existing keys; phase 2: insert the
                // missing ones (after any deeper inserts at the same spot).
                for (k, v) in src {
                    let found = entries
                        .iter()
                        .rev()
                        .find(|(key, _)| value::key_is(doc, *key, k));
                    match found {
                        Some(&(_, child)) => {
                            self.path.push(PathElement::Name(k.clone()));
                            let res = self.set(child, v);
                            self.path.pop();
                            res?;
                        }
                        None => missing.push((k, v)),
                    }
                }
                for (k, v) in missing {
                    self.insert_key(id, k, v)?;
                }
                Ok(())
            }
            (NodeKind::Sequence { items, flow }, Value::Sequence(src)) => {
                if items.len() == src.len() {
                    for (i, (&item, v)) in items.iter().zip(src).enumerate() {
                        self.path.push(PathElement::Index(i));
                        let res = self.set(item, v);
                        self.path.pop();
                        res?;
                    }
                    Ok(())
                } else if *flow || items.is_empty() {
                    self.replace(id, want)
                } else {
                    self.resize_block_sequence(id, items, src)
                }
            }
            (NodeKind::Alias { .. }, _) => {
                if value::node_value(doc, id)? == *want {
                    Ok(())
                } else {
                    self.replace(id, want)
                }
            }
            _ => self.replace(id, want),
        }
    }

    fn set_scalar(&mut self, id: NodeId, want: &Scalar) -> Result<()> {
        let doc = self.doc;
        let node = doc.node(id);
        let NodeKind::Scalar {
            value,
            style,
            kind,
            block,
        } = &node.kind
        else {
            return Ok(());
        };
        let have = Scalar {
            text: value.clone(),
            kind: *kind,
            style: None,
        };
        if have == *want {
            return Ok(());
        }
        if let Some(block) = block {
            return self.set_block_scalar(block, *style, want);
        }
        let text = if want.kind == ScalarKind::String {
            match style {
                ScalarStyle::Plain => {
                    if crate::scalar::plain_safe(&want.text, node.in_flow) {
                        want.text.clone()
                    } else {
                        render::scalar_inline(
                            &Scalar {
                                style: want.style.filter(|s| *s == ScalarStyle::SingleQuoted),
                                ..want.clone()
                            },
                            node.in_flow,
                        )
                    }
                }
                ScalarStyle::SingleQuoted => crate::scalar::single_quoted(&want.text)
                    .unwrap_or_else(|| crate::scalar::double_quoted(&want.text)),
                _ => crate::scalar::double_quoted(&want.text),
            }
        } else {
            crate::scalar::inline(want.kind, &want.text, node.in_flow)
        };
        let mut range = node.content_start..node.span.end;
        let mut text = text;
        if have.kind != want.kind {
            (range, text) = self.without_tag(id, range, text);
        }
        self.replace_range(range, text);
        Ok(())
    }

    fn set_block_scalar(
        &mut self,
        block: &tree::BlockScalar,
        style: ScalarStyle,
        want: &Scalar,
    ) -> Result<()> {
        let doc = self.doc;
        let text = doc.text;
        let nl = doc.newline;
        let body = if want.kind == ScalarKind::String {
            render::block_body(&want.text)
        } else {
            None
        };
        let Some((lines, trailing)) = body else {
            // Not expressible as a block scalar: write it inline instead.
            let inline = if want.kind == ScalarKind::String {
                crate::scalar::double_quoted(&want.text)
            } else {
                crate::scalar::inline(want.kind, &want.text, false)
            };
            self.push(block.header.start..block.body_end, inline);
            return Ok(());
        };
        let folded = style == ScalarStyle::Folded && lines.len() == 1;
        let mut header = String::from(if folded { ">" } else { "|" });
        header.push_str(match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        });
        let header_line = source::line_start(text, block.header.start);
        let line_indent = text[header_line..]
            .bytes()
            .take_while(|&b| b == b' ')
            .count();
        let indent = block.indent.unwrap_or(line_indent + 2).max(line_indent + 1);
        let mut out = String::new();
        for line in &lines {
            out.push_str(nl);
            if !line.is_empty() {
                out.extend(std::iter::repeat_n(' ', indent));
                out.push_str(line);
            }
        }
        self.push(block.header.clone(), header);
        if trailing >= 2 {
            for _ in 0..trailing {
                out.push_str(nl);
            }
            self.push(block.header_line_end..block.cut_end, out);
        } else {
            if trailing == 1 && block.body_end == text.len() {
                out.push_str(nl);
            }
            self.push(block.header_line_end..block.body_end, out);
        }
        Ok(())
    }

    /// Replace the node's value bytes (keeping anchor/tag) with `want`.
    fn replace(&mut self, id: NodeId, want: &Value) -> Result<()> {
        let doc = self.doc;
        let node = doc.node(id);
        let range = match &node.kind {
            NodeKind::Scalar { block: Some(b), .. } => b.header.start..b.body_end,
            _ => node.content_start..node.span.end,
        };
        let block_collection = matches!(
            node.kind,
            NodeKind::Mapping { flow: false, .. } | NodeKind::Sequence { flow: false, .. }
        ) && !node.in_flow;
        let non_empty_collection = match want {
            Value::Mapping(m) => !m.is_empty(),
            Value::Sequence(s) => !s.is_empty(),
            Value::Scalar(_) => false,
        };
        let mut text = if block_collection && non_empty_collection {
            let indent = source::column(doc.text, node.content_start);
            render::block_collection(want, indent, doc.newline)
        } else if let Value::Scalar(s) = want {
            render::scalar_inline(s, node.in_flow)
        } else {
            let mut out = String::new();
            render::inline(want, &mut out);
            out
        };
        let mut range = range;
        (range, text) = self.without_tag(id, range, text);
        // Properties glued to the value (`&a{...}` is not possible, but
        // `!{...}` is) must stay apart from the new text.
        if range.start > node.span.start
            && !doc.text[..range.start].ends_with(|c: char| c.is_whitespace())
        {
            text.insert(0, ' ');
        }
        self.replace_range(range, text);
        Ok(())
    }

    /// When a node changes type its tag (`!!int`, `!`) no longer fits:
    /// rewrite from the start of the properties, keeping only anchors.
    fn without_tag(&self, id: NodeId, range: Range<usize>, text: String) -> (Range<usize>, String) {
        let doc = self.doc;
        let node = doc.node(id);
        if node.tag.is_none() || node.span.start >= range.start {
            return (range, text);
        }
        let mut out = String::new();
        for token in doc.text[node.span.start..range.start].split_whitespace() {
            if token.starts_with('&') {
                out.push_str(token);
                out.push(' ');
            }
        }
        out.push_str(&text);
        (node.span.start..range.end, out)
    }

    /// Replace bytes; an empty range right after `:` or `-` gets a space.
    fn replace_range(&mut self, range: Range<usize>, mut text: String) {
        let doc_text = self.doc.text;
        if range.is_empty()
            && range.start > 0
            && !doc_text.as_bytes()[range.start - 1].is_ascii_whitespace()
            && !text.is_empty()
        {
            text.insert(0, ' ');
        }
        self.push(range, text);
    }

    fn insert_key(&mut self, map: NodeId, key: &str, want: &Value) -> Result<()> {
        let doc = self.doc;
        let node = doc.node(map);
        let NodeKind::Mapping { flow, entries } = &node.kind else {
            return Err(Error::PathNotCreatable {
                path: self.path_string(),
                reason: "parent is not a mapping".into(),
            });
        };
        if *flow || node.in_flow {
            let mut text = String::new();
            let at = match entries.last() {
                Some(&(key, last)) => {
                    text.push_str(", ");
                    // An empty value (`{a}` / `{a: }`) may be reported at
                    // the closing brace; append after its key instead.
                    let value = doc.node(last);
                    if value.span.is_empty() {
                        doc.node(key).span.end
                    } else {
                        value.span.end
                    }
                }
                None => node.content_start + 1,
            };
            text.push_str(&render::key(key, true));
            text.push_str(": ");
            render::inline(want, &mut text);
            self.push(at..at, text);
            return Ok(());
        }
        let (Some(&(first_key, _)), Some(&(_, last_value))) = (entries.first(), entries.last())
        else {
            return Err(Error::PathNotCreatable {
                path: self.path_string(),
                reason: "empty block mapping".into(),
            });
        };
        if let NodeKind::Scalar { block: Some(b), .. } = &doc.node(doc.resolve(last_value)).kind
            && doc.text[b.header.clone()].contains('+')
            && doc.resolve(last_value) == last_value
        {
            return Err(Error::Unsupported {
                path: self.path_string(),
                at: doc.location(b.header.start),
                reason: "cannot insert a key after a keep-chomped (`|+`) block scalar".into(),
            });
        }
        // Explicit `?` keys (in this mapping or in the last entry's value,
        // whose end is where we insert) make the line structure ambiguous.
        let region = doc.node(first_key).span.start..doc.node(last_value).span.end;
        let explicit_keys = doc.nodes.iter().filter_map(|n| match &n.kind {
            NodeKind::Mapping { entries, .. } => Some(entries),
            _ => None,
        });
        let explicit = explicit_keys.flatten().map(|&(k, _)| k).find(|&k| {
            let start = doc.node(k).span.start;
            region.contains(&start) && tree::indicator_before(doc.text, start, '?').is_some()
        });
        // Empty (null) keys come from `?` entries or `: value` lines whose
        // layout we cannot safely extend.
        let explicit = explicit.or_else(|| {
            entries.iter().map(|&(k, _)| k).find(|&k| {
                matches!(&doc.node(k).kind, NodeKind::Scalar { value, style: ScalarStyle::Plain, .. } if value.is_empty())
            })
        });
        if let Some(explicit) = explicit {
            return Err(Error::Unsupported {
                path: self.path_string(),
                at: doc.location(doc.node(explicit).span.start),
                reason: "cannot insert into a mapping with explicit `?` or empty keys".into(),
            });
        }
        // Column of the whole key node, tag/anchor included.
        let indent = source::column(doc.text, doc.node(first_key).span.start);
        let at = source::line_end(doc.text, doc.node(last_value).span.end);
        let mut text = String::from(doc.newline);
        text.extend(std::iter::repeat_n(' ', indent));
        text.push_str(&render::key(key, false));
        text.push(':');
        render::after_key(&mut text, want, indent + 2, doc.newline);
        self.push(at..at, text);
        Ok(())
    }

    fn resize_block_sequence(&mut self, id: NodeId, items: &[NodeId], src: &[Value]) -> Result<()> {
        let doc = self.doc;
        let node = doc.node(id);
        if src.is_empty() {
            self.push(node.content_start..node.span.end, "[]".into());
            return Ok(());
        }
        let common = items.len().min(src.len());
        for (i, (&item, v)) in items.iter().zip(src).take(common).enumerate() {
            self.path.push(PathElement::Index(i));
            let res = self.set(item, v);
            self.path.pop();
            res?;
        }
        let Some(&last) = items.last() else {
            return Ok(());
        };
        if src.len() > items.len() {
            let col = source::column(doc.text, node.content_start);
            let at = source::line_end(doc.text, doc.node(last).span.end);
            let mut text = String::new();
            for v in &src[items.len()..] {
                text.push_str(doc.newline);
                text.extend(std::iter::repeat_n(' ', col));
                text.push('-');
                render::after_dash(&mut text, v, col + 2, doc.newline);
            }
            self.push(at..at, text);
        } else {
            let keep_last = items[src.len() - 1];
            let from = source::line_end(doc.text, doc.node(keep_last).span.end);
            let to = source::line_end(doc.text, doc.node(last).span.end);
            self.push(from..to, String::new());
        }
        Ok(())
    }
}
