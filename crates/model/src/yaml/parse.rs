//! Builds [`Node`] trees from saphyr-parser events.

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle as SaphyrStyle};

use super::{Node, NodeKind, Pos, ScalarStyle};

/// Deeper nesting than this is rejected: nothing in a GitOps manifest needs
/// it, and it keeps recursive consumers far from the stack limit.
const MAX_DEPTH: usize = 200;
/// Alias expansion budget (nodes), so a "billion laughs" document is an
/// error instead of an out-of-memory kill.
const MAX_EXPANDED_NODES: usize = 2_000_000;

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

fn pos(m: &Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
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

/// Parses every document of `text`. Documents that are empty (only
/// comments, or a bare `---`) are skipped.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut expanded = 0usize;
    let mut doc_pos = Pos::default();
    let mut doc_index = 0usize;
    let mut root: Option<Node> = None;

    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| YamlError {
            pos: pos(e.marker()),
            message: e.info().to_owned(),
        })?;
        let here = pos(&span.start);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => None,
            Event::DocumentStart(_) => {
                doc_pos = here;
                root = None;
                anchors.clear();
                None
            }
            Event::DocumentEnd => {
                if let Some(node) = root.take()
                    && !matches!(node.kind, NodeKind::Empty)
                {
                    docs.push(Document {
                        root: node,
                        pos: doc_pos,
                        index: doc_index,
                    });
                }
                doc_index += 1;
                None
            }
            Event::Alias(id) => {
                let (node, size) = anchors.get(&id).cloned().ok_or_else(|| YamlError {
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
                let mut node = node;
                node.pos = here;
                Some((node, 0))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let forced_str = tag
                    .as_ref()
                    .is_some_and(|t| t.is_yaml_core_schema() && t.suffix == "str");
                let kind = match style {
                    SaphyrStyle::Plain if value.is_empty() && !forced_str => NodeKind::Empty,
                    SaphyrStyle::Plain if !forced_str => NodeKind::Scalar {
                        text: value.into_owned(),
                        style: ScalarStyle::Plain,
                    },
                    SaphyrStyle::Literal | SaphyrStyle::Folded => NodeKind::Scalar {
                        text: value.into_owned(),
                        style: ScalarStyle::Block,
                    },
                    _ => NodeKind::Scalar {
                        text: value.into_owned(),
                        style: ScalarStyle::Quoted,
                    },
                };
                Some((Node { kind, pos: here }, anchor))
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(here));
                }
                stack.push(Frame::Seq {
                    pos: here,
                    anchor,
                    items: Vec::new(),
                });
                None
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(depth_error(here));
                }
                stack.push(Frame::Map {
                    pos: here,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merged: Vec::new(),
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
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
            Event::MappingEnd => match stack.pop() {
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
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            let size = count_nodes(&node);
            anchors.insert(anchor, (node.clone(), size));
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merged,
                ..
            }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if is_merge_key(&k) {
                        merge_into(entries, merged, node);
                    } else {
                        insert_entry(entries, merged, k, node)?;
                    }
                }
            },
        }
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
