//! SPEC §2 worked examples and properties of policy resolution.

use ferry_model::policy::FieldSource;
use ferry_model::resource::{Action, PolicySettings};
use ferry_model::{Membership, SourceFile, evaluate, load};
use proptest::prelude::*;

const BASE: &str = "\
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [qa]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: prod}
spec: {kind: PROD, clusters: [{name: prod}]}
---
apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: trio}
spec: {}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: trio-qa
  annotations: {codefresh.io/product: trio}
spec:
  source: {repoURL: 'https://g/gitops.git', path: trio/qa}
  destination: {name: in-cluster, namespace: qa}
";

fn policy(name: &str, priority: i64, selector: &str, body: &str) -> String {
    format!(
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  selector: {selector}\n  policy: {body}\n"
    )
}

fn config(policies: &[String]) -> ferry_model::Loaded {
    let mut files = vec![SourceFile {
        path: "base.yaml".into(),
        text: BASE.into(),
    }];
    for (i, p) in policies.iter().enumerate() {
        files.push(SourceFile {
            path: format!("policy-{i}.yaml"),
            text: p.clone(),
        });
    }
    load(&files)
}

fn src(name: &str) -> Option<FieldSource> {
    Some(FieldSource::Policy(name.into()))
}

#[test]
fn lowest_priority_number_wins() {
    let loaded = config(&[
        policy("b-late", 20, "{}", "{action: pr}"),
        policy("a-early", 10, "{}", "{action: none, preAction: gate}"),
    ]);
    let e = evaluate(&loaded.config, "trio", "qa", None, None);
    assert_eq!(e.action.value, Some(Action::None));
    assert_eq!(e.action.source, src("a-early"));
    assert_eq!(e.candidates, vec!["a-early", "b-late"]);
}

#[test]
fn equal_priorities_are_ordered_by_name() {
    let loaded = config(&[
        policy("zeta", 5, "{}", "{action: pr}"),
        policy("alpha", 5, "{}", "{action: commit}"),
    ]);
    let e = evaluate(&loaded.config, "trio", "qa", None, None);
    assert_eq!(e.action.source, src("alpha"));
}

#[test]
fn each_field_falls_back_to_the_next_policy_that_sets_it() {
    let loaded = config(&[
        policy("first", 1, "{}", "{preAction: smoke}"),
        policy("second", 2, "{}", "{action: pr, preAction: ignored}"),
        policy("third", 3, "{}", "{postAction: notify, action: none}"),
    ]);
    let e = evaluate(&loaded.config, "trio", "qa", None, None);
    assert_eq!(
        (e.pre_action.value.as_deref(), e.pre_action.source.clone()),
        (Some("smoke"), src("first"))
    );
    assert_eq!(
        (e.action.value, e.action.source.clone()),
        (Some(Action::Pr), src("second"))
    );
    assert_eq!(
        (e.post_action.value.as_deref(), e.post_action.source.clone()),
        (Some("notify"), src("third"))
    );
}

#[test]
fn inline_settings_override_field_by_field() {
    let loaded = config(&[policy(
        "p",
        1,
        "{}",
        "{preAction: smoke, action: pr, postAction: notify}",
    )]);
    let inline = PolicySettings {
        action: Some(Action::Commit),
        ..Default::default()
    };
    let e = evaluate(&loaded.config, "trio", "qa", Some(&inline), None);
    assert_eq!(
        (e.action.value, e.action.source.clone()),
        (Some(Action::Commit), Some(FieldSource::Inline))
    );
    assert_eq!(e.pre_action.source, src("p"));
    assert_eq!(e.post_action.source, src("p"));
}

#[test]
fn no_action_anywhere_defaults_to_commit() {
    let loaded = config(&[policy("p", 1, "{}", "{postAction: notify}")]);
    let e = evaluate(&loaded.config, "trio", "qa", None, None);
    assert_eq!(
        (e.action.value, e.action.source.clone()),
        (Some(Action::Commit), Some(FieldSource::Default))
    );
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(
        json["action"],
        serde_json::json!({"value": "commit", "source": "default"})
    );
    assert_eq!(
        json["postAction"],
        serde_json::json!({"value": "notify", "source": "PromotionPolicy/p"})
    );
    assert_eq!(
        json["preAction"],
        serde_json::json!({"value": null, "source": null})
    );
}

#[test]
fn selectors_need_names_and_types_to_hold_together() {
    let loaded = config(&[
        policy(
            "prod-only",
            1,
            "{targetEnvironment: {types: [PROD]}}",
            "{action: pr}",
        ),
        policy(
            "qa-by-name-but-prod-type",
            2,
            "{targetEnvironment: {names: [qa], types: [PROD]}}",
            "{action: none}",
        ),
        policy(
            "other-product",
            3,
            "{product: {names: [other]}}",
            "{action: none}",
        ),
        policy(
            "trio-qa",
            4,
            "{product: {names: [trio]}, targetEnvironment: {names: [qa], types: [NON_PROD]}}",
            "{preAction: smoke}",
        ),
    ]);
    let qa = evaluate(&loaded.config, "trio", "qa", None, None);
    assert_eq!(qa.candidates, vec!["trio-qa"]);
    assert_eq!(qa.action.source, Some(FieldSource::Default));
    let prod = evaluate(&loaded.config, "trio", "prod", None, None);
    assert_eq!(prod.candidates, vec!["prod-only"]);
    assert_eq!(prod.action.value, Some(Action::Pr));
}

#[test]
fn warnings_listed_by_the_spec() {
    let loaded = config(&[policy("p", 1, "{}", "{action: none, postAction: ghost}")]);
    let membership = Membership::compute(&loaded.config);
    let e = evaluate(
        &loaded.config,
        "trio",
        "prod",
        None,
        membership.product("trio"),
    );
    let all = e.warnings.join("\n");
    assert!(all.contains("action `none` with no preAction"), "{all}");
    assert!(
        all.contains("postAction workflow `ghost` does not exist"),
        "{all}"
    );
    assert!(
        all.contains("product `trio` has no application in environment `prod`"),
        "{all}"
    );
    let qa = evaluate(
        &loaded.config,
        "trio",
        "qa",
        None,
        membership.product("trio"),
    );
    assert!(
        !qa.warnings.iter().any(|w| w.contains("no application")),
        "{:?}",
        qa.warnings
    );
}

fn arb_field() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![Just(None), Just(Some("wf-a")), Just(Some("wf-b"))]
}

fn arb_action() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("commit")),
        Just(Some("pr")),
        Just(Some("none"))
    ]
}

fn body(pre: Option<&str>, action: Option<&str>, post: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(v) = pre {
        parts.push(format!("preAction: {v}"));
    }
    if let Some(v) = action {
        parts.push(format!("action: {v}"));
    }
    if let Some(v) = post {
        parts.push(format!("postAction: {v}"));
    }
    format!("{{{}}}", parts.join(", "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The result does not depend on the order policies are written in, and
    /// every field comes from the first candidate (priority, then name) that
    /// sets it, unless inline settings override it.
    #[test]
    fn merge_rules(
        specs in proptest::collection::vec((0i64..4, arb_field(), arb_action(), arb_field()), 1..6),
        inline_action in arb_action(),
        reverse in any::<bool>(),
    ) {
        let mut policies: Vec<String> = specs.iter().enumerate()
            .map(|(i, (prio, pre, action, post))| policy(&format!("p{i}"), *prio, "{}", &body(*pre, *action, *post)))
            .collect();
        let forward = config(&policies);
        if reverse { policies.reverse(); }
        let shuffled = config(&policies);
        let inline = PolicySettings { action: inline_action.map(|a| serde_json::from_value(serde_json::json!(a)).unwrap()), ..Default::default() };
        let a = evaluate(&forward.config, "trio", "qa", Some(&inline), None);
        let b = evaluate(&shuffled.config, "trio", "qa", Some(&inline), None);
        prop_assert_eq!(&a, &b);

        let mut order: Vec<(i64, String, usize)> = specs.iter().enumerate().map(|(i, s)| (s.0, format!("p{i}"), i)).collect();
        order.sort();
        let first_pre = order.iter().find(|(_, _, i)| specs[*i].1.is_some());
        match first_pre {
            Some((_, name, i)) => {
                prop_assert_eq!(a.pre_action.value.as_deref(), specs[*i].1);
                prop_assert_eq!(a.pre_action.source.clone(), Some(FieldSource::Policy(name.clone())));
            }
            None => prop_assert_eq!(a.pre_action.source.clone(), None),
        }
        if inline_action.is_some() {
            prop_assert_eq!(a.action.source.clone(), Some(FieldSource::Inline));
        } else if let Some((_, name, _)) = order.iter().find(|(_, _, i)| specs[*i].2.is_some()) {
            prop_assert_eq!(a.action.source.clone(), Some(FieldSource::Policy(name.clone())));
        } else {
            prop_assert_eq!(a.action.source.clone(), Some(FieldSource::Default));
        }
    }
}
