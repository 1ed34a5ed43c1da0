//! `ferry freeze`, `ferry unfreeze`, `ferry freezes`: stop-the-line on a
//! server (issue 20). A freeze (admin) holds every release of the products
//! and environments it names (none named: all) before its next write, with
//! a reason, until it is lifted; releases are still created and wait.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::OutputFormat;
use super::client::{Client, ClientArgs, encode};
use crate::output::table;

#[derive(Debug, clap::Args)]
pub struct FreezeArgs {
    /// Why: shown on every page of the UI while it holds, and on every
    /// held release. Required.
    #[arg(long)]
    pub reason: String,
    /// A product to hold (repeat for several; default: every product).
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// An environment to hold (repeat for several; default: every
    /// environment).
    #[arg(long = "environment")]
    pub environments: Vec<String>,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct UnfreezeArgs {
    /// The freeze's id (`ferry freezes` lists them).
    #[arg(value_name = "ID")]
    pub id: String,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Also the latest lifted freezes.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

fn scope(f: &Value) -> String {
    let names = |k: &str, all: &str| -> String {
        let list: Vec<&str> = f[k]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if list.is_empty() {
            all.to_owned()
        } else {
            list.join(", ")
        }
    };
    format!(
        "{} in {}",
        names("products", "every product"),
        names("environments", "every environment")
    )
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("-").to_owned()
}

pub fn freeze(a: FreezeArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let body = json!({
        "products": a.products,
        "environments": a.environments,
        "reason": a.reason,
    });
    let frozen = c.post("/api/v1/freezes", &body)?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&frozen)?,
        OutputFormat::Human => crate::output::print(&format!(
            "frozen: {} ({}); lift with `ferry unfreeze {}`\n",
            scope(&frozen),
            s(&frozen["reason"]),
            s(&frozen["id"])
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn unfreeze(a: UnfreezeArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let lifted = c.post(
        &format!("/api/v1/freezes/{}/lift", encode(&a.id)),
        &Value::Object(Default::default()),
    )?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&lifted)?,
        OutputFormat::Human => crate::output::print(&format!(
            "lifted: {} (lifted by {})\n",
            scope(&lifted),
            s(&lifted["liftedBy"])
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let path = if a.all {
        "/api/v1/freezes?all=true"
    } else {
        "/api/v1/freezes"
    };
    let freezes = c.get(path)?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&freezes)?,
        OutputFormat::Human => {
            let rows: Vec<Vec<String>> = freezes["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|f| {
                    vec![
                        scope(f),
                        s(&f["reason"]),
                        s(&f["createdBy"]),
                        s(&f["createdAt"]),
                        s(&f["liftedAt"]),
                        s(&f["id"]),
                    ]
                })
                .collect();
            crate::output::print(&table(
                &["SCOPE", "REASON", "BY", "SINCE", "LIFTED", "ID"],
                &rows,
            ))?
        }
    }
    Ok(ExitCode::SUCCESS)
}
