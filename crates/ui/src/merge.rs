//! The demo's "Merge pull request" button (demo mode only, see
//! [`ferry_wiring::demo`]): one per environment whose promotion branch its
//! release waits for — the branch belongs to the environment, and merging
//! it carries on every application of the environment waiting on it. A
//! confirmation page (GET) whose form posts back with the session's CSRF
//! token; the POST merges the branch (one per repository) into its target
//! branch in the local repository, with the role check and audit entry of
//! any promotion, and the release goes on once the engine sees the
//! promotion commit on the target branch.
//!
//! A merge its release does not wait for — terminated (its branch was
//! deleted), finished, or already merged — is refused with the reason on a
//! page that leads back to the release, and nothing is merged. The release
//! is read as the engine holds it right before merging.
//!
//! Outside demo mode the pages answer 404 and the button is not drawn:
//! with a real forge, its reviewers merge.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_release::Release;
use ferry_wiring::demo::{DemoMergeError, WaitingBranch, waiting_branches};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page, query_value, seg};
use crate::release_view::{ReleaseView, load};
use ferry_api::Shared;
use ferry_api::audit::Audit;
use ferry_api::csrf;
use ferry_api::error::ApiError;

/// Which environment's promotion branch.
#[derive(Debug, Deserialize)]
pub struct Target {
    #[serde(default)]
    environment: String,
}

#[derive(Debug, Deserialize)]
pub struct MergeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    environment: String,
}

fn merge_href(release_href: &str, environment: &str) -> String {
    format!(
        "{release_href}/merge?environment={}",
        query_value(environment)
    )
}

/// Adds the merge button to every environment of `r` waiting for its
/// promotion branch (the release view calls this in demo mode only).
pub fn offer(v: &mut ReleaseView, r: &Release) {
    for (ev, e) in v.envs.iter_mut().zip(&r.environments) {
        if waiting_branches(r, &e.name).is_ok() {
            ev.merge_href = merge_href(&v.href, &e.name);
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

#[derive(Template)]
#[template(path = "ui/merge.html")]
struct MergePage {
    layout: Layout,
    product: String,
    number: u64,
    environment: String,
    branches: Vec<WaitingBranch>,
    repo: String,
    release_href: String,
    action: String,
    csrf: String,
}

/// A merge refused: why, and the way back to the release.
#[derive(Template)]
#[template(path = "ui/merge_refused.html")]
struct RefusedPage {
    layout: Layout,
    number: u64,
    environment: String,
    reason: String,
    release_href: String,
}

fn release_href(product: &str, number: u64) -> String {
    format!("/products/{}/releases/{number}", seg(product))
}

fn refused(viewer: &Viewer, r: &Release, environment: &str, e: DemoMergeError) -> Response {
    let mut resp = page(&RefusedPage {
        layout: Layout::new(
            format!("Not merged: release #{} in {environment}", r.number),
            viewer,
            "releases",
        ),
        number: r.number,
        environment: environment.to_owned(),
        reason: e.to_string(),
        release_href: format!(
            "{}#env-{}",
            release_href(&r.product, r.number),
            seg(environment)
        ),
    });
    *resp.status_mut() = StatusCode::CONFLICT;
    resp
}

/// The release as the engine holds it now (live while driven).
async fn current(st: &Shared, r: Release) -> Result<Release, UiError> {
    Ok(st.engine.release(&r.id).await?.unwrap_or(r))
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
        let back = merge_href(&release_href, &t.environment);
        return Ok(Redirect::to(&format!("/signin?next={}", query_value(&back))).into_response());
    }
    let r = current(&st, r).await?;
    let branches = match waiting_branches(&r, &t.environment) {
        Ok(b) => b,
        Err(e) => return Ok(refused(&viewer, &r, &t.environment, e)),
    };
    Ok(page(&MergePage {
        layout: Layout::new(
            format!("Merge the pull request of {}", t.environment),
            &viewer,
            "releases",
        ),
        product,
        number: r.number,
        environment: t.environment.clone(),
        repo: branches
            .iter()
            .map(|b| crate::layout::repo_shown(&b.repo_url))
            .collect::<Vec<_>>()
            .join(", "),
        branches,
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
    let env = form.environment.clone();
    // Merging a promotion's pull request promotes into its environment:
    // the same role and scope as promoting there, audited the same way —
    // a refusal included.
    let production = ferry_api::guard::is_production(&st.engine.config(), &env);
    let r = current(&st, r).await?;
    let waiting = waiting_branches(&r, &env);
    let detail = match &waiting {
        Ok(b) => b
            .iter()
            .map(|b| format!("{env}: {} into {}", b.branch, b.target))
            .collect::<Vec<_>>()
            .join("; "),
        Err(e) => format!("{env}: {e}"),
    };
    let audit = Audit::new(&st, &caller, "merge", &r.id)
        .release(r.id.clone())
        .product(r.product.clone())
        .detail(detail)
        .check(
            caller
                .principal
                .check_promote(&r.product, [(env.as_str(), production)]),
        )
        .await?;
    let branches = match waiting {
        Ok(b) => b,
        Err(e) => {
            let reason = e.to_string();
            audit
                .finish::<()>(
                    Err(ApiError::new(StatusCode::CONFLICT, reason)),
                    StatusCode::OK,
                    |_| None,
                )
                .await
                .ok();
            return Ok(refused(&viewer, &r, &env, e));
        }
    };
    let who = caller.name.clone();
    let merged = tokio::task::spawn_blocking(move || {
        for b in &branches {
            ferry_wiring::demo::merge_pull_request(&b.repo_url, &b.branch, &b.target, &who)?;
        }
        Ok::<_, DemoMergeError>(())
    })
    .await
    .map_err(|e| ApiError::internal("merging", e))
    .and_then(|r| r.map_err(|e| ApiError::new(StatusCode::CONFLICT, e.to_string())));
    audit
        .finish(merged, StatusCode::OK, |_| Some(r.id.clone()))
        .await?;
    Ok(Redirect::to(&format!("{release_href}#env-{}", seg(&env))).into_response())
}
