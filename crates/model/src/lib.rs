//! ferry's resource model.
//!
//! Everything ferry knows about a team's configuration — Products,
//! Environments, PromotionFlows, PromotionPolicies, PromotionTemplates,
//! Argo CD Applications and Argo WorkflowTemplates — is parsed, validated
//! and indexed here, without any I/O: callers hand in file names and texts
//! (see `ferry-config` for reading them from a directory or a Git
//! repository). Every problem is a [`Diagnostic`] that names the file,
//! line, column and field.

pub mod yaml;

pub mod config;
pub mod diagnostic;
pub mod flowgraph;
pub mod glob;
pub mod jsonpath;
mod load;
pub mod membership;
pub mod policy;
pub mod resource;
pub mod trigger;
mod validate;
pub mod window;

pub use config::Config;
pub use diagnostic::{Diagnostic, Origin, Severity};
pub use flowgraph::FlowGraph;
pub use load::{FileInput, Loaded, SourceFile, load, load_each};
pub use membership::Membership;
pub use policy::{PolicyEvaluation, evaluate};
pub use yaml::Limits;
