//! The web UI (SPEC §9): server-rendered pages over the same data as the
//! JSON API, askama templates compiled into the binary
//! (`crates/ui/templates/ui/`), one stylesheet and one small script
//! served from `/assets/`.
//!
//! Pages need no script: the script only shows times in the viewer's
//! time zone, toggles hooks, and swaps in the release body when the
//! release's event stream (`/api/v1/releases/{id}/events`) reports a
//! change. There is no inline script, event handler or `style=`
//! attribute anywhere, so a `script-src 'self'` policy holds.
//!
//! Sign-in turns a pasted API token into a server-side session
//! ([`ferry_api::session`]); every form that changes something carries a
//! CSRF token ([`ferry_api::csrf`]). Pages act through the API's own
//! handlers and read its state ([`ferry_api::Shared`]), so they never
//! disagree with the API.
//!
//! One file per page; what pages share sits below them and imports no
//! page: [`layout`] (the viewer, the page frame, the page's error),
//! `errors` (error pages drawn for the viewer, leading back),
//! `release_view` (the release's view model, for the release page and
//! the pages acting on a release), [`status`], [`svg`] (the flow graph)
//! and `charts` (the Insights pages' bars).

mod actions;
mod approvals;
mod assets;
mod charts;
mod deliveries;
mod dryrun;
mod errors;
mod flow;
mod insights;
pub mod layout;
pub mod links;
mod merge;
mod notes;
mod now;
mod policy;
mod products;
mod promote;
mod release;
mod release_view;
mod releases;
mod resume;
mod signin;
pub mod status;
pub mod svg;
mod text;
mod timeline;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::http::{Extensions, HeaderMap, StatusCode, Version};
use axum::response::Redirect;
use axum::routing::get;
use tower_http::CompressionLevel;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{Predicate, SizeAbove};

use ferry_api::Shared;

/// The release view's full page for `release` and its `events`, as a
/// signed-in person sees it (the benchmark measures this).
pub fn render_release_page(
    release: &ferry_release::Release,
    events: &[ferry_release::Event],
) -> Result<String, askama::Error> {
    release::render_page(release, events)
}

/// The Insights page of `report` — one product's when `product` names
/// it, else across products — as a signed-in person sees it (the
/// benchmark measures this).
pub fn render_insights_page(
    report: &ferry_insights::Report,
    product: Option<&str>,
) -> Result<String, askama::Error> {
    insights::render_page(report, product)
}

/// Every UI route; their error pages are drawn for the viewer
/// ([`errors::error_pages`], which reads the session from `state`).
pub fn routes(state: Shared) -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/products") }))
        .route("/assets/{name}", get(assets::serve))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/signout", axum::routing::post(signin::signout))
        .route("/products", get(products::list))
        .route("/products/{product}", get(products::show))
        .route(
            "/products/{product}/promote",
            get(promote::show).post(promote::submit),
        )
        .route("/products/{product}/releases", get(releases::of_product))
        .route("/products/{product}/releases/{number}", get(release::show))
        .route(
            "/products/{product}/releases/{number}/body",
            get(release::body),
        )
        .route(
            "/products/{product}/releases/{number}/timeline",
            get(release::timeline_page),
        )
        .route(
            "/products/{product}/releases/{number}/terminate",
            get(actions::terminate_confirm).post(actions::terminate),
        )
        .route(
            "/products/{product}/releases/{number}/retry",
            get(actions::retry_confirm).post(actions::retry),
        )
        .route(
            "/products/{product}/releases/{number}/break-glass",
            axum::routing::post(actions::break_glass),
        )
        .route(
            "/products/{product}/releases/{number}/resume",
            get(resume::confirm).post(resume::resume),
        )
        .route(
            "/products/{product}/releases/{number}/approvals",
            axum::routing::post(approvals::decide),
        )
        .route(
            "/products/{product}/releases/{number}/merge",
            get(merge::confirm).post(merge::merge),
        )
        .route(
            "/products/{product}/releases/{number}/notes",
            get(notes::show),
        )
        .route(
            "/products/{product}/releases/{number}/notes.md",
            get(notes::markdown),
        )
        .route(
            "/products/{product}/releases/{number}/notes/refresh",
            axum::routing::post(notes::refresh),
        )
        .route("/products/{product}/flows/{flow}", get(flow::show))
        .route("/products/{product}/insights", get(insights::of_product))
        .route("/insights", get(insights::all))
        .route("/releases", get(releases::all))
        .route("/environments", get(products::environments))
        .route("/policies", get(policy::show))
        .route("/admin/notifications", get(deliveries::show))
        .layer(axum::middleware::from_fn_with_state(
            state,
            errors::error_pages,
        ))
        .layer(compression())
}

/// gzip for the UI's pages and assets when the browser accepts it
/// (tower-http). A release view of 30 environments × 10 applications is
/// ~450 KB of very repetitive HTML and ~35 KB gzipped, which is what
/// keeps its transfer within issue 17's 150 KB. Only successful HTML, CSS
/// and script answers of 1 KB or more are compressed, at the fastest
/// level (a page is rendered per request; the ratio barely changes).
fn compression() -> CompressionLayer<impl Predicate> {
    let page = |status: StatusCode, _: Version, headers: &HeaderMap, _: &Extensions| {
        status == StatusCode::OK
            && headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| {
                    ["text/html", "text/css", "text/javascript"]
                        .iter()
                        .any(|t| ct.starts_with(t))
                })
    };
    CompressionLayer::new()
        .quality(CompressionLevel::Fastest)
        .compress_when(SizeAbove::new(1024).and(page))
}
