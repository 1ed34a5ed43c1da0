//! The spanned YAML tree: every node knows its byte span, style and
//! indentation, so edits can replace exactly the bytes of one value.
//!
//! Built from `saphyr-parser` events. Only the first document of a
//! stream is kept: promotions edit the first document, and the bytes of
//! any later document are never touched.

use std::ops::Range;

use saphyr_parser::{Event, Parser, Span};

use crate::error::{Error, Location, Result};
use crate::scalar::{self, ScalarKind, ScalarStyle};
use crate::source::{self, Source};

/// Index of a node in [`Document`]'s arena.
pub type NodeId = usize;

/// Deepest nesting we accept; protects recursive walks from stack
/// exhaustion on hostile input.
pub const MAX_DEPTH: usize = 200;

/// Where the pieces of a block scalar (`|` / `>`) are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockScalar {
    /// The indicator and its chomping/indentation indicators (`|-`, `>2`).
    pub header: Range<usize>,
    /// Start of the line break ending the header line (comment included
    /// before it).
    pub header_line_end: usize,
    /// End of the last non-blank content line (before its line break);
    /// equals `header_line_end` for an empty block scalar.
    pub body_end: usize,
    /// End of the region the parser assigned to the scalar, cut after its
    /// last line break: trailing blank lines live in
    /// `body_end..cut_end`.
    pub cut_end: usize,
    /// Column of the content, if there is content.
    pub indent: Option<usize>,
}

/// A node's kind and children.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Scalar {
        /// The decoded value (escapes resolved, lines folded).
        value: String,
        style: ScalarStyle,
        /// Type per the core schema (quoted → string; tags respected).
        kind: ScalarKind,
        block: Option<BlockScalar>,
    },
    Mapping {
        flow: bool,
        entries: Vec<(NodeId, NodeId)>,
    },
    Sequence {
        flow: bool,
        items: Vec<NodeId>,
    },
    /// `*name`, pointing at the anchored node.
    Alias {
        target: NodeId,
    },
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Whole node, properties (anchor, tag) included.
    pub span: Range<usize>,
    /// Where the value itself starts, after any `&anchor`/`!tag`: the
    /// opening quote, the first plain character, the block indicator, the
    /// `{`/`[`, or the first key/dash of a block collection.
    pub content_start: usize,
    /// Whether the node sits inside a flow collection.
    pub in_flow: bool,
    /// Tag as `handle+suffix` (e.g. `tag:yaml.org,2002:str`).
    pub tag: Option<String>,
    /// Whether the node carries an `&anchor`.
    pub anchored: bool,
    pub kind: NodeKind,
}

/// A parsed first document with its source text.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    pub(crate) text: &'a str,
    pub(crate) nodes: Vec<Node>,
    pub(crate) root: Option<NodeId>,
    pub(crate) newline: &'static str,
}

impl<'a> Document<'a> {
    /// The source text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// The root node, `None` for an empty stream.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id]
    }

    /// 1-based line:col of a byte offset.
    pub fn location(&self, byte: usize) -> Location {
        source::location_in(self.text, byte)
    }

    /// Follow aliases to the node that holds the value.
    pub fn resolve(&self, mut id: NodeId) -> NodeId {
        // Aliases can only point backwards, so this terminates; the bound
        // is belt and braces.
        for _ in 0..self.nodes.len() {
            match self.nodes[id].kind {
                NodeKind::Alias { target } => id = target,
                _ => break,
            }
        }
        id
    }
}

enum Open {
    Mapping {
        id: NodeId,
        pending_key: Option<NodeId>,
        anchor: usize,
    },
    Sequence {
        id: NodeId,
        anchor: usize,
    },
}

struct Builder<'s, 'a> {
    src: &'s Source<'a>,
    nodes: Vec<Node>,
    stack: Vec<Open>,
    anchors: std::collections::HashMap<usize, NodeId>,
    root: Option<NodeId>,
}

/// Parse the first document of `text` into a spanned tree.
pub fn parse(text: &str) -> Result<Document<'_>> {
    let src = Source::new(text);
    let mut b = Builder {
        src: &src,
        nodes: Vec::new(),
        stack: Vec::new(),
        anchors: std::collections::HashMap::new(),
        root: None,
    };
    let mut seen_doc = false;
    for ev in Parser::new_from_str(text) {
        let (ev, span) = ev.map_err(|e| Error::Syntax {
            at: src.location(src.byte(e.marker().index())),
            message: e.info().to_string(),
        })?;
        match ev {
            Event::DocumentStart(_) => {
                if seen_doc {
                    break;
                }
                seen_doc = true;
            }
            Event::DocumentEnd | Event::StreamEnd => {
                if seen_doc {
                    break;
                }
            }
            ev => b.event(ev, span)?,
        }
    }
    Ok(Document {
        text,
        nodes: b.nodes,
        root: b.root,
        newline: src.newline,
    })
}

/// Skip `&anchor` / `!tag` properties (and the whitespace, line breaks
/// and comments after them) starting at `pos`.
fn skip_properties(text: &str, mut pos: usize, end: usize) -> usize {
    let b = text.as_bytes();
    loop {
        if pos < end && (b[pos] == b'&' || b[pos] == b'!') {
            // Anchor names and tag shorthands never contain flow
            // indicators, so `!{}` is the tag `!` on a flow mapping.
            pos += 1;
            while pos < end
                && !b[pos].is_ascii_whitespace()
                && !matches!(b[pos], b'{' | b'}' | b'[' | b']' | b',')
            {
                pos += 1;
            }
        } else if pos < end && b[pos] == b'#' {
            while pos < end && b[pos] != b'\n' {
                pos += 1;
            }
        } else if pos < end && b[pos].is_ascii_whitespace() {
            pos += 1;
        } else {
            return pos;
        }
    }
}

impl Builder<'_, '_> {
    fn at(&self, byte: usize) -> Location {
        self.src.location(byte)
    }

    fn in_flow(&self) -> bool {
        self.stack.iter().any(|o| {
            let id = match o {
                Open::Mapping { id, .. } | Open::Sequence { id, .. } => *id,
            };
            matches!(
                self.nodes[id].kind,
                NodeKind::Mapping { flow: true, .. } | NodeKind::Sequence { flow: true, .. }
            )
        })
    }

    fn push_node(&mut self, node: Node, anchor: usize) -> Result<NodeId> {
        let id = self.nodes.len();
        self.nodes.push(node);
        if anchor != 0 {
            self.anchors.insert(anchor, id);
        }
        self.attach(id)?;
        Ok(id)
    }

    /// Open a collection. Its anchor becomes visible only when the
    /// collection is complete, so an alias inside it cannot refer to its
    /// own ancestor (a cycle that would never finish expanding).
    fn open_node(&mut self, node: Node) -> Result<NodeId> {
        self.push_node(node, 0)
    }

    /// Attach a finished or opened node to its parent.
    fn attach(&mut self, id: NodeId) -> Result<()> {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(id);
                }
            }
            Some(Open::Sequence { id: seq, .. }) => {
                let seq = *seq;
                if let NodeKind::Sequence { items, .. } = &mut self.nodes[seq].kind {
                    items.push(id);
                }
            }
            Some(Open::Mapping {
                id: map,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(id),
                Some(key) => {
                    let map = *map;
                    if let NodeKind::Mapping { entries, .. } = &mut self.nodes[map].kind {
                        entries.push((key, id));
                    }
                }
            },
        }
        Ok(())
    }

    fn extend_parents(&mut self, end: usize) {
        for open in &self.stack {
            let id = match open {
                Open::Mapping { id, .. } | Open::Sequence { id, .. } => *id,
            };
            let node = &mut self.nodes[id];
            let block = matches!(
                node.kind,
                NodeKind::Mapping { flow: false, .. } | NodeKind::Sequence { flow: false, .. }
            );
            if block && end > node.span.end {
                node.span.end = end;
            }
        }
    }

    fn event(&mut self, ev: Event<'_>, span: Span) -> Result<()> {
        let text = self.src.text;
        let start = self.src.byte(span.start.index());
        let end = self.src.byte(span.end.index()).max(start);
        let in_flow = self.in_flow();
        let is_map = matches!(ev, Event::MappingStart(..));
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let style = ScalarStyle::from(style);
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                let kind = scalar::resolve(&value, style, tag.as_deref());
                let has_props = anchor != 0 || tag.is_some();
                let (content_start, node_end, block) =
                    if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                        let block =
                            block_scalar(text, start, end).ok_or_else(|| Error::Syntax {
                                at: self.at(start),
                                message: "block scalar header (`|` or `>`) not found".into(),
                            })?;
                        (block.header.start, block.body_end, Some(block))
                    } else {
                        let cs = if has_props {
                            skip_properties(text, start, end)
                        } else {
                            start
                        };
                        // The parser's span of a quoted scalar may run on
                        // over trailing blanks and a comment; end it at
                        // the closing quote.
                        // An empty plain scalar is reported at the `:` of
                        // `key:` or at the end of a `-` item's line (after
                        // any comment); place it just after the indicator.
                        let is_key = matches!(
                            self.stack.last(),
                            Some(Open::Mapping {
                                pending_key: None,
                                ..
                            })
                        );
                        // (Inside flow collections the parser may give it
                        // the span of the closing bracket.)
                        let empty = !is_key
                            && value.is_empty()
                            && !has_props
                            && (start == end || in_flow)
                            && style == ScalarStyle::Plain;
                        let cs = if empty {
                            match text.as_bytes().get(cs) {
                                Some(b':') => cs + 1,
                                _ => dash_before(text, cs).map_or(cs, |d| d + 1),
                            }
                        } else {
                            cs
                        };
                        let qe = match style {
                            ScalarStyle::DoubleQuoted | ScalarStyle::SingleQuoted => {
                                quoted_end(text, cs, style).unwrap_or(end)
                            }
                            _ => end,
                        };
                        (cs, if empty { cs } else { qe.max(cs) }, None)
                    };
                let node_start = start.min(content_start);
                let node = Node {
                    span: node_start..node_end,
                    content_start,
                    in_flow,
                    tag,
                    anchored: anchor != 0,
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        style,
                        kind,
                        block,
                    },
                };
                self.push_node(node, anchor)?;
                self.extend_parents(node_end);
            }
            Event::Alias(anchor) => {
                let target = *self.anchors.get(&anchor).ok_or_else(|| Error::Syntax {
                    at: self.at(start),
                    message: "alias to an unknown anchor".into(),
                })?;
                let node = Node {
                    span: start..end,
                    content_start: start,
                    in_flow,
                    tag: None,
                    anchored: false,
                    kind: NodeKind::Alias { target },
                };
                self.push_node(node, 0)?;
                self.extend_parents(end);
            }
            Event::MappingStart(anchor, tag) | Event::SequenceStart(anchor, tag) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(Error::TooDeep {
                        limit: MAX_DEPTH,
                        at: self.at(start),
                    });
                }
                let opener = if is_map { b'{' } else { b'[' };
                // The start event of a flow collection covers `{` (or
                // `{ `, after any properties); a block one is empty or
                // covers only properties.
                let opening = skip_properties(text, start, end);
                let flow = opening < end && text.as_bytes().get(opening) == Some(&opener);
                let content_start = if flow { opening } else { end };
                let kind = if is_map {
                    NodeKind::Mapping {
                        flow,
                        entries: Vec::new(),
                    }
                } else {
                    NodeKind::Sequence {
                        flow,
                        items: Vec::new(),
                    }
                };
                let node = Node {
                    span: start..end,
                    content_start,
                    in_flow,
                    tag: tag.map(|t| format!("{}{}", t.handle, t.suffix)),
                    anchored: anchor != 0,
                    kind,
                };
                let id = self.open_node(node)?;
                self.stack.push(if is_map {
                    Open::Mapping {
                        id,
                        pending_key: None,
                        anchor,
                    }
                } else {
                    Open::Sequence { id, anchor }
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(open) = self.stack.pop() {
                    let (id, anchor) = match open {
                        Open::Mapping { id, anchor, .. } | Open::Sequence { id, anchor } => {
                            (id, anchor)
                        }
                    };
                    if anchor != 0 {
                        self.anchors.insert(anchor, id);
                    }
                    self.finish_collection(id, end);
                    let node_end = self.nodes[id].span.end;
                    self.extend_parents(node_end);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Fix up a collection's span once its children are known.
    fn finish_collection(&mut self, id: NodeId, end_event_end: usize) {
        let first_child = match &self.nodes[id].kind {
            NodeKind::Mapping { entries, .. } => entries.first().map(|e| e.0),
            NodeKind::Sequence { items, .. } => items.first().copied(),
            _ => None,
        };
        let flow = matches!(
            self.nodes[id].kind,
            NodeKind::Mapping { flow: true, .. } | NodeKind::Sequence { flow: true, .. }
        );
        let text = self.src.text;
        if flow {
            self.nodes[id].span.end = end_event_end.max(self.nodes[id].span.end);
        } else {
            if let Some(child) = first_child {
                let child_start = self.nodes[child].span.start;
                let mut cs = child_start;
                if matches!(self.nodes[id].kind, NodeKind::Sequence { .. }) {
                    // Content of a block sequence starts at its first dash.
                    if let Some(dash) = dash_before(text, child_start) {
                        cs = dash;
                    }
                }
                let node = &mut self.nodes[id];
                node.content_start = cs;
                node.span.start = if node.anchored || node.tag.is_some() {
                    node.span.start.min(cs)
                } else {
                    cs
                };
            }
        }
    }
}

/// Byte offset just past the closing quote of a quoted scalar starting
/// at `start`.
fn quoted_end(text: &str, start: usize, style: ScalarStyle) -> Option<usize> {
    let b = text.as_bytes();
    let quote = *b.get(start)?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let mut i = start + 1;
    while i < b.len() {
        match (style, b[i]) {
            (ScalarStyle::DoubleQuoted, b'\\') => i += 2,
            (ScalarStyle::DoubleQuoted, b'"') => return Some(i + 1),
            (ScalarStyle::SingleQuoted, b'\'') => {
                if b.get(i + 1) == Some(&b'\'') {
                    i += 2;
                } else {
                    return Some(i + 1);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// Find the `-` of a block sequence item whose value starts at `pos`.
/// Between the dash and the value there can only be blanks, line breaks
/// and comments, so we walk back line by line over those.
pub(crate) fn dash_before(text: &str, pos: usize) -> Option<usize> {
    indicator_before(text, pos, '-')
}

/// Find the block indicator `ind` (`-` or `?`) that introduces the node
/// starting at `pos`, looking back over blanks, line breaks and comments.
pub(crate) fn indicator_before(text: &str, pos: usize, ind: char) -> Option<usize> {
    let mut end = pos;
    loop {
        let begin = source::line_start(text, end);
        let line = &text[begin..end];
        let body = match line.find('#') {
            Some(i) if i == 0 || line[..i].ends_with([' ', '\t']) => &line[..i],
            _ => line,
        };
        let trimmed = body.trim_end();
        if let Some(before) = trimmed.strip_suffix(ind) {
            if before.is_empty() || before.ends_with([' ', '\t', '-', '?']) {
                return Some(begin + trimmed.len() - 1);
            }
            return None;
        }
        if !trimmed.trim().is_empty() || begin == 0 {
            return None;
        }
        end = begin - 1;
        if end > 0 && text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
    }
}

/// Locate the header and body of a block scalar whose content the parser
/// reported at `start..end`.
fn block_scalar(text: &str, start: usize, end: usize) -> Option<BlockScalar> {
    // Walk back over blank lines to the header line.
    let mut line_begin = source::line_start(text, start);
    let header_line = loop {
        if line_begin == 0 {
            return None;
        }
        let prev_begin = source::line_start(text, line_begin - 1);
        let line = &text[prev_begin..line_begin];
        if line.trim().is_empty() {
            line_begin = prev_begin;
            continue;
        }
        break prev_begin;
    };
    let header_line_end = source::line_end(text, header_line);
    let line = &text[header_line..header_line_end];
    let mut header = None;
    for (i, c) in line.char_indices() {
        if c != '|' && c != '>' {
            continue;
        }
        if i > 0 && !line[..i].ends_with([' ', '\t', '-', ':', '?']) && !line[..i].trim().is_empty()
        {
            continue;
        }
        let rest = &line[i + 1..];
        let ind_len = rest
            .bytes()
            .take_while(|c| matches!(c, b'+' | b'-' | b'1'..=b'9'))
            .count();
        if ind_len > 2 {
            continue;
        }
        let tail = rest[ind_len..].trim_start_matches([' ', '\t']);
        if tail.is_empty() || tail.starts_with('#') {
            header = Some(header_line + i..header_line + i + 1 + ind_len);
            break;
        }
    }
    let header = header?;
    let region = &text[start.min(end)..end];
    let (body_end, indent) = match region.rfind(|c: char| !c.is_whitespace()) {
        Some(last) => (
            source::line_end(text, start + last),
            Some(source::column(text, start)),
        ),
        None => (header_line_end, None),
    };
    let cut_end = match region.rfind('\n') {
        Some(i) => start + i + 1,
        None => end,
    }
    .max(body_end);
    Some(BlockScalar {
        header,
        header_line_end,
        body_end,
        cut_end,
        indent,
    })
}
