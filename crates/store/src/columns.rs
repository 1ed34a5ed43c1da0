//! The denormalised columns of a `releases` row: what lists, filters and
//! the engine's queries need without parsing the whole document.

use ferry_release::{Release, ReleaseRef, ReleaseStatus, RollbackLink, Timestamp};
use serde::{Deserialize, Serialize};

use crate::backend::RowExt;
use crate::error::{Error, Result};
use crate::types::{EnvironmentSummary, ReleaseSummary};

/// The columns written for a release.
pub(crate) struct Columns {
    pub number: i64,
    pub status: &'static str,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub environments: String,
    /// [`Links`] as JSON; `None` when the release has none.
    pub links: Option<String>,
    pub document: String,
}

/// The links to other releases the releases list shows (issue 20),
/// column `links` (migration 37).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Links {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    superseded_by: Option<ReleaseRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    rolled_back_by: Vec<RollbackLink>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rollback_for: Option<RollbackLink>,
}

impl Links {
    fn of(release: &Release) -> Option<Links> {
        let links = Links {
            superseded_by: release.termination.as_ref().and_then(|t| t.release.clone()),
            rolled_back_by: release.rolled_back_by.clone(),
            rollback_for: release.rollback_for.clone(),
        };
        (links.superseded_by.is_some()
            || !links.rolled_back_by.is_empty()
            || links.rollback_for.is_some())
        .then_some(links)
    }

    /// Puts the links into a summary.
    fn fill(self, s: &mut ReleaseSummary) {
        s.superseded_by = self.superseded_by;
        s.rolled_back_by = self.rolled_back_by;
        s.rollback_for = self.rollback_for;
    }
}

impl Columns {
    pub fn of(release: &Release) -> Result<Columns> {
        let environments: Vec<EnvironmentSummary> = release
            .environments
            .iter()
            .map(|e| EnvironmentSummary {
                name: e.name.clone(),
                status: e.status,
                // What ferry holds it for: an approval gate ("waiting for
                // approval (k of N)"), a window, a freeze, soak time.
                held: e.waiting_reason(),
            })
            .collect();
        let encode = |source| Error::Encode {
            id: release.id.clone(),
            source,
        };
        if release.finished_at.is_some() != release.status.is_final() {
            return Err(Error::Unfinishable {
                id: release.id.clone(),
                status: release.status.as_str(),
                finished: if release.finished_at.is_some() {
                    "finishedAt set"
                } else {
                    "no finishedAt"
                },
            });
        }
        Ok(Columns {
            number: to_i64(release.number, &release.id, "number")?,
            status: release.status.as_str(),
            created_at: millis(release.created_at, &release.id, "createdAt")?,
            finished_at: release
                .finished_at
                .map(|t| millis(t, &release.id, "finishedAt"))
                .transpose()?,
            environments: serde_json::to_string(&environments).map_err(encode)?,
            links: Links::of(release)
                .map(|l| serde_json::to_string(&l))
                .transpose()
                .map_err(encode)?,
            document: serde_json::to_string(release).map_err(encode)?,
        })
    }
}

/// Unix epoch milliseconds: the portable time column of both backends.
pub(crate) fn millis(t: Timestamp, id: &str, field: &'static str) -> Result<i64> {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).map_err(|_| Error::OutOfRange {
        id: id.to_string(),
        field,
    })
}

pub(crate) fn from_millis(ms: i64, id: &str, what: &'static str) -> Result<Timestamp> {
    Timestamp::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).map_err(|e| Error::Corrupt {
        what,
        id: id.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn to_i64(n: u64, id: &str, field: &'static str) -> Result<i64> {
    i64::try_from(n).map_err(|_| Error::OutOfRange {
        id: id.to_string(),
        field,
    })
}

pub(crate) fn to_u64(n: i64, id: &str, what: &'static str) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Corrupt {
        what,
        id: id.to_string(),
        reason: format!("negative value {n}"),
    })
}

/// Columns selected for a [`ReleaseSummary`].
pub(crate) const SUMMARY_COLUMNS: &str = "id, number, product, flow, status, initiator, \
     created_at, finished_at, version, environments, links";

pub(crate) fn summary_from_row(row: &impl RowExt) -> Result<ReleaseSummary> {
    let id = row.text("id")?;
    let corrupt = |what: &'static str, reason: String| Error::Corrupt {
        what,
        id: id.clone(),
        reason,
    };
    let status_text = row.text("status")?;
    let status = ReleaseStatus::parse(&status_text)
        .ok_or_else(|| corrupt("status", format!("unknown status `{status_text}`")))?;
    let environments: Vec<EnvironmentSummary> = serde_json::from_str(&row.text("environments")?)
        .map_err(|e| corrupt("environments summary", e.to_string()))?;
    let links: Option<Links> = row
        .opt_text("links")?
        .map(|l| serde_json::from_str(&l))
        .transpose()
        .map_err(|e| corrupt("release links", e.to_string()))?;
    let mut summary = ReleaseSummary {
        number: to_u64(row.int("number")?, &id, "number")?,
        product: row.text("product")?,
        flow: row.text("flow")?,
        status,
        initiator: row.text("initiator")?,
        created_at: from_millis(row.int("created_at")?, &id, "created_at")?,
        finished_at: row
            .opt_int("finished_at")?
            .map(|ms| from_millis(ms, &id, "finished_at"))
            .transpose()?,
        version: row.opt_text("version")?,
        environments,
        id,
        superseded_by: None,
        rolled_back_by: Vec::new(),
        rollback_for: None,
    };
    if let Some(links) = links {
        links.fill(&mut summary);
    }
    Ok(summary)
}

pub(crate) fn release_from_document(id: &str, document: &str) -> Result<Release> {
    serde_json::from_str(document).map_err(|e| Error::Corrupt {
        what: "document",
        id: id.to_string(),
        reason: e.to_string(),
    })
}

/// A summary as [`crate::backend::page_as_json`] writes it: the columns
/// under their JSON names, times still in milliseconds.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SummaryJson {
    id: String,
    number: u64,
    product: String,
    flow: String,
    status: ReleaseStatus,
    initiator: String,
    created_at: i64,
    finished_at: Option<i64>,
    version: Option<String>,
    environments: Vec<EnvironmentSummary>,
    #[serde(default)]
    links: Option<Links>,
}

pub(crate) fn summaries_from_json(json: &str) -> Result<Vec<ReleaseSummary>> {
    let rows: Vec<SummaryJson> = serde_json::from_str(json).map_err(|e| Error::Corrupt {
        what: "list page",
        id: String::new(),
        reason: e.to_string(),
    })?;
    rows.into_iter()
        .map(|r| {
            let mut summary = ReleaseSummary {
                created_at: from_millis(r.created_at, &r.id, "created_at")?,
                finished_at: r
                    .finished_at
                    .map(|ms| from_millis(ms, &r.id, "finished_at"))
                    .transpose()?,
                id: r.id,
                number: r.number,
                product: r.product,
                flow: r.flow,
                status: r.status,
                initiator: r.initiator,
                version: r.version,
                environments: r.environments,
                superseded_by: None,
                rolled_back_by: Vec::new(),
                rollback_for: None,
            };
            if let Some(links) = r.links {
                links.fill(&mut summary);
            }
            Ok(summary)
        })
        .collect()
}
