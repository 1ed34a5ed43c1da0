//! `ferry insights`: delivery insights of a server (issue 21) — the four
//! DORA measures per product and environment and where promotion time
//! goes, from `GET /api/v1/insights`.

use std::process::ExitCode;

use serde_json::Value;

use super::client::{Client, ClientArgs, encode};
use crate::output::table;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InsightsFormat {
    Human,
    Json,
    /// One row per product (its production environments together) and
    /// per environment: the four measures, then each phase's median and
    /// 90th percentile in seconds.
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only this product (default: every configured product).
    #[arg(long)]
    pub product: Option<String>,
    /// The period: how long before its end (30d, 12w, 36h), or its start
    /// (a date such as 2026-01-01, or an RFC 3339 time).
    #[arg(long, default_value = "30d")]
    pub since: String,
    /// End of the period, excluded (a date or an RFC 3339 time; default
    /// now).
    #[arg(long)]
    pub until: Option<String>,
    #[arg(long, value_enum, default_value = "human")]
    pub output: InsightsFormat,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let c = Client::new(&args.client)?;
    let mut query = vec![format!("from={}", encode(&args.since))];
    if let Some(p) = &args.product {
        query.push(format!("product={}", encode(p)));
    }
    if let Some(t) = &args.until {
        query.push(format!("to={}", encode(t)));
    }
    let report = c.get(&format!("/api/v1/insights?{}", query.join("&")))?;
    match args.output {
        InsightsFormat::Json => crate::output::print_json(&report)?,
        InsightsFormat::Csv => crate::output::print(&csv(&report))?,
        InsightsFormat::Human => crate::output::print(&human(&report))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The phases in the API's order.
const PHASES: [&str; 8] = [
    "queue",
    "window",
    "preAction",
    "commit",
    "pullRequest",
    "sync",
    "postAction",
    "hooks",
];

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A number as the API gave it, or empty.
fn num(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// The measure columns of one `measures` object (empty when null).
fn measure_cells(m: &Value) -> Vec<String> {
    let f = &m["deploymentFrequency"];
    let l = &m["leadTime"];
    let c = &m["changeFailureRate"];
    let r = &m["recoveryTime"];
    vec![
        num(&f["deployments"]),
        num(&f["perDay"]),
        text(&f["band"]),
        num(&l["changes"]),
        num(&l["medianSeconds"]),
        num(&l["p90Seconds"]),
        text(&l["band"]),
        num(&c["deployments"]),
        num(&c["failed"]),
        num(&c["rate"]),
        text(&c["band"]),
        num(&r["failures"]),
        num(&r["unrecovered"]),
        num(&r["medianSeconds"]),
        num(&r["p90Seconds"]),
        text(&r["band"]),
    ]
}

const MEASURE_HEADER: [&str; 16] = [
    "deployments",
    "deploymentsPerDay",
    "deploymentFrequencyBand",
    "leadTimeChanges",
    "leadTimeMedianSeconds",
    "leadTimeP90Seconds",
    "leadTimeBand",
    "changeFailureDeployments",
    "changeFailureFailed",
    "changeFailureRate",
    "changeFailureRateBand",
    "recoveryFailures",
    "recoveryUnrecovered",
    "recoveryMedianSeconds",
    "recoveryP90Seconds",
    "recoveryTimeBand",
];

/// RFC 4180 quoting, written here because it is four lines; the `csv`
/// crate would be a dependency for them.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn csv(report: &Value) -> String {
    let mut header: Vec<String> = ["from", "to", "product", "environment", "production", "note"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    header.extend(MEASURE_HEADER.iter().map(|s| (*s).to_owned()));
    for p in PHASES {
        header.push(format!("{p}MedianSeconds"));
        header.push(format!("{p}P90Seconds"));
    }
    let mut rows = vec![header];
    let (from, to) = (text(&report["from"]), text(&report["to"]));
    for p in items(&report["products"]) {
        let product = text(&p["product"]);
        let mut row = vec![
            from.clone(),
            to.clone(),
            product.clone(),
            String::new(),
            "true".into(),
            text(&p["note"]),
        ];
        row.extend(measure_cells(&p["measures"]));
        row.extend(std::iter::repeat_n(String::new(), PHASES.len() * 2));
        rows.push(row);
        for e in items(&p["environments"]) {
            let mut row = vec![
                from.clone(),
                to.clone(),
                product.clone(),
                text(&e["name"]),
                e["production"].as_bool().unwrap_or(false).to_string(),
                String::new(),
            ];
            row.extend(measure_cells(&e["measures"]));
            for phase in PHASES {
                let found = items(&e["phases"]).iter().find(|x| x["phase"] == phase);
                row.push(found.map(|x| num(&x["medianSeconds"])).unwrap_or_default());
                row.push(found.map(|x| num(&x["p90Seconds"])).unwrap_or_default());
            }
            rows.push(row);
        }
    }
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| csv_field(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

fn secs(v: &Value) -> String {
    v.as_f64()
        .map(ferry_insights::period::format_seconds)
        .unwrap_or_else(|| "-".into())
}

fn band(v: &Value) -> String {
    v.as_str().map(|b| format!(" ({b})")).unwrap_or_default()
}

fn human(report: &Value) -> String {
    let mut out = format!("{} to {}\n", text(&report["from"]), text(&report["to"]));
    for p in items(&report["products"]) {
        out.push_str(&format!("\n{}\n", text(&p["product"])));
        let m = &p["measures"];
        if m.is_null() {
            out.push_str(&format!("  {}\n", text(&p["note"])));
        } else {
            let f = &m["deploymentFrequency"];
            let l = &m["leadTime"];
            let c = &m["changeFailureRate"];
            let r = &m["recoveryTime"];
            let per_week = f["perWeek"]
                .as_f64()
                .map(|w| format!("{w:.1}/week"))
                .unwrap_or_else(|| "-".into());
            let rate = c["rate"]
                .as_f64()
                .map(|x| format!("{:.1}%", x * 100.0))
                .unwrap_or_else(|| "-".into());
            let rows = vec![
                vec![
                    "deployment frequency".into(),
                    format!("{per_week}{}", band(&f["band"])),
                    format!("{} successful deployments", num(&f["deployments"])),
                ],
                vec![
                    "lead time for changes".into(),
                    format!(
                        "median {}, p90 {}{}",
                        secs(&l["medianSeconds"]),
                        secs(&l["p90Seconds"]),
                        band(&l["band"])
                    ),
                    format!("{} changes", num(&l["changes"])),
                ],
                vec![
                    "change failure rate".into(),
                    format!("{rate}{}", band(&c["band"])),
                    format!(
                        "{} of {} deployments",
                        num(&c["failed"]),
                        num(&c["deployments"])
                    ),
                ],
                vec![
                    "recovery time".into(),
                    format!(
                        "median {}, p90 {}{}",
                        secs(&r["medianSeconds"]),
                        secs(&r["p90Seconds"]),
                        band(&r["band"])
                    ),
                    format!(
                        "{} failures, {} not recovered",
                        num(&r["failures"]),
                        num(&r["unrecovered"])
                    ),
                ],
            ];
            for line in table(&["MEASURE", "VALUE", "OVER"], &rows).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        let mut phase_rows = Vec::new();
        for e in items(&p["environments"]) {
            for ph in items(&e["phases"]) {
                phase_rows.push(vec![
                    text(&e["name"]),
                    text(&ph["label"]),
                    secs(&ph["medianSeconds"]),
                    secs(&ph["p90Seconds"]),
                    num(&ph["runs"]),
                ]);
            }
        }
        if !phase_rows.is_empty() {
            out.push_str("  where time goes:\n");
            for line in table(
                &["ENVIRONMENT", "PHASE", "MEDIAN", "P90", "RUNS"],
                &phase_rows,
            )
            .lines()
            {
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        assert_eq!(csv_field("shop"), "shop");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
