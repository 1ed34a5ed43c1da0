//! `[[notifications]]`: where ferry tells people about releases (issue 20)
//! — one entry per receiver, checked, and turned into a
//! [`ferry_notify::Subscription`] with its secrets read.
//!
//! A Slack or Teams URL is itself the secret (whoever has it can post), so
//! the URL is given like a token: `url`, `urlEnv` or `urlFile`; the
//! signing key of `webhook` (and optionally `cloudevents`) the same way:
//! `secret`, `secretEnv` or `secretFile`. Errors name the entry and the
//! field, never a value.

use std::path::PathBuf;
use std::time::Duration;

use ferry_notify::{EventType, Filter, Kind, Subject, Subscription};
use serde::Deserialize;

use crate::error::SettingsError;
use crate::secret::{Secret, read_token};

/// One `[[notifications]]` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationSettings {
    /// Unique; deliveries name it (letters, digits, `.`, `_`, `-`).
    pub name: String,
    /// `slack`, `teams`, `webhook` or `cloudevents`.
    pub kind: String,
    #[serde(default)]
    pub url: Option<Secret>,
    #[serde(default)]
    pub url_env: Option<String>,
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub secret_env: Option<String>,
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Event types wanted (`started`, `suspended`, `approval-needed`,
    /// `failed`, `succeeded`, `rolled-back`, `superseded`, `terminated`);
    /// none: all.
    #[serde(default)]
    pub events: Vec<String>,
    /// Product names (`*` at the end matches any rest); none: all.
    #[serde(default)]
    pub products: Vec<String>,
    /// Environment names (as products); none: all, and release events.
    #[serde(default)]
    pub environments: Vec<String>,
    /// `release` and/or `environment` events; none: both.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Tries before a delivery is given up (default 8).
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Seconds one try may take (default 10).
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn kind_of(s: &str) -> Option<Kind> {
    match s {
        "slack" => Some(Kind::Slack),
        "teams" => Some(Kind::Teams),
        "webhook" => Some(Kind::Webhook),
        "cloudevents" => Some(Kind::CloudEvents),
        _ => None,
    }
}

fn count(flags: &[bool]) -> usize {
    flags.iter().filter(|b| **b).count()
}

/// Checks what can be checked without reading files or variables.
pub(crate) fn check_notifications(list: &[NotificationSettings]) -> Result<(), SettingsError> {
    let mut names = std::collections::HashSet::new();
    for (index, n) in list.iter().enumerate() {
        let err = |message: String| SettingsError::Notification {
            index,
            name: n.name.clone(),
            message,
        };
        if n.name.is_empty()
            || !n
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(err(
                "`name` is required: letters, digits, `.`, `_` and `-`".into()
            ));
        }
        if !names.insert(n.name.as_str()) {
            return Err(err("another entry has this name".into()));
        }
        let Some(kind) = kind_of(&n.kind) else {
            return Err(err(format!(
                "`kind` `{}`: use slack, teams, webhook or cloudevents",
                n.kind
            )));
        };
        if count(&[n.url.is_some(), n.url_env.is_some(), n.url_file.is_some()]) != 1 {
            return Err(err("give exactly one of url, urlEnv or urlFile".into()));
        }
        let keys = count(&[
            n.secret.is_some(),
            n.secret_env.is_some(),
            n.secret_file.is_some(),
        ]);
        if keys > 1 {
            return Err(err(
                "give at most one of secret, secretEnv or secretFile".into()
            ));
        }
        match kind {
            Kind::Webhook if keys == 0 => {
                return Err(err(
                    "a webhook is signed: give secret, secretEnv or secretFile".into(),
                ));
            }
            Kind::Slack | Kind::Teams if keys > 0 => {
                return Err(err(
                    "Slack and Teams do not check signatures: their URL is the secret".into(),
                ));
            }
            _ => {}
        }
        for (i, e) in n.events.iter().enumerate() {
            if EventType::parse(e).is_none() {
                let known: Vec<_> = EventType::ALL.iter().map(|e| e.as_str()).collect();
                return Err(err(format!(
                    "events[{i}] `{e}`: use one of {}",
                    known.join(", ")
                )));
            }
        }
        for (i, s) in n.subjects.iter().enumerate() {
            if !matches!(s.as_str(), "release" | "environment") {
                return Err(err(format!(
                    "subjects[{i}] `{s}`: use release or environment"
                )));
            }
        }
        if n.max_attempts == Some(0) {
            return Err(err("maxAttempts must be at least 1".into()));
        }
        if n.timeout == Some(0) {
            return Err(err("timeout must be at least 1 (seconds)".into()));
        }
    }
    Ok(())
}

/// Entry `index` as the notifier takes it: URL and key read from where the
/// settings point, and checked.
pub fn notification_subscription(
    index: usize,
    n: &NotificationSettings,
) -> Result<Subscription, SettingsError> {
    let err = |message: String| SettingsError::Notification {
        index,
        name: n.name.clone(),
        message,
    };
    let kind = kind_of(&n.kind).ok_or_else(|| err(format!("`kind` `{}`", n.kind)))?;
    let name_fields = |m: String| {
        m.replace("tokenEnv", "urlEnv")
            .replace("tokenFile", "urlFile")
    };
    let url = read_token(n.url.as_ref(), n.url_env.as_deref(), n.url_file.as_deref())
        .map_err(|m| err(name_fields(m)))?
        .ok_or_else(|| err("give exactly one of url, urlEnv or urlFile".into()))?;
    let url = url.trim().to_owned();
    let parsed = url.parse::<http::Uri>().ok();
    if !parsed
        .as_ref()
        .is_some_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some())
    {
        // The value is the secret: only its shape is described.
        return Err(err("url is not an http:// or https:// URL".into()));
    }
    let signing_key = read_token(
        n.secret.as_ref(),
        n.secret_env.as_deref(),
        n.secret_file.as_deref(),
    )
    .map_err(|m| {
        err(m
            .replace("tokenEnv", "secretEnv")
            .replace("tokenFile", "secretFile"))
    })?;
    if signing_key.as_deref().is_some_and(str::is_empty) {
        return Err(err("the signing secret is empty".into()));
    }
    Ok(Subscription {
        name: n.name.clone(),
        kind,
        url: ferry_notify::Secret::new(url),
        signing_key: signing_key.map(ferry_notify::Secret::new),
        filter: Filter {
            events: n
                .events
                .iter()
                .filter_map(|e| EventType::parse(e))
                .collect(),
            products: n.products.clone(),
            environments: n.environments.clone(),
            subjects: n
                .subjects
                .iter()
                .map(|s| {
                    if s == "release" {
                        Subject::Release
                    } else {
                        Subject::Environment
                    }
                })
                .collect(),
        },
        max_attempts: n.max_attempts.unwrap_or(ferry_notify::DEFAULT_MAX_ATTEMPTS),
        timeout: n
            .timeout
            .map_or(ferry_notify::DEFAULT_TIMEOUT, Duration::from_secs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(toml_text: &str) -> NotificationSettings {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn entries_are_checked_naming_the_entry_never_the_secret() {
        let slack = entry(
            "name = \"ops\"\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/sekrit\"\nevents = [\"failed\"]\n",
        );
        check_notifications(std::slice::from_ref(&slack)).unwrap();
        let s = notification_subscription(0, &slack).unwrap();
        assert_eq!(s.kind, Kind::Slack);
        assert_eq!(s.filter.events, vec![EventType::Failed]);
        assert!(!format!("{s:?}").contains("sekrit"));

        let unsigned = entry("name = \"w\"\nkind = \"webhook\"\nurl = \"https://x.example/h\"\n");
        let e = check_notifications(&[unsigned]).unwrap_err().to_string();
        assert!(
            e.starts_with("notifications[0] (w): a webhook is signed"),
            "{e}"
        );

        let bad_event = entry(
            "name = \"c\"\nkind = \"cloudevents\"\nurl = \"https://x.example\"\nevents = [\"exploded\"]\n",
        );
        let e = check_notifications(&[bad_event]).unwrap_err().to_string();
        assert!(e.contains("events[0] `exploded`"), "{e}");

        let not_url = entry("name = \"t\"\nkind = \"teams\"\nurl = \"sekrit-not-a-url\"\n");
        let e = notification_subscription(0, &not_url)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an http") && !e.contains("sekrit"), "{e}");

        let from_env =
            entry("name = \"t\"\nkind = \"teams\"\nurlEnv = \"FERRY_TEST_NO_SUCH_VARIABLE_20\"\n");
        let e = notification_subscription(0, &from_env)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("urlEnv FERRY_TEST_NO_SUCH_VARIABLE_20 is not set"),
            "{e}"
        );

        let dup = [slack.clone(), slack];
        let e = check_notifications(&dup).unwrap_err().to_string();
        assert!(
            e.starts_with("notifications[1] (ops): another entry"),
            "{e}"
        );
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key");
        std::fs::write(&key, "k3y\n").unwrap();
        let n = entry(&format!(
            "name = \"w\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/hook\"\nsecretFile = \"{}\"\nmaxAttempts = 3\ntimeout = 2\n",
            key.display()
        ));
        check_notifications(std::slice::from_ref(&n)).unwrap();
        let s = notification_subscription(0, &n).unwrap();
        assert_eq!(s.signing_key.unwrap().expose(), "k3y");
        assert_eq!((s.max_attempts, s.timeout), (3, Duration::from_secs(2)));
    }
}
