//! The release notes page (SPEC §7): every change that led to a release —
//! code commits behind its images, configuration commits, images —
//! grouped as breaking changes, features, fixes and other changes
//! (Conventional Commits, as `ferry-notes` groups code commits). A
//! configuration commit touching several applications is listed once,
//! naming them. What could not be read (a registry, a repository) is
//! folded at the bottom, with Refresh. `…/notes.md` serves the Markdown
//! export (the notes crate's rendering, unchanged) for people signed in to
//! the UI. Notes are computed once per release and read from the store.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use ferry_notes::document::{Commit, Groups, ReleaseNotes};

use crate::actions::ActionForm;
use crate::layout::{Layout, UiError, Viewer, page, query_value, repo_shown, seg, short_sha};
use crate::links::Links;
use crate::release_view::load;
use ferry_api::Shared;
use ferry_api::csrf;

/// One commit as the page lists it.
pub struct CommitRow {
    pub sha: String,
    pub href: Option<String>,
    /// HTML: escaped, `code` spans.
    pub subject: String,
    /// The applications a configuration commit touches.
    pub apps: Vec<String>,
    pub scope: String,
    pub author: String,
    pub date: String,
    pub pull_request: String,
    pub issues: Vec<(String, Option<String>)>,
}

impl CommitRow {
    fn of(repo_url: &str, c: &Commit) -> CommitRow {
        // In a group the type is the heading: `scope: description`.
        let subject = match (&c.kind, c.subject.split_once(": ")) {
            (Some(_), Some((_, rest))) => rest,
            _ => c.subject.as_str(),
        };
        CommitRow {
            sha: short_sha(&c.sha),
            href: Links::default().commit(repo_url, &c.sha),
            subject: crate::text::code_spans(subject),
            apps: Vec::new(),
            scope: c.scope.clone().unwrap_or_default(),
            author: c.author.name.clone(),
            date: c.date.clone(),
            pull_request: c.pull_request.map(|n| format!("#{n}")).unwrap_or_default(),
            issues: c
                .issues
                .iter()
                .map(|i| (i.key.clone(), i.url.clone()))
                .collect(),
        }
    }
}

pub struct Group {
    pub title: &'static str,
    pub commits: Vec<CommitRow>,
}

pub struct Section {
    pub title: String,
    pub subtitle: String,
    pub groups: Vec<Group>,
    pub truncated: bool,
}

pub struct ImageRow {
    pub application: String,
    pub repository: String,
    pub from: String,
    pub to: String,
    pub source: String,
}

#[derive(Template)]
#[template(path = "ui/notes.html")]
struct NotesPage {
    layout: Layout,
    product: String,
    product_href: String,
    release_href: String,
    number: u64,
    version: String,
    previous: Option<(u64, String)>,
    markdown_href: String,
    /// Where the Refresh button posts: shown while the notes are
    /// incomplete (a registry or repository could not be read).
    refresh_href: String,
    signed_in: bool,
    /// The signed-in person's token may refresh (see `api::notes`).
    may_refresh: bool,
    /// Sign-in, then back to this page.
    signin_href: String,
    csrf: String,
    remarks: Vec<String>,
    configuration: Option<Section>,
    images: Vec<ImageRow>,
    sources: Vec<Section>,
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (release, _) = load(&st, &product, &number).await?;
    let notes = ferry_api::notes::release_notes(&st, &release.id).await?;
    let product_href = format!("/products/{}", seg(&product));
    let release_href = format!("{product_href}/releases/{}", release.number);
    Ok(page(&NotesPage {
        layout: Layout::new(
            format!("{product} release #{} notes", release.number),
            &viewer,
            "releases",
        ),
        markdown_href: format!("{release_href}/notes.md"),
        previous: notes.previous_release.as_ref().map(|p| {
            (
                p.number,
                format!("{product_href}/releases/{}/notes", p.number),
            )
        }),
        refresh_href: format!("{release_href}/notes/refresh"),
        signed_in: viewer.signed_in(),
        may_refresh: viewer
            .caller
            .as_ref()
            .is_some_and(|c| ferry_api::notes::may_refresh(c, &release.product).is_ok()),
        signin_href: format!(
            "/signin?next={}",
            query_value(&format!("{release_href}/notes"))
        ),
        csrf: viewer.csrf.clone(),
        version: release.version.clone().unwrap_or_default(),
        number: release.number,
        product,
        product_href,
        release_href,
        remarks: notes.notes.clone(),
        configuration: configuration(&notes),
        images: images(&notes),
        sources: sources(&notes),
    }))
}

/// The Refresh button: computes the notes again (a registry or
/// repository that was down may be back) with the same role check and
/// audit entry as `POST /api/v1/releases/{id}/notes/refresh`, then shows
/// the page again.
pub async fn refresh(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    let (release, _) = load(&st, &product, &number).await?;
    let notes_href = format!(
        "/products/{}/releases/{}/notes",
        seg(&product),
        release.number
    );
    let Some(caller) = viewer.caller.clone() else {
        return Ok(
            Redirect::to(&format!("/signin?next={}", query_value(&notes_href))).into_response(),
        );
    };
    csrf::check(&viewer.csrf, form.csrf())?;
    ferry_api::notes::refresh_as(&st, &caller, &release.id).await?;
    Ok(Redirect::to(&notes_href).into_response())
}

/// Every configuration commit once (newest first, as listed per
/// application), with the applications it touches, grouped by kind.
fn configuration(notes: &ReleaseNotes) -> Option<Section> {
    let mut order: Vec<(&Commit, &str)> = Vec::new();
    let mut apps: std::collections::HashMap<&str, Vec<String>> = std::collections::HashMap::new();
    let mut truncated = false;
    let mut paths = Vec::new();
    for c in &notes.configuration {
        truncated |= c.truncated;
        if !c.commits.is_empty() {
            paths.push(format!("{} ({})", c.application, c.path));
        }
        for k in &c.commits {
            let list = apps.entry(k.sha.as_str()).or_default();
            if list.is_empty() {
                order.push((k, c.repo_url.as_str()));
            }
            if !list.contains(&c.application) {
                list.push(c.application.clone());
            }
        }
    }
    if order.is_empty() {
        return None;
    }
    let repo_of: std::collections::HashMap<&str, &str> =
        order.iter().map(|(k, r)| (k.sha.as_str(), *r)).collect();
    let groups = Groups::of(order.iter().map(|(k, _)| (*k).clone()).collect());
    Some(Section {
        title: "Configuration changes".into(),
        subtitle: format!(
            "Commits to the GitOps repository since the previous release: {}",
            paths.join(", ")
        ),
        groups: groups
            .named()
            .into_iter()
            .filter(|(_, commits)| !commits.is_empty())
            .map(|(title, commits)| Group {
                title,
                commits: commits
                    .iter()
                    .map(|c| {
                        let mut row =
                            CommitRow::of(repo_of.get(c.sha.as_str()).copied().unwrap_or(""), c);
                        row.apps = apps.remove(c.sha.as_str()).unwrap_or_default();
                        row
                    })
                    .collect(),
            })
            .collect(),
        truncated,
    })
}

/// `GET …/notes.md`: the Markdown export (what the API serves with
/// `?format=markdown`), for people signed in to the UI.
pub async fn markdown(
    _viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (release, _) = load(&st, &product, &number).await?;
    let notes = ferry_api::notes::release_notes(&st, &release.id).await?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/markdown; charset=utf-8".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"{}-{}-notes.md\"",
                    seg(&release.product),
                    release.number
                ),
            ),
        ],
        ferry_notes::markdown(&notes),
    )
        .into_response())
}

fn images(notes: &ReleaseNotes) -> Vec<ImageRow> {
    notes
        .images
        .iter()
        .map(|i| ImageRow {
            application: i.application.clone(),
            repository: i.repository.clone(),
            from: i.from.clone().unwrap_or_else(|| "—".into()),
            to: i.to.clone(),
            source: i
                .source
                .as_ref()
                .map(|s| repo_shown(&s.repo_url))
                .unwrap_or_else(|| "unknown source".into()),
        })
        .collect()
}

fn sources(notes: &ReleaseNotes) -> Vec<Section> {
    notes
        .sources
        .iter()
        .map(|s| Section {
            title: repo_shown(&s.repo_url),
            subtitle: format!(
                "{} → {} ({})",
                s.from.as_deref().map_or("—".to_owned(), short_sha),
                short_sha(&s.to),
                s.images.join(", ")
            ),
            groups: s
                .groups
                .named()
                .into_iter()
                .filter(|(_, commits)| !commits.is_empty())
                .map(|(title, commits)| Group {
                    title,
                    commits: commits
                        .iter()
                        .map(|c| CommitRow::of(&s.repo_url, c))
                        .collect(),
                })
                .collect(),
            truncated: s.truncated,
        })
        .collect()
}
