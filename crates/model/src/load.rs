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
    PromotionTemplate, PromotionTemplateSpec, PromotionWindow, PromotionWindowSpec,
    WorkflowTemplate,
};
use crate::validate;
use crate::yaml::de::{DeError, UnknownField, from_node, one_of};
use crate::yaml::{Body, DocumentRead, Head, Limits, Node, NodeKind, Pos, read_documents};

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
    ("ferry.io", "PromotionWindow", &["v1alpha1"]),
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
    "PromotionWindowSpec",
    "WindowRange",
];

/// Fields of Codefresh's published CRDs that ferry refuses, by the type
/// they would belong to, with the reason (docs/configuration.md,
/// "Codefresh compatibility").
const REFUSED: &[(&str, &str, &str)] = &[(
    "FlowBody",
    "postTrigger",
    "`postTrigger` is deprecated by Codefresh and not supported: name the workflow in `hooks.onStart` (run when the release starts) or `triggerPolicy.postAction` (run in the trigger environment before the first step)",
)];

/// Where a resource was read: the file (its index in loading order) and
/// the document in it. Trees are dropped as soon as a document is read;
/// a diagnostic that points inside a resource finds its position by
/// reading that document again ([`locate_pending`]), so a valid
/// configuration keeps nothing of its YAML.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct DocRef {
    pub file: u32,
    pub doc: u32,
}

/// The documents of the resources of [`Config`], index for index.
#[derive(Debug, Default)]
pub(crate) struct Sources {
    pub environments: Vec<DocRef>,
    pub products: Vec<DocRef>,
    pub flows: Vec<DocRef>,
    pub policies: Vec<DocRef>,
    pub templates: Vec<DocRef>,
    pub applications: Vec<DocRef>,
    pub windows: Vec<DocRef>,
}

/// Loads every document of every file (in the order given; callers pass
/// files sorted by path) and validates the whole, with the default
/// [`Limits`].
pub fn load(files: &[SourceFile]) -> Loaded {
    // Small inputs load on the calling thread (`de::record_fields` relies
    // on it); thread start-up would cost more than it saves.
    let total: usize = files.iter().map(|f| f.text.len()).sum();
    load_each(files.len(), Limits::default(), total >= 256 * 1024, |i| {
        FileInput {
            path: files[i].path.clone(),
            text: Ok(std::borrow::Cow::Borrowed(files[i].text.as_str())),
        }
    })
}

/// One file as a source hands it to [`load_each`]: its display path and
/// its text, or why it could not be read (reported as an error at the file).
pub struct FileInput<'a> {
    pub path: String,
    pub text: Result<std::borrow::Cow<'a, str>, String>,
}

/// Loads `count` files, asking `read` for each in turn (by index, in the
/// order that decides environment matching), and validates the whole.
///
/// Texts are read, parsed and dropped one file at a time, so memory holds
/// what the configuration contains (its resources, compactly), not the
/// files: with `parallel`, files are parsed on every core in contiguous
/// chunks and merged in order, so the result is the same as a sequential
/// load.
pub fn load_each<'a>(
    count: usize,
    limits: Limits,
    parallel: bool,
    read: impl Fn(usize) -> FileInput<'a> + Sync,
) -> Loaded {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let load_range = |range: std::ops::Range<usize>| {
        let mut loader = Loader::default();
        for i in range {
            let input = read(i);
            loader.paths.push(input.path.clone());
            match input.text {
                Ok(text) => loader.file(&input.path, i, &text, limits),
                Err(message) => {
                    let origin = Origin {
                        file: input.path,
                        pos: Pos::default(),
                    };
                    loader
                        .diagnostics
                        .push(Diagnostic::error(&origin, "", message));
                }
            }
        }
        loader
    };
    let merged = if !parallel || threads <= 1 || count < 2 {
        load_range(0..count)
    } else {
        // Small chunks taken in turn, so no core idles behind a slow one;
        // each is merged as soon as those before it are, so finished
        // chunks do not pile up beside the merged result.
        let chunk = count.div_ceil(threads * 16).max(1);
        let chunks = count.div_ceil(chunk);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let merging = std::sync::Mutex::new(Merge::default());
        std::thread::scope(|scope| {
            for _ in 0..threads.min(chunks) {
                scope.spawn(|| {
                    loop {
                        let c = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if c >= chunks {
                            break;
                        }
                        let part = load_range(c * chunk..((c + 1) * chunk).min(count));
                        merging
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .add(c, part);
                    }
                });
            }
        });
        merging.into_inner().unwrap_or_else(|p| p.into_inner()).done
    };
    let Loader {
        mut config,
        mut diagnostics,
        nodes,
        paths,
    } = merged.shrunk();
    config.reindex();
    let pending = validate::run(&config, &nodes, &mut diagnostics);
    locate_pending(&mut diagnostics, pending, limits, &read);
    // Report in reading order; files keep the order they were given in.
    let file_rank: std::collections::HashMap<&str, usize> = paths
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), i))
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

/// Chunks loaded in parallel, merged in order as they arrive.
#[derive(Default)]
struct Merge {
    done: Loader,
    /// Index of the next chunk to merge.
    next: usize,
    waiting: std::collections::BTreeMap<usize, Loader>,
}

impl Merge {
    fn add(&mut self, index: usize, part: Loader) {
        self.waiting.insert(index, part);
        while let Some(part) = self.waiting.remove(&self.next) {
            self.done.absorb(part);
            self.next += 1;
        }
    }
}

/// What a document is, from its top level.
enum Class<'h> {
    /// Not a mapping.
    NotResource,
    /// A mapping without `kind`.
    NoKind,
    /// `kind` without `apiVersion`.
    NoApiVersion(&'h str),
    /// A kind ferry does not read.
    Ignored(&'h str, &'h str),
    /// A kind ferry reads, in a version it does not.
    BadVersion {
        kind: &'h str,
        api_version: &'h str,
        pos: Pos,
        group: &'h str,
        versions: &'static [&'static str],
    },
    /// A kind ferry reads.
    Read(&'h str),
}

fn classify(head: &Head) -> Class<'_> {
    if !head.is_mapping() {
        return Class::NotResource;
    }
    let Some(kind) = head.kind.as_deref() else {
        return Class::NoKind;
    };
    let Some((api_version, pos)) = head.api_version.as_ref() else {
        return Class::NoApiVersion(kind);
    };
    let (group, version) = api_version
        .split_once('/')
        .unwrap_or(("", api_version.as_str()));
    let Some(&(_, _, versions)) = KINDS.iter().find(|(g, k, _)| *g == group && *k == kind) else {
        return Class::Ignored(kind, api_version);
    };
    if !versions.contains(&version) {
        return Class::BadVersion {
            kind,
            api_version,
            pos: *pos,
            group,
            versions,
        };
    }
    Class::Read(kind)
}

#[derive(Default)]
struct Loader {
    config: Config,
    diagnostics: Vec<Diagnostic>,
    nodes: Sources,
    /// The files read, in order.
    paths: Vec<String>,
}

impl Loader {
    /// Without the spare capacity the lists grew with.
    fn shrunk(mut self) -> Loader {
        let c = &mut self.config;
        c.applications.shrink_to_fit();
        c.products.shrink_to_fit();
        c.flows.shrink_to_fit();
        self.nodes.applications.shrink_to_fit();
        self.nodes.products.shrink_to_fit();
        self.nodes.flows.shrink_to_fit();
        self
    }

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
        c.windows.extend(o.windows);
        c.ignored.extend(o.ignored);
        self.diagnostics.extend(other.diagnostics);
        self.paths.extend(other.paths);
        let n = &mut self.nodes;
        n.environments.extend(other.nodes.environments);
        n.products.extend(other.nodes.products);
        n.flows.extend(other.nodes.flows);
        n.policies.extend(other.nodes.policies);
        n.templates.extend(other.nodes.templates);
        n.applications.extend(other.nodes.applications);
        n.windows.extend(other.nodes.windows);
    }

    /// Reads one file. A YAML syntax error anywhere in it is the only
    /// thing reported for the file (as before streaming): its documents
    /// are kept aside until the whole file has parsed.
    fn file(&mut self, path: &str, index: usize, text: &str, limits: Limits) {
        let file = u32::try_from(index).unwrap_or(u32::MAX);
        let mut part = Loader::default();
        let result = read_documents(
            text,
            limits,
            |head| matches!(classify(head), Class::Read(_)),
            |doc| part.document(path, file, doc, limits),
        );
        match result {
            Ok(()) => self.absorb(part),
            Err(e) => {
                let origin = Origin {
                    file: path.to_owned(),
                    pos: e.pos,
                };
                self.diagnostics.push(Diagnostic::error(
                    &origin,
                    "",
                    format!("YAML syntax error: {}", e.message),
                ));
            }
        }
    }

    fn document(&mut self, file: &str, file_index: u32, doc: DocumentRead, limits: Limits) {
        let at = DocRef {
            file: file_index,
            doc: u32::try_from(doc.index).unwrap_or(u32::MAX),
        };
        let head = &doc.head;
        let origin = Origin {
            file: file.to_owned(),
            pos: head.pos,
        };
        let kind = match classify(head) {
            Class::NotResource => {
                self.diagnostics.push(Diagnostic::error(
                    &origin,
                    "",
                    format!(
                        "expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found {}",
                        head.root
                    ),
                ));
                return;
            }
            // YAML that is not a Kubernetes resource at all (Helm values, CI
            // files, Chart.yaml) often lives beside the manifests: note it and move on.
            Class::NoKind => {
                self.diagnostics.push(Diagnostic::note(
                    &origin,
                    "",
                    "ignored: not a Kubernetes resource (no `kind`)",
                ));
                self.config.ignored.push(IgnoredDocument {
                    api_version: head
                        .api_version
                        .as_ref()
                        .map(|(v, _)| v.clone())
                        .unwrap_or_default(),
                    kind: String::new(),
                    origin,
                });
                return;
            }
            Class::NoApiVersion(kind) => {
                self.diagnostics.push(Diagnostic::error(
                    &origin,
                    "apiVersion",
                    format!("required field is missing: `{kind}` needs an `apiVersion` (e.g. `codefresh.io/v1beta1`)"),
                ));
                return;
            }
            Class::Ignored(kind, api_version) => {
                self.diagnostics.push(Diagnostic::note(
                    &origin,
                    "kind",
                    format!("ignored: `{kind}` ({api_version}) is not a kind ferry reads"),
                ));
                self.config.ignored.push(IgnoredDocument {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    origin,
                });
                return;
            }
            Class::BadVersion {
                kind,
                api_version,
                pos,
                group,
                versions,
            } => {
                let expected: Vec<String> =
                    versions.iter().map(|v| format!("{group}/{v}")).collect();
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
            Class::Read(kind) => kind.to_owned(),
        };
        let root = match doc.body {
            Body::Tree(root) => root,
            Body::TooLarge(pos) => {
                self.diagnostics.push(Diagnostic::error(
                    &Origin {
                        file: file.to_owned(),
                        pos,
                    },
                    "",
                    format!(
                        "this {kind} is too large to read: it has more than {} YAML nodes, the limit of one document (`configMaxDocumentNodes`)",
                        limits.max_nodes
                    ),
                ));
                return;
            }
            // `wanted` accepts exactly the documents classified `Read`, so
            // a skipped document never gets here; nothing to load if it did.
            Body::Skipped => return,
        };
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
                self.nodes.applications.push(at);
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
                self.nodes.environments.push(at);
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
                self.nodes.products.push(at);
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
                self.nodes.templates.push(at);
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
                self.nodes.policies.push(at);
            }
            "PromotionWindow" => {
                let Some((metadata, spec)) = self.envelope::<PromotionWindowSpec>(file, &root)
                else {
                    return;
                };
                self.config.windows.push(PromotionWindow {
                    metadata,
                    spec,
                    origin,
                });
                self.nodes.windows.push(at);
            }
            "PromotionFlow" => self.flow(file, at, &root, origin),
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
    fn flow(&mut self, file: &str, at: DocRef, root: &Node, origin: Origin) {
        let Some((metadata, _)) = self.envelope::<IgnoredAny>(file, root) else {
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
        self.nodes.flows.push(at);
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

/// Finds the positions of `pending` diagnostics by reading their
/// documents again, one file at a time. A file that cannot be read again
/// or has changed keeps the resource's own position for its diagnostics.
fn locate_pending<'a>(
    diagnostics: &mut [Diagnostic],
    mut pending: Vec<validate::Pending>,
    limits: Limits,
    read: &impl Fn(usize) -> FileInput<'a>,
) {
    pending.sort_by_key(|(_, at, _)| *at);
    let mut rest = pending.as_slice();
    while let Some((_, first, _)) = rest.first() {
        let file = first.file;
        let n = rest.iter().take_while(|(_, at, _)| at.file == file).count();
        let (in_file, later) = rest.split_at(n);
        rest = later;
        let Ok(text) = read(file as usize).text else {
            continue;
        };
        let docs: std::collections::BTreeSet<u32> =
            in_file.iter().map(|(_, at, _)| at.doc).collect();
        // A syntax error now means the file changed: positions stay as they are.
        let _ = read_documents(
            &text,
            limits,
            |head| u32::try_from(head.index).is_ok_and(|i| docs.contains(&i)),
            |doc| {
                let Body::Tree(root) = doc.body else { return };
                let index = u32::try_from(doc.index).unwrap_or(u32::MAX);
                for (d, _, want) in in_file.iter().filter(|(_, at, _)| at.doc == index) {
                    if let Some(diagnostic) = diagnostics.get_mut(*d) {
                        let pos = want.find(&root);
                        diagnostic.line = pos.line;
                        diagnostic.column = pos.col;
                    }
                }
            },
        );
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
