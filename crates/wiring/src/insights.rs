//! Delivery insights (issue 21): the keeper that records the facts
//! `ferry-insights` computes from, and the query every surface (API, web
//! UI, CLI through the API, metrics) asks.
//!
//! Facts are recorded incrementally: [`InsightsKeeper::catch_up`] records
//! every finished release the store lists as missing or stale
//! ([`ferry_store::Store::insight_backlog`]) — its environment runs
//! ([`ferry_insights::runs_of`]) and when the commits its deployments
//! brought first ran in each environment (from the release notes). It runs
//! before every query, so figures include every release finished by then,
//! and in the background ([`InsightsKeeper::spawn`]) so queries rarely
//! wait. After a full pass only releases finished since a watermark are
//! looked at (an indexed range), with a margin for replicas' clocks; a
//! full pass is repeated every [`FULL_PASS_EVERY`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferry_insights::aggregate::compute_days;
use ferry_insights::period::{DAY, MINUTE, parse_instant};
use ferry_insights::{
    Arrival, EnvRun, EnvScope, Millis, Period, ProductScope, Query, Report, RunStatus, millis,
    runs_of,
};
use ferry_model::resource::EnvironmentKind;
use ferry_model::{Loaded, membership::Membership};
use ferry_notes::{NotesBuilder, ReleaseNotes};
use ferry_release::Release;
use ferry_store::{ProductFilter, Store};

use crate::cancel::CancelFlag;

/// Environment label overriding `spec.kind` for insights: `"true"` makes a
/// NON_PROD environment count as production, `"false"` a PROD one not.
pub const PRODUCTION_LABEL: &str = "ferry.io/production";

/// Releases recorded per backlog page.
const PAGE: u32 = 200;
/// Release notes kept during a pass (a release's notes serve the
/// deployments of the releases after it).
const NOTES_CACHE: usize = 1000;
/// How far before the watermark a pass looks (replicas' clocks differ).
const CLOCK_MARGIN: Millis = 10 * MINUTE;
/// Releases between a deployment and the one its environment ran before,
/// whose commits it brought (beyond this, older commits are not credited).
const CHAIN_LIMIT: u32 = 50;
/// How often the whole releases table is checked again.
pub const FULL_PASS_EVERY: Duration = Duration::from_secs(3600);
/// How often the background task catches up.
pub const BACKGROUND_EVERY: Duration = Duration::from_secs(20);
/// How far behind "now" a report of a period ending now may end when it
/// is answered from the cache (the facts unchanged since): `/metrics`
/// scrapes and page views within a minute share one computation.
pub const ROLLING_REUSE: Millis = MINUTE;
/// The background task computes the default report ahead only while
/// someone asked for a report (a page, the API, a `/metrics` scrape)
/// this recently: an installation nobody looks at pays nothing for it.
pub const ASKED_WITHIN: Duration = Duration::from_secs(600);
/// The period a query without `from` covers, ending at `to` (or now).
pub const DEFAULT_SPAN: Millis = 30 * DAY;
/// Reports kept (the least recently computed goes first).
const CACHED_REPORTS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    #[error("store: {0}")]
    Store(#[from] ferry_store::Error),
    #[error("no product {0}")]
    NoProduct(String),
}

impl InsightsError {
    /// The storage is down for now (the API answers 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, InsightsError::Store(e) if e.is_unavailable())
    }
}

/// Records insight facts and answers queries.
pub struct InsightsKeeper {
    store: Store,
    notes: Arc<NotesBuilder>,
    /// One pass at a time (a query waits for the running pass).
    pass: tokio::sync::Mutex<()>,
    /// Releases finished before this were all recorded, and when the last
    /// full pass ran.
    watermark: Mutex<Option<(Millis, Instant)>>,
    /// Reports computed, each with the facts' generation it was computed
    /// at: true while no replica has recorded anything since.
    cache: Mutex<Vec<Cached>>,
    /// When a report was last asked for from outside the keeper.
    asked: Mutex<Option<Instant>>,
}

/// A report computed from the facts of one generation.
struct Cached {
    generation: i64,
    product: Option<String>,
    products: Vec<ProductScope>,
    period: Period,
    /// The period ended when it was asked for ("the last 30 days").
    rolling: bool,
    report: Report,
}

impl Cached {
    /// Whether this answers a query: the same product, configuration and
    /// facts, and the same period — or, for a period ending now, one that
    /// ended at most `reuse` earlier with the same start or length (the
    /// report names the period it is of).
    fn answers(
        &self,
        generation: i64,
        product: Option<&str>,
        products: &[ProductScope],
        period: Period,
        rolling: bool,
        reuse: Millis,
    ) -> bool {
        let same_period = self.period == period
            || (rolling
                && self.rolling
                && (0..=reuse).contains(&(period.to - self.period.to))
                && (self.period.from == period.from || self.period.millis() == period.millis()));
        self.generation == generation
            && same_period
            && self.product.as_deref() == product
            && self.products == products
    }
}

impl InsightsKeeper {
    pub fn new(store: Store, notes: Arc<NotesBuilder>) -> InsightsKeeper {
        InsightsKeeper {
            store,
            notes,
            pass: tokio::sync::Mutex::new(()),
            watermark: Mutex::new(None),
            cache: Mutex::new(Vec::new()),
            asked: Mutex::new(None),
        }
    }

    /// Records the facts of every finished release not recorded yet (or
    /// recorded from an older state); returns how many were recorded.
    pub async fn catch_up(&self, loaded: &Loaded) -> Result<usize, InsightsError> {
        let _pass = self.pass.lock().await;
        let started = now_millis();
        let since = {
            let w = self.watermark.lock().unwrap_or_else(|p| p.into_inner());
            w.filter(|(_, full)| full.elapsed() < FULL_PASS_EVERY)
                .map(|(at, _)| at - CLOCK_MARGIN)
        };
        let mut recorded = 0;
        let mut notes_cache: HashMap<String, Option<ReleaseNotes>> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let ids = self
                .store
                .insight_backlog(since, after.as_deref(), PAGE)
                .await?;
            let Some(last) = ids.last().cloned() else {
                break;
            };
            for id in ids {
                let Some(release) = self.store.get(&id).await? else {
                    continue;
                };
                // A release whose arrivals could not all be found (notes
                // degraded) stays in the backlog for the next pass.
                self.record(loaded, &release, &mut notes_cache).await?;
                recorded += 1;
            }
            if notes_cache.len() > NOTES_CACHE {
                notes_cache.clear();
            }
            after = Some(last);
        }
        let full = {
            let w = self.watermark.lock().unwrap_or_else(|p| p.into_inner());
            match (*w, since) {
                (Some((_, full)), Some(_)) => full,
                _ => Instant::now(),
            }
        };
        *self.watermark.lock().unwrap_or_else(|p| p.into_inner()) = Some((started, full));
        Ok(recorded)
    }

    /// Records one release; `false` when its arrivals could not all be
    /// found (notes degraded or not computable).
    async fn record(
        &self,
        loaded: &Loaded,
        release: &Release,
        notes_cache: &mut HashMap<String, Option<ReleaseNotes>>,
    ) -> Result<bool, InsightsError> {
        let runs = runs_of(release);
        let finished = release.finished_at.map(millis);
        self.store
            .record_insight_runs(&release.id, &release.product, finished, &runs)
            .await?;
        let mut arrivals = Vec::new();
        let mut complete = true;
        for run in runs.iter().filter(|r| r.status == RunStatus::Successful) {
            let Some(running_at) = run.running_at else {
                continue;
            };
            let (found, ok) = self
                .arrivals_of(loaded, release, run, running_at, notes_cache)
                .await?;
            arrivals.extend(found);
            complete &= ok;
        }
        self.store
            .record_arrivals(&arrivals, complete.then_some(release.id.as_str()))
            .await?;
        Ok(complete)
    }

    /// The commits `run` brought into its environment: those of its
    /// release's notes and of the releases between it and the one the
    /// environment ran before (their commits first ran there now).
    async fn arrivals_of(
        &self,
        loaded: &Loaded,
        release: &Release,
        run: &EnvRun,
        running_at: Millis,
        notes_cache: &mut HashMap<String, Option<ReleaseNotes>>,
    ) -> Result<(Vec<Arrival>, bool), InsightsError> {
        let previous = self
            .store
            .previous_deployment(&release.product, &run.environment, run.finished_at)
            .await?;
        // This release, and those numbered between it and the previous
        // deployment's (their commits first ran here now).
        let floor = previous.map_or(0, |(_, n)| n);
        let mut chain = vec![release.id.clone()];
        if release.number > floor + 1 {
            for earlier in self
                .store
                .releases_before(
                    &release.product,
                    release.number,
                    u32::try_from(release.number - floor - 1)
                        .unwrap_or(CHAIN_LIMIT)
                        .min(CHAIN_LIMIT),
                )
                .await?
            {
                if earlier.number <= floor {
                    break;
                }
                chain.push(earlier.id);
            }
        }
        let mut out = Vec::new();
        let mut complete = true;
        for id in chain {
            if !notes_cache.contains_key(&id) {
                let notes = ferry_notes::notes_for_release(&self.store, &self.notes, &id, |p| {
                    loaded
                        .config
                        .product(p)
                        .and_then(|p| p.spec.release_notes.clone())
                })
                .await;
                let notes = match notes {
                    Ok(n) => Some(n),
                    Err(ferry_notes::Error::Store(e)) => return Err(e.into()),
                    Err(e) => {
                        tracing::warn!(release = %id, error = %e, "insights: release notes unavailable");
                        None
                    }
                };
                notes_cache.insert(id.clone(), notes);
            }
            let Some(notes) = notes_cache.get(&id).and_then(Option::as_ref) else {
                complete = false;
                continue;
            };
            if ferry_notes::is_degraded(notes) {
                complete = false;
            }
            for c in commits(notes) {
                let Ok(committed_at) = parse_instant(&c.date) else {
                    continue;
                };
                out.push(Arrival {
                    product: release.product.clone(),
                    environment: run.environment.clone(),
                    sha: c.sha.clone(),
                    committed_at,
                    arrived_at: running_at,
                    release_id: release.id.clone(),
                });
            }
        }
        Ok((out, complete))
    }

    /// The figures of `period` for one product or all, after catching up.
    /// `rolling`: the period ends now (no end was given); a report of the
    /// same facts ending at most [`ROLLING_REUSE`] earlier may answer.
    /// Reports are kept until any replica records new facts (the store's
    /// generation), so repeated queries and `/metrics` scrapes compute
    /// nothing.
    pub async fn report(
        &self,
        loaded: &Loaded,
        membership: &Membership,
        product: Option<&str>,
        period: Period,
        rolling: bool,
    ) -> Result<Report, InsightsError> {
        *self.asked.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        self.report_within(loaded, membership, product, period, rolling, ROLLING_REUSE)
            .await
    }

    /// Whether a report was asked for within [`ASKED_WITHIN`].
    fn asked_lately(&self) -> bool {
        self.asked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < ASKED_WITHIN)
    }

    async fn report_within(
        &self,
        loaded: &Loaded,
        membership: &Membership,
        product: Option<&str>,
        period: Period,
        rolling: bool,
        reuse: Millis,
    ) -> Result<Report, InsightsError> {
        self.catch_up(loaded).await?;
        // Read before the facts: a report is never tagged newer than them.
        let generation = self.store.insight_generation().await?;
        let products = scopes_of(loaded, membership, product);
        if let Some(hit) = self
            .lock_cache()
            .iter()
            .find(|c| c.answers(generation, product, &products, period, rolling, reuse))
        {
            return Ok(hit.report.clone());
        }
        let report = self
            .compute_recorded(products.clone(), product, period)
            .await?;
        let mut cache = self.lock_cache();
        cache.retain(|c| c.generation == generation);
        if cache.len() >= CACHED_REPORTS {
            cache.remove(0);
        }
        cache.push(Cached {
            generation,
            product: product.map(str::to_owned),
            products,
            period,
            rolling,
            report: report.clone(),
        });
        Ok(report)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, Vec<Cached>> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The figures of `period` from the facts recorded so far (computed
    /// now, not from the cache).
    pub async fn report_recorded(
        &self,
        loaded: &Loaded,
        membership: &Membership,
        product: Option<&str>,
        period: Period,
    ) -> Result<Report, InsightsError> {
        self.compute_recorded(scopes_of(loaded, membership, product), product, period)
            .await
    }

    async fn compute_recorded(
        &self,
        mut products: Vec<ProductScope>,
        product: Option<&str>,
        period: Period,
    ) -> Result<Report, InsightsError> {
        let filter = product.map_or(ProductFilter::All, ProductFilter::One);
        // The period's day aggregates: one row per product, environment
        // and day, the same figures as every raw fact of the period.
        let facts = self.store.insight_days(filter, period).await?;
        if let Some(p) = product
            && products.is_empty()
        {
            // A product no longer configured keeps its history.
            if facts.first_seen.is_empty() {
                return Err(InsightsError::NoProduct(p.to_owned()));
            }
            products.push(ProductScope {
                name: p.to_owned(),
                environments: Vec::new(),
            });
        }
        compute_days(&Query { period, products }, &facts.days, &facts.first_seen).map_err(|e| {
            InsightsError::Store(ferry_store::Error::Corrupt {
                what: "insights day aggregate",
                id: format!("{}/{}/{}", e.product, e.environment, e.day),
                reason: e.reason.to_owned(),
            })
        })
    }

    /// Every [`BACKGROUND_EVERY`] until `stop`: catches up, and — while
    /// reports are asked for ([`ASKED_WITHIN`]) — keeps the report
    /// `/metrics` and the pages ask for by default (every product, the
    /// last [`DEFAULT_SPAN`]) computed ahead, a little before a request
    /// could no longer reuse it, so they rarely compute.
    pub fn spawn(self: Arc<Self>, engine: ferry_engine::Engine, stop: CancelFlag) {
        tokio::spawn(async move {
            loop {
                let (loaded, membership) = engine.membership();
                let ahead = ROLLING_REUSE
                    - Millis::try_from(BACKGROUND_EVERY.as_millis())
                        .unwrap_or(ROLLING_REUSE)
                        .min(ROLLING_REUSE);
                let kept = match Period::ending(now_millis(), DEFAULT_SPAN) {
                    Ok(period) if self.asked_lately() => self
                        .report_within(&loaded, &membership, None, period, true, ahead)
                        .await
                        .map(drop),
                    _ => self.catch_up(&loaded).await.map(drop),
                };
                if let Err(e) = kept {
                    tracing::warn!(error = %e, "insights: recording facts failed; retried");
                }
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(BACKGROUND_EVERY) => {}
                }
            }
        });
    }
}

/// Every configured product with its environments in dashboard order;
/// production: `spec.kind: PROD`, unless labelled [`PRODUCTION_LABEL`].
pub fn scopes(loaded: &Loaded, membership: &Membership) -> Vec<ProductScope> {
    let envs = loaded.config.environments_in_order();
    membership
        .products
        .values()
        .map(|p| ProductScope {
            name: p.name.clone(),
            environments: envs
                .iter()
                .filter(|e| p.in_environment(e.name()).next().is_some())
                .map(|e| EnvScope {
                    name: e.name().to_owned(),
                    production: match e.metadata.labels.get(PRODUCTION_LABEL).map(String::as_str) {
                        Some("true") => true,
                        Some("false") => false,
                        _ => e.spec.kind == EnvironmentKind::Prod,
                    },
                })
                .collect(),
        })
        .collect()
}

/// [`scopes`], of one product when one is asked for.
fn scopes_of(loaded: &Loaded, membership: &Membership, product: Option<&str>) -> Vec<ProductScope> {
    let mut products = scopes(loaded, membership);
    if let Some(p) = product {
        products.retain(|s| s.name == p);
    }
    products
}

/// The code and configuration commits of a release's notes.
fn commits(notes: &ReleaseNotes) -> impl Iterator<Item = &ferry_notes::Commit> {
    notes
        .configuration
        .iter()
        .flat_map(|c| &c.commits)
        .chain(notes.sources.iter().flat_map(|s| {
            let g = &s.groups;
            g.breaking
                .iter()
                .chain(&g.features)
                .chain(&g.fixes)
                .chain(&g.performance)
                .chain(&g.other)
        }))
}

fn now_millis() -> Millis {
    millis(time::OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_insights::{History, compute};

    fn cached(period: Period, rolling: bool) -> Cached {
        let products = vec![ProductScope {
            name: "p".into(),
            environments: vec![EnvScope {
                name: "prod".into(),
                production: true,
            }],
        }];
        Cached {
            generation: 7,
            product: Some("p".into()),
            report: compute(
                &Query {
                    period,
                    products: products.clone(),
                },
                &History {
                    runs: &[],
                    arrivals: &[],
                    first_seen: &[],
                },
            ),
            products,
            period,
            rolling,
        }
    }

    #[test]
    fn a_cached_report_answers_only_the_same_facts_and_period() {
        let t = 1_796_601_600_000;
        let month = Period::new(t - 30 * DAY, t).unwrap();
        let c = cached(month, true);
        let scope = c.products.clone();
        let ask = |g: i64, p: Option<&str>, s: &[ProductScope], period: Period, rolling: bool| {
            c.answers(g, p, s, period, rolling, ROLLING_REUSE)
        };
        assert!(ask(7, Some("p"), &scope, month, true));
        assert!(ask(7, Some("p"), &scope, month, false), "the same period");
        // New facts, another product, another configuration.
        assert!(!ask(8, Some("p"), &scope, month, true));
        assert!(!ask(7, None, &scope, month, true));
        let mut other = scope.clone();
        other[0].environments[0].production = false;
        assert!(!ask(7, Some("p"), &other, month, true));
        // The last 30 days asked for up to a minute later.
        let later = |ms: Millis| Period::new(month.from + ms, month.to + ms).unwrap();
        assert!(ask(7, Some("p"), &scope, later(ROLLING_REUSE), true));
        assert!(!ask(7, Some("p"), &scope, later(ROLLING_REUSE + 1), true));
        // The background computes ahead: it reuses less.
        assert!(!c.answers(
            7,
            Some("p"),
            &scope,
            later(ROLLING_REUSE),
            true,
            ROLLING_REUSE / 2
        ));
        assert!(
            !ask(7, Some("p"), &scope, later(-1), true),
            "not a later report"
        );
        assert!(!ask(7, Some("p"), &scope, later(1), false), "a fixed end");
        // From a fixed start to now, a little later.
        let since = Period::new(month.from, month.to + 1000).unwrap();
        assert!(ask(7, Some("p"), &scope, since, true));
        // Another length ending now.
        let week = Period::new(month.to + 1000 - 7 * DAY, month.to + 1000).unwrap();
        assert!(!ask(7, Some("p"), &scope, week, true));
        // A fixed period is never stretched.
        let fixed = cached(month, false);
        assert!(!fixed.answers(7, Some("p"), &scope, later(1), true, ROLLING_REUSE));
    }
}
