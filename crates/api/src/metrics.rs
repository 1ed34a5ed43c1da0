//! Prometheus metrics, hand-written to keep the dependency tree lean:
//! HTTP requests by route and status with a latency histogram, releases
//! by status (computed at scrape time from the store), and the outside
//! work promotions wait on: forge API calls by forge, method and status,
//! commit statuses delivered or given up, and git commands.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (method, route, status) → count.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    /// (method, route) → latency.
    latency: Mutex<BTreeMap<(String, String), Histogram>>,
    /// The commit-status publisher, when forges are configured.
    statuses: Option<ferry_forge::StatusPublisher>,
}

impl Metrics {
    pub fn new(statuses: Option<ferry_forge::StatusPublisher>) -> Metrics {
        Metrics {
            statuses,
            ..Metrics::default()
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut r = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *r.entry((method.to_owned(), route.to_owned(), status))
            .or_default() += 1;
        drop(r);
        let secs = elapsed.as_secs_f64();
        let mut l = self.latency.lock().unwrap_or_else(|p| p.into_inner());
        let h = l.entry((method.to_owned(), route.to_owned())).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The exposition text; `releases` are (status, count) from the store.
    pub fn render(&self, releases: &[(String, u64)], config_errors: usize, ready: bool) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP ferry_releases Releases stored, by status.\n# TYPE ferry_releases gauge\n",
        );
        for (status, n) in releases {
            let _ = writeln!(out, "ferry_releases{{status=\"{status}\"}} {n}");
        }
        out.push_str("# HELP ferry_config_errors Errors of the newest configuration seen (0 when it is active).\n# TYPE ferry_config_errors gauge\n");
        let _ = writeln!(out, "ferry_config_errors {config_errors}");
        out.push_str(
            "# HELP ferry_ready Whether the engine has started.\n# TYPE ferry_ready gauge\n",
        );
        let _ = writeln!(out, "ferry_ready {}", u8::from(ready));
        out.push_str("# HELP ferry_http_requests_total HTTP requests by route and status.\n# TYPE ferry_http_requests_total counter\n");
        for ((method, route, status), n) in self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "ferry_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP ferry_http_request_duration_seconds HTTP request latency.\n# TYPE ferry_http_request_duration_seconds histogram\n");
        for ((method, route), h) in self
            .latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            histogram(
                &mut out,
                "ferry_http_request_duration_seconds",
                &labels,
                (&BUCKETS, &h.counts),
                h.count,
                h.sum,
            );
        }
        self.render_outside_work(&mut out);
        out
    }

    /// Forge calls, commit statuses and git commands (process-wide).
    fn render_outside_work(&self, out: &mut String) {
        let forge = ferry_forge::stats::stats();
        out.push_str("# HELP ferry_forge_requests_total Forge API calls (retries included) by forge, method and answer status (`error`: no answer).\n# TYPE ferry_forge_requests_total counter\n");
        for ((kind, method, status), c) in &forge {
            let _ = writeln!(
                out,
                "ferry_forge_requests_total{{forge=\"{kind}\",method=\"{method}\",status=\"{status}\"}} {}",
                c.calls
            );
        }
        let mut by_forge: BTreeMap<&str, (u64, f64)> = BTreeMap::new();
        for ((kind, _, _), c) in &forge {
            let e = by_forge.entry(kind).or_default();
            e.0 += c.calls;
            e.1 += c.seconds;
        }
        out.push_str("# HELP ferry_forge_request_duration_seconds Time spent in forge API calls.\n# TYPE ferry_forge_request_duration_seconds summary\n");
        for (kind, (calls, seconds)) in by_forge {
            let _ = writeln!(
                out,
                "ferry_forge_request_duration_seconds_sum{{forge=\"{kind}\"}} {seconds}"
            );
            let _ = writeln!(
                out,
                "ferry_forge_request_duration_seconds_count{{forge=\"{kind}\"}} {calls}"
            );
        }
        if let Some(p) = &self.statuses {
            let st = p.stats();
            out.push_str("# HELP ferry_commit_statuses_total Commit statuses by outcome: delivered; refused (a transition the forge's state machine does not take, GitLab); abandoned (an error retrying cannot fix).\n# TYPE ferry_commit_statuses_total counter\n");
            let _ = writeln!(
                out,
                "ferry_commit_statuses_total{{outcome=\"delivered\"}} {}",
                st.delivered
            );
            let _ = writeln!(
                out,
                "ferry_commit_statuses_total{{outcome=\"refused\"}} {}",
                st.refused
            );
            let _ = writeln!(
                out,
                "ferry_commit_statuses_total{{outcome=\"abandoned\"}} {}",
                st.abandoned
            );
        }
        out.push_str("# HELP ferry_forge_status_refused_total Commit statuses not delivered because the forge's state machine does not take the transition (GitLab), by forge.\n# TYPE ferry_forge_status_refused_total counter\n");
        for forge in ferry_forge::ForgeKind::ALL {
            let n = ferry_forge::stats::refused()
                .get(forge.as_str())
                .copied()
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "ferry_forge_status_refused_total{{forge=\"{}\"}} {n}",
                forge.as_str()
            );
        }
        let steps = ferry_engine::step_stats();
        out.push_str("# HELP ferry_step_duration_seconds Steps this replica finished (workflows, commits, sync waits), by phase and final status.\n# TYPE ferry_step_duration_seconds histogram\n");
        for ((phase, status), d) in &steps {
            let labels = format!("phase=\"{phase}\",status=\"{status}\"");
            histogram(
                out,
                "ferry_step_duration_seconds",
                &labels,
                (&ferry_engine::STEP_BUCKETS, &d.buckets),
                d.count,
                d.sum_seconds,
            );
        }
        let git = ferry_git::stats();
        out.push_str("# HELP ferry_git_commands_total git commands run (clone, fetch, push, ...).\n# TYPE ferry_git_commands_total counter\n");
        let _ = writeln!(out, "ferry_git_commands_total {}", git.commands);
        out.push_str("# HELP ferry_git_command_seconds_total Wall time of git commands, summed.\n# TYPE ferry_git_command_seconds_total counter\n");
        let _ = writeln!(
            out,
            "ferry_git_command_seconds_total {}",
            git.busy.as_secs_f64()
        );
    }
}

/// Gauges of the four DORA measures per product over the report's period
/// (the last 30 days at scrape time). A product without a production
/// environment, or a measure without data in the period, has no sample.
pub fn render_insights(out: &mut String, report: &ferry_insights::Report) {
    let families: [(&str, &str); 6] = [
        (
            "ferry_insights_deployments_per_day",
            "Successful production deployments (releases) per day, last 30 days.",
        ),
        (
            "ferry_insights_lead_time_seconds",
            "Lead time for changes into production (commit to running), last 30 days.",
        ),
        (
            "ferry_insights_change_failure_rate",
            "Failed production deployments / production deployments (0-1), last 30 days.",
        ),
        (
            "ferry_insights_recovery_time_seconds",
            "Failed deployment recovery time in production, last 30 days.",
        ),
        (
            "ferry_insights_deployments",
            "Production deployments (releases) counted for the change failure rate, last 30 days.",
        ),
        (
            "ferry_insights_failed_deployments",
            "Failed production deployments (releases), last 30 days.",
        ),
    ];
    for (i, (name, help)) in families.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for p in &report.products {
            let Some(m) = &p.measures else { continue };
            let product = label_value(&p.product);
            let mut sample = |labels: String, value: Option<f64>| {
                if let Some(v) = value {
                    let _ = writeln!(out, "{name}{{product=\"{product}\"{labels}}} {v}");
                }
            };
            match i {
                0 => sample(String::new(), m.deployment_frequency.per_day),
                1 => {
                    sample(",quantile=\"0.5\"".into(), m.lead_time.median_seconds);
                    sample(",quantile=\"0.9\"".into(), m.lead_time.p90_seconds);
                }
                2 => sample(String::new(), m.change_failure_rate.rate),
                3 => {
                    sample(",quantile=\"0.5\"".into(), m.recovery_time.median_seconds);
                    sample(",quantile=\"0.9\"".into(), m.recovery_time.p90_seconds);
                }
                4 => sample(
                    String::new(),
                    Some(m.change_failure_rate.deployments as f64),
                ),
                _ => sample(String::new(), Some(m.change_failure_rate.failed as f64)),
            }
        }
    }
}

/// A label value escaped as the exposition format wants it.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// One histogram series: cumulative buckets, `+Inf`, sum and count.
fn histogram(
    out: &mut String,
    name: &str,
    labels: &str,
    (bounds, counts): (&[f64], &[u64]),
    count: u64,
    sum: f64,
) {
    for (bound, n) in bounds.iter().zip(counts) {
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_millis(3));
        m.observe("GET", "/healthz", 200, Duration::from_millis(300));
        let text = m.render(&[("RUNNING".into(), 2)], 0, true);
        assert!(
            text.contains("ferry_releases{status=\"RUNNING\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "ferry_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("route=\"/healthz\",le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(text.contains("route=\"/healthz\",le=\"1\"} 2"), "{text}");
        assert!(
            text.contains(
                "ferry_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"
            ),
            "{text}"
        );
        for family in [
            "# TYPE ferry_forge_requests_total counter",
            "# TYPE ferry_forge_request_duration_seconds summary",
            "# TYPE ferry_forge_status_refused_total counter",
            "# TYPE ferry_git_commands_total counter",
            "# TYPE ferry_step_duration_seconds histogram",
            "# TYPE ferry_git_command_seconds_total counter",
        ] {
            assert!(text.contains(family), "{family} in {text}");
        }
        assert!(
            !text.contains("ferry_commit_statuses_total"),
            "no publisher, no status counters"
        );
    }
}
