//! Forge entries of the settings (SPEC §10) and the choice of forge per
//! repository URL: the entry with the longest matching `repoPrefix`.
//!
//! The forge's name for a repository (`owner/repo`) is the URL's path
//! without `.git` for URLs with a host (`https://host/owner/repo.git`,
//! `ssh://git@host/owner/repo`, `git@host:owner/repo.git`), less the path
//! the forge itself is installed under (`https://host/git/owner/repo` with
//! `apiUrl = "https://host/git/api/v1"` is `owner/repo`); for local paths
//! and `file://` URLs, which have no host to strip, it is what follows the
//! prefix. Azure DevOps names a repository `project/repo` from its many URL
//! forms (`azure.rs`).
//!
//! Matching is case-insensitive on hosted URLs: GitHub, GitLab, Gitea,
//! Bitbucket and Azure DevOps all treat owner and repository names so
//! (a push for `Codertocat/Hello-World` is for `codertocat/hello-world`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::webhook::{self, Delivery, WebhookError, WebhookEvent};
use crate::{
    AzureDevOps, Bitbucket, Forge, ForgeError, ForgeKind, GitHub, GitLab, Gitea, RetryPolicy,
    Secret,
};

/// One `[[forges]]` entry of the settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForgeEntry {
    pub kind: Option<ForgeKind>,
    /// Repository URLs starting with this are handled by this entry.
    pub repo_prefix: String,
    /// API base URL; defaults for GitHub, GitLab.com, Bitbucket Cloud and
    /// Azure DevOps (from the organisation in `repoPrefix`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// The forge's web address when it is installed under a path
    /// (`https://host/git`); by default the path in front of `/api/v3`,
    /// `/api/v4` or `/api/v1` in `apiUrl`.
    #[serde(default)]
    pub web_url: Option<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// Name of an environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the token (trailing newline ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// Bitbucket: the Atlassian account email of an API token (sent as
    /// Basic `email:token`); without it the token is sent as `Bearer`
    /// (repository, project and workspace access tokens). Azure DevOps: the
    /// user of a personal access token's Basic pair (usually left empty).
    #[serde(default)]
    pub username: Option<String>,
    /// Shared secret of inbound webhooks.
    #[serde(default)]
    pub webhook_secret: Option<Secret>,
    /// Name of an environment variable holding the webhook secret.
    #[serde(default)]
    pub webhook_secret_env: Option<String>,
    /// Seconds per API call before it counts as failed (default 10).
    #[serde(default)]
    pub timeout: Option<u64>,
    /// Seconds between checks of an open pull request when no webhook
    /// arrives (default 60).
    #[serde(default)]
    pub poll_interval: Option<u64>,
    /// Milliseconds before the first retry of a failed call (statuses,
    /// opening pull requests), doubling up to `retryMaxMs` (default 500).
    #[serde(default)]
    pub retry_initial_ms: Option<u64>,
    /// Longest wait between retries in milliseconds (default 60000); a
    /// forge's `Retry-After` may ask for longer and is honoured.
    #[serde(default)]
    pub retry_max_ms: Option<u64>,
}

/// Why the forge entries cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("forges[{index}] ({prefix}): {message}")]
pub struct RegistryError {
    pub index: usize,
    pub prefix: String,
    pub message: String,
}

/// A configured forge.
pub struct Entry {
    pub kind: ForgeKind,
    pub repo_prefix: String,
    pub forge: Arc<dyn Forge>,
    pub webhook_secret: Secret,
    pub poll_interval: Duration,
    /// The path the forge's web pages live under (`git` for
    /// `https://host/git/owner/repo`), without slashes; empty at the root.
    pub web_path: String,
    /// How calls to this forge are retried (`None`: the caller's policy).
    pub retry: Option<RetryPolicy>,
}

impl Entry {
    /// An entry at the root of its host, polled every minute.
    pub fn new(
        kind: ForgeKind,
        repo_prefix: impl Into<String>,
        forge: Arc<dyn Forge>,
        webhook_secret: Secret,
    ) -> Entry {
        Entry {
            kind,
            repo_prefix: repo_prefix.into(),
            forge,
            webhook_secret,
            poll_interval: Duration::from_secs(60),
            web_path: String::new(),
            retry: None,
        }
    }

    /// The forge's name of the repository at `url`.
    pub fn repo_name(&self, url: &str) -> String {
        if self.kind == ForgeKind::AzureDevOps
            && let Some(name) = crate::azure::repo_name(url, &self.web_path)
        {
            return name;
        }
        repo_path_under(url, &self.repo_prefix, &self.web_path)
    }
}

/// Every configured forge, by repository prefix.
#[derive(Default)]
pub struct Registry {
    entries: Vec<Entry>,
    /// API tokens, only to keep them out of messages.
    tokens: Vec<Secret>,
}

/// A forge chosen for a repository, with the repository's name there.
#[derive(Clone)]
pub struct ForRepo {
    pub forge: Arc<dyn Forge>,
    /// `owner/repo` (GitLab: the full path; Azure DevOps: `project/repo`).
    pub repo: String,
    pub poll_interval: Duration,
    /// The entry's retry policy, when its settings give one.
    pub retry: Option<RetryPolicy>,
}

impl Registry {
    /// Builds clients for `entries`; `env` reads environment variables
    /// (a parameter so tests need not touch the process environment).
    pub fn from_entries(
        entries: &[ForgeEntry],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Registry, RegistryError> {
        let mut out = Vec::new();
        let mut tokens = Vec::new();
        for (index, e) in entries.iter().enumerate() {
            let err = |message: String| RegistryError {
                index,
                prefix: redact(&e.repo_prefix),
                message,
            };
            let kind = e
                .kind
                .ok_or_else(|| err(format!("`kind` is required: {}", ForgeKind::NAMES)))?;
            if e.repo_prefix.is_empty() {
                return Err(err("`repoPrefix` is required".into()));
            }
            let given = [
                e.token.is_some(),
                e.token_env.is_some(),
                e.token_file.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            if given != 1 {
                return Err(err(
                    "give exactly one of token, tokenEnv or tokenFile".into()
                ));
            }
            let token = if let Some(t) = &e.token {
                t.clone()
            } else if let Some(name) = &e.token_env {
                Secret::new(env(name).ok_or_else(|| err(format!("tokenEnv {name} is not set")))?)
            } else if let Some(path) = &e.token_file {
                let text = std::fs::read_to_string(path)
                    .map_err(|x| err(format!("tokenFile {}: {x}", path.display())))?;
                Secret::new(text.trim_end())
            } else {
                Secret::default()
            };
            let webhook_secret = match (&e.webhook_secret, &e.webhook_secret_env) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        "give at most one of webhookSecret and webhookSecretEnv".into(),
                    ));
                }
                (Some(s), None) => s.clone(),
                (None, Some(name)) => Secret::new(
                    env(name).ok_or_else(|| err(format!("webhookSecretEnv {name} is not set")))?,
                ),
                (None, None) => Secret::default(),
            };
            let api_url = match (&e.api_url, kind) {
                (Some(u), _) => u.clone(),
                (None, ForgeKind::Github) => crate::github::DEFAULT_API_URL.into(),
                (None, ForgeKind::Gitlab) => crate::gitlab::DEFAULT_API_URL.into(),
                (None, ForgeKind::Bitbucket) => crate::bitbucket::DEFAULT_API_URL.into(),
                (None, ForgeKind::Gitea) => {
                    return Err(err(
                        "`apiUrl` is required for gitea (https://HOST/api/v1)".into()
                    ));
                }
                (None, ForgeKind::AzureDevOps) => crate::azure::default_api_url(&e.repo_prefix)
                    .ok_or_else(|| {
                        err(
                            "`apiUrl` is required for azuredevops when `repoPrefix` names no \
                             organisation (https://dev.azure.com/ORGANISATION)"
                                .into(),
                        )
                    })?,
            };
            check_api_url(&api_url).map_err(err)?;
            if let Some(w) = &e.web_url {
                check_api_url(w).map_err(|m| err(m.replace("apiUrl", "webUrl")))?;
            }
            let web_path = web_path(kind, &api_url, e.web_url.as_deref());
            let retry = retry_policy(e.retry_initial_ms, e.retry_max_ms).map_err(err)?;
            tokens.push(token.clone());
            let timeout = Duration::from_secs(e.timeout.unwrap_or(10).max(1));
            let build_err = |x: ForgeError| err(x.to_string());
            let secret = webhook_secret.clone();
            let forge: Arc<dyn Forge> = match kind {
                ForgeKind::Github => {
                    Arc::new(GitHub::new(&api_url, token, secret, timeout).map_err(build_err)?)
                }
                ForgeKind::Gitlab => {
                    Arc::new(GitLab::new(&api_url, token, secret, timeout).map_err(build_err)?)
                }
                ForgeKind::Gitea => {
                    Arc::new(Gitea::new(&api_url, token, secret, timeout).map_err(build_err)?)
                }
                ForgeKind::Bitbucket => Arc::new(
                    Bitbucket::new(&api_url, e.username.clone(), token, secret, timeout)
                        .map_err(build_err)?,
                ),
                ForgeKind::AzureDevOps => Arc::new(
                    AzureDevOps::new(&api_url, e.username.clone(), token, secret, timeout)
                        .map_err(build_err)?,
                ),
            };
            out.push(Entry {
                kind,
                repo_prefix: e.repo_prefix.clone(),
                forge,
                webhook_secret,
                poll_interval: Duration::from_secs(e.poll_interval.unwrap_or(60).max(1)),
                web_path,
                retry,
            });
        }
        Ok(Registry {
            entries: out,
            tokens,
        })
    }

    /// A registry of ready-made forges (tests, benchmarks).
    pub fn from_forges(entries: Vec<Entry>) -> Registry {
        Registry {
            entries,
            tokens: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every secret the entries hold (tokens, webhook secrets), to keep
    /// them out of messages.
    pub fn secrets(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| &e.webhook_secret)
            .chain(&self.tokens)
            .map(|s| s.expose().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The entry (longest prefix) of a repository URL.
    fn entry_for(&self, repo_url: &str) -> Option<&Entry> {
        self.entry_for_key(&repo_key(repo_url))
    }

    /// The forge of `repo_url` and the repository's name there; `None` when
    /// no entry's prefix matches.
    pub fn for_repo(&self, repo_url: &str) -> Option<ForRepo> {
        let e = self.entry_for(repo_url)?;
        Some(ForRepo {
            forge: Arc::clone(&e.forge),
            repo: e.repo_name(repo_url),
            poll_interval: e.poll_interval,
            retry: e.retry,
        })
    }

    /// Authenticates a webhook delivery of forge `kind` and parses it.
    ///
    /// Every entry of that kind is tried (each may have its own secret).
    /// Only a delivery that no entry's secret verifies is refused
    /// (`Unauthenticated`, HTTP 401); a verified one is always accepted,
    /// and its events are acted on only for repositories handled by an
    /// entry whose secret signed it, so one team's secret cannot speak for
    /// another team's repositories. The other events come back as
    /// [`WebhookEvent::Ignored`] with the reason: forges disable webhooks
    /// that keep getting 4xx (GitLab after four), and a group or
    /// organisation webhook sends deliveries for every repository in it.
    pub fn authenticate(
        &self,
        kind: ForgeKind,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<Delivery, WebhookError> {
        let candidates: Vec<&Entry> = self.entries.iter().filter(|e| e.kind == kind).collect();
        if candidates.is_empty() {
            return Err(WebhookError::Unauthenticated(format!(
                "no {kind} forge is configured"
            )));
        }
        let mut last = None;
        let mut signed: Vec<&Entry> = Vec::new();
        for e in &candidates {
            match webhook::verify(kind, &e.webhook_secret, headers, body) {
                Ok(()) => signed.push(e),
                Err(x) => last = Some(x),
            }
        }
        if signed.is_empty() {
            return Err(last.unwrap_or_else(|| {
                WebhookError::Unauthenticated("the delivery is not signed".into())
            }));
        }
        let mut delivery = webhook::parse(kind, headers, body)?;
        // The URL a webhook names may be the web or SSH form of the
        // configured one: entries are matched on normalised forms.
        let why_not = |urls: &[String]| -> Option<String> {
            let mut other_entry = false;
            for u in urls {
                match self.entry_for_key(&repo_key(u)) {
                    Some(m) if signed.iter().any(|e| std::ptr::eq(m, *e)) => return None,
                    Some(_) => other_entry = true,
                    None => {}
                }
            }
            let repo = urls.first().map(|u| redact(u)).unwrap_or_default();
            Some(if other_entry {
                format!(
                    "{repo} is handled by a forge entry with another webhook secret; not acted on"
                )
            } else {
                format!("{repo} is outside every configured repoPrefix; not acted on")
            })
        };
        for ev in &mut delivery.events {
            let reason = match ev {
                WebhookEvent::Push(p) => why_not(&p.repo_urls),
                WebhookEvent::PullRequest(p) => why_not(&p.repo_urls),
                WebhookEvent::Ignored { .. } => None,
            };
            if let Some(reason) = reason {
                *ev = WebhookEvent::Ignored { reason };
            }
        }
        Ok(delivery)
    }

    /// The entry (longest prefix) of a repository given by its [`repo_key`].
    fn entry_for_key(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .filter(|e| key_has_prefix(key, &e.repo_prefix))
            .max_by_key(|e| e.repo_prefix.len())
    }
}

/// The retry policy of `retryInitialMs` / `retryMaxMs`, `None` when
/// neither is set.
fn retry_policy(initial: Option<u64>, max: Option<u64>) -> Result<Option<RetryPolicy>, String> {
    if initial.is_none() && max.is_none() {
        return Ok(None);
    }
    let d = RetryPolicy::default();
    let ms = |v: Option<u64>, name: &str, default: Duration| match v {
        None => Ok(default),
        Some(ms) if (1..=86_400_000).contains(&ms) => Ok(Duration::from_millis(ms)),
        Some(ms) => Err(format!(
            "`{name}` must be between 1 and 86400000 milliseconds, not {ms}"
        )),
    };
    let initial = ms(initial, "retryInitialMs", d.initial)?;
    let max = ms(max, "retryMaxMs", d.max)?.max(initial);
    Ok(Some(RetryPolicy {
        initial,
        max,
        max_attempts: d.max_attempts,
    }))
}

/// Whether the repository with key `key` is under `prefix`: the prefix's
/// key is a prefix of the repository's, on a path-segment boundary when
/// the prefix ends with `/` (or `:`, scp-like).
fn key_has_prefix(key: &str, prefix: &str) -> bool {
    let pk = repo_key(prefix);
    if prefix.ends_with('/') || prefix.ends_with(':') {
        let pk = format!("{}/", pk.trim_end_matches('/'));
        format!("{key}/").starts_with(&pk)
    } else {
        key.starts_with(&pk)
    }
}

/// The path a forge's web pages live under: the path of `webUrl`, else
/// the path in front of the API's own (`/api/v3` GitHub Enterprise,
/// `/api/v4` GitLab, `/api/v1` Gitea); for Azure DevOps the organisation
/// or collection the API URL names.
fn web_path(kind: ForgeKind, api_url: &str, web_url: Option<&str>) -> String {
    let path_of = |u: &str| -> String {
        let rest = u.split_once("://").map_or(u, |(_, r)| r);
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        let path = path.split(['?', '#']).next().unwrap_or("");
        path.trim_matches('/').to_owned()
    };
    if let Some(w) = web_url {
        return path_of(w);
    }
    let path = path_of(api_url);
    let suffix = match kind {
        ForgeKind::Github => "api/v3",
        ForgeKind::Gitlab => "api/v4",
        ForgeKind::Gitea => "api/v1",
        ForgeKind::AzureDevOps => return path,
        ForgeKind::Bitbucket => return String::new(),
    };
    match path.strip_suffix(suffix) {
        Some(p) => p.trim_end_matches('/').to_owned(),
        None => String::new(),
    }
}

/// The forge's name of the repository at `url` handled by `prefix`, for a
/// forge at the root of its host.
pub fn repo_path(url: &str, prefix: &str) -> String {
    repo_path_under(url, prefix, "")
}

/// [`repo_path`] for a forge whose web pages live under `web_path`.
pub fn repo_path_under(url: &str, prefix: &str, web_path: &str) -> String {
    let strip = |s: &str| {
        let s = s.trim_matches('/');
        s.strip_suffix(".git").unwrap_or(s).to_owned()
    };
    let unprefixed = |path: &str| -> String {
        let path = path.trim_start_matches('/');
        if !web_path.is_empty()
            && let Some(rest) = strip_prefix_ci(path, web_path)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            return strip(rest);
        }
        strip(path)
    };
    if let Some((_, rest)) = url.split_once("://") {
        if url.starts_with("file://") {
            return strip(url.strip_prefix(prefix).unwrap_or(rest));
        }
        // Drop credentials and host.
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        return unprefixed(path);
    }
    if let Some((host, path)) = url.split_once(':') {
        // scp-like `git@host:owner/repo.git` (not a Windows drive or a local path).
        if !host.contains('/') && host.len() > 1 {
            return unprefixed(path);
        }
    }
    strip(url.strip_prefix(prefix).unwrap_or(url))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    (s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix))
    .then(|| &s[prefix.len()..])
}

/// A repository URL reduced to what identifies the repository, so the
/// clone, SSH and web URLs of one repository compare equal: no scheme,
/// credentials, port for SSH, `.git` or trailing slash; scp-like
/// `git@host:path` read as `host/path`. On hosted URLs the whole key is
/// lowercase (every forge ferry speaks to treats owner and repository
/// names case-insensitively); local paths keep their case. Azure DevOps'
/// URL forms (`dev.azure.com/{org}/{project}/_git/{repo}`,
/// `{org}.visualstudio.com/…`, `ssh.dev.azure.com:v3/{org}/{project}/{repo}`)
/// all become `dev.azure.com/{org}/{project}/_git/{repo}`.
pub fn repo_key(url: &str) -> String {
    let url = url.trim();
    let (host, path) = if let Some((scheme, rest)) = url.split_once("://") {
        if scheme.eq_ignore_ascii_case("file") {
            (String::new(), rest.to_owned())
        } else {
            let rest = rest.split(['?', '#']).next().unwrap_or(rest);
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let host = if scheme == "ssh" {
                host.split(':').next().unwrap_or(host)
            } else {
                host
            };
            (host.to_ascii_lowercase(), path.to_owned())
        }
    } else if let Some((h, p)) = url
        .split_once(':')
        .filter(|(h, _)| !h.contains('/') && h.len() > 1)
    {
        let h = h.rsplit_once('@').map_or(h, |(_, h)| h);
        (h.to_ascii_lowercase(), p.to_owned())
    } else {
        (String::new(), url.to_owned())
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let path = path.trim_matches('/');
    if host.is_empty() {
        return format!("/{path}");
    }
    if let Some(k) = crate::azure::canonical_key(&host, path) {
        return k;
    }
    format!("{host}/{}", path.to_lowercase())
}

fn check_api_url(url: &str) -> Result<(), String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!("apiUrl `{}` is not an http(s) URL", redact(url)));
    };
    if !matches!(scheme, "http" | "https") {
        return Err(format!("apiUrl `{}` is not an http(s) URL", redact(url)));
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "apiUrl `{}` must not contain credentials; use token",
            redact(url)
        ));
    }
    Ok(())
}

/// A URL without its user and password.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            match authority.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}/{path}"),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names() {
        assert_eq!(
            repo_path("https://github.com/acme/app.git", "https://github.com/"),
            "acme/app"
        );
        assert_eq!(
            repo_path(
                "https://tok@gitlab.example/g/sub/p",
                "https://gitlab.example/"
            ),
            "g/sub/p"
        );
        assert_eq!(
            repo_path("git@github.com:acme/app.git", "git@github.com:"),
            "acme/app"
        );
        assert_eq!(
            repo_path("ssh://git@host:2222/acme/app.git", "ssh://git@host:2222/"),
            "acme/app"
        );
        assert_eq!(
            repo_path("/srv/repos/acme/app.git", "/srv/repos/"),
            "acme/app"
        );
        assert_eq!(
            repo_path("file:///srv/repos/acme/app", "file:///srv/repos/"),
            "acme/app"
        );
    }

    #[test]
    fn keys_identify_repositories() {
        // Hosted names are case-insensitive on every forge ferry speaks to.
        let k = repo_key("https://github.com/Acme/app.git");
        assert_eq!(k, "github.com/acme/app");
        assert_eq!(repo_key("https://github.com/acme/APP"), k);
        assert_eq!(repo_key("git@GitHub.com:Acme/app.git"), k);
        assert_eq!(repo_key("ssh://git@github.com:22/Acme/app"), k);
        assert_eq!(repo_key("https://x:tok@github.com/Acme/app/"), k);
        assert_eq!(repo_key("/srv/r/app.git"), "/srv/r/app");
        assert_ne!(
            repo_key("/srv/r/App"),
            repo_key("/srv/r/app"),
            "local paths keep their case"
        );
        assert_eq!(repo_key("file:///srv/r/app"), "/srv/r/app");
        assert_ne!(repo_key("https://github.com/acme/other"), k);
    }

    fn entry(kind: ForgeKind, prefix: &str) -> ForgeEntry {
        ForgeEntry {
            kind: Some(kind),
            repo_prefix: prefix.into(),
            token: Some(Secret::new("t")),
            webhook_secret: Some(Secret::new(format!("secret-{prefix}"))),
            ..ForgeEntry::default()
        }
    }

    #[test]
    fn longest_prefix_wins() {
        let r = Registry::from_entries(
            &[
                entry(ForgeKind::Github, "https://github.com/"),
                entry(ForgeKind::Gitea, "https://github.com/mirror/"),
            ],
            |_| None,
        );
        assert!(r.is_err(), "gitea without apiUrl must be refused");
        let mut gitea = entry(ForgeKind::Gitea, "https://github.com/mirror/");
        gitea.api_url = Some("https://gitea.example/api/v1".into());
        let r = Registry::from_entries(
            &[entry(ForgeKind::Github, "https://github.com/"), gitea],
            |_| None,
        )
        .unwrap();
        assert_eq!(
            r.for_repo("https://github.com/mirror/app")
                .unwrap()
                .forge
                .kind(),
            ForgeKind::Gitea
        );
        let gh = r.for_repo("https://github.com/acme/app.git").unwrap();
        assert_eq!(gh.forge.kind(), ForgeKind::Github);
        assert_eq!(gh.repo, "acme/app");
        assert!(r.for_repo("https://gitlab.com/acme/app").is_none());
        let secrets = r.secrets();
        assert!(
            secrets.contains(&"t".to_string()),
            "tokens are known for redaction"
        );
        assert!(secrets.contains(&"secret-https://github.com/".to_string()));
    }

    #[test]
    fn prefixes_match_case_insensitively_on_segment_boundaries() {
        let r = Registry::from_entries(
            &[entry(ForgeKind::Github, "https://github.com/codertocat/")],
            |_| None,
        )
        .unwrap();
        let gh = r
            .for_repo("https://github.com/Codertocat/Hello-World.git")
            .unwrap();
        assert_eq!(
            gh.repo, "Codertocat/Hello-World",
            "the forge gets the name as written"
        );
        assert!(r.for_repo("git@github.com:CODERTOCAT/x.git").is_some());
        assert!(
            r.for_repo("https://github.com/codertocat-other/x")
                .is_none()
        );
    }

    #[test]
    fn forges_under_a_path_prefix() {
        let mut gitea = entry(ForgeKind::Gitea, "https://code.example/git/");
        gitea.api_url = Some("https://code.example/git/api/v1".into());
        let mut gitlab = entry(ForgeKind::Gitlab, "https://gl.example/gitlab/");
        gitlab.api_url = Some("https://gl.example/gitlab/api/v4".into());
        let mut ghes = entry(ForgeKind::Github, "https://ghe.example/");
        ghes.api_url = Some("https://ghe.example/api/v3".into());
        let mut explicit = entry(ForgeKind::Gitea, "https://proxy.example/");
        explicit.api_url = Some("https://api.proxy.example/api/v1".into());
        explicit.web_url = Some("https://proxy.example/forge/".into());
        let r = Registry::from_entries(&[gitea, gitlab, ghes, explicit], |_| None).unwrap();
        let name = |u: &str| r.for_repo(u).unwrap().repo;
        assert_eq!(name("https://code.example/git/acme/app.git"), "acme/app");
        assert_eq!(
            name("https://code.example/git/git/app.git"),
            "git/app",
            "an owner named like the path"
        );
        assert_eq!(
            name("https://gl.example/gitlab/group/sub/proj"),
            "group/sub/proj"
        );
        // SSH URLs carry no web path.
        assert_eq!(
            repo_path_under(
                "git@gl.example:group/sub/proj.git",
                "git@gl.example:",
                "gitlab"
            ),
            "group/sub/proj"
        );
        assert_eq!(name("https://ghe.example/acme/app"), "acme/app");
        assert_eq!(name("https://proxy.example/forge/acme/app"), "acme/app");
        assert_eq!(web_path(ForgeKind::Github, DEFAULT_GITHUB, None), "");
        assert_eq!(
            web_path(ForgeKind::Github, "https://h.example/ghe/api/v3", None),
            "ghe"
        );
    }

    const DEFAULT_GITHUB: &str = crate::github::DEFAULT_API_URL;

    #[test]
    fn azure_devops_entries() {
        let az = entry(ForgeKind::AzureDevOps, "https://dev.azure.com/acme/");
        let r = Registry::from_entries(&[az], |_| None).unwrap();
        for u in [
            "https://dev.azure.com/acme/Shop/_git/gitops",
            "https://acme@dev.azure.com/acme/Shop/_git/gitops",
            "git@ssh.dev.azure.com:v3/acme/Shop/gitops",
        ] {
            let t = r.for_repo(u).unwrap();
            assert_eq!(t.forge.kind(), ForgeKind::AzureDevOps);
            assert_eq!(t.repo, "Shop/gitops", "{u}");
        }
        let server = ForgeEntry {
            api_url: None,
            ..entry(ForgeKind::AzureDevOps, "https://tfs.example/tfs/")
        };
        let err = Registry::from_entries(&[server], |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("apiUrl"), "{err}");
        let mut server = entry(ForgeKind::AzureDevOps, "https://tfs.example/tfs/");
        server.api_url = Some("https://tfs.example/tfs/DefaultCollection".into());
        let r = Registry::from_entries(&[server], |_| None).unwrap();
        assert_eq!(
            r.for_repo("https://tfs.example/tfs/DefaultCollection/Shop/_git/gitops")
                .unwrap()
                .repo,
            "Shop/gitops"
        );
    }

    #[test]
    fn retry_settings() {
        let mut e = entry(ForgeKind::Github, "https://github.com/");
        e.retry_initial_ms = Some(10);
        e.retry_max_ms = Some(50);
        let r = Registry::from_entries(&[e.clone()], |_| None).unwrap();
        let p = r.for_repo("https://github.com/a/b").unwrap().retry.unwrap();
        assert_eq!(p.initial, Duration::from_millis(10));
        assert_eq!(p.max, Duration::from_millis(50));
        e.retry_max_ms = Some(0);
        let err = Registry::from_entries(&[e], |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("retryMaxMs"), "{err}");
        let r =
            Registry::from_entries(&[entry(ForgeKind::Github, "https://github.com/")], |_| None)
                .unwrap();
        assert!(
            r.for_repo("https://github.com/a/b")
                .unwrap()
                .retry
                .is_none()
        );
    }

    #[test]
    fn entries_are_validated_without_leaking() {
        let mut e = entry(ForgeKind::Github, "https://github.com/");
        e.token_env = Some("NOPE".into());
        let err = Registry::from_entries(&[e], |_| None).err().unwrap();
        assert!(err.to_string().contains("exactly one"), "{err}");
        let mut e = entry(ForgeKind::Github, "https://github.com/");
        e.api_url = Some("https://user:pw@ghe.example/api/v3".into());
        let err = Registry::from_entries(&[e], |_| None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("credentials") && !err.contains("pw"), "{err}");
        let mut e = entry(ForgeKind::Github, "https://github.com/");
        e.token = None;
        e.token_env = Some("GH_TOKEN".into());
        let r = Registry::from_entries(&[e], |k| (k == "GH_TOKEN").then(|| "x".into()));
        assert!(r.is_ok());
        let printed = format!("{:?}", entry(ForgeKind::Github, "p"));
        assert!(!printed.contains("secret-p"), "{printed}");
    }
}
