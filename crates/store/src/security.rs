//! API tokens and the audit log (SPEC §10 Auth).
//!
//! Tokens are stored by the hex SHA-256 of their value only: a copy of the
//! database gives no one a usable token. The audit log is append-only and
//! read newest first in keyset pages, like the release lists.

use ferry_release::{Event, NewEvent, Timestamp};
use serde::{Deserialize, Serialize};

use crate::Store;
use crate::backend::{BeginWrite, RowExt, on_pool};
use crate::columns::{from_millis, millis, to_i64, to_u64};
use crate::error::{Error, Result, db};

/// A token to store. `hash` is the hex SHA-256 of the token's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub id: String,
    pub name: String,
    pub hash: String,
    /// `viewer`, `promoter` or `admin` (the server owns the meaning).
    pub role: String,
    /// Products a promoter may act on; empty means every product.
    pub products: Vec<String>,
    /// A promoter limited to non-production environments.
    pub non_production: bool,
    pub created_by: String,
}

/// A stored token, without its hash (nothing outside the store needs it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Token))]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub id: String,
    pub name: String,
    pub role: String,
    pub products: Vec<String>,
    pub non_production: bool,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Timestamp>,
    #[serde(default)]
    pub revoked_by: Option<String>,
}

/// An audit entry to append.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// Who: the token name (or `anonymous` for a refused caller without one).
    pub actor: String,
    /// What: `promote`, `terminate`, `retry`, `resume`, `token.create` …
    pub action: String,
    /// On what: a product, release id, workflow run or token id.
    pub target: String,
    pub product: Option<String>,
    pub release_id: Option<String>,
    /// From where: the peer address, or the client named by a trusted proxy.
    pub remote: Option<String>,
    /// The HTTP status the action ended with (403 for a denial).
    pub outcome: u16,
    pub detail: Option<String>,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: u64,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub product: Option<String>,
    pub release_id: Option<String>,
    pub remote: Option<String>,
    pub outcome: u16,
    pub detail: Option<String>,
}

/// Which audit entries [`Store::audit`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub release_id: Option<String>,
    /// Page size: 0 means [`crate::DEFAULT_PAGE`], more than
    /// [`crate::MAX_PAGE`] is capped.
    pub limit: u32,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of audit entries, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

const TOKEN_COLUMNS: &str = "id, name, role, products, non_production, created_by, created_at, \
     revoked_at, revoked_by";

fn token_from_row(row: &impl RowExt) -> Result<TokenRecord> {
    let id = row.text("id")?;
    let products: Vec<String> =
        serde_json::from_str(&row.text("products")?).map_err(|e| Error::Corrupt {
            what: "token products",
            id: id.clone(),
            reason: e.to_string(),
        })?;
    Ok(TokenRecord {
        name: row.text("name")?,
        role: row.text("role")?,
        products,
        non_production: row.int("non_production")? != 0,
        created_by: row.text("created_by")?,
        created_at: from_millis(row.int("created_at")?, &id, "token created_at")?,
        revoked_at: row
            .opt_int("revoked_at")?
            .map(|ms| from_millis(ms, &id, "token revoked_at"))
            .transpose()?,
        revoked_by: row.opt_text("revoked_by")?,
        id,
    })
}

fn audit_from_row(row: &impl RowExt) -> Result<AuditEntry> {
    let id = row.int("id")?;
    let key = id.to_string();
    let outcome = row.int("outcome")?;
    Ok(AuditEntry {
        id: to_u64(id, &key, "audit id")?,
        at: from_millis(row.int("at")?, &key, "audit time")?,
        actor: row.text("actor")?,
        action: row.text("action")?,
        target: row.text("target")?,
        product: row.opt_text("product")?,
        release_id: row.opt_text("release_id")?,
        remote: row.opt_text("remote")?,
        outcome: u16::try_from(outcome).map_err(|_| Error::Corrupt {
            what: "audit outcome",
            id: key.clone(),
            reason: format!("{outcome} is not an HTTP status"),
        })?,
        detail: row.opt_text("detail")?,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

impl Store {
    /// Stores a new token; a live token with the same name is refused
    /// with [`Error::TokenNameTaken`].
    pub async fn token_create(&self, token: &NewToken) -> Result<TokenRecord> {
        let now = ferry_release::now();
        let at = millis(now, &token.id, "now")?;
        let products = serde_json::to_string(&token.products).map_err(|source| Error::Encode {
            id: token.id.clone(),
            source,
        })?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let inserted = sqlx::query(
                "INSERT INTO api_tokens (id, name, hash, role, products, non_production, \
                 created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(&token.id)
            .bind(&token.name)
            .bind(&token.hash)
            .bind(&token.role)
            .bind(&products)
            .bind(i64::from(token.non_production))
            .bind(&token.created_by)
            .bind(at)
            .execute(pool)
            .await;
            match inserted {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(Error::TokenNameTaken {
                    name: token.name.clone(),
                }),
                Err(e) => Err(db("storing a token")(e)),
            }
        })?;
        Ok(TokenRecord {
            id: token.id.clone(),
            name: token.name.clone(),
            role: token.role.clone(),
            products: token.products.clone(),
            non_production: token.non_production,
            created_by: token.created_by.clone(),
            created_at: from_millis(at, &token.id, "now")?,
            revoked_at: None,
            revoked_by: None,
        })
    }

    /// The live (not revoked) token whose value hashes to `hash` (hex).
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL"
        );
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&sql)
                .bind(hash)
                .fetch_optional(pool)
                .await
                .map_err(db("looking up a token"))?;
            row.as_ref().map(token_from_row).transpose()
        })
    }

    /// Every token (revoked ones too when `include_revoked`), oldest first.
    pub async fn tokens(&self, include_revoked: bool) -> Result<Vec<TokenRecord>> {
        let filter = if include_revoked {
            ""
        } else {
            " WHERE revoked_at IS NULL"
        };
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens{filter} ORDER BY created_at, id");
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&sql)
                .fetch_all(pool)
                .await
                .map_err(db("listing tokens"))?;
            rows.iter().map(token_from_row).collect()
        })
    }

    /// Revokes the live token with this id or name; `None` when there is
    /// no such live token.
    pub async fn token_revoke(&self, id_or_name: &str, by: &str) -> Result<Option<TokenRecord>> {
        let at = millis(ferry_release::now(), id_or_name, "now")?;
        let sql = format!(
            "UPDATE api_tokens SET revoked_at = $2, revoked_by = $3 \
             WHERE (id = $1 OR name = $1) AND revoked_at IS NULL RETURNING {TOKEN_COLUMNS}"
        );
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(&sql)
                .bind(id_or_name)
                .bind(at)
                .bind(by)
                .fetch_optional(pool)
                .await
                .map_err(db("revoking a token"))?;
            row.as_ref().map(token_from_row).transpose()
        })
    }

    /// Appends an entry to the audit log; returns its id.
    pub async fn audit_append(&self, entry: &NewAuditEntry) -> Result<u64> {
        let at = millis(ferry_release::now(), &entry.target, "now")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "INSERT INTO audit_log (at, actor, action, target, product, release_id, remote, \
                 outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(at)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(&entry.product)
            .bind(&entry.release_id)
            .bind(&entry.remote)
            .bind(i64::from(entry.outcome))
            .bind(&entry.detail)
            .fetch_one(pool)
            .await
            .map_err(db("appending to the audit log"))?;
            to_u64(row.int("id")?, &entry.target, "audit id")
        })
    }

    /// A page of the audit log, newest first.
    pub async fn audit(&self, filter: &AuditFilter) -> Result<AuditPage> {
        let limit = match filter.limit {
            0 => crate::DEFAULT_PAGE,
            n => n.min(crate::MAX_PAGE),
        };
        let before = match filter.cursor.as_deref().filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(
                c.strip_prefix('a')
                    .and_then(|n| n.parse::<i64>().ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::BadCursor {
                        cursor: c.to_string(),
                        reason: "not a cursor returned by the audit log",
                    })?,
            ),
        };
        let mut sql = String::from(
            "SELECT id, at, actor, action, target, product, release_id, remote, outcome, detail \
             FROM audit_log WHERE 1 = 1",
        );
        let mut texts: Vec<String> = Vec::new();
        for (column, value) in [
            ("actor", &filter.actor),
            ("action", &filter.action),
            ("release_id", &filter.release_id),
        ] {
            if let Some(v) = value {
                texts.push(v.clone());
                sql.push_str(&format!(" AND {column} = ${}", texts.len()));
            }
        }
        let n = texts.len();
        if before.is_some() {
            sql.push_str(&format!(" AND id < ${}", n + 1));
        }
        let limit_at = n + 1 + usize::from(before.is_some());
        sql.push_str(&format!(" ORDER BY id DESC LIMIT ${limit_at}"));
        let mut items = on_pool!(&self.backend, |pool| {
            let mut query = sqlx::query(&sql);
            for t in &texts {
                query = query.bind(t);
            }
            if let Some(b) = before {
                query = query.bind(b);
            }
            let rows = query
                .bind(i64::from(limit) + 1)
                .fetch_all(pool)
                .await
                .map_err(db("reading the audit log"))?;
            rows.iter().map(audit_from_row).collect::<Result<Vec<_>>>()
        })?;
        let next_cursor = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|e| format!("a{}", e.id))
        } else {
            None
        };
        Ok(AuditPage { items, next_cursor })
    }

    /// Appends `events` to a release's history without touching its
    /// document: for records made beside the engine (an audit note of who
    /// acted from where). Gapless with the engine's own saves, as both
    /// take their seqs from the same row under its lock.
    pub async fn append_events(
        &self,
        release_id: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>> {
        let added = to_i64(events.len() as u64, release_id, "events")?;
        let _gate = self.gate().await;
        on_pool!(&self.backend, |pool| {
            let mut tx = pool
                .begin_write()
                .await
                .map_err(db("beginning an event append"))?;
            let row = sqlx::query(
                "UPDATE releases SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq",
            )
            .bind(release_id)
            .bind(added)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("appending events"))?;
            let Some(row) = row else {
                tx.rollback().await.map_err(db("ending an event append"))?;
                return Err(Error::NotFound {
                    id: release_id.to_string(),
                });
            };
            let last = to_u64(row.int("last_seq")?, release_id, "last_seq")?;
            let first = (last + 1).saturating_sub(events.len() as u64);
            let events: Vec<Event> = events
                .into_iter()
                .zip(first..)
                .map(|(e, seq)| e.into_event(release_id, seq))
                .collect();
            for event in &events {
                let document = serde_json::to_string(event).map_err(|source| Error::Encode {
                    id: release_id.to_string(),
                    source,
                })?;
                sqlx::query(
                    "INSERT INTO release_events (release_id, seq, at, document) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(release_id)
                .bind(to_i64(event.seq, release_id, "event seq")?)
                .bind(millis(event.at, release_id, "event time")?)
                .bind(document)
                .execute(&mut *tx)
                .await
                .map_err(db("appending an event"))?;
            }
            tx.commit()
                .await
                .map_err(db("committing an event append"))?;
            Ok(events)
        })
    }
}
