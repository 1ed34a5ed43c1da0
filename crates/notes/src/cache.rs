//! Notes are computed once per release and kept in the store: the inputs
//! (the frozen snapshot, the previous release's snapshot, immutable Git
//! history and image labels of immutable revisions) do not change, and
//! walking thousands of commits on every page view would.
//!
//! What is kept is what is served: every format's body, rendered when the
//! notes are computed, gzip-compressed and as it is ([`crate::rendition`]),
//! so a cached read parses, serialises and decompresses nothing. Rows of the first cache
//! version (the JSON document as text) are rendered on first read; a
//! cached document of another [`FORMAT_VERSION`] is rebuilt.
//!
//! The one input that does change is availability: notes computed while a
//! registry or repository was unreachable carry a note saying so
//! (*degraded*). Those are computed again by [`refresh_notes`] (on
//! request) and, once older than
//! [`NotesSettings::refresh_degraded_after`](crate::NotesSettings), on
//! read — by one reader at a time per release; the others are served the
//! cached notes meanwhile.
//!
//! Two replicas computing the same notes at once both store the same
//! bodies (the write is an upsert), so no lock is needed.

use std::collections::HashSet;
use std::sync::Mutex;

use ferry_model::resource::ReleaseNotesSpec;
use ferry_release::{Release, Timestamp};
use ferry_store::{NewRendition, NotesRendition, NotesValidator, Store};

use crate::build::NotesBuilder;
use crate::document::{FORMAT_VERSION, ReleaseNotes};
use crate::error::{Error, Result};
use crate::rendition::{NotesEncoding, NotesFormat, Rendered, render_all};

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
        .find(|r| !r.snapshot.pending && r.snapshot.environment == release.snapshot.environment))
}

/// One format of a release's notes as served, in one encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNotes {
    pub format: NotesFormat,
    pub encoding: NotesEncoding,
    /// Strong ETag of the uncompressed body (quoted); the gzip body's is
    /// [`crate::rendition::gzip_etag`] of it.
    pub etag: String,
    /// The notes say something could not be found out.
    pub degraded: bool,
    /// When the notes were computed.
    pub computed_at: Timestamp,
    /// Length of the uncompressed body.
    pub size: usize,
    /// The body in `encoding`.
    pub body: Vec<u8>,
}

impl CachedNotes {
    fn stored(r: NotesRendition, format: NotesFormat, encoding: NotesEncoding) -> CachedNotes {
        CachedNotes {
            format,
            encoding,
            etag: r.validator.etag,
            degraded: r.validator.degraded,
            computed_at: r.validator.created_at,
            size: usize::try_from(r.validator.size).unwrap_or(usize::MAX),
            body: r.body,
        }
    }

    fn rendered(
        mut all: Vec<Rendered>,
        format: NotesFormat,
        encoding: NotesEncoding,
        degraded: bool,
    ) -> Result<Self> {
        let at = all
            .iter()
            .position(|r| r.format == format)
            .ok_or_else(|| Error::Internal(format!("no {} rendition", format.key())))?;
        let r = all.swap_remove(at);
        let body = match encoding {
            NotesEncoding::Gzip => r.gzip,
            NotesEncoding::Identity => r.identity,
        };
        Ok(CachedNotes {
            format,
            encoding,
            etag: r.etag,
            degraded,
            computed_at: ferry_release::now(),
            size: r.size,
            body,
        })
    }
}

/// Releases whose notes one reader is computing again; the others serve
/// the cached notes meanwhile instead of computing them too.
#[derive(Debug, Default)]
pub(crate) struct InFlight(Mutex<HashSet<String>>);

/// Held while a release's notes are computed again; frees the slot on drop.
struct Slot<'a>(&'a InFlight, String);

impl InFlight {
    fn take(&self, id: &str) -> Option<Slot<'_>> {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        set.insert(id.to_owned()).then(|| Slot(self, id.to_owned()))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut set = self.0.0.lock().unwrap_or_else(|p| p.into_inner());
        set.remove(&self.1);
    }
}

/// Whether cached notes are due to be computed again on read: degraded
/// and older than the builder's refresh interval.
pub fn refresh_due(builder: &NotesBuilder, degraded: bool, computed_at: Timestamp) -> bool {
    let Some(after) = builder.settings().refresh_degraded_after else {
        return false;
    };
    let age = ferry_release::now() - computed_at;
    degraded && age.whole_milliseconds() >= i128::try_from(after.as_millis()).unwrap_or(i128::MAX)
}

/// The stored validator (ETag, degraded, age) of one format of a
/// release's notes, for answering a conditional request without reading
/// the body; `None` when nothing usable is stored or the notes are due to
/// be computed again (the caller then reads them with [`cached_notes`]).
pub async fn notes_validator(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    format: NotesFormat,
) -> Result<Option<NotesValidator>> {
    Ok(store
        .notes_validator(id, format.key())
        .await?
        .filter(|v| v.format_version == FORMAT_VERSION)
        .filter(|v| !refresh_due(builder, v.degraded, v.created_at)))
}

/// One format of the notes of release `id` as served, in `encoding`:
/// from the store, else computed (all formats) and stored. `spec` is the
/// product's current `spec.releaseNotes` (`None` when the product or the
/// section is gone).
pub async fn cached_notes(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    format: NotesFormat,
    encoding: NotesEncoding,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<CachedNotes> {
    match load(store, builder, id, format, encoding, spec).await? {
        Loaded::Cached(c) => Ok(c),
        Loaded::Computed { notes, rendered } => {
            CachedNotes::rendered(rendered, format, encoding, is_degraded(&notes))
        }
    }
}

/// The notes of release `id` as the JSON text served by the API.
pub async fn notes_json_for_release(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<String> {
    let cached = cached_notes(
        store,
        builder,
        id,
        NotesFormat::Json,
        NotesEncoding::Identity,
        spec,
    )
    .await?;
    String::from_utf8(cached.body)
        .map_err(|_| Error::Cache("the cached notes are not UTF-8".into()))
}

/// The notes of release `id` as a document (the UI's page, PR bodies):
/// from the store, else computed and stored.
pub async fn notes_for_release(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<ReleaseNotes> {
    match load(
        store,
        builder,
        id,
        NotesFormat::Json,
        NotesEncoding::Identity,
        spec,
    )
    .await?
    {
        Loaded::Computed { notes, .. } => Ok(*notes),
        Loaded::Cached(c) => Ok(serde_json::from_slice(&c.body)?),
    }
}

/// Computes the notes of release `id` again and replaces the cached ones
/// (a registry or repository that was down when they were first computed
/// may be back).
pub async fn refresh_notes(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<ReleaseNotes> {
    Ok(compute(store, builder, id, spec).await?.0)
}

/// Stores notes computed elsewhere as [`cached_notes`] serves them (every
/// format, replacing what was cached): for tools and benchmarks that
/// build a document themselves.
pub async fn store_notes(store: &Store, id: &str, notes: &ReleaseNotes) -> Result<()> {
    save(store, id, notes).await.map(|_| ())
}

/// Whether notes say something could not be found out.
pub fn is_degraded(notes: &ReleaseNotes) -> bool {
    !notes.notes.is_empty()
}

enum Loaded {
    Cached(CachedNotes),
    Computed {
        notes: Box<ReleaseNotes>,
        rendered: Vec<Rendered>,
    },
}

async fn load(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    format: NotesFormat,
    encoding: NotesEncoding,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<Loaded> {
    if let Some(r) = store
        .notes_rendition(id, format.key(), encoding.key())
        .await?
        && r.validator.format_version == FORMAT_VERSION
    {
        let cached = CachedNotes::stored(r, format, encoding);
        if !refresh_due(builder, cached.degraded, cached.computed_at) {
            return Ok(Loaded::Cached(cached));
        }
        // Degraded and old: this reader computes them again, unless
        // another one already is.
        let Some(_slot) = builder.refreshing.take(id) else {
            return Ok(Loaded::Cached(cached));
        };
        let (notes, rendered) = compute(store, builder, id, spec).await?;
        return Ok(Loaded::Computed {
            notes: Box::new(notes),
            rendered,
        });
    }
    // Written by the first cache version: render it once.
    if let Some((version, body)) = store.release_notes(id).await?
        && version == FORMAT_VERSION
        && let Ok(notes) = serde_json::from_str::<ReleaseNotes>(&body)
    {
        let rendered = save(store, id, &notes).await?;
        return Ok(Loaded::Computed {
            notes: Box::new(notes),
            rendered,
        });
    }
    let (notes, rendered) = compute(store, builder, id, spec).await?;
    Ok(Loaded::Computed {
        notes: Box::new(notes),
        rendered,
    })
}

async fn compute(
    store: &Store,
    builder: &NotesBuilder,
    id: &str,
    spec: impl FnOnce(&str) -> Option<ReleaseNotesSpec>,
) -> Result<(ReleaseNotes, Vec<Rendered>)> {
    let release = store
        .get(id)
        .await?
        .ok_or_else(|| Error::NoRelease(id.to_owned()))?;
    if release.snapshot.pending {
        return Err(Error::SnapshotPending(id.to_owned()));
    }
    let previous = previous_release(store, &release).await?;
    let spec = spec(&release.product);
    let notes = builder
        .build(&release, previous.as_ref(), spec.as_ref())
        .await;
    let rendered = save(store, id, &notes).await?;
    Ok((notes, rendered))
}

/// Renders every format (off the async threads: megabytes of JSON and
/// Markdown to write and compress) and stores them.
async fn save(store: &Store, id: &str, notes: &ReleaseNotes) -> Result<Vec<Rendered>> {
    let doc = notes.clone();
    let rendered = tokio::task::spawn_blocking(move || render_all(&doc))
        .await
        .map_err(|e| Error::Internal(format!("rendering the notes: {e}")))??;
    let rows: Vec<NewRendition<'_>> = rendered
        .iter()
        .flat_map(|r| {
            [NotesEncoding::Gzip, NotesEncoding::Identity].map(|e| NewRendition {
                format: r.format.key(),
                encoding: e.key(),
                etag: &r.etag,
                size: r.size as u64,
                body: r.body(e),
            })
        })
        .collect();
    store
        .put_notes_renditions(id, FORMAT_VERSION, is_degraded(notes), &rows)
        .await?;
    Ok(rendered)
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
