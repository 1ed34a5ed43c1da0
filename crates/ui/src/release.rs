//! The release view: title with "what is happening" (see [`crate::now`]),
//! the facts (version, flow, trigger commit, repository), the flow graph,
//! each environment (`#env-<name>`, where commit-status Details links
//! land; successful ones collapsed to one line) with its applications,
//! steps, hooks and issues, Terminate/Retry, and the newest events. The
//! body is also served alone (`…/body`) so the script can swap it in when
//! the release's event stream says something changed; `…/timeline` pages
//! through every event.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use ferry_api::Shared;
use ferry_release::{Event, Release};
use serde::Deserialize;

use crate::layout::{Layout, UiError, Viewer, page};
use crate::links::Links;
use crate::now::{self, NowView};
use crate::release_view::{ReleaseView, load, view};
use crate::timeline::{self, Timeline};

#[derive(Template)]
#[template(path = "ui/release.html")]
struct ReleasePage {
    layout: Layout,
    v: ReleaseView,
    now: NowView,
}

#[derive(Template)]
#[template(path = "ui/release_body.html")]
struct ReleaseBody {
    v: ReleaseView,
    now: NowView,
}

/// The release view of `r` as a page shows it to `viewer`: links out,
/// the rollback's origin, Resume and (demo) Merge offered, and what is
/// happening.
async fn full(
    st: &Shared,
    r: &Release,
    events: &[Event],
    viewer: &Viewer,
) -> (ReleaseView, NowView) {
    let flow_exists = st.engine.config().config.flow(&r.flow).is_some();
    let links = Links::for_release(st, r).await;
    let rollback_of = match &r.kind {
        ferry_release::ReleaseKind::Rollback { from_release } => st
            .store
            .get(from_release)
            .await
            .ok()
            .flatten()
            .map(|e| e.number),
        _ => None,
    };
    let mut v = view(r, events, viewer, flow_exists, &links, rollback_of);
    crate::resume::offer(&mut v, r);
    crate::approvals::offer(st, &mut v, r, viewer);
    if st.demo {
        crate::merge::offer(&mut v, r);
    }
    let now = now::summarize(&v, r, events);
    (v, now)
}

/// The full page, outside a request (see [`crate::render_release_page`]).
pub fn render_page(r: &Release, events: &[Event]) -> Result<String, askama::Error> {
    let viewer = Viewer {
        name: Some("bench".into()),
        csrf: String::new(),
        session_id: None,
        caller: None,
        storage_down: None,
        frozen: None,
    };
    let v = view(r, events, &viewer, true, &Links::default(), None);
    let now = now::summarize(&v, r, events);
    ReleasePage {
        layout: Layout::new(
            format!("{} release #{}", r.product, r.number),
            &viewer,
            "releases",
        ),
        v,
        now,
    }
    .render()
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (r, events) = load(&st, &product, &number).await?;
    let (v, now) = full(&st, &r, &events, &viewer).await;
    Ok(page(&ReleasePage {
        layout: Layout::new(
            format!("{} release #{}", r.product, r.number),
            &viewer,
            "releases",
        ),
        v,
        now,
    }))
}

/// The body alone, for live updates.
pub async fn body(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (r, events) = load(&st, &product, &number).await?;
    let (v, now) = full(&st, &r, &events, &viewer).await;
    Ok(page(&ReleaseBody { v, now }).into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct TimelineQuery {
    /// Events with a lower sequence number (0 or none: the newest).
    #[serde(default)]
    before: u64,
}

#[derive(Template)]
#[template(path = "ui/timeline.html")]
struct TimelinePage {
    layout: Layout,
    product: String,
    product_href: String,
    number: u64,
    release_href: String,
    t: Timeline,
}

/// Every event of a release, [`timeline::PAGE`] at a time, newest first.
pub async fn timeline_page(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
    Query(q): Query<TimelineQuery>,
) -> Result<Response, UiError> {
    let (r, events) = load(&st, &product, &number).await?;
    let product_href = format!("/products/{}", crate::layout::seg(&r.product));
    Ok(page(&TimelinePage {
        layout: Layout::new(
            format!("{} release #{} timeline", r.product, r.number),
            &viewer,
            "releases",
        ),
        release_href: format!("{product_href}/releases/{}", r.number),
        product_href,
        product: r.product.clone(),
        number: r.number,
        t: timeline::page(&events, r.created_at, q.before, timeline::PAGE),
    }))
}
