//! Prometheus metrics (`/metrics`) through the `prometheus` crate: HTTP
//! requests by route and status with a latency histogram (instrumented
//! per server), releases by status and the configuration's state
//! (computed at scrape time from the store), and the outside work
//! promotions wait on — forge API calls, commit statuses, steps and git
//! commands — read at scrape time from the process-wide counters of the
//! crates that do that work ([`OutsideWork`], a custom collector).
//!
//! Why `prometheus` and not `prometheus-client` or `metrics`: the series
//! users already scrape include a summary without quantiles
//! (`ferry_forge_request_duration_seconds`) and a counter of seconds
//! (`ferry_git_command_seconds_total`), which neither of the others can
//! expose, and `prometheus-client` writes bucket bounds as `le="1.0"`
//! where ferry always wrote `le="1"` (a different series for Prometheus
//! 2). The `prometheus` crate's collectors hand over metric families
//! as they are and its text encoder writes them as ferry did.

use std::time::Duration;

use prometheus::core::{Collector, Desc};
use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram, LabelPair, Metric, MetricFamily, MetricType, Summary,
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// Upper bounds of the HTTP latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

pub struct Metrics {
    registry: Registry,
    /// (method, route, status) → count.
    requests: IntCounterVec,
    /// (method, route) → latency.
    latency: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new(None)
    }
}

impl Metrics {
    /// The server's metrics; `statuses` is the commit-status publisher,
    /// when forges are configured.
    pub fn new(statuses: Option<ferry_forge::StatusPublisher>) -> Metrics {
        // The names, labels and buckets below are constants: the crate
        // refuses them only for a programming error (an invalid name, a
        // family registered twice), which every test would show.
        let requests = IntCounterVec::new(
            Opts::new(
                "ferry_http_requests_total",
                "HTTP requests by route and status.",
            ),
            &["method", "route", "status"],
        )
        .expect("a valid counter definition");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "ferry_http_request_duration_seconds",
                "HTTP request latency.",
            )
            .buckets(BUCKETS.to_vec()),
            &["method", "route"],
        )
        .expect("a valid histogram definition");
        let registry = Registry::new();
        for collector in [
            Box::new(requests.clone()) as Box<dyn Collector>,
            Box::new(latency.clone()),
            Box::new(OutsideWork::new(statuses)),
        ] {
            registry
                .register(collector)
                .expect("each family registered once");
        }
        Metrics {
            registry,
            requests,
            latency,
        }
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// The exposition text; `releases` are (status, count) from the store,
    /// `insights` the DORA report of the last 30 days.
    pub fn render(
        &self,
        releases: &[(String, u64)],
        config_errors: usize,
        ready: bool,
        insights: &ferry_insights::Report,
    ) -> String {
        let mut families = vec![
            family(
                "ferry_releases",
                "Releases stored, by status.",
                MetricType::GAUGE,
                releases
                    .iter()
                    .map(|(status, n)| gauge(&[("status", status)], *n as f64))
                    .collect(),
            ),
            family(
                "ferry_config_errors",
                "Errors of the newest configuration seen (0 when it is active).",
                MetricType::GAUGE,
                vec![gauge(&[], config_errors as f64)],
            ),
            family(
                "ferry_ready",
                "Whether the engine has started.",
                MetricType::GAUGE,
                vec![gauge(&[], f64::from(u8::from(ready)))],
            ),
        ];
        families.extend(self.registry.gather());
        families.extend(insight_families(insights));
        // A family without samples is left out (the encoder refuses it).
        families.retain(|f| !f.get_metric().is_empty());
        let mut out = String::new();
        // The encoder fails only on a family without samples or name,
        // both excluded above.
        if let Err(e) = TextEncoder::new().encode_utf8(&families, &mut out) {
            tracing::error!(error = %e, "metrics exposition");
        }
        out
    }
}

/// The process-wide counters of forge calls, commit statuses, steps and
/// git commands, read at each scrape. They stay plain counters in the
/// crates that count (no exporter dependency there); this collector is
/// where they become metric families.
struct OutsideWork {
    statuses: Option<ferry_forge::StatusPublisher>,
    descs: Vec<Desc>,
}

/// The families [`OutsideWork`] exposes: name, help, variable labels.
const OUTSIDE_WORK: [(&str, &str, &[&str]); 7] = [
    (
        "ferry_forge_requests_total",
        "Forge API calls (retries included) by forge, method and answer status (`error`: no answer).",
        &["forge", "method", "status"],
    ),
    (
        "ferry_forge_request_duration_seconds",
        "Time spent in forge API calls.",
        &["forge"],
    ),
    (
        "ferry_commit_statuses_total",
        "Commit statuses by outcome: delivered; refused (a transition the forge's state machine does not take, GitLab); abandoned (an error retrying cannot fix).",
        &["outcome"],
    ),
    (
        "ferry_forge_status_refused_total",
        "Commit statuses not delivered because the forge's state machine does not take the transition (GitLab), by forge.",
        &["forge"],
    ),
    (
        "ferry_step_duration_seconds",
        "Steps this replica finished (workflows, commits, sync waits), by phase and final status.",
        &["phase", "status"],
    ),
    (
        "ferry_git_commands_total",
        "git commands run (clone, fetch, push, ...).",
        &[],
    ),
    (
        "ferry_git_command_seconds_total",
        "Wall time of git commands, summed.",
        &[],
    ),
];

impl OutsideWork {
    fn new(statuses: Option<ferry_forge::StatusPublisher>) -> OutsideWork {
        let descs = OUTSIDE_WORK
            .iter()
            .map(|(name, help, labels)| {
                Desc::new(
                    (*name).to_owned(),
                    (*help).to_owned(),
                    labels.iter().map(|l| (*l).to_owned()).collect(),
                    Default::default(),
                )
                .expect("a valid family description")
            })
            .collect();
        OutsideWork { statuses, descs }
    }
}

impl Collector for OutsideWork {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let forge = ferry_forge::stats::stats();
        let requests = forge
            .iter()
            .map(|((kind, method, status), c)| {
                counter(
                    &[("forge", kind), ("method", method), ("status", status)],
                    c.calls as f64,
                )
            })
            .collect();
        // Per forge, without quantiles: what the counters can say exactly.
        let mut by_forge = std::collections::BTreeMap::<&str, (u64, f64)>::new();
        for ((kind, _, _), c) in &forge {
            let e = by_forge.entry(kind).or_default();
            e.0 += c.calls;
            e.1 += c.seconds;
        }
        let durations = by_forge
            .into_iter()
            .map(|(kind, (calls, seconds))| {
                let mut s = Summary::default();
                s.set_sample_count(calls);
                s.set_sample_sum(seconds);
                let mut m = Metric::from_label(labels(&[("forge", kind)]));
                m.set_summary(s);
                m
            })
            .collect();
        let statuses = self.statuses.as_ref().map_or_else(Vec::new, |p| {
            let st = p.stats();
            [
                ("delivered", st.delivered),
                ("refused", st.refused),
                ("abandoned", st.abandoned),
            ]
            .into_iter()
            .map(|(outcome, n)| counter(&[("outcome", outcome)], n as f64))
            .collect()
        });
        let refused = ferry_forge::stats::refused();
        let refused = ferry_forge::ForgeKind::ALL
            .iter()
            .map(|forge| {
                let n = refused.get(forge.as_str()).copied().unwrap_or(0);
                counter(&[("forge", forge.as_str())], n as f64)
            })
            .collect();
        let steps = ferry_engine::step_stats()
            .iter()
            .map(|((phase, status), d)| {
                histogram(
                    &[("phase", phase), ("status", status)],
                    &ferry_engine::STEP_BUCKETS,
                    &d.buckets,
                    d.count,
                    d.sum_seconds,
                )
            })
            .collect();
        let git = ferry_git::stats();
        let samples: [(MetricType, Vec<Metric>); 7] = [
            (MetricType::COUNTER, requests),
            (MetricType::SUMMARY, durations),
            (MetricType::COUNTER, statuses),
            (MetricType::COUNTER, refused),
            (MetricType::HISTOGRAM, steps),
            (MetricType::COUNTER, vec![counter(&[], git.commands as f64)]),
            (
                MetricType::COUNTER,
                vec![counter(&[], git.busy.as_secs_f64())],
            ),
        ];
        OUTSIDE_WORK
            .iter()
            .zip(samples)
            .map(|((name, help, _), (kind, metrics))| family(name, help, kind, metrics))
            .collect()
    }
}

/// Gauges of the four DORA measures per product over the report's period
/// (the last 30 days at scrape time). A product without a production
/// environment, or a measure without data in the period, has no sample.
fn insight_families(report: &ferry_insights::Report) -> Vec<MetricFamily> {
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
    families
        .iter()
        .enumerate()
        .map(|(i, (name, help))| {
            let mut metrics = Vec::new();
            for p in &report.products {
                let Some(m) = &p.measures else { continue };
                let product = p.product.as_str();
                let mut sample = |quantile: Option<&str>, value: Option<f64>| {
                    if let Some(v) = value {
                        let mut l = vec![("product", product)];
                        l.extend(quantile.map(|q| ("quantile", q)));
                        metrics.push(gauge(&l, v));
                    }
                };
                match i {
                    0 => sample(None, m.deployment_frequency.per_day),
                    1 => {
                        sample(Some("0.5"), m.lead_time.median_seconds);
                        sample(Some("0.9"), m.lead_time.p90_seconds);
                    }
                    2 => sample(None, m.change_failure_rate.rate),
                    3 => {
                        sample(Some("0.5"), m.recovery_time.median_seconds);
                        sample(Some("0.9"), m.recovery_time.p90_seconds);
                    }
                    4 => sample(None, Some(m.change_failure_rate.deployments as f64)),
                    _ => sample(None, Some(m.change_failure_rate.failed as f64)),
                }
            }
            family(name, help, MetricType::GAUGE, metrics)
        })
        .collect()
}

fn family(name: &str, help: &str, kind: MetricType, metrics: Vec<Metric>) -> MetricFamily {
    let mut f = MetricFamily::default();
    f.set_name(name.to_owned());
    f.set_help(help.to_owned());
    f.set_field_type(kind);
    f.set_metric(metrics);
    f
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(name, value)| {
            let mut l = LabelPair::default();
            l.set_name((*name).to_owned());
            l.set_value((*value).to_owned());
            l
        })
        .collect()
}

fn gauge(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut g = Gauge::default();
    g.set_value(value);
    let mut m = Metric::from_label(labels(pairs));
    m.set_gauge(g);
    m
}

fn counter(pairs: &[(&str, &str)], value: f64) -> Metric {
    let mut c = Counter::default();
    c.set_value(value);
    let mut m = Metric::from_label(labels(pairs));
    m.set_counter(c);
    m
}

/// A histogram from counts kept elsewhere; `cumulative[i]` counts the
/// observations at most `bounds[i]`.
fn histogram(
    pairs: &[(&str, &str)],
    bounds: &[f64],
    cumulative: &[u64],
    count: u64,
    sum: f64,
) -> Metric {
    let mut h = Histogram::default();
    h.set_sample_count(count);
    h.set_sample_sum(sum);
    h.set_bucket(
        bounds
            .iter()
            .zip(cumulative)
            .map(|(bound, n)| {
                let mut b = Bucket::default();
                b.set_upper_bound(*bound);
                b.set_cumulative_count(*n);
                b
            })
            .collect(),
    );
    let mut m = Metric::from_label(labels(pairs));
    m.set_histogram(h);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.observe("GET", "/healthz", 200, Duration::from_millis(3));
        m.observe("GET", "/healthz", 200, Duration::from_millis(300));
        let text = m.render(
            &[("RUNNING".into(), 2)],
            0,
            true,
            &ferry_insights::Report {
                from: String::new(),
                to: String::new(),
                days: 30.0,
                bands_source: "",
                products: Vec::new(),
            },
        );
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
        assert!(text.contains("route=\"/healthz\",le=\"+Inf\"} 2"), "{text}");
        assert!(
            text.contains(
                "ferry_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 2"
            ),
            "{text}"
        );
        assert!(text.contains("# TYPE ferry_git_command_seconds_total counter"));
        assert!(
            text.contains("ferry_forge_status_refused_total{forge=\"gitlab\"} 0"),
            "{text}"
        );
        assert!(
            !text.contains("ferry_commit_statuses_total"),
            "no publisher, no status counters"
        );
    }

    #[test]
    fn kept_counts_keep_their_types_and_bounds() {
        let f = family(
            "ferry_step_duration_seconds",
            "Steps.",
            MetricType::HISTOGRAM,
            vec![histogram(
                &[("phase", "sync"), ("status", "SUCCESS")],
                &[0.1, 1.0, 5.0],
                &[1, 2, 2],
                3,
                7.25,
            )],
        );
        let mut s = Summary::default();
        s.set_sample_count(4);
        s.set_sample_sum(0.5);
        let mut sm = Metric::from_label(labels(&[("forge", "github")]));
        sm.set_summary(s);
        let g = family("ferry_forge_x_seconds", "F.", MetricType::SUMMARY, vec![sm]);
        let mut out = String::new();
        TextEncoder::new().encode_utf8(&[f, g], &mut out).unwrap();
        assert_eq!(
            out,
            "# HELP ferry_step_duration_seconds Steps.\n\
             # TYPE ferry_step_duration_seconds histogram\n\
             ferry_step_duration_seconds_bucket{phase=\"sync\",status=\"SUCCESS\",le=\"0.1\"} 1\n\
             ferry_step_duration_seconds_bucket{phase=\"sync\",status=\"SUCCESS\",le=\"1\"} 2\n\
             ferry_step_duration_seconds_bucket{phase=\"sync\",status=\"SUCCESS\",le=\"5\"} 2\n\
             ferry_step_duration_seconds_bucket{phase=\"sync\",status=\"SUCCESS\",le=\"+Inf\"} 3\n\
             ferry_step_duration_seconds_sum{phase=\"sync\",status=\"SUCCESS\"} 7.25\n\
             ferry_step_duration_seconds_count{phase=\"sync\",status=\"SUCCESS\"} 3\n\
             # HELP ferry_forge_x_seconds F.\n\
             # TYPE ferry_forge_x_seconds summary\n\
             ferry_forge_x_seconds_sum{forge=\"github\"} 0.5\n\
             ferry_forge_x_seconds_count{forge=\"github\"} 4\n"
        );
    }
}
