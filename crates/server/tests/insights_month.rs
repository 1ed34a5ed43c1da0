//! Delivery insights end to end over a scripted month (issue 21): the
//! generator in `month/` stores 20 releases of November 2026 as the
//! engine and the release notes would have; `ferry serve` records their
//! facts (the keeper), and the figures worked out here by hand from the
//! script are what `GET /api/v1/insights` answers and what the Insights
//! pages show — read without script (plain HTTP) and in headless
//! Chromium, light and dark, at 1440 and 390 px.

mod browser;
mod common;
mod htmlcheck;
mod month;
mod uiclient;

use common::*;
use serde_json::Value;

const QUERY: &str = "from=2026-11-02&to=2026-11-30";

// The figures, worked out from the script (see `month/mod.rs`):
//
// Deployment frequency: 18 of the 20 releases deployed to prod
// successfully (5 and 12 failed there) over 28 days (prod first ran on
// the period's first day): 18 / 28 = 0.642857… per day, 4.5 per week;
// at least weekly but not more than daily → high.
const PER_DAY: f64 = 18.0 / 28.0;
// Change failure rate: 2 failed of 20 deployments (each prod run merged
// its pull request, so the change reached prod) = 10 % → high (≤ 20 %).
//
// Recovery: release 5 failed on Friday at 10:00 + 20 + P(5) = 70 min;
// release 6 ended on Monday at 10:00 + 20 + P(6) = 90 min: 3 d 20 min.
// Release 12 failed on Tuesday at 10:00 + 50 min, release 13 ended on
// Wednesday at 10:00 + 70 min: 1 d 20 min. Nearest-rank median of two is
// the lower (1 d 20 min = 87,600 s, low: a day or more), p90 the higher
// (260,400 s).
const RECOVERY_MEDIAN: f64 = 86_400.0 + 1_200.0;
const RECOVERY_P90: f64 = 3.0 * 86_400.0 + 1_200.0;
// Lead time: each release brings two commits (authored 2 h and 26 h
// before its creation at 10:00) which run in prod when its sync ends,
// 15 + P(k) minutes after creation; the commits of 5 and 12 run there
// only with 6 and 13 (3 days and 1 day later). 40 lead times:
// - the 2 h commits of the 18 releases that deployed themselves: 2 h + 15 min
//   + P(k), P ∈ {30, 50, 70, 90} → 2 h 45 min … 3 h 45 min (18, "1 – 6 h");
// - their 26 h commits: 26 h 45 min … 27 h 45 min (18, "1 – 3 d");
// - 12's two with 13 (P(13) = 50): 1 d 3 h 5 min and 2 d 3 h 5 min
//   ("1 – 3 d"); 5's two with 6 (P(6) = 70): 3 d 3 h 25 min and
//   4 d 3 h 25 min ("3 d – 1 w").
// Sorted: ranks 1–18 are the 2 h leads; then 26 h 45 min (P = 30:
// releases 4, 8, 16, 20) at 19–22; 27 h 05 min (P = 50: 1, 9, 13, 17,
// and 12's 2 h commit) at 23–27; 27 h 25 min (P = 70: 2, 6, 10, 14, 18)
// at 28–32; 27 h 45 min (P = 90: 3, 7, 11, 15, 19) at 33–37. The median
// (rank 20) is 26 h 45 min = 96,300 s (high: a day to a week), the p90
// (rank 36) 27 h 45 min = 99,900 s.
const LEAD_MEDIAN: f64 = 96_300.0;
const LEAD_P90: f64 = 99_900.0;
const DISTRIBUTION: [u64; 9] = [0, 0, 18, 0, 20, 2, 0, 0, 0];

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("a number: {v}"))
}

/// The answer for product `p` over the month, checked figure by figure.
fn check_json(report: &Value) {
    assert_eq!(report["from"], "2026-11-02T00:00:00Z", "{report}");
    assert_eq!(report["to"], "2026-11-30T00:00:00Z");
    assert_eq!(report["days"], 28.0);
    let p = &report["products"][0];
    assert_eq!(p["product"], "p");
    assert_eq!(p["productionEnvironments"], serde_json::json!(["prod"]));
    let m = &p["measures"];
    let df = &m["deploymentFrequency"];
    assert_eq!(df["deployments"], 18, "{m:#}");
    assert_eq!(df["days"], 28.0);
    assert!((num(&df["perDay"]) - PER_DAY).abs() < 1e-12, "{df}");
    assert!((num(&df["perWeek"]) - 4.5).abs() < 1e-12, "{df}");
    assert_eq!(df["band"], "high");
    let lt = &m["leadTime"];
    assert_eq!(lt["changes"], 40, "{lt}");
    assert_eq!(num(&lt["medianSeconds"]), LEAD_MEDIAN, "{lt}");
    assert_eq!(num(&lt["p90Seconds"]), LEAD_P90, "{lt}");
    assert_eq!(lt["band"], "high");
    let cfr = &m["changeFailureRate"];
    assert_eq!(cfr["deployments"], 20, "{cfr}");
    assert_eq!(cfr["failed"], 2);
    assert_eq!(num(&cfr["rate"]), 0.1);
    assert_eq!(cfr["band"], "high");
    assert_eq!(
        cfr["causes"],
        serde_json::json!([{"cause": "failed", "count": 2}])
    );
    let rt = &m["recoveryTime"];
    assert_eq!(rt["failures"], 2, "{rt}");
    assert_eq!(rt["unrecovered"], 0);
    assert_eq!(num(&rt["medianSeconds"]), RECOVERY_MEDIAN, "{rt}");
    assert_eq!(num(&rt["p90Seconds"]), RECOVERY_P90, "{rt}");
    assert_eq!(rt["band"], "low");
    // Week by week (Mondays): 5 releases each; 5 failed in the first,
    // 12 in the third.
    let weeks = p["weeks"].as_array().expect("weeks");
    let starts: Vec<&str> = weeks.iter().map(|w| w["start"].as_str().unwrap()).collect();
    assert_eq!(
        starts,
        ["2026-11-02", "2026-11-09", "2026-11-16", "2026-11-23"]
    );
    let col = |k: &str| weeks.iter().map(|w| w[k].clone()).collect::<Vec<_>>();
    assert_eq!(col("deployments"), [4, 5, 4, 5].map(Value::from));
    assert_eq!(col("attempted"), [5, 5, 5, 5].map(Value::from));
    assert_eq!(col("failed"), [1, 0, 1, 0].map(Value::from));
    assert_eq!(
        col("recoveryMedianSeconds"),
        [
            Value::from(RECOVERY_P90),
            Value::Null,
            Value::from(RECOVERY_MEDIAN),
            Value::Null
        ]
    );
    let counts: Vec<u64> = p["leadTimeDistribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["count"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, DISTRIBUTION);
    // Queued 1 min, every release.
    assert_eq!(p["queue"]["count"], 20);
    assert_eq!(num(&p["queue"]["medianSeconds"]), 60.0);
    // Where time goes in prod: waiting to start 4 min, the pull request
    // P(k) (median of five each of 30/50/70/90 min: rank 10 = 50 min,
    // rank 18 = 90 min), sync 5 min, post-action 4 min; in qa commit
    // 1 min, sync 3 min, no wait.
    let env = |name: &str| {
        p["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name} in {p}"))
            .clone()
    };
    let phases = |name: &str| -> Vec<(String, u64, f64, f64)> {
        env(name)["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ph| {
                (
                    ph["phase"].as_str().unwrap().to_owned(),
                    ph["runs"].as_u64().unwrap(),
                    num(&ph["medianSeconds"]),
                    num(&ph["p90Seconds"]),
                )
            })
            .collect()
    };
    let row = |p: &str, n: u64, m: f64, p90: f64| (p.to_owned(), n, m, p90);
    assert_eq!(
        phases("prod"),
        [
            row("window", 20, 240.0, 240.0),
            row("pullRequest", 20, 3000.0, 5400.0),
            row("sync", 20, 300.0, 300.0),
            row("postAction", 20, 240.0, 240.0),
        ]
    );
    assert_eq!(
        phases("qa"),
        [
            row("window", 20, 0.0, 0.0),
            row("commit", 20, 60.0, 60.0),
            row("sync", 20, 180.0, 180.0),
        ]
    );
    assert_eq!(phases("dev"), []);
    assert_eq!(env("prod")["since"], "2026-11-02T10:10:00Z");
}

/// What the product page's cards show: (key, figure, data-value,
/// detail, band), worked out from the figures above.
fn expected_cards() -> Vec<(
    &'static str,
    &'static str,
    String,
    &'static str,
    &'static str,
)> {
    vec![
        (
            "deploymentFrequency",
            "0.64 per day",
            PER_DAY.to_string(),
            "4.5 per week · 18 successful over 28 days",
            "high",
        ),
        (
            "leadTime",
            "1d 2h",
            LEAD_MEDIAN.to_string(),
            "median · p90 1d 3h · 40 changes",
            "high",
        ),
        (
            "changeFailureRate",
            "10 %",
            0.1.to_string(),
            "2 of 20 deployments failed",
            "high",
        ),
        (
            "recoveryTime",
            "1d 0h",
            RECOVERY_MEDIAN.to_string(),
            "median · p90 3d 0h · 2 failed, 0 not recovered",
            "low",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_month_shows_the_expected_figures_in_json_and_on_the_pages() {
    let f = fixture();
    std::fs::create_dir_all(&f.data).unwrap();
    let store = ferry_store::Store::open_sqlite_file(&f.data.join("ferry.db"))
        .await
        .expect("store");
    month::store(&store).await;
    store.close().await;
    let s = start(settings(&f)).await;

    // JSON.
    let (status, report) = s.get(&format!("/api/v1/insights?product=p&{QUERY}")).await;
    assert_eq!(status, 200, "{report}");
    check_json(&report);
    // Across products, the same product's figures.
    let (_, all) = s.get(&format!("/api/v1/insights?{QUERY}")).await;
    assert_eq!(all["products"][0], report["products"][0]);

    // Without script: the server's HTML has every figure.
    let mut c = uiclient::Client::new(&s.base);
    assert_eq!(c.sign_in(TOKEN).await.status, 303);
    let page = c.get(&format!("/products/p/insights?{QUERY}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let els = htmlcheck::check(&page.body).unwrap_or_else(|e| panic!("{e}\n{}", page.body));
    htmlcheck::check_accessible(&page.body, &els).unwrap_or_else(|e| panic!("{e}"));
    for (key, figure, raw, detail, band) in expected_cards() {
        let card = format!("<section class=\"measure\" data-measure=\"{key}\">\n<h3>");
        let at = page
            .body
            .find(&card)
            .unwrap_or_else(|| panic!("{key}: {}", page.body));
        let rest = &page.body[at..];
        assert!(
            rest.contains(&format!("data-value=\"{raw}\">{figure}</p>")),
            "{key}: {figure} ({raw}) in {rest:.600}"
        );
        assert!(rest.contains(&format!(">{detail}</p>")), "{key}: {detail}");
        assert!(
            rest.contains(&format!("data-band=\"{band}\"")),
            "{key}: {band}"
        );
    }
    // Each measure's exact definition and the bands' source.
    for def in [
        "Successful production deployments per day over the period.",
        "(its author date, as the release notes show it) to the moment it first ran",
        "Failed production deployments ÷ production deployments in the period",
        "to the end of the next successful deployment of the same product and environment",
        "Accelerate State of DevOps Report 2024",
        "a <code>none</code> action passed",
        "From <span data-period=\"2026-11-02T00:00:00Z\">2026-11-02 00:00 UTC</span> to",
    ] {
        assert!(page.body.contains(def), "{def}");
    }
    // Four trend charts, the distribution and the time per phase, as SVG.
    assert_eq!(page.body.matches("<svg class=\"chart bars").count(), 5);
    assert_eq!(page.body.matches("<svg class=\"chart stacked").count(), 1);
    let across = c.get(&format!("/insights?{QUERY}")).await;
    assert_eq!(across.status, 200);
    assert!(
        across
            .body
            .contains(&format!("data-value=\"{PER_DAY}\">0.64 per day</span>")),
        "{}",
        across.body
    );
    // A bad period names the parameter, as the API does.
    let bad = c.get("/products/p/insights?from=yesterday").await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("from/to"), "{}", bad.body);

    // In Chromium: what a person sees is what the API answered.
    let b = browser::Browser::start().await;
    b.emulate(1440, 1000, false, false).await;
    b.goto(&s.url("/signin?next=/insights")).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
    b.wait_for("table.insights-all").await;
    // The navigation leads here; the period chooser's form keeps the period.
    assert_eq!(
        b.eval("return document.querySelector('header.top nav a[aria-current=page]').textContent")
            .await,
        "Insights"
    );
    b.goto(&s.url("/products/p/insights")).await;
    b.wait_for(".measures").await;
    b.eval(
        "document.getElementById('from').value = '2026-11-02';
         document.getElementById('to').value = '2026-11-30'; return true",
    )
    .await;
    b.click("form.period button[type=submit]").await;
    b.wait_true(
        "the chosen period",
        "return location.search === '?from=2026-11-02&to=2026-11-30' && !!document.querySelector('.measures')",
    )
    .await;
    let m = &report["products"][0]["measures"];
    for (w, h, mobile) in [(1440, 1000, false), (390, 844, true)] {
        for dark in [false, true] {
            b.emulate(w, h, mobile, dark).await;
            b.goto(&s.url(&format!("/products/p/insights?{QUERY}")))
                .await;
            b.wait_for(".measures").await;
            let shown = b
                .eval(
                    "var out = {};
                     document.querySelectorAll('.insights-product > .measures > .measure').forEach(function (c) {
                       var st = getComputedStyle(c.querySelector('.figure'));
                       out[c.dataset.measure] = {
                         figure: c.querySelector('.figure').innerText,
                         raw: c.querySelector('.figure').dataset.value,
                         detail: c.querySelector('.detail').innerText,
                         band: c.querySelector('[data-band]').dataset.band,
                         visible: c.getBoundingClientRect().width > 0 && st.visibility === 'visible',
                         color: st.color
                       };
                     });
                     out.bg = getComputedStyle(document.body).backgroundColor;
                     out.width = document.documentElement.scrollWidth;
                     return out;",
                )
                .await;
            for (key, figure, raw, detail, band) in expected_cards() {
                let c = &shown[key];
                assert_eq!(c["figure"], figure, "{key} at {w}px dark={dark}: {shown:#}");
                assert_eq!(c["detail"], detail, "{key}");
                assert_eq!(c["band"], band, "{key}");
                assert_eq!(c["visible"], true, "{key}");
                // The number behind the text is the API's.
                assert_eq!(c["raw"], raw, "{key}");
                let api = match key {
                    "deploymentFrequency" => &m[key]["perDay"],
                    "changeFailureRate" => &m[key]["rate"],
                    _ => &m[key]["medianSeconds"],
                };
                assert_eq!(raw.parse::<f64>().unwrap(), num(api), "{key}");
                assert_eq!(c["band"], m[key]["band"], "{key}");
            }
            // Readable: light text on a dark page in dark mode, dark on
            // light otherwise.
            let lum = |css: &Value| {
                let v: Vec<f64> = css
                    .as_str()
                    .unwrap_or_default()
                    .trim_start_matches("rgba(")
                    .trim_start_matches("rgb(")
                    .trim_end_matches(')')
                    .split(',')
                    .take(3)
                    .filter_map(|x| x.trim().parse().ok())
                    .collect();
                assert_eq!(v.len(), 3, "{css}");
                (0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]) / 255.0
            };
            let (fg, bg) = (
                lum(&shown["deploymentFrequency"]["color"]),
                lum(&shown["bg"]),
            );
            if dark {
                assert!(bg < 0.15 && fg > 0.7, "dark: text {fg}, background {bg}");
            } else {
                assert!(bg > 0.9 && fg < 0.3, "light: text {fg}, background {bg}");
            }
            // Where time goes in prod, as the API has it.
            let prod = b
                .eval(
                    "var out = {};
                     document.querySelectorAll('[data-environment=prod] tr[data-phase]').forEach(function (r) {
                       out[r.dataset.phase] = [r.cells[1].innerText, r.cells[2].innerText, r.cells[3].innerText,
                                               r.cells[2].dataset.seconds, r.cells[3].dataset.seconds];
                     });
                     return out;",
                )
                .await;
            assert_eq!(
                prod,
                serde_json::json!({
                    "window": ["20", "4m 0s", "4m 0s", "240", "240"],
                    "pullRequest": ["20", "50m 0s", "1h 30m", "3000", "5400"],
                    "sync": ["20", "5m 0s", "5m 0s", "300", "300"],
                    "postAction": ["20", "4m 0s", "4m 0s", "240", "240"],
                }),
                "at {w}px"
            );
            let scheme = if dark { "dark" } else { "light" };
            b.screenshot(&format!("insights-{w}x{h}-{scheme}")).await;
            b.full_screenshot(&format!("insights-{w}x{h}-{scheme}-full"))
                .await;
            if mobile {
                assert!(
                    shown["width"].as_u64().unwrap() <= 390,
                    "the Insights page scrolls sideways at 390 px: {shown}"
                );
            }
        }
    }
    // Across products at phone width.
    b.goto(&s.url(&format!("/insights?{QUERY}"))).await;
    b.wait_for("table.insights-all").await;
    let row = b
        .eval(
            "var r = document.querySelector('tr[data-product=p]'); var out = {};
             r.querySelectorAll('td[data-measure]').forEach(function (c) { out[c.dataset.measure] = c.querySelector('.figure').innerText; });
             out.width = document.documentElement.scrollWidth; return out;",
        )
        .await;
    for (key, figure, ..) in expected_cards() {
        assert_eq!(row[key], figure, "{row}");
    }
    assert!(row["width"].as_u64().unwrap() <= 390, "{row}");
    b.full_screenshot("insights-all-390x844-dark").await;
    b.quit().await;
    s.stop().await;
}
