//! `/metrics` keeps every series users may already scrape, with the same
//! numbers: a scripted scenario against a real server, its exposition
//! compared with `tests/data/metrics_scenario.txt` — the exposition of the
//! same scenario recorded from the hand-written exporter ferry had before
//! it moved to the `metrics` crates (issue 22). Run with
//! `FERRY_BLESS_METRICS=1` to record it again after a deliberate change.
//!
//! What is compared: every series (name and labels) of the record is
//! still exposed, and its value is equal wherever the scenario fixes it —
//! counts, counters and gauges; durations (sums, latency buckets) and
//! git command counts are compared by presence only. New series (a summary's quantiles) may be
//! added. Its own test binary: the process-wide counters (forge calls,
//! git commands, steps) then hold this scenario's alone.

mod common;

use std::collections::BTreeMap;

use common::{TOKEN, fixture, settings, start};
use serde_json::json;

const RECORD: &str = "tests/data/metrics_scenario.txt";

/// `series → value` of an exposition, comments left out.
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_owned(), value.to_owned()))
        })
        .collect()
}

/// Whether a series' value depends on timing, or on how the engine
/// drives Git (how many git commands a promotion takes is the engine's
/// business, not the exporter's), rather than on the scenario.
fn unfixed(series: &str) -> bool {
    let name = series.split('{').next().unwrap_or(series);
    (name.ends_with("_bucket") && !series.contains("le=\"+Inf\""))
        || name.ends_with("_sum")
        || name.starts_with("ferry_git_command")
        // The test server is polled on /readyz until ready: once, or more
        // on a loaded machine.
        || series.contains("route=\"/readyz\"")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scenario_exposes_the_recorded_series_and_numbers() {
    let f = fixture();
    let s = start(settings(&f)).await;
    // The scenario: probes, reads, a 404, a refused call, one promotion
    // through the whole flow, then reads of its release.
    for _ in 0..3 {
        assert_eq!(s.get("/healthz").await.0, 200);
    }
    assert_eq!(s.get("/api/v1/products").await.0, 200);
    assert_eq!(s.get("/api/v1/releases/nope").await.0, 404);
    let r = s
        .http
        .get(s.url("/api/v1/releases"))
        .bearer_auth("wrong-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (code, created) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // wait_finished polls as often as it needs; the reads below are fixed.
    let text = s.text("/metrics").await;
    let before = samples(&text);
    let polls: f64 = before
        .get("ferry_http_requests_total{method=\"GET\",route=\"/api/v1/releases/{id}\",status=\"200\"}")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    for _ in 0..2 {
        let r = s
            .http
            .get(s.url(&format!("/api/v1/releases/{id}")))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let text = s.text("/metrics").await;
    s.stop().await;

    // The polls of wait_finished vary from run to run: count them out.
    let mut now = samples(&text);
    for (series, value) in now.iter_mut() {
        if series.contains("route=\"/api/v1/releases/{id}\"")
            && ((series.starts_with("ferry_http_requests_total{method=\"GET\"")
                && series.contains("status=\"200\""))
                || series.starts_with("ferry_http_request_duration_seconds_count")
                || series.contains("le=\"+Inf\""))
        {
            let n: f64 = value.parse().unwrap();
            *value = format!("{}", n - polls);
        }
    }
    // /metrics' own series count the first scrape (the second one is
    // counted after it answered).
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORD);
    if std::env::var_os("FERRY_BLESS_METRICS").is_some() {
        let mut out = String::new();
        for (series, value) in &now {
            out.push_str(&format!("{series} {value}\n"));
        }
        std::fs::write(&path, out).unwrap();
        return;
    }
    let record = std::fs::read_to_string(&path).unwrap();
    let mut problems = Vec::new();
    for (series, value) in samples(&record) {
        match now.get(&series) {
            None => problems.push(format!("missing: {series}")),
            Some(v) if !unfixed(&series) && v.parse::<f64>().ok() != value.parse::<f64>().ok() => {
                problems.push(format!("{series}: {v}, recorded {value}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "/metrics differs from the record:\n{}\n\nexposition:\n{text}",
        problems.join("\n")
    );
}
