//! Delivery insights through `ferry serve` (issue 21): a real promotion
//! (dev → qa → prod, prod of kind PROD) is recorded by the keeper and
//! shows in `GET /api/v1/insights` and in the Prometheus gauges (the
//! pages: `insights_month.rs`).

mod common;

use common::*;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_shows_in_insights() {
    let f = fixture();
    let s = start(settings(&f)).await;

    // Nothing yet: a production environment, no deployments.
    let (status, before) = s.get("/api/v1/insights?product=p").await;
    assert_eq!(status, 200, "{before}");
    let p = &before["products"][0];
    assert_eq!(p["product"], "p");
    assert_eq!(p["productionEnvironments"], serde_json::json!(["prod"]));
    assert_eq!(p["measures"]["deploymentFrequency"]["deployments"], 0);
    assert_eq!(p["measures"]["changeFailureRate"]["rate"], Value::Null);

    let id = s.promote("standard").await;
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");

    // The same query as before, within the minute a report of a period
    // ending now may be reused: the keeper recorded new facts, so the
    // report is computed again.
    let (status, again) = s.get("/api/v1/insights?product=p").await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["products"][0]["measures"]["deploymentFrequency"]["deployments"], 1,
        "{again}"
    );
    let (status, after) = s.get("/api/v1/insights?product=p&from=1d").await;
    assert_eq!(status, 200, "{after}");
    let p = &after["products"][0];
    let m = &p["measures"];
    assert_eq!(m["deploymentFrequency"]["deployments"], 1, "{after}");
    assert_eq!(m["changeFailureRate"]["deployments"], 1);
    assert_eq!(m["changeFailureRate"]["failed"], 0);
    assert_eq!(m["changeFailureRate"]["rate"], 0.0);
    assert_eq!(m["changeFailureRate"]["band"], "elite");
    assert_eq!(m["recoveryTime"]["failures"], 0);
    // The release notes' commits (the fixture's initial commit of prod's
    // path) reached prod: lead time from their author date.
    assert!(m["leadTime"]["changes"].as_u64().unwrap() >= 1, "{after}");
    assert!(m["leadTime"]["medianSeconds"].as_f64().unwrap() >= 0.0);
    // Per day since 00:00 UTC of the day prod first ran (within the day).
    assert!(m["deploymentFrequency"]["perDay"].as_f64().unwrap() >= 1.0);
    let envs = p["environments"].as_array().unwrap();
    let names: Vec<&str> = envs.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["dev", "qa", "prod"]);
    let prod = &envs[2];
    assert_eq!(prod["production"], true);
    let phases: Vec<&str> = prod["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert!(
        phases.contains(&"commit") && phases.contains(&"sync"),
        "{phases:?}"
    );
    // Every configured product when none is named.
    let (_, all) = s.get("/api/v1/insights").await;
    assert_eq!(all["products"].as_array().unwrap().len(), 1);

    // Bad input names the parameter; unknown products are 404.
    let (status, e) = s.get("/api/v1/insights?from=yesterday").await;
    assert_eq!(status, 400, "{e}");
    assert!(e["error"].as_str().unwrap().contains("from/to"), "{e}");
    let (status, _) = s.get("/api/v1/insights?product=nope").await;
    assert_eq!(status, 404);
    let (status, _) = s.get("/api/v1/insights?colour=red").await;
    assert_eq!(status, 400);

    // The gauges.
    let text = s.text("/metrics").await;
    assert!(
        text.contains("# TYPE ferry_insights_change_failure_rate gauge"),
        "{text}"
    );
    assert!(
        text.contains("ferry_insights_change_failure_rate{product=\"p\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains("ferry_insights_deployments{product=\"p\"} 1\n"),
        "{text}"
    );
    let per_day: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ferry_insights_deployments_per_day{product=\"p\"} "))
        .expect("deployments per day")
        .parse()
        .unwrap();
    // One deployment since 00:00 UTC today, when prod first ran.
    assert!(per_day >= 1.0, "{per_day}");
    s.stop().await;
}
