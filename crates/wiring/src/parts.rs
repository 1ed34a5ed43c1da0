//! [`Parts::build`]: the settings → every part `ferry serve` runs.

use std::path::PathBuf;
use std::sync::Arc;

use ferry_config::ConfigSource;
use ferry_engine::{Engine, EngineParts, EngineSettings};
use ferry_settings::{Settings, SettingsError};

use crate::argocd::ArgoCd;
use crate::error::BuildError;
use crate::forges::{ForgePullRequests, PullRequestNotes};
use crate::insights::InsightsKeeper;
use crate::live::{self, LiveConfig};
use crate::notifications::Notifier;
use crate::replica;

/// What the settings built: the engine and what the HTTP layers read
/// beside it.
pub struct Parts {
    pub engine: Engine,
    pub store: ferry_store::Store,
    /// The configuration source, watched for changes.
    pub live: Arc<LiveConfig>,
    /// Argo CD instances (live application state, discovery), when configured.
    pub argocd: Option<Arc<ArgoCd>>,
    /// Forges of the settings: webhook secrets, by repository prefix.
    pub forges: Arc<ferry_forge::Registry>,
    /// Commit statuses, when forges are configured.
    pub statuses: Option<ferry_forge::StatusPublisher>,
    /// Release notes (computed once per release, cached in the store).
    pub notes: Arc<ferry_notes::NotesBuilder>,
    /// Trusted proxies, rate limiters, https (issue 10).
    pub security: Arc<ferry_security::Security>,
    /// Delivery insights' facts and figures (issue 21).
    pub insights: Arc<InsightsKeeper>,
    /// Notifications out (issue 20), when `[[notifications]]` has entries;
    /// to be spawned before the engine starts.
    pub notifier: Option<Notifier>,
}

impl Parts {
    pub async fn build(settings: &Settings) -> Result<Parts, BuildError> {
        let data_err = |path: &PathBuf| {
            let path = path.display().to_string();
            move |source| BuildError::DataDir { path, source }
        };
        std::fs::create_dir_all(&settings.data_dir).map_err(data_err(&settings.data_dir))?;
        let config_arg = settings.config.clone().ok_or(BuildError::NoConfig)?;
        let source = ConfigSource::from_arg(
            &config_arg,
            settings.config_branch.clone(),
            settings.config_path.clone(),
        );
        let source_name = source.describe();
        let loaded = {
            let source = source.clone();
            let budget = settings.config_budget;
            tokio::task::spawn_blocking(move || live::load_valid(&source, &budget))
                .await
                .map_err(|e| BuildError::Setup(std::io::Error::other(e.to_string())))?
                .map_err(|error| BuildError::Config {
                    source_name: source_name.clone(),
                    error,
                })?
        };

        // Issue 11: this replica's name as a lease holder and in event notices.
        let instance =
            replica::instance_id(&settings.data_dir).map_err(data_err(&settings.data_dir))?;
        let store = ferry_store::Store::open(&settings.effective_database_url())
            .await?
            .with_instance(&instance);
        tracing::info!(instance = %instance, database = ?store.backend(), "replica");
        let trusted_proxies = ferry_security::TrustedProxies::parse(&settings.trusted_proxies)
            .map_err(SettingsError::TrustedProxies)?;

        let credentials = Arc::new(ferry_settings::resolve_credentials(
            &settings.git_credentials,
        )?);
        if let Some(t) = &settings.admin_token {
            ferry_security::register_secret(t.expose());
        }
        for (_, c) in credentials.iter() {
            match c {
                ferry_git::Credentials::Basic { password, .. } => {
                    ferry_security::register_secret(password.expose())
                }
                ferry_git::Credentials::Token { token, .. }
                | ferry_git::Credentials::Bearer { token } => {
                    ferry_security::register_secret(token.expose())
                }
                _ => {}
            }
        }
        let forges = Arc::new(ferry_forge::Registry::from_entries(
            &settings.forges,
            |k| std::env::var(k).ok(),
        )?);
        for secret in forges.secrets() {
            ferry_security::register_secret(&secret);
        }
        let mirrors = settings.data_dir.join("mirrors");
        std::fs::create_dir_all(&mirrors).map_err(data_err(&mirrors))?;
        let workspace = Arc::new(ferry_gitops::Workspace::new(
            mirrors,
            Arc::new(move |url: &str| ferry_settings::credentials_for(&credentials, url)),
        ));
        let work_dir = settings.data_dir.join("workflows");
        std::fs::create_dir_all(&work_dir).map_err(data_err(&work_dir))?;
        for secret in settings.workflow_secrets.values() {
            ferry_security::register_secret(secret.expose());
        }
        let executor: Arc<dyn ferry_workflow::WorkflowRunner> = match &settings.argo_workflows {
            Some(argo) => {
                let config = argo.executor_config()?;
                if let Some(token) = &config.token {
                    ferry_security::register_secret(token.expose());
                }
                tracing::info!(
                    server = %ferry_config::redact_url(&config.base_url),
                    namespace = %config.namespace,
                    "promotion workflows run on Argo Workflows"
                );
                Arc::new(ferry_workflow::ArgoExecutor::new(config).map_err(|e| {
                    SettingsError::ArgoWorkflows {
                        message: e.to_string(),
                    }
                })?)
            }
            None => Arc::new(ferry_workflow::LocalExecutor::new(
                ferry_workflow::LocalConfig {
                    work_dir: Some(work_dir),
                    secret_env: settings
                        .workflow_secrets
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose().to_owned()))
                        .collect(),
                    ..ferry_workflow::LocalConfig::default()
                },
            )),
        };
        let runner: Arc<dyn ferry_workflow::WorkflowRunner> = Arc::new(
            ferry_security::redacting_runner::RedactingRunner::new(executor),
        );
        let git_state: Arc<dyn ferry_appstate::AppStateProvider> = Arc::new(
            ferry_appstate::git::GitProvider::new(Arc::clone(&workspace)),
        );
        // Argo CD instances: a router picks each application's provider,
        // and annotated applications found in Argo CD join the configuration.
        let argocd = ArgoCd::build(settings, &workspace, Arc::clone(&git_state))?;
        let (appstate, loaded): (Arc<dyn ferry_appstate::AppStateProvider>, Arc<_>) = match &argocd
        {
            Some(a) => {
                a.list_all().await;
                (a.router(), a.apply(loaded))
            }
            None => (git_state, Arc::new(loaded)),
        };
        for (_, _, secret) in &settings.release_notes.registries {
            ferry_security::register_secret(secret.expose());
        }
        let notes = Arc::new(ferry_notes::NotesBuilder::new(
            Arc::clone(&workspace),
            Arc::new(
                ferry_notes::OciClient::new(settings.release_notes.oci())
                    .map_err(|e| BuildError::Setup(std::io::Error::other(e.to_string())))?,
            ),
            settings.release_notes.builder(),
        ));
        let engine = Engine::new(EngineParts {
            store: Arc::new(ferry_engine::LeasedStore::new(
                store.clone(),
                &instance,
                ferry_engine::LeaseSettings::default(),
            )),
            config: loaded,
            workspace,
            runner,
            appstate,
            settings: EngineSettings {
                base_url: settings.effective_base_url(),
                poll_interval: settings.poll_interval,
                runtime: settings.runtime.clone(),
                ..EngineSettings::default()
            },
            pull_requests: (!forges.is_empty()).then(|| {
                Arc::new(
                    ForgePullRequests::new(Arc::clone(&forges)).with_notes(PullRequestNotes {
                        store: store.clone(),
                        builder: Arc::clone(&notes),
                    }),
                ) as Arc<dyn ferry_engine::PullRequests>
            }),
        });
        let statuses = (!forges.is_empty()).then(|| {
            ferry_forge::StatusPublisher::new(
                Arc::clone(&forges),
                &settings.effective_base_url(),
                ferry_forge::RetryPolicy::default(),
            )
        });
        let insights = Arc::new(InsightsKeeper::new(store.clone(), Arc::clone(&notes)));
        let notifier = Notifier::new(
            &store,
            crate::notifications::subscriptions(settings)?,
            &settings.effective_base_url(),
            &instance,
        );
        Ok(Parts {
            notifier,
            insights,
            engine,
            store,
            live: Arc::new(
                LiveConfig::new(source)
                    .with_budget(settings.config_budget)
                    .with_argocd(argocd.clone()),
            ),
            argocd,
            forges,
            statuses,
            notes,
            security: Arc::new(ferry_security::Security::new(
                trusted_proxies,
                settings.effective_base_url().starts_with("https://"),
            )),
        })
    }
}
