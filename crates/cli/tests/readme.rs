//! The README's first hour, checked: its two commands are the ones CI and
//! a newcomer run (issue 12). That the demo command really works from a
//! fresh clone — started, its URL fetched, release #1 listed, stopped — is
//! `scripts/readme-check`, run by `scripts/test`; the demo's behaviour
//! itself is `tests/demo.rs`.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The commands of the first ```sh block under "Two commands on a fresh machine".
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("## Two commands on a fresh machine")
        .nth(1)
        .expect("the README has the two-commands section near the top");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in that section");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_names_the_demo_and_the_command_ci_runs() {
    assert_eq!(
        readme_commands(),
        vec!["cargo run --release -p ferry-cli -- demo", "scripts/test"]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let last = ci
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap();
    assert_eq!(
        last, "exec scripts/test",
        "CI runs exactly the README's test command"
    );
    assert!(root().join("scripts/test").is_file());
    // …which follows the README's demo command on a fresh clone.
    let test = std::fs::read_to_string(root().join("scripts/test")).expect("scripts/test");
    assert!(
        test.lines().any(|l| l.trim() == "scripts/readme-check"),
        "scripts/test runs scripts/readme-check"
    );
}
