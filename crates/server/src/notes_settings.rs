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

use crate::settings::{Secret, SettingsError};

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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::settings::{Overrides, Settings};

    fn load(toml: &str, vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(&path, toml).unwrap();
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(Some(&path), |n| vars.get(n).cloned(), Overrides::default())
    }

    #[test]
    fn defaults() {
        let s = load("", &[]).unwrap().release_notes;
        assert_eq!(s, ReleaseNotesSettings::default());
        assert_eq!(s.registry_timeout, Duration::from_secs(10));
        assert_eq!(s.first_release_limit, 50);
        assert_eq!(s.refresh_interval, Some(Duration::from_secs(600)));
        let b = s.builder();
        assert_eq!(b.first_release_limit, 50);
        assert!(!b.allow_local_sources);
    }

    #[test]
    fn registries_limits_and_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "file-secret-3\n").unwrap();
        let toml = format!(
            "insecureRegistries = [\"registry.lan:5000\"]\nregistryTimeout = 4\nnotesFirstReleaseLimit = 20\nnotesRefreshInterval = 0\n\
             [[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npassword = \"plain-secret-1\"\n\
             [[registries]]\nhost = \"registry.lan:5000\"\nusername = \"ci\"\npasswordEnv = \"LAN_TOKEN\"\n\
             [[registries]]\nhost = \"quay.io\"\nusername = \"robot\"\npasswordFile = \"{}\"\n",
            file.display()
        );
        let s = load(&toml, &[("LAN_TOKEN", "env-secret-2")]).unwrap();
        let n = &s.release_notes;
        assert_eq!(n.registry_timeout, Duration::from_secs(4));
        assert_eq!(n.first_release_limit, 20);
        assert_eq!(n.refresh_interval, None);
        let oci = n.oci();
        assert_eq!(oci.insecure, ["registry.lan:5000"]);
        assert_eq!(oci.timeout, Some(Duration::from_secs(4)));
        assert_eq!(
            oci.credentials["ghcr.io"],
            ("bot".into(), "plain-secret-1".into())
        );
        assert_eq!(
            oci.credentials["registry.lan:5000"],
            ("ci".into(), "env-secret-2".into())
        );
        assert_eq!(
            oci.credentials["quay.io"],
            ("robot".into(), "file-secret-3".into())
        );
        // Never printed: neither the settings nor the registry client's.
        let shown = format!("{s:?} {oci:?}");
        for secret in ["plain-secret-1", "env-secret-2", "file-secret-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("ghcr.io"), "{shown}");

        // Variables win over the file.
        let s = load(
            &toml,
            &[
                ("LAN_TOKEN", "x"),
                ("FERRY_INSECURE_REGISTRIES", "a:1, b"),
                ("FERRY_REGISTRY_TIMEOUT", "7s"),
                ("FERRY_NOTES_FIRST_RELEASE_LIMIT", "5"),
                ("FERRY_NOTES_REFRESH_INTERVAL", "30"),
            ],
        )
        .unwrap()
        .release_notes;
        assert_eq!(s.insecure_registries, ["a:1", "b"]);
        assert_eq!(s.registry_timeout, Duration::from_secs(7));
        assert_eq!(s.first_release_limit, 5);
        assert_eq!(s.refresh_interval, Some(Duration::from_secs(30)));
    }

    #[test]
    fn bad_entries_are_named_without_their_secrets() {
        let err = |toml: &str, vars: &[(&str, &str)]| load(toml, vars).unwrap_err().to_string();
        let e = err(
            "[[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npasswordEnv = \"UNSET\"\n",
            &[],
        );
        assert_eq!(e, "registries[0] (ghcr.io): passwordEnv: UNSET is not set");
        let e = err(
            "[[registries]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npassword = \"s3cret-x\"\npasswordEnv = \"V\"\n",
            &[],
        );
        assert!(e.contains("exactly one of password"), "{e}");
        assert!(!e.contains("s3cret-x"), "{e}");
        let e = err(
            "[[registries]]\nhost = \"https://ghcr.io/acme\"\nusername = \"bot\"\npassword = \"p\"\n",
            &[],
        );
        assert!(
            e.starts_with("registries[0] (https://ghcr.io/acme): host:"),
            "{e}"
        );
        let e = err(
            "[[registries]]\nhost = \"h\"\nusername = \"u\"\npassword = \"p\"\ntoken = \"t\"\n",
            &[],
        );
        assert!(e.contains("unknown field `token`"), "{e}");
        let e = err("", &[("FERRY_REGISTRY_TIMEOUT", "soon")]);
        assert!(e.contains("FERRY_REGISTRY_TIMEOUT"), "{e}");
        let e = err("registryTimeout = 0\n", &[]);
        assert_eq!(e, "registryTimeout: must be at least 1 second");
    }
}
