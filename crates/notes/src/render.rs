//! Markdown for people: the release notes page, `ferry release notes`,
//! and the body of promotion pull requests. JSON is the document itself
//! ([`crate::ReleaseNotes`] serialised).
//!
//! Commit subjects are written by anyone who can push, so the characters
//! that would turn them into markup (links, emphasis, HTML, tables) are
//! escaped.

use std::fmt::Write;

use crate::document::{Commit, ConfigChanges, ReleaseNotes};

/// GitHub rejects pull-request bodies above 65,536 characters.
pub const PR_BODY_LIMIT: usize = 65_536;

/// The whole notes as Markdown.
pub fn markdown(notes: &ReleaseNotes) -> String {
    let r = &notes.release;
    let mut out = format!("# Release notes: {} #{}", escape(&r.product), r.number);
    if let Some(v) = &r.version {
        let _ = write!(out, " ({})", escape(v));
    }
    out.push_str("\n\n");
    out.push_str(&body(notes));
    out
}

/// The notes as a pull-request body: no title (the PR has one), at most
/// `max_chars` characters (cut at a line, with a pointer to the full notes).
pub fn markdown_for_pr(
    notes: &ReleaseNotes,
    max_chars: usize,
    full_notes_url: Option<&str>,
) -> String {
    let text = body(notes);
    if text.chars().count() <= max_chars {
        return text;
    }
    let tail = match full_notes_url {
        Some(url) => format!("\n… truncated; the full notes: {url}\n"),
        None => "\n… truncated\n".to_owned(),
    };
    let budget = max_chars.saturating_sub(tail.chars().count());
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if out.chars().count() + line.chars().count() > budget {
            break;
        }
        out.push_str(line);
    }
    out.push_str(&tail);
    out
}

fn body(notes: &ReleaseNotes) -> String {
    let mut out = String::new();
    match &notes.previous_release {
        Some(p) => {
            let _ = write!(out, "Changes since release #{}", p.number);
            if let Some(v) = &p.version {
                let _ = write!(out, " ({})", escape(v));
            }
            out.push_str(".\n\n");
        }
        None => out.push_str("First release of this product: recent changes are shown.\n\n"),
    }

    out.push_str("## Code changes\n\n");
    if notes.sources.is_empty() {
        out.push_str("No code changes found.\n\n");
    }
    for s in &notes.sources {
        let _ = writeln!(
            out,
            "### {} ({})\n\n`{}` → `{}`{}\n",
            escape(&s.repo_url),
            escape(&s.images.join(", ")),
            s.from.as_deref().map_or("…", short),
            short(&s.to),
            if s.truncated {
                " (more commits than shown)"
            } else {
                ""
            }
        );
        if s.groups.is_empty() {
            out.push_str("No commits.\n\n");
        }
        for (title, commits) in s.groups.named() {
            if commits.is_empty() {
                continue;
            }
            let _ = writeln!(out, "#### {title}\n");
            for c in commits {
                commit_line(&mut out, c, true);
            }
            out.push('\n');
        }
    }

    if !notes.images.is_empty() {
        out.push_str(
            "## Images\n\n| Application | Image | From | To | Source |\n|---|---|---|---|---|\n",
        );
        for i in &notes.images {
            let source = match &i.source {
                Some(s) => format!(
                    "{} ({})",
                    escape(&s.repo_url),
                    match s.via {
                        crate::document::SourceVia::Labels => "labels",
                        crate::document::SourceVia::Mapping => "mapping",
                    }
                ),
                None => "unknown".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                escape(&i.application),
                escape(&i.repository),
                i.from.as_deref().map_or("–".to_owned(), escape),
                escape(&i.to),
                source
            );
        }
        out.push('\n');
    }

    out.push_str("## Configuration changes\n\n");
    if notes.configuration.iter().all(|c| c.commits.is_empty()) {
        out.push_str("No configuration commits.\n\n");
    }
    for c in &notes.configuration {
        config_section(&mut out, c);
    }

    if !notes.notes.is_empty() {
        out.push_str("## Notes\n\n");
        for n in &notes.notes {
            let _ = writeln!(out, "- {}", escape(n));
        }
        out.push('\n');
    }
    out
}

fn config_section(out: &mut String, c: &ConfigChanges) {
    if c.commits.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "### {} (`{}`){}\n",
        escape(&c.application),
        c.path.replace('`', "'"),
        if c.truncated {
            " (more commits than shown)"
        } else {
            ""
        }
    );
    for commit in &c.commits {
        commit_line(out, commit, false);
    }
    out.push('\n');
}

fn commit_line(out: &mut String, c: &Commit, strip_type: bool) {
    out.push_str("- ");
    // In a group the type is the heading: show `**scope:** description`.
    let mut subject = c.subject.as_str();
    if strip_type && c.kind.is_some() {
        if let Some(scope) = &c.scope {
            let _ = write!(out, "**{}:** ", escape(scope));
        }
        subject = subject.split_once(": ").map_or(subject, |(_, d)| d);
    }
    // The pull request is shown once, after the SHA.
    if let Some(pr) = c.pull_request {
        subject = subject
            .strip_suffix(&format!("(#{pr})"))
            .map_or(subject, str::trim_end);
    }
    out.push_str(&escape(subject));
    let _ = write!(out, " (`{}`", &c.sha[..c.sha.len().min(7)]);
    if let Some(pr) = c.pull_request {
        let _ = write!(out, ", #{pr}");
    }
    out.push(')');
    let issues: Vec<String> = c
        .issues
        .iter()
        .map(|i| match &i.url {
            Some(url) if *url != i.key => {
                format!("[{}]({})", escape(&i.key), url.replace(')', "%29"))
            }
            // A forge URL found in the message (no whitespace, `<` or `>`).
            Some(url) => format!("<{url}>"),
            None => escape(&i.key),
        })
        .collect();
    if !issues.is_empty() {
        let _ = write!(out, " — {}", issues.join(", "));
    }
    let _ = writeln!(
        out,
        " — {}, {}",
        escape(&c.author.name),
        &c.date[..c.date.len().min(10)]
    );
}

fn short(rev: &str) -> &str {
    &rev[..rev.len().min(12)]
}

/// Escapes Markdown and HTML metacharacters so text stays text.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|') {
            out.push('\\');
        }
        if ch == '\n' || ch == '\r' {
            out.push(' ');
            continue;
        }
        out.push(ch);
    }
    out
}
