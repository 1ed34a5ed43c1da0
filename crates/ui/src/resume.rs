//! Resume from the release view (SPEC §5: a workflow's `suspend` step
//! waits for a resume from the UI or the API): on a step whose workflow
//! is suspended, a confirmation page (GET) whose form posts back with the
//! session's CSRF token; the POST resumes the run with the role check and
//! audit entry of `POST /api/v1/workflows/{run}/resume`.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use ferry_release::{EnvironmentStatus, Release};
use serde::Deserialize;

use crate::actions::ActionForm;
use crate::layout::{Layout, UiError, Viewer, page, query_value, seg};
use crate::release_view::{ReleaseView, load};
use ferry_api::Shared;
use ferry_api::csrf;
use ferry_api::error::ApiError;

/// Which run.
#[derive(Debug, Deserialize)]
pub struct Run {
    #[serde(default)]
    run: String,
}

/// A suspended workflow step of `r`: (environment, application, step)
/// whose step follows run `run`.
fn suspended_step<'r>(r: &'r Release, run: &str) -> Option<(&'r str, &'r str, &'r str)> {
    r.environments.iter().find_map(|e| {
        e.applications.iter().find_map(|a| {
            a.steps
                .iter()
                .find(|s| {
                    a.status == EnvironmentStatus::Suspended
                        && s.status.is_active()
                        && s.run_id.as_deref() == Some(run)
                })
                .map(|s| (e.name.as_str(), a.name.as_str(), s.name.as_str()))
        })
    })
}

fn resume_href(release_href: &str, run: &str) -> String {
    format!("{release_href}/resume?run={}", query_value(run))
}

/// Adds the Resume button to every step whose workflow is suspended.
pub fn offer(v: &mut ReleaseView, r: &Release) {
    for (ev, e) in v.envs.iter_mut().zip(&r.environments) {
        for (av, a) in ev.apps.iter_mut().zip(&e.applications) {
            for (sv, s) in av.steps.iter_mut().zip(&a.steps) {
                if let Some(run) = s.run_id.as_deref()
                    && suspended_step(r, run).is_some()
                {
                    sv.resume_href = resume_href(&v.href, run);
                }
            }
        }
    }
}

#[derive(Template)]
#[template(path = "ui/resume.html")]
struct ResumePage {
    layout: Layout,
    product: String,
    number: u64,
    environment: String,
    application: String,
    step: String,
    release_href: String,
    action: String,
    csrf: String,
}

fn release_href(product: &str, number: u64) -> String {
    format!("/products/{}/releases/{number}", seg(product))
}

fn not_suspended(r: &Release, run: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "release #{} has no suspended workflow run `{run}` (it may have been resumed already)",
            r.number
        ),
    )
}

pub async fn confirm(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Query(q): Query<Run>,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = release_href(&product, r.number);
    let action = resume_href(&release_href, &q.run);
    if !viewer.signed_in() {
        return Ok(Redirect::to(&format!("/signin?next={}", query_value(&action))).into_response());
    }
    let (environment, application, step) =
        suspended_step(&r, &q.run).ok_or_else(|| not_suspended(&r, &q.run))?;
    Ok(page(&ResumePage {
        layout: Layout::new(
            format!("Resume {step} of {application}"),
            &viewer,
            "releases",
        ),
        product: product.clone(),
        number: r.number,
        environment: environment.to_owned(),
        application: application.to_owned(),
        step: step.to_owned(),
        release_href,
        action,
        csrf: viewer.csrf.clone(),
    }))
}

pub async fn resume(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Query(q): Query<Run>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = release_href(&product, r.number);
    let Some(caller) = viewer.caller.clone() else {
        return Ok(
            Redirect::to(&format!("/signin?next={}", query_value(&release_href))).into_response(),
        );
    };
    csrf::check(&viewer.csrf, form.csrf())?;
    let (environment, _, _) =
        suspended_step(&r, &q.run).ok_or_else(|| not_suspended(&r, &q.run))?;
    let anchor = format!("{release_href}#env-{}", seg(environment));
    ferry_api::releases::resume_as(&st, &caller, &q.run, None, &Default::default()).await?;
    Ok(Redirect::to(&anchor).into_response())
}
