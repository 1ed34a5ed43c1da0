//! Cross-resource validation: references, duplicates, flow graphs,
//! template paths, memberships. Runs on whatever loaded, so every problem
//! of a configuration is reported at once.

use std::collections::HashMap;

use crate::config::Config;
use crate::diagnostic::Severity;
use crate::diagnostic::{Diagnostic, Origin};
use crate::flowgraph::FlowGraph;
use crate::jsonpath;
use crate::load::{DocRef, Sources};
use crate::membership::{
    EnvironmentMatch, PRODUCT_ANNOTATION, TemplateSource, environment_of, template_for,
};
use crate::policy::workflow_warning;
use crate::resource::{PolicySettings, TemplateBody};
use crate::yaml::{Node, NodeKind, Pos};

/// One step of a field path.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Splits a field path as [`crate::yaml::de::child`] writes it:
/// `spec.steps[2].dependsOn[0]`, `spec.promotion["values.yaml"].jsonPaths[1]`.
/// `None` for a path it cannot read.
fn steps(path: &str) -> Option<Vec<Step>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            rest = r;
        } else if let Some(r) = rest.strip_prefix("[\"") {
            // A quoted key, escaped as Rust's `{:?}` does.
            let mut key = String::new();
            let mut chars = r.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => key.push('\n'),
                        't' => key.push('\t'),
                        'r' => key.push('\r'),
                        '0' => key.push('\0'),
                        c => key.push(c),
                    },
                    (_, c) => key.push(c),
                }
            };
            rest = r[end + 1..].strip_prefix(']')?;
            out.push(Step::Key(key));
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            out.push(Step::Index(r[..close].parse().ok()?));
            rest = &r[close + 1..];
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            out.push(Step::Key(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    Some(out)
}

/// The node at `path` inside `root` and whether all of the path exists;
/// else its deepest existing ancestor.
fn walk<'n>(root: &'n Node, path: &str) -> (&'n Node, bool) {
    let Some(steps) = steps(path) else {
        return (root, false);
    };
    let mut node = root;
    for step in steps {
        let next = match (&step, &node.kind) {
            (Step::Key(k), _) => node.get(k),
            (Step::Index(i), NodeKind::Seq(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return (node, false),
        }
    }
    (node, true)
}

/// Position of `path` (e.g. `spec.steps[2].dependsOn[0]`) inside `root`, or
/// of its deepest existing ancestor.
pub(crate) fn locate(root: &Node, path: &str) -> Pos {
    walk(root, path).0.pos
}

/// Position of the key that ends `path` (`spec.promotion["values.yaml"]`),
/// when it exists.
fn locate_key(root: &Node, path: &str) -> Option<Pos> {
    let mut steps = steps(path)?;
    let Some(Step::Key(last)) = steps.pop() else {
        return None;
    };
    let mut node = root;
    for step in steps {
        node = match (&step, &node.kind) {
            (Step::Key(k), _) => node.get(k)?,
            (Step::Index(i), NodeKind::Seq(items)) => items.get(*i)?,
            _ => return None,
        };
    }
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(last.as_str()))
            .map(|(k, _)| k.pos),
        _ => None,
    }
}

/// Where a diagnostic points inside its resource, resolved once
/// validation is done (the trees are not kept; see [`crate::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Want {
    /// Tried in order, each only if it exists: `(path, the key rather than the value)`.
    pub exact: Vec<(String, bool)>,
    /// Otherwise: this node, or its deepest existing ancestor.
    pub near: String,
}

impl Want {
    pub(crate) fn at(path: impl Into<String>) -> Want {
        Want {
            exact: Vec::new(),
            near: path.into(),
        }
    }

    /// The position `self` names inside `root`.
    pub(crate) fn find(&self, root: &Node) -> Pos {
        for (path, key) in &self.exact {
            let found = if *key {
                locate_key(root, path)
            } else {
                match walk(root, path) {
                    (n, true) => Some(n.pos),
                    _ => None,
                }
            };
            if let Some(p) = found {
                return p;
            }
        }
        locate(root, &self.near)
    }
}

/// A diagnostic whose position is still to be found: its index in the
/// list, the document, and where in it.
pub(crate) type Pending = (usize, DocRef, Want);

struct Ctx<'a> {
    config: &'a Config,
    out: &'a mut Vec<Diagnostic>,
    pending: Vec<Pending>,
}

impl Ctx<'_> {
    /// Adds a diagnostic at `want` inside the document `doc` (placed at the
    /// resource's origin until the position is resolved).
    fn push(
        &mut self,
        severity: Severity,
        origin: &Origin,
        doc: DocRef,
        want: Want,
        field: String,
        message: String,
    ) {
        self.pending.push((self.out.len(), doc, want));
        self.out
            .push(Diagnostic::new(severity, origin, field, message));
    }

    fn error(&mut self, origin: &Origin, doc: DocRef, field: &str, message: String) {
        self.push(
            Severity::Error,
            origin,
            doc,
            Want::at(field),
            field.to_owned(),
            message,
        );
    }

    fn warning(&mut self, origin: &Origin, doc: DocRef, field: &str, message: String) {
        self.push(
            Severity::Warning,
            origin,
            doc,
            Want::at(field),
            field.to_owned(),
            message,
        );
    }

    fn note(&mut self, origin: &Origin, doc: DocRef, field: &str, message: String) {
        self.push(
            Severity::Note,
            origin,
            doc,
            Want::at(field),
            field.to_owned(),
            message,
        );
    }
}

/// Cross-resource validation; returns the diagnostics whose positions are
/// to be found in their documents.
pub(crate) fn run(config: &Config, nodes: &Sources, out: &mut Vec<Diagnostic>) -> Vec<Pending> {
    let mut cx = Ctx {
        config,
        out,
        pending: Vec::new(),
    };
    duplicates(&mut cx);
    for (env, root) in config
        .environments
        .iter()
        .zip(nodes.environments.iter().copied())
    {
        if env.spec.clusters.is_empty() {
            cx.warning(&env.origin, root, "spec.clusters", format!(
                "environment `{}` lists no clusters: only applications labelled `ferry.io/environment: {}` belong to it",
                env.name(), env.name()
            ));
        }
        for (i, c) in env.spec.clusters.iter().enumerate() {
            if c.name.trim().is_empty() {
                cx.error(
                    &env.origin,
                    root,
                    &format!("spec.clusters[{i}].name"),
                    "cluster name must not be empty".into(),
                );
            }
        }
    }
    for (t, root) in config.templates.iter().zip(nodes.templates.iter().copied()) {
        if let Some(sel) = &t.spec.application_source_selector {
            for (field, msg) in sel.problems() {
                cx.error(
                    &t.origin,
                    root,
                    &format!("spec.applicationSourceSelector.{field}"),
                    msg,
                );
            }
        } else if !config
            .products
            .iter()
            .any(|p| p.spec.promotion_template_ref.as_deref() == Some(t.name()))
        {
            cx.warning(&t.origin, root, "spec", format!(
                "template `{}` has no applicationSourceSelector: it applies only to products that reference it, and none does",
                t.name()
            ));
        }
        template_body(&mut cx, &t.origin, root, "spec", &t.body());
    }
    for (p, root) in config.products.iter().zip(nodes.products.iter().copied()) {
        if let Some(body) = &p.spec.promotion_template {
            template_body(&mut cx, &p.origin, root, "spec.promotionTemplate", body);
        }
        if let Some(name) = &p.spec.promotion_template_ref {
            if config.template(name).is_none() {
                cx.error(
                    &p.origin,
                    root,
                    "spec.promotionTemplateRef",
                    format!("PromotionTemplate `{name}` does not exist"),
                );
            } else if p.spec.promotion_template.is_some() {
                // A note, not a warning: Codefresh's own Product example sets
                // both, and the outcome is defined (SPEC §1.3).
                cx.note(&p.origin, root, "spec.promotionTemplateRef", "both an inline promotionTemplate and a promotionTemplateRef are set; the inline template wins".into());
            }
        }
        for (i, f) in p.spec.promotion_flows.iter().enumerate() {
            if config.flow(&f.name).is_none() {
                cx.error(
                    &p.origin,
                    root,
                    &format!("spec.promotionFlows[{i}].name"),
                    format!("PromotionFlow `{}` does not exist", f.name),
                );
            }
            for (j, s) in f.git_trigger_selectors.iter().enumerate() {
                if s.values.is_empty() {
                    cx.error(
                        &p.origin,
                        root,
                        &format!("spec.promotionFlows[{i}].gitTriggerSelectors[{j}].values"),
                        "at least one value is required".into(),
                    );
                }
            }
        }
        if let Some(c) = &p.spec.concurrency
            && c.queue_limit == 0
        {
            cx.error(
                &p.origin,
                root,
                "spec.concurrency.queueLimit",
                "must be at least 1".into(),
            );
        }
        if let Some(notes) = &p.spec.release_notes {
            release_notes(&mut cx, &p.origin, root, notes);
            for (i, s) in notes.sources.iter().enumerate() {
                if let Some(pattern) = &s.tag_pattern
                    && !["{sha}", "{version}"].iter().any(|v| pattern.contains(v))
                {
                    cx.error(&p.origin, root, &format!("spec.releaseNotes.sources[{i}].tagPattern"), format!(
                            "tag pattern `{pattern}` must contain `{{sha}}` or `{{version}}` (e.g. `main-{{sha}}`, `v{{version}}`)"
                        ));
                }
            }
        }
    }
    for (f, root) in config.flows.iter().zip(nodes.flows.iter().copied()) {
        let base = if f.spec.legacy_layout {
            "spec.properties"
        } else {
            "spec"
        };
        let body = &f.spec.body;
        if config.environment(&body.trigger_environment).is_none() {
            cx.error(
                &f.origin,
                root,
                &format!("{base}.triggerEnvironment"),
                format!("environment `{}` does not exist", body.trigger_environment),
            );
        }
        for (i, s) in body.steps.iter().enumerate() {
            if config.environment(&s.environment).is_none() {
                cx.error(
                    &f.origin,
                    root,
                    &format!("{base}.steps[{i}].environment"),
                    format!("environment `{}` does not exist", s.environment),
                );
            }
            if let Some(p) = &s.policy {
                policy_workflows(
                    &mut cx,
                    &f.origin,
                    root,
                    &format!("{base}.steps[{i}].policy"),
                    p,
                );
            }
            if let Some(h) = &s.hooks {
                for (field, name) in h.named() {
                    hook_workflow(
                        &mut cx,
                        &f.origin,
                        root,
                        &format!("{base}.steps[{i}].hooks.{field}"),
                        name,
                    );
                }
            }
        }
        if let Some(h) = &body.hooks {
            for (field, name) in h.named() {
                hook_workflow(
                    &mut cx,
                    &f.origin,
                    root,
                    &format!("{base}.hooks.{field}"),
                    name,
                );
            }
        }
        if let Some(p) = &body.trigger_policy {
            policy_workflows(
                &mut cx,
                &f.origin,
                root,
                &format!("{base}.triggerPolicy"),
                p,
            );
        }
        flow_timeout(&mut cx, &f.origin, root, base, body);
        if let Err(problems) = FlowGraph::build(f) {
            for p in problems {
                cx.error(&f.origin, root, &p.field, p.message);
            }
        }
    }
    for (p, root) in config.policies.iter().zip(nodes.policies.iter().copied()) {
        policy_workflows(&mut cx, &p.origin, root, "spec.policy", &p.spec.policy);
        if let Some(sel) = &p.spec.selector.product {
            for (i, n) in sel.names.iter().enumerate() {
                if config.product(n).is_none()
                    && !config
                        .applications
                        .iter()
                        .any(|a| a.metadata.annotations.get(PRODUCT_ANNOTATION) == Some(n))
                {
                    cx.warning(
                        &p.origin,
                        root,
                        &format!("spec.selector.product.names[{i}]"),
                        format!("no product named `{n}`"),
                    );
                }
            }
        }
        if let Some(sel) = &p.spec.selector.target_environment {
            for (i, n) in sel.names.iter().enumerate() {
                if config.environment(n).is_none() {
                    cx.warning(
                        &p.origin,
                        root,
                        &format!("spec.selector.targetEnvironment.names[{i}]"),
                        format!("environment `{n}` does not exist"),
                    );
                }
            }
        }
    }
    for (w, root) in config.windows.iter().zip(nodes.windows.iter().copied()) {
        if let Err(problems) = crate::window::compile(w) {
            for p in problems {
                cx.error(&w.origin, root, &p.field, p.message);
            }
        }
    }
    applications(&mut cx, nodes);
    cx.pending
}

/// `timeout` (a Go duration) and Codefresh's `promotionTimeoutLimit`
/// (minutes) set the same thing: each must be valid, and both may be given
/// only when they agree, so a flow never runs with a timeout its author did
/// not mean.
fn flow_timeout(
    cx: &mut Ctx<'_>,
    origin: &Origin,
    root: DocRef,
    base: &str,
    body: &crate::resource::FlowBody,
) {
    let timeout = match &body.timeout {
        Some(t) => match crate::resource::parse_duration(t) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(origin, root, &format!("{base}.timeout"), e);
                None
            }
        },
        None => None,
    };
    let Some(minutes) = body.promotion_timeout_limit else {
        return;
    };
    let field = format!("{base}.promotionTimeoutLimit");
    let max = crate::resource::MAX_TIMEOUT_MINUTES;
    if minutes < 1 || minutes.unsigned_abs() > max {
        cx.error(
            origin,
            root,
            &field,
            format!("must be a number of minutes from 1 to {max}, found {minutes}"),
        );
        return;
    }
    if let Some(t) = timeout
        && t != std::time::Duration::from_secs(minutes.unsigned_abs() * 60)
    {
        cx.error(
            origin,
            root,
            &field,
            format!(
                "{minutes} minute(s) disagrees with `timeout: {}`; both set the flow timeout, keep one",
                body.timeout.as_deref().unwrap_or_default()
            ),
        );
    }
}

/// `spec.releaseNotes` (SPEC §7): what the notes builder would otherwise
/// only be able to report as a note on every release.
fn release_notes(
    cx: &mut Ctx<'_>,
    origin: &Origin,
    root: DocRef,
    notes: &crate::resource::ReleaseNotesSpec,
) {
    let base = "spec.releaseNotes";
    if let Some(p) = &notes.issue_pattern
        && let Err(e) = regex::Regex::new(p)
    {
        let reason = e.to_string().lines().last().unwrap_or("").trim().to_owned();
        cx.error(
            origin,
            root,
            &format!("{base}.issuePattern"),
            format!("`{p}` is not a regular expression ({reason})"),
        );
    }
    if let Some(t) = &notes.issue_url_template
        && !t.contains("{key}")
    {
        cx.error(
            origin,
            root,
            &format!("{base}.issueUrlTemplate"),
            format!(
                "`{t}` must contain `{{key}}` (e.g. `https://jira.example.com/browse/{{key}}`)"
            ),
        );
    }
    if notes.first_release_limit == Some(0) {
        cx.error(
            origin,
            root,
            &format!("{base}.firstReleaseLimit"),
            "must be at least 1".into(),
        );
    }
    for (i, s) in notes.sources.iter().enumerate() {
        let image = s.image.trim();
        let last = image.rsplit('/').next().unwrap_or(image);
        if image.is_empty() || image.contains(char::is_whitespace) || last.contains([':', '@']) {
            cx.error(origin, root, &format!("{base}.sources[{i}].image"), format!(
                "`{}` must be an image repository without tag or digest (e.g. `ghcr.io/acme/api`)",
                s.image
            ));
        } else if notes.sources[..i].iter().any(|o| o.image.trim() == image) {
            cx.warning(
                origin,
                root,
                &format!("{base}.sources[{i}].image"),
                format!("`{image}` is mapped more than once; the first entry is used"),
            );
        }
        if s.repo_url.trim().is_empty() {
            cx.error(
                origin,
                root,
                &format!("{base}.sources[{i}].repoURL"),
                "must not be empty".into(),
            );
        }
    }
}

fn duplicates(cx: &mut Ctx<'_>) {
    fn check<'a>(
        out: &mut Vec<Diagnostic>,
        kind: &str,
        items: impl Iterator<Item = (String, &'a Origin)>,
    ) {
        let mut seen: HashMap<String, &Origin> = HashMap::new();
        for (name, origin) in items {
            if let Some(first) = seen.get(&name) {
                out.push(Diagnostic::error(
                    origin,
                    "metadata.name",
                    format!("duplicate {kind} `{name}` (first defined at {first})"),
                ));
            } else {
                seen.insert(name, origin);
            }
        }
    }
    let c = cx.config;
    check(
        cx.out,
        "Environment",
        c.environments
            .iter()
            .map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "Product",
        c.products.iter().map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "PromotionFlow",
        c.flows.iter().map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "PromotionPolicy",
        c.policies.iter().map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "PromotionWindow",
        c.windows.iter().map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "PromotionTemplate",
        c.templates.iter().map(|r| (r.name().to_owned(), &r.origin)),
    );
    check(
        cx.out,
        "WorkflowTemplate",
        c.workflow_templates
            .iter()
            .map(|r| (r.name().to_owned(), &r.origin)),
    );
    // Argo CD identifies applications by namespace and name.
    check(
        cx.out,
        "Application",
        c.applications.iter().map(|a| {
            (
                format!(
                    "{}/{}",
                    a.metadata.namespace.as_deref().unwrap_or(""),
                    a.name()
                ),
                &a.origin,
            )
        }),
    );
}

/// Checks file names and JSONPaths of a template body. A problem with a
/// promoted file is reported at that file's key, one with a JSONPath at
/// the list item itself (`spec.promotion["values.yaml"].jsonPaths[1]`).
fn template_body(cx: &mut Ctx<'_>, origin: &Origin, root: DocRef, base: &str, body: &TemplateBody) {
    if let Some(vs) = &body.version_source {
        if let Err(msg) = relative_path(&vs.file) {
            cx.error(origin, root, &format!("{base}.versionSource.file"), msg);
        }
        if let Err(msg) = jsonpath::check(&vs.json_path) {
            cx.error(origin, root, &format!("{base}.versionSource.jsonPath"), msg);
        }
    }
    let Some(promotion) = &body.promotion else {
        return;
    };
    let promotion_field = format!("{base}.promotion");
    // The first of `exact` that exists, else the `promotion` mapping.
    let mut report = |exact: Vec<(String, bool)>, field: String, message: String| {
        let want = Want {
            exact,
            near: promotion_field.clone(),
        };
        cx.push(Severity::Error, origin, root, want, field, message);
    };
    for (file, spec) in promotion {
        let field = crate::yaml::de::child(&promotion_field, file);
        let key = (field.clone(), true);
        if let Err(msg) = relative_path(file) {
            report(vec![key.clone()], field.clone(), msg);
        }
        let paths_field = format!("{field}.jsonPaths");
        let paths = (paths_field.clone(), false);
        if spec.json_paths.is_empty() {
            report(
                vec![paths.clone(), key.clone()],
                paths_field.clone(),
                "must list at least one path (or `*` for the whole file)".into(),
            );
        }
        let has_star = spec.json_paths.iter().any(|p| p.trim() == "*");
        if has_star && spec.json_paths.len() > 1 {
            report(
                vec![paths.clone(), key.clone()],
                paths_field.clone(),
                "`*` promotes the whole file and cannot be combined with other paths".into(),
            );
        }
        for (i, p) in spec.json_paths.iter().enumerate() {
            if p.trim() == "*" {
                continue;
            }
            if let Err(msg) = jsonpath::check(p) {
                let item = format!("{paths_field}[{i}]");
                report(vec![(item.clone(), false), key.clone()], item, msg);
            }
        }
    }
}

/// Template files are relative to the application's directory and may not
/// leave it.
fn relative_path(path: &str) -> Result<(), String> {
    if path.trim().is_empty() {
        return Err("file name must not be empty".into());
    }
    if path.starts_with('/') || path.starts_with('\\') || path.get(1..3) == Some(":\\") {
        return Err(format!(
            "`{path}` must be relative to the application's source path"
        ));
    }
    if path.split(['/', '\\']).any(|c| c == "..") {
        return Err(format!(
            "`{path}` leaves the application's directory (`..` is not allowed)"
        ));
    }
    Ok(())
}

fn policy_workflows(
    cx: &mut Ctx<'_>,
    origin: &Origin,
    root: DocRef,
    base: &str,
    p: &PolicySettings,
) {
    for (field, name) in [("preAction", &p.pre_action), ("postAction", &p.post_action)] {
        if let Some(name) = name
            && let Some(w) = workflow_warning(cx.config, field, name)
        {
            cx.warning(origin, root, &format!("{base}.{field}"), w);
        }
    }
    if let Some(gate) = &p.approval {
        approval_gate(cx, origin, root, &format!("{base}.approval"), gate);
    }
}

/// An approval gate (issue 20) that could never open, or never expire as
/// written, is an error where it is written.
fn approval_gate(
    cx: &mut Ctx<'_>,
    origin: &Origin,
    root: DocRef,
    base: &str,
    gate: &crate::resource::ApprovalGate,
) {
    if gate.required == 0 {
        cx.error(
            origin,
            root,
            &format!("{base}.required"),
            "must be at least 1 (no approval needed: leave `approval` out)".to_owned(),
        );
    }
    for (i, role) in gate.approvers.roles.iter().enumerate() {
        if !crate::resource::APPROVER_ROLES.contains(&role.as_str()) {
            cx.error(
                origin,
                root,
                &format!("{base}.approvers.roles[{i}]"),
                format!("unknown role `{role}` (expected viewer, promoter or admin)"),
            );
        }
    }
    let named = gate.approvers.names.len();
    if named > 0 && gate.approvers.roles.is_empty() && (named as u64) < u64::from(gate.required) {
        cx.error(
            origin,
            root,
            &format!("{base}.required"),
            format!(
                "{} approvals needed but only {named} approver(s) named: the gate could never open",
                gate.required
            ),
        );
    }
    if let Some(text) = &gate.expires_after
        && let Err(e) = crate::resource::parse_duration(text)
    {
        cx.error(origin, root, &format!("{base}.expiresAfter"), e);
    }
}

fn hook_workflow(cx: &mut Ctx<'_>, origin: &Origin, root: DocRef, field: &str, name: &str) {
    if let Some(w) = workflow_warning(cx.config, "hook", name) {
        cx.warning(origin, root, field, w);
    }
}

fn applications(cx: &mut Ctx<'_>, nodes: &Sources) {
    let config = cx.config;
    // Whether a template applies depends on the product and the labels only.
    let mut has_template: HashMap<(&str, &crate::resource::StringMap), bool> = HashMap::new();
    for (app, doc) in config
        .applications
        .iter()
        .zip(nodes.applications.iter().copied())
    {
        let Some(product) = app.metadata.annotations.get(PRODUCT_ANNOTATION) else {
            continue;
        };
        // Where in the Application each finding points.
        let source = || Want {
            exact: vec![
                ("spec.source".into(), false),
                ("spec.sources".into(), false),
            ],
            near: "spec".into(),
        };
        let or_name = |path: String| Want {
            exact: vec![(path, false)],
            near: "metadata.name".into(),
        };
        let origin = &app.origin;
        match app.promoted_source() {
            None => cx.push(
                Severity::Error,
                origin,
                doc,
                source(),
                "spec.source".into(),
                format!(
                    "application `{}` of product `{product}` has no source with a path to promote",
                    app.name()
                ),
            ),
            Some(s) if s.path.as_deref().is_none_or(|p| p.trim().is_empty()) => {
                let what = if s.chart.is_some() {
                    "a Helm chart source (no path)"
                } else {
                    "a source without `path`"
                };
                cx.push(Severity::Error, origin, doc, source(), "spec.source.path".into(), format!(
                    "application `{}` of product `{product}` has {what}; ferry promotes files under the source path", app.name()
                ));
            }
            Some(_) => {}
        }
        if let Some(s) = app.promoted_source()
            && let Some(shown) = credentials_in_url(&s.repo_url)
        {
            cx.push(
                Severity::Error,
                origin,
                doc,
                source(),
                "spec.source.repoURL".into(),
                format!(
                    "application `{}` has credentials in its repoURL (`{shown}`); ferry would keep \
                     them in every release record — put them in ferry's `gitCredentials` settings \
                     instead",
                    app.name()
                ),
            );
        }
        match environment_of(config, app) {
            EnvironmentMatch::UnknownLabel(env) => {
                let field = format!(
                    "metadata.labels[\"{}\"]",
                    crate::membership::ENVIRONMENT_LABEL
                );
                cx.push(
                    Severity::Error,
                    origin,
                    doc,
                    or_name(field.clone()),
                    field,
                    format!("environment `{env}` does not exist"),
                );
            }
            EnvironmentMatch::None => {
                let d = &app.spec.destination;
                cx.push(Severity::Warning, origin, doc, Want::at("spec.destination"), "spec.destination".into(), format!(
                    "application `{}` belongs to no environment: destination {}/{} matches no Environment's clusters and namespaces",
                    app.name(),
                    d.name.as_deref().or(d.server.as_deref()).unwrap_or("?"),
                    d.namespace.as_deref().unwrap_or("")
                ));
            }
            _ => {}
        }
        let applies = *has_template
            .entry((product.as_str(), &app.metadata.labels))
            .or_insert_with(|| {
                template_for(config, config.product(product), app).source != TemplateSource::None
            });
        if !applies {
            let annotation = format!("metadata.annotations[\"{PRODUCT_ANNOTATION}\"]");
            cx.push(Severity::Warning, origin, doc, or_name(annotation), "metadata.labels".into(), format!(
                "no PromotionTemplate applies to application `{}`: every file of its source path is promoted and its version is unknown",
                app.name()
            ));
        }
    }
}

/// `Some(url with the credentials masked)` when an HTTP(S) URL carries a
/// user or password (`https://user:token@host/…`, `https://token@host/…`).
/// SSH user names (`ssh://git@host/…`, `git@host:…`) are not secrets.
fn credentials_in_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (_, host) = authority.rsplit_once('@')?;
    Some(format!("{scheme}://***@{host}{}", &rest[authority.len()..]))
}

#[cfg(test)]
mod url_tests {
    use super::credentials_in_url;

    #[test]
    fn credentials_in_http_urls_are_found_and_masked() {
        assert_eq!(
            credentials_in_url("https://bot:s3cret@git.example.com/org/repo.git").as_deref(),
            Some("https://***@git.example.com/org/repo.git")
        );
        assert_eq!(
            credentials_in_url("http://tok@h/x").as_deref(),
            Some("http://***@h/x")
        );
        assert_eq!(credentials_in_url("https://github.com/org/repo"), None);
        assert_eq!(credentials_in_url("ssh://git@github.com/org/repo"), None);
        assert_eq!(credentials_in_url("git@github.com:org/repo.git"), None);
        assert_eq!(credentials_in_url("/srv/git/repo.git"), None);
        assert_eq!(credentials_in_url("https://h/path@v1"), None);
    }
}
