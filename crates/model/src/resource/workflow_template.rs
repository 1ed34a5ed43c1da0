use std::sync::Arc;

use serde::Serialize;

use super::ObjectMeta;
use crate::diagnostic::Origin;
use crate::yaml::Node;

/// Annotation that marks a WorkflowTemplate as a promotion workflow (SPEC §1.7).
pub const PROMOTION_ORIGIN_ANNOTATION: &str = "codefresh.io/workflow-origin";

/// An Argo Workflows WorkflowTemplate. The model keeps the whole manifest as
/// JSON: its spec is interpreted by the workflow runner (`ferry-workflow`),
/// which owns the supported subset and reports what it does not support.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowTemplate {
    pub metadata: ObjectMeta,
    pub manifest: serde_json::Value,
    #[serde(skip)]
    pub origin: Origin,
    /// The document as parsed, with positions: where a field of the
    /// manifest is, for messages about it ([`Self::locate`]).
    #[serde(skip)]
    pub node: Arc<Node>,
}

impl WorkflowTemplate {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Where `path` (`spec.templates[2].resource`) is written, or its
    /// deepest existing ancestor.
    pub fn locate(&self, path: &str) -> Origin {
        Origin {
            file: self.origin.file.clone(),
            pos: crate::validate::locate(&self.node, path),
        }
    }

    /// Whether policies, flows and hooks may use it.
    pub fn is_promotion_workflow(&self) -> bool {
        self.metadata
            .annotations
            .get(PROMOTION_ORIGIN_ANNOTATION)
            .map(String::as_str)
            == Some("promotion")
    }
}
