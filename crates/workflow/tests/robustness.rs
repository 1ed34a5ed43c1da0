//! Bad input never panics: every corpus template with each field removed or
//! replaced by a value of the wrong type either parses or fails with an error
//! naming a path; and when it parses, a local run ends with a status.

mod common;

use std::path::Path;

use common::*;
use ferry_workflow::{LocalExecutor, WorkflowTemplate};
use serde_json::Value;

/// Every JSON pointer in `v` (objects and arrays).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(c, p, out);
            }
        }
        _ => {}
    }
}

fn mutations(doc: &Value) -> Vec<Value> {
    let mut ptrs = Vec::new();
    pointers(doc, String::new(), &mut ptrs);
    let mut out = Vec::new();
    for p in ptrs {
        for replacement in [
            Value::Null,
            Value::from(7),
            Value::from("{{x}}"),
            Value::Array(vec![]),
            serde_json::json!({"y": 1}),
        ] {
            let mut d = doc.clone();
            if let Some(slot) = d.pointer_mut(&p) {
                *slot = replacement;
                out.push(d);
            }
        }
        // Removal.
        let (parent, key) = p.rsplit_once('/').unwrap();
        let mut d = doc.clone();
        let target = if parent.is_empty() {
            Some(&mut d)
        } else {
            d.pointer_mut(parent)
        };
        match target {
            Some(Value::Object(m)) => {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = key.parse::<usize>() {
                    a.remove(i);
                }
            }
            _ => {}
        }
        out.push(d);
    }
    out
}

#[test]
fn mutated_templates_never_panic_and_errors_name_a_path() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut parsed = 0;
    let mut rejected = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        for m in mutations(&doc) {
            match WorkflowTemplate::from_value(&m, "mutant.yaml") {
                Ok(t) => {
                    let _ = t.local_unsupported();
                    parsed += 1;
                }
                Err(e) => {
                    assert!(e.to_string().starts_with("mutant.yaml: "), "{e}");
                    rejected += 1;
                }
            }
        }
    }
    assert!(
        parsed > 100 && rejected > 100,
        "parsed {parsed}, rejected {rejected}"
    );
}

/// Runs structurally valid mutants of a few corpus templates: each run must end
/// (any status) without the executor panicking. Mutants that would start
/// network or sleep-heavy steps are avoided by the choice of templates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_templates_run_to_an_end() {
    let exec = LocalExecutor::default();
    let mut ended = 0;
    for file in [
        "echo-params.yaml",
        "smoke-tests-dag.yaml",
        "version-check.yaml",
        "prod-gate.yaml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/corpus")
            .join(file);
        let doc: Value = yaml_serde::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let p = params(&[
            ("APP_NAME", "web"),
            ("ENVIRONMENT", "qa"),
            ("VERSION", "1.2.3"),
        ]);
        for m in mutations(&doc) {
            let Ok(t) = WorkflowTemplate::from_value(&m, "mutant.yaml") else {
                continue;
            };
            let (_id, outcome, _u) = run_to_end(&exec, &t, &p).await;
            assert!(outcome.status.is_final(), "{outcome:?}");
            ended += 1;
        }
    }
    assert!(ended > 50, "{ended}");
}

/// Random `depends` and `when` texts over the characters that matter: every
/// run ends, and malformed ones end in ERROR rather than a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_conditions_never_panic() {
    let tokens = [
        "a",
        "a.Succeeded",
        "a.Failed",
        "a.Skipped",
        "a.Bogus",
        "&&",
        "||",
        "!",
        "(",
        ")",
        "==",
        "'",
        "\"",
        "&",
        "{{",
        "}}",
        "\u{e9}",
        ".",
        "b",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let exec = LocalExecutor::default();
    let (mut errors, mut runs) = (0, 0);
    for _ in 0..600 {
        let len = 1 + (next() % 6) as usize;
        let s: Vec<&str> = (0..len)
            .map(|_| tokens[(next() % tokens.len() as u64) as usize])
            .collect();
        let s = s.join(" ");
        let doc = serde_json::json!({
            "kind": "WorkflowTemplate", "metadata": {"name": "gen"},
            "spec": {"entrypoint": "m", "templates": [
                {"name": "m", "dag": {"tasks": [
                    {"name": "a", "template": "t"},
                    {"name": "b", "template": "t", "depends": s, "when": s}]}},
                {"name": "t", "container": {"command": ["true"]}}]}});
        let t = WorkflowTemplate::from_value(&doc, "gen.yaml").unwrap();
        let (_id, outcome, _u) = run_to_end(&exec, &t, &params(&[])).await;
        assert!(outcome.status.is_final(), "{s:?}: {outcome:?}");
        runs += 1;
        if outcome.status == ferry_workflow::StepStatus::Error {
            errors += 1;
        }
    }
    assert!(errors > 0 && errors < runs, "{errors} of {runs}");
}
