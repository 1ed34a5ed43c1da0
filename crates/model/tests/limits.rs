//! Limits of what one document may build (issue 23): documents of kinds
//! ferry does not read are scanned, never built, so large non-resource
//! YAML costs no memory; a document of a kind it reads may hold at most
//! `Limits::max_nodes` nodes; nesting is bounded everywhere. Every refusal
//! names the file, line and column.

use std::borrow::Cow;

use ferry_model::{Diagnostic, FileInput, Limits, Loaded, Severity, SourceFile, load, load_each};

fn load_limited(files: &[(&str, String)], max_nodes: usize) -> Loaded {
    load_each(files.len(), Limits { max_nodes }, false, |i| FileInput {
        path: files[i].0.to_owned(),
        text: Ok(Cow::Borrowed(files[i].1.as_str())),
    })
}

fn shown(loaded: &Loaded) -> Vec<String> {
    loaded
        .diagnostics
        .iter()
        .map(Diagnostic::to_string)
        .collect()
}

const ENVIRONMENT: &str = "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  kind: NON_PROD\n  clusters: [{name: in-cluster}]\n";

#[test]
fn a_list_of_integers_is_refused_at_its_first_line_and_the_file_read_on() {
    let mut text: String = (0..200_000).map(|i| format!("- {i}\n")).collect();
    text.push_str("---\n");
    text.push_str(ENVIRONMENT);
    let loaded = load(&[SourceFile {
        path: "numbers.yaml".into(),
        text,
    }]);
    assert_eq!(
        shown(&loaded),
        [
            "numbers.yaml:1:1: error: expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found a list"
        ]
    );
    assert_eq!(loaded.config.environments.len(), 1);
}

#[test]
fn other_yaml_of_any_size_is_noted_not_refused() {
    let values: String = (0..2_000)
        .map(|i| format!("service{i}:\n  image: {{repository: r/{i}, tag: \"1.{i}\"}}\n"))
        .collect();
    let config_map = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata:\n{}",
        (0..2_000)
            .map(|i| format!("  k{i}: v{i}\n"))
            .collect::<String>()
    );
    let loaded = load_limited(&[("values.yaml", values), ("cm.yaml", config_map)], 100);
    assert_eq!(
        shown(&loaded),
        [
            "values.yaml:1:1: note: ignored: not a Kubernetes resource (no `kind`)",
            "cm.yaml:1:1: note: kind: ignored: `ConfigMap` (v1) is not a kind ferry reads",
        ]
    );
    assert!(!loaded.has_errors());
}

#[test]
fn a_resource_over_the_node_limit_is_an_error_where_the_limit_is_crossed() {
    let labels: String = (0..100).map(|i| format!("    l{i}: v{i}\n")).collect();
    let text = format!(
        "{ENVIRONMENT}---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: big\n  labels:\n{labels}spec:\n  destination: {{name: in-cluster}}\n"
    );
    let loaded = load_limited(&[("apps.yaml", text.clone())], 60);
    let errors: Vec<&Diagnostic> = loaded.errors().collect();
    assert_eq!(errors.len(), 1, "{:?}", shown(&loaded));
    let e = errors[0];
    assert_eq!(
        (e.file.as_str(), e.severity),
        ("apps.yaml", Severity::Error)
    );
    assert_eq!(
        e.message,
        "this Application is too large to read: it has more than 60 YAML nodes, the limit of one document (`configMaxDocumentNodes`)"
    );
    let line = text.lines().nth(e.line as usize - 1).unwrap_or("");
    assert!(
        line.starts_with("    l"),
        "points into the labels: {e} ({line:?})"
    );
    // The other resource of the file is read.
    assert_eq!(loaded.config.environments.len(), 1);
    assert!(loaded.config.applications.is_empty());
    // Within the default limit the same file loads.
    assert!(!load_limited(&[("apps.yaml", text)], 100_000).has_errors());
}

#[test]
fn a_kind_written_after_the_limit_still_decides() {
    let data: String = (0..100).map(|i| format!("  k{i}: v{i}\n")).collect();
    let late = |kind: &str, api: &str| {
        format!("metadata: {{name: late}}\nspec:\n{data}apiVersion: {api}\nkind: {kind}\n")
    };
    let read = load_limited(&[("p.yaml", late("Product", "codefresh.io/v1beta1"))], 50);
    assert_eq!(read.errors().count(), 1, "{:?}", shown(&read));
    assert!(
        shown(&read)[0].contains("this Product is too large to read"),
        "{:?}",
        shown(&read)
    );
    let other = load_limited(&[("c.yaml", late("ConfigMap", "v1"))], 50);
    assert_eq!(
        shown(&other),
        ["c.yaml:1:1: note: kind: ignored: `ConfigMap` (v1) is not a kind ferry reads"]
    );
}

#[test]
fn nesting_is_limited_in_documents_ferry_reads() {
    let nested = |kind: &str, api: &str| {
        format!(
            "apiVersion: {api}\nkind: {kind}\nmetadata: {{name: deep}}\nspec: {}{}\n",
            "[".repeat(300),
            "]".repeat(300)
        )
    };
    let loaded = load_limited(
        &[("deep.yaml", nested("Product", "codefresh.io/v1beta1"))],
        100_000,
    );
    let errors: Vec<String> = loaded.errors().map(Diagnostic::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("deep.yaml:4:")
            && (errors[0].contains("nesting deeper than 200 levels")
                || errors[0].contains("recursion limit")),
        "{errors:?}"
    );
    // A document of another kind is not parsed past its kind.
    let loaded = load_limited(&[("deep.yaml", nested("ConfigMap", "v1"))], 100_000);
    assert!(!loaded.has_errors(), "{:?}", shown(&loaded));
}

/// A document ferry does not read is skipped from its `kind` to the next
/// document marker without being parsed (so a YAML error inside it is not
/// ferry's to report), and what follows keeps its true line numbers.
#[test]
fn skipped_documents_keep_the_positions_of_what_follows() {
    let text = "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\nkind: Product\nbroken: [\n--- # next\n\n...\n%YAML 1.2\n---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  kind: NON_PROD\n  clusterz: []\n---\n- a list\n- that is skipped\n---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: qa}\nspec: {kind: PROD, orderr: 1}\r\n---\r\n[1, 2\r\n";
    let loaded = load_limited(&[("mixed.yaml", text.to_owned())], 100_000);
    assert_eq!(
        shown(&loaded),
        [
            "mixed.yaml:1:1: note: kind: ignored: `ConfigMap` (v1) is not a kind ferry reads",
            "mixed.yaml:16:3: warning: spec.clusters: environment `dev` lists no clusters: only applications labelled `ferry.io/environment: dev` belong to it",
            "mixed.yaml:17:3: warning: spec.clusterz: unknown field `clusterz` is ignored (expected `kind`, `order` or `clusters`); did you mean `clusters`?",
            "mixed.yaml:19:1: error: expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found a list",
            "mixed.yaml:25:7: warning: spec.clusters: environment `qa` lists no clusters: only applications labelled `ferry.io/environment: qa` belong to it",
            "mixed.yaml:25:20: warning: spec.orderr: unknown field `orderr` is ignored (expected `kind`, `order` or `clusters`); did you mean `order`?",
            // Refused at its first node; the unclosed list is not parsed.
            "mixed.yaml:27:1: error: expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found a list",
        ]
    );
}
