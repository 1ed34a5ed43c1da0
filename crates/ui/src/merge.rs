//! The demo's "Merge pull request" button (demo mode only, see
//! [`ferry_wiring::demo`]): on an application SUSPENDED waiting for its
//! promotion branch to be merged, a confirmation page (GET) whose form
//! posts back with the session's CSRF token; the POST merges that branch
//! into the application's target branch in the local repository, with the
//! role check and audit entry of any promotion, and the release goes on
//! once the engine sees the promotion commit on the target branch.
//!
//! Outside demo mode the pages answer 404 and the button is not drawn:
//! with a real forge, its reviewers merge.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_release::{ApplicationRun, EnvironmentStatus, Release};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page, query_value, seg};
use crate::release_view::{ReleaseView, load};
use ferry_api::Shared;
use ferry_api::audit::Audit;
use ferry_api::csrf;
use ferry_api::error::ApiError;

/// Which application's pull request.
#[derive(Debug, Deserialize)]
pub struct Target {
    #[serde(default)]
    environment: String,
    #[serde(default)]
    application: String,
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    environment: String,
    #[serde(default)]
    application: String,
}

/// Whether `a` waits for a pull-request branch that ferry itself may
/// merge: no forge opened a pull request for it (number 0), so the branch
/// is all there is.
fn mergeable(a: &ApplicationRun) -> Option<&str> {
    let pr = a.pull_request.as_ref()?;
    (a.status == EnvironmentStatus::Suspended && pr.number == 0 && !pr.branch.is_empty())
        .then_some(pr.branch.as_str())
}

fn merge_href(release_href: &str, environment: &str, application: &str) -> String {
    format!(
        "{release_href}/merge?environment={}&application={}",
        query_value(environment),
        query_value(application)
    )
}

/// Adds the merge button to every application of `r` waiting for its
/// branch (the release view calls this in demo mode only).
pub fn offer(v: &mut ReleaseView, r: &Release) {
    for (ev, e) in v.envs.iter_mut().zip(&r.environments) {
        for (av, a) in ev.apps.iter_mut().zip(&e.applications) {
            if mergeable(a).is_some() {
                av.merge_href = merge_href(&v.href, &e.name, &a.name);
            }
        }
    }
}

fn demo_only(st: &Shared) -> Result<(), UiError> {
    if st.demo {
        Ok(())
    } else {
        Err(ApiError::not_found(
            "merging pull requests from ferry exists only in the demo (`ferry demo`); your forge merges them",
        )
        .into())
    }
}

/// The application `application` of `environment` in `r`, and the branch
/// it waits for.
fn waiting<'r>(
    r: &'r Release,
    environment: &str,
    application: &str,
) -> Result<(&'r ApplicationRun, String), UiError> {
    let a = r
        .environments
        .iter()
        .find(|e| e.name == environment)
        .and_then(|e| e.applications.iter().find(|a| a.name == application))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "release #{} has no application `{application}` in environment `{environment}`",
                r.number
            ))
        })?;
    let branch = mergeable(a).ok_or_else(|| {
        let why = match &a.pull_request {
            Some(pr) if pr.number > 0 => format!(
                "its pull request #{} is on its forge: merge it there",
                pr.number
            ),
            _ => "it is not waiting for a pull request to be merged".to_owned(),
        };
        ApiError::new(
            StatusCode::CONFLICT,
            format!("{application} in {environment}: {why}"),
        )
    })?;
    Ok((a, branch.to_owned()))
}

#[derive(Template)]
#[template(path = "ui/merge.html")]
struct MergePage {
    layout: Layout,
    product: String,
    number: u64,
    environment: String,
    application: String,
    branch: String,
    target: String,
    repo: String,
    release_href: String,
    action: String,
    csrf: String,
}

fn release_href(product: &str, number: u64) -> String {
    format!("/products/{}/releases/{number}", seg(product))
}

pub async fn confirm(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Query(t): Query<Target>,
) -> Result<Response, UiError> {
    demo_only(&st)?;
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = release_href(&product, r.number);
    if !viewer.signed_in() {
        let back = merge_href(&release_href, &t.environment, &t.application);
        return Ok(Redirect::to(&format!("/signin?next={}", query_value(&back))).into_response());
    }
    let (a, branch) = waiting(&r, &t.environment, &t.application)?;
    Ok(page(&MergePage {
        layout: Layout::new(
            format!("Merge the pull request of {}", a.name),
            &viewer,
            "releases",
        ),
        product,
        number: r.number,
        environment: t.environment.clone(),
        application: t.application.clone(),
        branch,
        target: a.target_revision.clone(),
        repo: crate::layout::repo_shown(&a.repo_url),
        action: format!("{release_href}/merge"),
        release_href,
        csrf: viewer.csrf.clone(),
    }))
}

pub async fn merge(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Form(form): Form<MergeForm>,
) -> Result<Response, UiError> {
    demo_only(&st)?;
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = release_href(&product, r.number);
    let Some(caller) = viewer.caller.clone() else {
        return Ok(
            Redirect::to(&format!("/signin?next={}", query_value(&release_href))).into_response(),
        );
    };
    csrf::check(&viewer.csrf, &form.csrf)?;
    let (a, branch) = waiting(&r, &form.environment, &form.application)?;
    // Merging a promotion's pull request promotes into its environment:
    // the same role and scope as promoting there, audited the same way.
    let production = ferry_api::guard::is_production(&st.engine.config(), &form.environment);
    let audit = Audit::new(&st, &caller, "merge", &r.id)
        .release(r.id.clone())
        .product(r.product.clone())
        .detail(format!(
            "{}/{}: {branch} into {}",
            form.environment, form.application, a.target_revision
        ))
        .check(
            caller
                .principal
                .check_promote(&r.product, [(form.environment.as_str(), production)]),
        )
        .await?;
    let (repo, target, who) = (
        a.repo_url.clone(),
        a.target_revision.clone(),
        caller.name.clone(),
    );
    let merged = tokio::task::spawn_blocking(move || {
        ferry_wiring::demo::merge_pull_request(&repo, &branch, &target, &who)
    })
    .await
    .map_err(|e| ApiError::internal("merging", e))
    .and_then(|r| r.map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string())));
    audit
        .finish(merged, StatusCode::OK, |_| Some(r.id.clone()))
        .await?;
    Ok(Redirect::to(&format!("{release_href}#env-{}", seg(&form.environment))).into_response())
}
