use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{LabelSelector, ObjectMeta};
use crate::diagnostic::Origin;

/// Which properties of an application are promoted and where its version is
/// read (SPEC §1.4).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PromotionTemplate {
    pub metadata: ObjectMeta,
    pub spec: PromotionTemplateSpec,
    #[serde(skip)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionTemplateSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_source_selector: Option<LabelSelector>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_source: Option<VersionSource>,
    /// File (relative to the application's source path) → promotable paths.
    /// Absent: every file of the source directory is promoted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<BTreeMap<String, PromotionFile>>,
}

/// The part of a template that a Product may also give inline.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_source: Option<VersionSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion: Option<BTreeMap<String, PromotionFile>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionSource {
    pub file: String,
    pub json_path: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PromotionFile {
    pub json_paths: Vec<String>,
}

impl PromotionFile {
    /// A file whose only path is `*` is copied whole.
    pub fn is_whole_file(&self) -> bool {
        self.json_paths.len() == 1 && self.json_paths[0].trim() == "*"
    }
}

impl PromotionTemplate {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    pub fn body(&self) -> TemplateBody {
        TemplateBody {
            version_source: self.spec.version_source.clone(),
            promotion: self.spec.promotion.clone(),
        }
    }
}
