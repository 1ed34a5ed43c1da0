//! Happy paths: each resource kind parses into the values written, and the
//! model derived from them (membership, templates, flows, triggers).

use ferry_model::membership::{EnvironmentMatch, TemplateSource};
use ferry_model::resource::{Action, ConcurrencyPolicy, EnvironmentKind};
use ferry_model::trigger::TriggerCommit;
use ferry_model::{FlowGraph, Loaded, Membership, Severity, SourceFile, load};

const CONFIG: &str = r#"
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec:
  kind: NON_PROD
  order: 10
  clusters:
    - name: in-cluster
      namespaces: [demo-dev]
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: staging}
spec:
  kind: NON_PROD
  order: 30
  clusters:
    - name: in-cluster
      namespaces: ["staging-*"]
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: prod}
spec:
  kind: PROD
  order: 40
  clusters:
    - name: in-cluster
      namespaces: []
---
apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: demo-trioapp}
spec:
  promotionTemplateRef: trio-template
  promotionFlows:
    - name: hotfix
      gitTriggerSelectors:
        - {key: commitMessage, operator: In, values: ["hotfix*"]}
    - name: main-flow
  concurrency: {policy: terminate}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionTemplate
metadata: {name: trio-template}
spec:
  priority: 1
  versionSource: {file: Chart.yaml, jsonPath: $appVersion}
  promotion:
    Chart.yaml: {jsonPaths: [$.appVersion, $.dependencies]}
    values.yaml: {jsonPaths: [$..image, '$["flask-ui"].image.tag']}
    version.yaml: {jsonPaths: ["*"]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionTemplate
metadata: {name: by-label-low}
spec:
  applicationSourceSelector:
    matchLabels: {kind: helm}
  priority: 5
---
apiVersion: codefresh.io/v1beta1
kind: PromotionTemplate
metadata: {name: by-label-high}
spec:
  applicationSourceSelector:
    matchExpressions: [{key: kind, operator: Exists}]
  priority: 50
---
apiVersion: codefresh.io/v1beta1
kind: PromotionPolicy
metadata: {name: prod-pr}
spec:
  priority: 1
  selector:
    product: {names: [demo-trioapp]}
    targetEnvironment: {types: [PROD]}
  policy: {action: pr, preAction: gate}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: main-flow}
spec:
  triggerEnvironment: dev
  timeout: 90m
  steps:
    - environment: staging
      dependsOn: [dev]
      hooks: {onStart: gate}
    - environment: prod
      dependsOn: [staging]
      policy: {action: commit}
  hooks: {onFail: gate}
  triggerPolicy: {postAction: gate}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: hotfix}
spec:
  properties:
    triggerEnvironment: dev
    steps:
      - environment: prod
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: gate
  annotations: {codefresh.io/workflow-origin: promotion}
spec:
  entrypoint: main
  templates:
    - name: main
      container: {image: alpine, command: [sh, -c], args: ["exit 0"]}
"#;

const APPS: &str = r#"
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: trio-dev
  namespace: argocd
  annotations: {codefresh.io/product: demo-trioapp}
spec:
  project: default
  source:
    repoURL: https://github.com/acme/trio.git
    targetRevision: main
    path: demo-applications/trioapp-dev
  destination: {name: in-cluster, namespace: demo-dev}
  syncPolicy: {automated: {prune: true}}
status: {sync: {status: Synced}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: trio-staging
  annotations: {codefresh.io/product: demo-trioapp}
spec:
  sources:
    - repoURL: https://charts.example.com
      chart: base
      targetRevision: 1.0.0
    - repoURL: https://github.com/acme/trio.git
      path: demo-applications/trioapp-staging
      targetRevision: release
  destination: {server: "https://kubernetes.default.svc", namespace: staging-eu}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: trio-prod
  labels: {ferry.io/environment: prod, kind: helm}
  annotations:
    codefresh.io/product: demo-trioapp
    ferry.io/promote-source: second
spec:
  sources:
    - {repoURL: 'https://github.com/acme/a.git', path: first, name: first}
    - {repoURL: 'https://github.com/acme/b.git', path: second, name: second}
  destination: {name: in-cluster, namespace: demo-dev}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: lonely
  labels: {kind: helm}
  annotations: {codefresh.io/product: implicit-product}
spec:
  source: {repoURL: 'https://github.com/acme/c.git', path: c}
  destination: {name: in-cluster, namespace: staging-x}
"#;

fn loaded() -> Loaded {
    load(&[
        SourceFile {
            path: "a-config.yaml".into(),
            text: CONFIG.into(),
        },
        SourceFile {
            path: "b-apps.yaml".into(),
            text: APPS.into(),
        },
    ])
}

#[test]
fn loads_without_errors_or_warnings() {
    let l = loaded();
    let problems: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let counts = l.config.counts();
    assert_eq!(counts["Application"], 4);
    assert_eq!(counts["Environment"], 3);
    assert_eq!(counts["PromotionFlow"], 2);
    assert_eq!(counts["PromotionTemplate"], 3);
    assert_eq!(counts["WorkflowTemplate"], 1);
}

#[test]
fn each_kind_reads_its_fields() {
    let l = loaded();
    let c = &l.config;
    let env = c.environment("staging").unwrap();
    assert_eq!(env.spec.kind, EnvironmentKind::NonProd);
    assert_eq!(env.spec.order, Some(30));
    assert_eq!(env.spec.clusters[0].namespaces, vec!["staging-*"]);
    assert_eq!(env.origin.file, "a-config.yaml");

    let product = c.product("demo-trioapp").unwrap();
    assert_eq!(
        product.spec.promotion_template_ref.as_deref(),
        Some("trio-template")
    );
    assert_eq!(product.spec.promotion_flows.len(), 2);
    assert_eq!(product.concurrency().policy, ConcurrencyPolicy::Terminate);
    assert_eq!(product.concurrency().queue_limit, 50);

    let template = c.template("trio-template").unwrap();
    let promotion = template.spec.promotion.as_ref().unwrap();
    assert_eq!(
        promotion["values.yaml"].json_paths,
        vec!["$..image", "$[\"flask-ui\"].image.tag"]
    );
    assert!(promotion["version.yaml"].is_whole_file());
    assert_eq!(
        template.spec.version_source.as_ref().unwrap().json_path,
        "$appVersion"
    );

    let policy = c.policy("prod-pr").unwrap();
    assert_eq!(policy.spec.policy.action, Some(Action::Pr));
    assert_eq!(
        policy
            .spec
            .selector
            .target_environment
            .as_ref()
            .unwrap()
            .types,
        vec![EnvironmentKind::Prod]
    );

    let flow = c.flow("main-flow").unwrap();
    assert_eq!(flow.timeout().as_secs(), 90 * 60);
    assert_eq!(
        flow.spec.body.steps[1].policy.as_ref().unwrap().action,
        Some(Action::Commit)
    );
    assert_eq!(
        flow.spec
            .body
            .trigger_policy
            .as_ref()
            .unwrap()
            .post_action
            .as_deref(),
        Some("gate")
    );
    assert!(!flow.spec.legacy_layout);
    let legacy = c.flow("hotfix").unwrap();
    assert!(legacy.spec.legacy_layout);
    assert_eq!(legacy.spec.body.trigger_environment, "dev");
    assert_eq!(legacy.timeout().as_secs(), 24 * 3600);

    let wf = c.workflow_template("gate").unwrap();
    assert!(wf.is_promotion_workflow());
    assert_eq!(
        wf.manifest["spec"]["templates"][0]["container"]["args"][0],
        "exit 0"
    );

    let dev = &c.applications[0];
    assert_eq!(dev.target_revision(), "main");
    assert_eq!(
        dev.promoted_source().unwrap().path.as_deref(),
        Some("demo-applications/trioapp-dev")
    );
    let staging = &c.applications[1];
    assert_eq!(
        staging.promoted_source().unwrap().path.as_deref(),
        Some("demo-applications/trioapp-staging")
    );
    assert_eq!(staging.target_revision(), "release");
    let prod = &c.applications[2];
    assert_eq!(
        prod.promoted_source().unwrap().repo_url,
        "https://github.com/acme/b.git"
    );
}

#[test]
fn membership_and_templates() {
    let l = loaded();
    let m = Membership::compute(&l.config);
    let trio = m.product("demo-trioapp").unwrap();
    assert!(trio.defined);
    let by_name = |n: &str| trio.members.iter().find(|x| x.name == n).unwrap();
    assert_eq!(
        by_name("trio-dev").environment,
        EnvironmentMatch::Destination("dev".into())
    );
    // https://kubernetes.default.svc is Argo CD's in-cluster; staging-* matches staging-eu.
    assert_eq!(
        by_name("trio-staging").environment,
        EnvironmentMatch::Destination("staging".into())
    );
    // The explicit label wins over the destination (which would match dev).
    assert_eq!(
        by_name("trio-prod").environment,
        EnvironmentMatch::Label("prod".into())
    );
    assert_eq!(by_name("trio-dev").key, "trio");
    assert_eq!(by_name("trio-prod").key, "trio");
    // The product's ref wins over the label selector.
    assert_eq!(
        by_name("trio-prod").template.source,
        TemplateSource::Ref("trio-template".into())
    );

    let implicit = m.product("implicit-product").unwrap();
    assert!(!implicit.defined);
    // Lowest priority number among matching templates.
    assert_eq!(
        implicit.members[0].template.source,
        TemplateSource::Selector("by-label-low".into())
    );
    assert_eq!(
        implicit.members[0].environment,
        EnvironmentMatch::Destination("staging".into())
    );
    assert_eq!(trio.in_environment("staging").count(), 1);
}

#[test]
fn flows_as_graphs_and_trigger_selection() {
    let l = loaded();
    let c = &l.config;
    let graph = FlowGraph::build(c.flow("main-flow").unwrap()).unwrap();
    assert_eq!(
        graph.environments().collect::<Vec<_>>(),
        vec!["dev", "staging", "prod"]
    );
    assert_eq!(
        graph.downstream("staging").into_iter().collect::<Vec<_>>(),
        vec!["prod"]
    );
    let legacy = FlowGraph::build(c.flow("hotfix").unwrap()).unwrap();
    // A step without dependsOn depends on the trigger environment.
    assert_eq!(legacy.steps[0].depends_on, vec!["dev"]);

    let product = c.product("demo-trioapp").unwrap();
    let commit = |message| TriggerCommit {
        message,
        sha: "0123abc",
        branch: Some("main"),
    };
    assert_eq!(
        product.flow_for(&commit("hotfix: urgent")).unwrap().name,
        "hotfix"
    );
    assert_eq!(
        product.flow_for(&commit("feat: new")).unwrap().name,
        "main-flow"
    );
}

#[test]
fn parallel_steps_and_joins_are_ordered_topologically() {
    let extra = r#"
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: c}]}
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata: {name: join}
spec:
  triggerEnvironment: dev
  steps:
    - {environment: prod, dependsOn: [qa, staging]}
    - {environment: qa, dependsOn: [dev]}
    - {environment: staging, dependsOn: [dev]}
"#;
    let text = format!("{CONFIG}---{extra}");
    let l = load(&[SourceFile {
        path: "c.yaml".into(),
        text,
    }]);
    assert!(!l.has_errors(), "{:?}", l.errors().collect::<Vec<_>>());
    let graph = FlowGraph::build(l.config.flow("join").unwrap()).unwrap();
    assert_eq!(
        graph.environments().collect::<Vec<_>>(),
        vec!["dev", "qa", "staging", "prod"]
    );
    assert_eq!(
        graph.step("prod").unwrap().depends_on,
        vec!["qa", "staging"]
    );
}

#[test]
fn the_repository_examples_are_valid() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/config");
    let mut files = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let rel = path.strip_prefix(&root).unwrap().display().to_string();
                files.push(SourceFile {
                    path: rel,
                    text: std::fs::read_to_string(&path).unwrap(),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let l = load(&files);
    let problems: Vec<String> = l
        .diagnostics
        .iter()
        .filter(|d| d.severity != Severity::Note)
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    let m = Membership::compute(&l.config);
    let shop = m.product("shop").unwrap();
    assert_eq!(shop.members.len(), 18);
    assert_eq!(
        l.config
            .environments
            .iter()
            .filter(|e| e.spec.kind == EnvironmentKind::Prod)
            .count(),
        2
    );
}
