//! Builds [`Node`] trees from saphyr-parser events, one document at a time.
//!
//! Memory follows what the caller reads, not what a file holds: as soon as
//! a document's top level shows its `apiVersion` and `kind` (or shows that
//! it is not a mapping), the caller is asked whether it wants the tree. A
//! document it does not want is scanned to its end without building
//! anything, and a wanted tree may hold at most [`Limits::max_nodes`]
//! nodes, so a large file of something else (a Helm values file, a list of
//! numbers) costs time to scan but no memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle as SaphyrStyle};

use super::{Node, NodeKind, Pos, ScalarStyle};

/// Deeper nesting than this is rejected, in every document: nothing in a
/// GitOps manifest needs it, and it keeps recursive consumers far from the
/// stack limit.
pub const MAX_DEPTH: usize = 200;
/// Alias expansion budget of one file (nodes), so a "billion laughs" file
/// of many small documents is an error instead of minutes of work.
const MAX_EXPANDED_NODES: usize = 2_000_000;
/// Default for [`Limits::max_nodes`]: a resource ferry reads has tens to a
/// few thousand nodes (a large WorkflowTemplate); 100,000 is a document of
/// several megabytes.
pub const DEFAULT_MAX_NODES: usize = 100_000;

/// What one document may build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nodes of a document's tree (scalars, lists and mappings; an alias
    /// counts as the nodes it expands to).
    pub max_nodes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_nodes: DEFAULT_MAX_NODES,
        }
    }
}

/// One YAML document of a (possibly multi-document) file.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
    /// Where the document starts (its `---`, or its first node).
    pub pos: Pos,
    /// Zero-based index of the document in its file.
    pub index: usize,
}

/// A syntax error in a YAML file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{pos}: {message}")]
pub struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// What the top level of a document shows: enough to classify it without
/// its tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Head {
    /// Where the root node starts.
    pub pos: Pos,
    /// The root's type, as [`Node::describe`] words it (`a mapping`, `a list`, …).
    pub root: &'static str,
    /// The top-level `apiVersion` when it is a scalar, with the value's position.
    pub api_version: Option<(String, Pos)>,
    /// The top-level `kind` when it is a scalar.
    pub kind: Option<String>,
    /// Zero-based index of the document in its file.
    pub index: usize,
    mapping: bool,
    /// Where the `apiVersion` and `kind` keys are (duplicate detection
    /// while skimming).
    api_version_key: Option<Pos>,
    kind_key: Option<Pos>,
}

impl Head {
    /// Whether the root is a mapping (what every Kubernetes resource is).
    pub fn is_mapping(&self) -> bool {
        self.mapping
    }

    fn from_tree(root: &Node) -> Head {
        let scalar = |key: &str| root.get(key).and_then(|n| n.as_str().map(|s| (s, n.pos)));
        let key_pos = |key: &str| match &root.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k.pos),
            _ => None,
        };
        Head {
            pos: root.pos,
            root: root.describe(),
            api_version: scalar("apiVersion").map(|(s, p)| (s.to_owned(), p)),
            kind: scalar("kind").map(|(s, _)| s.to_owned()),
            index: 0,
            mapping: matches!(root.kind, NodeKind::Map(_)),
            api_version_key: key_pos("apiVersion"),
            kind_key: key_pos("kind"),
        }
    }
}

/// A document's content, as far as it was built.
#[derive(Debug, Clone)]
pub enum Body {
    /// The whole tree.
    Tree(Node),
    /// Not built: the caller did not want it.
    Skipped,
    /// The tree would hold more than [`Limits::max_nodes`] nodes; building
    /// stopped at this position and the rest was only scanned.
    TooLarge(Pos),
}

/// One document as [`read_documents`] hands it over.
#[derive(Debug, Clone)]
pub struct DocumentRead {
    pub head: Head,
    pub body: Body,
    /// Where the document starts (its `---`, or its first node).
    pub start: Pos,
    /// Zero-based index of the document in its file.
    pub index: usize,
}

/// A parser position in the file: the parser may have been started at
/// line `base_line + 1` (after skipping a document).
fn pos(m: &Marker, base_line: usize) -> Pos {
    Pos {
        line: u32::try_from(m.line() + base_line).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
    }
}

/// Walks a text forward line by line, counting line breaks as YAML does
/// (`\n`, `\r\n` and a lone `\r`), to skip to the next document.
struct Lines<'t> {
    bytes: &'t [u8],
    /// Start of line `line` (1-based).
    off: usize,
    line: usize,
}

impl Lines<'_> {
    /// To the start of the next line; false at the end of the text.
    fn advance(&mut self) -> bool {
        let rest = &self.bytes[self.off..];
        match rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            None => {
                self.off = self.bytes.len();
                false
            }
            Some(i) => {
                let mut next = self.off + i + 1;
                if rest[i] == b'\r' && self.bytes.get(next) == Some(&b'\n') {
                    next += 1;
                }
                self.off = next;
                self.line += 1;
                true
            }
        }
    }

    /// To the start of line `line`, or the end of the text.
    fn seek(&mut self, line: usize) {
        while self.line < line && self.advance() {}
    }

    /// To the next document marker from here (this line included): a line
    /// that is `---` or `...`, alone or followed by a blank. `Some(true)`
    /// for an end marker (`...`). YAML forbids such a line inside any node
    /// (it ends a block scalar, and is an error inside a flow collection or
    /// a quoted scalar), so it always starts or ends a document.
    fn next_marker(&mut self) -> Option<bool> {
        loop {
            let rest = &self.bytes[self.off..];
            if (rest.starts_with(b"---") || rest.starts_with(b"..."))
                && matches!(rest.get(3), None | Some(b' ' | b'\t' | b'\n' | b'\r'))
            {
                return Some(rest[0] == b'.');
            }
            if !self.advance() {
                return None;
            }
        }
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        /// Keys that came from a merge key and may still be overridden.
        merged: Vec<String>,
    },
}

/// A top-level key whose value is still to come (while skimming).
#[derive(Clone, Copy)]
enum TopKey {
    ApiVersion(Pos),
    Kind(Pos),
    Other,
}

fn top_key(text: Option<&str>, at: Pos) -> TopKey {
    match text {
        Some("apiVersion") => TopKey::ApiVersion(at),
        Some("kind") => TopKey::Kind(at),
        _ => TopKey::Other,
    }
}

/// The state of the document being read.
#[derive(Default)]
struct Doc {
    head: Head,
    /// Where the document starts (its `---`, or its first node).
    start: Pos,
    /// The root node has started.
    started: bool,
    /// The root is an empty value: the document is skipped.
    empty: bool,
    /// The caller's answer, once asked.
    wanted: Option<bool>,
    /// Building a tree (else skimming: only depth and the top level are followed).
    building: bool,
    too_large: Option<Pos>,
    nodes: usize,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    root: Option<Node>,
    /// Skimming: open collections, and the top-level key awaiting its value
    /// (`None`: the next top-level node is a key).
    depth: usize,
    pending: Option<TopKey>,
}

impl Doc {
    fn new() -> Doc {
        Doc {
            building: true,
            ..Doc::default()
        }
    }

    /// Stops building: drops what was built and follows only the depth and
    /// the top-level keys from here on.
    fn skim(&mut self) {
        if !self.building {
            return;
        }
        self.building = false;
        self.depth = self.stack.len();
        self.pending = match self.stack.first() {
            Some(Frame::Map { key: Some(k), .. }) => Some(top_key(k.as_str(), k.pos)),
            _ => None,
        };
        self.stack = Vec::new();
        self.anchors = HashMap::new();
        self.root = None;
    }

    /// Asks the caller once the top level decides the document: at a root
    /// that is not a mapping, or once `apiVersion` and `kind` are known.
    fn decide(&mut self, wanted: &mut impl FnMut(&Head) -> bool) {
        if self.wanted.is_some() {
            return;
        }
        let ready =
            !self.head.mapping || (self.head.api_version.is_some() && self.head.kind.is_some());
        if ready {
            let w = wanted(&self.head);
            self.wanted = Some(w);
            if !w {
                self.skim();
            }
        }
    }

    /// Nothing more is needed from the rest of the document: it is not
    /// being built and its head is final.
    fn settled(&self) -> bool {
        self.started
            && !self.building
            && (!self.head.mapping
                || self.wanted.is_some()
                || (self.head.api_version.is_some() && self.head.kind.is_some()))
    }

    /// A node directly under the root mapping was completed while skimming.
    fn top_level_node(&mut self, text: Option<&str>, at: Pos) -> Result<(), YamlError> {
        match self.pending.take() {
            None => {
                let key = top_key(text, at);
                let first = match key {
                    TopKey::ApiVersion(_) => self.head.api_version_key,
                    TopKey::Kind(_) => self.head.kind_key,
                    TopKey::Other => None,
                };
                if let (Some(first), Some(name)) = (first, text) {
                    return Err(YamlError {
                        pos: at,
                        message: format!("duplicate key `{name}` (first defined at {first})"),
                    });
                }
                self.pending = Some(key);
            }
            Some(TopKey::ApiVersion(key)) => {
                self.head.api_version_key = Some(key);
                if let Some(t) = text {
                    self.head.api_version = Some((t.to_owned(), at));
                }
            }
            Some(TopKey::Kind(key)) => {
                self.head.kind_key = Some(key);
                if let Some(t) = text {
                    self.head.kind = Some(t.to_owned());
                }
            }
            Some(TopKey::Other) => {}
        }
        Ok(())
    }

    fn finish(mut self, index: usize) -> Option<DocumentRead> {
        if !self.started || self.empty {
            return None;
        }
        let body = if let Some(at) = self.too_large {
            Body::TooLarge(at)
        } else if self.building {
            match self.root.take() {
                Some(root) => {
                    self.head = Head {
                        index: self.head.index,
                        ..Head::from_tree(&root)
                    };
                    Body::Tree(root)
                }
                None => return None,
            }
        } else {
            Body::Skipped
        };
        Some(DocumentRead {
            head: self.head,
            body,
            start: self.start,
            index,
        })
    }
}

fn scalar_kind(value: String, style: SaphyrStyle, forced_str: bool) -> NodeKind {
    match style {
        SaphyrStyle::Plain if value.is_empty() && !forced_str => NodeKind::Empty,
        SaphyrStyle::Plain if !forced_str => NodeKind::Scalar {
            text: value,
            style: ScalarStyle::Plain,
        },
        SaphyrStyle::Literal | SaphyrStyle::Folded => NodeKind::Scalar {
            text: value,
            style: ScalarStyle::Block,
        },
        _ => NodeKind::Scalar {
            text: value,
            style: ScalarStyle::Quoted,
        },
    }
}

/// Reads every document of `text` in order and hands each to `each`.
/// `wanted` decides, from the document's [`Head`], whether its tree is
/// built; it is asked at most once per document, and not at all when the
/// top level never shows both `apiVersion` and `kind` (the tree is then
/// built, within the limits, so that the caller can say what is missing).
/// Documents that are empty (only comments, or a bare `---`) are skipped.
pub fn read_documents(
    text: &str,
    limits: Limits,
    mut wanted: impl FnMut(&Head) -> bool,
    mut each: impl FnMut(DocumentRead),
) -> Result<(), YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut base_line = 0usize;
    let mut lines = Lines {
        bytes: text.as_bytes(),
        off: 0,
        line: 1,
    };
    let mut last_line = 1usize;
    let mut doc = Doc::new();
    let mut doc_index = 0usize;
    let mut expanded = 0usize;

    loop {
        if doc.settled() {
            // The rest of this document cannot change what is read: hand it
            // over and restart the parser at the next document marker,
            // rather than scanning a document nobody reads.
            if let Some(read) = std::mem::replace(&mut doc, Doc::new()).finish(doc_index) {
                each(read);
            }
            doc_index += 1;
            lines.seek(last_line + 1);
            match lines.next_marker() {
                None => return Ok(()),
                Some(end) => {
                    if end {
                        lines.advance();
                    }
                    base_line = lines.line - 1;
                    parser = Parser::new_from_str(&text[lines.off..]);
                }
            }
        }
        let Some(next) = parser.next_event() else {
            break;
        };
        let (event, span) = next.map_err(|e| YamlError {
            pos: pos(e.marker(), base_line),
            message: e.info().to_owned(),
        })?;
        let here = pos(&span.start, base_line);
        last_line = here.line as usize;
        let at_root = !doc.started;
        match &event {
            Event::Scalar(..)
            | Event::Alias(_)
            | Event::SequenceStart(..)
            | Event::MappingStart(..)
                if at_root =>
            {
                doc.started = true;
                doc.head.pos = here;
                doc.head.index = doc_index;
            }
            _ => {}
        }
        if !doc.building {
            match event {
                Event::DocumentStart(_) => {}
                Event::DocumentEnd => {
                    if let Some(read) = std::mem::replace(&mut doc, Doc::new()).finish(doc_index) {
                        each(read);
                    }
                    doc_index += 1;
                }
                Event::Scalar(value, style, _, tag) => {
                    if doc.depth == 1 && doc.head.mapping {
                        let forced_str = tag
                            .as_ref()
                            .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                        let node = Node {
                            kind: scalar_kind(value.into_owned(), style, forced_str),
                            pos: here,
                        };
                        doc.top_level_node(node.as_str(), here)?;
                    }
                }
                Event::Alias(_) => {
                    if doc.depth == 1 && doc.head.mapping {
                        doc.top_level_node(None, here)?;
                    }
                }
                Event::SequenceStart(..) | Event::MappingStart(..) => {
                    if doc.depth >= MAX_DEPTH {
                        return Err(depth_error(here));
                    }
                    doc.depth += 1;
                }
                Event::SequenceEnd | Event::MappingEnd => {
                    doc.depth = doc.depth.saturating_sub(1);
                    if doc.depth == 1 && doc.head.mapping {
                        doc.top_level_node(None, here)?;
                    }
                }
                Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
            }
            continue;
        }
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                doc = Doc::new();
                doc.start = here;
                None
            }
            Event::DocumentEnd => {
                if let Some(read) = std::mem::replace(&mut doc, Doc::new()).finish(doc_index) {
                    each(read);
                }
                doc_index += 1;
                None
            }
            Event::Alias(id) => {
                let (node, size) = doc.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    pos: here,
                    message: "alias refers to an unknown anchor".into(),
                })?;
                expanded += size;
                if expanded > MAX_EXPANDED_NODES {
                    return Err(YamlError {
                        pos: here,
                        message: format!(
                            "aliases expand to more than {MAX_EXPANDED_NODES} nodes; refusing to expand further"
                        ),
                    });
                }
                doc.nodes += size;
                let mut node = node;
                node.pos = here;
                Some((node, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                doc.nodes += 1;
                let kind = scalar_kind(value.into_owned(), style, forced_str);
                Some((Node { kind, pos: here }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if doc.stack.len() >= MAX_DEPTH {
                    return Err(depth_error(here));
                }
                doc.nodes += 1;
                doc.stack.push(Frame::Seq {
                    pos: here,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if doc.stack.len() >= MAX_DEPTH {
                    return Err(depth_error(here));
                }
                doc.nodes += 1;
                doc.stack.push(Frame::Map {
                    pos: here,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merged: Vec::new(),
                });
                None
            }
            Event::SequenceEnd => match doc.stack.pop() {
                Some(Frame::Seq { pos, anchor, items }) => Some((
                    Node {
                        kind: NodeKind::Seq(items),
                        pos,
                    },
                    anchor,
                )),
                _ => {
                    return Err(YamlError {
                        pos: here,
                        message: "unbalanced sequence end".into(),
                    });
                }
            },
            Event::MappingEnd => match doc.stack.pop() {
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    key: None,
                    ..
                }) => Some((
                    Node {
                        kind: NodeKind::Map(entries),
                        pos,
                    },
                    anchor,
                )),
                _ => {
                    return Err(YamlError {
                        pos: here,
                        message: "unbalanced mapping end".into(),
                    });
                }
            },
        };
        if at_root && doc.started {
            // The root's first event: a list or a scalar decides the
            // document now; a mapping waits for its `apiVersion` and `kind`.
            match doc.stack.last() {
                Some(Frame::Map { .. }) => {
                    doc.head.root = "a mapping";
                    doc.head.mapping = true;
                }
                Some(Frame::Seq { .. }) => {
                    doc.head.root = "a list";
                    doc.decide(&mut wanted);
                }
                None => {
                    if let Some((node, _)) = &finished {
                        doc.empty = matches!(node.kind, NodeKind::Empty);
                        doc.head.root = node.describe();
                        if !doc.empty {
                            doc.decide(&mut wanted);
                        }
                    }
                }
            }
        }
        if doc.nodes > limits.max_nodes && doc.too_large.is_none() {
            doc.too_large = Some(here);
            let completes_top_level = doc.stack.len() == 1 && doc.head.mapping;
            doc.skim();
            if completes_top_level && let Some((node, _)) = &finished {
                doc.top_level_node(node.as_str(), node.pos)?;
            }
        }
        if !doc.building {
            continue;
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            let size = count_nodes(&node);
            doc.anchors.insert(anchor, (node.clone(), size));
        }
        let depth = doc.stack.len();
        match doc.stack.last_mut() {
            None => doc.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merged,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    let top = if depth == 1 {
                        Some((
                            top_key(k.as_str(), k.pos),
                            node.as_str().map(str::to_owned),
                            node.pos,
                        ))
                    } else {
                        None
                    };
                    if is_merge_key(&k) {
                        merge_into(entries, merged, node);
                    } else {
                        insert_entry(entries, merged, k, node)?;
                    }
                    match top {
                        Some((TopKey::ApiVersion(key), value, at)) => {
                            doc.head.api_version_key = Some(key);
                            doc.head.api_version = value.map(|v| (v, at));
                            doc.decide(&mut wanted);
                        }
                        Some((TopKey::Kind(key), value, _)) => {
                            doc.head.kind_key = Some(key);
                            doc.head.kind = value;
                            doc.decide(&mut wanted);
                        }
                        _ => {}
                    }
                }
            },
        }
    }
    Ok(())
}

/// Parses every document of `text` into trees. Documents that are empty
/// (only comments, or a bare `---`) are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut docs = Vec::new();
    let mut too_large = None;
    read_documents(
        text,
        Limits {
            max_nodes: MAX_EXPANDED_NODES,
        },
        |_| true,
        |read| match read.body {
            Body::Tree(root) => docs.push(Document {
                pos: read.start,
                root,
                index: read.index,
            }),
            Body::TooLarge(at) => {
                too_large.get_or_insert(at);
            }
            Body::Skipped => {}
        },
    )?;
    if let Some(pos) = too_large {
        return Err(YamlError {
            pos,
            message: format!("a document has more than {MAX_EXPANDED_NODES} nodes"),
        });
    }
    Ok(docs)
}

fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, NodeKind::Scalar { text, style: ScalarStyle::Plain } if text == "<<")
}

/// YAML merge keys (`<<: *defaults`): entries of the merged mapping(s) that
/// the mapping does not set itself; explicit keys written after the merge
/// replace them (see [`insert_entry`]).
fn insert_entry(
    entries: &mut Vec<(Node, Node)>,
    merged: &mut Vec<String>,
    key: Node,
    value: Node,
) -> Result<(), YamlError> {
    if let Some(name) = key.as_str()
        && let Some(i) = entries.iter().position(|(k, _)| k.as_str() == Some(name))
    {
        if let Some(m) = merged.iter().position(|m| m == name) {
            merged.swap_remove(m);
            entries[i] = (key, value);
            return Ok(());
        }
        return Err(YamlError {
            pos: key.pos,
            message: format!(
                "duplicate key `{name}` (first defined at {})",
                entries[i].0.pos
            ),
        });
    }
    entries.push((key, value));
    Ok(())
}

fn merge_into(entries: &mut Vec<(Node, Node)>, merged: &mut Vec<String>, value: Node) {
    let sources: Vec<Node> = match value.kind {
        NodeKind::Map(_) => vec![value],
        NodeKind::Seq(items) => items,
        _ => return,
    };
    for src in sources {
        if let NodeKind::Map(src_entries) = src.kind {
            for (k, v) in src_entries {
                let exists = entries.iter().any(|(ek, _)| ek.as_str() == k.as_str());
                if !exists {
                    if let Some(name) = k.as_str() {
                        merged.push(name.to_owned());
                    }
                    entries.push((k, v));
                }
            }
        }
    }
}

fn count_nodes(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Seq(items) => 1 + items.iter().map(count_nodes).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| count_nodes(k) + count_nodes(v))
                .sum::<usize>()
        }
        _ => 1,
    }
}

fn depth_error(pos: Pos) -> YamlError {
    YamlError {
        pos,
        message: format!("nesting deeper than {MAX_DEPTH} levels"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_document_with_positions() {
        let docs =
            parse_documents("a: 1\n---\n# only a comment\n---\nb:\n  - x\n  - 'y'\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].index, 0);
        assert_eq!(docs[1].index, 2);
        let b = docs[1].root.get("b").unwrap();
        assert_eq!(b.pos, Pos { line: 6, col: 3 });
        match &b.kind {
            NodeKind::Seq(items) => {
                assert_eq!(
                    items[1].kind,
                    NodeKind::Scalar {
                        text: "y".into(),
                        style: ScalarStyle::Quoted
                    }
                );
                assert_eq!(items[1].pos, Pos { line: 7, col: 5 });
            }
            other => panic!("expected a list, got {other:?}"),
        }
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let docs = parse_documents("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n").unwrap();
        let other = docs[0].root.get("other").unwrap();
        assert_eq!(other.get("x").and_then(Node::as_str), Some("1"));
        assert_eq!(other.get("y").and_then(Node::as_str), Some("3"));
    }

    #[test]
    fn duplicate_keys_are_errors() {
        let err = parse_documents("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.pos, Pos { line: 3, col: 1 });
        assert!(
            err.message
                .contains("duplicate key `a` (first defined at 1:1)"),
            "{err}"
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse_documents("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err}");
        assert!(!err.message.is_empty());
    }

    #[test]
    fn billion_laughs_is_refused() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let prev = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse_documents(&doc).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{err}");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let doc = "[".repeat(1000) + &"]".repeat(1000);
        let err = parse_documents(&doc).unwrap_err();
        assert!(
            err.message.contains("nesting deeper") || err.message.contains("recursion limit"),
            "{err}"
        );
    }
}
