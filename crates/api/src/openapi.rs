//! The OpenAPI 3.1 document (SPEC §9).
//!
//! [`document`] is generated (utoipa) from each handler's
//! `#[utoipa::path]` annotation — path, method, parameters, answers —
//! and from the types the handlers answer with (`ToSchema` on the
//! release record, the store's lists, the notes document and the API's
//! own views), so a field added to a type is documented with it.
//! [`json`] is what `GET /api/openapi.json` serves. The server crate's
//! tests read every answer of the API through a check against it
//! (`tests/common`, with ferry-apicheck), every object closed: a field the
//! server writes and the document does not name, or a status it does not
//! list, fails there; `routes::tests` holds its operations to the router's.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::refusals::ErrorBody;
use crate::view::ApiRelease;
use crate::{
    approvals, audit, events, freezes, insights, notes, notifications, ops, products, releases,
    tokens, webhooks,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ferry",
        description = "Release engine API (SPEC §9). Mutating calls need `Authorization: Bearer <token>`; reads too unless anonymous read is on."
    ),
    paths(
        products::list,
        products::show,
        releases::list_product,
        releases::promote,
        releases::list_all,
        releases::show,
        releases::show_by_number,
        events::stream,
        events::stream_all,
        releases::terminate,
        releases::retry,
        approvals::decide,
        freezes::break_glass,
        freezes::list,
        freezes::create,
        freezes::lift,
        notes::show,
        notes::refresh,
        releases::resume_workflow,
        products::evaluate_policy,
        insights::show,
        ops::config_status,
        tokens::list,
        tokens::create,
        tokens::revoke,
        audit::list,
        notifications::list,
        webhooks::receive,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        serve,
    ),
    components(schemas(ErrorBody, ferry_release::EnvironmentStep)),
    modifiers(&Bearer, &ApiRelease, &GenericOptions),
    tags(
        (name = "products", description = "Products, their environments and policies"),
        (name = "releases", description = "Releases: lists, detail, promotions and actions"),
        (name = "notes", description = "Release notes (SPEC §7)"),
        (name = "admin", description = "API tokens, the audit log, notification deliveries and freezes (stop-the-line)"),
        (name = "webhooks", description = "Forge webhooks"),
        (name = "insights", description = "Delivery insights: DORA measures and where promotion time goes"),
        (name = "operations", description = "Health, readiness, metrics, configuration, this document"),
    )
)]
struct ApiDoc;

/// The bearer token scheme the operations name.
struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `Option`s of a type parameter, which utoipa documents without their
/// `null` (even with `#[schema(nullable)]`): the `value` of a policy
/// field is `null` when no policy sets it.
struct GenericOptions;

impl Modify for GenericOptions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{Object, OneOfBuilder, Type};
        let Some(components) = doc.components.as_mut() else {
            return;
        };
        for name in [
            "Resolved_String",
            "Resolved_Action",
            "Resolved_ApprovalGate",
            "Resolved_OnFailure",
        ] {
            let Some(RefOr::T(utoipa::openapi::Schema::Object(o))) =
                components.schemas.get_mut(name)
            else {
                continue;
            };
            if let Some(value) = o.properties.get_mut("value") {
                *value = RefOr::T(utoipa::openapi::Schema::OneOf(
                    OneOfBuilder::new()
                        .item(Object::with_type(Type::Null))
                        .item(value.clone())
                        .build(),
                ));
            }
        }
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], json())
}

/// The generated document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The generated document as served: generated once, on first use.
pub fn json() -> &'static str {
    static JSON: LazyLock<String> = LazyLock::new(|| {
        // Serialising types utoipa built cannot fail (string keys, no
        // non-finite numbers); an empty object would still be JSON.
        serde_json::to_string(&document()).unwrap_or_else(|_| "{}".to_owned())
    });
    &JSON
}
