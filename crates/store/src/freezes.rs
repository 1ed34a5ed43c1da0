//! Stop-the-line freezes (issue 20, migration 0030): an administrator holds
//! every release of some (or all) products and environments before its
//! next write, with a reason, until the freeze is lifted. Rows are kept
//! after lifting: they are the freezes' history.

use ferry_release::Timestamp;
use serde::{Deserialize, Serialize};

use crate::backend::{RowExt, on_pool};
use crate::columns::{from_millis, millis};
use crate::error::{Error, Result, db};
use crate::store::Store;

/// A freeze as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Freeze {
    pub id: String,
    /// The products it holds; empty: every product.
    pub products: Vec<String>,
    /// The environments it holds; empty: every environment.
    pub environments: Vec<String>,
    pub reason: String,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_by: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub lifted_at: Option<Timestamp>,
}

impl Freeze {
    /// Whether it holds writes of `product` into `environment`.
    pub fn covers(&self, product: &str, environment: &str) -> bool {
        self.lifted_at.is_none()
            && (self.products.is_empty() || self.products.iter().any(|p| p == product))
            && (self.environments.is_empty() || self.environments.iter().any(|e| e == environment))
    }

    /// What it holds, for people: `every product in every environment`,
    /// `trio, web in prod`.
    pub fn scope(&self) -> String {
        let products = if self.products.is_empty() {
            "every product".to_owned()
        } else {
            self.products.join(", ")
        };
        let environments = if self.environments.is_empty() {
            "every environment".to_owned()
        } else {
            self.environments.join(", ")
        };
        format!("{products} in {environments}")
    }
}

/// A freeze to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFreeze {
    pub products: Vec<String>,
    pub environments: Vec<String>,
    pub reason: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

const COLUMNS: &str =
    "id, products, environments, reason, created_by, created_at, lifted_by, lifted_at";

fn names(json: &str, id: &str) -> Result<Vec<String>> {
    serde_json::from_str(json).map_err(|e| Error::Corrupt {
        what: "freeze scope",
        id: id.to_owned(),
        reason: e.to_string(),
    })
}

fn names_json(list: &[String]) -> String {
    // A list of strings always serialises.
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn row_to_freeze(row: &impl RowExt) -> Result<Freeze> {
    let id = row.text("id")?;
    Ok(Freeze {
        products: names(&row.text("products")?, &id)?,
        environments: names(&row.text("environments")?, &id)?,
        reason: row.text("reason")?,
        created_by: row.text("created_by")?,
        created_at: from_millis(row.int("created_at")?, &id, "freeze created_at")?,
        lifted_by: row.opt_text("lifted_by")?,
        lifted_at: row
            .opt_int("lifted_at")?
            .map(|ms| from_millis(ms, &id, "freeze lifted_at"))
            .transpose()?,
        id,
    })
}

impl Store {
    /// Stores a new freeze, active at once.
    pub async fn freeze_create(&self, f: &NewFreeze) -> Result<Freeze> {
        let id = ferry_release::new_release_id();
        let at = millis(f.created_at, &id, "freeze created_at")?;
        let (products, environments) = (names_json(&f.products), names_json(&f.environments));
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "INSERT INTO freezes (id, products, environments, reason, created_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(&products)
            .bind(&environments)
            .bind(&f.reason)
            .bind(&f.created_by)
            .bind(at)
            .execute(pool)
            .await
            .map_err(db("storing a freeze"))?;
            Ok(())
        })?;
        Ok(Freeze {
            id,
            products: f.products.clone(),
            environments: f.environments.clone(),
            reason: f.reason.clone(),
            created_by: f.created_by.clone(),
            created_at: from_millis(at, "", "freeze created_at")?,
            lifted_by: None,
            lifted_at: None,
        })
    }

    /// Freezes not lifted, oldest first.
    pub async fn freezes_active(&self) -> Result<Vec<Freeze>> {
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM freezes WHERE lifted_at IS NULL ORDER BY created_at, id"
            ))
            .fetch_all(pool)
            .await
            .map_err(db("reading the active freezes"))?;
            rows.iter().map(row_to_freeze).collect()
        })
    }

    /// The latest `limit` freezes, lifted ones too, newest first.
    pub async fn freezes_recent(&self, limit: u32) -> Result<Vec<Freeze>> {
        let limit = i64::from(limit.clamp(1, crate::MAX_PAGE));
        on_pool!(&self.backend, |pool| {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM freezes ORDER BY created_at DESC, id DESC LIMIT $1"
            ))
            .bind(limit)
            .fetch_all(pool)
            .await
            .map_err(db("reading the freezes"))?;
            rows.iter().map(row_to_freeze).collect()
        })
    }

    /// Lifts freeze `id` (a freeze already lifted stays as it was);
    /// `None` when there is no such freeze.
    pub async fn freeze_lift(&self, id: &str, by: &str, at: Timestamp) -> Result<Option<Freeze>> {
        let at = millis(at, id, "freeze lifted_at")?;
        on_pool!(&self.backend, |pool| {
            sqlx::query(
                "UPDATE freezes SET lifted_by = $1, lifted_at = $2 WHERE id = $3 AND lifted_at IS NULL",
            )
            .bind(by)
            .bind(at)
            .bind(id)
            .execute(pool)
            .await
            .map_err(db("lifting a freeze"))?;
            let row = sqlx::query(&format!("SELECT {COLUMNS} FROM freezes WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(db("reading a freeze"))?;
            row.as_ref().map(row_to_freeze).transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_freeze_is_active_until_lifted_and_kept_afterwards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("f.db").display());
        let store = Store::open(&url).await.expect("open");
        let now = ferry_release::now();
        let all = store
            .freeze_create(&NewFreeze {
                products: vec![],
                environments: vec!["prod".into()],
                reason: "incident 42".into(),
                created_by: "ivy".into(),
                created_at: now,
            })
            .await
            .expect("create");
        assert!(all.covers("trio", "prod"));
        assert!(!all.covers("trio", "staging"));
        assert_eq!(all.scope(), "every product in prod");
        assert_eq!(
            store.freezes_active().await.expect("active"),
            vec![all.clone()]
        );
        let lifted = store
            .freeze_lift(&all.id, "ops", now)
            .await
            .expect("lift")
            .expect("known");
        assert_eq!(lifted.lifted_by.as_deref(), Some("ops"));
        assert!(!lifted.covers("trio", "prod"));
        assert!(store.freezes_active().await.expect("active").is_empty());
        // Lifting again changes nothing; an unknown id is None.
        let again = store
            .freeze_lift(&all.id, "other", now)
            .await
            .expect("lift");
        assert_eq!(again.and_then(|f| f.lifted_by).as_deref(), Some("ops"));
        assert_eq!(
            store.freeze_lift("nope", "ops", now).await.expect("lift"),
            None
        );
        assert_eq!(store.freezes_recent(10).await.expect("recent").len(), 1);
    }
}
