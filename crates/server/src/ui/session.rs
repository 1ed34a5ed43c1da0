//! Browser sessions: a person pastes an API token once on the sign-in
//! page and gets a session cookie.
//!
//! Sessions live in memory: a restart signs everyone out, which errs on
//! the safe side. The session id is 32 random bytes; only its SHA-256 is
//! kept, so a memory dump or a log line cannot be replayed as a cookie.
//! Sessions end on sign-out (removed server-side, not only the cookie) or
//! after [`SESSION_TTL`]; expired ones are pruned on every sign-in.
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Lax` (not sent
//! on cross-site form posts) and `Secure` when the base URL is https.
//!
//! [`principal_for_token`] is the one place that turns a token into who is
//! acting; roles attach there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use sha2::{Digest, Sha256};

use crate::api::AppState;

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "ferry_session";
/// How long a session lasts after sign-in.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 60 * 60);

/// Who is acting: the initiator recorded on what they do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
}

/// The token → principal lookup used by sign-in (and only there).
pub fn principal_for_token(state: &AppState, token: &str) -> Option<Principal> {
    state.tokens.check(token.trim()).map(|name| Principal {
        name: name.to_owned(),
    })
}

#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// The token every form of this session must carry.
    pub csrf: String,
    expires: Instant,
}

/// The server's sessions, keyed by the hash of the session id.
pub struct Sessions {
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
    ttl: Duration,
    secure: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot generate a session id: {0}")]
pub struct SessionError(String);

fn id_hash(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

impl Sessions {
    /// `base_url` decides the cookie's `Secure` flag.
    pub fn new(base_url: &str) -> Sessions {
        Sessions::with_ttl(base_url, SESSION_TTL)
    }

    pub fn with_ttl(base_url: &str, ttl: Duration) -> Sessions {
        Sessions {
            by_hash: Mutex::new(HashMap::new()),
            ttl,
            secure: base_url.to_ascii_lowercase().starts_with("https://"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.by_hash.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session; returns the session id (the cookie value).
    pub fn start(&self, principal: Principal) -> Result<String, SessionError> {
        let id = super::csrf::new_token().map_err(|e| SessionError(e.to_string()))?;
        let csrf = super::csrf::new_token().map_err(|e| SessionError(e.to_string()))?;
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| s.expires > now);
        map.insert(
            id_hash(&id),
            Session {
                principal,
                csrf,
                expires: now + self.ttl,
            },
        );
        Ok(id)
    }

    /// The live session of `id`; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<Session> {
        let key = id_hash(id);
        let mut map = self.lock();
        match map.get(&key) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session (sign-out): the id is worthless afterwards.
    pub fn end(&self, id: &str) {
        self.lock().remove(&id_hash(id));
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
            super::csrf::SIGNIN_COOKIE,
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The session a request carries, if any and still live.
    pub fn from_headers(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE_NAME)?;
        self.get(&id).map(|s| (id, s))
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

    #[test]
    fn start_get_end() {
        let s = Sessions::new("http://127.0.0.1:8080");
        let id = s.start(someone()).unwrap();
        assert_eq!(s.get(&id).unwrap().principal, someone());
        assert!(s.get("not-a-session").is_none());
        s.end(&id);
        assert!(s.get(&id).is_none(), "signed out server-side");
    }

    #[test]
    fn expired_sessions_are_gone() {
        let s = Sessions::with_ttl("http://x", Duration::from_millis(0));
        let id = s.start(someone()).unwrap();
        assert!(s.get(&id).is_none());
        assert!(s.is_empty(), "removed on access");
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
