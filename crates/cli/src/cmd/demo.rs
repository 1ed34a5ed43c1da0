//! `ferry demo`: ferry on one machine with nothing else installed — a local
//! GitOps repository laid out like a real product (from `examples/`), the
//! server on SQLite with anonymous read access, and a first release.
//!
//! Against a demo that runs, in another terminal: `--commit` makes a new
//! commit in the trigger environment, which the server turns into the next
//! release; `--fail <env>` breaks a deployment there (a Git commit the
//! environment's health-check post-action catches), `--fix` repairs it;
//! `--merge` merges the open promotion pull-request branches whose release
//! waits for them. The server runs in demo mode, so the web UI offers the
//! same merge per environment.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ferry_engine::PromotionRequest;
use ferry_server::{Server, Settings};

use crate::demo_repos::{DemoLayout, FAILABLE};
use crate::progress::Progress;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo keeps its repositories, configuration and data
    /// [default: ferry-demo]. Give the same `--dir` to the commands that
    /// act on a running demo (`--commit`, `--merge`, `--fail`, `--fix`).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "FERRY_LISTEN")]
    pub listen: String,
    /// Make a new commit in the shop's dev environment (the running demo
    /// creates the next release from it) and exit.
    #[arg(long)]
    pub commit: bool,
    /// Merge the open promotion pull-request branches (what a reviewer's
    /// "merge" does), so releases waiting on them continue; a branch whose
    /// release no longer waits for it is not merged, and the reason is
    /// printed. Then exit.
    #[arg(long, conflicts_with_all = ["commit", "fail", "fix"])]
    pub merge: bool,
    /// Break the deployment of the shop's checkout service in this
    /// environment (qa or staging) with a Git commit, so promotions there
    /// fail in their health-check post-action: with the demo's start, the
    /// first release fails there; with `--commit`, the next one does.
    #[arg(long, value_name = "ENV")]
    pub fail: Option<String>,
    /// Repair what `--fail` broke (a Git commit), then exit; Retry the
    /// failed release in the web UI or with `ferry release retry`.
    #[arg(long, conflicts_with_all = ["commit", "fail"])]
    pub fix: bool,
    /// Commit message for `--commit` (flows are chosen by it: `hotfix: …`
    /// takes the hotfix flow).
    #[arg(long, short)]
    pub message: Option<String>,
    /// Prepare and start, create the first release, then exit once it is
    /// created instead of serving (for scripts and CI).
    #[arg(long, hide = true)]
    pub no_serve: bool,
}

const DEFAULT_DIR: &str = "ferry-demo";

impl Args {
    fn dir(&self) -> PathBuf {
        self.dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR))
    }

    /// `ferry demo …` as the reader types it next: with `--dir` when they
    /// gave one (as they gave it, quoted for a shell when needed).
    fn command(&self, rest: &str) -> String {
        match &self.dir {
            Some(d) => format!(
                "ferry demo --dir {} {rest}",
                shell_word(&d.display().to_string())
            ),
            None => format!("ferry demo {rest}"),
        }
    }
}

/// `s` as one shell word.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-~+:=@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The demo in `dir`, which must exist (the commands for a running demo).
fn existing(args: &Args) -> anyhow::Result<DemoLayout> {
    let dir = args.dir();
    Ok(DemoLayout::at(&dir.canonicalize().with_context(|| {
        let start = match &args.dir {
            Some(d) => format!("ferry demo --dir {}", shell_word(&d.display().to_string())),
            None => "ferry demo".to_owned(),
        };
        format!(
            "no demo in {} (start one with `{start}`; a demo started with --dir needs the same --dir here)",
            dir.display()
        )
    })?))
}

fn short(sha: &str) -> &str {
    &sha[..12.min(sha.len())]
}

fn print_broken(env: &str, sha: Option<&str>) {
    match sha {
        Some(sha) => println!(
            "committed {}: checkout in {env} scaled to 0 replicas; promotions into {env} fail in their health-check post-action until `ferry demo --fix`",
            short(sha)
        ),
        None => println!("checkout in {env} is broken already (`ferry demo --fix` repairs it)"),
    }
}

/// `--merge`: the open promotion branches whose release waits for them,
/// merged; the others refused with the reason (a terminated release's
/// branch, one of a finished release). The releases are read from the
/// demo's database (the running server writes it; SQLite lets this
/// process read beside it).
fn merge_waiting(layout: &DemoLayout) -> anyhow::Result<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let db = layout.data_dir.join("ferry.db");
    let store = runtime
        .block_on(ferry_store::Store::open_sqlite_file(&db))
        .with_context(|| format!("opening the demo's database {}", db.display()))?;
    let may_merge = |repo: &str, branch: &str| -> Result<(), String> {
        let (product, env, number) = ferry_wiring::demo::parse_branch(branch)
            .ok_or_else(|| "not a promotion branch".to_owned())?;
        let release = runtime
            .block_on(store.get_by_number(product, number))
            .map_err(|e| format!("reading release #{number} of {product}: {e}"))?
            .ok_or_else(|| format!("no release #{number} of {product} is known"))?;
        let waiting =
            ferry_wiring::demo::waiting_branches(&release, env).map_err(|e| e.to_string())?;
        let same_repo = |url: &str| {
            std::path::Path::new(url.strip_prefix("file://").unwrap_or(url))
                .canonicalize()
                .ok()
                == std::path::Path::new(repo).canonicalize().ok()
        };
        if waiting
            .iter()
            .any(|w| w.branch == branch && same_repo(&w.repo_url))
        {
            Ok(())
        } else {
            Err(format!(
                "release #{number} does not wait for it in this repository"
            ))
        }
    };
    layout.merge_pull_requests(may_merge)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Checked before anything is created or started.
    if let Some(env) = &args.fail {
        crate::demo_repos::check_fail_target(env)?;
    }
    if args.merge {
        let layout = existing(&args)?;
        let lines = merge_waiting(&layout)?;
        if lines.is_empty() {
            println!("no open promotion pull request");
        }
        for l in lines {
            println!("{l}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.fix {
        let fixed = existing(&args)?.fix()?;
        if fixed.is_empty() {
            println!(
                "nothing to fix: checkout runs in {}",
                FAILABLE.join(" and ")
            );
        } else {
            println!(
                "checkout scaled back up in {}; retry the failed release (web UI: Retry…, or `ferry release retry shop#<number>`)",
                fixed.join(", ")
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.commit {
        let layout = existing(&args)?;
        if let Some(env) = &args.fail {
            let sha = layout.break_environment(env)?;
            print_broken(env, sha.as_deref());
        }
        let sha = layout.commit(args.message.as_deref())?;
        println!(
            "committed {} to the shop's dev environment; the demo server creates the next release within seconds",
            short(&sha)
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Warnings and errors only (`FERRY_LOG=info` for more): the demo's
    // own lines say what it does, and a log line would split a step's.
    super::init_logging_at(
        tracing_subscriber::filter::LevelFilter::WARN,
        super::LogFormat::Text,
        None,
    );
    let dir = args.dir();
    let first_release = !dir.join("data/demo-first-release").exists();
    let mut progress = Progress::new(
        DemoLayout::prepare_steps(&dir)
            + usize::from(args.fail.is_some())
            + 1
            + usize::from(first_release),
    );
    let layout = DemoLayout::prepare(&dir, &mut progress)?;
    if let Some(env) = &args.fail {
        progress.step(&format!(
            "breaking checkout in {env} (--fail): a commit that scales it to 0 replicas"
        ));
        layout.break_environment(env)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(layout, args, progress))
}

async fn serve(layout: DemoLayout, args: Args, mut progress: Progress) -> anyhow::Result<ExitCode> {
    let listen = args.listen.clone();
    let settings = Settings {
        listen: listen.clone(),
        base_url: Some(format!("http://{listen}")),
        config: Some(layout.config_dir.display().to_string()),
        data_dir: layout.data_dir.clone(),
        poll_interval: Some(Duration::from_secs(2)),
        config_poll_interval: Some(Duration::from_secs(2)),
        anonymous_read: true,
        // The UI's "Merge pull request" button stands in for a forge.
        demo: true,
        ..Settings::default()
    };
    progress.step("starting the server (SQLite, local workflows, git state provider)");
    let server = Server::build(settings).await?;
    let token = server.generated_admin_token().map(str::to_owned);
    let engine = server.engine().clone();
    let bound = server.bind().await?;
    let addr = bound.local_addr();
    let marker = layout.data_dir.join("demo-first-release");
    let mut first = None;
    if !marker.exists() {
        progress.step("creating the first release of the shop (flow `standard`)");
        let release = engine
            .promote("shop", PromotionRequest::for_flow("standard"), "demo")
            .await?;
        std::fs::write(&marker, &release.id)?;
        first = Some(release.number);
    }
    progress.finish();
    drop(progress);
    if let Some(token) = token {
        println!("admin token (shown once; promote, terminate, retry and merge need it): {token}");
    }
    if let Some(number) = first {
        println!("release #{number} of shop: http://{addr}/products/shop/releases/{number}");
    }
    if let Some(env) = &args.fail {
        let which = if first.is_some() {
            "it"
        } else {
            "the next release"
        };
        println!(
            "{which} fails in {env} (checkout has no replicas there); `{}`, then Retry",
            args.command("--fix")
        );
    }
    println!("ferry is serving on http://{addr}  (API: http://{addr}/api/v1/products)");
    println!("releases of shop: http://{addr}/products/shop/releases");
    let server = if addr.to_string() == "127.0.0.1:8080" {
        String::new()
    } else {
        format!(" --server http://{addr}")
    };
    println!("in another terminal:");
    for (command, why) in [
        (
            args.command("--commit"),
            "a new build in dev: the server creates the next release within seconds",
        ),
        (
            args.command("--merge"),
            "production promotes through pull requests: merge them (or on the release view, signed in)",
        ),
        (
            args.command("--commit --fail staging"),
            "the next release fails in staging…",
        ),
        (args.command("--fix"), "…until this repairs it: then Retry"),
        (
            format!("ferry releases --product shop{server}"),
            "the release list",
        ),
        (
            format!("ferry release show shop#1 --watch{server}"),
            "follow release #1 until it finishes",
        ),
    ] {
        println!("  {command:<40} # {why}");
    }
    if args.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    bound.run(ferry_server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
