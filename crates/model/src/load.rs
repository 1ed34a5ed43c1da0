//! From file texts to a [`Config`] plus every [`Diagnostic`] found.
//!
//! Loading never stops at the first problem: a file that does not parse is
//! reported and skipped, a document that does not deserialise is reported
//! and skipped, and cross-resource validation then runs on whatever loaded,
//! so one `ferry validate` lists everything that is wrong.

use serde::de::{DeserializeOwned, IgnoredAny};

use crate::config::{Config, IgnoredDocument};
use crate::diagnostic::{Diagnostic, Origin};
use crate::resource::{
    Application, ApplicationSpec, Envelope, Environment, EnvironmentSpec, FlowBody, ObjectMeta,
    Product, ProductSpec, PromotionFlow, PromotionFlowSpec, PromotionPolicy, PromotionPolicySpec,
    PromotionTemplate, PromotionTemplateSpec, WorkflowTemplate,
};
use crate::validate;
use crate::yaml::de::{DeError, UnknownField, from_node, one_of};
use crate::yaml::{Node, NodeKind, Pos, parse_documents};

/// One configuration file: its display path (relative to the source root)
/// and its text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// The result of loading: the configuration and everything noticed.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    pub config: Config,
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// The kinds ferry reads, by API group, with the versions it accepts.
/// Codefresh serves Product as `v1beta1` and `v1beta2` (which adds the
/// string form of `concurrency`); ferry reads both with one type.
const KINDS: &[(&str, &str, &[&str])] = &[
    ("argoproj.io", "Application", &["v1alpha1"]),
    ("argoproj.io", "WorkflowTemplate", &["v1alpha1"]),
    ("ferry.io", "Environment", &["v1alpha1"]),
    ("codefresh.io", "Product", &["v1beta1", "v1beta2"]),
    ("codefresh.io", "PromotionFlow", &["v1beta1"]),
    ("codefresh.io", "PromotionPolicy", &["v1beta1"]),
    ("codefresh.io", "PromotionTemplate", &["v1beta1"]),
];

/// Types in which an unknown key is an error, not a warning: a misspelt
/// key in a selector (or a misspelt selector) leaves a part of it empty,
/// and an empty part matches everything — a policy meant for staging
/// would apply to production. The resource is then not loaded at all.
const STRICT: &[&str] = &[
    "PromotionPolicySpec",
    "PolicySelector",
    "NameSelector",
    "EnvironmentSelector",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ProductFlow",
    "TriggerSelector",
];

/// Fields of Codefresh's published CRDs that ferry refuses, by the type
/// they would belong to, with the reason (docs/configuration.md,
/// "Codefresh compatibility").
const REFUSED: &[(&str, &str, &str)] = &[(
    "FlowBody",
    "postTrigger",
    "`postTrigger` is deprecated by Codefresh and not supported: name the workflow in `hooks.onStart` (run when the release starts) or `triggerPolicy.postAction` (run in the trigger environment before the first step)",
)];

/// Document nodes kept for validation messages that point inside a
/// resource (e.g. at `spec.steps[2].dependsOn[0]`). Indexes match the
/// resource lists of [`Config`].
#[derive(Debug, Default)]
pub(crate) struct Nodes {
    pub environments: Vec<Node>,
    pub products: Vec<Node>,
    pub flows: Vec<Node>,
    pub policies: Vec<Node>,
    pub templates: Vec<Node>,
    /// For Applications only a few positions, as there may be tens of thousands.
    pub applications: Vec<AppPositions>,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AppPositions {
    pub name: Pos,
    pub destination: Pos,
    pub environment_label: Option<Pos>,
    pub product_annotation: Option<Pos>,
    pub source: Pos,
}

/// Loads every document of every file (in the order given; callers pass
/// files sorted by path) and validates the whole.
pub fn load(files: &[SourceFile]) -> Loaded {
    // Parsing dominates loading time and files are independent: parse
    // contiguous chunks on every core, then merge in file order so the
    // result is the same as a sequential load.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let total: usize = files.iter().map(|f| f.text.len()).sum();
    let partials: Vec<Loader> = if threads <= 1 || files.len() < 2 || total < 256 * 1024 {
        vec![load_files(files)]
    } else {
        let chunk = files.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let handles: Vec<_> = files
                .chunks(chunk)
                .map(|part| scope.spawn(move || load_files(part)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    };
    let mut merged = Loader::default();
    for part in partials {
        merged.absorb(part);
    }
    let Loader {
        mut config,
        mut diagnostics,
        nodes,
    } = merged;
    config.reindex();
    validate::run(&config, &nodes, &mut diagnostics);
    // Report in reading order; files keep the order they were given in.
    let file_rank: std::collections::HashMap<&str, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.as_str(), i))
        .collect();
    diagnostics.sort_by_key(|d| {
        (
            file_rank
                .get(d.file.as_str())
                .copied()
                .unwrap_or(usize::MAX),
            d.line,
            d.column,
        )
    });
    Loaded {
        config,
        diagnostics,
    }
}

#[derive(Default)]
struct Loader {
    config: Config,
    diagnostics: Vec<Diagnostic>,
    nodes: Nodes,
}

fn load_files(files: &[SourceFile]) -> Loader {
    let mut loader = Loader::default();
    for file in files {
        loader.file(file);
    }
    loader
}

impl Loader {
    /// Appends another loader's results after this one's.
    fn absorb(&mut self, other: Loader) {
        let c = &mut self.config;
        let o = other.config;
        c.applications.extend(o.applications);
        c.environments.extend(o.environments);
        c.products.extend(o.products);
        c.flows.extend(o.flows);
        c.policies.extend(o.policies);
        c.templates.extend(o.templates);
        c.workflow_templates.extend(o.workflow_templates);
        c.ignored.extend(o.ignored);
        self.diagnostics.extend(other.diagnostics);
        let n = &mut self.nodes;
        n.environments.extend(other.nodes.environments);
        n.products.extend(other.nodes.products);
        n.flows.extend(other.nodes.flows);
        n.policies.extend(other.nodes.policies);
        n.templates.extend(other.nodes.templates);
        n.applications.extend(other.nodes.applications);
    }

    fn file(&mut self, file: &SourceFile) {
        let docs = match parse_documents(&file.text) {
            Ok(docs) => docs,
            Err(e) => {
                let origin = Origin {
                    file: file.path.clone(),
                    pos: e.pos,
                };
                self.diagnostics.push(Diagnostic::error(
                    &origin,
                    "",
                    format!("YAML syntax error: {}", e.message),
                ));
                return;
            }
        };
        for doc in docs {
            self.document(&file.path, doc.root);
        }
    }

    fn document(&mut self, file: &str, root: Node) {
        let origin = Origin {
            file: file.to_owned(),
            pos: root.pos,
        };
        if !matches!(root.kind, NodeKind::Map(_)) {
            self.diagnostics.push(Diagnostic::error(
                &origin,
                "",
                format!(
                    "expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found {}",
                    root.describe()
                ),
            ));
            return;
        }
        let text_of = |key: &str| root.get(key).and_then(Node::as_str).map(str::to_owned);
        // YAML that is not a Kubernetes resource at all (Helm values, CI
        // files, Chart.yaml) often lives beside the manifests: note it and move on.
        let Some(kind) = text_of("kind") else {
            self.diagnostics.push(Diagnostic::note(
                &origin,
                "",
                "ignored: not a Kubernetes resource (no `kind`)",
            ));
            self.config.ignored.push(IgnoredDocument {
                api_version: text_of("apiVersion").unwrap_or_default(),
                kind: String::new(),
                origin,
            });
            return;
        };
        let Some(api_version) = text_of("apiVersion") else {
            self.diagnostics.push(Diagnostic::error(
                &origin,
                "apiVersion",
                format!("required field is missing: `{kind}` needs an `apiVersion` (e.g. `codefresh.io/v1beta1`)"),
            ));
            return;
        };
        let (group, version) = api_version
            .split_once('/')
            .unwrap_or(("", api_version.as_str()));
        let Some(&(_, _, versions)) = KINDS.iter().find(|(g, k, _)| *g == group && *k == kind)
        else {
            self.diagnostics.push(Diagnostic::note(
                &origin,
                "kind",
                format!("ignored: `{kind}` ({api_version}) is not a kind ferry reads"),
            ));
            self.config.ignored.push(IgnoredDocument {
                api_version,
                kind,
                origin,
            });
            return;
        };
        if !versions.contains(&version) {
            let pos = root.get("apiVersion").map_or(root.pos, |n| n.pos);
            let expected: Vec<String> = versions.iter().map(|v| format!("{group}/{v}")).collect();
            let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
            self.diagnostics.push(Diagnostic::error(
                &Origin {
                    file: file.to_owned(),
                    pos,
                },
                "apiVersion",
                format!(
                    "unsupported apiVersion `{api_version}` for {kind}: expected {}",
                    one_of(&expected)
                ),
            ));
            return;
        }
        let name_pos = root
            .get("metadata")
            .and_then(|m| m.get("name"))
            .map_or(root.pos, |n| n.pos);
        let origin = Origin {
            file: file.to_owned(),
            pos: name_pos,
        };
        match kind.as_str() {
            "Application" => {
                let Some((metadata, spec)) = self.envelope::<ApplicationSpec>(file, &root) else {
                    return;
                };
                self.nodes.applications.push(app_positions(&root));
                self.config.applications.push(Application {
                    metadata,
                    spec,
                    origin,
                });
            }
            "Environment" => {
                let Some((metadata, spec)) = self.envelope::<EnvironmentSpec>(file, &root) else {
                    return;
                };
                self.config.environments.push(Environment {
                    metadata,
                    spec,
                    origin,
                });
                self.nodes.environments.push(root);
            }
            "Product" => {
                let Some((metadata, spec)) = self.envelope::<ProductSpec>(file, &root) else {
                    return;
                };
                self.config.products.push(Product {
                    metadata,
                    spec,
                    origin,
                });
                self.nodes.products.push(root);
            }
            "PromotionTemplate" => {
                let Some((metadata, spec)) = self.envelope::<PromotionTemplateSpec>(file, &root)
                else {
                    return;
                };
                self.config.templates.push(PromotionTemplate {
                    metadata,
                    spec,
                    origin,
                });
                self.nodes.templates.push(root);
            }
            "PromotionPolicy" => {
                let Some((metadata, spec)) = self.envelope::<PromotionPolicySpec>(file, &root)
                else {
                    return;
                };
                self.config.policies.push(PromotionPolicy {
                    metadata,
                    spec,
                    origin,
                });
                self.nodes.policies.push(root);
            }
            "PromotionFlow" => self.flow(file, root, origin),
            "WorkflowTemplate" => {
                let Some((metadata, _)) = self.envelope::<IgnoredAny>(file, &root) else {
                    return;
                };
                let manifest = root.to_json();
                self.config.workflow_templates.push(WorkflowTemplate {
                    metadata,
                    manifest,
                    origin,
                    node: std::sync::Arc::new(root),
                });
            }
            _ => {}
        }
    }

    /// PromotionFlow accepts two layouts: the flow body directly under
    /// `spec`, or (older) under `spec.properties`.
    fn flow(&mut self, file: &str, root: Node, origin: Origin) {
        let Some((metadata, _)) = self.envelope::<IgnoredAny>(file, &root) else {
            return;
        };
        let Some(spec) = root.get("spec") else { return };
        let (body_node, path, legacy) = match spec.get("properties") {
            Some(props) => {
                if let NodeKind::Map(entries) = &spec.kind {
                    for (k, _) in entries
                        .iter()
                        .filter(|(k, _)| k.as_str() != Some("properties"))
                    {
                        self.diagnostics.push(Diagnostic::error(
                            &Origin { file: file.to_owned(), pos: k.pos },
                            format!("spec.{}", k.as_str().unwrap_or_default()),
                            "a flow written in the older layout keeps every field under `spec.properties`; do not mix both layouts",
                        ));
                    }
                }
                (props, "spec.properties", true)
            }
            None => (spec, "spec", false),
        };
        let Some(body) = self.typed::<FlowBody>(file, body_node, path) else {
            return;
        };
        self.config.flows.push(PromotionFlow {
            metadata,
            spec: PromotionFlowSpec {
                body,
                legacy_layout: legacy,
            },
            origin,
        });
        self.nodes.flows.push(root);
    }

    fn envelope<S: DeserializeOwned>(
        &mut self,
        file: &str,
        root: &Node,
    ) -> Option<(ObjectMeta, S)> {
        // Argo CD Applications may carry a top-level `operation`; accept it
        // without widening the shared envelope's field list for everyone.
        let env: Envelope<S> = self.typed_allowing(file, root, "", &["operation"])?;
        Some((env.metadata, env.spec))
    }

    fn typed<T: DeserializeOwned>(&mut self, file: &str, node: &Node, path: &str) -> Option<T> {
        self.typed_allowing(file, node, path, &[])
    }

    fn typed_allowing<T: DeserializeOwned>(
        &mut self,
        file: &str,
        node: &Node,
        path: &str,
        also_allowed: &[&str],
    ) -> Option<T> {
        let mut unknown = Vec::new();
        let result: Result<T, DeError> = from_node(node, path, &mut unknown);
        let mut refused = false;
        for u in unknown {
            if also_allowed.contains(&u.field.as_str()) {
                continue;
            }
            let d = unknown_field_diagnostic(file, &u);
            refused |= d.is_error();
            self.diagnostics.push(d);
        }
        match result {
            Ok(_) if refused => None,
            Ok(v) => Some(v),
            Err(e) => {
                let origin = Origin {
                    file: file.to_owned(),
                    pos: e.pos.unwrap_or(node.pos),
                };
                self.diagnostics.push(Diagnostic::error(
                    &origin,
                    e.field.clone(),
                    e.message.clone(),
                ));
                None
            }
        }
    }
}

fn app_positions(root: &Node) -> AppPositions {
    let at = |path: &[&str]| -> Option<Pos> {
        let mut node = root;
        for key in path {
            node = node.get(key)?;
        }
        Some(node.pos)
    };
    let spec = at(&["spec"]).unwrap_or(root.pos);
    AppPositions {
        name: at(&["metadata", "name"]).unwrap_or(root.pos),
        destination: at(&["spec", "destination"]).unwrap_or(spec),
        environment_label: at(&["metadata", "labels", crate::membership::ENVIRONMENT_LABEL]),
        product_annotation: at(&[
            "metadata",
            "annotations",
            crate::membership::PRODUCT_ANNOTATION,
        ]),
        source: at(&["spec", "source"])
            .or_else(|| at(&["spec", "sources"]))
            .unwrap_or(spec),
    }
}

/// A warning for an unknown field; an error inside a selector ([`STRICT`])
/// and for a field ferry refuses ([`REFUSED`]).
fn unknown_field_diagnostic(file: &str, u: &UnknownField) -> Diagnostic {
    let key = u
        .field
        .rsplit(['.', '['])
        .next()
        .unwrap_or(&u.field)
        .trim_matches(|c| c == '"' || c == ']');
    let origin = Origin {
        file: file.to_owned(),
        pos: u.pos,
    };
    if let Some((_, _, reason)) = REFUSED
        .iter()
        .find(|(within, field, _)| *within == u.within && *field == key)
    {
        return Diagnostic::error(&origin, u.field.clone(), *reason);
    }
    let known: Vec<&str> = u.expected.to_vec();
    let suggestion = closest(key, &known)
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    if STRICT.contains(&u.within) {
        return Diagnostic::error(
            &origin,
            u.field.clone(),
            format!(
                "unknown field `{key}` in a selector (expected {}){suggestion}; the resource is not loaded, as ignoring the key would make the selector match more than written",
                one_of(&known)
            ),
        );
    }
    Diagnostic::warning(
        &origin,
        u.field.clone(),
        format!(
            "unknown field `{key}` is ignored (expected {}){suggestion}",
            one_of(&known)
        ),
    )
}

/// The known name closest to `word` by edit distance, if close enough to be
/// a likely typo.
fn closest<'a>(word: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(&word.to_lowercase(), &k.to_lowercase()), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            closest("polcy", &["environment", "dependsOn", "policy", "hooks"]),
            Some("policy")
        );
        assert_eq!(
            closest("dependson", &["environment", "dependsOn"]),
            Some("dependsOn")
        );
        assert_eq!(closest("zzzzzz", &["environment", "dependsOn"]), None);
    }
}
