//! What every page shares: who is looking (the [`Viewer`] extractor, which
//! also enforces read access), the page frame's data ([`Layout`]), the
//! error a page returns ([`UiError`], drawn by `errors`), and small formatting helpers (times, durations,
//! commit links, path segments).

use askama::Template;
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{Html, IntoResponse, Redirect, Response};
use ferry_release::Timestamp;

use ferry_api::Shared;
use ferry_api::error::ApiError;

/// The person looking at a page: signed in (with the session's CSRF
/// token), or anonymous when anonymous read is on. Anyone else is sent to
/// the sign-in page, which brings them back afterwards.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub name: Option<String>,
    pub csrf: String,
    pub session_id: Option<String>,
    /// Who acts, with the role of the token signed in with (read anew on
    /// every request) and the client address: what the API's role checks
    /// and audit entries take. `None` when not signed in.
    pub caller: Option<std::sync::Arc<ferry_api::Authenticated>>,
    /// Why the store cannot be written now, when it cannot (issue 23):
    /// every page says so in a banner, since actions will be refused.
    pub storage_down: Option<String>,
    /// The active stop-the-line freezes (issue 20), for every page's banner.
    pub frozen: Option<String>,
}

impl Viewer {
    pub fn signed_in(&self) -> bool {
        self.name.is_some()
    }
}

/// The active freezes as one banner line; `None` when there are none (or
/// they cannot be read now: the storage banner says so then).
async fn frozen(state: &Shared) -> Option<String> {
    // A store that cannot be read now has its own banner.
    let freezes = state.engine.freezes(false).await.ok()?;
    if freezes.is_empty() {
        return None;
    }
    let each: Vec<String> = freezes
        .iter()
        .map(|f| {
            format!(
                "{} frozen by {} since {}: {}",
                f.scope(),
                f.created_by,
                when(f.created_at).text,
                f.reason
            )
        })
        .collect();
    Some(format!(
        "Stop-the-line — {}. Releases are created but write nothing there until the freeze is lifted.",
        each.join("; ")
    ))
}

fn storage_down(state: &Shared) -> Option<String> {
    state.health.down().map(|(for_, _)| {
        format!(
            "ferry's storage cannot be written (for {} s): promotions and other actions are refused until it can; releases resume by themselves then.",
            for_.as_secs()
        )
    })
}

impl FromRequestParts<Shared> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Response> {
        let session = state
            .sessions
            .from_headers(&state.store, &parts.headers)
            .await
            .map_err(|e| UiError(e.into()).into_response())?;
        if let Some((id, s)) = session {
            let principal = match hex::decode(&s.token_hash)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
            {
                Some(h) => state
                    .tokens
                    .principal_by_hash(&h)
                    .await
                    .map_err(|e| UiError(ApiError::from(e)).into_response())?,
                None => None,
            };
            // A revoked token ends its sessions.
            if let Some(principal) = principal {
                return Ok(Viewer {
                    name: Some(principal.name.clone()),
                    csrf: s.csrf,
                    session_id: Some(id),
                    caller: Some(std::sync::Arc::new(ferry_api::Authenticated {
                        name: principal.name.clone(),
                        principal,
                        remote: ferry_security::client_address(
                            parts,
                            &state.security.trusted_proxies,
                        ),
                    })),
                    storage_down: storage_down(state),
                    frozen: frozen(state).await,
                });
            }
        }
        if state.anonymous_read {
            return Ok(Viewer {
                name: None,
                csrf: String::new(),
                session_id: None,
                caller: None,
                storage_down: storage_down(state),
                frozen: frozen(state).await,
            });
        }
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        Err(Redirect::to(&format!("/signin?next={}", query_value(next))).into_response())
    }
}

/// The page frame's data.
#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub viewer: Option<String>,
    pub csrf: String,
    /// Which main navigation entry is current (`products`, `releases`, …).
    pub nav: &'static str,
    /// The storage banner's text, while the store cannot be written.
    pub storage_down: Option<String>,
    /// Whether the viewer is an admin (admin pages are linked for them only).
    pub admin: bool,
    /// The stop-the-line banner's text, while a freeze is active.
    pub frozen: Option<String>,
}

impl Layout {
    pub fn new(title: impl Into<String>, viewer: &Viewer, nav: &'static str) -> Layout {
        Layout {
            title: title.into(),
            viewer: viewer.name.clone(),
            csrf: viewer.csrf.clone(),
            nav,
            storage_down: viewer.storage_down.clone(),
            admin: viewer
                .caller
                .as_ref()
                .is_some_and(|c| c.require(ferry_api::auth::Role::Admin).is_ok()),
            frozen: viewer.frozen.clone(),
        }
    }

    /// The icons every page references (see [`crate::status::SPRITE`]).
    pub fn sprite(&self) -> &'static str {
        crate::status::SPRITE
    }

    /// `aria-current` for a navigation entry.
    pub fn current(&self, entry: &str) -> &'static str {
        if self.nav == entry { "page" } else { "false" }
    }
}

/// A page, rendered, with headers that keep it out of shared caches.
pub fn page<T: Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => UiError::from(ApiError::internal("rendering a page", e)).into_response(),
    }
}

/// An error shown as a page (the JSON API's message and status), drawn
/// for the viewer by [`crate::errors`].
#[derive(Debug)]
pub struct UiError(pub ApiError);

impl<E: Into<ApiError>> From<E> for UiError {
    fn from(e: E) -> UiError {
        UiError(e.into())
    }
}

/// A time for `<time datetime>`: ISO for the script (which shows it in
/// the viewer's time zone, with a relative hint), UTC text without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub iso: String,
    pub text: String,
}

pub fn when(t: Timestamp) -> When {
    let t = t.to_offset(time::UtcOffset::UTC);
    let iso = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let text = t
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default();
    When { iso, text }
}

/// `1h 02m`, `3m 07s`, `12.3s`, `0.4s`.
pub fn duration(from: Option<Timestamp>, to: Option<Timestamp>) -> String {
    let (Some(a), Some(b)) = (from, to) else {
        return String::new();
    };
    let ms = (b - a).whole_milliseconds().max(0);
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}.{}s", s, (ms % 1000) / 100)
    }
}

/// A repository URL fit to show: credentials masked.
pub fn repo_shown(url: &str) -> String {
    ferry_security::redact(url)
}

/// A browsable link to a commit for http(s) repositories (GitHub, Gitea,
/// Forgejo and Bitbucket answer `<repo>/commit/<sha>`; GitLab redirects
/// it); none for local paths and SSH URLs.
pub fn commit_link(repo_url: &str, sha: &str) -> Option<String> {
    let lower = repo_url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) || sha.is_empty() {
        return None;
    }
    if !sha.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let shown = repo_shown(repo_url);
    if shown.contains("***") {
        return None;
    }
    let base = shown.trim_end_matches('/').trim_end_matches(".git");
    Some(format!("{base}/commit/{sha}"))
}

pub fn short_sha(sha: &str) -> String {
    sha.chars().take(10).collect()
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved).
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes a query value.
pub fn query_value(s: &str) -> String {
    seg(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_links() {
        let a = time::macros::datetime!(2026-01-01 10:00:00 UTC);
        assert_eq!(
            duration(Some(a), Some(a + time::Duration::seconds(187))),
            "3m 07s"
        );
        assert_eq!(
            duration(Some(a), Some(a + time::Duration::milliseconds(1234))),
            "1.2s"
        );
        assert_eq!(duration(Some(a), None), "");
        assert_eq!(
            commit_link("https://git.example/org/repo.git", "abc123").as_deref(),
            Some("https://git.example/org/repo/commit/abc123")
        );
        assert_eq!(commit_link("/tmp/repo.git", "abc123"), None);
        assert_eq!(commit_link("https://u:pw@git.example/r", "abc"), None);
        assert_eq!(seg("a b/c"), "a%20b%2Fc");
        assert_eq!(when(a).text, "2026-01-01 10:00:00 UTC");
    }
}
