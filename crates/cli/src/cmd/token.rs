//! `ferry token create|list|revoke`: API tokens on a server (admin). The
//! value of a new token is printed once — the server keeps only its hash —
//! so `create` is the only moment to copy it.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::OutputFormat;
use super::client::{Client, ClientArgs, encode};
use crate::output::table;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a token and print its value (shown only this once).
    Create(CreateArgs),
    /// List tokens: names, roles, scopes (never a value).
    List(ListArgs),
    /// Revoke a token by id or name; it stops working at once.
    Revoke(RevokeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Viewer,
    Promoter,
    Admin,
}

impl RoleArg {
    fn as_str(self) -> &'static str {
        match self {
            RoleArg::Viewer => "viewer",
            RoleArg::Promoter => "promoter",
            RoleArg::Admin => "admin",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Who uses the token: the initiator of what it does.
    pub name: String,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// Promoter only: a product it may act on (repeat for several;
    /// default: every product).
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// Promoter only: no production (`kind: PROD`) environments.
    #[arg(long)]
    pub non_production: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Include revoked tokens.
    #[arg(long)]
    pub all: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct RevokeArgs {
    /// Token id or name.
    #[arg(value_name = "TOKEN")]
    pub id_or_name: String,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Create(a) => create(a),
        Command::List(a) => list(a),
        Command::Revoke(a) => revoke(a),
    }
}

fn create(a: CreateArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let mut body = json!({"name": a.name, "role": a.role.as_str()});
    if !a.products.is_empty() {
        body["products"] = json!(a.products);
    }
    if a.non_production {
        body["nonProduction"] = json!(true);
    }
    let created = c.post("/api/v1/tokens", &body)?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&created)?,
        OutputFormat::Human => {
            let value = created["token"].as_str().unwrap_or_default();
            crate::output::print(&format!(
                "created token `{}` ({}{})\n{value}\nThis value is shown only now: ferry keeps only its hash.\n",
                created["name"].as_str().unwrap_or_default(),
                created["role"].as_str().unwrap_or_default(),
                scope(&created)
            ))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// ` for shop, web; non-production only`, or nothing for an unscoped token.
fn scope(t: &Value) -> String {
    let mut parts = Vec::new();
    let products: Vec<&str> = t["products"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !products.is_empty() {
        parts.push(format!("for {}", products.join(", ")));
    }
    if t["nonProduction"].as_bool() == Some(true) {
        parts.push("non-production only".to_owned());
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("; {}", parts.join("; "))
    }
}

fn list(a: ListArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let path = if a.all {
        "/api/v1/tokens?all=true"
    } else {
        "/api/v1/tokens"
    };
    let tokens = c.get(path)?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&tokens)?,
        OutputFormat::Human => {
            let s = |v: &Value| v.as_str().unwrap_or("-").to_owned();
            let rows: Vec<Vec<String>> = tokens["items"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    vec![
                        s(&t["name"]),
                        s(&t["role"]),
                        scope(t).trim_start_matches("; ").to_owned(),
                        s(&t["createdBy"]),
                        s(&t["createdAt"]),
                        s(&t["revokedAt"]),
                        s(&t["id"]),
                    ]
                })
                .collect();
            crate::output::print(&table(
                &[
                    "NAME",
                    "ROLE",
                    "SCOPE",
                    "CREATED BY",
                    "CREATED",
                    "REVOKED",
                    "ID",
                ],
                &rows,
            ))?
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn revoke(a: RevokeArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let revoked = c.delete(&format!("/api/v1/tokens/{}", encode(&a.id_or_name)))?;
    match a.output {
        OutputFormat::Json => crate::output::print_json(&revoked)?,
        OutputFormat::Human => crate::output::print(&format!(
            "revoked token `{}`\n",
            revoked["name"].as_str().unwrap_or_default()
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}
