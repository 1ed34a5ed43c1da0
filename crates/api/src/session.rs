//! Browser sessions: a person pastes an API token once on the sign-in
//! page and gets a session cookie.
//!
//! Sessions are rows of the store's `ui_sessions` table, so they survive
//! a restart and every replica on the same database knows them. The
//! session id is 32 random bytes; only its SHA-256 is stored, so a
//! database dump or a log line cannot be replayed as a cookie. Sessions
//! end on sign-out (the row is deleted, not only the cookie), after
//! [`SESSION_TTL`], or when their token is revoked
//! (`Store::ui_sessions_delete_for_token`). The cookie is `HttpOnly` (no
//! script reads it), `SameSite=Lax` (not sent on cross-site form posts)
//! and `Secure` when the base URL is https.
//!
//! [`principal_for_token`] is the one place that turns a token into who is
//! acting; roles attach there.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};

use crate::auth::Tokens;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "ferry_session";
/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Who is acting: the initiator recorded on what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
}

/// The token → principal lookup used by sign-in (and only there): the
/// bootstrap admin or a live stored token, with its role.
pub async fn principal_for_token(tokens: &Tokens, token: &str) -> Option<Principal> {
    match tokens.principal(token.trim()).await {
        Ok(p) => p.map(|p| Principal { name: p.name }),
        Err(e) => {
            tracing::warn!(error = %e, "reading API tokens for a sign-in");
            None
        }
    }
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub principal: Principal,
    /// SHA-256 (hex) of the token signed in with: the session acts with
    /// that token's current role, and ends with it.
    pub token_hash: String,
    /// The token every form of this session must carry.
    pub csrf: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot generate a session id: {0}")]
    Random(String),
    #[error("session store: {0}")]
    Store(#[from] ferry_store::Error),
    #[error("session lifetime out of range")]
    Time,
}

impl From<SessionError> for crate::error::ApiError {
    fn from(e: SessionError) -> Self {
        crate::error::ApiError::internal("sessions", e)
    }
}

fn hex_sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// Session settings: lifetime and cookie flags. The sessions themselves
/// are in the store.
pub struct Sessions {
    ttl: Duration,
    secure: bool,
}

impl Sessions {
    /// `base_url` decides the cookie's `Secure` flag.
    pub fn new(base_url: &str) -> Sessions {
        Sessions::with_ttl(base_url, SESSION_TTL)
    }

    pub fn with_ttl(base_url: &str, ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            secure: base_url.to_ascii_lowercase().starts_with("https://"),
        }
    }

    /// Starts a session for `principal`, who signed in with `token`;
    /// returns the session id (the cookie value).
    pub async fn start(
        &self,
        store: &ferry_store::Store,
        principal: Principal,
        token: &str,
    ) -> Result<String, SessionError> {
        let id = crate::csrf::new_token().map_err(|e| SessionError::Random(e.to_string()))?;
        let csrf = crate::csrf::new_token().map_err(|e| SessionError::Random(e.to_string()))?;
        let now = ferry_release::now();
        let ttl = time::Duration::try_from(self.ttl).map_err(|_| SessionError::Time)?;
        store
            .ui_session_create(
                &hex_sha256(&id),
                &ferry_store::UiSession {
                    principal: principal.name,
                    token_hash: hex_sha256(token.trim()),
                    csrf,
                    created_at: now,
                    expires_at: now + ttl,
                },
            )
            .await?;
        Ok(id)
    }

    /// The live session of `id`, if any.
    pub async fn get(
        &self,
        store: &ferry_store::Store,
        id: &str,
    ) -> Result<Option<Session>, SessionError> {
        Ok(store
            .ui_session_get(&hex_sha256(id), ferry_release::now())
            .await?
            .map(|s| Session {
                principal: Principal { name: s.principal },
                token_hash: s.token_hash,
                csrf: s.csrf,
            }))
    }

    /// Ends the session (sign-out): the id is worthless afterwards.
    pub async fn end(&self, store: &ferry_store::Store, id: &str) -> Result<(), SessionError> {
        Ok(store.ui_session_delete(&hex_sha256(id)).await?)
    }

    /// The session a request carries, if any and still live.
    pub async fn from_headers(
        &self,
        store: &ferry_store::Store,
        headers: &HeaderMap,
    ) -> Result<Option<(String, Session)>, SessionError> {
        let Some(id) = cookie(headers, COOKIE_NAME) else {
            return Ok(None);
        };
        Ok(self.get(store, &id).await?.map(|s| (id, s)))
    }

    /// `Set-Cookie` value for a new session.
    pub fn cookie(&self, id: &str) -> String {
        format!(
            "{COOKIE_NAME}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
            self.ttl.as_secs(),
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// `Set-Cookie` value that removes the session cookie.
    pub fn clear_cookie(&self) -> String {
        format!(
            "{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// `Set-Cookie` for the sign-in form's double-submit value.
    pub fn signin_cookie(&self, value: &str) -> String {
        format!(
            "{}={value}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=3600{}",
            crate::csrf::SIGNIN_COOKIE,
            if self.secure { "; Secure" } else { "" }
        )
    }
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn someone() -> Principal {
        Principal { name: "ivy".into() }
    }

    async fn store() -> (tempfile::TempDir, ferry_store::Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = ferry_store::Store::open_sqlite_file(&dir.path().join("s.db"))
            .await
            .unwrap();
        (dir, s)
    }

    #[tokio::test]
    async fn start_get_end() {
        let (_d, store) = store().await;
        let s = Sessions::new("http://127.0.0.1:8080");
        let id = s.start(&store, someone(), "tok").await.unwrap();
        let got = s.get(&store, &id).await.unwrap().unwrap();
        assert_eq!(got.principal, someone());
        assert_eq!(got.csrf.len(), 64);
        assert!(s.get(&store, "not-a-session").await.unwrap().is_none());
        // Another `Sessions` (a restart, another replica) knows it too.
        let other = Sessions::new("http://127.0.0.1:8080");
        assert!(other.get(&store, &id).await.unwrap().is_some());
        s.end(&store, &id).await.unwrap();
        assert!(
            s.get(&store, &id).await.unwrap().is_none(),
            "signed out server-side"
        );
    }

    #[tokio::test]
    async fn expired_and_revoked_sessions_are_gone() {
        let (_d, store) = store().await;
        let s = Sessions::with_ttl("http://x", Duration::from_millis(0));
        let id = s.start(&store, someone(), "tok").await.unwrap();
        assert!(s.get(&store, &id).await.unwrap().is_none());
        let live = Sessions::new("http://x");
        let id = live.start(&store, someone(), " tok ").await.unwrap();
        assert_eq!(
            store
                .ui_sessions_delete_for_token(&hex_sha256("tok"))
                .await
                .unwrap(),
            1
        );
        assert!(live.get(&store, &id).await.unwrap().is_none());
    }

    #[test]
    fn cookie_flags() {
        let plain = Sessions::new("http://ferry.local");
        let c = plain.cookie("abc");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax"));
        assert!(!c.contains("Secure"));
        let tls = Sessions::new("https://ferry.example");
        assert!(tls.cookie("abc").ends_with("; Secure"));
        assert!(tls.clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, "a=1; ferry_session=xyz".parse().unwrap());
        assert_eq!(cookie(&h, COOKIE_NAME).as_deref(), Some("xyz"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
