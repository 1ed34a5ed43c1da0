//! `ferry policy evaluate`: the effective policy for a product and an
//! environment, with the source of every field (SPEC §2).

use std::process::ExitCode;

use anyhow::bail;
use ferry_config::ConfigSource;
use ferry_model::{Membership, PolicyEvaluation};

use super::{OutputFormat, SourceArgs};
use crate::output::table;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show the effective preAction, action and postAction and where each came from.
    Evaluate(EvaluateArgs),
}

#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// Configuration directory, or Git repository URL.
    #[arg(long)]
    pub config: String,
    #[command(flatten)]
    pub src: SourceArgs,
    #[arg(long)]
    pub product: String,
    #[arg(long)]
    pub environment: String,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let Command::Evaluate(args) = cmd;
    let source =
        ConfigSource::from_arg(&args.config, args.src.branch.clone(), args.src.path.clone());
    let loaded = ferry_config::load_with(&source, &args.src.budget())?;
    let errors = loaded.errors().count();
    if errors > 0 {
        eprintln!("warning: the configuration has {errors} error(s); `ferry validate` lists them");
    }
    let membership = Membership::compute(&loaded.config);
    let Some(members) = membership.product(&args.product) else {
        let known: Vec<&str> = membership.products.keys().map(String::as_str).collect();
        bail!(
            "product `{}` not found (known products: {})",
            args.product,
            known.join(", ")
        );
    };
    let eval = ferry_model::evaluate(
        &loaded.config,
        &args.product,
        &args.environment,
        None,
        Some(members),
    );
    match args.output {
        OutputFormat::Json => crate::output::print_json(&eval)?,
        OutputFormat::Human => crate::output::print(&human(&eval))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn human(e: &PolicyEvaluation) -> String {
    let row = |field: &str, value: Option<String>, source: Option<String>| {
        vec![
            field.to_owned(),
            value.unwrap_or_else(|| "—".into()),
            source.unwrap_or_else(|| "not set".into()),
        ]
    };
    let rows = vec![
        row(
            "preAction",
            e.pre_action.value.clone(),
            e.pre_action.source.as_ref().map(ToString::to_string),
        ),
        row(
            "action",
            e.action.value.map(|a| a.to_string()),
            e.action.source.as_ref().map(ToString::to_string),
        ),
        row(
            "postAction",
            e.post_action.value.clone(),
            e.post_action.source.as_ref().map(ToString::to_string),
        ),
    ];
    let mut out = format!(
        "Policy for product {} in environment {}\n\n",
        e.product, e.environment
    );
    out.push_str(&table(&["FIELD", "VALUE", "SOURCE"], &rows));
    out.push_str(&format!(
        "\nMatching policies in priority order: {}\n",
        if e.candidates.is_empty() {
            "none".to_owned()
        } else {
            e.candidates.join(", ")
        }
    ));
    if !e.warnings.is_empty() {
        out.push_str("\nWarnings:\n");
        for w in &e.warnings {
            out.push_str(&format!("  - {w}\n"));
        }
    }
    out
}
