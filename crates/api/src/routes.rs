//! Every route of the JSON API with its handler, and the middleware that
//! counts and times them.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};

use crate::state::Shared;
use crate::{
    approvals, audit, events, freezes, insights, notes, notifications, ops, products, releases,
    tokens, webhooks,
};

/// Every route with its method and handler. The router is built from
/// this table and the OpenAPI test checks the document against it, so the
/// two cannot drift apart.
pub fn table() -> Vec<(&'static str, &'static str, MethodRouter<Shared>)> {
    vec![
        ("get", "/api/v1/products", get(products::list)),
        ("get", "/api/v1/products/{product}", get(products::show)),
        (
            "get",
            "/api/v1/products/{product}/releases",
            get(releases::list_product),
        ),
        (
            "get",
            "/api/v1/products/{product}/releases/{number}",
            get(releases::show_by_number),
        ),
        (
            "post",
            "/api/v1/products/{product}/promotions",
            post(releases::promote),
        ),
        ("get", "/api/v1/releases", get(releases::list_all)),
        ("get", "/api/v1/releases/{id}", get(releases::show)),
        ("get", "/api/v1/releases/{id}/events", get(events::stream)),
        ("get", "/api/v1/events", get(events::stream_all)),
        (
            "post",
            "/api/v1/releases/{id}/terminate",
            post(releases::terminate),
        ),
        ("post", "/api/v1/releases/{id}/retry", post(releases::retry)),
        (
            "post",
            "/api/v1/releases/{id}/approvals",
            post(approvals::decide),
        ),
        (
            "post",
            "/api/v1/releases/{id}/break-glass",
            post(freezes::break_glass),
        ),
        ("get", "/api/v1/freezes", get(freezes::list)),
        ("post", "/api/v1/freezes", post(freezes::create)),
        ("post", "/api/v1/freezes/{id}/lift", post(freezes::lift)),
        ("get", "/api/v1/releases/{id}/notes", get(notes::show)),
        (
            "post",
            "/api/v1/releases/{id}/notes/refresh",
            post(notes::refresh),
        ),
        (
            "post",
            "/api/v1/workflows/{run}/resume",
            post(releases::resume_workflow),
        ),
        (
            "get",
            "/api/v1/policies/evaluate",
            get(products::evaluate_policy),
        ),
        ("get", "/api/v1/insights", get(insights::show)),
        ("get", "/api/v1/config/status", get(ops::config_status)),
        ("get", "/api/v1/tokens", get(tokens::list)),
        ("post", "/api/v1/tokens", post(tokens::create)),
        (
            "delete",
            "/api/v1/tokens/{token}",
            axum::routing::delete(tokens::revoke),
        ),
        ("get", "/api/v1/audit", get(audit::list)),
        (
            "get",
            "/api/v1/notifications/deliveries",
            get(notifications::list),
        ),
        ("post", "/api/v1/webhooks/{forge}", post(webhooks::receive)),
        ("get", "/healthz", get(ops::healthz)),
        ("get", "/readyz", get(ops::readyz)),
        ("get", "/metrics", get(ops::metrics)),
        ("get", "/api/openapi.json", get(crate::openapi::serve)),
    ]
}

/// The API's routes, from [`table`], and its reference page (the web
/// UI's and the layers are added by the server).
pub fn routes() -> Router<Shared> {
    let mut router = crate::reference::routes();
    for (_, path, handler) in table() {
        router = router.route(path, handler);
    }
    router
}

/// Counts and times every matched request by its route template.
pub async fn observe(State(state): State<Shared>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    state
        .metrics
        .observe(&method, &route, response.status().as_u16(), start.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn document_lists_exactly_the_routes() {
        let text = crate::openapi::json();
        let doc: serde_json::Value = serde_json::from_str(text).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut documented = Vec::new();
        for (path, ops) in paths {
            for (method, op) in ops.as_object().unwrap() {
                documented.push((method.clone(), path.clone()));
                // Every `{param}` of the path is declared as a path parameter.
                for seg in path.split('/').filter(|s| s.starts_with('{')) {
                    let name = seg.trim_matches(|c| c == '{' || c == '}');
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(
                        declared,
                        "{method} {path}: path parameter {name} undeclared"
                    );
                }
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
            }
        }
        documented.sort();
        let mut routes: Vec<(String, String)> = table()
            .into_iter()
            .map(|(m, p, _)| (m.to_string(), p.to_string()))
            .collect();
        routes.sort();
        assert_eq!(documented, routes);
        // Every schema reference resolves.
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for r in text.match_indices("#/components/schemas/") {
            let rest = &text[r.0 + r.1.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            assert!(schemas.contains_key(&name), "unresolved $ref {name}");
        }
    }
}
