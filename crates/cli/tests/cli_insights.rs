//! `ferry insights` against a real `ferry serve` (issue 21): JSON, CSV and
//! the human table of a promotion into an environment labelled as
//! production.

use serde_json::Value;

mod served;

use served::{TOKEN, ferry, fixture, promote_flow, serve, stderr, stdout};

#[test]
fn insights_of_a_promotion_in_json_csv_and_text() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    // qa is NON_PROD; the label makes it count as production.
    let mut labelled = 0;
    for entry in std::fs::read_dir(&config).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let new = text.replace(
            "kind: Environment\nmetadata:\n  name: qa\n",
            "kind: Environment\nmetadata:\n  name: qa\n  labels:\n    ferry.io/production: \"true\"\n",
        );
        if new != text {
            labelled += 1;
            std::fs::write(&path, new).unwrap();
        }
    }
    assert_eq!(labelled, 1);
    let (_serve, server) = serve(root.path(), &config, &[]);
    let base = ["--server", server.as_str(), "--token", TOKEN];
    let id = promote_flow(&server, "up");
    let out = ferry(&[&["release", "show", id.as_str(), "--watch"][..], &base].concat());
    assert!(stdout(&out).contains("SUCCEEDED"), "{}", stdout(&out));

    let args = ["insights", "--product", "p", "--since", "1d"];
    let out = ferry(&[&args[..], &base, &["--output", "json"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = &report["products"][0];
    assert_eq!(p["productionEnvironments"], serde_json::json!(["qa"]));
    assert_eq!(p["measures"]["deploymentFrequency"]["deployments"], 1);
    assert_eq!(p["measures"]["changeFailureRate"]["failed"], 0);

    let out = ferry(&[&args[..], &base, &["--output", "csv"]].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("from,to,product,environment,production,note,deployments,"),
        "{text}"
    );
    // The product's row, then dev's and qa's.
    assert_eq!(lines.len(), 4, "{text}");
    let cells = |l: &str| l.split(',').map(str::to_owned).collect::<Vec<_>>();
    let header = cells(lines[0]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let product = cells(lines[1]);
    assert_eq!(product[col("product")], "p");
    assert_eq!(product[col("environment")], "");
    assert_eq!(product[col("deployments")], "1");
    assert_eq!(product[col("changeFailureRate")], "0.0");
    let qa = cells(lines[3]);
    assert_eq!(qa[col("environment")], "qa");
    assert_eq!(qa[col("production")], "true");
    assert!(!qa[col("commitMedianSeconds")].is_empty(), "{text}");
    assert_eq!(qa.len(), header.len());

    let out = ferry(&[&args[..], &base].concat());
    let text = stdout(&out);
    assert!(
        text.contains("deployment frequency") && text.contains("change failure rate"),
        "{text}"
    );
    assert!(text.contains("0.0% (elite)"), "{text}");
    assert!(text.contains("where time goes"), "{text}");

    // A bad period: the server's message, exit code 2.
    let out = ferry(&[&["insights", "--since", "fortnight"][..], &base].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("from/to"), "{}", stderr(&out));
}
