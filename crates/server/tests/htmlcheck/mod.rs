//! A strict well-formedness check for the UI's HTML: every element that
//! is opened is closed in order (void elements aside, `/>` inside SVG),
//! attribute values are quoted, ids are unique, and nothing needs
//! `'unsafe-inline'` (no inline script, event handler or `style=`).

#![allow(dead_code)]

use std::collections::HashSet;

const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr",
];

#[derive(Debug, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Checks `html`; returns every start tag found, in order.
pub fn check(html: &str) -> Result<Vec<Element>, String> {
    let b = html.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut all = Vec::new();
    let mut ids = HashSet::new();
    let line = |pos: usize| html[..pos].matches('\n').count() + 1;
    while let Some(off) = html[i..].find('<') {
        let start = i + off;
        let rest = &html[start..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").ok_or("unclosed comment")?;
            i = start + end + 3;
            continue;
        }
        if rest.starts_with("<!") {
            let end = rest.find('>').ok_or("unclosed doctype")?;
            i = start + end + 1;
            continue;
        }
        if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or("unclosed end tag")?;
            let name = close[..end].trim().to_ascii_lowercase();
            match stack.pop() {
                Some(open) if open == name => {}
                other => {
                    return Err(format!(
                        "line {}: </{name}> closes {other:?} (open: {stack:?})",
                        line(start)
                    ));
                }
            }
            i = start + 2 + end + 1;
            continue;
        }
        // A start tag: name, then attributes until `>` outside quotes.
        let mut j = start + 1;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
            j += 1;
        }
        let name = html[start + 1..j].to_ascii_lowercase();
        if name.is_empty() {
            return Err(format!("line {}: a bare `<` in text", line(start)));
        }
        let mut el = Element {
            name: name.clone(),
            attrs: Vec::new(),
        };
        let mut self_closing = false;
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= b.len() {
                return Err(format!("line {}: <{name}> never ends", line(start)));
            }
            if b[j] == b'>' {
                j += 1;
                break;
            }
            if b[j] == b'/' && b.get(j + 1) == Some(&b'>') {
                self_closing = true;
                j += 2;
                break;
            }
            let a0 = j;
            while j < b.len() && !b[j].is_ascii_whitespace() && b[j] != b'=' && b[j] != b'>' {
                j += 1;
            }
            let key = html[a0..j].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(j) == Some(&b'=') {
                j += 1;
                let q = b[j];
                if q != b'"' && q != b'\'' {
                    return Err(format!(
                        "line {}: <{name} {key}=…> is not quoted",
                        line(start)
                    ));
                }
                let end = html[j + 1..]
                    .find(q as char)
                    .ok_or_else(|| format!("line {}: unclosed attribute {key}", line(start)))?;
                value = html[j + 1..j + 1 + end].to_owned();
                j = j + 1 + end + 1;
            }
            if key.starts_with("on") {
                return Err(format!("line {}: inline event handler {key}", line(start)));
            }
            if key == "style" {
                return Err(format!("line {}: style attribute on <{name}>", line(start)));
            }
            if key == "id" && !ids.insert(value.clone()) {
                return Err(format!("line {}: duplicate id `{value}`", line(start)));
            }
            el.attrs.push((key, value));
        }
        if name == "script" {
            if el.attr("src").is_none() {
                return Err(format!("line {}: inline <script>", line(start)));
            }
            let end = html[j..].find("</script>").ok_or("unclosed <script>")?;
            if !html[j..j + end].trim().is_empty() {
                return Err(format!("line {}: inline script text", line(start)));
            }
            j += end + "</script>".len();
        } else if name == "style" {
            return Err(format!("line {}: inline <style>", line(start)));
        } else if !self_closing && !VOID.contains(&name.as_str()) {
            stack.push(name.clone());
        }
        all.push(el);
        i = j;
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements at the end: {stack:?}"));
    }
    Ok(all)
}

/// Accessibility basics: one `<h1>`, `lang` on `<html>`, a label for
/// every visible form control, alt text on images, a name on each SVG.
pub fn check_accessible(html: &str, els: &[Element]) -> Result<(), String> {
    let h1 = els.iter().filter(|e| e.name == "h1").count();
    if h1 != 1 && els.iter().any(|e| e.name == "html") {
        return Err(format!("{h1} <h1> elements"));
    }
    if let Some(h) = els.iter().find(|e| e.name == "html")
        && h.attr("lang").is_none_or(str::is_empty)
    {
        return Err("<html> without lang".into());
    }
    let labels: HashSet<&str> = els
        .iter()
        .filter(|e| e.name == "label")
        .filter_map(|e| e.attr("for"))
        .collect();
    for e in els {
        match e.name.as_str() {
            "input" | "select" | "textarea" if e.attr("type") != Some("hidden") => {
                let id = e.attr("id").unwrap_or_default();
                if !labels.contains(id) && e.attr("aria-label").is_none() {
                    return Err(format!("<{}> without a label: {:?}", e.name, e.attrs));
                }
            }
            "img" if e.attr("alt").is_none() => return Err("<img> without alt".into()),
            "svg" if e.attr("role") == Some("img") && e.attr("aria-label").is_none() => {
                return Err("<svg role=img> without aria-label".into());
            }
            _ => {}
        }
    }
    let _ = html;
    Ok(())
}

#[test]
fn the_checker_catches_what_it_should() {
    assert!(check("<div><p>x</p></div>").is_ok());
    assert!(check("<div><p>x</div>").is_err());
    assert!(check("<div>").is_err());
    assert!(check("<a onclick=\"x()\">x</a>").is_err());
    assert!(check("<p style=\"color:red\">x</p>").is_err());
    assert!(check("<script>alert(1)</script>").is_err());
    assert!(check("<script src=\"/a.js\"></script><br><svg><path d=\"M0 0\"/></svg>").is_ok());
    assert!(check("<p id=\"a\"></p><p id=\"a\"></p>").is_err());
    assert!(check("<p class=x></p>").is_err());
}
