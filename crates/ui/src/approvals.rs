//! Approve and Reject from the release view (issue 20): an environment
//! waiting at its approval gate shows the form only to a signed-in viewer
//! the gate allows to decide now (its roles and names, not the initiator
//! where it says so, once per round); the POST decides with the role
//! check, the audit entry and the engine call of
//! `POST /api/v1/releases/{id}/approvals`.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use ferry_engine::ApprovalRequest;
use ferry_release::{Decision, Release};
use serde::Deserialize;

use crate::layout::{UiError, Viewer, query_value, seg};
use crate::release_view::{ReleaseView, load};
use ferry_api::Shared;
use ferry_api::csrf;
use ferry_api::error::ApiError;

fn decide_href(release_href: &str, env: &str) -> String {
    format!("{release_href}/approvals?env={}", query_value(env))
}

/// Offers the Approve and Reject form on every environment whose gate
/// `viewer` may decide at now.
pub fn offer(st: &Shared, v: &mut ReleaseView, r: &Release, viewer: &Viewer) {
    let Some(caller) = viewer.caller.as_deref() else {
        return;
    };
    for (ev, e) in v.envs.iter_mut().zip(&r.environments) {
        let Some(view) = ev.approval.as_mut() else {
            continue;
        };
        let request = ApprovalRequest {
            environment: e.name.clone(),
            decision: Decision::Approve,
            comment: None,
        };
        let who = ferry_api::approvals::approver(st, caller, &r.product, &e.name);
        if ferry_engine::check_decision(r, &request, &who).is_ok() {
            view.decide_href = decide_href(&v.href, &e.name);
            view.csrf = viewer.csrf.clone();
        }
    }
}

/// Which environment.
#[derive(Debug, Deserialize)]
pub struct Env {
    #[serde(default)]
    env: String,
}

/// The form: the session's CSRF token, which button, the comment.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

pub async fn decide(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Query(q): Query<Env>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = format!("/products/{}/releases/{}", seg(&product), r.number);
    let Some(caller) = viewer.caller.clone() else {
        return Ok(
            Redirect::to(&format!("/signin?next={}", query_value(&release_href))).into_response(),
        );
    };
    csrf::check(&viewer.csrf, &form.csrf)?;
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return Err(ApiError::bad_request(format!(
                "decision: `{other}` is not approve or reject"
            ))
            .into());
        }
    };
    let request = ApprovalRequest {
        environment: q.env.clone(),
        decision,
        comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
    };
    ferry_api::approvals::decide_as(&st, &caller, &r.id, &request, None).await?;
    Ok(Redirect::to(&format!("{release_href}#env-{}", seg(&q.env))).into_response())
}
