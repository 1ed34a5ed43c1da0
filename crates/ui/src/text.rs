//! Text from the engine, Git and workflows, made fit for a page: escaped,
//! with `backtick` spans shown as code. Messages are written for both the
//! API and people (`waiting for the pull request branch \`ferry/shop/prod/3\``),
//! so the page renders the span instead of showing the backticks.

use crate::svg::esc;

/// `text` as HTML: everything escaped, each `` `span` `` (on one line,
/// not empty) as `<code>span</code>`. An unpaired backtick stays a
/// backtick.
pub fn code_spans(text: &str) -> String {
    if !text.contains('`') {
        return esc(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        match after.find(['`', '\n']) {
            Some(close) if close > 0 && after.as_bytes()[close] == b'`' => {
                out.push_str(&esc(&rest[..open]));
                out.push_str("<code>");
                out.push_str(&esc(&after[..close]));
                out.push_str("</code>");
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&esc(&rest[..=open]));
                rest = after;
            }
        }
    }
    out.push_str(&esc(rest));
    out
}

/// The first `max` lines of `log` (without trailing blank lines) and how
/// many lines follow them.
pub fn head_lines(log: &str, max: usize) -> (String, usize) {
    let lines: Vec<&str> = log.trim_end().lines().collect();
    let shown = lines.len().min(max);
    (lines[..shown].join("\n"), lines.len() - shown)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backtick_spans_become_code_and_everything_is_escaped() {
        assert_eq!(
            code_spans("waiting for branch `ferry/shop/prod-eu/1` to be merged"),
            "waiting for branch <code>ferry/shop/prod-eu/1</code> to be merged"
        );
        assert_eq!(
            code_spans("`<b>` & `x`"),
            "<code>&lt;b&gt;</code> &amp; <code>x</code>"
        );
        assert_eq!(code_spans("a ` b"), "a ` b");
        assert_eq!(code_spans("``"), "``");
        assert_eq!(code_spans("`a\nb` c"), "`a\nb` c");
        assert_eq!(code_spans("<script>"), "&lt;script&gt;");
    }

    #[test]
    fn head_of_a_log() {
        assert_eq!(head_lines("a\nb\nc\n\n", 2), ("a\nb".to_owned(), 1));
        assert_eq!(head_lines("a", 5), ("a".to_owned(), 0));
        assert_eq!(head_lines("", 5), (String::new(), 0));
    }
}
