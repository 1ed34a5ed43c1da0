//! `ferry release show|terminate|retry|notes`: one release on a server.
//! `show --watch` follows the release's event stream and prints every
//! change until the release finishes.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::Value;

use super::OutputFormat;
use super::client::{Client, ClientArgs, encode};
use crate::output::table;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Show a release: its environments, applications and steps.
    Show(ShowArgs),
    /// Terminate a running release.
    Terminate(IdArgs),
    /// Retry a FAILED or TERMINATED release from the point of failure.
    Retry(IdArgs),
    /// The release notes: configuration and code commits, grouped.
    Notes(super::notes::NotesArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    pub id: String,
    /// Follow the release live until it finishes.
    #[arg(long)]
    pub watch: bool,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    pub id: String,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

pub fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Show(a) => show(a),
        Command::Terminate(a) => act(a, "terminate"),
        Command::Retry(a) => act(a, "retry"),
        Command::Notes(a) => super::notes::run(a),
    }
}

fn print(release: &Value, output: OutputFormat) -> anyhow::Result<()> {
    match output {
        OutputFormat::Json => crate::output::print_json(release),
        OutputFormat::Human => Ok(crate::output::print(&render(release))?),
    }
}

/// 0 when the release succeeded (or still runs), 1 when it failed or was
/// terminated, so scripts can wait on `show --watch`.
fn exit_for(release: &Value) -> ExitCode {
    match release["status"].as_str() {
        Some("FAILED" | "TERMINATED") => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

fn show(a: ShowArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let path = format!("/api/v1/releases/{}", encode(&a.id));
    let release = c.get(&path)?;
    if !a.watch || !release["finishedAt"].is_null() {
        print(&release, a.output)?;
        return Ok(exit_for(&release));
    }
    if a.output == OutputFormat::Human {
        crate::output::print(&render(&release))?;
    }
    let stream = c.events(&a.id)?;
    let reader = std::io::BufReader::new(stream);
    let mut data = String::new();
    for line in reader.lines() {
        let line = line.context("reading the event stream")?;
        if let Some(d) = line.strip_prefix("data:") {
            data.push_str(d.trim_start());
            continue;
        }
        if !line.is_empty() || data.is_empty() {
            continue;
        }
        let event: Value = serde_json::from_str(&std::mem::take(&mut data))
            .context("an event of the stream is not JSON")?;
        match a.output {
            OutputFormat::Json => {
                crate::output::print(&format!("{}\n", serde_json::to_string(&event)?))?
            }
            OutputFormat::Human => crate::output::print(&event_line(&event))?,
        }
        let finished = event["kind"] == "release"
            && matches!(
                event["status"].as_str(),
                Some("SUCCEEDED" | "FAILED" | "TERMINATED")
            );
        if finished {
            let release = c.get(&path)?;
            if a.output == OutputFormat::Human {
                crate::output::print(&render(&release))?;
            }
            return Ok(exit_for(&release));
        }
    }
    anyhow::bail!("the event stream ended before the release finished")
}

fn act(a: IdArgs, action: &str) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let release = c.post_idempotent(
        &format!("/api/v1/releases/{}/{action}", encode(&a.id)),
        &Value::Object(Default::default()),
    )?;
    print(&release, a.output)?;
    Ok(ExitCode::SUCCESS)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn event_line(e: &Value) -> String {
    let mut what = vec![text(&e["kind"])];
    for k in ["environment", "application", "step"] {
        if let Some(s) = e[k].as_str() {
            what.push(s.to_owned());
        }
    }
    let mut line = format!(
        "{}  {}  {}",
        text(&e["at"]),
        what.join("/"),
        text(&e["status"])
    );
    if let Some(m) = e["message"].as_str() {
        line.push_str(&format!("  {m}"));
    }
    line.push('\n');
    line
}

/// The human view of a release.
pub fn render(r: &Value) -> String {
    let empty = Vec::new();
    let mut out = format!(
        "{} #{}  {}  flow {}  version {}\nid {}  by {}  created {}  finished {}\n",
        text(&r["product"]),
        text(&r["number"]),
        text(&r["status"]),
        text(&r["flow"]),
        text(&r["version"]),
        text(&r["id"]),
        text(&r["initiator"]),
        text(&r["createdAt"]),
        text(&r["finishedAt"]),
    );
    if let Some(sha) = r["trigger"]["sha"].as_str().filter(|s| !s.is_empty()) {
        out.push_str(&format!(
            "trigger {} {}\n",
            &sha[..sha.len().min(12)],
            text(&r["trigger"]["message"]).lines().next().unwrap_or("")
        ));
    }
    let mut rows = Vec::new();
    for e in r["environments"].as_array().unwrap_or(&empty) {
        let apps = e["applications"].as_array().unwrap_or(&empty);
        if apps.is_empty() {
            rows.push(vec![
                text(&e["name"]),
                text(&e["status"]),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ]);
        }
        for a in apps {
            let steps = a["steps"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .map(|s| format!("{}:{}", text(&s["name"]), text(&s["status"])))
                .collect::<Vec<_>>()
                .join(" ");
            let commit = a["promotionCommit"]
                .as_str()
                .map(|c| c[..c.len().min(12)].to_owned())
                .unwrap_or_else(|| "-".into());
            rows.push(vec![
                text(&e["name"]),
                text(&e["status"]),
                text(&a["name"]),
                text(&a["status"]),
                commit,
                steps,
            ]);
        }
        for issue in e["issues"].as_array().unwrap_or(&empty) {
            out.push_str(&format!(
                "issue in {}: {}\n",
                text(&e["name"]),
                text(&issue["message"])
            ));
        }
    }
    out.push_str(&table(
        &[
            "ENVIRONMENT",
            "STATUS",
            "APPLICATION",
            "APP STATUS",
            "COMMIT",
            "STEPS",
        ],
        &rows,
    ));
    out
}
