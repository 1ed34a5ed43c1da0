//! Argo CD's JSON, as far as ferry reads it (reference §5: `Application`
//! from `pkg/apis/application/v1alpha1/types.go`, the stream envelope from
//! grpc-gateway). Everything is optional and unknown fields are ignored:
//! Argo CD adds fields between versions and omits empty ones.

use std::collections::BTreeMap;

use serde::Deserialize;

/// An Argo CD Application as the API server returns it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoApplication {
    pub metadata: ArgoMeta,
    /// Kept as JSON: discovery turns it into the model's `ApplicationSpec`.
    #[serde(default)]
    pub spec: serde_json::Value,
    #[serde(default)]
    pub status: ArgoStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoMeta {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub resource_version: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoStatus {
    #[serde(default)]
    pub sync: ArgoSync,
    #[serde(default)]
    pub health: ArgoHealth,
    #[serde(default)]
    pub operation_state: Option<ArgoOperationState>,
    #[serde(default)]
    pub resources: Option<Vec<ArgoResource>>,
    #[serde(default)]
    pub reconciled_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoSync {
    #[serde(default)]
    pub status: Option<String>,
    /// Single-source applications.
    #[serde(default)]
    pub revision: Option<String>,
    /// Multi-source applications, one per `spec.sources` entry.
    #[serde(default)]
    pub revisions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoHealth {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoOperationState {
    #[serde(default)]
    pub phase: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `status.resources[]`: a managed resource with its sync and health.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArgoResource {
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    /// Absent for kinds without a health check.
    #[serde(default)]
    pub health: Option<ArgoHealth>,
}

/// One message of `GET /api/v1/stream/applications`: a result or an error.
#[derive(Debug, Deserialize)]
pub struct StreamMessage {
    #[serde(default)]
    pub result: Option<StreamEvent>,
    #[serde(default)]
    pub error: Option<StreamError>,
}

#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    /// `ADDED`, `MODIFIED` or `DELETED`.
    #[serde(rename = "type")]
    pub kind: String,
    pub application: ArgoApplication,
}

#[derive(Debug, Deserialize)]
pub struct StreamError {
    #[serde(default)]
    pub http_code: Option<u16>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `GET /api/v1/applications`: `items` is `null` when there are none.
#[derive(Debug, Deserialize)]
pub struct ArgoApplicationList {
    #[serde(default)]
    pub items: Option<Vec<ArgoApplication>>,
}

impl ArgoApplication {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .map(String::as_str)
    }
}
