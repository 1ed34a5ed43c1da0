//! The query plans of the store's hot queries (issue 24): the list forms
//! and what the engine asks on start-up and on every queue decision must
//! be answered from indexes, so that they cost the same with 10,000 and
//! with 1,000,000 releases stored. [`Store::query_plans`] explains each
//! one as the store sends it; the store suite checks the plans on both
//! backends, so a change to a query or an index cannot silently make one
//! read every release.

use ferry_release::ReleaseStatus;

use crate::backend::{Backend, BeginWrite, RowExt};
use crate::cursor::Cursor;
use crate::error::{Result, db};
use crate::store::{Bind, Store};
use crate::types::ListFilter;

/// One hot query and its plan as the database printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPlan {
    /// What the query is for (the store method, and the list's filter).
    pub name: String,
    /// SQLite: the `EXPLAIN QUERY PLAN` details, one per line; PostgreSQL:
    /// `EXPLAIN`'s text with sequential scans disabled, so that the plan
    /// shows whether an index *can* answer the query whatever the table
    /// statistics.
    pub plan: String,
    /// A list form that walks an index in its order and stops after a
    /// page (no filter but the order's own key): reading an index from its
    /// end is expected there.
    pub ordered_walk: bool,
}

impl Store {
    /// Explains every hot query with sample parameters (see the module
    /// documentation). Writes nothing.
    #[doc(hidden)]
    pub async fn query_plans(&self) -> Result<Vec<QueryPlan>> {
        let kind = self.backend.kind();
        let id = Cursor::Id("01J0000000000000000000000A".into()).encode();
        let number = Cursor::Number(1_000).encode();
        let several = vec![ReleaseStatus::Failed, ReleaseStatus::Succeeded];
        let lists = [
            ("list: all", ListFilter::default(), true),
            (
                "list: all, next page",
                ListFilter {
                    cursor: Some(id.clone()),
                    ..ListFilter::default()
                },
                true,
            ),
            (
                "list: one status",
                ListFilter {
                    statuses: vec![ReleaseStatus::Failed],
                    cursor: Some(id.clone()),
                    ..ListFilter::default()
                },
                false,
            ),
            (
                "list: several statuses",
                ListFilter {
                    statuses: several.clone(),
                    cursor: Some(id),
                    ..ListFilter::default()
                },
                false,
            ),
            (
                "list: product",
                ListFilter {
                    product: Some("shop".into()),
                    ..ListFilter::default()
                },
                false,
            ),
            (
                "list: product, next page",
                ListFilter {
                    product: Some("shop".into()),
                    cursor: Some(number.clone()),
                    ..ListFilter::default()
                },
                false,
            ),
            (
                "list: product, one status",
                ListFilter {
                    product: Some("shop".into()),
                    statuses: vec![ReleaseStatus::Queued],
                    ..ListFilter::default()
                },
                false,
            ),
            (
                "list: product, several statuses",
                ListFilter {
                    product: Some("shop".into()),
                    statuses: several,
                    cursor: Some(number),
                    ..ListFilter::default()
                },
                false,
            ),
        ];
        let text = |s: &str| Bind::Text(s.to_owned());
        let mut queries: Vec<(String, String, Vec<Bind>, bool)> = Vec::new();
        for (name, filter, ordered_walk) in lists {
            let q = self.list_query(&filter)?;
            queries.push((name.to_owned(), q.sql, q.binds, ordered_walk));
        }
        for (name, sql, binds) in [
            ("active_release_ids", crate::store::active_ids_sql(), vec![]),
            (
                "count_active",
                crate::store::count_active_sql(),
                vec![text("shop")],
            ),
            (
                "started_of_product",
                crate::lease::started_of_product_sql(),
                vec![text("shop")],
            ),
            ("stalled_queues", crate::store::stalled_queues_sql(), vec![]),
            (
                "lease_orphans",
                crate::lease::lease_orphans_sql(kind),
                vec![Bind::Int(30_000), Bind::Int(100)],
            ),
            (
                "lease_renew",
                crate::lease::lease_renew_sql(kind),
                vec![text("replica"), Bind::Int(30_000)],
            ),
            ("repair_finished", crate::invariant::broken_sql(), vec![]),
            (
                "notification_backlog",
                crate::notifications::notification_backlog_sql(200),
                vec![Bind::Int(0)],
            ),
        ] {
            queries.push((name.to_owned(), sql, binds, false));
        }
        let mut out = Vec::with_capacity(queries.len());
        match &self.backend {
            Backend::Sqlite(pool) => {
                for (name, sql, binds, ordered_walk) in queries {
                    let explain = format!("EXPLAIN QUERY PLAN {sql}");
                    let mut q = sqlx::query(&explain);
                    for b in binds {
                        q = b.bind_to(q);
                    }
                    let rows = q.fetch_all(pool).await.map_err(db("explaining a query"))?;
                    let plan = rows
                        .iter()
                        .map(|r| r.text("detail"))
                        .collect::<Result<Vec<_>>>()?
                        .join("\n");
                    out.push(QueryPlan {
                        name,
                        plan,
                        ordered_walk,
                    });
                }
            }
            Backend::Postgres(pool) => {
                // In a transaction that is rolled back: the setting (and
                // nothing else) stays with it.
                let mut tx = pool
                    .begin_write()
                    .await
                    .map_err(db("beginning to explain queries"))?;
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .map_err(db("explaining queries"))?;
                for (name, sql, binds, ordered_walk) in queries {
                    let explain = format!("EXPLAIN {sql}");
                    let mut q = sqlx::query(&explain);
                    for b in binds {
                        q = b.bind_to(q);
                    }
                    let rows = q
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(db("explaining a query"))?;
                    let plan = rows
                        .iter()
                        .map(|r| r.text("QUERY PLAN"))
                        .collect::<Result<Vec<_>>>()?
                        .join("\n");
                    out.push(QueryPlan {
                        name,
                        plan,
                        ordered_walk,
                    });
                }
                tx.rollback()
                    .await
                    .map_err(db("ending the explained queries"))?;
            }
        }
        Ok(out)
    }
}
