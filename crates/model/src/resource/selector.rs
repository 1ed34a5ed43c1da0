//! Kubernetes label selectors (`matchLabels`, `matchExpressions`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::StringMap;

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: SelectorOperatorKind,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SelectorOperatorKind {
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

impl LabelSelector {
    /// Kubernetes semantics: every `matchLabels` pair and every expression
    /// must hold; an empty selector matches everything.
    pub fn matches(&self, labels: &StringMap) -> bool {
        self.match_labels
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
            && self.match_expressions.iter().all(|e| e.matches(labels))
    }

    /// Structural problems Kubernetes would reject: `(field, message)`.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, e) in self.match_expressions.iter().enumerate() {
            let field = format!("matchExpressions[{i}].values");
            match e.operator {
                SelectorOperatorKind::In | SelectorOperatorKind::NotIn if e.values.is_empty() => {
                    out.push((
                        field,
                        format!("operator {:?} needs at least one value", e.operator),
                    ));
                }
                SelectorOperatorKind::Exists | SelectorOperatorKind::DoesNotExist
                    if !e.values.is_empty() =>
                {
                    out.push((field, format!("operator {:?} takes no values", e.operator)));
                }
                _ => {}
            }
        }
        out
    }
}

impl LabelSelectorRequirement {
    pub fn matches(&self, labels: &StringMap) -> bool {
        let value = labels.get(&self.key);
        match self.operator {
            SelectorOperatorKind::In => value.is_some_and(|v| self.values.contains(v)),
            // Kubernetes: NotIn also matches when the label is absent.
            SelectorOperatorKind::NotIn => value.is_none_or(|v| !self.values.contains(v)),
            SelectorOperatorKind::Exists => value.is_some(),
            SelectorOperatorKind::DoesNotExist => value.is_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> StringMap {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[test]
    fn kubernetes_semantics() {
        let sel = LabelSelector {
            match_labels: labels(&[("app", "trio")]).into(),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: SelectorOperatorKind::NotIn,
                    values: vec!["db".into()],
                },
                LabelSelectorRequirement {
                    key: "helm".into(),
                    operator: SelectorOperatorKind::Exists,
                    values: vec![],
                },
            ],
        };
        assert!(sel.matches(&labels(&[("app", "trio"), ("helm", "")])));
        assert!(sel.matches(&labels(&[("app", "trio"), ("helm", "x"), ("tier", "web")])));
        assert!(!sel.matches(&labels(&[("app", "trio"), ("helm", "x"), ("tier", "db")])));
        assert!(!sel.matches(&labels(&[("app", "trio")])));
        assert!(!sel.matches(&labels(&[("app", "other"), ("helm", "x")])));
        assert!(LabelSelector::default().matches(&labels(&[])));
    }

    fn arb_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[abc]", "[xyz]", 0..4)
    }

    proptest! {
        /// In and NotIn with the same values are complements when the key exists,
        /// and Exists/DoesNotExist always are.
        #[test]
        fn operators_are_complements(l in arb_labels(), key in "[abc]", values in proptest::collection::vec("[xyz]", 1..3)) {
            let l = StringMap::from(l);
            let req = |operator| LabelSelectorRequirement { key: key.clone(), operator, values: values.clone() };
            let inn = req(SelectorOperatorKind::In).matches(&l);
            let not_in = req(SelectorOperatorKind::NotIn).matches(&l);
            prop_assert!(inn != not_in);
            let ex = LabelSelectorRequirement { key: key.clone(), operator: SelectorOperatorKind::Exists, values: vec![] };
            let dne = LabelSelectorRequirement { key: key.clone(), operator: SelectorOperatorKind::DoesNotExist, values: vec![] };
            prop_assert!(ex.matches(&l) != dne.matches(&l));
        }

        /// A selector made of an object's own labels always matches it, and
        /// adding a label that is not on the object makes it fail.
        #[test]
        fn own_labels_match(l in arb_labels()) {
            let sel = LabelSelector { match_labels: l.clone(), match_expressions: vec![] };
            let own = StringMap::from(l.clone());
            prop_assert!(sel.matches(&own));
            let mut more = l.clone();
            more.insert("zzz".into(), "1".into());
            let sel = LabelSelector { match_labels: more, match_expressions: vec![] };
            prop_assert!(!sel.matches(&own));
        }
    }
}
