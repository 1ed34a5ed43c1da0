//! Putting the notes of one release together: configuration commits per
//! application, the images among the promoted values, where each image's
//! code came from (labels, else the mapping), and the code commits of each
//! source repository.
//!
//! Nothing here fails a release or a request: every part that cannot be
//! computed (registry down, repository gone, bad pattern) becomes a line
//! of [`ReleaseNotes::notes`] and the rest is still shown.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_git::Mirror;
use ferry_gitops::Workspace;
use ferry_model::resource::ReleaseNotesSpec;
use ferry_release::{ApplicationSnapshot, Release};
use ferry_yamledit::PathValue;
use regex::Regex;

use crate::commits::{self, Limits, short};
use crate::config_changes::{self, resolve_fetching};
use crate::document::{
    FORMAT_VERSION, Groups, ImageChange, ReleaseNotes, ReleaseRef, ResolvedRange, SourceChanges,
    SourceVia,
};
use crate::error::{Error, Result};
use crate::image::{self, ImageRef, ImageValue, Siblings};
use crate::message::{IssueRules, repo_web_url};
use crate::oci::OciClient;
use crate::sources::SourceMap;

/// Limits of the notes (server settings; the product may lower the first
/// release's).
#[derive(Debug, Clone, Copy)]
pub struct NotesSettings {
    /// Most commits listed per range (configuration or code).
    pub max_commits: usize,
    /// Commits listed for a product's first release (or when the old
    /// revision is gone) unless `spec.releaseNotes.firstReleaseLimit` says.
    pub first_release_limit: usize,
    /// Accept local paths and `file://` URLs in image source labels. Off
    /// by default: labels are written by whoever builds an image, and a
    /// label must not make the server read its own disk.
    pub allow_local_sources: bool,
    /// Cached notes that say something could not be found out (a registry
    /// or repository was unavailable) are computed again when read once
    /// they are this old; `None`: only on request
    /// (`POST /api/v1/releases/{id}/notes/refresh`).
    pub refresh_degraded_after: Option<std::time::Duration>,
}

impl Default for NotesSettings {
    fn default() -> Self {
        NotesSettings {
            max_commits: 10_000,
            first_release_limit: 50,
            allow_local_sources: false,
            refresh_degraded_after: Some(std::time::Duration::from_secs(600)),
        }
    }
}

/// Computes release notes (one per server; cheap to share).
pub struct NotesBuilder {
    workspace: Arc<Workspace>,
    oci: Arc<OciClient>,
    settings: NotesSettings,
    /// Releases whose degraded notes are being computed again on read.
    pub(crate) refreshing: crate::cache::InFlight,
}

/// What one image's source resolved to.
struct Resolved {
    repo_url: String,
    /// `None`: the repository is known, the revision is not.
    revision: Option<String>,
    via: SourceVia,
}

impl NotesBuilder {
    pub fn new(workspace: Arc<Workspace>, oci: Arc<OciClient>, settings: NotesSettings) -> Self {
        NotesBuilder {
            workspace,
            oci,
            settings,
            refreshing: crate::cache::InFlight::default(),
        }
    }

    pub fn settings(&self) -> &NotesSettings {
        &self.settings
    }

    /// The notes of `release`, counted from `previous` (the product's
    /// previous release from the same trigger environment, if any).
    pub async fn build(
        &self,
        release: &Release,
        previous: Option<&Release>,
        spec: Option<&ReleaseNotesSpec>,
    ) -> ReleaseNotes {
        let mut notes = Vec::new();
        let rules = issue_rules(spec, &mut notes);
        let limits = Limits {
            max_commits: self.settings.max_commits,
            without_base: spec
                .and_then(|s| s.first_release_limit)
                .map_or(self.settings.first_release_limit, |n| n as usize),
        };
        let prev_apps = previous.map(|p| &p.snapshot.applications);

        // Configuration commits and image values: both read the GitOps
        // mirrors, so one blocking task per application.
        let mut config = Vec::new();
        let mut changed = Vec::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (key, now)) in release.snapshot.applications.iter().enumerate() {
            let before = prev_apps.and_then(|a| a.get(key)).cloned();
            let now = now.clone();
            let workspace = Arc::clone(&self.workspace);
            let rules = rules.clone();
            tasks.spawn_blocking(move || {
                let out = application_part(&workspace, &now, before.as_ref(), limits, &rules);
                (i, out)
            });
        }
        let mut parts = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(part) => parts.push(part),
                Err(e) => notes.push(format!("internal: a notes task failed: {e}")),
            }
        }
        parts.sort_by_key(|(i, _)| *i);
        for (_, part) in parts {
            let AppPart {
                application,
                config: c,
                images,
                notes: mut n,
            } = part;
            notes.append(&mut n);
            if let Some(c) = c {
                config.push(c);
            }
            changed.extend(images.into_iter().map(|ch| (application.clone(), ch)));
        }

        // Where each changed image's code lives.
        let map = SourceMap::from_spec(spec);
        let mut images = Vec::new();
        for (application, ch) in changed {
            let new = self.resolve(&ch.new, &map, &mut notes).await;
            let old = match &ch.old {
                Some(o) => self.resolve(o, &map, &mut notes).await,
                None => None,
            };
            let source = new.map(|n| {
                let from = match old {
                    Some(o) if same_repo(&o.repo_url, &n.repo_url) => o.revision,
                    Some(o) => {
                        notes.push(format!(
                            "{}: the previous image came from {}, this one from {}; listing recent commits only",
                            ch.new.repository(),
                            o.repo_url,
                            n.repo_url
                        ));
                        None
                    }
                    None => None,
                };
                (n, from)
            });
            let source = match source {
                Some((n, from)) => match n.revision {
                    Some(to) => Some(ResolvedRange {
                        repo_url: ferry_git::redact_url(&n.repo_url),
                        from,
                        to,
                        via: n.via,
                    }),
                    None => {
                        notes.push(format!(
                            "{}:{}: the source repository is {} but no revision is known (no `{}` label and no matching tag pattern)",
                            ch.new.repository(),
                            ch.new.version(),
                            n.repo_url,
                            crate::oci::REVISION_LABEL
                        ));
                        None
                    }
                },
                None => None,
            };
            images.push(ImageChange {
                application,
                file: ch.file,
                path: ch.path,
                repository: ch.new.repository(),
                from: ch.old.as_ref().map(ImageRef::version),
                to: ch.new.version(),
                source,
            });
        }

        // Code commits, one range per (repository, from, to).
        let mut ranges: Vec<(String, Option<String>, String, Vec<String>)> = Vec::new();
        for img in &images {
            let Some(src) = &img.source else { continue };
            match ranges
                .iter_mut()
                .find(|(r, f, t, _)| *r == src.repo_url && *f == src.from && *t == src.to)
            {
                Some((_, _, _, imgs)) => {
                    if !imgs.contains(&img.repository) {
                        imgs.push(img.repository.clone())
                    }
                }
                None => ranges.push((
                    src.repo_url.clone(),
                    src.from.clone(),
                    src.to.clone(),
                    vec![img.repository.clone()],
                )),
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (i, (repo_url, from, to, imgs)) in ranges.into_iter().enumerate() {
            let workspace = Arc::clone(&self.workspace);
            let mut rules = rules.clone();
            rules.repo_web_url = repo_web_url(&repo_url);
            tasks.spawn_blocking(move || {
                let out = code_range(&workspace, &repo_url, from.as_deref(), &to, limits, &rules);
                (i, repo_url, from, to, imgs, out)
            });
        }
        let mut sources = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(done) => sources.push(done),
                Err(e) => notes.push(format!("internal: a notes task failed: {e}")),
            }
        }
        sources.sort_by_key(|s| s.0);
        let mut source_changes = Vec::new();
        for (_, repo_url, from, to, imgs, out) in sources {
            match out {
                Ok(range) => {
                    notes.extend(range.notes);
                    source_changes.push(SourceChanges {
                        repo_url: ferry_git::redact_url(&repo_url),
                        images: imgs,
                        from,
                        to,
                        groups: Groups::of(range.commits),
                        truncated: range.truncated,
                    });
                }
                Err(e) => notes.push(format!(
                    "code changes of {} ({}) are not available: {e}",
                    imgs.join(", "),
                    ferry_git::redact_url(&repo_url)
                )),
            }
        }

        ReleaseNotes {
            format_version: FORMAT_VERSION,
            release: release_ref(release),
            previous_release: previous.map(release_ref),
            configuration: config,
            images,
            sources: source_changes,
            notes,
        }
    }

    /// An image's source: its registry labels, else the product mapping.
    async fn resolve(
        &self,
        image: &ImageRef,
        map: &SourceMap,
        notes: &mut Vec<String>,
    ) -> Option<Resolved> {
        let mut from_labels = None;
        match self.oci.image_source(image).await {
            Ok(src) => {
                if let Some(repo) = src.source()
                    && !self.settings.allow_local_sources
                    && !is_remote_url(repo)
                {
                    notes.push(format!(
                        "{}:{}: the source label `{repo}` is not a remote repository URL; ignored",
                        image.repository(),
                        image.version()
                    ));
                } else if let Some(repo) = src.source() {
                    from_labels = Some(Resolved {
                        repo_url: repo.to_owned(),
                        revision: src.revision().map(str::to_owned),
                        via: SourceVia::Labels,
                    });
                }
            }
            Err(e) => notes.push(format!(
                "{}:{}: labels not read: {e}",
                image.repository(),
                image.version()
            )),
        }
        if let Some(r) = &from_labels
            && r.revision.is_some()
        {
            return from_labels;
        }
        match map.lookup(image) {
            Some(hit) => {
                let workspace = Arc::clone(&self.workspace);
                let repo = hit.repo_url.to_owned();
                let candidates = hit.revisions.clone();
                let revision = tokio::task::spawn_blocking(move || {
                    let mirror = workspace.mirror(&repo).ok()?;
                    let mut fetched = false;
                    candidates
                        .iter()
                        .find_map(|c| resolve_fetching(&mirror, c, &mut fetched))
                        .map(|id| id.to_string())
                })
                .await
                .ok()
                .flatten();
                if revision.is_none() && !hit.revisions.is_empty() {
                    notes.push(format!(
                        "{}:{}: none of the revisions {} is in {}",
                        image.repository(),
                        image.version(),
                        hit.revisions.join(", "),
                        ferry_git::redact_url(hit.repo_url)
                    ));
                }
                Some(Resolved {
                    repo_url: hit.repo_url.to_owned(),
                    revision,
                    via: SourceVia::Mapping,
                })
            }
            None => {
                if from_labels.is_none() {
                    notes.push(format!(
                        "{}:{}: no source known (no `{}` label, no entry in spec.releaseNotes.sources)",
                        image.repository(),
                        image.version(),
                        crate::oci::SOURCE_LABEL
                    ));
                }
                from_labels
            }
        }
    }
}

fn release_ref(r: &Release) -> ReleaseRef {
    ReleaseRef {
        id: r.id.clone(),
        number: r.number,
        product: r.product.clone(),
        version: r.version.clone(),
    }
}

/// `https://`, `http://`, `ssh://`, `git://` or scp-like `user@host:path`.
fn is_remote_url(url: &str) -> bool {
    let url = url.trim();
    ["https://", "http://", "ssh://", "git://"]
        .iter()
        .any(|p| url.starts_with(p))
        || url
            .split_once(':')
            .is_some_and(|(host, _)| host.contains('@') && !host.contains('/'))
}

/// Repository URLs that name the same repository (`.git` and a trailing
/// slash do not matter; labels often omit `.git`).
fn same_repo(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().trim_end_matches('/');
        s.strip_suffix(".git").unwrap_or(s).to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

/// The product's issue settings; a bad pattern is a note, not an error.
fn issue_rules(spec: Option<&ReleaseNotesSpec>, notes: &mut Vec<String>) -> IssueRules {
    let mut rules = IssueRules::default();
    let Some(spec) = spec else { return rules };
    if let Some(p) = spec.issue_pattern.as_deref().filter(|p| !p.is_empty()) {
        match Regex::new(p) {
            Ok(re) => rules.key_pattern = Some(re),
            Err(e) => notes.push(
                Error::Settings {
                    field: "issuePattern",
                    message: format!("`{p}` is not a regular expression: {e}"),
                }
                .to_string(),
            ),
        }
    }
    rules.url_template = spec.issue_url_template.clone();
    rules
}

struct AppPart {
    application: String,
    config: Option<crate::document::ConfigChanges>,
    images: Vec<image::Changed>,
    notes: Vec<String>,
}

fn application_part(
    workspace: &Workspace,
    now: &ApplicationSnapshot,
    before: Option<&ApplicationSnapshot>,
    limits: Limits,
    rules: &IssueRules,
) -> AppPart {
    let mut notes = Vec::new();
    let mirror = match workspace.mirror(&now.repo_url) {
        Ok(m) => Some(m),
        Err(e) => {
            notes.push(format!(
                "{}: configuration repository not available: {e}",
                now.application
            ));
            None
        }
    };
    let mut config = None;
    if let Some(m) = &mirror {
        let mut rules = rules.clone();
        rules.repo_web_url = repo_web_url(&now.repo_url);
        match config_changes::for_application(m, now, before, limits, &rules) {
            Ok((c, mut n)) => {
                notes.append(&mut n);
                config = Some(c);
            }
            Err(e) => notes.push(format!(
                "{}: configuration commits not available: {e}",
                now.application
            )),
        }
    }
    let new_images = images_of(mirror.as_deref(), now);
    let old_images = before
        .map(|b| images_of(mirror.as_deref(), b))
        .unwrap_or_default();
    AppPart {
        application: now.application.clone(),
        config,
        images: image::changes(&old_images, &new_images),
        notes,
    }
}

/// Image values of an application's snapshot: its promoted values, and the
/// `image` fields of whole files it promotes.
fn images_of(mirror: Option<&Mirror>, snap: &ApplicationSnapshot) -> Vec<ImageValue> {
    let siblings = FileSiblings { mirror, snap };
    let mut values: BTreeMap<String, Vec<PathValue>> = snap.values.clone();
    for (file, content) in &snap.files {
        if !(file.ends_with(".yaml") || file.ends_with(".yml")) {
            continue;
        }
        if let Ok(found) = ferry_yamledit::snapshot(content, &["$..image", "$..images[*]"]) {
            values.entry(file.clone()).or_default().extend(found);
        }
    }
    image::images_in(&values, &siblings)
}

/// Reads a value beside a promoted one: from the whole file when the
/// snapshot has it, else from the mirror at the snapshot's revision.
struct FileSiblings<'a> {
    mirror: Option<&'a Mirror>,
    snap: &'a ApplicationSnapshot,
}

impl Siblings for FileSiblings<'_> {
    fn string_at(&self, file: &str, path: &str) -> Option<String> {
        let text = match self.snap.files.get(file) {
            Some(t) => t.clone(),
            None => {
                let dir = self.snap.path.trim_matches('/');
                let full = if dir.is_empty() {
                    file.to_owned()
                } else {
                    format!("{dir}/{file}")
                };
                let bytes = self.mirror?.read_file(&self.snap.revision, &full).ok()??;
                String::from_utf8(bytes).ok()?
            }
        };
        let found = ferry_yamledit::query(&text, path).ok()?;
        found
            .first()
            .and_then(|l| l.value.scalar_text().map(str::to_owned))
            .filter(|s| !s.is_empty())
    }
}

fn code_range(
    workspace: &Workspace,
    repo_url: &str,
    from: Option<&str>,
    to: &str,
    limits: Limits,
    rules: &IssueRules,
) -> Result<commits::Range> {
    let mirror = workspace
        .mirror(repo_url)
        .map_err(|e| Error::Git(e.to_string()))?;
    // New revisions are usually newer than the mirror: fetch when `to` (or
    // `from`) is unknown, never on a warm mirror that has both.
    let mut fetched = false;
    if resolve_fetching(&mirror, to, &mut fetched).is_none() {
        return Err(Error::Git(format!(
            "revision {} is not in {}",
            short(to),
            mirror.remote().display_url()
        )));
    }
    if let Some(f) = from {
        resolve_fetching(&mirror, f, &mut fetched);
    }
    commits::between(&mirror, from, to, limits, rules)
}
