//! Stop-the-line and break-glass (issue 20). `POST /api/v1/freezes`
//! (admin) holds every release of the products and environments it names
//! before its next write, with a reason, until `POST
//! /api/v1/freezes/{id}/lift`; `GET /api/v1/freezes` lists them (any
//! reader: the UI shows active ones on every page). `POST
//! /api/v1/releases/{id}/break-glass` (admin) lets one release through
//! closed windows and freezes, with a mandatory reason. Every call is
//! audited.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_store::Freeze;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::Audit;
use crate::auth::Role;
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::extract::{Authenticated, Reader};
use crate::refusals::{BodyRefusals, ErrorBody, ReadRefusals, WriteRefusals};
use crate::state::Shared;

/// Longest reason kept (a freeze's, a break-glass's).
const MAX_REASON: usize = 500;

fn reason(text: &str) -> Result<String, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ApiError::bad_request(
            "reason: required (people see it while the freeze holds, and on the release)",
        ));
    }
    if text.chars().count() > MAX_REASON {
        return Err(ApiError::bad_request(format!(
            "reason: at most {MAX_REASON} characters"
        )));
    }
    Ok(text.to_owned())
}

fn names(field: &str, list: &[String]) -> Result<(), ApiError> {
    match list
        .iter()
        .find(|n| n.trim().is_empty() || n.trim() != n.as_str())
    {
        Some(n) => Err(ApiError::bad_request(format!(
            "{field}: `{n}` is not a name"
        ))),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = FreezeRequest)]
pub struct FreezeBody {
    /// Products to hold; empty or absent: every product.
    #[serde(default)]
    products: Vec<String>,
    /// Environments to hold; empty or absent: every environment.
    #[serde(default)]
    environments: Vec<String>,
    /// Why: shown on every page while it holds, and on every held release.
    reason: String,
}

/// Stop the line (admin): from now on no release of the products and
/// environments named (empty: all) starts writing, until the freeze is
/// lifted. Releases are still created; they wait SUSPENDED with the reason.
#[utoipa::path(post, path = "/api/v1/freezes", tag = "admin",
    security(("bearer" = [])),
    request_body = FreezeBody,
    responses(
        (status = 201, description = "The freeze, active now", body = Freeze),
        WriteRefusals,
        BodyRefusals,
    ))]
pub async fn create(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiJson(body): ApiJson<FreezeBody>,
) -> Result<(StatusCode, Json<Freeze>), ApiError> {
    let scope = format!(
        "products [{}], environments [{}]",
        body.products.join(", "),
        body.environments.join(", ")
    );
    let audit = Audit::new(&st, &caller, "freeze", scope)
        .detail(body.reason.clone())
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = async {
        let why = reason(&body.reason)?;
        names("products", &body.products)?;
        names("environments", &body.environments)?;
        Ok(st
            .engine
            .freeze(body.products, body.environments, &why, &caller.name)
            .await?)
    }
    .await;
    let frozen = audit.finish(result, StatusCode::CREATED, |_| None).await?;
    Ok((StatusCode::CREATED, Json(frozen)))
}

/// Lift a freeze (admin): what it held goes on, unless something else
/// holds it. Lifting a lifted freeze answers it as it is.
#[utoipa::path(post, path = "/api/v1/freezes/{id}/lift", tag = "admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Freeze id")),
    responses(
        (status = 200, description = "The lifted freeze", body = Freeze),
        WriteRefusals,
        (status = 404, description = "No such freeze", body = ErrorBody),
    ))]
pub async fn lift(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Freeze>, ApiError> {
    let audit = Audit::new(&st, &caller, "unfreeze", id.clone())
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = st
        .engine
        .unfreeze(&id, &caller.name)
        .await
        .map_err(ApiError::from);
    Ok(Json(audit.finish(result, StatusCode::OK, |_| None).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Also the latest lifted freezes (the 100 latest in all).
    all: Option<bool>,
}

/// Freezes.
#[derive(Debug, Serialize, ToSchema)]
pub struct FreezeList {
    items: Vec<Freeze>,
}

/// List freezes: the active ones, oldest first; with `all=true` the
/// latest ones, lifted too, newest first.
#[utoipa::path(get, path = "/api/v1/freezes", tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Freezes", body = FreezeList),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
    ))]
pub async fn list(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<FreezeList>, ApiError> {
    let items = st.engine.freezes(q.all.unwrap_or(false)).await?;
    Ok(Json(FreezeList { items }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = BreakGlassRequest)]
pub struct BreakGlassBody {
    /// Why this release may go through: recorded on it and in the audit log.
    reason: String,
}

/// Break-glass (admin): let this release — only this one — through closed
/// promotion windows and freezes, with a mandatory reason. Marked on the
/// release (`breakGlass`), noted in its history and audited.
#[utoipa::path(post, path = "/api/v1/releases/{id}/break-glass", tag = "releases",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Release id")),
    request_body = BreakGlassBody,
    responses(
        (status = 200, description = "The release, marked", body = ferry_release::Release),
        WriteRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The release is finished", body = ErrorBody),
        BodyRefusals,
    ))]
pub async fn break_glass(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<BreakGlassBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let release = break_glass_as(&st, &caller, &id, &body.reason).await?;
    Ok(Json(crate::view::release_json(&release)?))
}

/// The role check, the engine's break-glass and the audit entry, shared by
/// the API and the release view's button.
pub async fn break_glass_as(
    st: &Shared,
    caller: &Authenticated,
    id: &str,
    why: &str,
) -> Result<ferry_release::Release, ApiError> {
    let audit = Audit::new(st, caller, "break-glass", id.to_owned())
        .release(id.to_owned())
        .detail(why.trim().to_owned())
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = async {
        let why = reason(why)?;
        Ok(st.engine.break_glass(id, &caller.name, &why).await?)
    }
    .await;
    audit
        .finish(result, StatusCode::OK, |r: &ferry_release::Release| {
            Some(r.id.clone())
        })
        .await
}
