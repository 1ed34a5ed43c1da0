//! Where promotion workflows run (SPEC §5, §10): the local executor on the
//! ferry machine (the default), or an Argo Workflows server when the
//! settings have an `[argoWorkflows]` table.
//!
//! | file key (`[argoWorkflows]`) | environment                        | default                         |
//! |------------------------------|------------------------------------|---------------------------------|
//! | `url`                        | `FERRY_ARGO_WORKFLOWS_URL`         | (required)                      |
//! | `namespace`                  | `FERRY_ARGO_WORKFLOWS_NAMESPACE`   | `argo`                          |
//! | `token`, `tokenEnv`, `tokenFile` | `FERRY_ARGO_WORKFLOWS_TOKEN`   | none (Argo Server `--auth-mode=server`) |
//! | `caFile`                     | `FERRY_ARGO_WORKFLOWS_CA_FILE`     | system roots only               |
//! | `serviceAccount`             |                                    | the namespace's default         |
//! | `clusterTemplates`           |                                    | false (`WorkflowTemplate`)      |
//! | `pollInterval` (seconds)     |                                    | 2                               |
//! | `labels`                     |                                    | `ferry.io/managed = "true"`     |
//!
//! Any `FERRY_ARGO_WORKFLOWS_*` variable creates the table when the file
//! has none. The token is read when the server starts and never shown
//! (`Debug` of [`Secret`] is redacted, and the value is registered for
//! masking in errors).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::error::SettingsError;
use crate::secret::Secret;

/// The `[argoWorkflows]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgoWorkflowsSettings {
    /// Argo Server base URL, e.g. `https://argo-server.argo:2746`.
    #[serde(default)]
    pub url: String,
    /// Namespace the WorkflowTemplates live in and workflows are submitted to.
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub token: Option<Secret>,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// PEM of extra trusted roots (Argo Server's certificate is
    /// self-signed by default).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    #[serde(default)]
    pub service_account: Option<String>,
    /// Submit `ClusterWorkflowTemplate`s instead of namespaced ones.
    #[serde(default)]
    pub cluster_templates: bool,
    #[serde(default)]
    pub poll_interval: Option<u64>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
}

/// The default namespace of an Argo Workflows installation.
const DEFAULT_NAMESPACE: &str = "argo";

/// `FERRY_ARGO_WORKFLOWS_*` over the file's table (created when absent).
pub(crate) fn apply_env(
    slot: &mut Option<ArgoWorkflowsSettings>,
    env: &impl Fn(&str) -> Option<String>,
) {
    let (url, ns, token, ca) = (
        env("FERRY_ARGO_WORKFLOWS_URL"),
        env("FERRY_ARGO_WORKFLOWS_NAMESPACE"),
        env("FERRY_ARGO_WORKFLOWS_TOKEN"),
        env("FERRY_ARGO_WORKFLOWS_CA_FILE"),
    );
    if url.is_none() && ns.is_none() && token.is_none() && ca.is_none() {
        return;
    }
    let s = slot.get_or_insert_with(ArgoWorkflowsSettings::default);
    if let Some(v) = url {
        s.url = v;
    }
    if let Some(v) = ns {
        s.namespace = Some(v);
    }
    if let Some(v) = token {
        s.token = Some(Secret::new(v));
        s.token_env = None;
        s.token_file = None;
    }
    if let Some(v) = ca {
        s.ca_file = Some(PathBuf::from(v));
    }
}

impl ArgoWorkflowsSettings {
    fn error(message: impl Into<String>) -> SettingsError {
        SettingsError::ArgoWorkflows {
            message: message.into(),
        }
    }

    /// Checks what can be checked without reading files or variables.
    pub(crate) fn check(&self) -> Result<(), SettingsError> {
        let url = self.url.trim();
        if url.is_empty() {
            return Err(Self::error("`url` is required"));
        }
        let parsed = url
            .parse::<http::Uri>()
            .map_err(|e| Self::error(format!("`url` {}: {e}", ferry_config::redact_url(url))))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(Self::error(format!(
                "`url` {}: use http:// or https:// and a host",
                ferry_config::redact_url(url)
            )));
        }
        if parsed.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(Self::error(
                "`url` must not carry credentials: give the token with token, tokenEnv or tokenFile",
            ));
        }
        if self
            .namespace
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return Err(Self::error("`namespace` is empty"));
        }
        let tokens = [
            self.token.is_some(),
            self.token_env.is_some(),
            self.token_file.is_some(),
        ];
        if tokens.iter().filter(|b| **b).count() > 1 {
            return Err(Self::error(
                "give at most one of token, tokenEnv or tokenFile",
            ));
        }
        if self.poll_interval == Some(0) {
            return Err(Self::error("`pollInterval` must be at least 1 second"));
        }
        Ok(())
    }

    /// The executor's configuration: the token and CA read from where the
    /// settings point.
    pub fn executor_config(&self) -> Result<ferry_workflow::ArgoConfig, SettingsError> {
        let token = crate::secret::read_token(
            self.token.as_ref(),
            self.token_env.as_deref(),
            self.token_file.as_deref(),
        )
        .map_err(Self::error)?;
        let ca_pem = match &self.ca_file {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| Self::error(format!("caFile {}: {e}", path.display())))?,
            ),
            None => None,
        };
        let mut c = ferry_workflow::ArgoConfig::new(
            self.url.trim().trim_end_matches('/'),
            self.namespace
                .as_deref()
                .unwrap_or(DEFAULT_NAMESPACE)
                .trim(),
        );
        c.token = token
            .filter(|t| !t.is_empty())
            .map(ferry_workflow::Secret::new);
        c.ca_pem = ca_pem;
        c.service_account = self.service_account.clone();
        if self.cluster_templates {
            c.resource_kind = "ClusterWorkflowTemplate".into();
        }
        if let Some(secs) = self.poll_interval {
            c.poll_interval = Duration::from_secs(secs);
        }
        c.labels = self
            .labels
            .clone()
            .unwrap_or_else(|| BTreeMap::from([("ferry.io/managed".into(), "true".into())]));
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> ArgoWorkflowsSettings {
        toml::from_str(text).expect("parses")
    }

    #[test]
    fn defaults_and_file_values_reach_the_executor() {
        let s = table("url = \"https://argo.example:2746/\"\ntoken = \"tok\"\n");
        s.check().unwrap();
        let c = s.executor_config().unwrap();
        assert_eq!(c.base_url, "https://argo.example:2746");
        assert_eq!(c.namespace, "argo");
        assert_eq!(c.token.unwrap().expose(), "tok");
        assert_eq!(c.resource_kind, "WorkflowTemplate");
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.labels["ferry.io/managed"], "true");
        let s = table(
            "url = \"http://argo:2746\"\nnamespace = \"promotions\"\nclusterTemplates = true\nserviceAccount = \"ferry\"\npollInterval = 5\n[labels]\nteam = \"shop\"\n",
        );
        let c = s.executor_config().unwrap();
        assert_eq!(c.namespace, "promotions");
        assert_eq!(c.resource_kind, "ClusterWorkflowTemplate");
        assert_eq!(c.service_account.as_deref(), Some("ferry"));
        assert_eq!(c.poll_interval, Duration::from_secs(5));
        assert_eq!(
            c.labels,
            BTreeMap::from([("team".to_owned(), "shop".to_owned())])
        );
        assert!(c.token.is_none());
    }

    #[test]
    fn bad_tables_are_refused_with_the_field() {
        let cases = [
            ("namespace = \"x\"\n", "`url` is required"),
            ("url = \"ftp://argo\"\n", "use http:// or https://"),
            (
                "url = \"https://u:pw@argo\"\n",
                "must not carry credentials",
            ),
            (
                "url = \"https://argo\"\ntoken = \"a\"\ntokenEnv = \"B\"\n",
                "at most one of token",
            ),
            (
                "url = \"https://argo\"\nnamespace = \" \"\n",
                "`namespace` is empty",
            ),
            (
                "url = \"https://argo\"\npollInterval = 0\n",
                "at least 1 second",
            ),
        ];
        for (text, why) in cases {
            let e = table(text).check().unwrap_err().to_string();
            assert!(e.starts_with("argoWorkflows: "), "{e}");
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains("pw"), "{e}");
        }
        assert!(
            toml::from_str::<ArgoWorkflowsSettings>("url = \"x\"\nnamspace = \"y\"\n").is_err()
        );
    }

    #[test]
    fn environment_creates_or_overrides_the_table() {
        let env = |k: &str| match k {
            "FERRY_ARGO_WORKFLOWS_URL" => Some("https://argo.env:2746".to_owned()),
            "FERRY_ARGO_WORKFLOWS_TOKEN" => Some("env-token".to_owned()),
            _ => None,
        };
        let mut none = None;
        apply_env(&mut none, &env);
        let s = none.expect("created");
        assert_eq!(s.url, "https://argo.env:2746");
        assert_eq!(s.token.as_ref().map(Secret::expose), Some("env-token"));
        let mut file = Some(table(
            "url = \"https://argo.file\"\ntokenFile = \"/nope\"\nnamespace = \"n\"\n",
        ));
        apply_env(&mut file, &env);
        let s = file.unwrap();
        assert_eq!(s.url, "https://argo.env:2746");
        assert_eq!(s.namespace.as_deref(), Some("n"));
        assert!(s.token_file.is_none(), "the variable's token wins");
        assert!(!format!("{s:?}").contains("env-token"));
        let mut untouched = None;
        apply_env(&mut untouched, &|_: &str| None);
        assert!(untouched.is_none());
    }

    #[test]
    fn unreadable_token_and_ca_files_name_the_field() {
        let s = table("url = \"https://argo\"\ntokenFile = \"/no/such/token\"\n");
        let e = s.executor_config().unwrap_err().to_string();
        assert!(e.contains("tokenFile /no/such/token"), "{e}");
        let s = table("url = \"https://argo\"\ncaFile = \"/no/such/ca.pem\"\n");
        let e = s.executor_config().unwrap_err().to_string();
        assert!(e.contains("caFile /no/such/ca.pem"), "{e}");
        let s = table("url = \"https://argo\"\ntokenEnv = \"FERRY_TEST_SURELY_UNSET_VAR\"\n");
        let e = s.executor_config().unwrap_err().to_string();
        assert!(
            e.contains("tokenEnv FERRY_TEST_SURELY_UNSET_VAR is not set"),
            "{e}"
        );
    }
}
