//! The server's crates are layered and their files form no circle
//! (issue 22; ARCHITECTURE.md, "No crate depends upward, no file circle
//! inside a crate").
//!
//! - Crates: `security` < `notify` < `settings` < `wiring` < `api` < `ui`
//!   < `server`;
//!   each may depend only on the ones before it (and on the library
//!   crates), and no library crate depends on any of them.
//! - Files: inside each of these crates, the modules' imports — `use
//!   crate::…` (grouped ones expanded), `crate::…` paths in code, `super::…`
//!   outside test modules, and a `lib.rs`/`mod.rs` re-exporting a child —
//!   form a DAG. Comments and string literals are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The program's crates, bottom up.
const PROGRAM: [&str; 7] = [
    "security", "notify", "settings", "wiring", "api", "ui", "server",
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `ferry-*` names under `[dependencies]` of a crate's manifest.
fn ferry_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut in_deps = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some(rest) = line.strip_prefix("ferry-") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn no_crate_depends_upward() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.exists() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let allowed: &[&str] = match PROGRAM.iter().position(|p| *p == name) {
            Some(i) => &PROGRAM[..i],
            // The CLI runs the server; library crates know none of it.
            None if name == "cli" => &PROGRAM,
            None => &[],
        };
        for dep in ferry_dependencies(&manifest) {
            if PROGRAM.contains(&dep.as_str()) && !allowed.contains(&dep.as_str()) {
                problems.push(format!("ferry-{name} depends on ferry-{dep}"));
            }
        }
    }
    assert!(problems.is_empty(), "upward dependencies: {problems:?}");
}

/// Source without comments and with string and char literals emptied.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"') | Some(b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                out.push_str("\"\"");
                i = j + close.len();
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str("\"\"");
                i += 1;
            }
            // A char literal (`'x'`, `'\n'`, `'{'`), not a lifetime.
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                out.push_str("' '");
                i += 1;
            }
            c => {
                // Multi-byte characters are copied whole.
                let len = src[i..].chars().next().map_or(1, char::len_utf8);
                if len == 1 {
                    out.push(c as char);
                } else {
                    out.push_str(&src[i..i + len]);
                }
                i += len;
            }
        }
    }
    out
}

/// Every path named by a use tree such as `{a, b::{c, d}, e::f as g}`.
fn expand(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let mut depth = 0;
    let mut item = String::new();
    let mut items = Vec::new();
    for c in tree.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        item.push(c);
    }
    items.push(item);
    for item in items {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some(open) = item.find('{') {
            let head: Vec<String> = item[..open]
                .trim_end_matches("::")
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &item[open + 1..item.rfind('}').unwrap_or(item.len())];
            let p: Vec<String> = prefix.iter().cloned().chain(head).collect();
            expand(&p, inner, out);
        } else {
            let path = item.split(" as ").next().unwrap_or(item).trim();
            out.push(
                prefix
                    .iter()
                    .cloned()
                    .chain(path.split("::").map(|s| s.trim().to_owned()))
                    .collect(),
            );
        }
    }
}

fn ident_at(s: &str, at: usize) -> &str {
    let end = s[at..]
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .map_or(s.len(), |e| at + e);
    &s[at..end]
}

/// The module each file defines (`a::b` for `src/a/b.rs` or
/// `src/a/b/mod.rs`; "" for `lib.rs`), and its imports of other modules.
fn module_graph(src_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    let mut dirs = vec![src_dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let module_of = |p: &Path| -> String {
        let rel = p.strip_prefix(src_dir).unwrap().with_extension("");
        let mut parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("lib" | "mod" | "main")
        ) {
            parts.pop();
        }
        parts.join("::")
    };
    let modules: BTreeSet<String> = files.iter().map(|p| module_of(p)).collect();
    // The longest module that is a prefix of `path`, else the crate root.
    let resolve = |path: &[String]| -> String {
        let path: Vec<&str> = path
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty() && *s != "self" && *s != "*")
            .collect();
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| modules.contains(m))
            .unwrap_or_default()
    };
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(file);
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let mut deps = BTreeSet::new();
        let mut paths: Vec<Vec<String>> = Vec::new();
        // `use crate::…;`, grouped or not.
        let mut rest = code.as_str();
        while let Some(at) = rest.find("use crate::") {
            let after = &rest[at + "use crate::".len()..];
            let end = after.find(';').unwrap_or(after.len());
            expand(&[], &after[..end], &mut paths);
            rest = &after[end..];
        }
        // `crate::a::b` anywhere.
        for (at, _) in code.match_indices("crate::") {
            let path = ident_at(&code, at + "crate::".len());
            // `crate::{…}` is a grouped use, read above.
            if !path.is_empty() {
                paths.push(path.split("::").map(str::to_owned).collect());
            }
        }
        // `super::x` outside the test module.
        let non_test = code.split("#[cfg(test)]").next().unwrap_or("");
        let parent: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let parent = &parent[..parent.len().saturating_sub(1)];
        for (at, _) in non_test.match_indices("super::") {
            let path = ident_at(non_test, at + "super::".len());
            paths.push(
                parent
                    .iter()
                    .cloned()
                    .chain(path.split("::").map(str::to_owned))
                    .collect(),
            );
        }
        for p in &paths {
            deps.insert(resolve(p));
        }
        // A root or `mod.rs` re-exporting a child depends on it.
        let name = file.file_name().unwrap().to_string_lossy();
        if matches!(name.as_ref(), "lib.rs" | "mod.rs") {
            for line in code.lines() {
                let line = line.trim_start();
                let line = line.strip_prefix("pub ").unwrap_or(line);
                if let Some(path) = line.strip_prefix("use ") {
                    let first = ident_at(path, 0).split("::").next().unwrap_or("");
                    let child = if module.is_empty() {
                        first.to_owned()
                    } else {
                        format!("{module}::{first}")
                    };
                    if modules.contains(&child) {
                        deps.insert(child);
                    }
                }
            }
        }
        deps.remove(&module);
        graph.insert(module, deps);
    }
    graph
}

/// A circle of the graph, if it has one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for d in graph.get(n).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let from = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, graph, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in graph.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0
            && let Some(c) = visit(n, graph, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_files_of_each_program_crate_form_no_circle() {
    for name in PROGRAM {
        let graph = module_graph(&crates_dir().join(name).join("src"));
        assert!(!graph.is_empty(), "{name}: no source read");
        if let Some(cycle) = find_cycle(&graph) {
            let shown: Vec<&str> = cycle
                .iter()
                .map(|m| if m.is_empty() { "lib.rs" } else { m.as_str() })
                .collect();
            panic!(
                "ferry-{name}: modules import in a circle: {}",
                shown.join(" → ")
            );
        }
    }
}

#[test]
fn the_checker_sees_a_circle() {
    // The same reading over a made-up crate with a circle through a
    // grouped use, an inline path and a root re-export.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    std::fs::write(
        src.join("lib.rs"),
        "mod a;\nmod b;\nmod c;\npub use a::A;\n",
    )
    .unwrap();
    std::fs::write(src.join("a.rs"), "use crate::{b::{B}, c};\npub struct A;\n").unwrap();
    std::fs::write(
        src.join("b.rs"),
        "// crate::a is only mentioned\npub struct B;\n",
    )
    .unwrap();
    std::fs::write(src.join("c.rs"), "pub fn f() -> crate::A { crate::A }\n").unwrap();
    let graph = module_graph(src);
    assert_eq!(graph["a"], BTreeSet::from(["b".to_owned(), "c".to_owned()]));
    assert!(
        graph["b"].is_empty(),
        "comments are not read: {:?}",
        graph["b"]
    );
    let cycle = find_cycle(&graph).expect("a → c → lib.rs → a");
    assert!(cycle.contains(&"c".to_owned()), "{cycle:?}");
    std::fs::write(src.join("c.rs"), "pub fn f() {}\n").unwrap();
    assert_eq!(find_cycle(&module_graph(src)), None);
}
