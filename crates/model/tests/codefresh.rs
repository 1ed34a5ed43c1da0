//! Codefresh compatibility (SPEC §12): every example of Codefresh's
//! documentation loads with no error and no warning, and every field of
//! Codefresh's published CRDs is in docs/configuration.md's "Codefresh
//! compatibility" table, honoured (documented in its kind's table, which
//! `tests/reference.rs` ties to the types) or refused (an error).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferry_model::{Severity, SourceFile, load};

fn data(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/codefresh")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the examples refer to and Codefresh keeps outside the manifests
/// (environments are made in its UI) or in other files: written here, not
/// vendored.
const CONTEXT: &str = "\
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-dev]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-qa]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: staging}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-staging]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {kind: PROD, clusters: [{name: in-cluster, namespaces: [demo-prod]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: production}
spec: {kind: PROD, clusters: [{name: prod-cluster}]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionTemplate
metadata: {name: gs-promotion-template}
spec:
  versionSource: {file: Chart.yaml, jsonPath: $.appVersion}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionTemplate
metadata: {name: demo-trioapp-template}
spec:
  versionSource: {file: values.yaml, jsonPath: $.image.tag}
---
apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: demo-trioapp}
spec:
  promotionTemplateRef: demo-trioapp-template
---
apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: trio-dev}
spec:
  promotionTemplateRef: gs-promotion-template
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: to-prod}
spec: {triggerEnvironment: dev, steps: [{environment: prod}]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: demo}
spec: {triggerEnvironment: dev, steps: [{environment: qa}]}
";

/// Promotion workflows the examples name.
const WORKFLOWS: &[&str] = &[
    "slack-start-hook",
    "simple-fail",
    "jira-open-bug",
    "success-hook-test",
    "slack-fail-hook",
    "pre-action",
    "post-action",
    "smoke-tests",
    "slack-notification",
];

fn context() -> Vec<SourceFile> {
    let workflows: Vec<String> = WORKFLOWS
        .iter()
        .map(|name| {
            format!(
                "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n  name: {name}\n  annotations: {{codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      container: {{image: alpine, command: [\"true\"]}}\n"
            )
        })
        .collect();
    vec![
        SourceFile {
            path: "context/resources.yaml".into(),
            text: CONTEXT.into(),
        },
        SourceFile {
            path: "context/workflows.yaml".into(),
            text: workflows.join("---\n"),
        },
    ]
}

/// Loads one vendored example with the context; fails on any error or warning.
fn load_example(name: &str) -> ferry_model::Loaded {
    let mut files = context();
    files.push(SourceFile {
        path: name.into(),
        text: data(name),
    });
    let loaded = load(&files);
    let problems: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .map(ToString::to_string)
        .collect();
    assert!(
        problems.is_empty(),
        "{name} must load with no error and no warning:\n{}",
        problems.join("\n")
    );
    loaded
}

#[test]
fn the_context_alone_is_clean() {
    let loaded = load(&context());
    assert!(loaded.diagnostics.is_empty(), "{:?}", loaded.diagnostics);
}

#[test]
fn product_example() {
    let loaded = load_example("product-crd.yaml");
    let p = loaded.config.product("helm-guestbook").expect("product");
    let inline = p.spec.promotion_template.as_ref().expect("inline template");
    let files: Vec<&str> = inline
        .promotion
        .as_ref()
        .expect("promotion")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        files,
        [
            "Chart.yaml",
            "requirements.yaml",
            "values.yaml",
            "version.yaml"
        ]
    );
    let flows: Vec<&str> = p
        .spec
        .promotion_flows
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(flows, ["to-prod", "demo"]);
    // Both a ref and an inline template: said, as a note, not a warning.
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Note
                && d.field == "spec.promotionTemplateRef"
                && d.message.contains("inline template wins"))
    );
}

#[test]
fn promotion_flow_example() {
    let loaded = load_example("promotion-flow-crd.yaml");
    let f = loaded.config.flow("global-parallel-flow").expect("flow");
    assert!(!f.spec.legacy_layout);
    assert_eq!(f.spec.body.steps.len(), 2);
    assert_eq!(
        f.spec
            .body
            .hooks
            .as_ref()
            .and_then(|h| h.on_fail.as_deref()),
        Some("slack-fail-hook")
    );
    assert_eq!(
        f.timeout(),
        Duration::from_secs(24 * 3600),
        "the documented default"
    );
}

#[test]
fn promotion_flow_example_in_the_older_layout() {
    let loaded = load_example("promotion-flow-crd-properties-layout.yaml");
    let f = loaded.config.flow("global-parallel-flow").expect("flow");
    assert!(f.spec.legacy_layout);
    let envs: Vec<&str> = f
        .spec
        .body
        .steps
        .iter()
        .map(|s| s.environment.as_str())
        .collect();
    assert_eq!(envs, ["qa", "staging", "production"]);
}

#[test]
fn quick_start_flows_honour_their_five_minute_timeout() {
    for name in [
        "quick-start-sequential-flow.yaml",
        "quick-start-dependency-flow.yaml",
    ] {
        let loaded = load_example(name);
        let f = loaded
            .config
            .flow("multi-env-sequential-promotion")
            .expect("flow");
        assert_eq!(f.spec.body.promotion_timeout_limit, Some(5), "{name}");
        assert_eq!(f.timeout(), Duration::from_secs(5 * 60), "{name}: minutes");
    }
}

#[test]
fn promotion_policy_example() {
    let loaded = load_example("promotion-policy-crd.yaml");
    let eval = ferry_model::evaluate(&loaded.config, "trio-dev", "staging", None, None);
    assert_eq!(eval.candidates, ["demo-policy"]);
    assert_eq!(eval.pre_action.value.as_deref(), Some("smoke-tests"));
    assert_eq!(
        eval.post_action.value.as_deref(),
        Some("slack-notification")
    );
    let other = ferry_model::evaluate(&loaded.config, "trio-dev", "prod", None, None);
    assert!(
        other.candidates.is_empty(),
        "staging/NON_PROD only: {other:?}"
    );
}

#[test]
fn promotion_template_example() {
    let loaded = load_example("promotion-template-crd.yaml");
    let t = loaded.config.template("base-helm").expect("template");
    assert_eq!(t.spec.priority, 1);
    assert_eq!(
        t.spec.version_source.as_ref().map(|v| v.json_path.as_str()),
        Some("$appVersion"),
        "the legacy form is accepted as written"
    );
}

#[test]
fn quick_start_applications() {
    for (env, name) in [
        ("dev", "quick-start-application-dev.yaml"),
        ("qa", "quick-start-application-qa.yaml"),
        ("prod", "quick-start-application-prod.yaml"),
    ] {
        let loaded = load_example(name);
        let membership = ferry_model::Membership::compute(&loaded.config);
        let product = membership.product("demo-trioapp").expect("product");
        assert!(
            product
                .members
                .iter()
                .any(|m| m.environment.name() == Some(env)),
            "{name}: in {env}: {product:?}"
        );
    }
}

/// Every field of Codefresh's CRDs (see the README beside the examples), by
/// kind, paths written as in docs/configuration.md (`[]` every list item,
/// `*` any map key).
const CRD_FIELDS: &[(&str, &[&str])] = &[
    // products.codefresh.io v1beta1, and v1beta2 (which adds `spec.concurrency`)
    (
        "Product",
        &[
            "spec.promotionTemplateRef",
            "spec.promotionTemplate",
            "spec.promotionTemplate.versionSource",
            "spec.promotionTemplate.versionSource.file",
            "spec.promotionTemplate.versionSource.jsonPath",
            "spec.promotionTemplate.promotion",
            "spec.promotionTemplate.promotion.*.jsonPaths",
            "spec.promotionFlows",
            "spec.promotionFlows[].name",
            "spec.promotionFlows[].gitTriggerSelectors",
            "spec.promotionFlows[].gitTriggerSelectors[].key",
            "spec.promotionFlows[].gitTriggerSelectors[].operator",
            "spec.promotionFlows[].gitTriggerSelectors[].values",
            "spec.concurrency",
        ],
    ),
    // promotionflows.codefresh.io v1beta1
    (
        "PromotionFlow",
        &[
            "spec.triggerEnvironment",
            "spec.steps",
            "spec.steps[].environment",
            "spec.steps[].dependsOn",
            "spec.steps[].policy",
            "spec.steps[].policy.action",
            "spec.steps[].policy.preAction",
            "spec.steps[].policy.postAction",
            "spec.steps[].hooks",
            "spec.steps[].hooks.onStart",
            "spec.steps[].hooks.onSuccess",
            "spec.steps[].hooks.onFail",
            "spec.hooks",
            "spec.hooks.onStart",
            "spec.hooks.onSuccess",
            "spec.hooks.onFail",
            "spec.promotionTimeoutLimit",
            "spec.postTrigger",
        ],
    ),
    // promotionpolicies.codefresh.io v1beta1
    (
        "PromotionPolicy",
        &[
            "spec.priority",
            "spec.selector",
            "spec.selector.product",
            "spec.selector.product.names",
            "spec.selector.product.tags",
            "spec.selector.targetEnvironment",
            "spec.selector.targetEnvironment.names",
            "spec.selector.targetEnvironment.types",
            "spec.selector.targetEnvironment.tags",
            "spec.policy",
            "spec.policy.action",
            "spec.policy.preAction",
            "spec.policy.postAction",
            "status",
        ],
    ),
    // promotiontemplates.codefresh.io v1beta1
    (
        "PromotionTemplate",
        &[
            "spec.applicationSourceSelector",
            "spec.applicationSourceSelector.matchLabels",
            "spec.applicationSourceSelector.matchExpressions",
            "spec.applicationSourceSelector.matchExpressions[].key",
            "spec.applicationSourceSelector.matchExpressions[].operator",
            "spec.applicationSourceSelector.matchExpressions[].values",
            "spec.priority",
            "spec.versionSource",
            "spec.versionSource.file",
            "spec.versionSource.jsonPath",
            "spec.promotion",
            "spec.promotion.*.jsonPaths",
        ],
    ),
];

/// For each refused field, a manifest that uses it (in an otherwise valid
/// resource): loading it must fail at that field.
const REFUSED_CASES: &[(&str, &str, &str)] = &[(
    "PromotionFlow",
    "spec.postTrigger",
    "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  postTrigger: smoke-tests\n  steps: [{environment: qa}]\n",
)];

fn doc() -> String {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
    std::fs::read_to_string(path).expect("docs/configuration.md")
}

/// The text of the `## title` section.
fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let head = format!("\n## {title}\n");
    let start = doc
        .find(&head)
        .unwrap_or_else(|| panic!("section `{title}`"))
        + head.len();
    let rest = &doc[start..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

/// `(kind, field, verdict)` rows of the compatibility table.
fn compatibility_rows(doc: &str) -> Vec<(String, String, String)> {
    section(doc, "Codefresh compatibility")
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let field = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
            Some((
                cells[1].to_owned(),
                field.to_owned(),
                cells.get(3)?.to_string(),
            ))
        })
        .collect()
}

/// Field paths of a kind's reference table (`| \`path\` | …`).
fn reference_rows(doc: &str, title: &str) -> BTreeSet<String> {
    section(doc, title)
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|r| r.split('`').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_crd_field_is_honoured_or_refused_as_the_table_says() {
    let doc = doc();
    let rows = compatibility_rows(&doc);
    let crd = || {
        CRD_FIELDS
            .iter()
            .flat_map(|(kind, fields)| fields.iter().map(move |f| (*kind, *f)))
    };
    assert!(
        rows.len() >= crd().count(),
        "table not found: {} rows",
        rows.len()
    );
    let mut failures = Vec::new();
    for (kind, field) in crd() {
        if !rows.iter().any(|(k, f, _)| k == kind && f == field) {
            failures.push(format!("{kind} `{field}` has no row"));
        }
    }
    for (kind, field, verdict) in &rows {
        if !crd().any(|(k, f)| k == kind && f == field) {
            failures.push(format!("{kind} `{field}`: not a field of Codefresh's CRDs"));
        }
        match verdict.as_str() {
            "honoured" => {
                // The envelope's fields are documented once, for every kind.
                let title = if field.starts_with("spec") {
                    kind.as_str()
                } else {
                    "Common fields"
                };
                if !reference_rows(&doc, title).contains(field) {
                    failures.push(format!(
                        "{kind} `{field}` is honoured but missing from the `{title}` table"
                    ));
                }
            }
            "refused" => {
                let Some((_, _, yaml)) = REFUSED_CASES
                    .iter()
                    .find(|(k, f, _)| k == kind && f == field)
                else {
                    failures.push(format!("{kind} `{field}` is refused but has no test case"));
                    continue;
                };
                let mut files = context();
                files.push(SourceFile {
                    path: "refused.yaml".into(),
                    text: (*yaml).into(),
                });
                let loaded = load(&files);
                let refused = loaded.diagnostics.iter().any(|d| {
                    d.file == "refused.yaml" && d.severity == Severity::Error && d.field == *field
                });
                if !refused || loaded.config.flow("f").is_some() {
                    failures.push(format!(
                        "{kind} `{field}` is not refused: {:?}",
                        loaded.diagnostics
                    ));
                }
            }
            other => failures.push(format!("{kind} `{field}`: unknown verdict `{other}`")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The policy of Codefresh's example with its `targetEnvironment` keys
/// written as Codefresh's field table names them (`name`, `type`): an
/// error, and the policy applies nowhere — before, it warned and then
/// matched every environment, production included.
#[test]
fn a_misspelt_target_environment_is_an_error_not_a_match_all() {
    let example = data("promotion-policy-crd.yaml");
    let misspelt = example.replace(
        "      names:\n      - staging",
        "      name:\n      - staging",
    );
    assert_ne!(misspelt, example);
    let mut files = context();
    files.push(SourceFile {
        path: "policy.yaml".into(),
        text: misspelt,
    });
    let loaded = load(&files);
    assert!(
        loaded
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error
                && d.field == "spec.selector.targetEnvironment.name"
                && d.message.contains("did you mean `names`?")),
        "{:?}",
        loaded.diagnostics
    );
    for env in ["staging", "prod", "production"] {
        let eval = ferry_model::evaluate(&loaded.config, "trio-dev", env, None, None);
        assert!(eval.candidates.is_empty(), "{env}: {eval:?}");
    }
}
