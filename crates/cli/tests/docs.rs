//! The generated references in `docs/` match the binary, and `--version`
//! names the commit.

use std::path::Path;
use std::process::Command;

fn ferry(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("run ferry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn cli_reference_lists_every_command_and_flag() {
    let generated = ferry(&["docs", "cli"]);
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
    let committed = std::fs::read_to_string(&file).expect("docs/cli.md");
    assert!(
        committed == generated,
        "docs/cli.md is out of date: run `cargo run -p ferry-cli -- docs cli > docs/cli.md`"
    );
    // The generator itself covers what the binary accepts.
    for needle in [
        "`ferry serve`",
        "`ferry release show`",
        "`--watch`",
        "`ferry demo`",
        "`--output <OUTPUT>`",
    ] {
        assert!(generated.contains(needle), "{needle} missing");
    }
    assert!(
        !generated.contains("`ferry docs`"),
        "hidden commands stay out"
    );
}

#[test]
fn version_names_the_commit() {
    let v = ferry(&["--version"]);
    let rest = v
        .trim()
        .strip_prefix(concat!("ferry ", env!("CARGO_PKG_VERSION"), " (commit "))
        .unwrap_or_else(|| panic!("unexpected version line {v:?}"));
    let sha = rest.strip_suffix(')').expect("closing parenthesis");
    assert!(
        sha == "unknown" || (sha.len() == 12 && sha.chars().all(|c| c.is_ascii_hexdigit())),
        "{sha}"
    );
}

#[test]
fn config_fields_prints_every_field_path_per_kind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flow.yaml");
    std::fs::write(
        &file,
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps: [{environment: qa}]\n",
    )
    .unwrap();
    let out = ferry(&["docs", "config-fields", file.to_str().unwrap()]);
    assert!(out.starts_with("## PromotionFlow\n"), "{out}");
    for row in [
        "| `spec.triggerEnvironment` | | | (FlowBody.triggerEnvironment) |",
        "| `spec.steps[].dependsOn` | | | (FlowStep.dependsOn) |",
        "| `metadata.labels` | | | (ObjectMeta.labels) |",
    ] {
        assert!(out.contains(row), "{row} missing from\n{out}");
    }
    // Fields of types the example does not reach are not guessed.
    assert!(!out.contains("spec.steps[].policy.action"), "{out}");
}
