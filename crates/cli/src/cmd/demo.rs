//! `ferry demo`: ferry on one machine with nothing else installed — a local
//! GitOps repository laid out like a real product (from `examples/`), the
//! server on SQLite with anonymous read access, and a first release.
//! `ferry demo --commit` makes a new commit in the trigger environment, which
//! the running server turns into the next release.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use ferry_engine::PromotionRequest;
use ferry_server::{Server, Settings};

use crate::demo_repos::DemoLayout;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the demo keeps its repositories, configuration and data.
    #[arg(long, default_value = "ferry-demo")]
    pub dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Make a new commit in the shop's dev environment (the running demo
    /// creates the next release from it) and exit.
    #[arg(long)]
    pub commit: bool,
    /// Merge the open promotion pull-request branches (what a reviewer's
    /// "merge" does), so releases waiting on them continue; then exit.
    #[arg(long, conflicts_with = "commit")]
    pub merge: bool,
    /// Commit message for `--commit` (flows are chosen by it: `hotfix: …`
    /// takes the hotfix flow).
    #[arg(long, short)]
    pub message: Option<String>,
    /// Prepare and start, create the first release, then exit once it is
    /// created instead of serving (for scripts and CI).
    #[arg(long, hide = true)]
    pub no_serve: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    super::init_logging();
    if args.merge {
        let layout = DemoLayout::at(
            &args
                .dir
                .canonicalize()
                .with_context(|| format!("no demo in {}", args.dir.display()))?,
        );
        let merged = layout.merge_pull_requests()?;
        if merged.is_empty() {
            println!("no open promotion pull request");
        }
        for b in merged {
            println!("merged {b}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.commit {
        let layout = DemoLayout::at(
            &args
                .dir
                .canonicalize()
                .with_context(|| format!("no demo in {}", args.dir.display()))?,
        );
        let sha = layout.commit(args.message.as_deref())?;
        println!(
            "committed {} to the shop's dev environment; the demo server creates the next release within seconds",
            &sha[..12.min(sha.len())]
        );
        return Ok(ExitCode::SUCCESS);
    }
    let progress = |m: &str| eprintln!("ferry demo: {m}");
    let layout = DemoLayout::prepare(&args.dir, &progress)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(layout, args.listen, args.no_serve, &progress))
}

async fn serve(
    layout: DemoLayout,
    listen: String,
    no_serve: bool,
    progress: &dyn Fn(&str),
) -> anyhow::Result<ExitCode> {
    let settings = Settings {
        listen: listen.clone(),
        base_url: Some(format!("http://{listen}")),
        config: Some(layout.config_dir.display().to_string()),
        data_dir: layout.data_dir.clone(),
        poll_interval: Some(Duration::from_secs(2)),
        config_poll_interval: Some(Duration::from_secs(2)),
        anonymous_read: true,
        ..Settings::default()
    };
    progress("starting the server (SQLite, local workflows, git state provider)");
    let server = Server::build(settings).await?;
    if let Some(token) = server.generated_admin_token() {
        println!("admin token (shown once; promote, terminate and retry need it): {token}");
    }
    let engine = server.engine().clone();
    let bound = server.bind().await?;
    let addr = bound.local_addr();
    let marker = layout.data_dir.join("demo-first-release");
    if !marker.exists() {
        progress("creating the first release of the shop (flow `standard`)");
        let release = engine
            .promote(
                "shop",
                PromotionRequest {
                    flow: Some("standard".into()),
                    target_environment: None,
                    source_environment: None,
                    policy: None,
                    rollback_to: None,
                },
                "demo",
            )
            .await?;
        std::fs::write(&marker, &release.id)?;
        println!(
            "release #{} of shop: http://{addr}/products/shop/releases/{}",
            release.number, release.number
        );
    }
    println!("ferry is serving on http://{addr}  (API: http://{addr}/api/v1/products)");
    println!(
        "next release: `ferry demo --dir {} --commit` in another terminal",
        layout.dir.display()
    );
    println!(
        "production promotes through pull requests: `ferry demo --dir {} --merge` merges them",
        layout.dir.display()
    );
    if no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    bound.run(ferry_server::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
