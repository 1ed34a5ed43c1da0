//! `ferry`: the command-line entry point. Each subcommand lives in
//! `cmd/<name>.rs` and only parses arguments, calls the library crates and
//! prints; all behaviour is in the libraries.

mod cmd;
mod demo_repos;
mod output;
mod progress;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// `ferry --version`: the release and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("FERRY_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version = VERSION,
    about = "Promote product versions through environments with GitOps, and follow every release."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a configuration (directory or Git repository) and show what ferry understands of it.
    Validate(cmd::validate::Args),
    /// Policy resolution.
    #[command(subcommand)]
    Policy(cmd::policy::Command),
    /// Preview a promotion: the exact diff it would commit, per application.
    Promote(cmd::promote::Args),
    /// Promotion workflows.
    #[command(subcommand)]
    Workflow(cmd::workflow::Command),
    /// Run the server: the release engine and its JSON API.
    Serve(cmd::serve::Args),
    /// List the releases of a server.
    Releases(cmd::releases::Args),
    /// One release on a server: show (--watch), terminate, retry.
    #[command(subcommand)]
    Release(cmd::release::Command),
    /// Delivery insights of a server: DORA measures and where promotion time goes.
    Insights(cmd::insights::Args),
    /// API tokens on a server (admin): create, list, revoke.
    #[command(subcommand)]
    Token(cmd::token::Command),
    /// Stop the line (admin): hold every release of the products and environments named (none: all) before its next write, until lifted.
    Freeze(cmd::freeze::FreezeArgs),
    /// Lift a freeze (admin): what it held goes on.
    Unfreeze(cmd::freeze::UnfreezeArgs),
    /// List the active freezes (--all: lifted ones too).
    Freezes(cmd::freeze::ListArgs),
    /// Run ferry on one machine with a local GitOps repository and live releases.
    Demo(cmd::demo::Args),
    /// Reference documents generated from ferry itself (docs/).
    #[command(subcommand, hide = true)]
    Docs(cmd::docs::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => cmd::validate::run(args),
        Command::Policy(cmd) => cmd::policy::run(cmd),
        Command::Promote(args) => cmd::promote::run(args),
        Command::Workflow(cmd) => cmd::workflow::run(cmd),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Releases(args) => cmd::releases::run(args),
        Command::Release(cmd) => cmd::release::run(cmd),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Docs(cmd) => cmd::docs::run(cmd, Cli::command()),
        Command::Token(cmd) => cmd::token::run(cmd),
        Command::Freeze(args) => cmd::freeze::freeze(args),
        Command::Unfreeze(args) => cmd::freeze::unfreeze(args),
        Command::Freezes(args) => cmd::freeze::list(args),
        Command::Insights(args) => cmd::insights::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
