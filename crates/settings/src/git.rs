//! `[[gitCredentials]]`: credentials by repository prefix (SPEC §10), set
//! by the file or `FERRY_GIT_*`, resolved into what the Git layer uses.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::SettingsError;
use crate::secret::{Secret, read_token};

/// Credentials for repositories whose URL starts with `repo_prefix`; the
/// entry with the longest matching prefix wins (SPEC §10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitCredential {
    pub repo_prefix: String,
    /// Basic-auth user, or the user a token is sent as (default
    /// `x-access-token`).
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub token: Option<Secret>,
    /// Name of an environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// File holding the token (trailing newline ignored).
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// SSH: the private key file (for `ssh://` and `git@host:path` URLs).
    #[serde(default)]
    pub ssh_key_file: Option<PathBuf>,
    /// SSH: the known_hosts file the server's host key is checked against
    /// (strictly; required with `sshKeyFile`).
    #[serde(default)]
    pub known_hosts_file: Option<PathBuf>,
}

/// `FERRY_GIT_REPO_PREFIX`, `_USERNAME`, `_TOKEN` and `_PASSWORD` apply
/// to the first `[[gitCredentials]]` entry (created when absent, for every
/// repository unless `FERRY_GIT_REPO_PREFIX` narrows it).
pub(crate) fn git_credential_env(
    list: &mut Vec<GitCredential>,
    env: &impl Fn(&str) -> Option<String>,
) {
    let (prefix, user, token, password) = (
        env("FERRY_GIT_REPO_PREFIX"),
        env("FERRY_GIT_USERNAME"),
        env("FERRY_GIT_TOKEN"),
        env("FERRY_GIT_PASSWORD"),
    );
    if prefix.is_none() && user.is_none() && token.is_none() && password.is_none() {
        return;
    }
    if list.is_empty() {
        list.push(GitCredential::default());
    }
    let first = &mut list[0];
    if let Some(v) = prefix {
        first.repo_prefix = v;
    }
    if let Some(v) = user {
        first.username = Some(v);
    }
    if token.is_some() || password.is_some() {
        // The variable's secret replaces whatever the file said.
        first.token = None;
        first.token_env = None;
        first.token_file = None;
        first.password = None;
        first.ssh_key_file = None;
        first.known_hosts_file = None;
    }
    if let Some(v) = token {
        first.token = Some(Secret(v));
    } else if let Some(v) = password {
        first.password = Some(Secret(v));
    }
}

/// Resolves the configured Git credentials into what the Git layer uses.
pub fn resolve_credentials(
    entries: &[GitCredential],
) -> Result<Vec<(String, ferry_git::Credentials)>, SettingsError> {
    let mut out = Vec::new();
    for (index, c) in entries.iter().enumerate() {
        let err = |message: String| SettingsError::Credential {
            index,
            prefix: ferry_config::redact_url(&c.repo_prefix),
            message,
        };
        let token = read_token(
            c.token.as_ref(),
            c.token_env.as_deref(),
            c.token_file.as_deref(),
        )
        .map_err(err)?;
        let creds = match (token, &c.password) {
            (None, None) if c.ssh_key_file.is_some() => {
                let (Some(key_file), Some(known_hosts)) = (&c.ssh_key_file, &c.known_hosts_file)
                else {
                    return Err(err("sshKeyFile needs knownHostsFile".into()));
                };
                for (field, path) in [("sshKeyFile", key_file), ("knownHostsFile", known_hosts)] {
                    std::fs::metadata(path)
                        .map_err(|e| err(format!("{field} {}: {e}", path.display())))?;
                }
                ferry_git::Credentials::Ssh {
                    key_file: key_file.clone(),
                    known_hosts: known_hosts.clone(),
                }
            }
            (Some(token), _) => ferry_git::Credentials::Token {
                username: c
                    .username
                    .clone()
                    .unwrap_or_else(|| "x-access-token".into()),
                token: ferry_git::Secret::new(token),
            },
            (None, Some(pw)) => ferry_git::Credentials::Basic {
                username: c.username.clone().unwrap_or_default(),
                password: ferry_git::Secret::new(pw.0.clone()),
            },
            (None, None) => ferry_git::Credentials::None,
        };
        out.push((c.repo_prefix.clone(), creds));
    }
    Ok(out)
}

/// The credentials of the entry with the longest prefix of `url`.
pub fn credentials_for(
    entries: &[(String, ferry_git::Credentials)],
    url: &str,
) -> ferry_git::Credentials {
    entries
        .iter()
        .filter(|(prefix, _)| url.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, c)| c.clone())
        .unwrap_or_default()
}
