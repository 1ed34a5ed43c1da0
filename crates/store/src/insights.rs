//! Delivery insights' facts (issue 21, migration 24): environment runs,
//! commit arrivals, when each environment was first seen, and which
//! releases are recorded. The figures are computed by `ferry-insights`
//! from what [`Store::insight_history`] loads; this module only stores and
//! selects, with the few rules that make the result independent of the
//! order facts arrive in (earliest arrival, earliest first run, a failure
//! once recorded is kept).

use crate::backend::{BeginWrite, RowExt, on_pool};
use crate::columns::to_i64;
use crate::error::{Error, Result, db};
use crate::store::Store;
use ferry_insights::aggregate::{DayRow, day_buckets, day_of, merge_days, split};
use ferry_insights::period::{DAY, WEEK, week_start};
use ferry_insights::{Arrival, EnvRun, FirstSeen, Millis, Period, Phase, Phases, RunStatus, facts};
use std::collections::{BTreeMap, BTreeSet};

/// Version of the facts' shape: releases recorded with an older one are
/// recorded again (see [`Store::insight_backlog`]).
pub const INSIGHT_FACTS_VERSION: i64 = 1;

/// The facts of a period, as `ferry_insights::History` wants them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsightFacts {
    pub runs: Vec<EnvRun>,
    pub arrivals: Vec<Arrival>,
    pub first_seen: Vec<FirstSeen>,
}

/// The day aggregates of a period and when environments were first seen:
/// what `ferry_insights::aggregate::compute_days` wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InsightDays {
    pub days: Vec<DayRow>,
    pub first_seen: Vec<FirstSeen>,
}

/// Which products [`Store::insight_history`] loads.
#[derive(Debug, Clone, Copy)]
pub enum ProductFilter<'a> {
    All,
    One(&'a str),
}

const PHASE_COLUMNS: [(Phase, &str); 8] = [
    (Phase::Queue, "queue_ms"),
    (Phase::Window, "window_ms"),
    (Phase::PreAction, "pre_action_ms"),
    (Phase::Commit, "commit_ms"),
    (Phase::PullRequest, "pull_request_ms"),
    (Phase::Sync, "sync_ms"),
    (Phase::PostAction, "post_action_ms"),
    (Phase::Hooks, "hooks_ms"),
];

const RUN_COLUMNS: &str = "release_id, environment, product, number, trigger_env, rollback, \
     hotfix, status, termination, deployment, started_at, changed_at, running_at, finished_at, \
     failed_at, queue_ms, window_ms, pre_action_ms, commit_ms, pull_request_ms, sync_ms, \
     post_action_ms, hooks_ms";

/// The earlier of two nullable instants, in SQL both backends accept.
fn earliest(column: &str, table: &str) -> String {
    format!(
        "CASE WHEN excluded.{column} IS NULL THEN {table}.{column} \
              WHEN {table}.{column} IS NULL OR excluded.{column} < {table}.{column} \
              THEN excluded.{column} ELSE {table}.{column} END"
    )
}

/// Bumps the facts' generation: the first statement of every transaction
/// that records facts (migration 34 says why).
const BUMP_GENERATION: &str =
    "UPDATE insight_generation SET generation = generation + 1 WHERE id = 1";

fn run_from_row(row: &impl RowExt) -> Result<EnvRun> {
    let release_id = row.text("release_id")?;
    let corrupt = |what: &'static str, value: String| Error::Corrupt {
        what,
        id: release_id.clone(),
        reason: value,
    };
    let status = row.text("status")?;
    let status = RunStatus::parse(&status).ok_or_else(|| corrupt("insight run status", status))?;
    let termination = match row.opt_text("termination")? {
        None => None,
        Some(t) => Some(
            facts::parse_termination(&t).ok_or_else(|| corrupt("insight run termination", t))?,
        ),
    };
    let mut phases = Phases::default();
    for (phase, column) in PHASE_COLUMNS {
        phases.set(phase, row.opt_int(column)?);
    }
    Ok(EnvRun {
        environment: row.text("environment")?,
        product: row.text("product")?,
        number: u64::try_from(row.int("number")?)
            .map_err(|_| corrupt("insight run number", "negative".into()))?,
        trigger: row.int("trigger_env")? != 0,
        rollback: row.int("rollback")? != 0,
        hotfix: row.int("hotfix")? != 0,
        status,
        termination,
        started_at: row.opt_int("started_at")?,
        changed_at: row.opt_int("changed_at")?,
        running_at: row.opt_int("running_at")?,
        finished_at: row.int("finished_at")?,
        failed_at: row.opt_int("failed_at")?,
        phases,
        release_id,
    })
}

fn arrival_from_row(row: &impl RowExt) -> Result<Arrival> {
    Ok(Arrival {
        product: row.text("product")?,
        environment: row.text("environment")?,
        sha: row.text("sha")?,
        committed_at: row.int("committed_at")?,
        arrived_at: row.int("arrived_at")?,
        release_id: row.text("release_id")?,
    })
}

/// A product's environment: what day aggregates are kept per.
type Pair = (String, String);

const PAIR_RUNS: &str = "SELECT release_id, environment, product, number, trigger_env, rollback, \
     hotfix, status, termination, deployment, started_at, changed_at, running_at, finished_at, \
     failed_at, queue_ms, window_ms, pre_action_ms, commit_ms, pull_request_ms, sync_ms, \
     post_action_ms, hooks_ms FROM insight_runs \
     WHERE product = $1 AND environment = $2 AND finished_at >= $3 AND finished_at < $4";

/// The first deployment (`successful`: the first successful one) of an
/// environment at or after an instant.
fn next_deployment_sql(successful: bool) -> String {
    format!(
        "SELECT {RUN_COLUMNS} FROM insight_runs WHERE product = $1 AND environment = $2 \
         AND deployment = 1{} AND finished_at >= $3 ORDER BY finished_at, number LIMIT 1",
        if successful {
            " AND status = 'SUCCESSFUL'"
        } else {
            ""
        }
    )
}

/// Rebuilds, in transaction `$tx`, the day aggregates of environment `$env`
/// of `$product` for the days `$from ..= $to` (00:00 UTC of each) from the
/// facts: the runs that ended in them, the first deployment and the first
/// successful one after them (which classify theirs: rollback, hotfix,
/// recovery), and the commits that arrived in them.
macro_rules! rebuild_days {
    ($tx:expr, $product:expr, $env:expr, $from:expr, $to:expr) => {{
        let (product, env, from, to): (&str, &str, Millis, Millis) = ($product, $env, $from, $to);
        let end = to.saturating_add(DAY);
        let mut runs: Vec<EnvRun> = sqlx::query(PAIR_RUNS)
            .bind(product)
            .bind(env)
            .bind(from)
            .bind(end)
            .fetch_all(&mut *$tx)
            .await
            .map_err(db("reading an environment's runs to aggregate"))?
            .iter()
            .map(run_from_row)
            .collect::<Result<_>>()?;
        for successful in [false, true] {
            let row = sqlx::query(&next_deployment_sql(successful))
                .bind(product)
                .bind(env)
                .bind(end)
                .fetch_optional(&mut *$tx)
                .await
                .map_err(db("reading the deployment after aggregated days"))?;
            if let Some(row) = row {
                runs.push(run_from_row(&row)?);
            }
        }
        let arrivals: Vec<Arrival> = sqlx::query(
            "SELECT product, environment, sha, committed_at, arrived_at, release_id \
             FROM insight_arrivals WHERE product = $1 AND environment = $2 \
             AND arrived_at >= $3 AND arrived_at < $4",
        )
        .bind(product)
        .bind(env)
        .bind(from)
        .bind(end)
        .fetch_all(&mut *$tx)
        .await
        .map_err(db("reading an environment's arrivals to aggregate"))?
        .iter()
        .map(arrival_from_row)
        .collect::<Result<_>>()?;
        sqlx::query(
            "DELETE FROM insight_days WHERE product = $1 AND environment = $2 \
             AND day >= $3 AND day <= $4",
        )
        .bind(product)
        .bind(env)
        .bind(from)
        .bind(to)
        .execute(&mut *$tx)
        .await
        .map_err(db("replacing day aggregates"))?;
        for (day, facts) in day_buckets(&runs, &arrivals, (from, to)) {
            sqlx::query(
                "INSERT INTO insight_days (product, environment, day, facts) VALUES ($1, $2, $3, $4)",
            )
            .bind(product)
            .bind(env)
            .bind(day)
            .bind(facts)
            .execute(&mut *$tx)
            .await
            .map_err(db("writing a day aggregate"))?;
        }
        // The weeks of those days, from their seven days' aggregates.
        let mut week = week_start(from);
        while week <= to {
            let parts: Vec<(i64, Vec<u8>)> = sqlx::query(
                "SELECT day, facts FROM insight_days WHERE product = $1 AND environment = $2 \
                 AND day >= $3 AND day < $4 ORDER BY day",
            )
            .bind(product)
            .bind(env)
            .bind(week)
            .bind(week + WEEK)
            .fetch_all(&mut *$tx)
            .await
            .map_err(db("reading a week's day aggregates"))?
            .iter()
            .map(|row| Ok((row.int("day")?, row.bytes("facts")?)))
            .collect::<Result<_>>()?;
            let parts: Vec<(i64, &[u8])> = parts.iter().map(|(d, f)| (*d, f.as_slice())).collect();
            let facts = merge_days(&parts, week).ok_or_else(|| Error::Corrupt {
                what: "insights day aggregate",
                id: format!("{product}/{env}/{week}"),
                reason: "not a day aggregate of this version".into(),
            })?;
            sqlx::query("DELETE FROM insight_weeks WHERE product = $1 AND environment = $2 AND week = $3")
                .bind(product)
                .bind(env)
                .bind(week)
                .execute(&mut *$tx)
                .await
                .map_err(db("replacing a week aggregate"))?;
            if !facts.is_empty() {
                sqlx::query(
                    "INSERT INTO insight_weeks (product, environment, week, facts) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(product)
                .bind(env)
                .bind(week)
                .bind(facts)
                .execute(&mut *$tx)
                .await
                .map_err(db("writing a week aggregate"))?;
            }
            week += WEEK;
        }
    }};
}

/// Rebuilds, in transaction `$tx`, the day aggregates a change of runs of
/// environment `$env` of `$product` that ended (before or after the
/// change) between `$lo` and `$hi` may have changed: from the day of the
/// last successful deployment there before `$lo` — the deployments since
/// may be followed by one of the runs (a rollback, a hotfix) or recover
/// with it; those before recovered at that one at the latest — or from
/// the environment's first run when none succeeded before, to `$hi`'s day.
macro_rules! rebuild_after_runs {
    ($tx:expr, $product:expr, $env:expr, $lo:expr, $hi:expr) => {{
        let (product, env, lo, hi): (&str, &str, Millis, Millis) = ($product, $env, $lo, $hi);
        let start = sqlx::query(
            "SELECT MAX(finished_at) AS t FROM insight_runs WHERE product = $1 \
             AND environment = $2 AND deployment = 1 AND status = 'SUCCESSFUL' AND finished_at < $3",
        )
        .bind(product)
        .bind(env)
        .bind(lo)
        .fetch_one(&mut *$tx)
        .await
        .map_err(db("finding the last successful deployment"))?
        .opt_int("t")?;
        let start = match start {
            Some(t) => t,
            None => sqlx::query(
                "SELECT MIN(finished_at) AS t FROM insight_runs WHERE product = $1 \
                 AND environment = $2",
            )
            .bind(product)
            .bind(env)
            .fetch_one(&mut *$tx)
            .await
            .map_err(db("finding an environment's first run"))?
            .opt_int("t")?
            .unwrap_or(lo)
            .min(lo),
        };
        rebuild_days!($tx, product, env, day_of(start), day_of(hi));
    }};
}

impl Store {
    /// Records the facts of release `release_id` of `product`: its runs
    /// (`ferry_insights::runs_of`, replacing earlier facts of the same
    /// runs, a recorded failure kept), when their environments were first
    /// seen, and that the release is recorded as of `finished_at` (the
    /// release's, `None` while it runs). One transaction.
    pub async fn record_insight_runs(
        &self,
        release_id: &str,
        product: &str,
        finished_at: Option<Millis>,
        runs: &[EnvRun],
    ) -> Result<()> {
        let upsert = format!(
            "INSERT INTO insight_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
             ON CONFLICT (release_id, environment) DO UPDATE SET \
             product = excluded.product, number = excluded.number, \
             trigger_env = excluded.trigger_env, rollback = excluded.rollback, \
             hotfix = excluded.hotfix, status = excluded.status, \
             termination = excluded.termination, deployment = excluded.deployment, \
             started_at = excluded.started_at, changed_at = excluded.changed_at, \
             running_at = excluded.running_at, finished_at = excluded.finished_at, \
             failed_at = {}, queue_ms = excluded.queue_ms, window_ms = excluded.window_ms, \
             pre_action_ms = excluded.pre_action_ms, commit_ms = excluded.commit_ms, \
             pull_request_ms = excluded.pull_request_ms, sync_ms = excluded.sync_ms, \
             post_action_ms = excluded.post_action_ms, hooks_ms = excluded.hooks_ms",
            earliest("failed_at", "insight_runs")
        );
        let first_seen = format!(
            "INSERT INTO insight_environments (product, environment, first_at) VALUES ($1, $2, $3) \
             ON CONFLICT (product, environment) DO UPDATE SET first_at = {}",
            earliest("first_at", "insight_environments")
        );
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to record insights"))?;
            sqlx::query(BUMP_GENERATION)
                .execute(&mut *tx)
                .await
                .map_err(db("counting a change of the insight facts"))?;
            // Per environment, the earliest and the latest end of the
            // runs recorded, before and after: the days to aggregate again.
            let mut touched: BTreeMap<Pair, (Millis, Millis)> = BTreeMap::new();
            for r in runs {
                let before: Option<i64> = sqlx::query(
                    "SELECT finished_at FROM insight_runs WHERE release_id = $1 AND environment = $2",
                )
                .bind(&r.release_id)
                .bind(&r.environment)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading an environment run's earlier facts"))?
                .map(|row| row.int("finished_at"))
                .transpose()?;
                let lo = before.map_or(r.finished_at, |b| b.min(r.finished_at));
                let hi = before.map_or(r.finished_at, |b| b.max(r.finished_at));
                touched
                    .entry((r.product.clone(), r.environment.clone()))
                    .and_modify(|(l, h)| {
                        *l = (*l).min(lo);
                        *h = (*h).max(hi);
                    })
                    .or_insert((lo, hi));
                let number = to_i64(r.number, release_id, "number")?;
                let mut q = sqlx::query(&upsert)
                    .bind(&r.release_id)
                    .bind(&r.environment)
                    .bind(&r.product)
                    .bind(number)
                    .bind(i64::from(r.trigger))
                    .bind(i64::from(r.rollback))
                    .bind(i64::from(r.hotfix))
                    .bind(r.status.as_str())
                    .bind(r.termination.map(facts::termination_str))
                    .bind(i64::from(r.is_deployment()))
                    .bind(r.started_at)
                    .bind(r.changed_at)
                    .bind(r.running_at)
                    .bind(r.finished_at)
                    .bind(r.failed_at);
                for (phase, _) in PHASE_COLUMNS {
                    q = q.bind(r.phases.get(phase));
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(db("recording an environment run"))?;
                sqlx::query(&first_seen)
                    .bind(&r.product)
                    .bind(&r.environment)
                    .bind(facts::seen_at(r))
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording when an environment was first seen"))?;
            }
            for ((product, env), (lo, hi)) in &touched {
                rebuild_after_runs!(tx, product, env, *lo, *hi);
            }
            sqlx::query(
                "INSERT INTO insight_releases (release_id, product, finished_at, version, arrivals) \
                 VALUES ($1, $2, $3, $4, 0) ON CONFLICT (release_id) DO UPDATE SET \
                 finished_at = excluded.finished_at, version = excluded.version",
            )
            .bind(release_id)
            .bind(product)
            .bind(finished_at)
            .bind(INSIGHT_FACTS_VERSION)
            .execute(&mut *tx)
            .await
            .map_err(db("recording a release's insights"))?;
            tx.commit()
                .await
                .map_err(db("committing a release's insights"))?;
            Ok(())
        })
    }

    /// Records when commits ran in environments; for a commit already
    /// recorded in an environment the earlier arrival is kept. With
    /// `complete_for`, that release's arrivals are marked recorded in the
    /// same transaction.
    pub async fn record_arrivals(
        &self,
        arrivals: &[Arrival],
        complete_for: Option<&str>,
    ) -> Result<()> {
        if arrivals.is_empty() && complete_for.is_none() {
            return Ok(());
        }
        let sql = "INSERT INTO insight_arrivals \
             (product, environment, sha, committed_at, arrived_at, release_id) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (product, environment, sha) DO UPDATE SET \
             committed_at = CASE WHEN excluded.arrived_at < insight_arrivals.arrived_at \
                THEN excluded.committed_at ELSE insight_arrivals.committed_at END, \
             release_id = CASE WHEN excluded.arrived_at < insight_arrivals.arrived_at \
                THEN excluded.release_id ELSE insight_arrivals.release_id END, \
             arrived_at = CASE WHEN excluded.arrived_at < insight_arrivals.arrived_at \
                THEN excluded.arrived_at ELSE insight_arrivals.arrived_at END";
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to record arrivals"))?;
            sqlx::query(BUMP_GENERATION)
                .execute(&mut *tx)
                .await
                .map_err(db("counting a change of the insight facts"))?;
            // Per environment, the days an arrival left or entered.
            let mut days: BTreeSet<(Pair, Millis)> = BTreeSet::new();
            for a in arrivals {
                let before: Option<i64> = sqlx::query(
                    "SELECT arrived_at FROM insight_arrivals \
                     WHERE product = $1 AND environment = $2 AND sha = $3",
                )
                .bind(&a.product)
                .bind(&a.environment)
                .bind(&a.sha)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a commit's earlier arrival"))?
                .map(|row| row.int("arrived_at"))
                .transpose()?;
                let pair = (a.product.clone(), a.environment.clone());
                days.insert((pair.clone(), day_of(a.arrived_at)));
                if let Some(b) = before {
                    days.insert((pair, day_of(b)));
                }
                sqlx::query(sql)
                    .bind(&a.product)
                    .bind(&a.environment)
                    .bind(&a.sha)
                    .bind(a.committed_at)
                    .bind(a.arrived_at)
                    .bind(&a.release_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("recording a commit's arrival"))?;
            }
            for ((product, env), day) in &days {
                rebuild_days!(tx, product, env, *day, *day);
            }
            if let Some(id) = complete_for {
                sqlx::query("UPDATE insight_releases SET arrivals = 1 WHERE release_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("marking a release's arrivals recorded"))?;
            }
            tx.commit().await.map_err(db("committing arrivals"))?;
            Ok(())
        })
    }

    /// The facts' generation: it changes whenever any replica records
    /// facts, so figures computed at one generation stay true while it
    /// stays the same.
    pub async fn insight_generation(&self) -> Result<i64> {
        on_pool!(&self.backend, |pool| {
            sqlx::query("SELECT generation FROM insight_generation WHERE id = 1")
                .fetch_one(pool)
                .await
                .map_err(db("reading the insight facts' generation"))?
                .int("generation")
        })
    }

    /// Releases whose insights need recording, oldest first (by id, after
    /// `after` when given: paging), at most `limit`: those finished (since `finished_since`, when given) that
    /// are not recorded, were recorded while they ran or as of another
    /// finish (a retry finished them again), in an older format, or
    /// without their arrivals.
    pub async fn insight_backlog(
        &self,
        finished_since: Option<Millis>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>> {
        let since = if finished_since.is_some() {
            "AND r.finished_at >= $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT r.id FROM releases r LEFT JOIN insight_releases i ON i.release_id = r.id \
             WHERE r.finished_at IS NOT NULL AND r.id > $2 {since} AND (i.release_id IS NULL \
             OR i.finished_at IS NULL OR i.finished_at <> r.finished_at OR i.version < $1 \
             OR i.arrivals = 0) ORDER BY r.id LIMIT {limit}"
        );
        on_pool!(&self.backend, |pool| {
            let mut q = sqlx::query(&sql)
                .bind(INSIGHT_FACTS_VERSION)
                .bind(after.unwrap_or(""));
            if let Some(since) = finished_since {
                q = q.bind(since);
            }
            let rows = q
                .fetch_all(pool)
                .await
                .map_err(db("listing releases whose insights are missing"))?;
            rows.iter().map(|r| r.text("id")).collect()
        })
    }

    /// The release (id, number) whose successful deployment into
    /// `environment` of `product` ended last before `before`: what the
    /// environment ran before a deployment that ended then.
    pub async fn previous_deployment(
        &self,
        product: &str,
        environment: &str,
        before: Millis,
    ) -> Result<Option<(String, u64)>> {
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT release_id, number FROM insight_runs WHERE product = $1 AND environment = $2 \
                 AND deployment = 1 AND status = 'SUCCESSFUL' AND finished_at < $3 \
                 ORDER BY finished_at DESC, number DESC LIMIT 1",
            )
            .bind(product)
            .bind(environment)
            .bind(before)
            .fetch_optional(pool)
            .await
            .map_err(db("finding the previous deployment"))?;
            row.map(|r| {
                let id = r.text("release_id")?;
                let number = u64::try_from(r.int("number")?).map_err(|_| Error::Corrupt {
                    what: "insight run number",
                    id: id.clone(),
                    reason: "negative".into(),
                })?;
                Ok((id, number))
            })
            .transpose()
        })
    }

    /// The facts `ferry_insights::compute` needs for `period`: the runs
    /// that ended in it; per product and environment with a deployment in
    /// it, the first deployment and the first successful deployment at or
    /// after its end (whether a deployment of the period was rolled back or
    /// followed by a hotfix, and when its failure recovered); the arrivals
    /// of the period; and when each environment was first seen.
    pub async fn insight_history(
        &self,
        products: ProductFilter<'_>,
        period: Period,
    ) -> Result<InsightFacts> {
        let (where_product, product) = match products {
            ProductFilter::All => ("", None),
            ProductFilter::One(p) => ("product = $3 AND ", Some(p)),
        };
        let runs_sql = format!(
            "SELECT {RUN_COLUMNS} FROM insight_runs \
             WHERE {where_product}finished_at >= $1 AND finished_at < $2"
        );
        let arrivals_sql = format!(
            "SELECT product, environment, sha, committed_at, arrived_at, release_id \
             FROM insight_arrivals WHERE {where_product}arrived_at >= $1 AND arrived_at < $2"
        );
        let seen_sql = format!(
            "SELECT product, environment, first_at FROM insight_environments{}",
            if product.is_some() {
                " WHERE product = $1"
            } else {
                ""
            }
        );
        // The first deployment, and the first successful one, after the
        // period, per environment: one indexed look-up each.
        let after_sql = |successful: bool| {
            format!(
                "SELECT {RUN_COLUMNS} FROM insight_runs WHERE product = $1 AND environment = $2 \
                 AND deployment = 1{} AND finished_at >= $3 ORDER BY finished_at, number LIMIT 1",
                if successful {
                    " AND status = 'SUCCESSFUL'"
                } else {
                    ""
                }
            )
        };
        let (next_any, next_ok) = (after_sql(false), after_sql(true));
        on_pool!(&self.backend, |pool| {
            let mut q = sqlx::query(&runs_sql).bind(period.from).bind(period.to);
            if let Some(p) = product {
                q = q.bind(p);
            }
            let mut runs: Vec<EnvRun> = q
                .fetch_all(pool)
                .await
                .map_err(db("reading a period's environment runs"))?
                .iter()
                .map(run_from_row)
                .collect::<Result<_>>()?;
            let mut q = sqlx::query(&arrivals_sql).bind(period.from).bind(period.to);
            if let Some(p) = product {
                q = q.bind(p);
            }
            let arrivals: Vec<Arrival> = q
                .fetch_all(pool)
                .await
                .map_err(db("reading a period's commit arrivals"))?
                .iter()
                .map(arrival_from_row)
                .collect::<Result<_>>()?;
            let mut q = sqlx::query(&seen_sql);
            if let Some(p) = product {
                q = q.bind(p);
            }
            let first_seen: Vec<FirstSeen> = q
                .fetch_all(pool)
                .await
                .map_err(db("reading when environments were first seen"))?
                .iter()
                .map(|row| {
                    Ok(FirstSeen {
                        product: row.text("product")?,
                        environment: row.text("environment")?,
                        at: row.int("first_at")?,
                    })
                })
                .collect::<Result<_>>()?;
            // Only environments with a deployment in the period need the
            // look-ups, and none when nothing ended after the period.
            let last: Option<i64> =
                sqlx::query("SELECT MAX(finished_at) AS last FROM insight_runs")
                    .fetch_one(pool)
                    .await
                    .map_err(db("reading the last recorded run"))?
                    .opt_int("last")?;
            if last.is_some_and(|last| last >= period.to) {
                let mut pairs: Vec<(String, String)> = runs
                    .iter()
                    .filter(|r| r.is_deployment())
                    .map(|r| (r.product.clone(), r.environment.clone()))
                    .collect();
                pairs.sort_unstable();
                pairs.dedup();
                for (product, environment) in pairs {
                    for sql in [&next_any, &next_ok] {
                        let row = sqlx::query(sql)
                            .bind(&product)
                            .bind(&environment)
                            .bind(period.to)
                            .fetch_optional(pool)
                            .await
                            .map_err(db("reading the deployment after a period"))?;
                        if let Some(row) = row {
                            runs.push(run_from_row(&row)?);
                        }
                    }
                }
            }
            Ok(InsightFacts {
                runs,
                arrivals,
                first_seen,
            })
        })
    }

    /// Builds the day aggregates still to be built (`insight_stale`:
    /// the facts recorded before migration 35, or after
    /// [`Store::rebuild_insight_days`]), in one transaction that takes the
    /// recording lock, so replicas do it once. Returns how many
    /// environments were aggregated. Called before every aggregate read.
    pub async fn build_stale_insight_days(&self) -> Result<usize> {
        let select = "SELECT product, environment, from_day, to_day FROM insight_stale";
        let pending = on_pool!(&self.backend, |pool| {
            sqlx::query("SELECT 1 AS one FROM insight_stale LIMIT 1")
                .fetch_optional(pool)
                .await
                .map_err(db("looking for day aggregates to build"))
                .map(|row| row.is_some())
        })?;
        if !pending {
            return Ok(0);
        }
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to build day aggregates"))?;
            sqlx::query(BUMP_GENERATION)
                .execute(&mut *tx)
                .await
                .map_err(db("counting a change of the insight facts"))?;
            let stale: Vec<(String, String, i64, i64)> = sqlx::query(select)
                .fetch_all(&mut *tx)
                .await
                .map_err(db("listing day aggregates to build"))?
                .iter()
                .map(|row| {
                    Ok((
                        row.text("product")?,
                        row.text("environment")?,
                        row.int("from_day")?,
                        row.int("to_day")?,
                    ))
                })
                .collect::<Result<_>>()?;
            for (product, env, from, to) in &stale {
                rebuild_days!(tx, product, env, day_of(*from), day_of(*to));
            }
            sqlx::query("DELETE FROM insight_stale")
                .execute(&mut *tx)
                .await
                .map_err(db("marking day aggregates built"))?;
            tx.commit().await.map_err(db("committing day aggregates"))?;
            Ok(stale.len())
        })
    }

    /// Marks every day of every recorded fact to be aggregated again (what
    /// migration 35 does for the facts recorded before it) — for facts
    /// written into the tables directly, as the benchmark does. The next
    /// aggregate read builds them.
    pub async fn rebuild_insight_days(&self) -> Result<()> {
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning to mark day aggregates"))?;
            sqlx::query("DELETE FROM insight_stale")
                .execute(&mut *tx)
                .await
                .map_err(db("marking day aggregates"))?;
            sqlx::query(
                "INSERT INTO insight_stale (product, environment, from_day, to_day) \
                 SELECT product, environment, MIN(day), MAX(day) FROM ( \
                 SELECT product, environment, finished_at - (finished_at % 86400000) AS day \
                 FROM insight_runs UNION ALL \
                 SELECT product, environment, arrived_at - (arrived_at % 86400000) AS day \
                 FROM insight_arrivals) facts WHERE true GROUP BY product, environment",
            )
            .execute(&mut *tx)
            .await
            .map_err(db("marking day aggregates"))?;
            tx.commit()
                .await
                .map_err(db("committing day aggregates' marks"))?;
            Ok(())
        })
    }

    /// The aggregates `period` reads — of its whole weeks, and of the
    /// other UTC days it touches — and when each environment was first
    /// seen: what `ferry_insights::aggregate::compute_days` computes the
    /// period's figures from. One row per product, environment and week
    /// or day, whatever the number of releases. Builds stale aggregates
    /// first.
    pub async fn insight_days(
        &self,
        products: ProductFilter<'_>,
        period: Period,
    ) -> Result<InsightDays> {
        self.build_stale_insight_days().await?;
        let (where_product, product) = match products {
            ProductFilter::All => ("", None),
            ProductFilter::One(p) => ("product = $3 AND ", Some(p)),
        };
        // Whole weeks from insight_weeks, the days around them (the edge
        // days included: their entries outside the period are filtered).
        let parts = split(period);
        // ($3 is bound either way: an unused parameter is an error on
        // PostgreSQL.)
        let days_product = if product.is_some() {
            "product = $3 AND "
        } else {
            "$3 = '' AND "
        };
        let days_sql = format!(
            "SELECT product, environment, day, facts FROM insight_days \
             WHERE {days_product}((day >= $1 AND day < $2) OR (day >= $4 AND day < $5))"
        );
        let weeks_sql = format!(
            "SELECT product, environment, week, facts FROM insight_weeks \
             WHERE {where_product}week >= $1 AND week < $2"
        );
        let seen_sql = format!(
            "SELECT product, environment, first_at FROM insight_environments{}",
            if product.is_some() {
                " WHERE product = $1"
            } else {
                ""
            }
        );
        on_pool!(&self.backend, |pool| {
            let [(a, b), (c, d)] = parts.days;
            let q = sqlx::query(&days_sql)
                .bind(a)
                .bind(b)
                .bind(product.unwrap_or(""))
                .bind(c)
                .bind(d);
            let mut days: Vec<DayRow> = q
                .fetch_all(pool)
                .await
                .map_err(db("reading a period's day aggregates"))?
                .iter()
                .map(|row| {
                    Ok(DayRow {
                        product: row.text("product")?,
                        environment: row.text("environment")?,
                        day: row.int("day")?,
                        span: DAY,
                        facts: row.bytes("facts")?,
                    })
                })
                .collect::<Result<_>>()?;
            if let Some((first, end)) = parts.weeks {
                let mut q = sqlx::query(&weeks_sql).bind(first).bind(end);
                if let Some(p) = product {
                    q = q.bind(p);
                }
                let rows = q
                    .fetch_all(pool)
                    .await
                    .map_err(db("reading a period's week aggregates"))?;
                days.reserve(rows.len());
                for row in &rows {
                    days.push(DayRow {
                        product: row.text("product")?,
                        environment: row.text("environment")?,
                        day: row.int("week")?,
                        span: WEEK,
                        facts: row.bytes("facts")?,
                    });
                }
            }
            let mut q = sqlx::query(&seen_sql);
            if let Some(p) = product {
                q = q.bind(p);
            }
            let first_seen: Vec<FirstSeen> = q
                .fetch_all(pool)
                .await
                .map_err(db("reading when environments were first seen"))?
                .iter()
                .map(|row| {
                    Ok(FirstSeen {
                        product: row.text("product")?,
                        environment: row.text("environment")?,
                        at: row.int("first_at")?,
                    })
                })
                .collect::<Result<_>>()?;
            Ok(InsightDays { days, first_seen })
        })
    }
}
