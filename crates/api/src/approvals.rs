//! Decisions at approval gates (issue 20): approve or reject an
//! environment that waits for approval. Who may decide is the gate's
//! business (its roles and named tokens, "not the initiator"): a caller it
//! refuses gets 403, recorded in the audit log like every denial; a
//! decision that cannot be made now (not waiting, decided by this caller
//! already) is 409.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferry_engine::{ApprovalRequest, Approver, Promoted};
use ferry_release::Decision;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::audit::Audit;
use crate::error::{ApiError, ApiJson};
use crate::extract::Authenticated;
use crate::guard;
use crate::refusals::{BodyRefusals, ErrorBody, WriteRefusals};
use crate::releases::{answer, audited, fingerprint, idempotency_key};
use crate::state::Shared;

/// A decision at an environment's approval gate.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionBody {
    /// The environment waiting for approval.
    pub environment: String,
    /// `approve` or `reject`.
    pub decision: Decision,
    /// Why; kept with the decision and shown with it (a rejection's
    /// comment is the environment's failure). At most 2,000 bytes.
    #[serde(default)]
    pub comment: Option<String>,
}

/// Approve or reject an environment waiting at its approval gate.
///
/// Who may decide is set by the gate (`approval.approvers` in the
/// environment's policy: token roles and token names; without them a
/// promoter or admin who may promote the product there), and with
/// `notInitiator` the release's initiator is refused (403, saying why).
/// Each token decides once per round (409 the second time). A rejection
/// fails the environment with its comment; the last approval needed lets
/// the environment run. Every decision is recorded in the release history
/// and the audit log. With an `Idempotency-Key`, a repeat within a day
/// answers the release as it is now with the first status.
#[utoipa::path(post, path = "/api/v1/releases/{id}/approvals", tag = "releases",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("Idempotency-Key" = Option<String>, Header, description = "A repeat within a day answers the release as it is now, with the first status"),
    ),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "The release, with the decision recorded on the environment's `approval`", body = ferry_release::Release),
        WriteRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
        (status = 409, description = "The environment does not wait for approval, or this token decided already", body = ErrorBody),
        BodyRefusals,
        (status = 422, description = "The `Idempotency-Key` was used for another request", body = ErrorBody),
    ))]
pub async fn decide(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let request = ApprovalRequest {
        environment: body.environment,
        decision: body.decision,
        comment: body.comment,
    };
    let decided = decide_as(&st, &caller, &id, &request, key).await?;
    answer(decided, StatusCode::OK)
}

/// Who `caller` is at release `product`'s gate in `environment`.
pub fn approver(st: &Shared, caller: &Authenticated, product: &str, environment: &str) -> Approver {
    let production = guard::is_production(&st.engine.config(), environment);
    Approver {
        name: caller.name.clone(),
        role: caller.principal.role.as_str().to_owned(),
        may_promote: caller.principal.may_promote(product, production),
    }
}

/// Decides at a gate for `caller`: the gate's check (a refusal audited as
/// a denial), the engine's decision, the audit entry. Shared by the API
/// and the release view's buttons.
pub async fn decide_as(
    st: &Shared,
    caller: &Authenticated,
    id: &str,
    request: &ApprovalRequest,
    key: Option<String>,
) -> Result<Promoted, ApiError> {
    let audit = Audit::new(st, caller, request.decision.as_str(), id)
        .release(id)
        .detail(match request.comment.as_deref() {
            Some(c) if !c.trim().is_empty() => format!("{}: {}", request.environment, c.trim()),
            _ => request.environment.clone(),
        });
    let release = match st.engine.release(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return Err(audit.release_missing(id).await),
        Err(e) => return Err(e.into()),
    };
    let who = approver(st, caller, &release.product, &request.environment);
    let audit = audit.product(release.product.clone());
    let audit = match ferry_engine::check_decision(&release, request, &who) {
        Err(ferry_engine::Error::NotApprover(why)) => {
            return Err(audit
                .check(Err(crate::auth::Denied(why)))
                .await
                .err()
                .unwrap_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "refused")));
        }
        _ => audit,
    };
    let result = match key {
        None => st.engine.decide_approval(id, request, &who, None).await,
        Some(key) => {
            let idempotent = ferry_store::IdempotentRequest {
                scope: format!("{} POST /api/v1/releases/{id}/approvals", caller.name),
                key,
                fingerprint: fingerprint(request),
                status: StatusCode::OK.as_u16(),
            };
            st.engine
                .decide_approval(id, request, &who, Some(&idempotent))
                .await
        }
    }
    .map_err(ApiError::from);
    audit.finish(result, StatusCode::OK, audited).await
}
