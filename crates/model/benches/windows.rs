//! Window evaluation per environment step (issue 20: ≤ 1 ms).
//!
//! Run with `cargo bench -p ferry-model --bench windows`.
//!
//! What the engine does before each environment of a release starts,
//! outside the store: `Windows::closed(config, product, environment, now)`
//! on the configuration's compiled windows. Measured for 10,000 moments
//! spread over a year (so every kind of answer is met: open, outside the
//! allowed hours, in a freeze, with the next opening searched across
//! weekends and holidays), on
//! - **baseline**: the same configuration without any PromotionWindow;
//! - **windows**: 50 windows — business hours in five time zones, nightly
//!   and weekend deny recurrences, 20 absolute freezes — of which a dozen
//!   select the environment evaluated.
//! Compiling the windows (once per configuration) is timed apart.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferry_model::window::Windows;
use ferry_model::{SourceFile, load};

const MOMENTS: i64 = 10_000;
/// 2026-01-05T00:00:00Z, a Monday.
const START: i64 = 1_767_571_200;
const YEAR: i64 = 365 * 86_400;

fn environments() -> String {
    let mut out = String::new();
    for (i, env) in ["dev", "qa", "staging", "prod-eu", "prod-us"]
        .iter()
        .enumerate()
    {
        let kind = if env.starts_with("prod") {
            "PROD"
        } else {
            "NON_PROD"
        };
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}, labels: {{region: r{i}}}}}\nspec: {{kind: {kind}, clusters: [{{name: in-cluster}}]}}\n"
        ));
    }
    out
}

fn windows() -> String {
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "Australia/Sydney",
        "UTC",
    ];
    let mut out = String::new();
    for (i, tz) in zones.iter().enumerate() {
        // Business hours on production, per zone.
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: PromotionWindow\nmetadata: {{name: hours-{i}}}\nspec:\n  selector: {{targetEnvironment: {{types: [PROD]}}, product: {{names: [p{i}, {}]}}}}\n  timeZone: {tz}\n  allow:\n    - {{schedule: \"0 9 * * 1-4\", duration: 8h}}\n    - {{schedule: \"0 9 * * 5\", duration: 4h}}\n  deny:\n    - {{schedule: \"0 12 * * *\", duration: 1h, reason: lunch}}\n",
            if i == 0 { "shop" } else { "nobody" }
        ));
        // Nightly and weekend freezes on everything of a region.
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: PromotionWindow\nmetadata: {{name: nights-{i}}}\nspec:\n  selector: {{targetEnvironment: {{tags: [\"region=r{}\"]}}}}\n  timeZone: {tz}\n  deny:\n    - {{schedule: \"0 20 * * *\", duration: 11h, reason: night}}\n    - {{schedule: \"0 0 * * 6\", duration: 48h, reason: weekend}}\n",
            i % 5
        ));
    }
    // Absolute freezes: holidays, release trains, incidents.
    for i in 0..20 {
        let day = 10 + i * 17;
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: PromotionWindow\nmetadata: {{name: freeze-{i}}}\nspec:\n  selector: {{product: {{names: [shop, other-{i}]}}}}\n  timeZone: Europe/Berlin\n  deny:\n    - {{from: \"2026-01-01T00:00\", until: \"2026-01-01T06:00\", reason: new year}}\n    - {{from: \"2026-{:02}-{:02}\", until: \"2026-{:02}-{:02}T12:00\", reason: freeze {i}}}\n",
            (day / 28) % 12 + 1,
            day % 28 + 1,
            (day / 28) % 12 + 1,
            day % 28 + 1
        ));
    }
    // Windows for other products and environments: selected out.
    for i in 0..20 {
        out.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: PromotionWindow\nmetadata: {{name: other-{i}}}\nspec:\n  selector: {{product: {{names: [team-{i}]}}, targetEnvironment: {{names: [qa]}}}}\n  allow: [{{schedule: \"30 {} * * *\", duration: 2h}}]\n",
            i % 24
        ));
    }
    out
}

fn measure(label: &str, files: &[SourceFile]) -> (Duration, Duration, usize) {
    let loaded = load(files);
    assert!(!loaded.has_errors(), "{:?}", loaded.diagnostics);
    let started = Instant::now();
    let compiled = Windows::new(&loaded.config);
    let compile = started.elapsed();
    let mut times = Vec::with_capacity(MOMENTS as usize);
    let mut closed = 0;
    for i in 0..MOMENTS {
        let now = START + i * (YEAR / MOMENTS) + (i * 7919) % 3600;
        let t = Instant::now();
        let verdict = compiled.closed(&loaded.config, "shop", "prod-eu", black_box(now));
        times.push(t.elapsed());
        closed += usize::from(verdict.is_some());
    }
    times.sort();
    let median = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    println!(
        "{label:<10} {} windows: compile {compile:?}; per environment step median {median:?}, p99 {p99:?}, max {:?}; closed at {closed} of {MOMENTS} moments",
        loaded.config.windows.len(),
        times[times.len() - 1]
    );
    (median, p99, closed)
}

fn main() {
    let base = SourceFile {
        path: "environments.yaml".into(),
        text: environments(),
    };
    let (b_median, b_p99, b_closed) = measure("baseline", std::slice::from_ref(&base));
    assert_eq!(b_closed, 0, "nothing closes without windows");
    let (w_median, w_p99, w_closed) = measure(
        "windows",
        &[
            base,
            SourceFile {
                path: "windows.yaml".into(),
                text: windows(),
            },
        ],
    );
    assert!(w_closed > 0 && w_closed < MOMENTS as usize, "{w_closed}");
    println!(
        "windows / baseline: median {:.1}x (+{:?}), p99 {:.1}x (+{:?}); goal: ≤ 1 ms per environment step: {}",
        w_median.as_secs_f64() / b_median.as_secs_f64().max(1e-9),
        w_median.saturating_sub(b_median),
        w_p99.as_secs_f64() / b_p99.as_secs_f64().max(1e-9),
        w_p99.saturating_sub(b_p99),
        if w_p99 <= Duration::from_millis(1) {
            "met (p99)"
        } else if w_median <= Duration::from_millis(1) {
            "met (median), not at p99"
        } else {
            "NOT met"
        }
    );
}
