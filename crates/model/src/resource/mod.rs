//! The resource kinds of SPEC §1, as typed values.
//!
//! Field names follow the YAML (camelCase), so a Codefresh-style manifest
//! reads unchanged. Fields that Argo CD or Kubernetes define but ferry does
//! not use are declared as ignored, so they are neither lost in errors nor
//! reported as unknown.

mod application;
mod environment;
mod flow;
mod policy;
mod product;
mod selector;
mod string_map;
mod template;
mod window;
mod workflow_template;

pub use application::{Application, ApplicationSource, ApplicationSpec, Destination};
pub use environment::{Cluster, Environment, EnvironmentKind, EnvironmentSpec};
pub use flow::{
    DEFAULT_FLOW_TIMEOUT, FlowBody, FlowStep, Hooks, MAX_TIMEOUT_MINUTES, PromotionFlow,
    PromotionFlowSpec, parse_duration,
};
pub use policy::{
    APPROVER_ROLES, Action, ApprovalGate, Approvers, EnvironmentSelector, NameSelector, OnFailure,
    PolicySelector, PolicySettings, PromotionPolicy, PromotionPolicySpec,
};
pub use product::{
    Concurrency, ConcurrencyPolicy, Product, ProductFlow, ProductSpec, ReleaseNotesSource,
    ReleaseNotesSpec, SelectorKey, SelectorOperator, TriggerSelector,
};
pub use selector::{LabelSelector, LabelSelectorRequirement, SelectorOperatorKind};
pub use string_map::StringMap;
pub use template::{
    PromotionFile, PromotionTemplate, PromotionTemplateSpec, TemplateBody, VersionSource,
};
pub use window::{PromotionWindow, PromotionWindowSpec, WindowRange};
pub use workflow_template::{PROMOTION_ORIGIN_ANNOTATION, WorkflowTemplate};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// Kubernetes object metadata; only `name`, `namespace`, `labels` and
/// `annotations` are used.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub labels: StringMap,
    #[serde(default, skip_serializing_if = "StringMap::is_empty")]
    pub annotations: StringMap,
    #[serde(default, skip_serializing)]
    pub uid: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub resource_version: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub generation: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub generate_name: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub creation_timestamp: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub deletion_timestamp: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub deletion_grace_period_seconds: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub finalizers: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub owner_references: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub managed_fields: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    pub self_link: Option<IgnoredAny>,
}

/// The Kubernetes envelope every document shares. `status` is accepted and
/// ignored (exports from a cluster carry it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Envelope<S> {
    #[allow(dead_code)]
    pub api_version: String,
    #[allow(dead_code)]
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: S,
    #[serde(default)]
    #[allow(dead_code)]
    pub status: Option<IgnoredAny>,
}
