//! Notes are computed once per release and kept in the store: the inputs
//! (the frozen snapshot, the previous release's snapshot, immutable Git
//! history and image labels of immutable revisions) do not change, and
//! walking thousands of commits on every page view would.
//!
//! A cached document of another [`FORMAT_VERSION`] is rebuilt. Two
//! replicas computing the same notes at once both store the same document
//! (the write is an upsert), so no lock is needed.

use ferry_model::resource::ReleaseNotesSpec;
use ferry_release::Release;
use ferry_store::Store;

use crate::build::NotesBuilder;
use crate::document::{FORMAT_VERSION, ReleaseNotes};
use crate::error::{Error, Result};

/// How many earlier releases are searched for one from the same trigger
/// environment (manual promotions between environments interleave).
const PREVIOUS_SEARCH: u32 = 100;

/// The product's previous release with the same trigger environment (the
/// snapshot's environment), newest first among those numbered below
/// `release`.
pub async fn previous_release(store: &Store, release: &Release) -> Result<Option<Release>> {
    let earlier = store
        .releases_before(&release.product, release.number, PREVIOUS_SEARCH)
        .await?;
    Ok(earlier
        .into_iter()
        .find(|r| r.snapshot.environment == release.snapshot.environment))
}

/// The notes of release `id` as the stored JSON text: served without
/// decoding when cached (a release of 10,000 commits is megabytes of
/// JSON; decoding it is most of the cost of a cache hit), else computed
/// and stored like [`notes_for_release`].
pub async fn notes_json_for_release(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<String> {
    if let Some((version, body)) = store.release_notes(id).await?
        && version == FORMAT_VERSION
    {
        return Ok(body);
    }
    let notes = notes_for_release(store, builder, id, spec).await?;
    Ok(serde_json::to_string(&notes)?)
}

/// The notes of release `id`: from the store, else computed and stored.
/// `spec` is the product's current `spec.releaseNotes` (`None` when the
/// product or the section is gone).
pub async fn notes_for_release(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<ReleaseNotes> {
    if let Some((version, body)) = store.release_notes(id).await?
        && version == FORMAT_VERSION
        && let Ok(notes) = serde_json::from_str::<ReleaseNotes>(&body)
    {
        return Ok(notes);
    }
    let release = store
        .get(id)
        .await?
        .ok_or_else(|| Error::NoRelease(id.to_owned()))?;
    let previous = previous_release(store, &release).await?;
    let spec = spec(&release.product);
    let notes = builder
        .build(&release, previous.as_ref(), spec.as_ref())
        .await;
    let body = serde_json::to_string(&notes)?;
    store.put_release_notes(id, FORMAT_VERSION, &body).await?;
    Ok(notes)
}

/// The release notes as (part of) the body of a promotion pull request:
/// cached or computed like the API's, cut to `max_chars` (what the forge
/// accepts, less what precedes the notes) with a link to the full notes.
/// Never fails — a PR is not held up by its description: when the notes
/// cannot be had, the body says so in one line.
pub async fn pr_body(
    store: &Store,
    builder: &NotesBuilder,
    release_id: &str,
    spec: Option<ReleaseNotesSpec>,
    max_chars: usize,
    full_notes_url: Option<&str>,
) -> String {
    match notes_for_release(store, builder, release_id, |_| spec).await {
        Ok(notes) => crate::render::markdown_for_pr(&notes, max_chars, full_notes_url),
        Err(e) => format!("The release notes are not available: {e}\n"),
    }
}
