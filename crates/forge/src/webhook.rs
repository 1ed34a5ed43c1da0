//! Inbound webhooks (SPEC §8): push and pull-request deliveries from the
//! five forges, authenticated before anything in them is believed.
//!
//! GitHub, Gitea/Forgejo and Bitbucket sign the raw body with HMAC-SHA256;
//! GitLab sends the secret itself; Azure DevOps service hooks send it as
//! the password of HTTP basic authentication. Every comparison is constant-time, and
//! a missing secret or signature is the same "unauthenticated" as a wrong
//! one. Parsing is done per forge (`parse_*` in each forge's module) into
//! one shape, [`Delivery`].

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{ForgeKind, Secret};

/// One verified delivery: its id (for replay protection) and its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The forge's delivery id (`X-GitHub-Delivery`, `X-Gitea-Delivery`,
    /// GitLab `Idempotency-Key`/`X-Gitlab-Event-UUID`, Bitbucket
    /// `X-Request-UUID`, the Azure DevOps notification's `id`);
    /// `sha256:<hex of the body>` when the forge sent none, so a replayed
    /// body is still recognised.
    pub id: String,
    /// The forge's event name (`push`, `Merge Request Hook`, `repo:push`,
    /// `git.push`…).
    pub event: String,
    pub events: Vec<WebhookEvent>,
}

/// What a delivery says happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookEvent {
    Push(PushEvent),
    PullRequest(PullRequestEvent),
    /// An event ferry does not act on (ping, tag push, branch deletion, a
    /// repository no entry of this secret handles…), with the reason.
    Ignored {
        reason: String,
    },
}

/// A branch moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushEvent {
    /// Every URL the payload names the repository by (clone, SSH, web);
    /// compare with [`crate::repo_key`].
    pub repo_urls: Vec<String>,
    /// Branch name (without `refs/heads/`).
    pub branch: String,
    /// The new tip.
    pub after: String,
}

/// Something happened to a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestEvent {
    pub repo_urls: Vec<String>,
    /// GitHub/Gitea number, GitLab iid, Bitbucket id.
    pub number: u64,
    pub action: PullRequestAction,
    /// The forge's own word for the action (`closed`, `merge`, `pullrequest:fulfilled`…).
    pub raw_action: String,
}

/// What a pull-request event means for a waiting promotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullRequestAction {
    Merged,
    /// Closed (declined) without merge.
    Closed,
    /// Opened, reopened, updated, reviewed…: still open.
    Other,
}

/// Why a webhook delivery is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// No or a wrong signature/token: HTTP 401, nothing changes.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
    /// Authenticated but unreadable: HTTP 400, nothing changes.
    #[error("malformed delivery: {0}")]
    Malformed(String),
}

/// A header's value as text.
pub(crate) fn header<'h>(headers: &'h http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// HMAC-SHA256 of `body` under `secret`.
pub fn hmac_sha256(secret: &[u8], body: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().into()
        }
        Err(_) => [0; 32],
    }
}

/// Checks a hex HMAC-SHA256 signature (with `prefix`, e.g. `sha256=`) in
/// constant time.
pub(crate) fn check_hex_signature(
    secret: &Secret,
    given: Option<&str>,
    prefix: &str,
    body: &[u8],
    header_name: &str,
) -> Result<(), WebhookError> {
    if secret.expose().is_empty() {
        return Err(WebhookError::Unauthenticated(
            "no webhook secret is configured for this forge".into(),
        ));
    }
    let given = given.ok_or_else(|| {
        WebhookError::Unauthenticated(format!("the {header_name} header is missing"))
    })?;
    let hex_part = given.strip_prefix(prefix).unwrap_or("");
    let decoded = hex::decode(hex_part.to_ascii_lowercase()).unwrap_or_default();
    let expected = hmac_sha256(secret.expose().as_bytes(), body);
    if decoded.len() == expected.len() && bool::from(decoded.ct_eq(&expected)) {
        Ok(())
    } else {
        Err(WebhookError::Unauthenticated(format!(
            "the {header_name} signature does not match the body"
        )))
    }
}

/// Compares a token sent verbatim (GitLab) in constant time.
pub(crate) fn check_token(
    secret: &Secret,
    given: Option<&str>,
    header_name: &str,
) -> Result<(), WebhookError> {
    if secret.expose().is_empty() {
        return Err(WebhookError::Unauthenticated(
            "no webhook secret is configured for this forge".into(),
        ));
    }
    let given = given.ok_or_else(|| {
        WebhookError::Unauthenticated(format!("the {header_name} header is missing"))
    })?;
    // Hash both sides so the comparison takes the same time whatever the
    // lengths are.
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(secret.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(WebhookError::Unauthenticated(format!(
            "the {header_name} token is not the configured secret"
        )))
    }
}

/// Verifies a delivery of forge `kind` against `secret`.
pub fn verify(
    kind: ForgeKind,
    secret: &Secret,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    match kind {
        ForgeKind::Github => crate::github::verify_webhook(secret, headers, body),
        ForgeKind::Gitlab => crate::gitlab::verify_webhook(secret, headers),
        ForgeKind::Gitea => crate::gitea::verify_webhook(secret, headers, body),
        ForgeKind::Bitbucket => crate::bitbucket::verify_webhook(secret, headers, body),
        ForgeKind::AzureDevOps => crate::azure::verify_webhook(secret, headers),
    }
}

/// Parses a (verified) delivery of forge `kind`.
pub fn parse(
    kind: ForgeKind,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Delivery, WebhookError> {
    match kind {
        ForgeKind::Github => crate::github::parse_webhook(headers, body),
        ForgeKind::Gitlab => crate::gitlab::parse_webhook(headers, body),
        ForgeKind::Gitea => crate::gitea::parse_webhook(headers, body),
        ForgeKind::Bitbucket => crate::bitbucket::parse_webhook(headers, body),
        ForgeKind::AzureDevOps => crate::azure::parse_webhook(body),
    }
}

/// The delivery id from the first header present, else one derived from the body.
pub(crate) fn delivery_id(headers: &http::HeaderMap, names: &[&str], body: &[u8]) -> String {
    names
        .iter()
        .find_map(|n| header(headers, n))
        .map(|s| crate::truncate_chars(s, 200))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(body))))
}

/// The JSON body, or a 400 naming what is wrong.
pub(crate) fn json(body: &[u8]) -> Result<serde_json::Value, WebhookError> {
    serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("the body is not JSON: {e}")))
}

/// A required string at `path` (dot separated) of `v`.
pub(crate) fn str_at<'v>(v: &'v serde_json::Value, path: &str) -> Result<&'v str, WebhookError> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur
            .get(part)
            .ok_or_else(|| WebhookError::Malformed(format!("`{path}` is missing")))?;
    }
    cur.as_str()
        .ok_or_else(|| WebhookError::Malformed(format!("`{path}` is not a string")))
}

/// A required unsigned number at `path` of `v`.
pub(crate) fn u64_at(v: &serde_json::Value, path: &str) -> Result<u64, WebhookError> {
    let mut cur = v;
    for part in path.split('.') {
        cur = cur
            .get(part)
            .ok_or_else(|| WebhookError::Malformed(format!("`{path}` is missing")))?;
    }
    cur.as_u64()
        .ok_or_else(|| WebhookError::Malformed(format!("`{path}` is not a number")))
}

/// The strings present at the given paths (repository URLs).
pub(crate) fn urls_at(v: &serde_json::Value, paths: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in paths {
        if let Ok(s) = str_at(v, p)
            && !s.is_empty()
            && !out.iter().any(|o| o == s)
        {
            out.push(s.to_owned());
        }
    }
    out
}

/// Fails when a payload names no repository URL at all.
pub(crate) fn need_urls(urls: Vec<String>) -> Result<Vec<String>, WebhookError> {
    if urls.is_empty() {
        Err(WebhookError::Malformed(
            "the payload names no repository URL".into(),
        ))
    } else {
        Ok(urls)
    }
}

/// The all-zero SHA forges send as `after` when a branch is deleted.
pub(crate) fn is_zero_sha(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b == b'0')
}

/// A push event for `ref`, or an ignored event for tags and deletions.
pub(crate) fn push_event(repo_urls: Vec<String>, git_ref: &str, after: &str) -> WebhookEvent {
    match git_ref.strip_prefix("refs/heads/") {
        None => WebhookEvent::Ignored {
            reason: format!("`{git_ref}` is not a branch"),
        },
        Some(_) if is_zero_sha(after) => WebhookEvent::Ignored {
            reason: format!("branch `{git_ref}` was deleted"),
        },
        Some(branch) => WebhookEvent::Push(PushEvent {
            repo_urls,
            branch: branch.to_owned(),
            after: after.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn github_documented_test_vector() {
        // reference §1: secret `It's a Secret to Everybody`, body `Hello, World!`.
        let mac = hmac_sha256(b"It's a Secret to Everybody", b"Hello, World!");
        assert_eq!(
            hex::encode(mac),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn signatures_and_tokens() {
        let s = Secret::new("It's a Secret to Everybody");
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(check_hex_signature(&s, Some(good), "sha256=", b"Hello, World!", "X").is_ok());
        assert!(check_hex_signature(&s, Some(good), "sha256=", b"Hello, World?", "X").is_err());
        assert!(check_hex_signature(&s, Some("sha256=zz"), "sha256=", b"x", "X").is_err());
        assert!(check_hex_signature(&s, None, "sha256=", b"x", "X").is_err());
        assert!(
            check_hex_signature(
                &Secret::new(""),
                Some(good),
                "sha256=",
                b"Hello, World!",
                "X"
            )
            .is_err()
        );
        assert!(check_token(&s, Some("It's a Secret to Everybody"), "T").is_ok());
        assert!(check_token(&s, Some("It's a Secret"), "T").is_err());
        assert!(check_token(&Secret::new(""), Some(""), "T").is_err());
    }
}
