//! API tokens (admin): `POST /api/v1/tokens` makes one and shows its
//! value once — only the SHA-256 is stored, so it cannot be shown again —
//! `GET /api/v1/tokens` lists them without any secret, `DELETE
//! /api/v1/tokens/{token}` (id or name) revokes one at once.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferry_store::{NewToken, TokenRecord};
use serde::Deserialize;
use serde_json::Value;

use crate::audit::Audit;
use crate::auth::{self, Role};
use crate::error::{ApiError, ApiJson, ApiQuery};
use crate::extract::Authenticated;
use crate::state::Shared;

/// Longest token name.
const MAX_NAME: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateBody {
    /// Who uses the token: the initiator of what it does.
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

fn record_json(record: &TokenRecord) -> Result<Value, ApiError> {
    serde_json::to_value(record).map_err(|e| ApiError::internal("serialising a token", e))
}

/// `POST /api/v1/tokens` → 201 with the token's value in `token`.
pub async fn create(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
        let mut json = record_json(&record)?;
        json["token"] = Value::String(secret);
        Ok(json)
    }
    .await;
    let json = audit.finish(result, StatusCode::CREATED, |_| None).await?;
    Ok((StatusCode::CREATED, Json(json)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include revoked tokens.
    all: Option<bool>,
}

/// `GET /api/v1/tokens[?all=true]`: names, roles, scopes — never a value
/// or a hash.
pub async fn list(
    caller: Authenticated,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Role::Admin)?;
    let tokens = st.store.tokens(q.all.unwrap_or(false)).await?;
    let items = tokens
        .iter()
        .map(record_json)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Json(serde_json::json!({ "items": items })))
}

/// `DELETE /api/v1/tokens/{token}` (id or name): the token stops working
/// at once.
pub async fn revoke(
    caller: Authenticated,
    State(st): State<Shared>,
    Path(token): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let audit = Audit::new(&st, &caller, "token.revoke", token.clone())
        .check(caller.principal.require(Role::Admin))
        .await?;
    let result = async {
        match st.store.token_revoke(&token, &caller.name).await? {
            Some(record) => record_json(&record),
            None => Err(ApiError::not_found(format!(
                "no live token with id or name `{token}`"
            ))),
        }
    }
    .await;
    Ok(Json(audit.finish(result, StatusCode::OK, |_| None).await?))
}
