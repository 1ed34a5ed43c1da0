//! Releases: lists, detail, promotions, terminate, retry, workflow resume.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferry_engine::PromotionRequest;
use ferry_release::ReleaseStatus;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::audit::Audit;
use crate::auth::{Denied, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::extract::{Authenticated, Reader};
use crate::guard;
use crate::refusals::{BodyRefusals, ErrorBody, ReadRefusals, WriteRefusals};
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

async fn list(
    st: &Shared,
    product: Option<String>,
    q: ListQuery,
) -> Result<Json<ferry_store::Page>, ApiError> {
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
    // Serialised once, straight into the response (issue 24: a
    // `serde_json::Value` of the page first cost a copy of every summary).
    Ok(Json(page))
}

/// Releases of a product, newest first.
#[utoipa::path(get, path = "/api/v1/products/{product}/releases", tag = "releases",
    security(("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product name"),
        ("status" = Option<String>, Query, description = "Comma-separated release statuses"),
        ("limit" = Option<u32>, Query, description = "1..200, default 50"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = ferry_store::Page),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
        (status = 404, description = "No such product (not configured, no release)", body = ErrorBody),
    ))]
pub async fn list_product(
    _: Reader,
    State(st): State<Shared>,
    Path(product): Path<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ferry_store::Page>, ApiError> {
    if q.product.is_some() {
        return Err(ApiError::bad_request("product: given in the path already"));
    }
    let known = st.engine.membership().1.product(&product).is_some();
    let first_page = q.cursor.as_deref().is_none_or(str::is_empty) && q.status.is_none();
    let page = list(&st, Some(product.clone()), q).await?;
    // A product neither configured nor with releases stored does not
    // exist (issue 23); one removed from the configuration keeps its
    // history readable.
    if !known && first_page && page.0.items.is_empty() {
        return Err(ApiError::not_found(format!(
            "product `{product}` does not exist (no Product, no application annotated with it, no release)"
        )));
    }
    Ok(page)
}

/// Releases of every product, newest first.
#[utoipa::path(get, path = "/api/v1/releases", tag = "releases",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Only this product's releases"),
        ("status" = Option<String>, Query, description = "Comma-separated release statuses"),
        ("limit" = Option<u32>, Query, description = "1..200, default 50"),
        ("cursor" = Option<String>, Query, description = "`nextCursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page", body = ferry_store::Page),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
    ))]
pub async fn list_all(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<ferry_store::Page>, ApiError> {
    list(&st, None, q).await
}

/// A release.
#[utoipa::path(get, path = "/api/v1/releases/{id}", tag = "releases",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Release id")),
    responses(
        (status = 200, description = "The release", body = ferry_release::Release),
        ReadRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
    ))]
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

/// The request's `Idempotency-Key` (issue 23), checked: 1 to 255 visible
/// ASCII characters.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match v.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k.to_owned()))
        }
        _ => Err(ApiError::bad_request(
            "Idempotency-Key: 1 to 255 visible ASCII characters",
        )),
    }
}

/// A digest of what a request asks, to tell a repeat from another request
/// under the same key.
pub(crate) fn fingerprint(what: &impl std::fmt::Debug) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(format!("{what:?}").as_bytes()))
}

/// The answer to a promotion, retry or terminate: `status` and the
/// release when this request acted; when it repeats an earlier one with
/// its `Idempotency-Key`, the release as it is now with the first answer's
/// status and `Idempotent-Replayed: true`.
pub(crate) fn answer(
    promoted: ferry_engine::Promoted,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let (status, replayed) = match &promoted {
        ferry_engine::Promoted::Created(_) => (status, false),
        ferry_engine::Promoted::Replayed { status: first, .. } => {
            (StatusCode::from_u16(*first).unwrap_or(status), true)
        }
    };
    let mut response = (status, Json(release_json(promoted.release())?)).into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            axum::http::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The release an answer is about, for its audit entry.
pub(crate) fn audited(promoted: &ferry_engine::Promoted) -> Option<String> {
    Some(promoted.release().id.clone())
}

/// A release by its number in its product (`shop#2`), as people and the
/// CLI name it.
#[utoipa::path(get, path = "/api/v1/products/{product}/releases/{number}", tag = "releases",
    security(("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product name"),
        ("number" = u64, Path, description = "The release's number in its product (1, 2, …)"),
    ),
    responses(
        (status = 200, description = "The release", body = ferry_release::Release),
        (status = 400, description = "Not a release number", body = ErrorBody),
        ReadRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
    ))]
pub async fn show_by_number(
    _: Reader,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let n: u64 = number.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "number: `{number}` is not a release number (1, 2, …)"
        ))
    })?;
    let not_found =
        || ApiError::not_found(format!("release #{n} of product `{product}` not found"));
    let stored = st
        .store
        .get_by_number(&product, n)
        .await?
        .ok_or_else(not_found)?;
    // The driving engine's copy is the newest.
    let r = st.engine.release(&stored.id).await?.unwrap_or(stored);
    Ok(Json(release_json(&r)?))
}

/// Promote by flow, to one environment, or roll back.
///
/// Needs the promoter role; a promoter scoped to products or to
/// non-production environments is refused (403) outside its scope.
/// Audited (`GET /api/v1/audit`) and noted in the release history with the
/// caller's address.
/// With an `Idempotency-Key`, a repeat within a day answers the release
/// the first request created (header `Idempotent-Replayed: true`).
/// Answered without waiting on Git: the request is checked against the
/// active configuration and the release stored. A promotion by flow or to
/// one environment reads its snapshot in the release's driver, after a
/// fetch: until then `snapshot.pending` is true, `trigger.sha` is empty
/// and `version` is null (a rollback reuses the earlier release's
/// snapshot). A snapshot that cannot be read fails the trigger
/// environment with the reason.
#[utoipa::path(post, path = "/api/v1/products/{product}/promotions", tag = "releases",
    security(("bearer" = [])),
    params(
        ("product" = String, Path, description = "Product name"),
        ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters: the same request sent again answers the first one's release"),
    ),
    request_body = PromotionRequest,
    responses(
        (status = 201, description = "The release", body = ferry_release::Release),
        WriteRefusals,
        (status = 404, description = "No such product or release to roll back to", body = ErrorBody),
        BodyRefusals,
        (status = 422, description = "The `Idempotency-Key` was used for another request, or `policy.preAction`/`policy.postAction` names a workflow the active configuration does not have (the error names the field and the workflow)", body = ErrorBody),
    ))]
pub async fn promote(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(product): Path<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PromotionRequest>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
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
    let result = match key {
        None => st
            .engine
            .promote(&product, request, &caller.name)
            .await
            .map(ferry_engine::Promoted::Created),
        // Remembered with the release, in one transaction: a repeat after
        // a lost answer or a crash gets the same release.
        Some(key) => {
            let idempotent = ferry_store::IdempotentRequest {
                scope: format!("{} POST /api/v1/products/{product}/promotions", caller.name),
                key,
                fingerprint: fingerprint(&request),
                status: StatusCode::CREATED.as_u16(),
            };
            st.engine
                .promote_idempotent(&product, request, &caller.name, &idempotent)
                .await
        }
    }
    .map_err(ApiError::from);
    let promoted = audit.finish(result, StatusCode::CREATED, audited).await?;
    answer(promoted, StatusCode::CREATED)
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

/// Terminate a release.
///
/// Needs the promoter role; a promoter scoped to products or to
/// non-production environments is refused (403) outside its scope.
/// Audited (`GET /api/v1/audit`) and noted in the release history with the
/// caller's address.
#[utoipa::path(post, path = "/api/v1/releases/{id}/terminate", tag = "releases",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A repeat within a day answers the release as it is now, with the first status"),
    ),
    responses(
        (status = 200, description = "The release", body = ferry_release::Release),
        WriteRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The release is finished", body = ErrorBody),
    ))]
pub async fn terminate(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operate(&st, &caller, &headers, Operation::Terminate, &id).await
}

/// Retry a FAILED or TERMINATED release from the point of failure.
///
/// Needs the promoter role; a promoter scoped to products or to
/// non-production environments is refused (403) outside its scope.
/// Audited (`GET /api/v1/audit`) and noted in the release history with the
/// caller's address.
#[utoipa::path(post, path = "/api/v1/releases/{id}/retry", tag = "releases",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A repeat within a day answers the release as it is now, with the first status"),
    ),
    responses(
        (status = 200, description = "The release", body = ferry_release::Release),
        WriteRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The release is not FAILED or TERMINATED", body = ErrorBody),
    ))]
pub async fn retry(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    operate(&st, &caller, &headers, Operation::Retry, &id).await
}

#[derive(Debug, Clone, Copy)]
enum Operation {
    Terminate,
    Retry,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Terminate => "terminate",
            Operation::Retry => "retry",
        }
    }
}

/// Terminate or retry release `id` for `caller`, checked and audited. With
/// an `Idempotency-Key` the answer is remembered in the transaction that
/// stores the operation's effect (issue 23): a repeat within a day — also
/// after a crash between the two — gets the release as it is now with
/// the first status, never a 409 for what its first sending did.
async fn operate(
    st: &Shared,
    caller: &Authenticated,
    headers: &HeaderMap,
    op: Operation,
    id: &str,
) -> Result<Response, ApiError> {
    let key = idempotency_key(headers)?;
    let audit = release_action(st, caller, op.as_str(), id).await?;
    let engine = &st.engine;
    let result = match key {
        None => match op {
            Operation::Terminate => engine.terminate(id, &caller.name).await,
            Operation::Retry => engine.retry(id, &caller.name).await,
        }
        .map(ferry_engine::Promoted::Created),
        Some(key) => {
            let request = ferry_store::IdempotentRequest {
                scope: format!("{} POST /api/v1/releases/{id}/{}", caller.name, op.as_str()),
                key,
                fingerprint: String::new(),
                status: StatusCode::OK.as_u16(),
            };
            match op {
                Operation::Terminate => {
                    engine
                        .terminate_idempotent(id, &caller.name, &request)
                        .await
                }
                Operation::Retry => engine.retry_idempotent(id, &caller.name, &request).await,
            }
        }
    }
    .map_err(ApiError::from);
    let done = audit.finish(result, StatusCode::OK, audited).await?;
    answer(done, StatusCode::OK)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ResumeRequest)]
pub struct ResumeBody {
    /// The suspended step (path or name); every suspended step when absent.
    #[serde(default)]
    step: Option<String>,
    /// Values of the suspended steps' `valueFrom.supplied` output parameters.
    #[serde(default)]
    parameters: ferry_workflow::Parameters,
}

/// Resume suspended steps of a workflow run.
///
/// Needs the promoter role; a promoter scoped to products or to
/// non-production environments is refused (403) outside its scope.
/// Audited (`GET /api/v1/audit`) and noted in the release history with the
/// caller's address.
/// The body is optional.
#[utoipa::path(post, path = "/api/v1/workflows/{run}/resume", tag = "releases",
    security(("bearer" = [])),
    params(("run" = String, Path, description = "Workflow run")),
    request_body(content = Option<ResumeBody>, description = "Which step, and values for its `valueFrom.supplied` outputs"),
    responses(
        (status = 204, description = "Resumed"),
        WriteRefusals,
        (status = 404, description = "No such workflow run", body = ErrorBody),
        (status = 409, description = "Not suspended, or no such step", body = ErrorBody),
        BodyRefusals,
    ))]
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
