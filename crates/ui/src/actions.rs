//! Terminate and Retry from the release view: a confirmation page (GET)
//! whose form posts back with the session's CSRF token. Only signed-in
//! people act; what they do is recorded under their name.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page, query_value};
use crate::release_view::load;
use ferry_api::Shared;
use ferry_api::csrf;
use ferry_api::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Terminate,
    Retry,
}

impl Operation {
    fn verb(self) -> &'static str {
        match self {
            Operation::Terminate => "Terminate",
            Operation::Retry => "Retry",
        }
    }

    /// Terminate stops work and is drawn as a warning; Retry carries
    /// the release on and is the page's main action.
    fn class(self) -> &'static str {
        match self {
            Operation::Terminate => "danger",
            Operation::Retry => "primary",
        }
    }

    fn explain(self) -> &'static str {
        match self {
            Operation::Terminate => {
                "Running workflows are stopped, environments not started stay PENDING and onFail hooks run."
            }
            Operation::Retry => {
                "The release resumes from the point of failure; steps that succeeded are not repeated."
            }
        }
    }
}

#[derive(Template)]
#[template(path = "ui/confirm.html")]
struct ConfirmPage {
    layout: Layout,
    verb: &'static str,
    class: &'static str,
    explain: &'static str,
    product: String,
    number: u64,
    release_href: String,
    action: String,
    csrf: String,
}

/// Where someone not signed in is sent before acting.
fn sign_in_first(back: &str) -> Response {
    Redirect::to(&format!("/signin?next={}", query_value(back))).into_response()
}

async fn confirm(
    op: Operation,
    viewer: Viewer,
    st: Shared,
    product: String,
    number: String,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = format!(
        "/products/{}/releases/{}",
        crate::layout::seg(&product),
        r.number
    );
    let action = format!("{release_href}/{}", op.verb().to_ascii_lowercase());
    if !viewer.signed_in() {
        return Ok(sign_in_first(&action));
    }
    Ok(page(&ConfirmPage {
        layout: Layout::new(
            format!("{} release #{}", op.verb(), r.number),
            &viewer,
            "releases",
        ),
        verb: op.verb(),
        class: op.class(),
        explain: op.explain(),
        product,
        number: r.number,
        release_href,
        action,
        csrf: viewer.csrf.clone(),
    }))
}

#[derive(Debug, Deserialize)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
}

impl ActionForm {
    /// The CSRF token the form carried (empty when it had none).
    pub fn csrf(&self) -> &str {
        &self.csrf
    }
}

async fn act(
    op: Operation,
    viewer: Viewer,
    st: Shared,
    product: String,
    number: String,
    form: ActionForm,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = format!(
        "/products/{}/releases/{}",
        crate::layout::seg(&product),
        r.number
    );
    let Some(caller) = viewer.caller.clone() else {
        return Ok(sign_in_first(&release_href));
    };
    csrf::check(&viewer.csrf, &form.csrf)?;
    // The same role check and audit entry as the API's endpoints.
    let action = match op {
        Operation::Terminate => "terminate",
        Operation::Retry => "retry",
    };
    let audit = ferry_api::releases::release_action(&st, &caller, action, &r.id).await?;
    let result = match op {
        Operation::Terminate => st.engine.terminate(&r.id, &caller.name).await,
        Operation::Retry => st.engine.retry(&r.id, &caller.name).await,
    }
    .map_err(ApiError::from);
    audit
        .finish(result, StatusCode::OK, |r| Some(r.id.clone()))
        .await?;
    Ok(Redirect::to(&release_href).into_response())
}

pub async fn terminate_confirm(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    confirm(Operation::Terminate, viewer, st, product, number).await
}

pub async fn retry_confirm(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    confirm(Operation::Retry, viewer, st, product, number).await
}

pub async fn terminate(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(Operation::Terminate, viewer, st, product, number, form).await
}

pub async fn retry(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Response, UiError> {
    act(Operation::Retry, viewer, st, product, number, form).await
}

#[derive(Debug, Deserialize)]
pub struct BreakGlassForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

/// Break-glass from the release view (issue 20): the API's role check
/// (admin), reason check and audit entry, then back to the release.
pub async fn break_glass(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Form(form): Form<BreakGlassForm>,
) -> Result<Response, UiError> {
    let (r, _) = load(&st, &product, &number).await?;
    let release_href = format!(
        "/products/{}/releases/{}",
        crate::layout::seg(&product),
        r.number
    );
    let Some(caller) = viewer.caller.clone() else {
        return Ok(sign_in_first(&release_href));
    };
    csrf::check(&viewer.csrf, &form.csrf)?;
    ferry_api::freezes::break_glass_as(&st, &caller, &r.id, &form.reason).await?;
    Ok(Redirect::to(&release_href).into_response())
}
