//! Server settings of release notes (SPEC §7, §10): how the registries
//! holding the promoted images are reached, and the notes' limits.
//!
//! | file key                 | environment                        | default |
//! |--------------------------|------------------------------------|---------|
//! | `registries`             | (file only)                        | none    |
//! | `insecureRegistries`     | `FERRY_INSECURE_REGISTRIES` (a,b)  | none (loopback registries always plain HTTP) |
//! | `registryTimeout`        | `FERRY_REGISTRY_TIMEOUT`           | 10 s    |
//! | `notesFirstReleaseLimit` | `FERRY_NOTES_FIRST_RELEASE_LIMIT`  | 50      |
//! | `notesRefreshInterval`   | `FERRY_NOTES_REFRESH_INTERVAL`     | 600 s (0 = only on request) |
//!
//! A `[[registries]]` entry: `host` (`ghcr.io`, `registry.example:5000`),
//! `username`, and exactly one of `password`, `passwordEnv` (the name of
//! an environment variable) or `passwordFile` (a mounted secret) — the
//! password or access token that the registry's token endpoint or Basic
//! challenge accepts. Like every secret of the settings it is kept in a
//! [`Secret`] (never printed) and masked in API errors.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::SettingsError;
use crate::secret::Secret;

/// One registry's credentials, as written in the settings file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryCredential {
    /// Registry host as it appears in image references (`host[:port]`).
    pub host: String,
    pub username: String,
    #[serde(default)]
    pub password: Option<Secret>,
    /// Name of an environment variable holding the password or token.
    #[serde(default)]
    pub password_env: Option<String>,
    /// File holding the password or token (trailing newline ignored).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

/// The release-notes keys of the settings file (every key optional).
#[derive(Debug, Clone, Default)]
pub(crate) struct NotesFileKeys {
    pub registries: Vec<RegistryCredential>,
    pub insecure_registries: Option<Vec<String>>,
    pub registry_timeout: Option<u64>,
    pub notes_first_release_limit: Option<u64>,
    pub notes_refresh_interval: Option<u64>,
}

/// Effective release-notes settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseNotesSettings {
    /// Credentials by registry host, secrets resolved.
    pub registries: Vec<(String, String, Secret)>,
    /// Registries spoken to over plain HTTP (`host[:port]`).
    pub insecure_registries: Vec<String>,
    /// Per registry request.
    pub registry_timeout: Duration,
    /// Commits listed for a product's first release, unless the product's
    /// `spec.releaseNotes.firstReleaseLimit` says otherwise.
    pub first_release_limit: usize,
    /// Degraded cached notes are computed again on read once this old;
    /// `None`: only `POST …/notes/refresh` does.
    pub refresh_interval: Option<Duration>,
}

impl Default for ReleaseNotesSettings {
    fn default() -> Self {
        let d = ferry_notes::NotesSettings::default();
        ReleaseNotesSettings {
            registries: Vec::new(),
            insecure_registries: Vec::new(),
            registry_timeout: Duration::from_secs(10),
            first_release_limit: d.first_release_limit,
            refresh_interval: d.refresh_degraded_after,
        }
    }
}

impl ReleaseNotesSettings {
    /// The file's keys, then `FERRY_*` variables read through `env` (which
    /// also resolves `passwordEnv`, so tests need not touch the process
    /// environment).
    pub(crate) fn load(
        mut file: NotesFileKeys,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<ReleaseNotesSettings, SettingsError> {
        let d = ReleaseNotesSettings::default();
        if let Some(v) = env("FERRY_INSECURE_REGISTRIES") {
            file.insecure_registries = Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            );
        }
        let number = |name: &str, slot: &mut Option<u64>| -> Result<(), SettingsError> {
            if let Some(v) = env(name) {
                let t = v.trim();
                *slot = Some(t.strip_suffix('s').unwrap_or(t).parse().map_err(|_| {
                    SettingsError::Env {
                        name: name.into(),
                        message: format!("`{v}` is not a whole number"),
                    }
                })?);
            }
            Ok(())
        };
        number("FERRY_REGISTRY_TIMEOUT", &mut file.registry_timeout)?;
        number(
            "FERRY_NOTES_FIRST_RELEASE_LIMIT",
            &mut file.notes_first_release_limit,
        )?;
        number(
            "FERRY_NOTES_REFRESH_INTERVAL",
            &mut file.notes_refresh_interval,
        )?;

        let mut registries = Vec::new();
        for (index, r) in file.registries.into_iter().enumerate() {
            let bad = |message: String| SettingsError::Registry {
                index,
                host: r.host.clone(),
                message,
            };
            if r.host.is_empty() || r.host.contains('/') || r.host.contains('@') {
                return Err(bad("host: give the registry's host[:port] only".into()));
            }
            if r.username.is_empty() {
                return Err(bad("username is empty".into()));
            }
            let given = [
                r.password.is_some(),
                r.password_env.is_some(),
                r.password_file.is_some(),
            ]
            .into_iter()
            .filter(|b| *b)
            .count();
            if given != 1 {
                return Err(bad(
                    "give exactly one of password, passwordEnv or passwordFile".into(),
                ));
            }
            let secret = if let Some(p) = &r.password {
                p.clone()
            } else if let Some(var) = &r.password_env {
                Secret::new(env(var).ok_or_else(|| bad(format!("passwordEnv: {var} is not set")))?)
            } else if let Some(path) = &r.password_file {
                Secret::new(
                    std::fs::read_to_string(path)
                        .map_err(|e| bad(format!("passwordFile {}: {e}", path.display())))?
                        .trim_end()
                        .to_owned(),
                )
            } else {
                Secret::default()
            };
            if secret.expose().is_empty() {
                return Err(bad("the password is empty".into()));
            }
            registries.push((r.host.clone(), r.username.clone(), secret));
        }
        let timeout = match file.registry_timeout {
            None => d.registry_timeout,
            Some(0) => {
                return Err(SettingsError::Value {
                    key: "registryTimeout",
                    message: "must be at least 1 second".into(),
                });
            }
            Some(n) => Duration::from_secs(n),
        };
        Ok(ReleaseNotesSettings {
            registries,
            insecure_registries: file.insecure_registries.unwrap_or_default(),
            registry_timeout: timeout,
            first_release_limit: file
                .notes_first_release_limit
                .map_or(d.first_release_limit, |n| {
                    usize::try_from(n).unwrap_or(usize::MAX)
                }),
            refresh_interval: match file.notes_refresh_interval {
                None => d.refresh_interval,
                Some(0) => None,
                Some(n) => Some(Duration::from_secs(n)),
            },
        })
    }

    /// The registry client's settings.
    pub fn oci(&self) -> ferry_notes::OciSettings {
        ferry_notes::OciSettings {
            insecure: self.insecure_registries.clone(),
            credentials: self
                .registries
                .iter()
                .map(|(host, user, secret)| {
                    (host.clone(), (user.clone(), secret.expose().to_owned()))
                })
                .collect(),
            timeout: Some(self.registry_timeout),
        }
    }

    /// The notes builder's settings.
    pub fn builder(&self) -> ferry_notes::NotesSettings {
        ferry_notes::NotesSettings {
            first_release_limit: self.first_release_limit,
            refresh_degraded_after: self.refresh_interval,
            ..ferry_notes::NotesSettings::default()
        }
    }
}
