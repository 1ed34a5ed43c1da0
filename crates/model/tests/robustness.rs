//! The loader on hostile input: never a panic, every diagnostic inside the
//! input. (The cargo-fuzz target in `fuzz/` explores the same property with
//! coverage guidance; this runs in every CI build.)

use ferry_model::{FlowGraph, Membership, SourceFile, load};
use proptest::prelude::*;

const SEED: &str = r#"apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: f, labels: {a: "1"}}
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {action: pr, preAction: x}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: PROD, clusters: [{name: c, namespaces: ["*"]}]}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: a-dev
  annotations: {codefresh.io/product: p}
spec:
  source: {repoURL: u, path: p}
  destination: {name: c, namespace: n}
"#;

fn check(text: &str) {
    // YAML counts `\n`, `\r\n` and a lone `\r` as line breaks.
    let breaks =
        text.matches('\n').count() + text.matches('\r').count() - text.matches("\r\n").count();
    // End-of-input errors may point one line past the last break.
    let lines = breaks as u32 + 2;
    let loaded = load(&[SourceFile {
        path: "x.yaml".into(),
        text: text.to_owned(),
    }]);
    for d in &loaded.diagnostics {
        assert!(d.line <= lines, "diagnostic outside the input: {d}");
    }
    let m = Membership::compute(&loaded.config);
    for p in m.products.keys() {
        for e in &loaded.config.environments {
            let _ = ferry_model::evaluate(&loaded.config, p, e.name(), None, m.product(p));
        }
    }
    for f in &loaded.config.flows {
        let _ = FlowGraph::build(f);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_yaml_like_text(text in "[a-zA-Z:{}\\[\\],\\-\"' \n#&*!|>.0-9]{0,300}") {
        check(&text);
    }

    /// Mutations of a valid multi-document file: delete, duplicate or
    /// replace a byte range.
    #[test]
    fn mutated_manifests(start in 0usize..SEED.len(), len in 0usize..40, op in 0u8..3, junk in "[a-z:\\[\\]{}\\- \n]{0,12}") {
        let end = (start + len).min(SEED.len());
        let (start, end) = (floor(SEED, start), floor(SEED, end));
        let text = match op {
            0 => format!("{}{}", &SEED[..start], &SEED[end..]),
            1 => format!("{}{}{}", &SEED[..end], &SEED[start..end], &SEED[end..]),
            _ => format!("{}{}{}", &SEED[..start], junk, &SEED[end..]),
        };
        check(&text);
    }
}

fn floor(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Inputs the fuzzer found (kept so they stay fixed).
#[test]
fn fuzz_regressions() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = String::from_utf8(std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        check(&text);
        n += 1;
    }
    assert!(n > 0);
}

#[test]
fn seed_is_valid_apart_from_the_missing_workflow() {
    let loaded = load(&[SourceFile {
        path: "x.yaml".into(),
        text: SEED.into(),
    }]);
    assert!(
        loaded
            .errors()
            .all(|d| d.message.contains("does not exist")),
        "{:?}",
        loaded.diagnostics
    );
}
