//! Charts for the Insights pages as server-rendered SVG (issue 21): bars
//! (a trend per week, a distribution) and stacked bars (time per phase).
//!
//! Drawn here rather than by a browser library so the pages need no
//! script, and coloured only through classes of `ferry.css` (no `style=`
//! attribute, so the content security policy holds and dark mode follows
//! the stylesheet's variables). Bar charts are drawn at their natural
//! size (a fixed width per bar) and scroll sideways inside their box on a
//! phone; stacked bars are sized in percent, so they fit any width. Every
//! chart has a text alternative (`aria-label` and `<title>`) and every
//! bar its figure as text: the chart adds a picture, it never is the only
//! place a figure is.

use std::fmt::Write as _;

use crate::svg::esc;

/// One bar: its label under it (a second line after " – " or a space
/// when the label is long), its value (`None`: nothing measured, no bar)
/// and the text written above it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub value: Option<f64>,
    pub text: String,
}

const BAR_W: u32 = 44;
const GAP: u32 = 8;
const PLOT_H: u32 = 120;
const TOP: u32 = 18;
const LABEL_H: u32 = 30;
const LEFT: u32 = 4;

/// The two lines of a bar's label.
fn label_lines(label: &str) -> (String, String) {
    if let Some((a, b)) = label.split_once(" – ") {
        return (a.to_owned(), format!("– {b}"));
    }
    (label.to_owned(), String::new())
}

/// A vertical bar chart: bars scaled to the largest value, the value's
/// text above each bar and the label under it. `class` colours the bars.
pub fn bars(title: &str, class: &str, bars: &[Bar]) -> String {
    let width = LEFT * 2 + bars.len() as u32 * (BAR_W + GAP);
    let height = TOP + PLOT_H + LABEL_H;
    let max = bars.iter().filter_map(|b| b.value).fold(0.0_f64, f64::max);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart bars {class}" role="img" aria-label="{t}" width="{width}" height="{height}" viewBox="0 0 {width} {height}"><title>{t}</title>"#,
        t = esc(title),
    );
    let base = TOP + PLOT_H;
    let _ = write!(
        out,
        r#"<line class="axis" x1="0" y1="{base}" x2="{width}" y2="{base}"/>"#
    );
    for (i, b) in bars.iter().enumerate() {
        let x = LEFT + i as u32 * (BAR_W + GAP);
        let cx = x + BAR_W / 2;
        let h = match b.value {
            Some(v) if max > 0.0 && v > 0.0 => ((v / max) * PLOT_H as f64).round().max(1.0) as u32,
            _ => 0,
        };
        let _ = write!(
            out,
            "<g class=\"bar\"><title>{}: {}</title>",
            esc(&b.label),
            esc(&b.text)
        );
        if h > 0 {
            let _ = write!(
                out,
                r#"<rect x="{x}" y="{}" width="{BAR_W}" height="{h}" rx="2"/>"#,
                base - h
            );
        }
        let _ = write!(
            out,
            r#"<text class="v" x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
            base - h - 4,
            esc(&b.text)
        );
        let (l1, l2) = label_lines(&b.label);
        let _ = write!(
            out,
            r#"<text class="l" x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
            base + 13,
            esc(&l1)
        );
        if !l2.is_empty() {
            let _ = write!(
                out,
                r#"<text class="l" x="{cx}" y="{}" text-anchor="middle">{}</text>"#,
                base + 26,
                esc(&l2)
            );
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    out
}

/// One part of a stacked bar: its class (`ph-sync`), what it is and its
/// length in seconds, with the text shown in its tooltip.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub class: String,
    pub label: String,
    pub seconds: f64,
    pub text: String,
}

/// A row of stacked bars: its name (drawn above the bar) and its parts.
#[derive(Debug, Clone, PartialEq)]
pub struct Stack {
    pub name: String,
    pub total_text: String,
    pub segments: Vec<Segment>,
}

const ROW_H: u32 = 40;

/// Horizontal stacked bars, one row per [`Stack`], all on one scale (the
/// longest row fills the width), in percent so the chart fits any width.
pub fn stacked(title: &str, rows: &[Stack]) -> String {
    let height = rows.len() as u32 * ROW_H + 4;
    let max = rows
        .iter()
        .map(|r| r.segments.iter().map(|s| s.seconds.max(0.0)).sum::<f64>())
        .fold(0.0_f64, f64::max);
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="chart stacked" role="img" aria-label="{t}" width="100%" height="{height}"><title>{t}</title>"#,
        t = esc(title),
    );
    for (i, row) in rows.iter().enumerate() {
        let y = i as u32 * ROW_H;
        let _ = write!(
            out,
            r#"<text class="n" x="0" y="{}">{} <tspan class="l">{}</tspan></text>"#,
            y + 13,
            esc(&row.name),
            esc(&row.total_text)
        );
        let mut at = 0.0_f64;
        for s in &row.segments {
            if max <= 0.0 || s.seconds <= 0.0 {
                continue;
            }
            let w = s.seconds / max * 100.0;
            let _ = write!(
                out,
                r#"<rect class="{}" x="{at:.3}%" y="{}" width="{w:.3}%" height="18"><title>{}: {}</title></rect>"#,
                esc(&s.class),
                y + 18,
                esc(&s.label),
                esc(&s.text)
            );
            at += w;
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: Option<f64>) -> Bar {
        Bar {
            label: label.into(),
            value,
            text: value.map_or("–".into(), |v| v.to_string()),
        }
    }

    #[test]
    fn bars_scale_to_the_largest_and_show_every_value_as_text() {
        let svg = bars(
            "Deployments per week",
            "b-ok",
            &[
                bar("01-05", Some(4.0)),
                bar("01-12", Some(2.0)),
                bar("01-19", None),
            ],
        );
        assert!(
            svg.contains(r#"aria-label="Deployments per week""#),
            "{svg}"
        );
        // The largest bar is the plot's height, the other half of it.
        assert!(svg.contains(&format!(r#"height="{PLOT_H}""#)), "{svg}");
        assert!(
            svg.contains(&format!(r#"height="{}""#, PLOT_H / 2)),
            "{svg}"
        );
        // No bar for nothing measured, but its text is there.
        assert_eq!(svg.matches("<rect").count(), 2, "{svg}");
        assert!(svg.contains(">–</text>"), "{svg}");
        assert!(svg.contains(">01-19</text>"), "{svg}");
        let width = LEFT * 2 + 3 * (BAR_W + GAP);
        assert!(svg.contains(&format!(r#"width="{width}""#)), "{svg}");
    }

    #[test]
    fn zero_everywhere_draws_no_bar_and_long_labels_wrap() {
        let svg = bars("x", "b", &[bar("10 min – 1 h", Some(0.0))]);
        assert_eq!(svg.matches("<rect").count(), 0, "{svg}");
        assert!(
            svg.contains(">10 min</text>") && svg.contains(">– 1 h</text>"),
            "{svg}"
        );
    }

    #[test]
    fn stacked_rows_share_one_scale_and_names_are_escaped() {
        let seg = |class: &str, seconds: f64| Segment {
            class: class.into(),
            label: class.into(),
            seconds,
            text: format!("{seconds}s"),
        };
        let svg = stacked(
            "Where time goes",
            &[
                Stack {
                    name: "<prod>".into(),
                    total_text: "4s".into(),
                    segments: vec![seg("ph-commit", 1.0), seg("ph-sync", 3.0)],
                },
                Stack {
                    name: "qa".into(),
                    total_text: "2s".into(),
                    segments: vec![seg("ph-sync", 2.0)],
                },
            ],
        );
        assert!(
            svg.contains("&lt;prod&gt;") && !svg.contains("<prod>"),
            "{svg}"
        );
        assert!(
            svg.contains(r#"x="0.000%" y="18" width="25.000%""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"x="25.000%" y="18" width="75.000%""#),
            "{svg}"
        );
        assert!(
            svg.contains(r#"x="0.000%" y="58" width="50.000%""#),
            "{svg}"
        );
    }
}
