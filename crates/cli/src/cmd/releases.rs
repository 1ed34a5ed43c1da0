//! `ferry releases`: the release list of a server, newest first.

use std::process::ExitCode;

use serde_json::Value;

use super::OutputFormat;
use super::client::{Client, ClientArgs, encode};
use crate::output::table;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only this product's releases.
    #[arg(long)]
    pub product: Option<String>,
    /// Only these statuses (comma-separated, e.g. RUNNING,FAILED).
    #[arg(long)]
    pub status: Option<String>,
    /// How many (1..200).
    #[arg(long)]
    pub limit: Option<u32>,
    /// Continue after a previous page's cursor.
    #[arg(long)]
    pub cursor: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.client)?;
    let mut query = Vec::new();
    if let Some(p) = &args.product {
        query.push(format!("product={}", encode(p)));
    }
    if let Some(s) = &args.status {
        query.push(format!("status={}", encode(s)));
    }
    if let Some(l) = args.limit {
        query.push(format!("limit={l}"));
    }
    if let Some(cur) = &args.cursor {
        query.push(format!("cursor={}", encode(cur)));
    }
    let path = if query.is_empty() {
        "/api/v1/releases".to_owned()
    } else {
        format!("/api/v1/releases?{}", query.join("&"))
    };
    let page = c.get(&path)?;
    match args.output {
        OutputFormat::Json => crate::output::print_json(&page)?,
        OutputFormat::Human => crate::output::print(&render(&page))?,
    }
    Ok(ExitCode::SUCCESS)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn render(page: &Value) -> String {
    let empty = Vec::new();
    let items = page["items"].as_array().unwrap_or(&empty);
    if items.is_empty() {
        return "no releases\n".into();
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            let envs = r["environments"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|e| format!("{}:{}", text(&e["name"]), text(&e["status"])))
                .collect::<Vec<_>>()
                .join(" ");
            vec![
                format!("{}#{}", text(&r["product"]), text(&r["number"])),
                text(&r["status"]),
                text(&r["flow"]),
                text(&r["version"]),
                text(&r["initiator"]),
                text(&r["createdAt"]),
                text(&r["id"]),
                envs,
            ]
        })
        .collect();
    let mut out = table(
        &[
            "RELEASE",
            "STATUS",
            "FLOW",
            "VERSION",
            "INITIATOR",
            "CREATED",
            "ID",
            "ENVIRONMENTS",
        ],
        &rows,
    );
    if let Some(next) = page["nextCursor"].as_str() {
        out.push_str(&format!("more: --cursor {next}\n"));
    }
    out
}
