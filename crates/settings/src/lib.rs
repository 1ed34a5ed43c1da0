//! ferry's settings (SPEC §10): a TOML file, every key overridable by a
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
//! | `httpHeaderTimeout`  | `FERRY_HTTP_HEADER_TIMEOUT`  |                    | 10 s                          |
//! | `httpBodyTimeout`    | `FERRY_HTTP_BODY_TIMEOUT`    |                    | 10 s                          |
//! | `httpBodyMinRate`    | `FERRY_HTTP_BODY_MIN_RATE`   |                    | 1024 bytes/s (0 = off)        |
//! | `httpMaxConnectionsPerClient` | `FERRY_HTTP_MAX_CONNECTIONS_PER_CLIENT` |  | 256                  |
//! | `otlpEndpoint`       | `FERRY_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT` |  | none (no traces) |
//!
//! Promotion workflows on an Argo Workflows server (`[argoWorkflows]`):
//! see [`workflows`].
//!
//! Release notes (`registries`, `insecureRegistries`, `registryTimeout`,
//! `notesFirstReleaseLimit`, `notesRefreshInterval`): see
//! [`notes`].
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
//! gitea, bitbucket, azuredevops), `repoPrefix`, `apiUrl`, exactly one of `token`,
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
//!
//! `[[notifications]]` entries (issue 20): `name`, `kind` (slack, teams,
//! webhook, cloudevents), exactly one of `url`, `urlEnv`, `urlFile`, the
//! signing key `secret` / `secretEnv` / `secretFile` (required for
//! webhook), filters `events`, `products`, `environments`, `subjects`, and
//! `maxAttempts`, `timeout` (see [`notifications`]).

//!
//! One module per part of the settings, each below [`settings`] (which
//! puts them together) and above [`secret`] and [`error`]: [`git`],
//! [`forges`], [`argocd`], [`notes`], [`notifications`], [`workflows`].

pub mod argocd;
mod budget;
pub mod error;
pub mod forges;
pub mod git;
pub mod notes;
pub mod notifications;
pub mod secret;
pub mod settings;
pub mod workflows;

pub use argocd::{ArgoCdSettings, argocd_instance};
pub use error::SettingsError;
pub use git::{GitCredential, credentials_for, resolve_credentials};
pub use notes::{RegistryCredential, ReleaseNotesSettings};
pub use notifications::{NotificationSettings, notification_subscription};
pub use secret::Secret;
pub use settings::{Overrides, Settings};
pub use workflows::ArgoWorkflowsSettings;
