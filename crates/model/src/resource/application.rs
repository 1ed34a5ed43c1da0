use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::ObjectMeta;
use crate::diagnostic::Origin;

/// Annotation naming which source of a multi-source Application is promoted:
/// the source's `name`, or its zero-based index (SPEC §1.1).
pub const PROMOTE_SOURCE_ANNOTATION: &str = "ferry.io/promote-source";

/// An Argo CD Application, read as is (SPEC §1.1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Application {
    pub metadata: ObjectMeta,
    pub spec: ApplicationSpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<ApplicationSource>>,
    pub destination: Destination,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing)]
    pub sync_policy: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub ignore_differences: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub info: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub revision_history_limit: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub source_hydrator: Option<IgnoredAny>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Branch, tag, SHA or `HEAD`; absent means `HEAD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default, skip_serializing)]
    pub helm: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub kustomize: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub directory: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub plugin: Option<IgnoredAny>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Destination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

impl Application {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// The source that promotions read and write (SPEC §1.1): the single
    /// `source`; for multi-source applications the one the
    /// `ferry.io/promote-source` annotation names (by `name` or index), else
    /// the first with a `path`.
    pub fn promoted_source(&self) -> Option<&ApplicationSource> {
        if let Some(source) = &self.spec.source {
            return Some(source);
        }
        let sources = self.spec.sources.as_ref()?;
        if let Some(wanted) = self.metadata.annotations.get(PROMOTE_SOURCE_ANNOTATION) {
            if let Some(s) = sources
                .iter()
                .find(|s| s.name.as_deref() == Some(wanted.as_str()))
            {
                return Some(s);
            }
            if let Ok(i) = wanted.parse::<usize>() {
                return sources.get(i);
            }
        }
        sources.iter().find(|s| s.path.is_some())
    }

    /// The branch (or other revision) the application deploys from, as written.
    pub fn target_revision(&self) -> &str {
        self.promoted_source()
            .and_then(|s| s.target_revision.as_deref())
            .unwrap_or("HEAD")
    }
}
