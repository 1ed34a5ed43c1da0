use serde::{Deserialize, Serialize};

use super::ObjectMeta;
use crate::diagnostic::Origin;

/// A deployment stage (SPEC §1.2): which clusters and namespaces belong to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Environment {
    pub metadata: ObjectMeta,
    pub spec: EnvironmentSpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EnvironmentKind {
    #[serde(rename = "PROD")]
    Prod,
    #[serde(rename = "NON_PROD")]
    NonProd,
}

impl EnvironmentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvironmentKind::Prod => "PROD",
            EnvironmentKind::NonProd => "NON_PROD",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentSpec {
    pub kind: EnvironmentKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<i64>,
    #[serde(default)]
    pub clusters: Vec<Cluster>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Cluster {
    /// Matches an Application's `destination.name` or `destination.server`.
    pub name: String,
    /// Namespace globs; empty means every namespace.
    #[serde(default)]
    pub namespaces: Vec<String>,
}

impl Environment {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }
}
