//! `ferry validate`: load a configuration, list every problem, and show
//! the product × environment × application table.

use std::collections::BTreeMap;
use std::process::ExitCode;

use ferry_config::ConfigSource;
use ferry_model::membership::{Member, TemplateSource};
use ferry_model::{Config, Diagnostic, Loaded, Membership, Severity};
use serde::Serialize;

use super::{OutputFormat, SourceArgs};
use crate::output::table;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Configuration directory, or Git repository URL.
    pub source: String,
    #[command(flatten)]
    pub src: SourceArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
    /// Also list notes (e.g. documents that are not ferry resources).
    #[arg(long, short)]
    pub verbose: bool,
    /// Also discover Applications from this Argo CD API server (those
    /// annotated `codefresh.io/product`), merge them, and report where
    /// they conflict with manifests.
    #[arg(long, value_name = "URL")]
    pub argocd: Option<String>,
    /// Bearer token for --argocd.
    #[arg(long, env = "FERRY_ARGOCD_TOKEN", hide_env_values = true)]
    pub argocd_token: Option<String>,
    /// PEM file of extra trusted root certificates for --argocd.
    #[arg(long, value_name = "FILE")]
    pub argocd_ca_file: Option<std::path::PathBuf>,
    /// `appNamespace` of the Argo CD calls (apps-in-any-namespace).
    #[arg(long, value_name = "NAMESPACE")]
    pub argocd_app_namespace: Option<String>,
    /// The workflow executor the server uses: with `local`, every field of a
    /// WorkflowTemplate the local executor cannot run is a warning at its
    /// line. Default: `argo` when FERRY_ARGO_WORKFLOWS_URL is set, else `local`.
    #[arg(long, value_enum)]
    pub executor: Option<Executor>,
}

/// Which executor runs the workflows (`ferry validate --executor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Local,
    Argo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report<'a> {
    source: String,
    valid: bool,
    counts: BTreeMap<&'static str, usize>,
    ignored_documents: usize,
    errors: usize,
    warnings: usize,
    diagnostics: &'a [Diagnostic],
    products: Products<'a>,
}

/// The product table, built one product at a time while it is written:
/// with tens of thousands of applications a table built whole would take
/// more memory than the configuration itself.
struct Products<'a> {
    config: &'a Config,
    membership: Membership,
    /// Environment names in dashboard order.
    order: Vec<&'a str>,
}

impl<'a> Products<'a> {
    fn new(config: &'a Config) -> Products<'a> {
        Products {
            config,
            membership: Membership::compute(config),
            order: config
                .environments_in_order()
                .iter()
                .map(|e| e.name())
                .collect(),
        }
    }

    fn rows(&self) -> impl Iterator<Item = ProductRow<'_>> {
        self.membership.products.values().map(|p| {
            let mut by_env: BTreeMap<Option<usize>, (Option<&str>, Vec<ApplicationRow<'_>>)> =
                BTreeMap::new();
            for m in &p.members {
                let env = m.environment.name();
                let idx = env.and_then(|e| self.order.iter().position(|o| *o == e));
                by_env
                    .entry(idx.or(Some(usize::MAX)).filter(|_| env.is_some()))
                    .or_insert_with(|| (env, Vec::new()))
                    .1
                    .push(app_row(m));
            }
            let flows = self
                .config
                .product(&p.name)
                .map(|prod| {
                    prod.spec
                        .promotion_flows
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect()
                })
                .unwrap_or_default();
            ProductRow {
                name: &p.name,
                defined: p.defined,
                flows,
                environments: by_env
                    .into_values()
                    .map(|(name, applications)| EnvironmentRow { name, applications })
                    .collect(),
            }
        })
    }
}

impl Serialize for Products<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.rows())
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductRow<'a> {
    name: &'a str,
    defined: bool,
    flows: Vec<&'a str>,
    environments: Vec<EnvironmentRow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvironmentRow<'a> {
    /// `null` for applications that belong to no environment.
    name: Option<&'a str>,
    applications: Vec<ApplicationRow<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApplicationRow<'a> {
    name: &'a str,
    key: &'a str,
    template: &'a TemplateSource,
    version_source: Option<String>,
    /// File → promotable paths; `null` when every file is promoted.
    promotion: Option<Promotion<'a>>,
}

/// A template's `promotion`, written as file → paths.
struct Promotion<'a>(&'a BTreeMap<String, ferry_model::resource::PromotionFile>);

impl Serialize for Promotion<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(f, spec)| (f, &spec.json_paths)))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let source =
        ConfigSource::from_arg(&args.source, args.src.branch.clone(), args.src.path.clone());
    let mut loaded = ferry_config::load_with(&source, &args.src.budget())?;
    if let Some(url) = &args.argocd {
        discover(&args, url, &mut loaded)?;
    }
    let executor = args.executor.unwrap_or(
        if std::env::var_os("FERRY_ARGO_WORKFLOWS_URL").is_some_and(|v| !v.is_empty()) {
            Executor::Argo
        } else {
            Executor::Local
        },
    );
    if executor == Executor::Local {
        let found = local_workflow_diagnostics(&loaded.config);
        loaded.diagnostics.extend(found);
    }
    let report = build(&source, &loaded);
    let valid = report.valid;
    match args.output {
        OutputFormat::Json => crate::output::write_json(&report)?,
        OutputFormat::Human => crate::output::print(&human(&report, &loaded, args.verbose))?,
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What the local executor would refuse in each WorkflowTemplate, as
/// warnings at the field's line (a run would end in ERROR there), and the
/// pod-only fields it ignores, as one note per template.
fn local_workflow_diagnostics(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for wt in &config.workflow_templates {
        let t = match ferry_workflow::WorkflowTemplate::from_value(
            &wt.manifest,
            &wt.origin.to_string(),
        ) {
            Ok(t) => t,
            Err(e) => {
                out.push(Diagnostic::warning(
                    &wt.locate(&e.path),
                    e.path.clone(),
                    format!(
                        "the local executor cannot read this WorkflowTemplate: {}",
                        e.message
                    ),
                ));
                continue;
            }
        };
        for (path, message) in ferry_workflow::local_problems(&t) {
            out.push(Diagnostic::warning(&wt.locate(&path), path, message));
        }
        if !t.local_ignored().is_empty() {
            out.push(Diagnostic::note(
                &wt.origin,
                "spec",
                format!(
                    "the local executor ignores these pod-only fields: {}",
                    t.local_ignored().join(", ")
                ),
            ));
        }
    }
    out
}

/// Lists the Argo CD instance's applications once and merges the
/// annotated ones (conflicts become warnings of `loaded`).
fn discover(args: &Args, url: &str, loaded: &mut Loaded) -> anyhow::Result<()> {
    use ferry_appstate::argocd::{ArgoCdProvider, InstanceConfig, Secret, discovery, merge};
    let mut cfg = InstanceConfig::new("argocd", url);
    cfg.watch = false;
    cfg.token = args.argocd_token.clone().map(Secret::new);
    cfg.app_namespace = args.argocd_app_namespace.clone();
    if let Some(path) = &args.argocd_ca_file {
        cfg.ca_pem = Some(
            std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("--argocd-ca-file {}: {e}", path.display()))?,
        );
    }
    // Listing needs no Git; the workspace is only there for the provider.
    let scratch = std::env::temp_dir().join("ferry-validate-argocd");
    let workspace = std::sync::Arc::new(ferry_gitops::Workspace::new(
        scratch,
        std::sync::Arc::new(|_: &str| ferry_git::Credentials::None),
    ));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let docs = runtime.block_on(async {
        let provider = ArgoCdProvider::new(cfg, workspace)?;
        provider.list_applications().await
    })?;
    let (apps, diagnostics) = discovery::discover("argocd", &docs);
    loaded.diagnostics.extend(diagnostics);
    merge::merge(loaded, apps);
    Ok(())
}

fn build<'a>(source: &ConfigSource, loaded: &'a Loaded) -> Report<'a> {
    let config = &loaded.config;
    let count = |s| {
        loaded
            .diagnostics
            .iter()
            .filter(|d| d.severity == s)
            .count()
    };
    Report {
        source: source.describe(),
        valid: !loaded.has_errors(),
        counts: config.counts(),
        ignored_documents: config.ignored.len(),
        errors: count(Severity::Error),
        warnings: count(Severity::Warning),
        diagnostics: &loaded.diagnostics,
        products: Products::new(config),
    }
}

fn app_row(m: &Member) -> ApplicationRow<'_> {
    let body = &m.template.body;
    ApplicationRow {
        name: &m.name,
        key: &m.key,
        template: &m.template.source,
        version_source: body
            .version_source
            .as_ref()
            .map(|v| format!("{} {}", v.file, v.json_path)),
        promotion: body.promotion.as_ref().map(Promotion),
    }
}

fn human(report: &Report<'_>, loaded: &Loaded, verbose: bool) -> String {
    let mut out = format!("Configuration: {}\n", report.source);
    for (kind, n) in &report.counts {
        out.push_str(&format!("  {kind:<18} {n}\n"));
    }
    if report.ignored_documents > 0 {
        out.push_str(&format!(
            "  ({} other documents ignored{})\n",
            report.ignored_documents,
            if verbose {
                ""
            } else {
                "; --verbose lists them"
            }
        ));
    }
    out.push('\n');
    let shown: Vec<&Diagnostic> = loaded
        .diagnostics
        .iter()
        .filter(|d| verbose || d.severity != Severity::Note)
        .collect();
    for d in &shown {
        out.push_str(&format!("{d}\n"));
    }
    if !shown.is_empty() {
        out.push('\n');
    }
    let mut rows = Vec::new();
    for p in report.products.rows() {
        for e in &p.environments {
            for a in &e.applications {
                let template = match &a.template {
                    TemplateSource::Inline => "inline".to_owned(),
                    TemplateSource::Ref(n) => format!("{n} (ref)"),
                    TemplateSource::Selector(n) => n.clone(),
                    TemplateSource::None => "—".to_owned(),
                };
                let paths = match &a.promotion {
                    None => "every file".to_owned(),
                    Some(files) => files
                        .0
                        .iter()
                        .map(|(f, p)| format!("{f}: {}", p.json_paths.join(", ")))
                        .collect::<Vec<_>>()
                        .join("; "),
                };
                rows.push(vec![
                    p.name.to_owned(),
                    e.name.unwrap_or("(none)").to_owned(),
                    a.name.to_owned(),
                    template,
                    a.version_source.clone().unwrap_or_else(|| "—".into()),
                    paths,
                ]);
            }
        }
    }
    if rows.is_empty() {
        out.push_str("No application carries the codefresh.io/product annotation.\n\n");
    } else {
        out.push_str(&table(
            &[
                "PRODUCT",
                "ENVIRONMENT",
                "APPLICATION",
                "TEMPLATE",
                "VERSION SOURCE",
                "PROMOTABLE PATHS",
            ],
            &rows,
        ));
        out.push('\n');
    }
    if report.valid {
        out.push_str(&format!("valid: {} warning(s)\n", report.warnings));
    } else {
        out.push_str(&format!(
            "invalid: {} error(s), {} warning(s)\n",
            report.errors, report.warnings
        ));
    }
    out
}
