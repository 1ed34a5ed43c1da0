//! The release notes page (SPEC §7): every change that led to a release —
//! configuration commits, images and the code commits behind them —
//! grouped as the JSON and Markdown notes are (`ferry-notes`), computed
//! once per release and then read from the store.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use ferry_notes::document::{Commit, ReleaseNotes};

use super::layout::{Layout, UiError, Viewer, commit_link, page, repo_shown, seg, short_sha};
use super::release::load;
use crate::api::Shared;

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
        .map_err(crate::api::notes::notes_error)?;
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
