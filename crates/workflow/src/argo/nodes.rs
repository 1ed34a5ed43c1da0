//! Reading an Argo `Workflow` document: node statuses become step updates, the
//! workflow phase becomes the run outcome, and pod names are derived the way
//! Argo names them (needed to ask for a step's log).

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::status::{NodeKind, NodePhase, RunOutcome, RunOutputs, StepStatus, StepUpdate};
use crate::timestamp::Timestamp;

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn time(v: &Value, key: &str) -> Option<Timestamp> {
    s(v, key).and_then(Timestamp::parse_rfc3339)
}

/// Step status of a node, given whether ferry asked to terminate the workflow
/// before the node had finished (Argo reports such nodes as `Failed`).
fn node_status(phase: NodePhase, terminated: bool) -> StepStatus {
    match phase {
        NodePhase::Failed | NodePhase::Error if terminated => StepStatus::Terminated,
        p => p.step_status(),
    }
}

/// Step updates for every node of the document, ordered by node name.
/// `unfinished_at_terminate` holds the nodes that were still running when ferry
/// asked Argo to terminate (None when it did not).
pub(crate) fn step_updates(
    wf: &Value,
    unfinished_at_terminate: Option<&HashSet<String>>,
) -> Vec<StepUpdate> {
    let mut out: Vec<StepUpdate> = Vec::new();
    let Some(nodes) = wf.pointer("/status/nodes").and_then(Value::as_object) else {
        return out;
    };
    for node in nodes.values() {
        let Some(name) = s(node, "name") else {
            continue;
        };
        let phase = s(node, "phase")
            .and_then(NodePhase::parse)
            .unwrap_or(NodePhase::Pending);
        let kind = NodeKind::from_argo(s(node, "type").unwrap_or_default());
        let terminated = unfinished_at_terminate.is_some_and(|u| u.contains(name));
        let template = s(node, "templateName")
            .or_else(|| {
                node.pointer("/templateRef/template")
                    .and_then(Value::as_str)
            })
            .unwrap_or_default();
        let exit_code = node.pointer("/outputs/exitCode").and_then(|v| match v {
            Value::String(s) => s.parse().ok(),
            Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        });
        // Retry attempts are named `step(0)`, `step(1)` …
        let attempt = name
            .strip_suffix(')')
            .and_then(|n| n.rsplit_once('('))
            .and_then(|(_, k)| k.parse::<u32>().ok())
            .map(|k| k + 1)
            .unwrap_or(1);
        out.push(StepUpdate {
            path: name.to_string(),
            name: s(node, "displayName").unwrap_or(name).to_string(),
            template: template.to_string(),
            kind,
            phase,
            status: node_status(phase, terminated),
            suspended: kind == NodeKind::Suspend && phase == NodePhase::Running,
            started_at: time(node, "startedAt"),
            finished_at: time(node, "finishedAt"),
            message: s(node, "message").map(String::from),
            exit_code,
            attempt,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Names of nodes not yet finished.
pub(crate) fn unfinished_nodes(wf: &Value) -> HashSet<String> {
    step_updates(wf, None)
        .into_iter()
        .filter(|u| !u.status.is_final())
        .map(|u| u.path)
        .collect()
}

/// The run outcome from `status.phase`, `status.outputs` and the root node.
pub(crate) fn outcome(wf: &Value, terminate_requested: bool) -> (RunOutcome, bool) {
    let st = wf.get("status").cloned().unwrap_or(Value::Null);
    let phase = s(&st, "phase").and_then(NodePhase::parse);
    let finished = matches!(
        phase,
        Some(NodePhase::Succeeded | NodePhase::Failed | NodePhase::Error)
    );
    let status = match phase {
        None | Some(NodePhase::Pending | NodePhase::Running) => StepStatus::Running,
        Some(p) => node_status(p, terminate_requested),
    };
    let params = |v: Option<&Value>| {
        v.and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| {
                        Some((
                            s(p, "name")?.to_string(),
                            p.get("value")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let wf_name = wf
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let root = st.get("nodes").and_then(Value::as_object).and_then(|n| {
        n.values()
            .find(|n| n.get("name").and_then(Value::as_str) == Some(wf_name))
    });
    let outputs = RunOutputs {
        global: params(st.pointer("/outputs/parameters")),
        entrypoint: params(root.and_then(|r| r.pointer("/outputs/parameters"))),
    };
    (
        RunOutcome {
            status,
            suspended: false,
            phase,
            message: s(&st, "message").map(String::from),
            started_at: time(&st, "startedAt"),
            finished_at: time(&st, "finishedAt"),
            outputs,
            notices: Vec::new(),
        },
        finished,
    )
}

/// 32-bit FNV-1a, the hash Argo uses in node ids and pod names.
fn fnv32a(data: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// The pod that ran node `node_name` (Argo `GeneratePodName`): v2 names are
/// `<workflow>-<template>-<fnv32a(node name)>`, v1 names are the node id.
pub(crate) fn pod_name(wf: &Value, node_name: &str) -> Option<String> {
    let wf_name = wf.pointer("/metadata/name").and_then(Value::as_str)?;
    let nodes = wf.pointer("/status/nodes").and_then(Value::as_object)?;
    let mut node = nodes
        .values()
        .find(|n| n.get("name").and_then(Value::as_str) == Some(node_name))?;
    // A retried step's log is the log of its latest attempt (the last child pod).
    if s(node, "type") == Some("Retry") {
        let last = node
            .get("children")
            .and_then(Value::as_array)
            .and_then(|c| c.last())
            .and_then(Value::as_str)?;
        node = nodes.get(last)?;
    }
    let node_name = s(node, "name")?;
    let v1 = wf
        .pointer("/metadata/annotations/workflows.argoproj.io~1pod-name-format")
        .and_then(Value::as_str)
        == Some("v1");
    if v1 {
        return s(node, "id").map(String::from);
    }
    if node_name == wf_name {
        return Some(wf_name.to_string());
    }
    let template = s(node, "templateName").or_else(|| {
        node.pointer("/templateRef/template")
            .and_then(Value::as_str)
    });
    let mut prefix = match template {
        Some(t) if !node_name.contains(".inline") => format!("{wf_name}-{t}"),
        _ => wf_name.to_string(),
    };
    // Kubernetes names are at most 253 characters; Argo keeps room for the hash.
    const MAX_PREFIX: usize = 253 - 10 - 1;
    if prefix.len() > MAX_PREFIX {
        let mut cut = MAX_PREFIX;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        prefix.truncate(cut);
    }
    Some(format!("{prefix}-{}", fnv32a(node_name)))
}

/// A suspend node's id and the values its supplied outputs take.
pub(crate) type SuppliedOutputs = (String, BTreeMap<String, String>);

/// The values a resume hands to Argo's `PUT …/set` (as Argo's UI does
/// before it resumes): for each active suspend node `step` selects (by node
/// name or display name, every one when `None`), its node id and the `values`
/// its `valueFrom.supplied` outputs take; `None` when no suspend node is
/// selected. Refused, before anything is sent, when a value is expected by none of
/// them, or when a value is outside the `enum` of the node's input of that
/// name (Argo's server does not check it; its UI offers only those).
pub(crate) fn supplied_outputs(
    wf: &Value,
    step: Option<&str>,
    values: &BTreeMap<String, String>,
) -> Result<Option<Vec<SuppliedOutputs>>, String> {
    let mut plans = Vec::new();
    let mut taken: HashSet<&str> = HashSet::new();
    let Some(nodes) = wf.pointer("/status/nodes").and_then(Value::as_object) else {
        return Ok(None);
    };
    for (id, node) in nodes {
        let active = s(node, "type") == Some("Suspend") && s(node, "phase") == Some("Running");
        let selected = step.is_none_or(|want| {
            s(node, "name") == Some(want) || s(node, "displayName") == Some(want)
        });
        if !active || !selected {
            continue;
        }
        let label = s(node, "displayName").or(s(node, "name")).unwrap_or(id);
        let mut outputs = BTreeMap::new();
        let params = node
            .pointer("/outputs/parameters")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for p in params {
            let Some(name) = s(p, "name") else { continue };
            if p.pointer("/valueFrom/supplied").is_none() {
                continue;
            }
            let Some(v) = values.get(name) else { continue };
            let allowed: Option<Vec<&str>> = node
                .pointer("/inputs/parameters")
                .and_then(Value::as_array)
                .and_then(|ins| ins.iter().find(|i| s(i, "name") == Some(name)))
                .and_then(|i| i.get("enum"))
                .and_then(Value::as_array)
                .map(|e| e.iter().filter_map(Value::as_str).collect());
            if let Some(allowed) = allowed
                && !allowed.is_empty()
                && !allowed.contains(&v.as_str())
            {
                return Err(format!(
                    "value {v:?} of {name:?} is not one of {} (step {label})",
                    allowed.join(", ")
                ));
            }
            taken.insert(name);
            outputs.insert(name.to_string(), v.clone());
        }
        plans.push((id.clone(), outputs));
    }
    if plans.is_empty() {
        return Ok(None);
    }
    if let Some(name) = values.keys().find(|k| !taken.contains(k.as_str())) {
        return Err(format!(
            "no suspended step expects a value for {name:?} (an output parameter with valueFrom.supplied)"
        ));
    }
    plans.retain(|(_, outputs)| !outputs.is_empty());
    Ok(Some(plans))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pod_names_follow_argo_v2_and_v1() {
        let wf = json!({"metadata": {"name": "hello-abc"}, "status": {"nodes": {
            "hello-abc-123": {"id": "hello-abc-123", "name": "hello-abc[0].say", "templateName": "echo"},
            "hello-abc": {"id": "hello-abc", "name": "hello-abc", "templateName": "main"}}}});
        assert_eq!(
            pod_name(&wf, "hello-abc[0].say").unwrap(),
            format!("hello-abc-echo-{}", fnv32a("hello-abc[0].say"))
        );
        assert_eq!(pod_name(&wf, "hello-abc").unwrap(), "hello-abc");
        assert!(pod_name(&wf, "nope").is_none());
        let mut v1 = wf.clone();
        v1["metadata"]["annotations"] = json!({"workflows.argoproj.io/pod-name-format": "v1"});
        assert_eq!(pod_name(&v1, "hello-abc[0].say").unwrap(), "hello-abc-123");
    }

    #[test]
    fn retry_nodes_resolve_to_the_latest_attempt() {
        let wf = json!({"metadata": {"name": "w"}, "status": {"nodes": {
            "w-1": {"id": "w-1", "name": "w[0].notify", "type": "Retry", "templateName": "notify", "children": ["w-2", "w-3"]},
            "w-2": {"id": "w-2", "name": "w[0].notify(0)", "type": "Pod", "templateName": "notify"},
            "w-3": {"id": "w-3", "name": "w[0].notify(1)", "type": "Pod", "templateName": "notify"}}}});
        assert_eq!(
            pod_name(&wf, "w[0].notify").unwrap(),
            format!("w-notify-{}", fnv32a("w[0].notify(1)"))
        );
    }

    #[test]
    fn fnv_matches_reference_values() {
        // Reference values of 32-bit FNV-1a.
        assert_eq!(fnv32a(""), 0x811c9dc5);
        assert_eq!(fnv32a("a"), 0xe40c292c);
        assert_eq!(fnv32a("foobar"), 0xbf9cf968);
    }

    #[test]
    fn terminated_nodes_are_reported_as_terminated() {
        let wf = json!({"metadata": {"name": "w"}, "status": {"phase": "Failed", "nodes": {
            "a": {"name": "w[0].a", "displayName": "a", "type": "Pod", "phase": "Failed", "message": "terminated"},
            "b": {"name": "w[0].b", "displayName": "b", "type": "Pod", "phase": "Failed", "outputs": {"exitCode": "3"}}}}});
        let unfinished: HashSet<String> = ["w[0].a".to_string()].into();
        let u = step_updates(&wf, Some(&unfinished));
        assert_eq!(u[0].status, StepStatus::Terminated);
        assert_eq!(u[1].status, StepStatus::Failed);
        assert_eq!(u[1].exit_code, Some(3));
        assert_eq!(outcome(&wf, true).0.status, StepStatus::Terminated);
        assert_eq!(outcome(&wf, false).0.status, StepStatus::Failed);
    }
}
