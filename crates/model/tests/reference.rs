//! docs/configuration.md cannot drift from the types the parser uses.
//!
//! Every ```yaml example of the reference is loaded with the real loader
//! (together, as one configuration: no errors, no warnings), and each one
//! again under [`record_fields`], which reports every struct the
//! deserialiser reached with the fields the type accepts. The test fails when
//! (a) a field of a type appears in no example (the examples are complete,
//! recursively), (b) a field path the types have is missing from the
//! section's table, or (c) a table lists a path the types do not have.
//! WorkflowTemplate specs are kept whole by the model and typed by
//! ferry-workflow; their `spec.…` rows are checked by that crate's
//! `tests/reference.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ferry_model::yaml::de::{RecordedStruct, record_fields};
use ferry_model::{SourceFile, load};

const COMMON: &str = "Common fields";

#[derive(Debug, Default)]
struct Section {
    title: String,
    examples: Vec<String>,
    rows: Vec<String>,
}

fn sections(doc: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if let Some(title) = line.strip_prefix("## ") {
            out.push(Section {
                title: title.trim().to_owned(),
                ..Section::default()
            });
            continue;
        }
        let Some(section) = out.last_mut() else {
            continue;
        };
        if line.trim_end() == "```yaml" {
            let mut text = String::new();
            for l in lines.by_ref() {
                if l.trim_end() == "```" {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            section.examples.push(text);
        } else if let Some(rest) = line.strip_prefix("| `") {
            let path = rest.split('`').next().unwrap_or_default();
            section.rows.push(path.to_owned());
        }
    }
    out
}

/// The `kind:` of every document of an example.
fn kinds_of(example: &str) -> BTreeSet<String> {
    example
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .map(|k| k.trim().to_owned())
        .collect()
}

/// Field paths as the tables write them. The older PromotionFlow layout
/// holds the same FlowBody under `spec.properties`; its table is the
/// `spec.` one.
fn field_path(kind: &str, r: &RecordedStruct, field: &str) -> String {
    let base = if kind == "PromotionFlow" {
        match r.path.strip_prefix("spec.properties") {
            Some(rest) => format!("spec{rest}"),
            None => r.path.clone(),
        }
    } else {
        r.path.clone()
    };
    if base.is_empty() {
        field.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

#[test]
fn configuration_reference_matches_the_types() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    let doc = std::fs::read_to_string(&file).expect("docs/configuration.md");
    let sections = sections(&doc);

    // Every example, together, is a valid configuration.
    let mut files = Vec::new();
    for s in &sections {
        for (i, e) in s.examples.iter().enumerate() {
            files.push(SourceFile {
                path: format!("configuration.md ({} #{})", s.title, i + 1),
                text: e.clone(),
            });
        }
    }
    assert!(files.len() >= 10, "examples not found: {}", files.len());
    let loaded = load(&files);
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        problems.is_empty(),
        "the examples must load cleanly:\n{}",
        problems.join("\n")
    );

    // Record each example's structs, attributed to its kind.
    let mut recorded: BTreeSet<(String, String)> = BTreeSet::new();
    // struct name -> (accepted fields, fields seen in some example, a path where it occurs)
    let mut types: BTreeMap<&'static str, (&'static [&'static str], BTreeSet<&str>, String)> =
        BTreeMap::new();
    let mut section_kind: BTreeMap<String, String> = BTreeMap::new();
    for (s, f) in sections
        .iter()
        .flat_map(|s| s.examples.iter().map(move |e| (s, e)))
        .zip(&files)
        .map(|((s, _), f)| (s, f))
    {
        let kinds = kinds_of(&f.text);
        assert_eq!(kinds.len(), 1, "{}: one kind per example", f.path);
        let kind = kinds.into_iter().next().unwrap();
        if s.title != COMMON {
            let previous = section_kind.insert(s.title.clone(), kind.clone());
            assert!(
                previous.is_none_or(|p| p == kind),
                "section {} mixes kinds",
                s.title
            );
        }
        let (_, structs) = record_fields(|| load(std::slice::from_ref(f)));
        assert!(!structs.is_empty(), "{}: nothing recorded", f.path);
        for r in &structs {
            let entry = types
                .entry(r.name)
                .or_insert_with(|| (r.fields, BTreeSet::new(), r.path.clone()));
            entry.1.extend(r.present.iter().copied());
            for field in r.fields {
                recorded.insert((kind.clone(), field_path(&kind, r, field)));
            }
        }
    }
    assert_eq!(
        section_kind.values().cloned().collect::<BTreeSet<_>>(),
        [
            "Application",
            "Environment",
            "Product",
            "PromotionFlow",
            "PromotionPolicy",
            "PromotionTemplate",
            "PromotionWindow",
            "WorkflowTemplate"
        ]
        .map(String::from)
        .into(),
        "one section per kind ferry reads"
    );

    let mut failures = Vec::new();
    // (a) Examples are complete.
    for (name, (fields, present, at)) in &types {
        for f in fields.iter() {
            if !present.contains(f) {
                failures.push(format!(
                    "(a) field `{f}` of {name} (at `{at}`) appears in no example"
                ));
            }
        }
    }
    let common: BTreeSet<&str> = sections
        .iter()
        .filter(|s| s.title == COMMON)
        .flat_map(|s| s.rows.iter().map(String::as_str))
        .collect();
    assert!(common.contains("metadata.name"), "common section missing");
    let rows_of = |kind: &str| -> BTreeSet<&str> {
        sections
            .iter()
            .filter(|s| section_kind.get(&s.title).map(String::as_str) == Some(kind))
            .flat_map(|s| s.rows.iter().map(String::as_str))
            .collect()
    };
    // (b) Every path the types have is documented.
    for (kind, path) in &recorded {
        if !rows_of(kind).contains(path.as_str()) && !common.contains(path.as_str()) {
            failures.push(format!("(b) {kind}: `{path}` is missing from the table"));
        }
    }
    // (c) Every documented path exists.
    for kind in section_kind.values().collect::<BTreeSet<_>>() {
        for row in rows_of(kind) {
            if kind == "WorkflowTemplate" && row.starts_with("spec.") {
                continue; // typed by ferry-workflow, checked there
            }
            if !recorded.contains(&(kind.clone(), row.to_owned())) {
                failures.push(format!(
                    "(c) {kind}: the table lists `{row}`, which the types do not have"
                ));
            }
        }
    }
    for row in &common {
        if !recorded.iter().any(|(_, p)| p == row) {
            failures.push(format!(
                "(c) common: the table lists `{row}`, which no type has"
            ));
        }
    }
    // A row documented twice is a sign of a copy-paste slip.
    for s in &sections {
        let mut seen = BTreeSet::new();
        for r in &s.rows {
            if !seen.insert(r) {
                failures.push(format!("section {}: `{r}` is listed twice", s.title));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "docs/configuration.md is out of date with the types:\n{}",
        failures.join("\n")
    );
}

/// The checks above can fail: a type field missing from a table, a table row
/// the types lack, and a field missing from every example are each caught.
#[test]
fn the_checks_catch_drift() {
    let env = "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata:\n  name: dev\nspec:\n  kind: PROD\n";
    let (_, structs) = record_fields(|| {
        load(&[SourceFile {
            path: "e.yaml".into(),
            text: env.into(),
        }])
    });
    let spec = structs
        .iter()
        .find(|r| r.name == "EnvironmentSpec")
        .expect("EnvironmentSpec recorded");
    assert_eq!(spec.path, "spec");
    assert_eq!(spec.fields, ["kind", "order", "clusters"]);
    assert_eq!(
        spec.present,
        ["kind"],
        "order and clusters are absent: (a) fires"
    );
    let paths: BTreeSet<String> = spec
        .fields
        .iter()
        .map(|f| field_path("Environment", spec, f))
        .collect();
    assert!(paths.contains("spec.clusters"));
    let doc = "## Environment\n\n```yaml\nkind: Environment\n```\n\n| `spec.kind` | x |\n| `spec.nope` | y |\n";
    let s = sections(doc);
    assert_eq!(s[0].rows, ["spec.kind", "spec.nope"]);
    assert!(!paths.contains("spec.nope"), "(c) fires for spec.nope");
    assert!(
        !s[0].rows.contains(&"spec.order".to_owned()),
        "(b) fires for spec.order"
    );
}
