//! The effective settings: the file, then `FERRY_*` variables, then flags
//! (see the crate documentation for every key).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::argocd::{ArgoCdSettings, argocd_env, check_argocd};
use crate::error::SettingsError;
use crate::forges::forge_env;
use crate::git::{GitCredential, git_credential_env};
use crate::notes::{NotesFileKeys, RegistryCredential, ReleaseNotesSettings};
use crate::notifications::{NotificationSettings, check_notifications};
use crate::secret::Secret;
use crate::workflows::ArgoWorkflowsSettings;

/// Where a workflow secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
enum SecretSource {
    Value(Secret),
    Env { env: String },
    File { file: PathBuf },
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
    config_max_files: Option<u64>,
    config_max_bytes: Option<u64>,
    config_max_file_bytes: Option<u64>,
    config_max_document_nodes: Option<u64>,
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
    argo_workflows: Option<ArgoWorkflowsSettings>,
    #[serde(default)]
    notifications: Vec<NotificationSettings>,
    // Release notes (see `notes`).
    #[serde(default)]
    registries: Vec<RegistryCredential>,
    insecure_registries: Option<Vec<String>>,
    registry_timeout: Option<u64>,
    notes_first_release_limit: Option<u64>,
    notes_refresh_interval: Option<u64>,
    // Slow clients (issue 23).
    http_header_timeout: Option<u64>,
    http_body_timeout: Option<u64>,
    http_body_min_rate: Option<u64>,
    http_max_connections_per_client: Option<u64>,
    // Traces (SPEC §10).
    otlp_endpoint: Option<String>,
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
    /// How much of the configuration source is read at most.
    pub config_budget: ferry_config::Budget,
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
    pub argo_workflows: Option<ArgoWorkflowsSettings>,
    /// Where release and environment events are sent (issue 20).
    pub notifications: Vec<NotificationSettings>,
    /// Demo mode (`ferry demo`): the web UI offers a "Merge pull request"
    /// button on promotions waiting for a branch of a local repository to
    /// be merged, standing in for the forge the demo does not have.
    pub demo: bool,
    /// Registries and limits of release notes.
    pub release_notes: ReleaseNotesSettings,
    /// Limits on slow and greedy HTTP clients (`http*` keys).
    pub http: ferry_security::ConnLimits,
    /// The OTLP/HTTP collector traces go to, a base URL such as
    /// `http://otel-collector:4318` (spans are posted to `/v1/traces`
    /// under it); `None`: no traces. From `otlpEndpoint`,
    /// `FERRY_OTLP_ENDPOINT` or OpenTelemetry's own
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
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
            config_budget: ferry_config::Budget::default(),
            anonymous_read: false,
            runtime: "ferry".into(),
            git_credentials: Vec::new(),
            trusted_proxies: Vec::new(),
            workflow_secrets: Default::default(),
            forges: Vec::new(),
            argocd: Vec::new(),
            argo_workflows: None,
            notifications: Vec::new(),
            demo: false,
            release_notes: Default::default(),
            http: ferry_security::ConnLimits::default(),
            otlp_endpoint: None,
        }
    }
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
        string("FERRY_OTLP_ENDPOINT", &mut fs.otlp_endpoint);
        if fs.otlp_endpoint.is_none() {
            // OpenTelemetry's standard variable turns traces on too.
            string("OTEL_EXPORTER_OTLP_ENDPOINT", &mut fs.otlp_endpoint);
        }
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
        for (name, key) in [
            ("FERRY_HTTP_HEADER_TIMEOUT", &mut fs.http_header_timeout),
            ("FERRY_HTTP_BODY_TIMEOUT", &mut fs.http_body_timeout),
        ] {
            if let Some(v) = env(name) {
                *key = Some(parse_seconds(name, &v)?);
            }
        }
        for (name, key) in [
            ("FERRY_HTTP_BODY_MIN_RATE", &mut fs.http_body_min_rate),
            (
                "FERRY_HTTP_MAX_CONNECTIONS_PER_CLIENT",
                &mut fs.http_max_connections_per_client,
            ),
        ] {
            if let Some(v) = env(name) {
                *key = Some(v.trim().parse().map_err(|_| SettingsError::Env {
                    name: name.into(),
                    message: format!("`{v}` is not a whole number"),
                })?);
            }
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
        crate::workflows::apply_env(&mut fs.argo_workflows, &env);

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

        let release_notes = ReleaseNotesSettings::load(
            NotesFileKeys {
                registries: std::mem::take(&mut fs.registries),
                insecure_registries: fs.insecure_registries.take(),
                registry_timeout: fs.registry_timeout,
                notes_first_release_limit: fs.notes_first_release_limit,
                notes_refresh_interval: fs.notes_refresh_interval,
            },
            &env,
        )?;
        let config_budget = crate::budget::load(
            crate::budget::BudgetKeys {
                max_files: fs.config_max_files,
                max_bytes: fs.config_max_bytes,
                max_file_bytes: fs.config_max_file_bytes,
                max_document_nodes: fs.config_max_document_nodes,
            },
            &env,
        )?;
        let d = Settings::default();
        let secs = |v: Option<u64>, default: Option<Duration>| match v {
            None => default,
            Some(0) => None,
            Some(n) => Some(Duration::from_secs(n)),
        };
        let http = {
            let dh = d.http;
            let at_least_1 = |v: Option<u64>, default: Duration, key: &'static str| match v {
                None => Ok(default),
                Some(0) => Err(SettingsError::Value {
                    key,
                    message: "must be at least 1 second".into(),
                }),
                Some(n) => Ok(Duration::from_secs(n)),
            };
            ferry_security::ConnLimits {
                header_timeout: at_least_1(
                    fs.http_header_timeout,
                    dh.header_timeout,
                    "httpHeaderTimeout",
                )?,
                body_timeout: at_least_1(fs.http_body_timeout, dh.body_timeout, "httpBodyTimeout")?,
                body_min_rate: fs.http_body_min_rate.unwrap_or(dh.body_min_rate),
                body_rate_grace: dh.body_rate_grace,
                max_connections_per_ip: match fs.http_max_connections_per_client {
                    None => dh.max_connections_per_ip,
                    Some(0) => {
                        return Err(SettingsError::Value {
                            key: "httpMaxConnectionsPerClient",
                            message: "must be at least 1".into(),
                        });
                    }
                    Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                },
            }
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
            config_budget,
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
            notifications: fs.notifications,
            demo: fs.demo.unwrap_or(d.demo),
            release_notes,
            http,
            otlp_endpoint: fs.otlp_endpoint.filter(|e| !e.trim().is_empty()),
        };
        if let Some(e) = &settings.otlp_endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(SettingsError::Value {
                key: "otlpEndpoint",
                message: format!(
                    "`{}` is not an http:// or https:// URL",
                    ferry_config::redact_url(e)
                ),
            });
        }
        check_argocd(&settings.argocd)?;
        check_notifications(&settings.notifications)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::argocd::argocd_instance;
    use crate::git::{credentials_for, resolve_credentials};

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
    fn slow_client_limits() {
        let d = Settings::load(None, |_| None, Overrides::default()).unwrap();
        assert_eq!(d.http, ferry_security::ConnLimits::default());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferry.toml");
        std::fs::write(
            &path,
            "httpHeaderTimeout = 3\nhttpBodyMinRate = 0\nhttpMaxConnectionsPerClient = 1000\n",
        )
        .unwrap();
        let env = |k: &str| (k == "FERRY_HTTP_BODY_TIMEOUT").then(|| "7s".to_string());
        let s = Settings::load(Some(&path), env, Overrides::default()).unwrap();
        assert_eq!(s.http.header_timeout, Duration::from_secs(3));
        assert_eq!(s.http.body_timeout, Duration::from_secs(7));
        assert_eq!(s.http.body_min_rate, 0);
        assert_eq!(s.http.max_connections_per_ip, 1000);
        std::fs::write(&path, "httpHeaderTimeout = 0\n").unwrap();
        let e = Settings::load(Some(&path), |_| None, Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("httpHeaderTimeout"), "{e}");
        let env =
            |k: &str| (k == "FERRY_HTTP_MAX_CONNECTIONS_PER_CLIENT").then(|| "many".to_string());
        let e = Settings::load(None, env, Overrides::default()).unwrap_err();
        assert!(
            e.to_string()
                .contains("FERRY_HTTP_MAX_CONNECTIONS_PER_CLIENT"),
            "{e}"
        );
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
