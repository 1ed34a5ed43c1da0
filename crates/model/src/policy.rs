//! Policy resolution (SPEC §2): for a product and a target environment,
//! the effective `{preAction, action, postAction}` and where each came from.

use std::fmt;

use serde::{Serialize, Serializer};

use crate::config::Config;
use crate::membership::ProductMembers;
use crate::resource::{Action, OnFailure, PolicySettings, PromotionPolicy};

/// Where an effective policy field came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    /// A PromotionPolicy, by name.
    Policy(String),
    /// The flow step's inline policy or the settings of a manual promotion.
    Inline,
    /// ferry's default (`action: commit`).
    Default,
}

impl fmt::Display for FieldSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldSource::Policy(name) => write!(f, "PromotionPolicy/{name}"),
            FieldSource::Inline => f.write_str("inline"),
            FieldSource::Default => f.write_str("default"),
        }
    }
}

impl Serialize for FieldSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One effective field: its value (if any) and its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Resolved<T> {
    // `null` when unset: the API's OpenAPI document adds it (utoipa
    // drops the `null` of an `Option` of a type parameter).
    pub value: Option<T>,
    /// `PromotionPolicy/<name>`, `inline` or `default`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub source: Option<FieldSource>,
}

impl<T> Resolved<T> {
    fn unset() -> Self {
        Resolved {
            value: None,
            source: None,
        }
    }
}

/// The effective policy for (product, environment).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyEvaluation {
    pub product: String,
    pub environment: String,
    pub pre_action: Resolved<String>,
    pub action: Resolved<Action>,
    pub post_action: Resolved<String>,
    /// The approval gate (issue 20), if any.
    pub approval: Resolved<crate::resource::ApprovalGate>,
    /// What happens when the environment fails after its promotion commit
    /// (ferry extension, issue 20).
    pub on_failure: Resolved<OnFailure>,
    /// Candidate policies in the order they were consulted.
    pub candidates: Vec<String>,
    pub warnings: Vec<String>,
}

impl PolicyEvaluation {
    /// The effective settings, with the default action applied.
    pub fn settings(&self) -> PolicySettings {
        PolicySettings {
            pre_action: self.pre_action.value.clone(),
            action: self.action.value,
            post_action: self.post_action.value.clone(),
            approval: self.approval.value.clone(),
            on_failure: self.on_failure.value,
        }
    }

    pub fn effective_action(&self) -> Action {
        self.action.value.unwrap_or(Action::Commit)
    }
}

fn tag_matches(tag: &str, labels: &crate::resource::StringMap) -> bool {
    match tag.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
        None => labels.contains_key(tag),
    }
}

/// Whether `policy`'s selector matches the product and environment.
/// Absent selector parts match everything; names, types and tags that are
/// given must all hold.
pub fn selector_matches(
    config: &Config,
    policy: &PromotionPolicy,
    product: &str,
    environment: &str,
) -> bool {
    selector_matches_parts(config, &policy.spec.selector, product, environment)
}

/// Whether a policy-shaped selector (a PromotionPolicy's, a
/// PromotionWindow's) matches the product and environment.
pub fn selector_matches_parts(
    config: &Config,
    sel: &crate::resource::PolicySelector,
    product: &str,
    environment: &str,
) -> bool {
    if let Some(p) = &sel.product {
        if !p.names.is_empty() && !p.names.iter().any(|n| n == product) {
            return false;
        }
        if !p.tags.is_empty() {
            let Some(prod) = config.product(product) else {
                return false;
            };
            if !p.tags.iter().any(|t| tag_matches(t, &prod.metadata.labels)) {
                return false;
            }
        }
    }
    if let Some(e) = &sel.target_environment {
        if !e.names.is_empty() && !e.names.iter().any(|n| n == environment) {
            return false;
        }
        if !e.types.is_empty() || !e.tags.is_empty() {
            let Some(env) = config.environment(environment) else {
                return false;
            };
            if !e.types.is_empty() && !e.types.contains(&env.spec.kind) {
                return false;
            }
            if !e.tags.is_empty() && !e.tags.iter().any(|t| tag_matches(t, &env.metadata.labels)) {
                return false;
            }
        }
    }
    true
}

/// Candidate policies for (product, environment): matching, by priority
/// ascending, then by name (SPEC §2 steps 1–2).
pub fn candidates<'c>(
    config: &'c Config,
    product: &str,
    environment: &str,
) -> Vec<&'c PromotionPolicy> {
    let mut list: Vec<&PromotionPolicy> = config
        .policies
        .iter()
        .filter(|p| selector_matches(config, p, product, environment))
        .collect();
    list.sort_by(|a, b| {
        a.spec
            .priority
            .cmp(&b.spec.priority)
            .then_with(|| a.name().cmp(b.name()))
    });
    list
}

/// Resolves the effective policy (SPEC §2). `inline` is the flow step's
/// policy or a manual promotion's settings; `members` (when known) lets the
/// evaluation warn about environments where the product has no application.
pub fn evaluate(
    config: &Config,
    product: &str,
    environment: &str,
    inline: Option<&PolicySettings>,
    members: Option<&ProductMembers>,
) -> PolicyEvaluation {
    let cands = candidates(config, product, environment);
    let mut pre_action = Resolved::unset();
    let mut action = Resolved::unset();
    let mut post_action = Resolved::unset();
    let mut approval = Resolved::unset();
    let mut on_failure = Resolved::unset();
    for p in &cands {
        let src = || Some(FieldSource::Policy(p.name().to_owned()));
        if pre_action.value.is_none() && p.spec.policy.pre_action.is_some() {
            pre_action = Resolved {
                value: p.spec.policy.pre_action.clone(),
                source: src(),
            };
        }
        if action.value.is_none() && p.spec.policy.action.is_some() {
            action = Resolved {
                value: p.spec.policy.action,
                source: src(),
            };
        }
        if post_action.value.is_none() && p.spec.policy.post_action.is_some() {
            post_action = Resolved {
                value: p.spec.policy.post_action.clone(),
                source: src(),
            };
        }
        if approval.value.is_none() && p.spec.policy.approval.is_some() {
            approval = Resolved {
                value: p.spec.policy.approval.clone(),
                source: src(),
            };
        }
        if on_failure.value.is_none() && p.spec.policy.on_failure.is_some() {
            on_failure = Resolved {
                value: p.spec.policy.on_failure,
                source: src(),
            };
        }
    }
    if let Some(inline) = inline {
        if inline.pre_action.is_some() {
            pre_action = Resolved {
                value: inline.pre_action.clone(),
                source: Some(FieldSource::Inline),
            };
        }
        if inline.action.is_some() {
            action = Resolved {
                value: inline.action,
                source: Some(FieldSource::Inline),
            };
        }
        if inline.post_action.is_some() {
            post_action = Resolved {
                value: inline.post_action.clone(),
                source: Some(FieldSource::Inline),
            };
        }
        if inline.approval.is_some() {
            approval = Resolved {
                value: inline.approval.clone(),
                source: Some(FieldSource::Inline),
            };
        }
        if inline.on_failure.is_some() {
            on_failure = Resolved {
                value: inline.on_failure,
                source: Some(FieldSource::Inline),
            };
        }
    }
    if action.value.is_none() {
        action = Resolved {
            value: Some(Action::Commit),
            source: Some(FieldSource::Default),
        };
    }

    let mut warnings = Vec::new();
    if action.value == Some(Action::None) && pre_action.value.is_none() {
        warnings.push("action `none` with no preAction: the promotion neither changes Git nor checks anything".to_owned());
    }
    for (field, value) in [
        ("preAction", &pre_action.value),
        ("postAction", &post_action.value),
    ] {
        if let Some(name) = value {
            warnings.extend(workflow_warning(config, field, name));
        }
    }
    if config.environment(environment).is_none() {
        warnings.push(format!("environment `{environment}` is not defined"));
    }
    if let Some(m) = members
        && m.in_environment(environment).next().is_none()
    {
        warnings.push(format!(
            "product `{product}` has no application in environment `{environment}`"
        ));
    }
    PolicyEvaluation {
        product: product.to_owned(),
        environment: environment.to_owned(),
        pre_action,
        action,
        post_action,
        approval,
        on_failure,
        candidates: cands.iter().map(|p| p.name().to_owned()).collect(),
        warnings,
    }
}

/// A warning when `name` (used as `field`) is not a known promotion workflow.
pub fn workflow_warning(config: &Config, field: &str, name: &str) -> Option<String> {
    match config.workflow_template(name) {
        None => Some(format!(
            "{field} workflow `{name}` does not exist (no WorkflowTemplate of that name)"
        )),
        Some(w) if !w.is_promotion_workflow() => Some(format!(
            "{field} workflow `{name}` is not annotated `{}: promotion`",
            crate::resource::PROMOTION_ORIGIN_ANNOTATION
        )),
        Some(_) => None,
    }
}
