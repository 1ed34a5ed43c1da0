//! The WorkflowTemplate section of docs/configuration.md matches what this
//! crate models, and its example runs.
//!
//! The model keeps WorkflowTemplates whole; this crate types the subset the
//! local executor runs (`template.rs`, where every struct collects the fields
//! it does not model). So the example (a) must use no field this crate does
//! not model (`local_unsupported` is empty) and must run to success on the
//! local executor, and (b, c) the section's `spec.…` table must list exactly
//! the field paths the example uses.

use std::collections::BTreeSet;
use std::path::Path;

use ferry_workflow::{
    LocalExecutor, StepStatus, WorkflowTemplate, parse_parameters, run_and_follow,
};
use serde_json::Value;

fn section(doc: &str) -> (Vec<String>, Vec<String>) {
    let start = doc
        .find("\n## WorkflowTemplate")
        .expect("WorkflowTemplate section");
    let body = &doc[start + 1..];
    let body = match body[3..].find("\n## ") {
        Some(end) => &body[..end + 3],
        None => body,
    };
    let (mut examples, mut rows) = (Vec::new(), Vec::new());
    let mut lines = body.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() == "```yaml" {
            let mut text = String::new();
            for l in lines.by_ref() {
                if l.trim_end() == "```" {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            examples.extend(text.split("\n---\n").map(str::to_owned));
        } else if let Some(rest) = line.strip_prefix("| `") {
            rows.push(rest.split('`').next().unwrap_or_default().to_owned());
        }
    }
    (examples, rows)
}

/// Paths below `spec`, with list indexes written `[]`: the leaves (scalars,
/// lists of scalars), which the table must list, and every path, which is
/// what the table may list.
fn paths(v: &Value, path: &str, leaves: &mut BTreeSet<String>, all: &mut BTreeSet<String>) {
    all.insert(path.to_owned());
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                paths(v, &format!("{path}.{k}"), leaves, all);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for i in items {
                paths(i, &format!("{path}[]"), leaves, all);
            }
        }
        _ => {
            leaves.insert(path.to_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_template_reference_matches_the_types() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&file).expect("docs/configuration.md");
    let (examples, rows) = section(&doc);
    assert!(!examples.is_empty() && !rows.is_empty());
    let (mut leaves, mut all) = (BTreeSet::new(), BTreeSet::new());
    let runner = LocalExecutor::default();
    for (i, text) in examples.iter().enumerate() {
        let v: Value = yaml_serde::from_str(text).expect("example parses");
        let name = format!("configuration.md WorkflowTemplate #{}", i + 1);
        let t = WorkflowTemplate::from_value(&v, &name).expect("example is a WorkflowTemplate");
        assert!(
            t.is_promotion_workflow(),
            "{name}: annotated as a promotion workflow"
        );
        assert!(
            t.local_unsupported().is_empty(),
            "{name}: fields the local executor does not support: {:?}",
            t.local_unsupported()
        );
        let params = parse_parameters(&["APP_NAME=web"]).expect("parameters");
        let (_, outcome) = run_and_follow(&runner, &t, &params, |_| {})
            .await
            .expect("example runs");
        assert_eq!(outcome.status, StepStatus::Success, "{name}: {outcome:?}");
        paths(&v["spec"], "spec", &mut leaves, &mut all);
    }
    let documented: BTreeSet<String> = rows
        .into_iter()
        .filter(|r| r.starts_with("spec."))
        .collect();
    let undocumented: Vec<_> = leaves.difference(&documented).collect();
    let unused: Vec<_> = documented.difference(&all).collect();
    assert!(
        undocumented.is_empty() && unused.is_empty(),
        "docs/configuration.md WorkflowTemplate: used in the example but not in the table: {undocumented:?}; in the table but not in the example: {unused:?}"
    );
}
