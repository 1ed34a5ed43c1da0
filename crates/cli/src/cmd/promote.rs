//! `ferry promote --dry-run`: the exact diff a promotion from one
//! environment to another would commit, per application (SPEC §4.1, §4.2).
//!
//! Committing is the release engine's job (`ferry serve`): a promotion
//! there is a recorded release with workflows, statuses and retries. This
//! command only reads — mirrors are fetched, nothing is pushed — so people
//! can review a promotion before a release makes it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use ferry_config::ConfigSource;
use ferry_git::{Credentials, redact_url};
use ferry_gitops::{AppSource, FileChange, Workspace, plan_changes, read_snapshot, unified_diff};
use ferry_model::membership::{Member, ProductMembers};
use ferry_model::resource::Application;
use ferry_model::{Config, Membership};
use serde::Serialize;

use super::{OutputFormat, SourceArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    pub product: String,
    /// Environment whose values are promoted (for a server promotion:
    /// optional, default the one before `--to` in the product's flows).
    #[arg(long)]
    pub from: Option<String>,
    /// Environment that receives them.
    #[arg(long)]
    pub to: Option<String>,
    /// Start a whole flow on the server instead of one environment.
    #[arg(long, conflicts_with_all = ["from", "dry_run"])]
    pub flow: Option<String>,
    /// For a promotion of one environment (`--to`): how it writes to Git,
    /// instead of what the promotion policies resolve to.
    #[arg(long, value_enum, requires = "to", conflicts_with = "flow")]
    pub action: Option<PromoteAction>,
    /// For `--to`: the pre-action workflow to run instead of the policies'.
    #[arg(long, requires = "to", conflicts_with = "flow")]
    pub pre_action: Option<String>,
    /// For `--to`: the post-action workflow to run instead of the policies'.
    #[arg(long, requires = "to", conflicts_with = "flow")]
    pub post_action: Option<String>,
    /// Promote this earlier release's snapshot to `--to` (a rollback).
    #[arg(long, requires = "to", conflicts_with_all = ["from", "flow", "dry_run"])]
    pub rollback_to: Option<String>,
    /// Print the diff that would be committed, change nothing (reads the
    /// configuration and repositories directly, no server needed).
    #[arg(long)]
    pub dry_run: bool,
    /// Configuration directory, or Git repository URL (for `--dry-run`).
    #[arg(long)]
    pub config: Option<String>,
    #[command(flatten)]
    pub src: SourceArgs,
    /// Where repository mirrors are kept (default: `$XDG_CACHE_HOME/ferry`
    /// or `~/.cache/ferry`).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

/// `--action`: how a manual promotion writes to Git (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PromoteAction {
    /// One commit on the application's branch.
    Commit,
    /// The same commit on a new branch, through a pull request.
    Pr,
    /// No Git change (only the workflows run).
    None,
}

/// One application's planned promotion.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppPlan {
    /// The target application.
    application: String,
    /// Its counterpart in the source environment.
    source: String,
    repo_url: String,
    source_path: String,
    /// The commit the snapshot was read at.
    source_revision: String,
    version: Option<String>,
    target_path: String,
    /// The target application's `targetRevision`, as written.
    target_branch: String,
    /// The commit the changes were planned on.
    target_revision: String,
    changed: bool,
    files: Vec<FilePlan>,
    /// Every file's diff, concatenated: what `git show` would print.
    diff: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FilePlan {
    path: String,
    created: bool,
    diff: String,
}

/// An application of the target environment that cannot be planned.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AppProblem {
    application: String,
    error: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    product: String,
    from: String,
    to: String,
    dry_run: bool,
    applications: Vec<AppPlan>,
    problems: Vec<AppProblem>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !args.dry_run {
        // A real promotion is a release: the server's engine makes and records it.
        let mut request = serde_json::Map::new();
        if let Some(flow) = &args.flow {
            request.insert("flow".into(), flow.clone().into());
        }
        if let Some(to) = &args.to {
            request.insert("targetEnvironment".into(), to.clone().into());
        }
        if let Some(from) = &args.from {
            request.insert("sourceEnvironment".into(), from.clone().into());
        }
        if let Some(r) = &args.rollback_to {
            request.insert("rollbackTo".into(), r.clone().into());
        }
        // Policy settings of this promotion (they win over the policies).
        let mut policy = serde_json::Map::new();
        if let Some(a) = args.action {
            let name = match a {
                PromoteAction::Commit => "commit",
                PromoteAction::Pr => "pr",
                PromoteAction::None => "none",
            };
            policy.insert("action".into(), name.into());
        }
        if let Some(w) = &args.pre_action {
            policy.insert("preAction".into(), w.clone().into());
        }
        if let Some(w) = &args.post_action {
            policy.insert("postAction".into(), w.clone().into());
        }
        if !policy.is_empty() {
            request.insert("policy".into(), serde_json::Value::Object(policy));
        }
        if request.is_empty() {
            bail!("give --to (with optional --from), --flow, or --rollback-to with --to");
        }
        return super::client::promote_via_server(
            &args.client,
            &args.product,
            &serde_json::Value::Object(request),
            args.output,
        );
    }
    let (Some(config_arg), Some(from), Some(to)) =
        (args.config.clone(), args.from.clone(), args.to.clone())
    else {
        bail!("--dry-run needs --config, --from and --to");
    };
    let source =
        ConfigSource::from_arg(&config_arg, args.src.branch.clone(), args.src.path.clone());
    let loaded = ferry_config::load_with(&source, &args.src.budget())?;
    let errors = loaded.errors().count();
    if errors > 0 {
        eprintln!("warning: the configuration has {errors} error(s); `ferry validate` lists them");
    }
    let config = &loaded.config;
    let membership = Membership::compute(config);
    let Some(members) = membership.product(&args.product) else {
        let known: Vec<&str> = membership.products.keys().map(String::as_str).collect();
        bail!(
            "product `{}` not found (known products: {})",
            args.product,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        );
    };
    let (pairs, mut problems) = pair(members, &from, &to)?;
    let cache = match args.cache_dir.clone() {
        Some(dir) => dir,
        None => default_cache_dir()?,
    };
    // Credentials come from the host's git configuration (credential
    // helpers, SSH agent); ferry's own settings are read by `ferry serve`.
    let workspace = Workspace::new(cache.join("mirrors"), Arc::new(|_: &str| Credentials::None));
    let mut applications = Vec::new();
    for (target, source) in pairs {
        match plan_one(
            config,
            &workspace,
            source,
            target,
            args.output == OutputFormat::Human,
        ) {
            Ok(plan) => applications.push(plan),
            Err(err) => problems.push(AppProblem {
                application: target.name.clone(),
                error: format!("{err:#}"),
            }),
        }
    }
    let report = Report {
        product: args.product.clone(),
        from: from.clone(),
        to: to.clone(),
        dry_run: true,
        applications,
        problems,
    };
    match args.output {
        OutputFormat::Json => crate::output::print_json(&report)?,
        OutputFormat::Human => crate::output::print(&human(&report))?,
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A target application and its source counterpart.
type Pair<'a> = (&'a Member, &'a Member);

/// Pairs every application of the product in `to` with its counterpart in
/// `from`: by application key; when each environment holds exactly one
/// application of the product, those two regardless of their names.
fn pair<'a>(
    members: &'a ProductMembers,
    from: &'a str,
    to: &'a str,
) -> anyhow::Result<(Vec<Pair<'a>>, Vec<AppProblem>)> {
    let sources: Vec<&Member> = members.in_environment(from).collect();
    let targets: Vec<&Member> = members.in_environment(to).collect();
    if sources.is_empty() {
        bail!(
            "product `{}` has no application in environment `{from}`",
            members.name
        );
    }
    if targets.is_empty() {
        bail!(
            "product `{}` has no application in environment `{to}`",
            members.name
        );
    }
    if let ([source], [target]) = (sources.as_slice(), targets.as_slice()) {
        return Ok((vec![(*target, *source)], Vec::new()));
    }
    let mut pairs = Vec::new();
    let mut problems = Vec::new();
    for target in targets {
        match sources.iter().find(|s| s.key == target.key) {
            Some(source) => pairs.push((target, *source)),
            None => problems.push(AppProblem {
                application: target.name.clone(),
                error: format!(
                    "no application with key `{}` in environment `{from}` (set the label \
                     `ferry.io/application` on both to pair them)",
                    target.key
                ),
            }),
        }
    }
    Ok((pairs, problems))
}

fn plan_one(
    config: &Config,
    workspace: &Workspace,
    source: &Member,
    target: &Member,
    progress: bool,
) -> anyhow::Result<AppPlan> {
    let (src_app, tgt_app) = (app(config, source)?, app(config, target)?);
    let (src, src_path) = promoted(src_app)?;
    let (tgt, tgt_path) = promoted(tgt_app)?;
    let mirror = |url: &str| -> anyhow::Result<_> {
        if progress {
            eprintln!("fetching {}", redact_url(url));
        }
        let mirror = workspace.mirror(url)?;
        mirror.fetch()?;
        Ok(mirror)
    };
    let src_mirror = mirror(&src.repo_url)?;
    let src_rev = src_app.target_revision();
    let reader = src_mirror
        .at(src_rev)
        .with_context(|| format!("{}: reading targetRevision `{src_rev}`", src_app.name()))?;
    // The snapshot follows the source application's template, as a release
    // snapshots its trigger environment (SPEC §4.1).
    let read = read_snapshot(
        &reader,
        AppSource {
            application: src_app.name(),
            repo_url: &src.repo_url,
            path: src_path,
        },
        &source.template.body,
    )?;
    let tgt_mirror = if tgt.repo_url == src.repo_url {
        src_mirror
    } else {
        mirror(&tgt.repo_url)?
    };
    let tgt_rev = tgt_app.target_revision();
    let target_reader = tgt_mirror
        .at(tgt_rev)
        .with_context(|| format!("{}: reading targetRevision `{tgt_rev}`", tgt_app.name()))?;
    let changes = plan_changes(&target_reader, tgt_path, &read.snapshot)?;
    let files: Vec<FilePlan> = changes.iter().map(file_plan).collect();
    Ok(AppPlan {
        application: tgt_app.name().to_owned(),
        source: src_app.name().to_owned(),
        repo_url: redact_url(&tgt.repo_url),
        source_path: src_path.to_owned(),
        source_revision: read.snapshot.revision.clone(),
        version: read.version,
        target_path: tgt_path.to_owned(),
        target_branch: tgt_rev.to_owned(),
        target_revision: target_reader.commit_id().to_string(),
        changed: !files.is_empty(),
        diff: files.iter().map(|f| f.diff.as_str()).collect(),
        files,
    })
}

fn file_plan(change: &FileChange) -> FilePlan {
    FilePlan {
        path: change.path.clone(),
        created: change.old.is_none(),
        diff: unified_diff(change),
    }
}

fn app<'c>(config: &'c Config, member: &Member) -> anyhow::Result<&'c Application> {
    config.applications.get(member.app).with_context(|| {
        format!(
            "application `{}` is missing from the configuration",
            member.name
        )
    })
}

/// The promoted source of an application and its path.
fn promoted(
    app: &Application,
) -> anyhow::Result<(&ferry_model::resource::ApplicationSource, &str)> {
    let source = app
        .promoted_source()
        .with_context(|| format!("application `{}` has no source to promote", app.name()))?;
    let path = source.path.as_deref().with_context(|| {
        format!("application `{}`: its source has no `path` (Helm repository charts cannot be promoted by file)", app.name())
    })?;
    Ok((source, path))
}

/// `$XDG_CACHE_HOME/ferry`, else `~/.cache/ferry`.
fn default_cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("ferry"));
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".cache").join("ferry")),
        None => bail!("no cache directory: set --cache-dir, XDG_CACHE_HOME or HOME"),
    }
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    for plan in &report.applications {
        let version = plan
            .version
            .as_deref()
            .map(|v| format!(", version {v}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "=== {} ← {}{version} (from {} at {}; into {} on {} at {})\n",
            plan.application,
            plan.source,
            plan.source_path,
            short(&plan.source_revision),
            plan.target_path,
            plan.target_branch,
            short(&plan.target_revision),
        ));
        if plan.changed {
            out.push_str(&plan.diff);
        } else {
            out.push_str("no change\n");
        }
    }
    for problem in &report.problems {
        out.push_str(&format!(
            "=== {}: error: {}\n",
            problem.application, problem.error
        ));
    }
    out
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
