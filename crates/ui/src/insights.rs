//! The Insights pages (issue 21): the four DORA measures with their
//! exact definitions and dora.dev bands, their trend per week, the lead
//! time distribution and where promotion time goes per environment and
//! phase — for one product (`/products/{p}/insights`) and across products
//! (`/insights`), over a chosen period.
//!
//! The figures are the API's own report (`ferry_api::insights::report`,
//! what `GET /api/v1/insights` answers for the same `from`/`to`), so the
//! page and the JSON never disagree; the page only formats them. Charts
//! are server-rendered SVG ([`crate::charts`]), so nothing needs script.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use ferry_insights::band::{PUBLISHED, SOURCE};
use ferry_insights::definitions::{MEASURES, PERCENTILES, PHASES, PRODUCTION};
use ferry_insights::period::format_seconds;
use ferry_insights::report::{Measures, ProductReport};
use ferry_insights::{Band, Cause, Phase, Report};
use serde::Deserialize;

use crate::charts::{self, Bar, Segment, Stack};
use crate::layout::{Layout, UiError, Viewer, page, query_value, seg};
use crate::svg::esc;
use ferry_api::Shared;

/// The API's parameters (`from`, `to`), with the API's meaning.
#[derive(Debug, Default, Deserialize)]
pub struct PeriodQuery {
    from: Option<String>,
    to: Option<String>,
}

impl PeriodQuery {
    fn from(&self) -> Option<&str> {
        self.from.as_deref().filter(|s| !s.is_empty())
    }

    fn to(&self) -> Option<&str> {
        self.to.as_deref().filter(|s| !s.is_empty())
    }
}

/// The spans offered as one click, relative to now.
const PRESETS: [(&str, &str); 4] = [
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("90d", "90 days"),
    ("365d", "365 days"),
];

pub struct Preset {
    pub href: String,
    pub text: &'static str,
    pub current: bool,
}

/// The period chooser: presets, and dates for the form.
pub struct Chooser {
    pub action: String,
    pub presets: Vec<Preset>,
    /// The period shown, as the API answered it (RFC 3339), and as
    /// people read it (UTC).
    pub from: String,
    pub to: String,
    pub from_text: String,
    pub to_text: String,
    pub from_date: String,
    pub to_date: String,
    pub days: String,
}

fn chooser(action: String, q: &PeriodQuery, report: &Report) -> Chooser {
    let preset_current = |span: &str| {
        q.to().is_none() && (q.from() == Some(span) || (q.from().is_none() && span == "30d"))
    };
    Chooser {
        presets: PRESETS
            .iter()
            .map(|(span, text)| Preset {
                href: format!("{action}?from={span}"),
                text,
                current: preset_current(span),
            })
            .collect(),
        action,
        from_date: report.from.get(..10).unwrap_or_default().to_owned(),
        to_date: report.to.get(..10).unwrap_or_default().to_owned(),
        from_text: utc_text(&report.from),
        to_text: utc_text(&report.to),
        from: report.from.clone(),
        to: report.to.clone(),
        days: number(report.days, 1),
    }
}

/// `2026-11-02T00:00:00Z` → `2026-11-02 00:00 UTC`.
fn utc_text(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(d), Some(t)) => format!("{d} {t} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// `12.5` → `"12.5"`, `30.0` → `"30"`.
fn number(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

fn percent(rate: f64) -> String {
    format!("{} %", number(rate * 100.0, 1))
}

/// A measure as a card shows it.
pub struct Card {
    pub key: &'static str,
    pub title: &'static str,
    /// The headline figure, and the API's number it comes from (for
    /// `data-value`; empty when there is none).
    pub value: String,
    pub raw: String,
    pub detail: String,
    pub band: Option<BandShown>,
}

pub struct BandShown {
    pub name: &'static str,
    /// The published value of that band for this measure.
    pub published: &'static str,
}

type PublishedRow = (Band, &'static str, &'static str, &'static str, &'static str);

/// A band's published value for the `measure`-th measure (in
/// [`MEASURES`] order).
fn published(row: &PublishedRow, measure: usize) -> &'static str {
    match measure {
        0 => row.1,
        1 => row.2,
        2 => row.3,
        _ => row.4,
    }
}

fn band_shown(band: Option<Band>, measure: usize) -> Option<BandShown> {
    let b = band?;
    let row = PUBLISHED.iter().find(|r| r.0 == b)?;
    Some(BandShown {
        name: b.as_str(),
        published: published(row, measure),
    })
}

fn raw(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn duration_or(v: Option<f64>, none: &str) -> String {
    v.map(format_seconds).unwrap_or_else(|| none.to_owned())
}

/// The four cards of a set of measures, in [`MEASURES`] order.
pub fn cards(m: &Measures) -> Vec<Card> {
    let f = &m.deployment_frequency;
    let l = &m.lead_time;
    let c = &m.change_failure_rate;
    let r = &m.recovery_time;
    let causes: Vec<String> = c
        .causes
        .iter()
        .map(|cc| format!("{} {}", cc.count, cc.cause.label()))
        .collect();
    vec![
        Card {
            key: MEASURES[0].0,
            title: MEASURES[0].1,
            value: f
                .per_day
                .map_or("–".into(), |d| format!("{} per day", number(d, 2))),
            raw: raw(f.per_day),
            detail: match f.per_week {
                Some(w) => format!(
                    "{} per week · {} successful over {} days",
                    number(w, 1),
                    f.deployments,
                    number(f.days, 1)
                ),
                None => "no production run yet in the period".into(),
            },
            band: band_shown(f.band, 0),
        },
        Card {
            key: MEASURES[1].0,
            title: MEASURES[1].1,
            value: duration_or(l.median_seconds, "–"),
            raw: raw(l.median_seconds),
            detail: match l.p90_seconds {
                Some(p) => format!("median · p90 {} · {} changes", format_seconds(p), l.changes),
                None => "no change arrived in the period".into(),
            },
            band: band_shown(l.band, 1),
        },
        Card {
            key: MEASURES[2].0,
            title: MEASURES[2].1,
            value: c.rate.map_or("–".into(), percent),
            raw: raw(c.rate),
            detail: if c.deployments == 0 {
                "no deployment in the period".into()
            } else if c.causes.iter().all(|cc| cc.cause == Cause::Failed) {
                format!("{} of {} deployments failed", c.failed, c.deployments)
            } else {
                format!(
                    "{} of {} deployments failed: {}",
                    c.failed,
                    c.deployments,
                    causes.join(", ")
                )
            },
            band: band_shown(c.band, 2),
        },
        Card {
            key: MEASURES[3].0,
            title: MEASURES[3].1,
            value: duration_or(r.median_seconds, "–"),
            raw: raw(r.median_seconds),
            detail: if r.failures == 0 {
                "no failed deployment in the period".into()
            } else {
                format!(
                    "median · p90 {} · {} failed, {} not recovered",
                    duration_or(r.p90_seconds, "–"),
                    r.failures,
                    r.unrecovered
                )
            },
            band: band_shown(r.band, 3),
        },
    ]
}

/// A phase's row in an environment's table.
pub struct PhaseRow {
    pub phase: &'static str,
    pub label: &'static str,
    pub runs: u64,
    pub median: String,
    pub median_raw: String,
    pub p90: String,
    pub p90_raw: String,
}

/// An environment's section.
pub struct EnvView {
    pub name: String,
    pub production: bool,
    pub since: Option<String>,
    pub cards: Vec<Card>,
    pub phases: Vec<PhaseRow>,
}

/// A product's whole report as its page shows it.
pub struct ProductView {
    pub name: String,
    pub href: String,
    pub production: String,
    pub note: Option<&'static str>,
    pub cards: Vec<Card>,
    pub trend: Vec<Chart>,
    pub distribution: Option<String>,
    pub time_chart: String,
    pub queue: String,
    pub environments: Vec<EnvView>,
}

/// A chart and its heading.
pub struct Chart {
    pub title: &'static str,
    pub svg: String,
}

fn trend(p: &ProductReport) -> Vec<Chart> {
    let label = |start: &str| start.get(5..).unwrap_or(start).to_owned();
    let weekly =
        |title: &'static str,
         class: &str,
         f: &dyn Fn(&ferry_insights::report::Week) -> (Option<f64>, String)| Chart {
            title,
            svg: charts::bars(
                title,
                class,
                &p.weeks
                    .iter()
                    .map(|w| {
                        let (value, text) = f(w);
                        Bar {
                            label: label(&w.start),
                            value,
                            text,
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
        };
    vec![
        weekly("Deployments per week", "b-ok", &|w| {
            (Some(w.deployments as f64), w.deployments.to_string())
        }),
        weekly("Lead time per week (median)", "b-run", &|w| {
            (
                w.lead_time_median_seconds,
                duration_or(w.lead_time_median_seconds, "–"),
            )
        }),
        weekly("Change failure rate per week", "b-fail", &|w| {
            (
                w.change_failure_rate,
                w.change_failure_rate.map_or("–".into(), percent),
            )
        }),
        weekly("Recovery time per week (median)", "b-wait", &|w| {
            (
                w.recovery_median_seconds,
                duration_or(w.recovery_median_seconds, "–"),
            )
        }),
    ]
}

fn phase_rows(env: &ferry_insights::EnvironmentReport) -> Vec<PhaseRow> {
    env.phases
        .iter()
        .map(|ph| PhaseRow {
            phase: ph.phase.as_str(),
            label: ph.label,
            runs: ph.runs,
            median: duration_or(ph.median_seconds, "–"),
            median_raw: raw(ph.median_seconds),
            p90: duration_or(ph.p90_seconds, "–"),
            p90_raw: raw(ph.p90_seconds),
        })
        .collect()
}

fn time_chart(p: &ProductReport) -> String {
    let rows: Vec<Stack> = p
        .environments
        .iter()
        .filter(|e| !e.phases.is_empty())
        .map(|e| {
            let total: f64 = e.phases.iter().filter_map(|ph| ph.median_seconds).sum();
            Stack {
                name: e.name.clone(),
                total_text: format!("{} (sum of medians)", format_seconds(total)),
                segments: e
                    .phases
                    .iter()
                    .map(|ph| Segment {
                        class: format!("ph-{}", ph.phase.as_str()),
                        label: ph.label.to_owned(),
                        seconds: ph.median_seconds.unwrap_or(0.0),
                        text: format!(
                            "median {}, p90 {}",
                            duration_or(ph.median_seconds, "–"),
                            duration_or(ph.p90_seconds, "–")
                        ),
                    })
                    .collect(),
            }
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    charts::stacked(
        &format!("Median time per phase and environment of {}", p.product),
        &rows,
    )
}

fn product_view(p: &ProductReport, query: &str) -> ProductView {
    let distribution =
        (p.measures.is_some() && p.lead_time_distribution.iter().any(|b| b.count > 0)).then(|| {
            charts::bars(
                "Lead times into production",
                "b-run",
                &p.lead_time_distribution
                    .iter()
                    .map(|b| Bar {
                        label: b.label.to_owned(),
                        value: Some(b.count as f64),
                        text: b.count.to_string(),
                    })
                    .collect::<Vec<_>>(),
            )
        });
    ProductView {
        href: format!("/products/{}/insights{query}", seg(&p.product)),
        name: p.product.clone(),
        production: p.production_environments.join(", "),
        note: p.note,
        cards: p.measures.as_ref().map(cards).unwrap_or_default(),
        trend: if p.measures.is_some() {
            trend(p)
        } else {
            Vec::new()
        },
        distribution,
        time_chart: time_chart(p),
        queue: match p.queue.median_seconds {
            Some(m) => format!(
                "Releases waited in the product's queue {} (median), {} (p90), over {} releases.",
                format_seconds(m),
                duration_or(p.queue.p90_seconds, "–"),
                p.queue.count
            ),
            None => String::new(),
        },
        environments: p
            .environments
            .iter()
            .map(|e| EnvView {
                name: e.name.clone(),
                production: e.production,
                since: e.since.clone(),
                cards: cards(&e.measures),
                phases: phase_rows(e),
            })
            .collect(),
    }
}

/// Text whose `code spans` (as the definitions write them, Markdown
/// style, for the docs) become `<code>`; everything else escaped.
fn with_code(text: &str) -> String {
    text.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                format!("<code>{}</code>", esc(part))
            } else {
                esc(part)
            }
        })
        .collect()
}

/// The definitions and bands, shown on every Insights page.
pub struct Definition {
    pub key: &'static str,
    pub title: &'static str,
    /// The definition as HTML (escaped, code spans marked).
    pub html: String,
    /// The published value per band: (band, value).
    pub bands: Vec<(&'static str, &'static str)>,
}

fn definitions() -> Vec<Definition> {
    MEASURES
        .iter()
        .enumerate()
        .map(|(i, (key, title, text))| Definition {
            key,
            title,
            html: with_code(text),
            bands: PUBLISHED
                .iter()
                .map(|row| (row.0.as_str(), published(row, i)))
                .collect(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ui/insights.html")]
struct InsightsPage {
    layout: Layout,
    /// `None` across products.
    product: Option<ProductView>,
    products: Vec<ProductView>,
    chooser: Chooser,
    definitions: Vec<Definition>,
    production: String,
    phases: String,
    percentiles: String,
    source: &'static str,
    /// The phases drawn in the stacked bars: (class suffix, words).
    legend: Vec<(&'static str, &'static str)>,
}

/// `?from=…&to=…` as given, for links between the pages.
fn query_of(q: &PeriodQuery) -> String {
    let mut parts = Vec::new();
    if let Some(f) = q.from() {
        parts.push(format!("from={}", query_value(f)));
    }
    if let Some(t) = q.to() {
        parts.push(format!("to={}", query_value(t)));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn render(
    viewer: &Viewer,
    title: String,
    action: String,
    q: &PeriodQuery,
    report: &Report,
    product: Option<&str>,
) -> Response {
    page(&template(
        Layout::new(title, viewer, "insights"),
        action,
        q,
        report,
        product,
    ))
}

/// The page of `report` (one product's when `product` names one), as a
/// signed-in person sees it over the default period (the benchmark
/// measures this).
pub fn render_page(report: &Report, product: Option<&str>) -> Result<String, askama::Error> {
    let layout = Layout {
        title: "Insights".into(),
        viewer: Some("admin".into()),
        csrf: String::new(),
        nav: "insights",
        storage_down: None,
        admin: false,
        frozen: None,
    };
    let action = match product {
        Some(p) => format!("/products/{}/insights", seg(p)),
        None => "/insights".into(),
    };
    template(layout, action, &PeriodQuery::default(), report, product).render()
}

fn template(
    layout: Layout,
    action: String,
    q: &PeriodQuery,
    report: &Report,
    product: Option<&str>,
) -> InsightsPage {
    let query = query_of(q);
    let mut views: Vec<ProductView> = report
        .products
        .iter()
        .map(|p| product_view(p, &query))
        .collect();
    let product = product.and_then(|name| {
        let i = views.iter().position(|v| v.name == name)?;
        Some(views.remove(i))
    });
    InsightsPage {
        layout,
        chooser: chooser(action, q, report),
        product,
        products: views,
        definitions: definitions(),
        production: with_code(PRODUCTION),
        phases: with_code(PHASES),
        percentiles: with_code(PERCENTILES),
        source: SOURCE,
        legend: Phase::ALL
            .into_iter()
            .filter(|p| *p != Phase::Queue)
            .map(|p| (p.as_str(), p.label()))
            .collect(),
    }
}

/// `/insights`: every product's four measures side by side.
pub async fn all(
    viewer: Viewer,
    State(st): State<Shared>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, UiError> {
    let report = ferry_api::insights::report(&st, None, q.from(), q.to()).await?;
    Ok(render(
        &viewer,
        "Insights".into(),
        "/insights".into(),
        &q,
        &report,
        None,
    ))
}

/// `/products/{product}/insights`: one product in full.
pub async fn of_product(
    viewer: Viewer,
    State(st): State<Shared>,
    Path(product): Path<String>,
    Query(q): Query<PeriodQuery>,
) -> Result<Response, UiError> {
    let report = ferry_api::insights::report(&st, Some(&product), q.from(), q.to()).await?;
    Ok(render(
        &viewer,
        format!("Insights · {product}"),
        format!("/products/{}/insights", seg(&product)),
        &q,
        &report,
        Some(&product),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_percentages_read_naturally() {
        assert_eq!(number(30.0, 1), "30");
        assert_eq!(number(2.3333, 2), "2.33");
        assert_eq!(number(0.5, 2), "0.5");
        assert_eq!(percent(0.125), "12.5 %");
        assert_eq!(percent(0.0), "0 %");
    }

    #[test]
    fn code_spans_and_escaping() {
        assert_eq!(
            with_code("a `none` <b> `ferry.io/hotfix: \"true\"`"),
            "a <code>none</code> &lt;b&gt; <code>ferry.io/hotfix: &quot;true&quot;</code>"
        );
        assert_eq!(utc_text("2026-11-02T00:00:00Z"), "2026-11-02 00:00 UTC");
    }

    #[test]
    fn every_band_of_every_measure_has_its_published_value() {
        for (i, _) in MEASURES.iter().enumerate() {
            for b in Band::ALL {
                let shown = band_shown(Some(b), i).expect("published");
                assert_eq!(shown.name, b.as_str());
                assert!(!shown.published.is_empty());
            }
        }
        assert!(band_shown(None, 0).is_none());
    }
}
