//! Property test: random documents and random edits. After `apply`:
//! the result parses, the edited path holds the intended value, every
//! other value is unchanged, and the bytes that changed lie inside the
//! edited node (or, for an inserted key, inside its parent mapping).
//!
//! Documents are produced by an independent little YAML writer here, not
//! by the crate's renderer, so the two cannot share a blind spot.

use ferry_yamledit::{NodeKind, PathElement, PathValue, Scalar, ScalarKind, Value, apply, parse};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

#[derive(Debug, Clone)]
enum G {
    Scalar(String, Style),
    Map(Vec<(String, G)>, bool),
    Seq(Vec<G>, bool),
}

const KEYS: &[&str] = &[
    "image",
    "tag",
    "flask-ui",
    "buslog",
    "a",
    "b-c",
    "version",
    "x_y",
    "repository",
];
const WORDS: &[&str] = &[
    "main-8f3e2a1",
    "1.20",
    "54.10",
    "54.1",
    "true",
    "no",
    "null",
    "007",
    "0x1F",
    "v1.2.3",
    "nginx",
    "it's",
    "a: b",
    "#x",
    "ü-ñ",
    "",
    "two\nlines",
    "ends\n",
    "-dash",
    "x,y",
    "[z]",
    "tab\there",
    "~",
];

fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[a-z][a-z0-9.-]{0,8}",
        1 => "[ -~]{0,10}",
    ]
}

fn plain_ok(t: &str) -> bool {
    let mut chars = t.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

fn literal_ok(t: &str) -> bool {
    !t.is_empty()
        && t.ends_with('\n')
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c == '\n' || c == ' ')
        && !t.starts_with(' ')
        && !t.contains("\n ")
        && !t.contains("\n\n")
        && !t.contains(" \n")
}

fn leaf() -> impl Strategy<Value = G> {
    (scalar_text(), 0..4u8).prop_map(|(t, s)| {
        let style = match s {
            0 if plain_ok(&t) || t.is_empty() => Style::Plain,
            1 if !t.contains(['\n', '\t']) => Style::Single,
            3 if literal_ok(&t) => Style::Literal,
            _ => Style::Double,
        };
        G::Scalar(t, style)
    })
}

fn doc() -> impl Strategy<Value = G> {
    leaf()
        .prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                (
                    proptest::collection::vec(
                        (proptest::sample::select(KEYS), inner.clone()),
                        1..4
                    ),
                    any::<bool>()
                )
                    .prop_map(|(entries, flow)| {
                        let mut seen = std::collections::HashSet::new();
                        let entries = entries
                            .into_iter()
                            .filter(|(k, _)| seen.insert(*k))
                            .map(|(k, v)| (k.to_string(), v))
                            .collect();
                        G::Map(entries, flow)
                    }),
                (proptest::collection::vec(inner, 1..4), any::<bool>())
                    .prop_map(|(items, flow)| G::Seq(items, flow)),
            ]
        })
        .prop_map(|g| match g {
            // The root is always a block mapping, as in real files.
            G::Map(e, _) => G::Map(e, false),
            other => G::Map(vec![("root".into(), other)], false),
        })
}

fn quote_double(t: &str) -> String {
    let mut o = String::from("\"");
    for c in t.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn inline_scalar(t: &str, s: &Style, flow: bool) -> String {
    match s {
        Style::Plain if t.is_empty() && flow => "~".to_string(),
        Style::Plain if !(flow && t.contains(',')) => t.to_string(),
        Style::Single => format!("'{}'", t.replace('\'', "''")),
        _ => quote_double(t),
    }
}

fn write_flow(g: &G, out: &mut String) {
    match g {
        G::Scalar(t, s) => out.push_str(&inline_scalar(t, s, true)),
        G::Map(e, _) => {
            out.push('{');
            for (i, (k, v)) in e.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push_str(": ");
                write_flow(v, out);
            }
            out.push('}');
        }
        G::Seq(items, _) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(v, out);
            }
            out.push(']');
        }
    }
}

/// Write `g` after `key:` or `-` at nesting `indent`.
fn write_value(g: &G, indent: usize, out: &mut String, comment: &mut u32) {
    *comment = comment.wrapping_mul(1103515245).wrapping_add(12345);
    let with_comment = comment.is_multiple_of(3);
    match g {
        G::Scalar(t, Style::Literal) => {
            out.push_str(" |");
            if with_comment {
                out.push_str(" # block");
            }
            for line in t.trim_end_matches('\n').split('\n') {
                out.push('\n');
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(line);
            }
            out.push('\n');
        }
        G::Scalar(t, s) => {
            if !t.is_empty() || !matches!(s, Style::Plain) {
                out.push(' ');
                // Properties in front of values must survive edits too.
                match *comment % 7 {
                    1 => out.push_str(&format!("&anchor{} ", *comment % 1000)),
                    2 if matches!(s, Style::Double) => out.push_str("!!str "),
                    _ => {}
                }
            }
            out.push_str(&inline_scalar(t, s, false));
            if with_comment {
                out.push_str("  # note");
            }
            out.push('\n');
        }
        G::Map(_, true) | G::Seq(_, true) => {
            out.push(' ');
            if *comment % 5 == 1 {
                out.push_str(&format!("&flow{} ", *comment % 1000));
            }
            write_flow(g, out);
            out.push('\n');
        }
        G::Map(entries, false) => {
            if with_comment {
                out.push_str(" # section");
            }
            out.push('\n');
            for (k, v) in entries {
                out.push_str(&" ".repeat(indent + 2));
                out.push_str(k);
                out.push(':');
                write_value(v, indent + 2, out, comment);
            }
        }
        G::Seq(items, false) => {
            out.push('\n');
            for v in items {
                out.push_str(&" ".repeat(indent + 2));
                out.push('-');
                write_value(v, indent + 2, out, comment);
            }
        }
    }
}

fn write_doc(g: &G, crlf: bool) -> String {
    let mut out = String::from("# generated\n");
    let mut comment = 7;
    if let G::Map(entries, _) = g {
        for (k, v) in entries {
            out.push_str(k);
            out.push(':');
            write_value(v, 0, &mut out, &mut comment);
            out.push('\n');
        }
    }
    if crlf { out.replace('\n', "\r\n") } else { out }
}

fn new_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        scalar_text().prop_map(|t| Value::Scalar(Scalar::string(t))),
        proptest::sample::select(&["54.10", "-3", "0x1F", "1e3", "7"][..]).prop_map(|t| {
            Value::Scalar(Scalar::typed(
                if t.contains(['.', 'e']) {
                    ScalarKind::Float
                } else {
                    ScalarKind::Int
                },
                t,
            ))
        }),
        proptest::sample::select(&["true", "false"][..])
            .prop_map(|t| Value::Scalar(Scalar::typed(ScalarKind::Bool, t))),
        Just(Value::Scalar(Scalar::typed(ScalarKind::Null, "null"))),
    ];
    scalar.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec((proptest::sample::select(KEYS), inner.clone()), 0..3)
                .prop_map(|e| {
                    let mut seen = std::collections::HashSet::new();
                    Value::Mapping(
                        e.into_iter()
                            .filter(|(k, _)| seen.insert(*k))
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            proptest::collection::vec(inner, 0..3).prop_map(Value::Sequence),
        ]
    })
}

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

/// Every located value of a document: normalized path → value.
fn all_values(text: &str) -> Vec<(String, Value)> {
    ferry_yamledit::query(text, "$..*")
        .unwrap()
        .into_iter()
        .map(|l| (l.path.to_string(), l.value))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn edits_touch_only_their_path(g in doc(), crlf in any::<bool>(), pick in any::<prop::sample::Index>(), value in new_value(), insert in any::<bool>(), new_key in proptest::sample::select(&["added", "flask-ui", "tag"][..])) {
        let original = write_doc(&g, crlf);
        let doc = parse(&original).expect("generated YAML parses");
        let located = ferry_yamledit::query(&original, "$..*").unwrap();
        let mut candidates: Vec<_> = located.iter().map(|l| (l.path.clone(), l.node)).collect();
        candidates.push((ferry_yamledit::NormalizedPath::default(), doc.root().unwrap()));
        let (base, node) = candidates[pick.index(candidates.len())].clone();

        // Either set an existing path or insert a new key into a mapping.
        let (path, region) = if insert && matches!(doc.node(node).kind, NodeKind::Mapping { .. }) {
            let mut p = base.clone();
            p.0.push(PathElement::Name(new_key.to_string()));
            let span = doc.node(node).span.clone();
            // An insert lands at the end of the mapping's last line.
            let end = original[span.end..].find('\n').map_or(original.len(), |i| span.end + i);
            (p, span.start..end)
        } else {
            let n = doc.node(node);
            let end = match &n.kind {
                NodeKind::Scalar { block: Some(b), .. } => b.cut_end,
                NodeKind::Sequence { .. } | NodeKind::Mapping { .. } => {
                    original[n.span.end..].find('\n').map_or(original.len(), |i| n.span.end + i)
                }
                _ => n.span.end,
            };
            (base.clone(), n.span.start..end)
        };
        let snapshot = vec![PathValue { path: path.clone(), value: value.clone() }];
        let edited = match apply(&original, &snapshot) {
            Ok(e) => e,
            // Refusals must be typed, never wrong output or panics.
            Err(ferry_yamledit::Error::ThroughAlias { .. } | ferry_yamledit::Error::PathNotCreatable { .. } | ferry_yamledit::Error::Unsupported { .. }) => return Ok(()),
            Err(e) => panic!("apply failed: {e}\n--- original\n{original}\n--- path {path} value {:?}", value.to_json()),
        };
        let text = &edited.text;

        // 1. parses, 2. the path holds the value.
        let located = ferry_yamledit::query(text, &path.to_string()).unwrap();
        prop_assert_eq!(located.len(), 1, "path missing after edit:\n{}", text);
        prop_assert!(covers(&located[0].value, &value), "value mismatch:\n{}", text);
        prop_assert_eq!(edited.changed, *text != original);

        // 3. bytes outside the edited region are unchanged.
        let prefix = original.bytes().zip(text.bytes()).take_while(|(a, b)| a == b).count();
        let suffix_raw = original.bytes().rev().zip(text.bytes().rev()).take_while(|(a, b)| a == b).count();
        if edited.changed {
            if text.len() >= original.len() && prefix + suffix_raw >= original.len() {
                // A pure insertion: it may sit anywhere in lo..=hi.
                let (lo, hi) = (original.len() - suffix_raw, prefix);
                prop_assert!(lo <= region.end && hi >= region.start,
                    "insertion at {}..={} outside region {:?}\n--- original\n{}\n--- edited\n{}", lo, hi, region, original, text);
            } else if text.len() < original.len() && prefix + suffix_raw >= text.len() {
                // A pure deletion of d bytes starting anywhere in lo..=hi.
                let d = original.len() - text.len();
                let (lo, hi) = (text.len() - suffix_raw.min(text.len()), prefix);
                prop_assert!(lo.max(region.start) <= hi.min(region.end.saturating_sub(d)),
                    "deletion at {}..={} (len {}) outside region {:?}\n--- original\n{}\n--- edited\n{}", lo, hi, d, region, original, text);
            } else {
                let suffix = suffix_raw.min(original.len().min(text.len()) - prefix);
                prop_assert!(prefix >= region.start && original.len() - suffix <= region.end,
                    "changed bytes {}..{} outside region {:?}\n--- original\n{}\n--- edited\n{}", prefix, original.len() - suffix, region, original, text);
            }
        }

        // 4. every value not under the edited path is unchanged.
        let prefix_str = path.to_string();
        let after: std::collections::HashMap<String, Value> = all_values(text).into_iter().collect();
        for (p, v) in all_values(&original) {
            if p.starts_with(&prefix_str) || prefix_str.starts_with(&p) {
                continue;
            }
            prop_assert_eq!(after.get(&p), Some(&v), "{} changed", p);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// A whole snapshot (several paths, possibly nested in each other,
    /// taken from a random source document) applied to a different random
    /// target: every path ends up holding the source's value and every
    /// value outside the promoted paths is unchanged.
    #[test]
    fn multi_path_snapshots_apply_consistently(src in doc(), dst in doc(), picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..5)) {
        let source = write_doc(&src, false);
        let target = write_doc(&dst, false);
        let all: Vec<String> = all_values(&source).into_iter().map(|(p, _)| p).collect();
        let paths: Vec<&str> = picks.iter().map(|i| all[i.index(all.len())].as_str()).collect();
        let snap = ferry_yamledit::snapshot(&source, &paths).unwrap();
        let edited = match apply(&target, &snap) {
            Ok(e) => e,
            Err(ferry_yamledit::Error::PathNotCreatable { .. }) => return Ok(()),
            Err(e) => panic!("apply failed: {e}\n--- target\n{target}\n--- paths {paths:?}"),
        };
        for pv in &snap {
            let got = ferry_yamledit::query(&edited.text, &pv.path.to_string()).unwrap();
            prop_assert_eq!(got.len(), 1);
            prop_assert!(covers(&got[0].value, &pv.value), "{} differs:\n{}", pv.path, edited.text);
        }
        let promoted: Vec<String> = snap.iter().map(|pv| pv.path.to_string()).collect();
        let after: std::collections::HashMap<String, Value> = all_values(&edited.text).into_iter().collect();
        for (p, v) in all_values(&target) {
            if promoted.iter().any(|q| p.starts_with(q.as_str()) || q.starts_with(p.as_str())) {
                continue;
            }
            prop_assert_eq!(after.get(&p), Some(&v), "{} changed:\n{}", p, edited.text);
        }
    }
}
