//! `ferry release show|terminate|retry|approve|reject|notes`: one release on a server,
//! named by its id, as `PRODUCT#N` (`shop#2`), or as `N` with `--product`
//! (looked up with `GET /api/v1/products/{product}/releases/{number}`).
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
    /// Approve an environment waiting at its approval gate.
    Approve(DecisionArgs),
    /// Reject an environment waiting at its approval gate: it fails, with
    /// the comment as the reason.
    Reject(DecisionArgs),
    /// Break-glass (admin): let this release through closed promotion windows and freezes, with a reason.
    BreakGlass(BreakGlassArgs),
    /// The release notes: configuration and code commits, grouped.
    Notes(super::notes::NotesArgs),
}

/// How a release is named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReleaseName {
    Id(String),
    Number { product: String, number: u64 },
}

impl ReleaseName {
    /// `shop#2`, `2` or `#2` with `--product shop`, or an id.
    pub fn parse(release: &str, product: Option<&str>) -> anyhow::Result<ReleaseName> {
        let release = release.trim();
        let number = |n: &str| -> anyhow::Result<u64> {
            n.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| anyhow::anyhow!("`{n}` is not a release number (1, 2, …)"))
        };
        if let Some((p, n)) = release.split_once('#') {
            let p = match (p.is_empty(), product) {
                (false, Some(given)) if given != p => {
                    anyhow::bail!("`{release}` names product `{p}`, but --product says `{given}`")
                }
                (false, _) => p,
                (true, Some(given)) => given,
                (true, None) => {
                    anyhow::bail!("`{release}` has no product: write `PRODUCT#N` or add --product")
                }
            };
            return Ok(ReleaseName::Number {
                product: p.to_owned(),
                number: number(n)?,
            });
        }
        if release.chars().all(|c| c.is_ascii_digit()) && !release.is_empty() {
            return match product {
                Some(p) => Ok(ReleaseName::Number {
                    product: p.to_owned(),
                    number: number(release)?,
                }),
                None => anyhow::bail!(
                    "`{release}` is a release number: name its product (`PRODUCT#{release}` or `{release} --product PRODUCT`)"
                ),
            };
        }
        if product.is_some() {
            anyhow::bail!("--product goes with a release number, not with the id `{release}`");
        }
        Ok(ReleaseName::Id(release.to_owned()))
    }

    /// The release's id, asking the server for a numbered one.
    pub fn id(&self, c: &Client) -> anyhow::Result<String> {
        match self {
            ReleaseName::Id(id) => Ok(id.clone()),
            ReleaseName::Number { .. } => {
                let r = self.fetch(c)?;
                r["id"]
                    .as_str()
                    .map(str::to_owned)
                    .context("the server's release has no id")
            }
        }
    }

    /// The release as the server has it.
    pub fn fetch(&self, c: &Client) -> anyhow::Result<Value> {
        match self {
            ReleaseName::Id(id) => c.get(&format!("/api/v1/releases/{}", encode(id))),
            ReleaseName::Number { product, number } => c.get(&format!(
                "/api/v1/products/{}/releases/{number}",
                encode(product)
            )),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The release: `PRODUCT#N` (e.g. `shop#2`), `N` with --product, or its id.
    #[arg(value_name = "RELEASE")]
    pub id: String,
    /// The product of a release given by its number.
    #[arg(long)]
    pub product: Option<String>,
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
    /// The release: `PRODUCT#N` (e.g. `shop#2`), `N` with --product, or its id.
    #[arg(value_name = "RELEASE")]
    pub id: String,
    /// The product of a release given by its number.
    #[arg(long)]
    pub product: Option<String>,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// The release: `PRODUCT#N` (e.g. `shop#2`), `N` with --product, or its id.
    #[arg(value_name = "RELEASE")]
    pub id: String,
    /// The product of a release given by its number.
    #[arg(long)]
    pub product: Option<String>,
    /// The environment waiting for approval.
    #[arg(long = "env", value_name = "ENVIRONMENT")]
    pub environment: String,
    /// Why: kept with the decision and shown with it (a rejection's
    /// comment is the environment's failure).
    #[arg(long)]
    pub comment: Option<String>,
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
        Command::Approve(a) => decide(a, "approve"),
        Command::Reject(a) => decide(a, "reject"),
        Command::BreakGlass(a) => break_glass(a),
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
    let name = ReleaseName::parse(&a.id, a.product.as_deref())?;
    let release = name.fetch(&c)?;
    let id = release["id"]
        .as_str()
        .context("the server's release has no id")?
        .to_owned();
    let path = format!("/api/v1/releases/{}", encode(&id));
    if !a.watch || !release["finishedAt"].is_null() {
        print(&release, a.output)?;
        return Ok(exit_for(&release));
    }
    if a.output == OutputFormat::Human {
        crate::output::print(&render(&release))?;
    }
    let stream = c.events(&id)?;
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

#[derive(Debug, clap::Args)]
pub struct BreakGlassArgs {
    /// The release: `PRODUCT#N` (e.g. `shop#2`), `N` with --product, or its id.
    #[arg(value_name = "RELEASE")]
    pub id: String,
    /// The product of a release given by its number.
    #[arg(long)]
    pub product: Option<String>,
    /// Why it may go through: recorded on the release and in the audit log. Required.
    #[arg(long)]
    pub reason: String,
    #[command(flatten)]
    pub client: ClientArgs,
    #[arg(long, value_enum, default_value = "human")]
    pub output: OutputFormat,
}

fn break_glass(a: BreakGlassArgs) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let id = ReleaseName::parse(&a.id, a.product.as_deref())?.id(&c)?;
    let release = c.post(
        &format!("/api/v1/releases/{}/break-glass", encode(&id)),
        &serde_json::json!({"reason": a.reason}),
    )?;
    print(&release, a.output)?;
    Ok(ExitCode::SUCCESS)
}

fn act(a: IdArgs, action: &str) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let id = ReleaseName::parse(&a.id, a.product.as_deref())?.id(&c)?;
    let release = c.post_idempotent(
        &format!("/api/v1/releases/{}/{action}", encode(&id)),
        &Value::Object(Default::default()),
    )?;
    print(&release, a.output)?;
    Ok(ExitCode::SUCCESS)
}

/// `POST /api/v1/releases/{id}/approvals`, sent again with the same
/// `Idempotency-Key` when the answer is lost.
fn decide(a: DecisionArgs, decision: &str) -> anyhow::Result<ExitCode> {
    let c = Client::new(&a.client)?;
    let id = ReleaseName::parse(&a.id, a.product.as_deref())?.id(&c)?;
    let mut body = serde_json::json!({"environment": a.environment, "decision": decision});
    if let Some(comment) = &a.comment {
        body["comment"] = Value::from(comment.as_str());
    }
    let release = c.post_idempotent(
        &format!("/api/v1/releases/{}/approvals", encode(&id)),
        &body,
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
    if let Some(by) = r["breakGlass"]["by"].as_str() {
        out.push_str(&format!(
            "break-glass by {by} at {}: {}\n",
            text(&r["breakGlass"]["at"]),
            text(&r["breakGlass"]["reason"])
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
        if let Some(reason) = e["waitingReason"].as_str() {
            out.push_str(&format!("{}: {reason}\n", text(&e["name"])));
        }
        for d in e["approval"]["decisions"].as_array().unwrap_or(&empty) {
            if d["round"] != e["approval"]["round"] {
                continue;
            }
            out.push_str(&format!(
                "{}: {} by {} at {}{}\n",
                text(&e["name"]),
                if d["decision"] == "reject" {
                    "rejected"
                } else {
                    "approved"
                },
                text(&d["by"]),
                text(&d["at"]),
                d["comment"]
                    .as_str()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            ));
        }
        if e["status"] == "SUSPENDED"
            && let Some(reason) = e["hold"]["reason"].as_str()
        {
            out.push_str(&format!("held in {}: {reason}\n", text(&e["name"])));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_are_named_by_number_or_id() {
        let n = |p: &str, k: u64| ReleaseName::Number {
            product: p.into(),
            number: k,
        };
        assert_eq!(ReleaseName::parse("shop#2", None).unwrap(), n("shop", 2));
        assert_eq!(ReleaseName::parse("2", Some("shop")).unwrap(), n("shop", 2));
        assert_eq!(
            ReleaseName::parse("#2", Some("shop")).unwrap(),
            n("shop", 2)
        );
        assert_eq!(
            ReleaseName::parse("shop#2", Some("shop")).unwrap(),
            n("shop", 2)
        );
        assert_eq!(
            ReleaseName::parse("01JABCDEF", None).unwrap(),
            ReleaseName::Id("01JABCDEF".into())
        );
        for (bad, product, says) in [
            ("2", None, "name its product"),
            ("#2", None, "has no product"),
            ("shop#x", None, "not a release number"),
            ("shop#0", None, "not a release number"),
            ("shop#2", Some("web"), "--product says `web`"),
            ("01JABCDEF", Some("shop"), "goes with a release number"),
        ] {
            let e = ReleaseName::parse(bad, product).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
