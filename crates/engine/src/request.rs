//! What a promotion request may say, strictly (issue 23): an unknown field
//! is refused at every level of the body, `policy` included. The model's
//! `PolicySettings` is shared with manifest loading, where an unknown
//! field is a warning and the document still loads; a request is refused
//! instead, naming the field (`policy.preAcion: unknown field …`), so the caller
//! never believes a misspelt setting was applied.

use ferry_model::resource::{Action, PolicySettings};
use serde::{Deserialize, Deserializer};

/// `policy` of a promotion request: the three policy fields, nothing else.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RequestPolicy {
    #[serde(default)]
    pre_action: Option<String>,
    #[serde(default)]
    action: Option<Action>,
    #[serde(default)]
    post_action: Option<String>,
}

/// `deserialize_with` of `PromotionRequest::policy`.
pub(crate) fn strict_policy<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<PolicySettings>, D::Error> {
    Ok(
        Option::<RequestPolicy>::deserialize(d)?.map(|p| PolicySettings {
            pre_action: p.pre_action,
            action: p.action,
            post_action: p.post_action,
            // Not from a request: an approval gate is the configuration's
            // to set, so a promotion cannot weaken the one that applies.
            approval: None,
            on_failure: None,
        }),
    )
}

#[cfg(test)]
mod tests {
    use crate::PromotionRequest;

    #[test]
    fn unknown_fields_inside_policy_are_refused() {
        let ok: PromotionRequest = serde_json::from_str(
            r#"{"targetEnvironment": "qa", "policy": {"preAction": "ok", "action": "pr"}}"#,
        )
        .unwrap();
        let policy = ok.policy.unwrap();
        assert_eq!(policy.pre_action.as_deref(), Some("ok"));
        assert_eq!(policy.action, Some(ferry_model::resource::Action::Pr));
        let err = serde_json::from_str::<PromotionRequest>(
            r#"{"targetEnvironment": "qa", "policy": {"preAcion": "ok"}}"#,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `preAcion`"),
            "{err}"
        );
        let null: PromotionRequest =
            serde_json::from_str(r#"{"flow": "main", "policy": null}"#).unwrap();
        assert_eq!(null.policy, None);
    }
}
