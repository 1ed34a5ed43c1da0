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

mod defaults;
mod support;

/// A parsed WorkflowTemplate.
#[derive(Debug, Clone)]
pub struct WorkflowTemplate {
    /// `metadata.name`: how policies, flows and hooks refer to it, and the
    /// `resourceName` submitted to Argo.
    pub name: String,
    /// Display name of the manifest's origin, used in error messages.
    pub source_name: String,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// The spec as run: `templateDefaults` merged into every template.
    pub spec: WorkflowSpec,
    /// `spec` as JSON after the merge (for checks over every string field).
    pub(crate) spec_json: Value,
    unsupported: Vec<String>,
    ignored: Vec<String>,
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
    #[serde(default)]
    labels: BTreeMap<String, String>,
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
    /// Most processes running at once in the whole run.
    #[serde(default)]
    pub parallelism: Option<IntOrString>,
    /// Fields merged into every template (the template's own win).
    #[serde(default)]
    pub template_defaults: Option<Box<Template>>,
    /// Workflow lifecycle hooks: `exit` (like `onExit`) and expression hooks.
    #[serde(default)]
    pub hooks: BTreeMap<String, LifecycleHook>,
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
    /// An expression (expr-lang) giving the value.
    #[serde(default)]
    pub expression: Option<String>,
    /// Supplied when a suspended step is resumed (`{}` in the manifest).
    #[serde(default)]
    pub supplied: Option<Value>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// A lifecycle hook of a step, task or workflow: `exit`, or any name with an
/// `expression` that starts the hook's template once it holds.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LifecycleHook {
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub arguments: Arguments,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// `withSequence`: numbers from `start` to `end`, or `count` numbers.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sequence {
    #[serde(default)]
    pub count: Option<IntOrString>,
    #[serde(default)]
    pub start: Option<IntOrString>,
    #[serde(default)]
    pub end: Option<IntOrString>,
    /// `fmt.Sprintf` format of each item (`%d` by default).
    #[serde(default)]
    pub format: Option<String>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// One template of `spec.templates`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    /// Empty for inline templates and `templateDefaults`.
    #[serde(default)]
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
    /// Deadline of a script, container or suspend template (`30s`, `2m`).
    #[serde(default)]
    pub timeout: Option<String>,
    /// Most children (steps, tasks, fan-out items) running at once.
    #[serde(default)]
    pub parallelism: Option<IntOrString>,
    /// Start no further children once one failed (steps and dag templates).
    #[serde(default)]
    pub fail_fast: Option<bool>,
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
    /// Fan-out over a sequence of numbers.
    #[serde(default)]
    pub with_sequence: Option<Sequence>,
    /// Failures the parent tolerates.
    #[serde(default)]
    pub continue_on: Option<ContinueOn>,
    /// A template written in place instead of `template`.
    #[serde(default)]
    pub inline: Option<Box<Template>>,
    #[serde(default)]
    pub hooks: BTreeMap<String, LifecycleHook>,
    /// Template run after the step whatever its outcome (older form of `hooks.exit`).
    #[serde(default)]
    pub on_exit: Option<String>,
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
#[serde(rename_all = "camelCase")]
pub struct Dag {
    #[serde(default)]
    pub tasks: Vec<DagTask>,
    /// Tasks to run (space separated), with what they depend on; default all.
    #[serde(default)]
    pub target: Option<String>,
    /// Stop starting tasks once a branch failed (default true).
    #[serde(default)]
    pub fail_fast: Option<bool>,
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
    /// Fan-out over a sequence of numbers.
    #[serde(default)]
    pub with_sequence: Option<Sequence>,
    /// Failures the parent tolerates.
    #[serde(default)]
    pub continue_on: Option<ContinueOn>,
    /// A template written in place instead of `template`.
    #[serde(default)]
    pub inline: Option<Box<Template>>,
    #[serde(default)]
    pub hooks: BTreeMap<String, LifecycleHook>,
    /// Template run after the task whatever its outcome (older form of `hooks.exit`).
    #[serde(default)]
    pub on_exit: Option<String>,
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
    /// Retry only while this expression (over `lastRetry.*`) holds.
    #[serde(default)]
    pub expression: Option<String>,
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
    /// Longest wait between attempts.
    #[serde(default)]
    pub cap: Option<IntOrString>,
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
        let mut ignored = Vec::new();
        support::collect(&parsed.spec, &mut unsupported, &mut ignored);
        let raw_spec = manifest.get("spec").cloned().unwrap_or(Value::Null);
        let (spec, spec_json) = match raw_spec.get("templateDefaults") {
            Some(defaults) if defaults.is_object() => {
                let merged = defaults::apply(&raw_spec, defaults);
                let spec: WorkflowSpec =
                    serde_path_to_error::deserialize(merged.clone()).map_err(|e| {
                        err(
                            format!("spec.{} (with spec.templateDefaults)", e.path()),
                            e.into_inner().to_string(),
                        )
                    })?;
                (spec, merged)
            }
            _ => (parsed.spec, raw_spec),
        };
        Ok(WorkflowTemplate {
            name,
            source_name: source_name.to_string(),
            annotations: parsed.metadata.annotations,
            labels: parsed.metadata.labels,
            spec,
            spec_json,
            unsupported,
            ignored,
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

    /// Paths of the pod-only fields the local executor ignores (node
    /// selectors, tolerations, resources, pod metadata …): they shape a
    /// Kubernetes pod, not what the commands do.
    pub fn local_ignored(&self) -> &[String] {
        &self.ignored
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
                {"name": "s", "nodeSelector": {"a": "b"}, "steps": [[{"name": "a", "template": "main", "withSequence": {"count": "2"},
                  "inline": {"http": {"url": "x"}}}]]}
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
                "spec.templates[2].steps[0][0].inline.http",
            ]
        );
        assert_eq!(
            t.local_ignored(),
            ["spec.serviceAccountName", "spec.templates[2].nodeSelector"]
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
