//! The release notes page (SPEC §7): every change that led to a release —
//! configuration commits, images and the code commits behind them —
//! grouped as the JSON and Markdown notes are (`ferry-notes`), computed
//! once per release and then read from the store.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use ferry_notes::document::{Commit, ReleaseNotes};

use crate::actions::ActionForm;
use crate::layout::{
    Layout, UiError, Viewer, commit_link, page, query_value, repo_shown, seg, short_sha,
};
use crate::release_view::load;
use ferry_api::Shared;
use ferry_api::csrf;

/// One commit as the page lists it.
pub struct CommitRow {
    pub sha: String,
    pub href: Option<String>,
    pub subject: String,
    pub scope: String,
    pub author: String,
    pub date: String,
    pub pull_request: String,
    pub issues: Vec<(String, Option<String>)>,
}

impl CommitRow {
    fn of(repo_url: &str, c: &Commit) -> CommitRow {
        CommitRow {
            sha: short_sha(&c.sha),
            href: commit_link(repo_url, &c.sha),
            subject: c.subject.clone(),
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
    configuration: Vec<Section>,
    images: Vec<ImageRow>,
    sources: Vec<Section>,
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (release, _) = load(&st, &product, &number).await?;
    let loaded = st.engine.config();
    let spec = |p: &str| {
        loaded
            .config
            .product(p)
            .and_then(|p| p.spec.release_notes.clone())
    };
    let notes = ferry_notes::notes_for_release(&st.store, &st.notes, &release.id, spec)
        .await
        .map_err(ferry_api::notes::notes_error)?;
    let product_href = format!("/products/{}", seg(&product));
    let release_href = format!("{product_href}/releases/{}", release.number);
    Ok(page(&NotesPage {
        layout: Layout::new(
            format!("{product} release #{} notes", release.number),
            &viewer,
            "releases",
        ),
        markdown_href: format!(
            "/api/v1/releases/{}/notes?format=markdown",
            seg(&release.id)
        ),
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

fn configuration(notes: &ReleaseNotes) -> Vec<Section> {
    notes
        .configuration
        .iter()
        .map(|c| Section {
            title: c.application.clone(),
            subtitle: format!("{} · {}", repo_shown(&c.repo_url), c.path),
            groups: vec![Group {
                title: "Commits",
                commits: c
                    .commits
                    .iter()
                    .map(|k| CommitRow::of(&c.repo_url, k))
                    .collect(),
            }],
            truncated: c.truncated,
        })
        .collect()
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
