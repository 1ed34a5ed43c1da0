//! The release view: header (trigger commit, status counts, version,
//! flow, initiator, duration), the flow graph, each environment
//! (`#env-<name>`, where commit-status Details links land) with its
//! applications, steps, hooks and issues, Terminate/Retry, and the event
//! timeline. The body is also served alone (`…/body`) so the script can
//! swap it in when the release's event stream says something changed.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use ferry_api::Shared;
use ferry_release::{Event, Release};

use crate::layout::{Layout, UiError, Viewer, page};
use crate::release_view::{ReleaseView, load, view};

#[derive(Template)]
#[template(path = "ui/release.html")]
struct ReleasePage {
    layout: Layout,
    v: ReleaseView,
}

#[derive(Template)]
#[template(path = "ui/release_body.html")]
struct ReleaseBody {
    v: ReleaseView,
}

/// The full page, outside a request (see [`crate::render_release_page`]).
pub fn render_page(r: &Release, events: &[Event]) -> Result<String, askama::Error> {
    let viewer = Viewer {
        name: Some("bench".into()),
        csrf: String::new(),
        session_id: None,
        caller: None,
        storage_down: None,
    };
    ReleasePage {
        layout: Layout::new(
            format!("{} release #{}", r.product, r.number),
            &viewer,
            "releases",
        ),
        v: view(r, events, &viewer, true),
    }
    .render()
}

pub async fn show(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (r, events) = load(&st, &product, &number).await?;
    let flow_exists = st.engine.config().config.flow(&r.flow).is_some();
    let mut v = view(&r, &events, &viewer, flow_exists);
    crate::resume::offer(&mut v, &r);
    if st.demo {
        crate::merge::offer(&mut v, &r);
    }
    Ok(page(&ReleasePage {
        layout: Layout::new(
            format!("{} release #{}", r.product, r.number),
            &viewer,
            "releases",
        ),
        v,
    }))
}

/// The body alone, for live updates.
pub async fn body(
    viewer: Viewer,
    State(st): State<Shared>,
    Path((product, number)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let (r, events) = load(&st, &product, &number).await?;
    let flow_exists = st.engine.config().config.flow(&r.flow).is_some();
    let mut v = view(&r, &events, &viewer, flow_exists);
    crate::resume::offer(&mut v, &r);
    if st.demo {
        crate::merge::offer(&mut v, &r);
    }
    Ok(page(&ReleaseBody { v }).into_response())
}
