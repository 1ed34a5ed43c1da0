//! Web UI sessions (migration 0012): a row per signed-in browser, keyed
//! by the hash of its cookie, so sessions survive a restart, are shared by
//! every replica on the same database, and are ended server-side.

use ferry_release::Timestamp;

use crate::backend::{RowExt, on_pool};
use crate::columns::{from_millis, millis};
use crate::error::{Result, db};
use crate::store::Store;

/// A stored session. The caller hashes the cookie value; the store never
/// sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    /// Who signed in (the initiator of what they do).
    pub principal: String,
    /// SHA-256 (hex) of the API token used to sign in.
    pub token_hash: String,
    /// The token every form of this session carries.
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Store {
    /// Stores a new session under `id_hash`, and removes expired ones.
    pub async fn ui_session_create(&self, id_hash: &str, s: &UiSession) -> Result<()> {
        let created = millis(s.created_at, id_hash, "session created_at")?;
        let expires = millis(s.expires_at, id_hash, "session expires_at")?;
        on_pool!(&self.backend, |pool| {
            sqlx::query("DELETE FROM ui_sessions WHERE expires_at <= $1")
                .bind(created)
                .execute(pool)
                .await
                .map_err(db("removing expired sessions"))?;
            sqlx::query(
                "INSERT INTO ui_sessions (id_hash, principal, token_hash, csrf, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id_hash)
            .bind(&s.principal)
            .bind(&s.token_hash)
            .bind(&s.csrf)
            .bind(created)
            .bind(expires)
            .execute(pool)
            .await
            .map_err(db("storing a session"))?;
            Ok(())
        })
    }

    /// The session stored under `id_hash` if it has not expired at `now`.
    pub async fn ui_session_get(&self, id_hash: &str, now: Timestamp) -> Result<Option<UiSession>> {
        let now = millis(now, id_hash, "now")?;
        on_pool!(&self.backend, |pool| {
            let row = sqlx::query(
                "SELECT principal, token_hash, csrf, created_at, expires_at FROM ui_sessions \
                 WHERE id_hash = $1 AND expires_at > $2",
            )
            .bind(id_hash)
            .bind(now)
            .fetch_optional(pool)
            .await
            .map_err(db("reading a session"))?;
            row.map(|row| {
                Ok(UiSession {
                    principal: row.text("principal")?,
                    token_hash: row.text("token_hash")?,
                    csrf: row.text("csrf")?,
                    created_at: from_millis(row.int("created_at")?, id_hash, "session created_at")?,
                    expires_at: from_millis(row.int("expires_at")?, id_hash, "session expires_at")?,
                })
            })
            .transpose()
        })
    }

    /// Ends the session stored under `id_hash` (sign-out).
    pub async fn ui_session_delete(&self, id_hash: &str) -> Result<()> {
        on_pool!(&self.backend, |pool| {
            sqlx::query("DELETE FROM ui_sessions WHERE id_hash = $1")
                .bind(id_hash)
                .execute(pool)
                .await
                .map_err(db("ending a session"))?;
            Ok(())
        })
    }

    /// Ends every session signed in with the token of hash `token_hash`
    /// (for when that token is revoked); returns how many.
    pub async fn ui_sessions_delete_for_token(&self, token_hash: &str) -> Result<u64> {
        on_pool!(&self.backend, |pool| {
            let done = sqlx::query("DELETE FROM ui_sessions WHERE token_hash = $1")
                .bind(token_hash)
                .execute(pool)
                .await
                .map_err(db("ending a token's sessions"))?;
            Ok(done.rows_affected())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(now: Timestamp, ttl: time::Duration) -> UiSession {
        UiSession {
            principal: "ivy".into(),
            token_hash: "ab".repeat(32),
            csrf: "cd".repeat(32),
            created_at: now,
            expires_at: now + ttl,
        }
    }

    #[tokio::test]
    async fn create_read_expire_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("s.db"))
            .await
            .unwrap();
        let now = time::macros::datetime!(2026-11-27 08:00:00 UTC);
        let s = session(now, time::Duration::hours(12));
        store.ui_session_create("h1", &s).await.unwrap();
        assert_eq!(
            store.ui_session_get("h1", now).await.unwrap(),
            Some(s.clone())
        );
        assert_eq!(store.ui_session_get("h2", now).await.unwrap(), None);
        let later = now + time::Duration::hours(13);
        assert_eq!(
            store.ui_session_get("h1", later).await.unwrap(),
            None,
            "expired"
        );
        // A later sign-in sweeps expired rows.
        store
            .ui_session_create("h2", &session(later, time::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(
            store.ui_session_get("h1", now).await.unwrap(),
            None,
            "swept"
        );
        store.ui_session_delete("h2").await.unwrap();
        assert_eq!(store.ui_session_get("h2", later).await.unwrap(), None);
        store
            .ui_session_create("h3", &session(later, time::Duration::hours(1)))
            .await
            .unwrap();
        assert_eq!(
            store
                .ui_sessions_delete_for_token(&"ab".repeat(32))
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.ui_session_get("h3", later).await.unwrap(), None);
    }
}
