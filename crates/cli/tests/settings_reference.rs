//! docs/settings.md lists every settings-file key, every `FERRY_*` variable
//! `ferry serve` reads and every `ferry serve` flag, and its server table
//! lists nothing that does not exist.
//!
//! The keys come from the settings parser itself: an unknown key makes it
//! name every key it knows (top level, and inside each array of tables such
//! as `[[gitCredentials]]`); the variables are the names `Settings::load`
//! asks its environment for; the flags come from `ferry serve --help`.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use ferry_server::{Overrides, Settings};

/// The names the parser reports as known for an unknown key `zzzUnknown`
/// written after `prefix` (e.g. `[[gitCredentials]]`), if it reports any.
fn known_keys(prefix: &str) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ferry.toml");
    std::fs::write(&path, format!("{prefix}zzzUnknown = 1\n")).unwrap();
    // A table that accepts any key (e.g. a map of names) loads: no list.
    let err = Settings::load(Some(&path), |_| None, Overrides::default())
        .err()?
        .to_string();
    let list = err.split("expected one of ").nth(1)?;
    Some(
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// First-column keys of the tables under `## Server`.
fn server_rows(doc: &str) -> Vec<String> {
    let start = doc.find("\n## Server").expect("## Server");
    let rest = &doc[start + 1..];
    let section = &rest[..rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3)];
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split('`').next().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn settings_reference_is_complete() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/settings.md");
    let doc = std::fs::read_to_string(&file).expect("docs/settings.md");
    let mentioned = |name: &str| doc.contains(&format!("`{name}`"));
    let mut missing = Vec::new();

    // File keys, top level and nested.
    let top = known_keys("").expect("the parser lists its keys");
    assert!(top.contains(&"listen".to_owned()), "{top:?}");
    let mut nested = BTreeSet::new();
    for key in &top {
        if !mentioned(key) {
            missing.push(format!("settings-file key `{key}`"));
        }
        // An array of tables is documented `key[].inner`, a table `key.inner`.
        for (prefix, sep) in [(format!("[[{key}]]\n"), "[]."), (format!("[{key}]\n"), ".")] {
            if let Some(inner) = known_keys(&prefix) {
                for k in inner {
                    nested.insert(format!("{key}{sep}{k}"));
                }
            }
        }
    }
    assert!(nested.contains("gitCredentials[].repoPrefix"), "{nested:?}");
    for key in &nested {
        if !mentioned(key) {
            missing.push(format!("settings-file key `{key}`"));
        }
    }

    // Every variable the loader asks for.
    let asked = RefCell::new(BTreeSet::new());
    Settings::load(
        None,
        |name| {
            asked.borrow_mut().insert(name.to_owned());
            None
        },
        Overrides::default(),
    )
    .expect("defaults load");
    let asked = asked.into_inner();
    assert!(asked.contains("FERRY_LISTEN"), "{asked:?}");
    for var in &asked {
        if !mentioned(var) {
            missing.push(format!("variable `{var}`"));
        }
    }

    // Every flag of `ferry serve`.
    let help = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["serve", "--help"])
        .output()
        .expect("ferry serve --help");
    let help = String::from_utf8(help.stdout).unwrap();
    let flags: BTreeSet<&str> = help
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2 && *w != "--help")
        .collect();
    assert!(flags.contains("--listen"), "{help}");
    for flag in &flags {
        if !mentioned(flag) {
            missing.push(format!("flag `{flag}`"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/settings.md lacks: {}",
        missing.join(", ")
    );

    // Nothing in the server tables that the parser does not know.
    for row in server_rows(&doc) {
        let known = if row.contains('.') {
            nested.contains(&row)
        } else {
            top.contains(&row)
        };
        assert!(
            known,
            "docs/settings.md lists `{row}`, which is not a settings key"
        );
    }
}
