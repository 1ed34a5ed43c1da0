//! Which provider answers for an application.
//!
//! With no Argo CD instance configured every application uses the `git`
//! provider. Otherwise an application is bound to an instance by, in
//! order: its `ferry.io/argocd-instance` annotation; the instance it was
//! discovered from; the instance configured as the default. An
//! application bound to none keeps the `git` provider.
//!
//! Bindings are read from the active configuration (through a function,
//! as the configuration changes while the server runs) and cached per
//! configuration, so a lookup is a hash probe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferry_model::Loaded;

use crate::argocd::ArgoCdProvider;
use crate::argocd::discovery::{INSTANCE_ANNOTATION, instance_of};
use crate::{AppRef, AppStateProvider, Error, Observation};

/// The active configuration, when there is one.
pub type ConfigFn = Arc<dyn Fn() -> Option<Arc<Loaded>> + Send + Sync>;

/// Where one application's state comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Binding {
    Git,
    ArgoCd {
        instance: String,
        /// The Application's `metadata.namespace` (Argo CD's `appNamespace`).
        app_namespace: Option<String>,
    },
}

type Bindings = Arc<HashMap<String, Binding>>;

pub struct StateRouter {
    git: Arc<dyn AppStateProvider>,
    instances: Vec<Arc<ArgoCdProvider>>,
    default_instance: Option<String>,
    config: ConfigFn,
    /// Bindings by application name, for the configuration they were read from.
    cache: Mutex<Option<(Arc<Loaded>, Bindings)>>,
}

impl StateRouter {
    pub fn new(
        git: Arc<dyn AppStateProvider>,
        instances: Vec<Arc<ArgoCdProvider>>,
        default_instance: Option<String>,
        config: ConfigFn,
    ) -> StateRouter {
        StateRouter {
            git,
            instances,
            default_instance,
            config,
            cache: Mutex::new(None),
        }
    }

    pub fn instances(&self) -> &[Arc<ArgoCdProvider>] {
        &self.instances
    }

    fn bindings(&self) -> Bindings {
        let Some(loaded) = (self.config)() else {
            return Arc::default();
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((l, b)) = cache.as_ref()
            && Arc::ptr_eq(l, &loaded)
        {
            return Arc::clone(b);
        }
        let mut map = HashMap::new();
        for app in &loaded.config.applications {
            let instance = app
                .metadata
                .annotations
                .get(INSTANCE_ANNOTATION)
                .map(String::as_str)
                .or_else(|| instance_of(app))
                .or(self.default_instance.as_deref());
            let binding = match instance {
                Some(i) => Binding::ArgoCd {
                    instance: i.to_owned(),
                    app_namespace: app.metadata.namespace.clone(),
                },
                None => Binding::Git,
            };
            map.entry(app.name().to_owned()).or_insert(binding);
        }
        let map = Arc::new(map);
        *cache = Some((loaded, Arc::clone(&map)));
        map
    }

    fn binding(&self, app: &AppRef) -> Binding {
        match self.bindings().get(&app.name) {
            Some(b) => b.clone(),
            None => match &self.default_instance {
                Some(i) => Binding::ArgoCd {
                    instance: i.clone(),
                    app_namespace: None,
                },
                None => Binding::Git,
            },
        }
    }

    fn instance(&self, app: &AppRef, name: &str) -> Result<&Arc<ArgoCdProvider>, Error> {
        self.instances
            .iter()
            .find(|p| p.instance() == name)
            .ok_or_else(|| Error::UnknownInstance {
                application: app.name.clone(),
                instance: name.to_owned(),
            })
    }

    /// `git` or `argocd` for this application, and the instance.
    pub fn provider_of(&self, app: &AppRef) -> (&'static str, Option<String>) {
        match self.binding(app) {
            Binding::Git => ("git", None),
            Binding::ArgoCd { instance, .. } => ("argocd", Some(instance)),
        }
    }
}

#[async_trait]
impl AppStateProvider for StateRouter {
    fn name(&self) -> &'static str {
        if self.instances.is_empty() {
            "git"
        } else {
            "argocd"
        }
    }

    async fn observe(&self, app: &AppRef, commit: Option<&str>) -> Result<Observation, Error> {
        match self.binding(app) {
            Binding::Git => self.git.observe(app, commit).await,
            Binding::ArgoCd {
                instance,
                app_namespace,
            } => {
                self.instance(app, &instance)?
                    .observe_in(app, app_namespace.as_deref(), commit)
                    .await
            }
        }
    }

    fn updates(&self, app: &AppRef) -> Option<tokio::sync::watch::Receiver<u64>> {
        match self.binding(app) {
            Binding::Git => self.git.updates(app),
            Binding::ArgoCd { instance, .. } => self.instance(app, &instance).ok()?.updates(app),
        }
    }
}
