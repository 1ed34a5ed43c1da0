//! `spec.templateDefaults`: merged into every template (inline ones too)
//! before the run, the template's own fields winning, as Argo's strategic
//! merge does; a template keeps its own kind (a `steps` template does not
//! become a `container` one because the defaults set a container).

use serde_json::Value;

/// The fields that make a template's kind; only the template's own survives.
const KINDS: &[&str] = &[
    "container",
    "script",
    "steps",
    "dag",
    "suspend",
    "resource",
    "http",
    "containerSet",
    "data",
    "plugin",
];

/// `spec` with `defaults` merged into every template.
pub(super) fn apply(spec: &Value, defaults: &Value) -> Value {
    let mut spec = spec.clone();
    if let Some(templates) = spec.get_mut("templates").and_then(Value::as_array_mut) {
        for t in templates {
            merge_template(t, defaults);
        }
    }
    spec
}

fn merge_template(t: &mut Value, defaults: &Value) {
    let Value::Object(own) = t else { return };
    let own_kind: Vec<String> = KINDS
        .iter()
        .filter(|k| own.contains_key(**k))
        .map(|k| k.to_string())
        .collect();
    let mut merged = defaults.clone();
    deep_merge(&mut merged, &Value::Object(own.clone()));
    if let Value::Object(m) = &mut merged {
        if !own_kind.is_empty() {
            m.retain(|k, _| !KINDS.contains(&k.as_str()) || own_kind.contains(k));
        }
        // Deadlines only apply to what runs a process or waits (Argo rejects
        // them written on steps and dag templates, and ignores inherited ones).
        let orchestrates = own_kind.iter().any(|k| k == "steps" || k == "dag");
        if orchestrates {
            for field in ["timeout", "activeDeadlineSeconds"] {
                if !own.contains_key(field) {
                    m.remove(field);
                }
            }
        }
        // Inline templates of steps and tasks get the defaults too.
        for group in m
            .get_mut("steps")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            for step in group.as_array_mut().into_iter().flatten() {
                if let Some(inline) = step.get_mut("inline") {
                    merge_template(inline, defaults);
                }
            }
        }
        let tasks = m
            .get_mut("dag")
            .and_then(|d| d.get_mut("tasks"))
            .and_then(Value::as_array_mut);
        for task in tasks.into_iter().flatten() {
            if let Some(inline) = task.get_mut("inline") {
                merge_template(inline, defaults);
            }
        }
    }
    *t = merged;
}

/// Objects merge key by key; anything else (lists included) is replaced.
fn deep_merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                match b.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_fill_templates_and_keep_their_kind() {
        let spec = json!({"templates": [
            {"name": "main", "steps": [[{"name": "a", "template": "leaf", "inline": null}]]},
            {"name": "leaf", "retryStrategy": {"limit": "5"}, "container": {"command": ["true"]}},
            {"name": "d", "dag": {"tasks": [{"name": "x", "inline": {"container": {"command": ["echo"]}}}]}}
        ]});
        let defaults = json!({"timeout": "30s", "retryStrategy": {"limit": "2", "retryPolicy": "Always"}, "container": {"image": "alpine"}});
        let merged = apply(&spec, &defaults);
        let t = &merged["templates"];
        assert!(
            t[0].get("timeout").is_none(),
            "no timeout on a steps template"
        );
        assert!(
            t[0].get("container").is_none(),
            "a steps template stays a steps template"
        );
        assert_eq!(
            t[1]["retryStrategy"],
            json!({"limit": "5", "retryPolicy": "Always"})
        );
        assert_eq!(
            t[1]["container"],
            json!({"image": "alpine", "command": ["true"]})
        );
        assert_eq!(t[2]["dag"]["tasks"][0]["inline"]["timeout"], "30s");
        assert_eq!(
            t[2]["dag"]["tasks"][0]["inline"]["container"]["image"],
            "alpine"
        );
    }
}
