//! Which fields of a manifest the local executor runs, ignores, or cannot
//! honour. Every typed struct keeps what it does not model in `extra`; this
//! walks them all and sorts each such field into "ignored" (it shapes only a
//! Kubernetes pod or the cluster's bookkeeping, so leaving it out changes
//! neither which commands run nor what they produce) or "unsupported".

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Arguments, LifecycleHook, Parameter, Template, WorkflowSpec};

const IGNORED_SPEC: &[&str] = &[
    "serviceAccountName",
    "automountServiceAccountToken",
    "podGC",
    "ttlStrategy",
    "workflowMetadata",
    "podMetadata",
    "podResources",
    "podSpecPatch",
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
    "hostAliases",
    "podDisruptionBudget",
    "schedulerName",
    "executor",
    "artifactGC",
    "artifactRepositoryRef",
    "metrics",
];
const IGNORED_TEMPLATE: &[&str] = &[
    "metadata",
    "annotations",
    "nodeSelector",
    "tolerations",
    "affinity",
    "securityContext",
    "serviceAccountName",
    "automountServiceAccountToken",
    "podSpecPatch",
    "priorityClassName",
    "priority",
    "schedulerName",
    "archiveLocation",
    "metrics",
    "hostAliases",
    "executor",
    "pendingTimeout",
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
const IGNORED_RETRY: &[&str] = &["affinity"];

struct Out<'a> {
    unsupported: &'a mut Vec<String>,
    ignored: &'a mut Vec<String>,
}

impl Out<'_> {
    fn extra(&mut self, base: &str, extra: &BTreeMap<String, Value>, ignored: &[&str]) {
        for key in extra.keys() {
            let path = format!("{base}.{key}");
            if ignored.contains(&key.as_str()) {
                self.ignored.push(path);
            } else {
                self.unsupported.push(path);
            }
        }
    }

    fn params(&mut self, base: &str, params: &[Parameter]) {
        for (i, p) in params.iter().enumerate() {
            let at = format!("{base}[{i}]");
            self.extra(&at, &p.extra, &[]);
            if let Some(vf) = &p.value_from {
                self.extra(&format!("{at}.valueFrom"), &vf.extra, &[]);
            }
        }
    }

    fn arguments(&mut self, base: &str, args: &Arguments) {
        self.extra(base, &args.extra, &[]);
        self.params(&format!("{base}.parameters"), &args.parameters);
    }

    fn hooks(&mut self, base: &str, hooks: &BTreeMap<String, LifecycleHook>) {
        for (name, h) in hooks {
            let hb = format!("{base}.hooks.{name}");
            self.extra(&hb, &h.extra, &[]);
            self.arguments(&format!("{hb}.arguments"), &h.arguments);
        }
    }

    fn template(&mut self, tb: &str, t: &Template) {
        self.extra(tb, &t.extra, IGNORED_TEMPLATE);
        self.extra(&format!("{tb}.inputs"), &t.inputs.extra, &[]);
        self.params(&format!("{tb}.inputs.parameters"), &t.inputs.parameters);
        self.extra(&format!("{tb}.outputs"), &t.outputs.extra, &[]);
        self.params(&format!("{tb}.outputs.parameters"), &t.outputs.parameters);
        if let Some(groups) = &t.steps {
            for (gi, group) in groups.iter().enumerate() {
                for (si, step) in group.iter().enumerate() {
                    let sb = format!("{tb}.steps[{gi}][{si}]");
                    self.extra(&sb, &step.extra, &[]);
                    if let Some(c) = &step.continue_on {
                        self.extra(&format!("{sb}.continueOn"), &c.extra, &[]);
                    }
                    if let Some(q) = &step.with_sequence {
                        self.extra(&format!("{sb}.withSequence"), &q.extra, &[]);
                    }
                    self.arguments(&format!("{sb}.arguments"), &step.arguments);
                    self.hooks(&sb, &step.hooks);
                    if let Some(inline) = &step.inline {
                        self.template(&format!("{sb}.inline"), inline);
                    }
                }
            }
        }
        if let Some(dag) = &t.dag {
            self.extra(&format!("{tb}.dag"), &dag.extra, &[]);
            for (ki, task) in dag.tasks.iter().enumerate() {
                let kb = format!("{tb}.dag.tasks[{ki}]");
                self.extra(&kb, &task.extra, &[]);
                if let Some(c) = &task.continue_on {
                    self.extra(&format!("{kb}.continueOn"), &c.extra, &[]);
                }
                if let Some(q) = &task.with_sequence {
                    self.extra(&format!("{kb}.withSequence"), &q.extra, &[]);
                }
                self.arguments(&format!("{kb}.arguments"), &task.arguments);
                self.hooks(&kb, &task.hooks);
                if let Some(inline) = &task.inline {
                    self.template(&format!("{kb}.inline"), inline);
                }
            }
        }
        for (field, body) in [("script", &t.script), ("container", &t.container)] {
            if let Some(p) = body {
                let pb = format!("{tb}.{field}");
                self.extra(&pb, &p.extra, IGNORED_PROCESS);
                if field == "container" && p.source.is_some() {
                    self.unsupported.push(format!("{pb}.source"));
                }
                for (ei, e) in p.env.iter().enumerate() {
                    self.extra(&format!("{pb}.env[{ei}]"), &e.extra, &[]);
                }
            }
        }
        if let Some(s) = &t.suspend {
            self.extra(&format!("{tb}.suspend"), &s.extra, &[]);
        }
        if let Some(r) = &t.retry_strategy {
            self.extra(&format!("{tb}.retryStrategy"), &r.extra, IGNORED_RETRY);
            if let Some(b) = &r.backoff {
                self.extra(&format!("{tb}.retryStrategy.backoff"), &b.extra, &[]);
            }
        }
    }
}

/// Sorts every field the types do not model into `unsupported` or `ignored`.
pub(super) fn collect(
    spec: &WorkflowSpec,
    unsupported: &mut Vec<String>,
    ignored: &mut Vec<String>,
) {
    let mut out = Out {
        unsupported,
        ignored,
    };
    out.extra("spec", &spec.extra, IGNORED_SPEC);
    out.arguments("spec.arguments", &spec.arguments);
    out.hooks("spec", &spec.hooks);
    if let Some(d) = &spec.template_defaults {
        out.template("spec.templateDefaults", d);
    }
    for (ti, t) in spec.templates.iter().enumerate() {
        out.template(&format!("spec.templates[{ti}]"), t);
    }
}
