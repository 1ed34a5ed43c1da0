//! API tokens (admin): `POST /api/v1/tokens` makes one and shows its
//! value once — only the SHA-256 is stored, so it cannot be shown again —
//! `GET /api/v1/tokens` lists them without any secret, `DELETE
//! /api/v1/tokens/{token}` (id or name) revokes one at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_store::{NewToken, TokenRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::Audit;
use crate::auth::{self, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::extract::Authenticated;
use crate::refusals::{BodyRefusals, ErrorBody, WriteRefusals};
use crate::state::Shared;

/// Longest token name.
const MAX_NAME: usize = 64;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = TokenRequest)]
pub struct CreateBody {
    /// Who uses the token: the initiator of what it does. Letters,
    /// digits, `.` `_` `@` `-`.
    name: String,
    /// `viewer`, `promoter` or `admin`.
    role: String,
    /// Promoter only: the products it may act on (default: all).
    #[serde(default)]
    products: Vec<String>,
    /// Promoter only: no production environments.
    #[serde(default)]
    non_production: bool,
}

fn validate(body: &CreateBody) -> Result<Role, ApiError> {
    let name = body.name.as_str();
    if name.is_empty()
        || name.len() > MAX_NAME
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
    {
        return Err(ApiError::bad_request(format!(
            "name: 1 to {MAX_NAME} characters of letters, digits and . _ @ -"
        )));
    }
    if name == "admin" {
        return Err(ApiError::bad_request(
            "name: `admin` is the bootstrap token's name",
        ));
    }
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::bad_request(format!(
            "role: `{}` is not one of viewer, promoter, admin",
            body.role
        ))
    })?;
    if role != Role::Promoter && (!body.products.is_empty() || body.non_production) {
        return Err(ApiError::bad_request(
            "products, nonProduction: a scope applies to the promoter role only",
        ));
    }
    if let Some(p) = body.products.iter().find(|p| p.trim().is_empty()) {
        return Err(ApiError::bad_request(format!(
            "products: `{p}` is not a product name"
        )));
    }
    Ok(role)
}

/// A new token: the stored record and its value.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    record: TokenRecord,
    /// The token's value: shown only here.
    token: String,
}

/// Create an API token (admin); its value is in `token` of this answer
/// only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "admin",
    security(("bearer" = [])),
    request_body = CreateBody,
    responses(
        (status = 201, description = "The token, with its value shown once", body = CreatedToken),
        WriteRefusals,
        (status = 409, description = "A live token has this name", body = ErrorBody),
        BodyRefusals,
    ))]
pub async fn create(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let audit = Audit::new(&st, &caller, "token.create", body.name.clone())
        .detail(format!("role {}", body.role))
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = async {
        let role = validate(&body)?;
        let secret = auth::generate().map_err(|e| ApiError::internal("token", e))?;
        let record = st
            .store
            .token_create(&NewToken {
                id: ferry_release::new_release_id(),
                name: body.name.clone(),
                hash: hex::encode(auth::hash(&secret)),
                role: role.as_str().to_owned(),
                products: body.products.clone(),
                non_production: body.non_production,
                created_by: caller.name.clone(),
            })
            .await
            .map_err(|e| match e {
                ferry_store::Error::TokenNameTaken { .. } => {
                    ApiError::new(StatusCode::CONFLICT, e.to_string())
                }
                other => ApiError::from(other),
            })?;
        Ok(CreatedToken {
            record,
            token: secret,
        })
    }
    .await;
    let created = audit.finish(result, StatusCode::CREATED, |_| None).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Include revoked tokens.
    all: Option<bool>,
}

/// The tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    items: Vec<TokenRecord>,
}

/// List API tokens (admin): names, roles, scopes; never a token value or
/// hash.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "admin",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "Tokens", body = TokenList),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 401, description = "No token, or one ferry does not know", body = ErrorBody),
        (status = 403, description = "Not an admin token", body = ErrorBody),
    ))]
pub async fn list(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<TokenList>, ApiError> {
    caller.require(Role::Admin)?;
    let items = st.store.tokens(q.all.unwrap_or(false)).await?;
    Ok(Json(TokenList { items }))
}

/// Revoke an API token (admin), by id or name; it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{token}", tag = "admin",
    security(("bearer" = [])),
    params(("token" = String, Path, description = "Token id or name")),
    responses(
        (status = 200, description = "The revoked token", body = TokenRecord),
        WriteRefusals,
        (status = 404, description = "No live token with this id or name", body = ErrorBody),
    ))]
pub async fn revoke(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(token): Path<String>,
) -> Result<Json<TokenRecord>, ApiError> {
    let audit = Audit::new(&st, &caller, "token.revoke", token.clone())
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = async {
        match st.store.token_revoke(&token, &caller.name).await? {
            Some(record) => Ok(record),
            None => Err(ApiError::not_found(format!(
                "no live token with id or name `{token}`"
            ))),
        }
    }
    .await;
    Ok(Json(audit.finish(result, StatusCode::OK, |_| None).await?))
}
