//! The typed WorkflowTemplate spec (the subset ferry understands) and the list of
//! fields the local executor cannot honour.
//!
//! Every struct keeps the fields it does not model in `extra`, so nothing in a
//! manifest is lost silently: [`WorkflowTemplate::local_unsupported`] names each
//! such field by path (`spec.templates[2].resource`) unless it is on the short list
//! of fields that only matter to Kubernetes pods (image, resources …) and that
//! the local executor may ignore without changing what the workflow does.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::TemplateError;

/// A parsed WorkflowTemplate.
#[derive(Debug, Clone)]
pub struct WorkflowTemplate {
    /// `metadata.name`: how policies, flows and hooks refer to it, and the
    /// `resourceName` submitted to Argo.
    pub name: String,
    /// Display name of the manifest's origin, used in error messages.
    pub source_name: String,
    pub annotations: BTreeMap<String, String>,
    pub spec: WorkflowSpec,
    unsupported: Vec<String>,
}

/// Annotation marking a promotion workflow (SPEC §1.7).
pub const WORKFLOW_ORIGIN_ANNOTATION: &str = "codefresh.io/workflow-origin";

#[derive(Debug, Clone, Deserialize)]
struct Manifest {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    spec: WorkflowSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// `spec` of a WorkflowTemplate.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowSpec {
    #[serde(default)]
    pub entrypoint: Option<String>,
    #[serde(default)]
    pub arguments: Arguments,
    #[serde(default)]
    pub templates: Vec<Template>,
    #[serde(default)]
    pub active_deadline_seconds: Option<IntOrString>,
    /// Template run after the entrypoint whatever its outcome (exit handler),
    /// with `{{workflow.status}}` set.
    #[serde(default)]
    pub on_exit: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `arguments` of a workflow, a step or a task.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Arguments {
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A parameter: workflow argument, step argument, template input or output.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub name: String,
    #[serde(default)]
    pub value: Option<Scalar>,
    #[serde(default)]
    pub default: Option<Scalar>,
    #[serde(default)]
    pub value_from: Option<ValueFrom>,
    #[serde(default)]
    pub global_name: Option<String>,
    #[serde(default, rename = "enum")]
    pub allowed: Option<Vec<Scalar>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `valueFrom` of an output parameter.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValueFrom {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub parameter: Option<String>,
    #[serde(default)]
    pub default: Option<Scalar>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One template of `spec.templates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub name: String,
    #[serde(default)]
    pub inputs: Io,
    #[serde(default)]
    pub outputs: Io,
    #[serde(default)]
    pub steps: Option<Vec<Vec<WorkflowStep>>>,
    #[serde(default)]
    pub dag: Option<Dag>,
    #[serde(default)]
    pub script: Option<Process>,
    #[serde(default)]
    pub container: Option<Process>,
    #[serde(default)]
    pub suspend: Option<Suspend>,
    #[serde(default)]
    pub retry_strategy: Option<RetryStrategy>,
    #[serde(default)]
    pub active_deadline_seconds: Option<IntOrString>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `inputs` / `outputs` of a template.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Io {
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One item of a `steps` group.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowStep {
    pub name: String,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub arguments: Arguments,
    #[serde(default)]
    pub when: Option<String>,
    /// Fan-out over a literal list (`{{item}}`, `{{item.key}}`).
    #[serde(default)]
    pub with_items: Option<Vec<Value>>,
    /// Fan-out over a JSON list given as text (usually a previous output).
    #[serde(default)]
    pub with_param: Option<String>,
    /// Failures the parent tolerates.
    #[serde(default)]
    pub continue_on: Option<ContinueOn>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `continueOn` of a step or task.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ContinueOn {
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub error: bool,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A `dag` template body.
#[derive(Debug, Clone, Deserialize)]
pub struct Dag {
    #[serde(default)]
    pub tasks: Vec<DagTask>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One task of a DAG.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DagTask {
    pub name: String,
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub arguments: Arguments,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default)]
    pub depends: Option<String>,
    #[serde(default)]
    pub when: Option<String>,
    /// Fan-out over a literal list (`{{item}}`, `{{item.key}}`).
    #[serde(default)]
    pub with_items: Option<Vec<Value>>,
    /// Fan-out over a JSON list given as text (usually a previous output).
    #[serde(default)]
    pub with_param: Option<String>,
    /// Failures the parent tolerates.
    #[serde(default)]
    pub continue_on: Option<ContinueOn>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The `script` or `container` body: what to run as a child process.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    /// Script body (`script` only).
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// An environment variable of a container.
#[derive(Debug, Clone, Deserialize)]
pub struct EnvVar {
    pub name: String,
    #[serde(default)]
    pub value: Option<Scalar>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A `suspend` template body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Suspend {
    #[serde(default)]
    pub duration: Option<IntOrString>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `retryStrategy` of a template.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    #[serde(default)]
    pub limit: Option<IntOrString>,
    #[serde(default)]
    pub retry_policy: Option<String>,
    #[serde(default)]
    pub backoff: Option<Backoff>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `retryStrategy.backoff`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    #[serde(default)]
    pub duration: Option<IntOrString>,
    #[serde(default)]
    pub factor: Option<IntOrString>,
    #[serde(default)]
    pub max_duration: Option<IntOrString>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A YAML scalar read as text: Argo accepts `value: 3` and `value: true` for
/// parameters, and the value reaches the process as a string either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Scalar(s)),
            Value::Number(n) => Ok(Scalar(n.to_string())),
            Value::Bool(b) => Ok(Scalar(b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, number or boolean, found {}",
                kind_of(&other)
            ))),
        }
    }
}

/// Kubernetes' IntOrString (`limit: 3` or `limit: "3"`, `duration: "10s"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntOrString(pub String);

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Scalar::deserialize(d).map(|s| IntOrString(s.0))
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

impl WorkflowTemplate {
    /// Reads a WorkflowTemplate manifest. `source_name` names its origin (file and
    /// line:col) in every error. Fields ferry does not model are kept and listed
    /// by [`Self::local_unsupported`]; only a manifest whose modelled fields have
    /// the wrong shape is an error here.
    pub fn from_value(manifest: &Value, source_name: &str) -> Result<Self, TemplateError> {
        let err = |path: String, message: String| TemplateError {
            source_name: source_name.to_string(),
            path,
            message,
        };
        let parsed: Manifest = serde_path_to_error::deserialize(manifest.clone()).map_err(|e| {
            let path = e.path().to_string();
            err(
                if path == "." { String::new() } else { path },
                e.into_inner().to_string(),
            )
        })?;
        match parsed.kind.as_deref() {
            Some("WorkflowTemplate") | Some("ClusterWorkflowTemplate") => {}
            Some(other) => {
                return Err(err(
                    "kind".into(),
                    format!("expected WorkflowTemplate, found {other}"),
                ));
            }
            None => {
                return Err(err(
                    "kind".into(),
                    "missing (expected WorkflowTemplate)".into(),
                ));
            }
        }
        let name = match parsed.metadata.name {
            Some(n) if !n.is_empty() => n,
            _ => return Err(err("metadata.name".into(), "missing".into())),
        };
        let mut unsupported = Vec::new();
        collect_unsupported(&parsed.spec, &mut unsupported);
        Ok(WorkflowTemplate {
            name,
            source_name: source_name.to_string(),
            annotations: parsed.metadata.annotations,
            spec: parsed.spec,
            unsupported,
        })
    }

    /// True when annotated `codefresh.io/workflow-origin: promotion`.
    pub fn is_promotion_workflow(&self) -> bool {
        self.annotations
            .get(WORKFLOW_ORIGIN_ANNOTATION)
            .map(String::as_str)
            == Some("promotion")
    }

    /// Paths of every field the local executor does not support, e.g.
    /// `spec.templates[2].resource`. Empty when the template can run locally.
    pub fn local_unsupported(&self) -> &[String] {
        &self.unsupported
    }

    /// Index and template of the template called `name`.
    pub fn template(&self, name: &str) -> Option<(usize, &Template)> {
        self.spec
            .templates
            .iter()
            .enumerate()
            .find(|(_, t)| t.name == name)
    }
}

// Fields that only shape a Kubernetes pod or the cluster's bookkeeping. Ignoring
// them locally does not change which commands run or what they produce.
const IGNORED_SPEC: &[&str] = &[
    "serviceAccountName",
    "automountServiceAccountToken",
    "podGC",
    "ttlStrategy",
    "workflowMetadata",
    "podMetadata",
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "imagePullSecrets",
    "podPriorityClassName",
    "priority",
    "archiveLogs",
    "hostNetwork",
    "dnsPolicy",
    "dnsConfig",
    "podDisruptionBudget",
    "schedulerName",
    "executor",
    "artifactGC",
    "artifactRepositoryRef",
    "metrics",
];
const IGNORED_TEMPLATE: &[&str] = &[
    "metadata",
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "podSpecPatch",
    "priorityClassName",
    "schedulerName",
    "archiveLocation",
    "metrics",
    "hostAliases",
    "executor",
];
const IGNORED_PROCESS: &[&str] = &[
    "name",
    "imagePullPolicy",
    "resources",
    "securityContext",
    "ports",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "lifecycle",
];
const IGNORED_PARAMETER: &[&str] = &[];

fn push_extra(
    out: &mut Vec<String>,
    base: &str,
    extra: &BTreeMap<String, Value>,
    ignored: &[&str],
) {
    for key in extra.keys() {
        if !ignored.contains(&key.as_str()) {
            out.push(format!("{base}.{key}"));
        }
    }
}

fn collect_params(out: &mut Vec<String>, base: &str, params: &[Parameter]) {
    for (i, p) in params.iter().enumerate() {
        let at = format!("{base}[{i}]");
        push_extra(out, &at, &p.extra, IGNORED_PARAMETER);
        if let Some(vf) = &p.value_from {
            push_extra(out, &format!("{at}.valueFrom"), &vf.extra, &[]);
        }
    }
}

fn collect_arguments(out: &mut Vec<String>, base: &str, args: &Arguments) {
    push_extra(out, base, &args.extra, &[]);
    collect_params(out, &format!("{base}.parameters"), &args.parameters);
}

fn collect_unsupported(spec: &WorkflowSpec, out: &mut Vec<String>) {
    push_extra(out, "spec", &spec.extra, IGNORED_SPEC);
    collect_arguments(out, "spec.arguments", &spec.arguments);
    for (ti, t) in spec.templates.iter().enumerate() {
        let tb = format!("spec.templates[{ti}]");
        push_extra(out, &tb, &t.extra, IGNORED_TEMPLATE);
        push_extra(out, &format!("{tb}.inputs"), &t.inputs.extra, &[]);
        collect_params(
            out,
            &format!("{tb}.inputs.parameters"),
            &t.inputs.parameters,
        );
        push_extra(out, &format!("{tb}.outputs"), &t.outputs.extra, &[]);
        collect_params(
            out,
            &format!("{tb}.outputs.parameters"),
            &t.outputs.parameters,
        );
        if let Some(groups) = &t.steps {
            for (gi, group) in groups.iter().enumerate() {
                for (si, step) in group.iter().enumerate() {
                    let sb = format!("{tb}.steps[{gi}][{si}]");
                    push_extra(out, &sb, &step.extra, &[]);
                    if let Some(c) = &step.continue_on {
                        push_extra(out, &format!("{sb}.continueOn"), &c.extra, &[]);
                    }
                    collect_arguments(out, &format!("{sb}.arguments"), &step.arguments);
                }
            }
        }
        if let Some(dag) = &t.dag {
            push_extra(out, &format!("{tb}.dag"), &dag.extra, &[]);
            for (ki, task) in dag.tasks.iter().enumerate() {
                let kb = format!("{tb}.dag.tasks[{ki}]");
                push_extra(out, &kb, &task.extra, &[]);
                if let Some(c) = &task.continue_on {
                    push_extra(out, &format!("{kb}.continueOn"), &c.extra, &[]);
                }
                collect_arguments(out, &format!("{kb}.arguments"), &task.arguments);
            }
        }
        for (field, body) in [("script", &t.script), ("container", &t.container)] {
            if let Some(p) = body {
                let pb = format!("{tb}.{field}");
                push_extra(out, &pb, &p.extra, IGNORED_PROCESS);
                if field == "container" && p.source.is_some() {
                    out.push(format!("{pb}.source"));
                }
                for (ei, e) in p.env.iter().enumerate() {
                    push_extra(out, &format!("{pb}.env[{ei}]"), &e.extra, &[]);
                }
            }
        }
        if let Some(s) = &t.suspend {
            push_extra(out, &format!("{tb}.suspend"), &s.extra, &[]);
        }
        if let Some(r) = &t.retry_strategy {
            push_extra(out, &format!("{tb}.retryStrategy"), &r.extra, &[]);
            if let Some(b) = &r.backoff {
                push_extra(out, &format!("{tb}.retryStrategy.backoff"), &b.extra, &[]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_unsupported_fields_by_path() {
        let v = json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate",
            "metadata": {"name": "t", "annotations": {"codefresh.io/workflow-origin": "promotion"}},
            "spec": {"entrypoint": "main", "serviceAccountName": "argo", "volumes": [],
              "templates": [
                {"name": "main", "container": {"image": "alpine", "command": ["true"], "volumeMounts": []}},
                {"name": "k", "resource": {"action": "create"}},
                {"name": "s", "steps": [[{"name": "a", "template": "main", "withSequence": {"count": "2"}}]]}
              ]}
        });
        let t = WorkflowTemplate::from_value(&v, "wf.yaml").unwrap();
        assert!(t.is_promotion_workflow());
        assert_eq!(
            t.local_unsupported(),
            [
                "spec.volumes",
                "spec.templates[0].container.volumeMounts",
                "spec.templates[1].resource",
                "spec.templates[2].steps[0][0].withSequence",
            ]
        );
    }

    #[test]
    fn wrong_shape_names_the_path() {
        let v = json!({"kind": "WorkflowTemplate", "metadata": {"name": "t"},
            "spec": {"templates": [{"name": "a"}, {"name": "b", "steps": "nope"}]}});
        let e = WorkflowTemplate::from_value(&v, "wf.yaml:3:1").unwrap_err();
        assert_eq!(e.source_name, "wf.yaml:3:1");
        assert_eq!(e.path, "spec.templates[1].steps");
        assert!(
            e.to_string()
                .starts_with("wf.yaml:3:1: spec.templates[1].steps: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn scalars_accept_numbers_and_booleans() {
        let v = json!({"kind": "WorkflowTemplate", "metadata": {"name": "t"},
            "spec": {"arguments": {"parameters": [{"name": "n", "value": 3}, {"name": "b", "default": true}]},
                     "templates": []}});
        let t = WorkflowTemplate::from_value(&v, "x").unwrap();
        assert_eq!(
            t.spec.arguments.parameters[0].value,
            Some(Scalar("3".into()))
        );
        assert_eq!(
            t.spec.arguments.parameters[1].default,
            Some(Scalar("true".into()))
        );
    }

    #[test]
    fn rejects_other_kinds_and_missing_name() {
        let v = json!({"kind": "Workflow", "metadata": {"name": "t"}, "spec": {}});
        assert_eq!(
            WorkflowTemplate::from_value(&v, "x").unwrap_err().path,
            "kind"
        );
        let v = json!({"kind": "WorkflowTemplate", "metadata": {}, "spec": {}});
        assert_eq!(
            WorkflowTemplate::from_value(&v, "x").unwrap_err().path,
            "metadata.name"
        );
    }
}
