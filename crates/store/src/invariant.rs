//! "`finishedAt` is set if and only if the release status is terminal"
//! (SPEC §12), checked and repaired on start-up (issue 23).
//!
//! Saves that would break it are refused ([`crate::Error::Unfinishable`]),
//! but rows written before that rule — a release stored as finished while
//! an environment still ran, after a save failed during a storage outage,
//! or FAILED while an independent branch still ran — may exist. Each such
//! row is re-opened: `finishedAt` cleared, the status derived again (a
//! release with work left is RUNNING, SUSPENDED or TERMINATING), an audit
//! note saying what was repaired appended to its history, so that the
//! engine's ordinary resume drives it to its real end.

use ferry_release::{EventKind, NewEvent, Release, ReleaseStatus};

use crate::backend::{BeginWrite, RowExt, on_pool};
use crate::columns::{Columns, millis, release_from_document, to_i64, to_u64};
use crate::error::{Result, db};
use crate::store::{Store, insert_event};

/// Rows that break the rule, as SQL.
const BROKEN: &str = "((finished_at IS NOT NULL \
                       AND status IN ('QUEUED', 'RUNNING', 'SUSPENDED', 'TERMINATING')) \
                      OR (finished_at IS NULL \
                       AND status IN ('SUCCEEDED', 'FAILED', 'TERMINATED', 'SUPERSEDED')))";

/// The rows [`Store::repair_finished`] re-opens, found on start-up from
/// the status and `finished_at` indexes (no finished release is read).
pub(crate) fn broken_sql() -> String {
    format!("SELECT id FROM releases WHERE {BROKEN} ORDER BY id")
}

/// One release re-opened by [`Store::repair_finished`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repaired {
    pub id: String,
    /// The status stored before, and after the repair.
    pub was: ReleaseStatus,
    pub now: ReleaseStatus,
}

impl Store {
    /// Re-opens every release whose `finished_at` and status disagree (see
    /// the module documentation); returns what it repaired. Replicas
    /// starting together repair each row once: the update is conditional
    /// on the row still being broken.
    pub async fn repair_finished(&self) -> Result<Vec<Repaired>> {
        let ids: Vec<String> = on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&broken_sql())
                .fetch_all(pool)
                .await
                .map_err(db("checking finished releases"))?;
            rows.iter()
                .map(|r| r.text("id"))
                .collect::<Result<Vec<_>>>()
        })?;
        let mut out = Vec::new();
        for id in ids {
            if let Some(repaired) = self.repair_one(&id).await? {
                out.push(repaired);
            }
        }
        Ok(out)
    }

    async fn repair_one(&self, id: &str) -> Result<Option<Repaired>> {
        let now = millis(ferry_release::now(), id, "now")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool.begin_write().await.map_err(db("beginning a repair"))?;
            let row = sqlx::query("SELECT document FROM release_documents WHERE release_id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("reading a release to repair"))?;
            let Some(row) = row else {
                tx.rollback().await.map_err(db("ending a repair"))?;
                return Ok(None);
            };
            let mut release: Release = release_from_document(id, &row.text("document")?)?;
            let was = release.status;
            reopen(&mut release);
            let mut events = Vec::new();
            if release.status != was {
                events.push(NewEvent::new(EventKind::Release, release.status.as_str()));
            }
            events.push(
                NewEvent::new(EventKind::Audit, release.status.as_str()).message(format!(
                    "repaired by ferry on start-up: the release was stored as {was} {}; \
                     it is resumed from its stored state",
                    if was.is_final() {
                        "without a finish time while work remained"
                    } else {
                        "with a finish time while it had not ended (a save failed during a storage fault)"
                    }
                )),
            );
            let columns = Columns::of(&release)?;
            let added = to_i64(events.len() as u64, id, "events")?;
            let updated = sqlx::query(&format!(
                "UPDATE releases SET status = $2, finished_at = NULL, updated_at = $3, \
                 environments = $4, last_seq = last_seq + $5, links = $6 WHERE id = $1 AND {BROKEN} \
                 RETURNING last_seq"
            ))
            .bind(id)
            .bind(columns.status)
            .bind(now)
            .bind(&columns.environments)
            .bind(added)
            .bind(&columns.links)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("repairing a release"))?;
            let Some(updated) = updated else {
                // Repaired meanwhile (another replica starting).
                tx.rollback().await.map_err(db("ending a repair"))?;
                return Ok(None);
            };
            sqlx::query("UPDATE release_documents SET document = $2 WHERE release_id = $1")
                .bind(id)
                .bind(&columns.document)
                .execute(&mut *tx)
                .await
                .map_err(db("repairing a release document"))?;
            let last = to_u64(updated.int("last_seq")?, id, "last_seq")?;
            let first = (last + 1).saturating_sub(events.len() as u64);
            let events: Vec<_> = events
                .into_iter()
                .zip(first..)
                .map(|(e, seq)| e.into_event(id, seq))
                .collect();
            for event in &events {
                insert_event!(&mut *tx, event)?;
            }
            if let Some(payload) = self.notice_payload(id, &events) {
                sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(crate::notify::EVENTS_CHANNEL)
                    .bind(payload)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("announcing new events"))?;
            }
            tx.commit().await.map_err(db("committing a repair"))?;
            Ok(Some(Repaired {
                id: id.to_owned(),
                was,
                now: release.status,
            }))
        })
    }
}

/// The release with work left: no finish time, its status derived again.
fn reopen(release: &mut Release) {
    release.finished_at = None;
    let envs: Vec<_> = release.environments.iter().map(|e| e.status).collect();
    release.status = ReleaseStatus::aggregate(
        &envs,
        release.status == ReleaseStatus::Queued,
        release.termination.is_some(),
        true,
    );
}
