//! Policy evaluation: pick a product and an environment, see each
//! effective field, where it came from, the policies consulted and any
//! warnings (the `GET /api/v1/policies/evaluate` answer).

use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page};
use ferry_api::error::ApiQuery;
use ferry_api::{Reader, Shared, products as api};

#[derive(Debug, Default, Deserialize)]
pub struct PolicyQuery {
    product: Option<String>,
    environment: Option<String>,
}

pub struct Choice {
    pub name: String,
    pub selected: bool,
}

pub struct FieldRow {
    pub field: &'static str,
    pub value: String,
    pub source: String,
}

pub struct Evaluation {
    pub product: String,
    pub environment: String,
    pub fields: Vec<FieldRow>,
    pub candidates: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Template)]
#[template(path = "ui/policy.html")]
struct PolicyPage {
    layout: Layout,
    products: Vec<Choice>,
    environments: Vec<Choice>,
    result: Option<Evaluation>,
}

fn field<T: std::fmt::Display>(
    name: &'static str,
    r: &ferry_model::policy::Resolved<T>,
    default: &str,
) -> FieldRow {
    FieldRow {
        field: name,
        value: r
            .value
            .as_ref()
            .map(|v| v.to_string())
            .unwrap_or_else(|| default.to_owned()),
        source: r
            .source
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "not set".to_owned()),
    }
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Query(q): Query<PolicyQuery>,
) -> Result<Response, UiError> {
    let (loaded, membership) = st.engine.membership();
    let product = q.product.filter(|p| !p.is_empty());
    let environment = q.environment.filter(|e| !e.is_empty());
    let products = membership
        .products
        .keys()
        .map(|p| Choice {
            selected: product.as_deref() == Some(p.as_str()),
            name: p.clone(),
        })
        .collect();
    let environments = loaded
        .config
        .environments_in_order()
        .iter()
        .map(|e| Choice {
            selected: environment.as_deref() == Some(e.metadata.name.as_str()),
            name: e.metadata.name.clone(),
        })
        .collect();
    let result = match (product, environment) {
        (Some(p), Some(e)) => {
            let query = serde_json::from_value(serde_json::json!({"product": p, "environment": e}))
                .map_err(|e| ferry_api::error::ApiError::internal("policy query", e))?;
            let Json(ev) = api::evaluate_policy(Reader, State(st.clone()), ApiQuery(query)).await?;
            Some(Evaluation {
                fields: vec![
                    field("preAction", &ev.pre_action, "none"),
                    field("action", &ev.action, "commit (default)"),
                    field("postAction", &ev.post_action, "none"),
                    field("onFailure", &ev.on_failure, "stop (default)"),
                ],
                candidates: ev.candidates.clone(),
                warnings: ev.warnings.clone(),
                product: ev.product,
                environment: ev.environment,
            })
        }
        _ => None,
    };
    Ok(page(&PolicyPage {
        layout: Layout::new("Policy evaluation", &viewer, "policies"),
        products,
        environments,
        result,
    }))
}
