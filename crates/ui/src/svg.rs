//! The flow graph as SVG: a layered layout (each environment one column
//! to the right of everything it depends on), arrows for dependencies,
//! environments of the same layer stacked side by side in a column.
//!
//! The layout is computed here rather than by a browser library so the
//! page needs no script to draw it and the "no overlaps" promise is a
//! property of this code, checked by its tests. Placement is on a grid:
//! a node's column is its layer, its row its position within the layer,
//! so two nodes can never share a cell; a barycentre pass orders each
//! layer by its parents' rows to keep arrows short and crossings few.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::status::Shown;

pub const NODE_W: u32 = 168;
pub const NODE_H: u32 = 66;
const GAP_X: u32 = 56;
const GAP_Y: u32 = 16;
const MARGIN: u32 = 8;
/// Longest name drawn in full; longer ones are shortened with "…" (the
/// full name stays in the node's tooltip and link).
const MAX_LABEL: usize = 18;

/// An environment to draw.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub depends_on: Vec<String>,
    /// `None` on the flow page (no release: nothing has a status).
    pub status: Option<Shown>,
    pub trigger: bool,
    pub detail: Detail,
}

/// What a release's node says besides its status (empty on the flow page).
#[derive(Debug, Clone, Default)]
pub struct Detail {
    /// How long the environment took (or has taken so far).
    pub duration: String,
    /// The version it got (`1.4.2`) or is getting (`→ 1.4.2`).
    pub version: String,
    /// When it started: ISO (for the script, which shows local time) and
    /// the UTC time shown without script.
    pub started: Option<(String, String)>,
}

/// A node with its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub index: usize,
    pub layer: usize,
    pub x: u32,
    pub y: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// In the input's order.
    pub placed: Vec<Placed>,
    /// (from, to) as input indices: `to` depends on `from`.
    pub edges: Vec<(usize, usize)>,
    pub width: u32,
    pub height: u32,
}

/// Layers by longest path from the roots; a dependency on an unknown name
/// is ignored, and a cycle (which validation rejects) cannot loop forever
/// because a layer never exceeds the node count.
fn layers(nodes: &[Node], index: &HashMap<&str, usize>) -> Vec<usize> {
    let n = nodes.len();
    let mut layer = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for (i, node) in nodes.iter().enumerate() {
            for d in &node.depends_on {
                if let Some(&p) = index.get(d.as_str())
                    && p != i
                    && layer[p] + 1 > layer[i]
                    && layer[p] < n
                {
                    layer[i] = layer[p] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    layer
}

pub fn layout(nodes: &[Node]) -> Layout {
    let index: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let layer = layers(nodes, &index);
    let mut edges = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for d in &node.depends_on {
            if let Some(&p) = index.get(d.as_str())
                && p != i
            {
                edges.push((p, i));
            }
        }
    }
    let depth = layer.iter().copied().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (i, l) in layer.iter().enumerate() {
        columns[*l].push(i);
    }
    // Barycentre ordering, one sweep left to right: a node sits near the
    // mean row of its parents; ties keep the input order.
    let mut row = vec![0f64; nodes.len()];
    for col in columns.iter_mut() {
        let keys: Vec<(usize, f64)> = col
            .iter()
            .enumerate()
            .map(|(pos, &i)| {
                let parents: Vec<f64> = edges
                    .iter()
                    .filter(|(_, to)| *to == i)
                    .map(|(from, _)| row[*from])
                    .collect();
                let key = if parents.is_empty() {
                    pos as f64
                } else {
                    parents.iter().sum::<f64>() / parents.len() as f64
                };
                (i, key)
            })
            .collect();
        let mut sorted = keys;
        sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
        *col = sorted.iter().map(|(i, _)| *i).collect();
        for (r, &i) in col.iter().enumerate() {
            row[i] = r as f64;
        }
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(0) as u32;
    let pitch_y = NODE_H + GAP_Y;
    let mut placed: Vec<Placed> = (0..nodes.len())
        .map(|i| Placed {
            index: i,
            layer: 0,
            x: 0,
            y: 0,
        })
        .collect();
    for (l, col) in columns.iter().enumerate() {
        // Shorter columns are centred against the tallest one.
        let offset = (tallest - col.len() as u32) * pitch_y / 2;
        for (r, &i) in col.iter().enumerate() {
            placed[i] = Placed {
                index: i,
                layer: l,
                x: MARGIN + l as u32 * (NODE_W + GAP_X),
                y: MARGIN + offset + r as u32 * pitch_y,
            };
        }
    }
    let width = if depth == 0 {
        0
    } else {
        2 * MARGIN + depth as u32 * (NODE_W + GAP_X) - GAP_X
    };
    let height = if tallest == 0 {
        0
    } else {
        2 * MARGIN + tallest * pitch_y - GAP_Y
    };
    Layout {
        placed,
        edges,
        width,
        height,
    }
}

/// Escapes text for XML/HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn label(name: &str) -> String {
    if name.chars().count() <= MAX_LABEL {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(MAX_LABEL - 1).collect();
        s.push('\u{2026}');
        s
    }
}

/// The graph as an `<svg>` element. Nodes link to `link_prefix` + name
/// (`#env-` on the release view, so a click scrolls to the environment).
pub fn render(nodes: &[Node], title: &str, link_prefix: &str) -> String {
    let lay = layout(nodes);
    let mut s = String::with_capacity(512 + nodes.len() * 420);
    let _ = write!(
        s,
        r#"<svg class="flow" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title><defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" d="M0 0L10 5L0 10z"/></marker></defs>"#,
        w = lay.width,
        h = lay.height,
        t = esc(title)
    );
    for (from, to) in &lay.edges {
        let a = &lay.placed[*from];
        let b = &lay.placed[*to];
        let (x1, y1) = (a.x + NODE_W, a.y + NODE_H / 2);
        let (x2, y2) = (b.x, b.y + NODE_H / 2);
        let mid = (x1 + x2) / 2;
        let _ = write!(
            s,
            r#"<path class="edge" d="M{x1} {y1}C{mid} {y1} {mid} {y2} {x2} {y2}" marker-end="url(#arrow)"/>"#
        );
    }
    for p in &lay.placed {
        let node = &nodes[p.index];
        let class = node.status.map_or("st-none", |st| st.class);
        let name = esc(&node.name);
        let (tx, ty2) = (p.x + 10, p.y + 40);
        let mut status_line = String::new();
        match node.status {
            Some(st) => {
                let _ = write!(
                    status_line,
                    r##"<use href="#{icon}" x="{tx}" y="{iy}" width="13" height="13"/><text class="s" x="{sx}" y="{ty2}">{text}{dur}</text>"##,
                    icon = st.icon,
                    iy = ty2 - 11,
                    sx = tx + 17,
                    text = st.text,
                    dur = if node.detail.duration.is_empty() {
                        String::new()
                    } else {
                        format!(" \u{b7} {}", esc(&node.detail.duration))
                    },
                );
            }
            None if node.trigger => {
                let _ = write!(
                    status_line,
                    r#"<text class="s" x="{tx}" y="{ty2}">trigger</text>"#
                );
            }
            None => {}
        }
        let mut third = Vec::new();
        if !node.detail.version.is_empty() {
            third.push(esc(&label(&node.detail.version)));
        }
        if let Some((iso, utc)) = &node.detail.started {
            third.push(format!(
                r#"<tspan class="at" data-at="{}">{}</tspan>"#,
                esc(iso),
                esc(utc)
            ));
        }
        let third = if third.is_empty() {
            String::new()
        } else {
            format!(
                r#"<text class="d" x="{tx}" y="{}">{}</text>"#,
                p.y + 58,
                third.join(" \u{b7} ")
            )
        };
        let tip = match node.status {
            Some(st) => format!("{name}: {}", st.text),
            None => name.clone(),
        };
        let _ = write!(
            s,
            r#"<a href="{lp}{name}"><g class="node {class}{trig}"><title>{tip}</title><rect x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/><text class="n" x="{tx}" y="{ty1}">{lbl}</text>{status_line}{third}</g></a>"#,
            lp = esc(link_prefix),
            trig = if node.trigger { " trig" } else { "" },
            x = p.x,
            y = p.y,
            ty1 = p.y + 20,
            lbl = esc(&label(&node.name)),
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, deps: &[&str]) -> Node {
        Node {
            name: name.into(),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
            status: None,
            trigger: deps.is_empty(),
            detail: Detail::default(),
        }
    }

    fn overlaps(a: &Placed, b: &Placed) -> bool {
        a.x < b.x + NODE_W && b.x < a.x + NODE_W && a.y < b.y + NODE_H && b.y < a.y + NODE_H
    }

    fn assert_no_overlaps(nodes: &[Node]) -> Layout {
        let lay = layout(nodes);
        for (i, a) in lay.placed.iter().enumerate() {
            assert!(a.x + NODE_W <= lay.width && a.y + NODE_H <= lay.height);
            for b in &lay.placed[i + 1..] {
                assert!(
                    !overlaps(a, b),
                    "{} and {} overlap: {a:?} {b:?}",
                    nodes[a.index].name,
                    nodes[b.index].name
                );
            }
        }
        // Every arrow points right: a dependency is drawn left of its dependent.
        for (from, to) in &lay.edges {
            assert!(lay.placed[*from].layer < lay.placed[*to].layer);
        }
        lay
    }

    #[test]
    fn chain_is_one_row() {
        let nodes = [
            node("dev", &[]),
            node("qa", &["dev"]),
            node("prod", &["qa"]),
        ];
        let lay = assert_no_overlaps(&nodes);
        let ys: Vec<u32> = lay.placed.iter().map(|p| p.y).collect();
        assert_eq!(ys, vec![ys[0]; 3]);
        assert_eq!(
            lay.placed.iter().map(|p| p.layer).collect::<Vec<_>>(),
            [0, 1, 2]
        );
    }

    #[test]
    fn parallel_environments_side_by_side() {
        let nodes = [
            node("dev", &[]),
            node("eu", &["dev"]),
            node("us", &["dev"]),
            node("prod", &["eu", "us"]),
        ];
        let lay = assert_no_overlaps(&nodes);
        assert_eq!(lay.placed[1].x, lay.placed[2].x, "same column");
        assert_ne!(lay.placed[1].y, lay.placed[2].y);
        assert_eq!(lay.placed[3].layer, 2);
        assert_eq!(lay.edges.len(), 4);
    }

    /// Flows of up to 30 environments, in several shapes: a chain, a
    /// fan-out, a diamond lattice, and a pseudo-random DAG.
    #[test]
    fn thirty_environments_never_overlap() {
        let names: Vec<String> = (0..30).map(|i| format!("env-{i:02}")).collect();
        let chain: Vec<Node> = (0..30)
            .map(|i| {
                let deps: Vec<&str> = if i == 0 { vec![] } else { vec![&names[i - 1]] };
                node(&names[i], &deps)
            })
            .collect();
        assert_no_overlaps(&chain);
        let fan: Vec<Node> = (0..30)
            .map(|i| node(&names[i], if i == 0 { &[] } else { &["env-00"] }))
            .collect();
        let lay = assert_no_overlaps(&fan);
        assert_eq!(lay.placed.iter().filter(|p| p.layer == 1).count(), 29);
        let lattice: Vec<Node> = (0..30)
            .map(|i| {
                let deps: Vec<&str> = if i < 5 {
                    if i == 0 { vec![] } else { vec!["env-00"] }
                } else {
                    vec![&names[i - 5], &names[i - 4]]
                };
                node(&names[i], &deps)
            })
            .collect();
        assert_no_overlaps(&lattice);
        let mut seed = 0x2545_f491u32;
        let random: Vec<Node> = (0..30)
            .map(|i| {
                let mut deps = Vec::new();
                for name in names.iter().take(i) {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    if seed.is_multiple_of(7) {
                        deps.push(name.as_str());
                    }
                }
                if deps.is_empty() && i > 0 {
                    deps.push("env-00");
                }
                node(&names[i], &deps)
            })
            .collect();
        assert_no_overlaps(&random);
    }

    #[test]
    fn cycle_and_unknown_dependency_do_not_hang() {
        let nodes = [
            node("a", &["b"]),
            node("b", &["a"]),
            node("c", &["nowhere"]),
        ];
        let lay = layout(&nodes);
        assert_eq!(lay.placed.len(), 3);
    }

    #[test]
    fn names_are_escaped_and_statuses_have_text() {
        let mut n = node("<script>x</script>", &[]);
        n.status = Some(crate::status::environment(
            ferry_release::EnvironmentStatus::Failed,
        ));
        let svg = render(&[n], "flow", "#env-");
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("FAILED"), "{svg}");
        assert!(svg.contains("href=\"#i-fail\""), "{svg}");
    }
}
