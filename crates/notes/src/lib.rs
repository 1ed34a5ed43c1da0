//! Release notes (SPEC §7): every change that led to a release.
//!
//! - [`config_changes`]: commits touching each application's source path
//!   in the GitOps repository since the previous release;
//! - [`image`]: which promoted values name container images, old → new;
//! - [`oci`]: an image's `org.opencontainers.image.source` / `.revision`
//!   labels through the OCI Distribution API (anonymous, Basic or bearer
//!   token registries; manifest lists → the first platform);
//! - [`sources`]: the product's `spec.releaseNotes.sources` mapping for
//!   images without labels (tag patterns `main-{sha}`, `v{version}` …);
//! - [`commits`] + [`message`]: the commits between two revisions of a
//!   cached mirror, with Conventional Commit type/scope/breaking, pull
//!   request and linked issues;
//! - [`render`]: grouped Markdown (notes page, CLI, promotion PR bodies);
//! - [`build`]: puts it together, turning every failure into a note;
//! - [`rendition`]: each format's body as served (gzip and plain, strong
//!   ETag);
//! - [`cache`]: computed once per release and kept in the store as served;
//!   degraded notes computed again on request or when old.
//!
//! ```no_run
//! # async fn demo(store: ferry_store::Store, workspace: std::sync::Arc<ferry_gitops::Workspace>) -> Result<(), ferry_notes::Error> {
//! use std::sync::Arc;
//! let oci = Arc::new(ferry_notes::OciClient::new(ferry_notes::OciSettings::default())?);
//! let builder = ferry_notes::NotesBuilder::new(workspace, oci, ferry_notes::NotesSettings::default());
//! let notes = ferry_notes::notes_for_release(&store, &builder, "01J…", |_product| None).await?;
//! let pr_body = ferry_notes::markdown_for_pr(&notes, ferry_notes::PR_BODY_LIMIT, None);
//! # let _ = pr_body; Ok(()) }
//! ```

pub mod build;
pub mod cache;
pub mod commits;
pub mod config_changes;
pub mod document;
mod error;
pub mod image;
pub mod message;
pub mod oci;
pub mod render;
pub mod rendition;
pub mod sources;

pub use build::{NotesBuilder, NotesSettings};
pub use cache::{
    CachedNotes, cached_notes, is_degraded, notes_for_release, notes_json_for_release,
    notes_validator, pr_body, previous_release, refresh_due, refresh_notes, store_notes,
};
pub use document::{
    Author, Commit, ConfigChanges, FORMAT_VERSION, Groups, ImageChange, ReleaseNotes, ReleaseRef,
    ResolvedRange, SourceChanges, SourceVia,
};
pub use error::{Error, Result};
pub use image::ImageRef;
pub use message::IssueLink;
pub use oci::{OciClient, OciSettings};
pub use render::{PR_BODY_LIMIT, markdown, markdown_for_pr};
pub use rendition::{NotesEncoding, NotesFormat};
