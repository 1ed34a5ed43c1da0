//! Releases: lists, detail, promotions, terminate, retry, workflow resume.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_engine::PromotionRequest;
use ferry_release::ReleaseStatus;
use serde::Deserialize;
use serde_json::Value;

use crate::audit::Audit;
use crate::auth::{Denied, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::extract::{Authenticated, Reader};
use crate::guard;
use crate::state::Shared;
use crate::view::release_json;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Comma-separated statuses (`RUNNING,FAILED`).
    status: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    product: Option<String>,
}

async fn list(st: &Shared, product: Option<String>, q: ListQuery) -> Result<Json<Value>, ApiError> {
    let mut statuses = Vec::new();
    for s in q
        .status
        .iter()
        .flat_map(|s| s.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let parsed = ReleaseStatus::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
            ApiError::bad_request(format!(
                "status: unknown release status `{s}` (QUEUED, RUNNING, SUSPENDED, SUCCEEDED, FAILED, TERMINATING, TERMINATED)"
            ))
        })?;
        statuses.push(parsed);
    }
    let limit = match q.limit {
        None => ferry_store::DEFAULT_PAGE,
        Some(n) if (1..=ferry_store::MAX_PAGE).contains(&n) => n,
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit: {n} is out of range 1..={}",
                ferry_store::MAX_PAGE
            )));
        }
    };
    let page = st
        .store
        .list(&ferry_store::ListFilter {
            product: product.or(q.product),
            statuses,
            limit,
            cursor: q.cursor.filter(|c| !c.is_empty()),
        })
        .await?;
    Ok(Json(serde_json::to_value(page).map_err(|e| {
        ApiError::internal("serialising a page", e)
    })?))
}

pub async fn list_product(
    _: Reader,
    State(st): State<Shared>,
    Path(product): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    if q.product.is_some() {
        return Err(ApiError::bad_request("product: given in the path already"));
    }
    list(&st, Some(product), q).await
}

pub async fn list_all(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    list(&st, None, q).await
}

pub async fn show(
    _: Reader,
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match st.engine.release(&id).await? {
        Some(r) => Ok(Json(release_json(&r)?)),
        None => Err(ApiError::not_found(format!("release `{id}` not found"))),
    }
}

pub async fn promote(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(product): Path<String>,
    ApiJson(request): ApiJson<PromotionRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let targets = guard::promotion_targets(&st, &product, &request);
    let audit = Audit::new(&st, &caller, "promote", product.clone())
        .product(product.clone())
        .detail(format!(
            "to {}",
            targets
                .iter()
                .map(|(e, _)| e.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .check(
            caller
                .principal
                .check_promote(&product, targets.iter().map(|(e, p)| (e.as_str(), *p))),
        )
        .await?;
    let result = st
        .engine
        .promote(&product, request, &caller.name)
        .await
        .map_err(ApiError::from);
    let release = audit
        .finish(result, StatusCode::CREATED, |r| Some(r.id.clone()))
        .await?;
    Ok((StatusCode::CREATED, Json(release_json(&release)?)))
}

/// Loads a release for an action and checks the caller may act on it
/// (its product and every environment it writes to); a denial is audited.
pub async fn release_action<'a>(
    st: &'a Shared,
    caller: &'a Authenticated,
    action: &str,
    id: &str,
) -> Result<Audit<'a>, ApiError> {
    let audit = Audit::new(st, caller, action, id).release(id);
    let release = match st.engine.release(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(audit.release_missing(id).await),
        Err(e) => return Err(e.into()),
    };
    let targets = guard::release_targets(st, &release);
    audit
        .product(release.product.clone())
        .check(caller.principal.check_promote(
            &release.product,
            targets.iter().map(|(e, p)| (e.as_str(), *p)),
        ))
        .await
}

pub async fn terminate(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let audit = release_action(&st, &caller, "terminate", &id).await?;
    let result = st
        .engine
        .terminate(&id, &caller.name)
        .await
        .map_err(ApiError::from);
    let release = audit
        .finish(result, StatusCode::OK, |r| Some(r.id.clone()))
        .await?;
    Ok(Json(release_json(&release)?))
}

pub async fn retry(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let audit = release_action(&st, &caller, "retry", &id).await?;
    let result = st
        .engine
        .retry(&id, &caller.name)
        .await
        .map_err(ApiError::from);
    let release = audit
        .finish(result, StatusCode::OK, |r| Some(r.id.clone()))
        .await?;
    Ok(Json(release_json(&release)?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResumeBody {
    /// The suspended step to resume; all suspended steps when absent.
    #[serde(default)]
    step: Option<String>,
    /// Values of the suspended steps' `valueFrom.supplied` output parameters.
    #[serde(default)]
    parameters: ferry_workflow::Parameters,
}

pub async fn resume_workflow(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(run): Path<String>,
    body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    // The body is optional: empty means "every suspended step". A bad body
    // is refused before anything is checked or recorded.
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        ResumeBody::default()
    } else {
        serde_json::from_slice::<ResumeBody>(&body)
            .map_err(|e| ApiError::bad_request(format!("request body: {e}")))?
    };
    resume_as(&st, &caller, &run, body.step.as_deref(), &body.parameters).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Resumes the suspended steps (or `step`) of workflow run `run` for
/// `caller`, supplying `values` to their `valueFrom.supplied` outputs: the
/// role check (promoting where the run's release writes) and the audit
/// entry shared by the API and the release view's Resume button.
pub async fn resume_as(
    st: &Shared,
    caller: &Authenticated,
    run: &str,
    step: Option<&str>,
    values: &ferry_workflow::Parameters,
) -> Result<(), ApiError> {
    let mut audit = Audit::new(st, caller, "resume", run.to_owned());
    let allowed = match guard::release_of_run(st, run).await {
        Some((release, targets)) => {
            audit = audit
                .product(release.product.clone())
                .release(release.id.clone());
            caller.principal.check_promote(
                &release.product,
                targets.iter().map(|(e, p)| (e.as_str(), *p)),
            )
        }
        // A run no active release knows: only an unscoped promoter may
        // try it (the runner then says whether it exists).
        None => caller.principal.require(Role::Promoter).and_then(|()| {
            let s = &caller.principal.scope;
            if caller.principal.role == Role::Promoter
                && (!s.products.is_empty() || s.non_production)
            {
                Err(Denied(format!(
                    "token `{}` is scoped and workflow run `{run}` belongs to no active release",
                    caller.name
                )))
            } else {
                Ok(())
            }
        }),
    };
    let audit = audit.check(allowed).await?;
    let result = st
        .engine
        .resume_workflow_with(run, step, values)
        .await
        .map_err(ApiError::from);
    let release_id = audit.release_id();
    audit
        .finish(result, StatusCode::NO_CONTENT, |_| release_id)
        .await?;
    Ok(())
}
