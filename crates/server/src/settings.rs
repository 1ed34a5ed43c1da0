//! Server settings (SPEC §10): a TOML file, every key overridable by a
//! `FERRY_*` environment variable and then by command-line flags.
//!
//! Keys are camelCase in the file (`databaseUrl`) and SCREAMING_SNAKE after
//! `FERRY_` in the environment (`FERRY_DATABASE_URL`). Secrets are kept in
//! [`Secret`], whose `Debug` never shows the value, so printing settings
//! (or an error that embeds them) cannot leak a token.
//!
//! | file key             | environment                  | flag               | default                       |
//! |----------------------|------------------------------|--------------------|-------------------------------|
//! | `listen`             | `FERRY_LISTEN`               | `--listen`         | `127.0.0.1:8080`              |
//! | `databaseUrl`        | `FERRY_DATABASE_URL`         | `--database-url`   | `sqlite://<dataDir>/ferry.db` |
//! | `baseUrl`            | `FERRY_BASE_URL`             | `--base-url`       | `http://<listen>`             |
//! | `config`             | `FERRY_CONFIG`               | `--config`         | (required)                    |
//! | `configBranch`       | `FERRY_CONFIG_BRANCH`        | `--config-branch`  | the remote's HEAD             |
//! | `configPath`         | `FERRY_CONFIG_PATH`          | `--config-path`    | repository root               |
//! | `dataDir`            | `FERRY_DATA_DIR`             | `--data-dir`       | `./ferry-data`                |
//! | `adminToken`         | `FERRY_ADMIN_TOKEN`          |                    | generated on first start      |
//! | `pollInterval`       | `FERRY_POLL_INTERVAL`        |                    | 30 s (0 = off)                |
//! | `configPollInterval` | `FERRY_CONFIG_POLL_INTERVAL` |                    | 10 s (0 = off)                |
//! | `anonymousRead`      | `FERRY_ANONYMOUS_READ`       | `--anonymous-read` | false                         |
//! | `trustedProxies`     | `FERRY_TRUSTED_PROXIES` (a,b)|                    | none                          |
//! | `workflowSecrets`    | `FERRY_WORKFLOW_SECRETS` (names) |                | none                          |
//! | `demo`               | `FERRY_DEMO`                 |                    | false (`ferry demo` sets it)  |
//! | `runtime`            | `FERRY_RUNTIME`              |                    | `ferry` (workflows' `RUNTIME`) |
//!
//! Promotion workflows on an Argo Workflows server (`[argoWorkflows]`):
//! see [`crate::workflow_settings`].
//!
//! Release notes (`registries`, `insecureRegistries`, `registryTimeout`,
//! `notesFirstReleaseLimit`, `notesRefreshInterval`): see
//! [`crate::notes_settings`].
//!
//! `trustedProxies`: addresses or CIDR blocks whose `X-Forwarded-For` is
//! believed for the audit log and rate limits. `workflowSecrets`: a table
//! `NAME = "value"`, `NAME = { env = "VAR" }` or `NAME = { file = "path" }`;
//! each becomes the environment variable `NAME` of every local workflow
//! step, and its value is masked in step logs, errors and the API.
//! `FERRY_WORKFLOW_SECRETS=A,B` passes ferry's own variables `A` and `B`.
//! Secrets for workflows come only from here, never from the
//! configuration repository (which anyone who can push to it could read).
//!
//! `[[gitCredentials]]` entries (`FERRY_GIT_*` set the first one): `repoPrefix` and exactly one
//! of `password` (with `username`), `token` (optional `username`),
//! `tokenEnv`, `tokenFile`, or `sshKeyFile` with `knownHostsFile` (for
//! `ssh://` and `git@host:path` URLs; host keys checked strictly).
//!
//! `[[forges]]` entries (SPEC §10; `FERRY_FORGE_*` set the first one): `kind` (github, gitlab,
//! gitea, bitbucket), `repoPrefix`, `apiUrl`, exactly one of `token`,
//! `tokenEnv` or `tokenFile`, and `webhookSecret` or `webhookSecretEnv`
//! (see `ferry_forge::ForgeEntry`). Secrets are redacted in `Debug`.
//! `[[argocd]]` entries, one per Argo CD instance (SPEC §6): `name`, `url`,
//! at most one of `token`, `tokenEnv`, `tokenFile`; optional `uiUrl`,
//! `caFile` (PEM of extra trusted roots), `appNamespace`, `hardRefresh`
//! (ask `?refresh=hard` after each promotion commit), `watch` (keep the
//! application stream open; default true) and `default` (applications
//! bound to no instance use this one; otherwise they use the git
//! provider). `FERRY_ARGOCD_URL`, `FERRY_ARGOCD_TOKEN`,
//! `FERRY_ARGOCD_CA_FILE` and `FERRY_ARGOCD_APP_NAMESPACE` apply to the
//! first entry (one named `argocd`, the default, is created when there is
//! none).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A value that must never be printed.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (hashing, a Git remote).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

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

/// Where a workflow secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum SecretSource {
    Value(Secret),
    Env { env: String },
    File { file: PathBuf },
}

/// One Argo CD instance (SPEC §6, §10).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoCdSettings {
    pub name: String,
    /// API server base URL, without credentials.
    pub url: String,
    /// Where links into Argo CD's UI point; default `url`.
    #[serde(default)]
    pub ui_url: Option<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub app_namespace: Option<String>,
    #[serde(default)]
    pub hard_refresh: bool,
    #[serde(default)]
    pub watch: Option<bool>,
    #[serde(default)]
    pub default: bool,
}

/// The settings file as written (every key optional).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    database_url: Option<String>,
    base_url: Option<String>,
    config: Option<String>,
    config_branch: Option<String>,
    config_path: Option<String>,
    data_dir: Option<PathBuf>,
    admin_token: Option<Secret>,
    poll_interval: Option<u64>,
    config_poll_interval: Option<u64>,
    anonymous_read: Option<bool>,
    demo: Option<bool>,
    runtime: Option<String>,
    #[serde(default)]
    git_credentials: Vec<GitCredential>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    #[serde(default)]
    workflow_secrets: std::collections::BTreeMap<String, SecretSource>,
    #[serde(default)]
    forges: Vec<ferry_forge::ForgeEntry>,
    #[serde(default)]
    argocd: Vec<ArgoCdSettings>,
    argo_workflows: Option<crate::workflow_settings::ArgoWorkflowsSettings>,
    // Release notes (see `notes_settings`).
    #[serde(default)]
    registries: Vec<crate::notes_settings::RegistryCredential>,
    insecure_registries: Option<Vec<String>>,
    registry_timeout: Option<u64>,
    notes_first_release_limit: Option<u64>,
    notes_refresh_interval: Option<u64>,
}

/// Values given on the command line; they win over the file and the
/// environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub database_url: Option<String>,
    pub base_url: Option<String>,
    pub config: Option<String>,
    pub config_branch: Option<String>,
    pub config_path: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub anonymous_read: Option<bool>,
}

/// Effective settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address (`127.0.0.1:8080`).
    pub listen: String,
    /// Database URL; default: SQLite file `ferry.db` in the data directory.
    pub database_url: Option<String>,
    /// Public base URL (release links); default `http://<listen>`.
    pub base_url: Option<String>,
    /// Configuration source: a directory or a Git repository URL.
    pub config: Option<String>,
    pub config_branch: Option<String>,
    pub config_path: Option<String>,
    /// Where the database, mirrors, workflow scratch space and the
    /// bootstrap token hash live.
    pub data_dir: PathBuf,
    /// Bootstrap admin token; when absent one is generated on first start.
    pub admin_token: Option<Secret>,
    /// Trigger polling interval; `None` (0 in the file) disables it.
    pub poll_interval: Option<Duration>,
    /// How often the configuration source is checked for changes; `None`
    /// (0) disables live configuration.
    pub config_poll_interval: Option<Duration>,
    /// Reads without a token.
    pub anonymous_read: bool,
    /// The `RUNTIME` argument of pre- and post-action workflows (Codefresh
    /// passes its runtime's name; templates brought from it may use it).
    pub runtime: String,
    pub git_credentials: Vec<GitCredential>,
    /// Proxies whose `X-Forwarded-For` is believed (addresses, CIDR).
    pub trusted_proxies: Vec<String>,
    /// Environment variables given to every local workflow step.
    pub workflow_secrets: std::collections::BTreeMap<String, Secret>,
    /// Forges for commit statuses, pull requests and webhooks.
    pub forges: Vec<ferry_forge::ForgeEntry>,
    /// Argo CD instances; none: every application uses the git provider.
    pub argocd: Vec<ArgoCdSettings>,
    /// The Argo Workflows server promotion workflows run on; none: the
    /// local executor runs them on this machine.
    pub argo_workflows: Option<crate::workflow_settings::ArgoWorkflowsSettings>,
    /// Demo mode (`ferry demo`): the web UI offers a "Merge pull request"
    /// button on promotions waiting for a branch of a local repository to
    /// be merged, standing in for the forge the demo does not have.
    pub demo: bool,
    /// Registries and limits of release notes.
    pub release_notes: crate::notes_settings::ReleaseNotesSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: "127.0.0.1:8080".into(),
            database_url: None,
            base_url: None,
            config: None,
            config_branch: None,
            config_path: None,
            data_dir: PathBuf::from("ferry-data"),
            admin_token: None,
            poll_interval: Some(Duration::from_secs(30)),
            config_poll_interval: Some(Duration::from_secs(10)),
            anonymous_read: false,
            runtime: "ferry".into(),
            git_credentials: Vec::new(),
            trusted_proxies: Vec::new(),
            workflow_secrets: Default::default(),
            forges: Vec::new(),
            argocd: Vec::new(),
            argo_workflows: None,
            demo: false,
            release_notes: Default::default(),
        }
    }
}

/// Why the settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("settings file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
    #[error("trustedProxies: {0}")]
    TrustedProxies(String),
    #[error("workflowSecrets.{name}: {message}")]
    WorkflowSecret { name: String, message: String },
    #[error("gitCredentials[{index}] ({prefix}): {message}")]
    Credential {
        index: usize,
        prefix: String,
        message: String,
    },
    #[error("{key}: {message}")]
    Value { key: &'static str, message: String },
    #[error("registries[{index}] ({host}): {message}")]
    Registry {
        index: usize,
        host: String,
        message: String,
    },
    #[error("argocd[{index}] ({name}): {message}")]
    ArgoCd {
        index: usize,
        name: String,
        message: String,
    },
    #[error("argoWorkflows: {message}")]
    ArgoWorkflows { message: String },
}

impl Settings {
    /// File (if any), then `FERRY_*` variables read through `env`, then
    /// `flags`. `env` is a parameter so tests need not touch the process
    /// environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
        flags: Overrides,
    ) -> Result<Settings, SettingsError> {
        let mut fs = match file {
            None => FileSettings::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Read {
                    path: path.display().to_string(),
                    source,
                })?;
                parse_file(&text).map_err(|message| SettingsError::Parse {
                    path: path.display().to_string(),
                    message,
                })?
            }
        };
        let string = |name: &str, slot: &mut Option<String>| {
            if let Some(v) = env(name) {
                *slot = Some(v);
            }
        };
        string("FERRY_LISTEN", &mut fs.listen);
        string("FERRY_DATABASE_URL", &mut fs.database_url);
        string("FERRY_BASE_URL", &mut fs.base_url);
        string("FERRY_CONFIG", &mut fs.config);
        string("FERRY_CONFIG_BRANCH", &mut fs.config_branch);
        string("FERRY_CONFIG_PATH", &mut fs.config_path);
        string("FERRY_RUNTIME", &mut fs.runtime);
        if let Some(v) = env("FERRY_DATA_DIR") {
            fs.data_dir = Some(PathBuf::from(v));
        }
        if let Some(v) = env("FERRY_ADMIN_TOKEN") {
            fs.admin_token = Some(Secret(v));
        }
        if let Some(v) = env("FERRY_POLL_INTERVAL") {
            fs.poll_interval = Some(parse_seconds("FERRY_POLL_INTERVAL", &v)?);
        }
        if let Some(v) = env("FERRY_CONFIG_POLL_INTERVAL") {
            fs.config_poll_interval = Some(parse_seconds("FERRY_CONFIG_POLL_INTERVAL", &v)?);
        }
        if let Some(v) = env("FERRY_ANONYMOUS_READ") {
            fs.anonymous_read = Some(parse_bool("FERRY_ANONYMOUS_READ", &v)?);
        }
        if let Some(v) = env("FERRY_DEMO") {
            fs.demo = Some(parse_bool("FERRY_DEMO", &v)?);
        }
        argocd_env(&mut fs.argocd, &env);
        forge_env(&mut fs.forges, &env)?;
        git_credential_env(&mut fs.git_credentials, &env);
        crate::workflow_settings::apply_env(&mut fs.argo_workflows, &env);

        if let Some(v) = env("FERRY_TRUSTED_PROXIES") {
            fs.trusted_proxies = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
        }
        if let Some(v) = env("FERRY_WORKFLOW_SECRETS") {
            for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                fs.workflow_secrets.insert(
                    name.to_owned(),
                    SecretSource::Env {
                        env: name.to_owned(),
                    },
                );
            }
        }
        ferry_security::TrustedProxies::parse(&fs.trusted_proxies)
            .map_err(SettingsError::TrustedProxies)?;
        let mut workflow_secrets = std::collections::BTreeMap::new();
        for (name, source) in std::mem::take(&mut fs.workflow_secrets) {
            let bad = |message: String| SettingsError::WorkflowSecret {
                name: name.clone(),
                message,
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("not a valid environment variable name".into()));
            }
            let value = match source {
                SecretSource::Value(v) => v,
                SecretSource::Env { env: var } => Secret(
                    env(&var)
                        .ok_or_else(|| bad(format!("environment variable {var} is not set")))?,
                ),
                SecretSource::File { file } => Secret(
                    std::fs::read_to_string(&file)
                        .map_err(|e| bad(format!("file {}: {e}", file.display())))?
                        .trim_end()
                        .to_owned(),
                ),
            };
            if value.0.is_empty() {
                return Err(bad("the value is empty".into()));
            }
            workflow_secrets.insert(name, value);
        }

        let release_notes = crate::notes_settings::ReleaseNotesSettings::load(
            crate::notes_settings::NotesFileKeys {
                registries: std::mem::take(&mut fs.registries),
                insecure_registries: fs.insecure_registries.take(),
                registry_timeout: fs.registry_timeout,
                notes_first_release_limit: fs.notes_first_release_limit,
                notes_refresh_interval: fs.notes_refresh_interval,
            },
            &env,
        )?;
        let d = Settings::default();
        let secs = |v: Option<u64>, default: Option<Duration>| match v {
            None => default,
            Some(0) => None,
            Some(n) => Some(Duration::from_secs(n)),
        };
        let settings = Settings {
            listen: flags.listen.or(fs.listen).unwrap_or(d.listen),
            database_url: flags.database_url.or(fs.database_url),
            base_url: flags.base_url.or(fs.base_url),
            config: flags.config.or(fs.config),
            config_branch: flags.config_branch.or(fs.config_branch),
            config_path: flags.config_path.or(fs.config_path),
            data_dir: flags.data_dir.or(fs.data_dir).unwrap_or(d.data_dir),
            admin_token: fs.admin_token.filter(|t| !t.0.is_empty()),
            poll_interval: secs(fs.poll_interval, d.poll_interval),
            config_poll_interval: secs(fs.config_poll_interval, d.config_poll_interval),
            anonymous_read: flags
                .anonymous_read
                .or(fs.anonymous_read)
                .unwrap_or(d.anonymous_read),
            runtime: fs
                .runtime
                .filter(|r| !r.trim().is_empty())
                .unwrap_or(d.runtime),
            git_credentials: fs.git_credentials,
            trusted_proxies: fs.trusted_proxies,
            workflow_secrets,
            forges: fs.forges,
            argocd: fs.argocd,
            argo_workflows: fs.argo_workflows,
            demo: fs.demo.unwrap_or(d.demo),
            release_notes,
        };
        check_argocd(&settings.argocd)?;
        if let Some(a) = &settings.argo_workflows {
            a.check()?;
        }
        for (index, c) in settings.git_credentials.iter().enumerate() {
            let given = [
                c.password.is_some(),
                c.token.is_some(),
                c.token_env.is_some(),
                c.token_file.is_some(),
                c.ssh_key_file.is_some(),
            ]
            .iter()
            .filter(|b| **b)
            .count();
            let bad = |message: &str| SettingsError::Credential {
                index,
                prefix: ferry_config::redact_url(&c.repo_prefix),
                message: message.into(),
            };
            if given != 1 {
                return Err(bad(
                    "give exactly one of password, token, tokenEnv, tokenFile or sshKeyFile",
                ));
            }
            if c.ssh_key_file.is_some() != c.known_hosts_file.is_some() {
                return Err(bad(
                    "sshKeyFile and knownHostsFile go together (host keys are checked strictly)",
                ));
            }
            if c.password.is_some() && c.username.is_none() {
                return Err(SettingsError::Credential {
                    index,
                    prefix: ferry_config::redact_url(&c.repo_prefix),
                    message: "password needs a username".into(),
                });
            }
        }
        Ok(settings)
    }

    /// The database URL in effect.
    pub fn effective_database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("ferry.db").display()
            ),
        }
    }

    /// The public base URL in effect.
    pub fn effective_base_url(&self) -> String {
        match &self.base_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }
}

/// `FERRY_FORGE_KIND`, `_REPO_PREFIX`, `_API_URL`, `_TOKEN` and
/// `_WEBHOOK_SECRET` apply to the first `[[forges]]` entry (created when
/// absent), like `FERRY_ARGOCD_*`: one forge configured from a
/// Kubernetes Secret without a settings file.
fn forge_env(
    list: &mut Vec<ferry_forge::ForgeEntry>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), SettingsError> {
    let (kind, prefix, api, token, secret) = (
        env("FERRY_FORGE_KIND"),
        env("FERRY_FORGE_REPO_PREFIX"),
        env("FERRY_FORGE_API_URL"),
        env("FERRY_FORGE_TOKEN"),
        env("FERRY_FORGE_WEBHOOK_SECRET"),
    );
    if kind.is_none() && prefix.is_none() && api.is_none() && token.is_none() && secret.is_none() {
        return Ok(());
    }
    if list.is_empty() {
        list.push(ferry_forge::ForgeEntry::default());
    }
    let first = &mut list[0];
    if let Some(v) = kind {
        first.kind = Some(
            ferry_forge::ForgeKind::parse(&v).ok_or_else(|| SettingsError::Env {
                name: "FERRY_FORGE_KIND".into(),
                message: format!("`{v}` is not a forge (github, gitlab, gitea, bitbucket)"),
            })?,
        );
    }
    if let Some(v) = prefix {
        first.repo_prefix = v;
    }
    if let Some(v) = api {
        first.api_url = Some(v);
    }
    if let Some(v) = token {
        first.token = Some(ferry_forge::Secret::new(v));
        first.token_env = None;
        first.token_file = None;
    }
    if let Some(v) = secret {
        first.webhook_secret = Some(ferry_forge::Secret::new(v));
        first.webhook_secret_env = None;
    }
    Ok(())
}

/// `FERRY_GIT_REPO_PREFIX`, `_USERNAME`, `_TOKEN` and `_PASSWORD` apply
/// to the first `[[gitCredentials]]` entry (created when absent, for every
/// repository unless `FERRY_GIT_REPO_PREFIX` narrows it).
fn git_credential_env(list: &mut Vec<GitCredential>, env: &impl Fn(&str) -> Option<String>) {
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

/// `FERRY_ARGOCD_*` apply to the first instance (created when absent).
fn argocd_env(list: &mut Vec<ArgoCdSettings>, env: &impl Fn(&str) -> Option<String>) {
    let (url, token, ca, ns) = (
        env("FERRY_ARGOCD_URL"),
        env("FERRY_ARGOCD_TOKEN"),
        env("FERRY_ARGOCD_CA_FILE"),
        env("FERRY_ARGOCD_APP_NAMESPACE"),
    );
    if url.is_none() && token.is_none() && ca.is_none() && ns.is_none() {
        return;
    }
    if list.is_empty() {
        list.push(ArgoCdSettings {
            name: "argocd".into(),
            default: true,
            ..ArgoCdSettings::default()
        });
    }
    let first = &mut list[0];
    if let Some(v) = url {
        first.url = v;
    }
    if let Some(v) = token {
        first.token = Some(Secret(v));
        first.token_env = None;
        first.token_file = None;
    }
    if let Some(v) = ca {
        first.ca_file = Some(PathBuf::from(v));
    }
    if let Some(v) = ns {
        first.app_namespace = Some(v);
    }
}

fn check_argocd(list: &[ArgoCdSettings]) -> Result<(), SettingsError> {
    let mut names = std::collections::HashSet::new();
    for (index, a) in list.iter().enumerate() {
        let err = |message: &str| SettingsError::ArgoCd {
            index,
            name: a.name.clone(),
            message: message.into(),
        };
        if a.name.trim().is_empty() {
            return Err(err("`name` is required"));
        }
        if !names.insert(a.name.as_str()) {
            return Err(err("another instance has this name"));
        }
        if a.url.trim().is_empty() {
            return Err(err("`url` is required"));
        }
        let tokens = [
            a.token.is_some(),
            a.token_env.is_some(),
            a.token_file.is_some(),
        ];
        if tokens.iter().filter(|b| **b).count() > 1 {
            return Err(err("give at most one of token, tokenEnv or tokenFile"));
        }
    }
    if list.iter().filter(|a| a.default).count() > 1 {
        return Err(SettingsError::ArgoCd {
            index: list.iter().rposition(|a| a.default).unwrap_or(0),
            name: String::new(),
            message: "only one instance can be the default".into(),
        });
    }
    Ok(())
}

/// An instance's settings as the provider takes them: the token and CA
/// read from where the settings point.
pub(crate) fn argocd_instance(
    index: usize,
    a: &ArgoCdSettings,
) -> Result<ferry_appstate::argocd::InstanceConfig, SettingsError> {
    let err = |message: String| SettingsError::ArgoCd {
        index,
        name: a.name.clone(),
        message,
    };
    let token = read_token(
        a.token.as_ref(),
        a.token_env.as_deref(),
        a.token_file.as_deref(),
    )
    .map_err(err)?;
    let ca_pem = match &a.ca_file {
        Some(path) => {
            Some(std::fs::read(path).map_err(|e| err(format!("caFile {}: {e}", path.display())))?)
        }
        None => None,
    };
    let mut c = ferry_appstate::argocd::InstanceConfig::new(&a.name, &a.url);
    c.ui_url = a.ui_url.clone();
    c.token = token.map(ferry_appstate::argocd::Secret::new);
    c.ca_pem = ca_pem;
    c.app_namespace = a.app_namespace.clone();
    c.hard_refresh = a.hard_refresh;
    c.watch = a.watch.unwrap_or(true);
    Ok(c)
}

fn parse_file(text: &str) -> Result<FileSettings, String> {
    toml::from_str::<FileSettings>(text).map_err(|e| {
        // toml's message names the line and column and the key; it never
        // echoes a secret's value for unknown keys, but an invalid value
        // of a known secret key could be quoted, so secrets are strings
        // (any string parses) and only structure errors reach here.
        e.to_string().trim().replace('\n', " ")
    })
}

fn parse_seconds(name: &str, v: &str) -> Result<u64, SettingsError> {
    let t = v.trim();
    let t = t.strip_suffix('s').unwrap_or(t);
    t.parse::<u64>().map_err(|_| SettingsError::Env {
        name: name.into(),
        message: format!("`{v}` is not a number of seconds (0 disables)"),
    })
}

fn parse_bool(name: &str, v: &str) -> Result<bool, SettingsError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(SettingsError::Env {
            name: name.into(),
            message: format!("`{v}` is not a boolean (true/false)"),
        }),
    }
}

/// A token given in one of three ways: the value, the name of a variable
/// holding it, or a file holding it (trailing newline dropped). The error
/// names the field, never the value.
pub(crate) fn read_token(
    value: Option<&Secret>,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>, String> {
    if let Some(t) = value {
        Ok(Some(t.0.clone()))
    } else if let Some(name) = env {
        std::env::var(name)
            .map(Some)
            .map_err(|_| format!("tokenEnv {name} is not set"))
    } else if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("tokenFile {}: {e}", path.display()))?;
        Ok(Some(text.trim_end().to_owned()))
    } else {
        Ok(None)
    }
}

/// Resolves the configured Git credentials into what the Git layer uses.
pub(crate) fn resolve_credentials(
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
pub(crate) fn credentials_for(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn ssh_credentials_need_a_key_and_known_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let (key, hosts) = (
            dir.path().join("id_ed25519"),
            dir.path().join("known_hosts"),
        );
        std::fs::write(&key, "key").unwrap();
        std::fs::write(&hosts, "git.example ssh-ed25519 AAAA").unwrap();
        let load = |entry: &str| {
            let path = dir.path().join("ferry.toml");
            std::fs::write(
                &path,
                format!("[[gitCredentials]]\nrepoPrefix = \"ssh://git@git.example/\"\n{entry}"),
            )
            .unwrap();
            Settings::load(Some(&path), no_env, Overrides::default())
        };
        let s = load(&format!(
            "sshKeyFile = \"{}\"\nknownHostsFile = \"{}\"\n",
            key.display(),
            hosts.display()
        ))
        .unwrap();
        let resolved = resolve_credentials(&s.git_credentials).unwrap();
        match credentials_for(&resolved, "ssh://git@git.example/org/gitops.git") {
            ferry_git::Credentials::Ssh {
                key_file,
                known_hosts,
            } => assert_eq!((key_file, known_hosts), (key.clone(), hosts.clone())),
            other => panic!("{other:?}"),
        }
        let e = load(&format!("sshKeyFile = \"{}\"\n", key.display()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("sshKeyFile and knownHostsFile go together"),
            "{e}"
        );
        let e = load(&format!(
            "sshKeyFile = \"{}\"\nknownHostsFile = \"{}\"\ntoken = \"t\"\n",
            key.display(),
            hosts.display()
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("exactly one of"), "{e}");
        let s = load(&format!(
            "sshKeyFile = \"{}\"\nknownHostsFile = \"/no/such/known_hosts\"\n",
            key.display()
        ))
        .unwrap();
        let e = resolve_credentials(&s.git_credentials)
            .unwrap_err()
            .to_string();
        assert!(e.contains("knownHostsFile /no/such/known_hosts"), "{e}");
    }

    #[test]
    fn a_forge_and_git_credentials_from_the_environment_alone() {
        let vars = |k: &str| {
            match k {
                "FERRY_FORGE_KIND" => Some("gitlab"),
                "FERRY_FORGE_REPO_PREFIX" => Some("https://gitlab.example/"),
                "FERRY_FORGE_API_URL" => Some("https://gitlab.example/api/v4"),
                "FERRY_FORGE_TOKEN" => Some("glpat-secret"),
                "FERRY_FORGE_WEBHOOK_SECRET" => Some("hook-secret"),
                "FERRY_GIT_USERNAME" => Some("oauth2"),
                "FERRY_GIT_TOKEN" => Some("glpat-secret"),
                _ => None,
            }
            .map(str::to_owned)
        };
        let s = Settings::load(None, vars, Overrides::default()).unwrap();
        assert_eq!(s.forges.len(), 1);
        let f = &s.forges[0];
        assert_eq!(f.kind, Some(ferry_forge::ForgeKind::Gitlab));
        assert_eq!(f.repo_prefix, "https://gitlab.example/");
        let registry =
            ferry_forge::Registry::from_entries(&s.forges, |_| None).expect("a usable forge");
        assert!(
            registry
                .for_repo("https://gitlab.example/team/gitops.git")
                .is_some()
        );
        assert!(
            !format!("{s:?}").contains("glpat-secret"),
            "secrets stay hidden"
        );
        let creds = resolve_credentials(&s.git_credentials).unwrap();
        match credentials_for(&creds, "https://anywhere.example/x.git") {
            ferry_git::Credentials::Token { username, token } => {
                assert_eq!(
                    (username.as_str(), token.expose()),
                    ("oauth2", "glpat-secret")
                )
            }
            other => panic!("{other:?}"),
        }
        let e = Settings::load(
            None,
            |k: &str| (k == "FERRY_FORGE_KIND").then(|| "sourceforge".to_owned()),
            Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("FERRY_FORGE_KIND") && e.contains("github, gitlab"),
            "{e}"
        );
    }

    #[test]
    fn the_environment_overrides_the_files_first_git_credential() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            "[[gitCredentials]]\nrepoPrefix = \"https://git.example/\"\ntokenFile = \"/run/secrets/old\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            |k: &str| (k == "FERRY_GIT_TOKEN").then(|| "new-token".to_owned()),
            Overrides::default(),
        )
        .unwrap();
        let c = &s.git_credentials[0];
        assert_eq!(c.repo_prefix, "https://git.example/");
        assert!(c.token_file.is_none());
        assert_eq!(c.token.as_ref().map(Secret::expose), Some("new-token"));
    }

    #[test]
    fn runtime_from_the_environment() {
        let s = Settings::load(
            None,
            |k: &str| (k == "FERRY_RUNTIME").then(|| "codefresh-prod".to_owned()),
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.runtime, "codefresh-prod");
    }

    #[test]
    fn defaults_give_a_single_machine_server() {
        let s = Settings::load(None, no_env, Overrides::default()).unwrap();
        assert_eq!(s.listen, "127.0.0.1:8080");
        assert_eq!(s.runtime, "ferry");
        assert_eq!(
            s.effective_database_url(),
            "sqlite://ferry-data/ferry.db?mode=rwc"
        );
        assert_eq!(s.effective_base_url(), "http://127.0.0.1:8080");
        assert!(!s.anonymous_read);
        assert_eq!(s.poll_interval, Some(Duration::from_secs(30)));
        assert!(!s.demo, "demo mode is off unless `ferry demo` turns it on");
        let env = |k: &str| (k == "FERRY_DEMO").then(|| "true".to_string());
        assert!(
            Settings::load(None, env, Overrides::default())
                .unwrap()
                .demo
        );
    }

    #[test]
    fn file_then_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\nconfig = \"/srv/cfg\"\nadminToken = \"s3cret-file\"\npollInterval = 0\nanonymousRead = true\n\n[[gitCredentials]]\nrepoPrefix = \"https://git.example/\"\ntoken = \"tok-123\"\n",
        )
        .unwrap();
        let env = |k: &str| match k {
            "FERRY_LISTEN" => Some("127.0.0.1:7000".to_string()),
            "FERRY_DATA_DIR" => Some("/var/lib/ferry".to_string()),
            _ => None,
        };
        let s = Settings::load(
            Some(&path),
            env,
            Overrides {
                data_dir: Some("/flag/dir".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:7000");
        assert_eq!(s.config.as_deref(), Some("/srv/cfg"));
        assert_eq!(s.data_dir, PathBuf::from("/flag/dir"));
        assert_eq!(s.poll_interval, None);
        assert!(s.anonymous_read);
        assert_eq!(s.admin_token.as_ref().unwrap().expose(), "s3cret-file");
        let printed = format!("{s:?}");
        assert!(!printed.contains("s3cret-file"), "{printed}");
        assert!(!printed.contains("tok-123"), "{printed}");
    }

    #[test]
    fn unknown_keys_and_bad_env_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("ferry.toml") && text.contains("lisen"),
            "{text}"
        );

        let env = |k: &str| (k == "FERRY_POLL_INTERVAL").then(|| "soon".to_string());
        let e = Settings::load(None, env, Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("FERRY_POLL_INTERVAL"), "{e}");
    }

    #[test]
    fn forges_are_read_from_the_file_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            "[[forges]]\nkind = \"github\"\nrepoPrefix = \"https://github.com/\"\ntoken = \"ghp-secret-1\"\nwebhookSecret = \"whsec-2\"\n\n[[forges]]\nkind = \"gitea\"\nrepoPrefix = \"https://gitea.example/\"\napiUrl = \"https://gitea.example/api/v1\"\ntokenEnv = \"GITEA_TOKEN\"\n",
        )
        .unwrap();
        let s = Settings::load(Some(&path), no_env, Overrides::default()).unwrap();
        assert_eq!(s.forges.len(), 2);
        assert_eq!(s.forges[0].kind, Some(ferry_forge::ForgeKind::Github));
        assert_eq!(
            s.forges[1].api_url.as_deref(),
            Some("https://gitea.example/api/v1")
        );
        let printed = format!("{s:?}");
        assert!(
            !printed.contains("ghp-secret-1") && !printed.contains("whsec-2"),
            "{printed}"
        );
        std::fs::write(&path, "[[forges]]\nkind = \"gitee\"\nrepoPrefix = \"x\"\n").unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("gitee"), "{e}");
    }

    #[test]
    fn argocd_instances_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "PEM").unwrap();
        std::fs::write(
            &path,
            format!(
                "[[argocd]]\nname = \"east\"\nurl = \"https://east.example\"\ntoken = \"tok-east\"\nhardRefresh = true\ndefault = true\n\n[[argocd]]\nname = \"west\"\nurl = \"https://west.example\"\ncaFile = \"{}\"\nappNamespace = \"teams\"\nwatch = false\n",
                ca.display()
            ),
        )
        .unwrap();
        let env = |k: &str| (k == "FERRY_ARGOCD_TOKEN").then(|| "tok-env".to_string());
        let s = Settings::load(Some(&path), env, Overrides::default()).unwrap();
        assert_eq!(s.argocd.len(), 2);
        assert_eq!(s.argocd[0].token.as_ref().unwrap().expose(), "tok-env");
        assert!(!format!("{s:?}").contains("tok-e"));
        let east = argocd_instance(0, &s.argocd[0]).unwrap();
        assert!(east.hard_refresh && east.watch);
        assert_eq!(east.token.as_ref().unwrap().expose(), "tok-env");
        let west = argocd_instance(1, &s.argocd[1]).unwrap();
        assert_eq!(west.ca_pem.as_deref(), Some(&b"PEM"[..]));
        assert_eq!(west.app_namespace.as_deref(), Some("teams"));
        assert!(!west.watch && west.token.is_none());

        // Only the environment: one default instance named `argocd`.
        let env = |k: &str| match k {
            "FERRY_ARGOCD_URL" => Some("https://argocd.example".to_string()),
            "FERRY_ARGOCD_TOKEN" => Some("t".to_string()),
            _ => None,
        };
        let s = Settings::load(None, env, Overrides::default()).unwrap();
        assert_eq!(s.argocd[0].name, "argocd");
        assert!(s.argocd[0].default);

        // Mistakes name the entry.
        std::fs::write(
            &path,
            "[[argocd]]\nname = \"a\"\nurl = \"u\"\n[[argocd]]\nname = \"a\"\nurl = \"v\"\n",
        )
        .unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "argocd[1] (a): another instance has this name"
        );
        std::fs::write(
            &path,
            "[[argocd]]\nname = \"a\"\nurl = \"u\"\ntoken = \"x\"\ntokenEnv = \"Y\"\n",
        )
        .unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("at most one of token"), "{e}");
        let missing = ArgoCdSettings {
            name: "m".into(),
            url: "u".into(),
            ca_file: Some(dir.path().join("nope.pem")),
            ..ArgoCdSettings::default()
        };
        let e = argocd_instance(0, &missing).unwrap_err();
        assert!(e.to_string().starts_with("argocd[0] (m): caFile"), "{e}");
    }

    #[test]
    fn longest_prefix_wins() {
        let entries = resolve_credentials(&[
            GitCredential {
                repo_prefix: "https://git.example/".into(),
                token: Some(Secret::new("a")),
                ..Default::default()
            },
            GitCredential {
                repo_prefix: "https://git.example/team/".into(),
                username: Some("bob".into()),
                password: Some(Secret::new("pw")),
                ..Default::default()
            },
        ])
        .unwrap();
        assert!(matches!(
            credentials_for(&entries, "https://git.example/team/repo.git"),
            ferry_git::Credentials::Basic { ref username, .. } if username == "bob"
        ));
        assert!(matches!(
            credentials_for(&entries, "https://git.example/other.git"),
            ferry_git::Credentials::Token { .. }
        ));
        assert!(matches!(
            credentials_for(&entries, "/local/repo"),
            ferry_git::Credentials::None
        ));
    }

    #[test]
    fn workflow_secrets_and_trusted_proxies() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("s.txt");
        std::fs::write(&secret_file, "from-file\n").unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            format!(
                "trustedProxies = [\"10.0.0.0/8\"]\n[workflowSecrets]\nA = \"plain-value\"\nB = {{ env = \"MY_B\" }}\nC = {{ file = \"{}\" }}\n",
                secret_file.display()
            ),
        )
        .unwrap();
        let env = |k: &str| match k {
            "MY_B" => Some("from-env".to_string()),
            "D" => Some("passed-through".to_string()),
            "FERRY_WORKFLOW_SECRETS" => Some("D".to_string()),
            _ => None,
        };
        let s = Settings::load(Some(&path), env, Overrides::default()).unwrap();
        assert_eq!(s.trusted_proxies, ["10.0.0.0/8"]);
        let got: Vec<(&str, &str)> = s
            .workflow_secrets
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose()))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "plain-value"),
                ("B", "from-env"),
                ("C", "from-file"),
                ("D", "passed-through")
            ]
        );
        let printed = format!("{s:?}");
        for v in ["plain-value", "from-env", "from-file", "passed-through"] {
            assert!(!printed.contains(v), "{printed}");
        }

        std::fs::write(&path, "[workflowSecrets]\nX = { env = \"UNSET_VAR\" }\n").unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "workflowSecrets.X: environment variable UNSET_VAR is not set"
        );
        std::fs::write(&path, "[workflowSecrets]\n\"bad name\" = \"v\"\n").unwrap();
        let e = Settings::load(Some(&path), no_env, Overrides::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("workflowSecrets.bad name:"),
            "{e}"
        );
        let e = Settings::load(
            None,
            |k: &str| (k == "FERRY_TRUSTED_PROXIES").then(|| "1.2.3.4, 10.0.0.0/8".to_string()),
            Overrides::default(),
        )
        .unwrap();
        assert_eq!(e.trusted_proxies, ["1.2.3.4", "10.0.0.0/8"]);
        let e = Settings::load(
            None,
            |k: &str| (k == "FERRY_TRUSTED_PROXIES").then(|| "proxy.local".to_string()),
            Overrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "trustedProxies: `proxy.local` is not an IP address or CIDR block"
        );
    }
}
