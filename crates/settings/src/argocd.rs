//! `[[argocd]]`: one entry per Argo CD instance (SPEC §6, §10), set by
//! the file or `FERRY_ARGOCD_*`, checked, and turned into the provider's
//! instance settings.

use std::path::PathBuf;

use serde::Deserialize;

use crate::error::SettingsError;
use crate::secret::{Secret, read_token};

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

/// `FERRY_ARGOCD_*` apply to the first instance (created when absent).
pub(crate) fn argocd_env(list: &mut Vec<ArgoCdSettings>, env: &impl Fn(&str) -> Option<String>) {
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

pub(crate) fn check_argocd(list: &[ArgoCdSettings]) -> Result<(), SettingsError> {
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
pub fn argocd_instance(
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
