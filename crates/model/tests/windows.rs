//! Promotion windows (issue 20): loading, validation with positions, and
//! evaluation — allow and deny ranges, time zones with daylight-saving
//! changes, selectors.

use std::str::FromStr;

use ferry_model::window::Windows;
use ferry_model::{Loaded, SourceFile, load};

const ENVIRONMENTS: &str = r#"
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: staging}
spec: {kind: NON_PROD, clusters: [{name: in-cluster}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: prod, labels: {region: eu}}
spec: {kind: PROD, clusters: [{name: in-cluster}]}
"#;

fn loaded(windows: &str) -> Loaded {
    load(&[
        SourceFile {
            path: "envs.yaml".into(),
            text: ENVIRONMENTS.into(),
        },
        SourceFile {
            path: "windows.yaml".into(),
            text: windows.into(),
        },
    ])
}

/// Unix seconds of an RFC 3339 time.
fn at(text: &str) -> i64 {
    jiff::Timestamp::from_str(text).expect("a time").as_second()
}

const BUSINESS_HOURS: &str = r#"
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: prod-hours}
spec:
  selector:
    targetEnvironment: {types: [PROD]}
  timeZone: Europe/Berlin
  allow:
    - schedule: "0 9 * * 1-4"
      duration: 8h
  deny:
    - from: "2026-12-21"
      until: "2027-01-04T09:00"
      reason: year-end freeze
"#;

#[test]
fn outside_the_allowed_hours_prod_is_closed_until_the_next_opening_in_its_zone() {
    let l = loaded(BUSINESS_HOURS);
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    let w = Windows::new(&l.config);
    // Monday 2026-12-07 07:30 UTC is 08:30 in Berlin (CET, UTC+1).
    let closed = w
        .closed(&l.config, "trio", "prod", at("2026-12-07T07:30:00Z"))
        .expect("closed before 09:00");
    assert_eq!(closed.window, "prod-hours");
    assert_eq!(
        closed.reason,
        "outside window \"prod-hours\" until 2026-12-07 09:00 Europe/Berlin"
    );
    assert_eq!(closed.until, Some(at("2026-12-07T08:00:00Z")));
    assert!(!closed.denied);
    // Inside: 10:00 Berlin.
    assert_eq!(
        w.closed(&l.config, "trio", "prod", at("2026-12-07T09:00:00Z")),
        None
    );
    // At the end (17:00 Berlin, excluded) and on Thursday evening: the
    // next opening is Monday 09:00 (Friday is not allowed).
    let closed = w
        .closed(&l.config, "trio", "prod", at("2026-12-10T16:00:00Z"))
        .expect("closed at 17:00 on Thursday");
    assert_eq!(closed.until, Some(at("2026-12-14T08:00:00Z")));
    // Staging is not selected: open at any time.
    assert_eq!(
        w.closed(&l.config, "trio", "staging", at("2026-12-07T07:30:00Z")),
        None
    );
}

#[test]
fn a_deny_range_freezes_with_its_reason_and_wins_over_the_allowed_hours() {
    let l = loaded(BUSINESS_HOURS);
    let w = Windows::new(&l.config);
    // Tuesday 2026-12-22 10:00 Berlin: allowed hours, but frozen.
    let closed = w
        .closed(&l.config, "trio", "prod", at("2026-12-22T09:00:00Z"))
        .expect("frozen");
    assert!(closed.denied);
    assert_eq!(
        closed.reason,
        "frozen until 2027-01-04 09:00 Europe/Berlin by window \"prod-hours\": year-end freeze"
    );
    // 2027-01-04 is a Monday: the freeze ends when the allowed hours begin.
    assert_eq!(closed.until, Some(at("2027-01-04T08:00:00Z")));
}

#[test]
fn recurrences_follow_daylight_saving_time() {
    let l = loaded(
        r#"
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: mornings}
spec:
  timeZone: Europe/Berlin
  allow: [{schedule: "0 9 * * *", duration: 1h}]
"#,
    );
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    let w = Windows::new(&l.config);
    // 2026-03-29 02:00 CET becomes 03:00 CEST: 09:00 local is 07:00 UTC
    // from that day on, 08:00 UTC the day before.
    let before = w
        .closed(&l.config, "p", "staging", at("2026-03-28T06:00:00Z"))
        .expect("closed");
    assert_eq!(before.until, Some(at("2026-03-28T08:00:00Z")));
    let after = w
        .closed(&l.config, "p", "staging", at("2026-03-29T06:00:00Z"))
        .expect("closed");
    assert_eq!(after.until, Some(at("2026-03-29T07:00:00Z")));
}

#[test]
fn two_windows_on_one_environment_wait_for_both_to_open() {
    let l = loaded(
        r#"
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: eu-hours}
spec:
  selector: {targetEnvironment: {tags: ["region=eu"]}, product: {names: [trio]}}
  allow: [{schedule: "0 8 * * *", duration: 4h}]
---
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: lunch-freeze}
spec:
  selector: {targetEnvironment: {names: [prod]}}
  deny: [{schedule: "0 8 * * *", duration: 2h, reason: standup}]
"#,
    );
    assert!(!l.has_errors(), "{:?}", l.diagnostics);
    let w = Windows::new(&l.config);
    // 07:00 UTC: outside eu-hours until 08:00, then frozen until 10:00.
    let closed = w
        .closed(&l.config, "trio", "prod", at("2026-12-07T07:00:00Z"))
        .expect("closed");
    assert_eq!(closed.window, "eu-hours");
    assert_eq!(closed.until, Some(at("2026-12-07T10:00:00Z")));
    // Another product is not selected by eu-hours, only by the freeze.
    let other = w
        .closed(&l.config, "other", "prod", at("2026-12-07T08:30:00Z"))
        .expect("frozen");
    assert_eq!(other.window, "lunch-freeze");
    assert_eq!(
        other.reason,
        "frozen until 2026-12-07 10:00 UTC by window \"lunch-freeze\": standup"
    );
}

#[test]
fn every_problem_of_a_window_is_an_error_at_its_field() {
    let l = loaded(
        r#"
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: broken}
spec:
  timeZone: Mars/Olympus
  allow:
    - schedule: "0 9 * *"
      duration: 8h
    - schedule: "0 9 * * *"
  deny:
    - from: "2026-12-24"
      until: "2026-12-20"
    - from: "2026-12-24"
      duration: 2h
      until: "2026-12-25"
    - from: "tomorrow"
      until: "2026-12-25"
"#,
    );
    let errors: Vec<String> = l.errors().map(|d| d.to_string()).collect();
    let expect = [
        "windows.yaml:6:13: error: spec.timeZone: unknown time zone `Mars/Olympus`",
        "windows.yaml:8:17: error: spec.allow[0].schedule: `0 9 * *` is not a cron schedule",
        "windows.yaml:10:7: error: spec.allow[1].duration: a schedule needs a `duration`",
        "windows.yaml:13:14: error: spec.deny[0].until: `2026-12-20` is not after `2026-12-24`",
        "windows.yaml:15:17: error: spec.deny[1].duration: `duration` belongs to a `schedule`",
        "windows.yaml:17:13: error: spec.deny[2].from: `tomorrow` is not a time",
    ];
    for e in expect {
        assert!(
            errors.iter().any(|got| got.starts_with(e)),
            "missing `{e}` in {errors:#?}"
        );
    }
    assert_eq!(errors.len(), expect.len(), "{errors:#?}");
    // A window that does not compile closes what it selects, saying why.
    let w = Windows::new(&l.config);
    let closed = w
        .closed(&l.config, "p", "prod", at("2026-12-07T07:00:00Z"))
        .expect("closed");
    assert!(
        closed.reason.contains("the window is invalid"),
        "{}",
        closed.reason
    );
}

#[test]
fn a_misspelt_field_in_a_window_is_an_error_not_a_widened_window() {
    let l = loaded(
        r#"
apiVersion: ferry.io/v1alpha1
kind: PromotionWindow
metadata: {name: typo}
spec:
  selector: {targetEnviroment: {names: [prod]}}
  deny: [{from: "2026-12-24", until: "2026-12-27"}]
"#,
    );
    assert!(l.has_errors(), "{:?}", l.diagnostics);
    assert!(l.config.windows.is_empty());
}
