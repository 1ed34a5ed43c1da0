//! Removing credentials from URLs and from free text (git's stderr).
//!
//! Why: a remote's answer is shown to people (release issues, logs), and git
//! happily echoes the URL it was given. Everything that leaves this crate as
//! text passes through [`Redactor::redact`], which knows the configured secret
//! values and masks credentials in any URL it finds.

/// The mask that replaces a secret.
pub const MASK: &str = "***";

/// Query parameters whose values are treated as secrets (compared
/// case-insensitively; a parameter matches when its name contains one of these).
const SECRET_QUERY_KEYS: &[&str] = &[
    "token",
    "password",
    "passwd",
    "secret",
    "key",
    "auth",
    "sig",
    "credential",
];

/// Returns `url` with credentials masked.
///
/// - `https://user:pass@host/x` → `https://user:***@host/x`
/// - `https://ghp_token@host/x` → `https://***@host/x` (http(s) user names are
///   often tokens, so a lone user name is masked too)
/// - `ssh://git@host/x` and `git@host:org/x` keep the user name (it is not a
///   secret) but mask a password if one is present
/// - query values of token-like parameters (`?private_token=…`) are masked.
///
/// Text that is not a URL is returned unchanged.
pub fn redact_url(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let scheme = &url[..scheme_end];
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rfind('@') {
            Some(at) => {
                let (userinfo, host) = (&authority[..at], &authority[at + 1..]);
                let is_http =
                    scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
                let userinfo = match userinfo.split_once(':') {
                    Some((user, _password)) => format!("{user}:{MASK}"),
                    None if is_http => MASK.to_string(),
                    None => userinfo.to_string(),
                };
                format!("{userinfo}@{host}")
            }
            None => authority.to_string(),
        };
        return format!("{scheme}://{authority}{}", redact_query(tail));
    }
    // scp-like `user:password@host:path` is not valid git syntax, but mask it
    // anyway if someone wrote it.
    if let Some(at) = url.find('@')
        && let Some((user, _)) = url[..at].split_once(':')
        && !url[..at].contains('/')
    {
        return format!("{user}:{MASK}{}", &url[at..]);
    }
    url.to_string()
}

fn redact_query(tail: &str) -> String {
    let Some(q) = tail.find('?') else {
        return tail.to_string();
    };
    let (path, query_and_fragment) = tail.split_at(q + 1);
    let (query, fragment) = match query_and_fragment.find('#') {
        Some(h) => query_and_fragment.split_at(h),
        None => (query_and_fragment, ""),
    };
    let redacted: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _value)) if is_secret_key(key) => format!("{key}={MASK}"),
            _ => pair.to_string(),
        })
        .collect();
    format!("{path}{}{fragment}", redacted.join("&"))
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_QUERY_KEYS.iter().any(|k| key.contains(k))
}

/// Masks secret values and URL credentials in free text.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor that masks `secrets` (empty strings are ignored: masking
    /// them would garble everything).
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(Into::into)
            .filter(|s| !s.is_empty())
            .collect();
        // Longest first, so a secret that contains another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// Adds one more secret value.
    pub fn add(&mut self, secret: impl Into<String>) {
        let secret = secret.into();
        if !secret.is_empty() {
            self.secrets.push(secret);
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Masks every configured secret and the credentials of every URL in `text`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = redact_urls_in_text(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        out
    }
}

/// Finds `scheme://…` runs in free text and redacts each with [`redact_url`].
fn redact_urls_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // Walk back over the scheme characters.
        let scheme_start = rest[..pos]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |i| i + 1);
        let after = &rest[pos..];
        let url_len = after
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '<' | '>' | '`'))
            .unwrap_or(after.len());
        let url_end = pos + url_len;
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact_url(&rest[scheme_start..url_end]));
        rest = &rest[url_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_user_and_password_are_masked() {
        assert_eq!(
            redact_url("https://alice:s3cret@git.example.com/org/repo.git"),
            "https://alice:***@git.example.com/org/repo.git"
        );
    }

    #[test]
    fn https_lone_user_is_treated_as_a_token() {
        assert_eq!(
            redact_url("https://ghp_abcdef@github.com/org/repo.git"),
            "https://***@github.com/org/repo.git"
        );
    }

    #[test]
    fn password_containing_at_sign_is_masked_whole() {
        assert_eq!(
            redact_url("https://bob:p@ss@host/r.git"),
            "https://bob:***@host/r.git"
        );
    }

    #[test]
    fn token_in_query_is_masked_other_params_kept() {
        assert_eq!(
            redact_url("https://gitlab.example.com/g/r.git?private_token=abc123&ref=main#frag"),
            "https://gitlab.example.com/g/r.git?private_token=***&ref=main#frag"
        );
        assert_eq!(
            redact_url("https://h/r.git?access_token=zz"),
            "https://h/r.git?access_token=***"
        );
    }

    #[test]
    fn ssh_user_is_kept_password_masked() {
        assert_eq!(
            redact_url("ssh://git@host:2222/org/r.git"),
            "ssh://git@host:2222/org/r.git"
        );
        assert_eq!(
            redact_url("ssh://git:pw@host/org/r.git"),
            "ssh://git:***@host/org/r.git"
        );
        assert_eq!(
            redact_url("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }

    #[test]
    fn urls_without_credentials_and_paths_are_unchanged() {
        for url in [
            "https://github.com/org/repo.git",
            "file:///srv/git/repo.git",
            "/srv/git/repo.git",
            "../relative/repo",
            "http://127.0.0.1:8080/repo.git",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn urls_inside_text_are_redacted() {
        let text = "fatal: unable to access 'https://u:topsecret@h/r.git/': The requested URL returned error: 403";
        let r = Redactor::default().redact(text);
        assert!(!r.contains("topsecret"), "{r}");
        assert!(r.contains("https://u:***@h/r.git/'"), "{r}");
        assert!(r.ends_with("error: 403"));
    }

    #[test]
    fn configured_secrets_are_masked_anywhere() {
        let r = Redactor::new(["hunter2", "aHVudGVyMg=="]);
        assert_eq!(
            r.redact("header Authorization: Basic aHVudGVyMg== and hunter2"),
            "header Authorization: Basic *** and ***"
        );
        assert_eq!(Redactor::new([""]).redact("abc"), "abc");
    }
}
