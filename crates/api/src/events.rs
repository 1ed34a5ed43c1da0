//! `GET /releases/{id}/events`: the release's history as Server-Sent
//! Events. Stored events after `Last-Event-ID` (or `?after=`) are replayed
//! first, then live ones follow; the SSE id of each event is its sequence
//! number, so a client that reconnects resumes without a gap or a repeat.
//!
//! The subscription to live events is taken *before* the stored ones are
//! read, so nothing committed in between is missed; duplicates are dropped
//! by sequence number. A subscriber that falls behind the broadcast buffer
//! catches up from the store.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use ferry_release::Event;
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::error::{ApiError, ApiQuery};
use crate::extract::Reader;
use crate::refusals::{ErrorBody, ReadRefusals};
use crate::state::Shared;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    after: Option<u64>,
}

struct Feed {
    id: String,
    store: ferry_store::Store,
    rx: Receiver<Event>,
    backlog: VecDeque<Event>,
    last: u64,
    stopping: ferry_wiring::CancelFlag,
}

/// Stored events of `id` after `after`, every page.
async fn stored_after(
    store: &ferry_store::Store,
    id: &str,
    mut after: u64,
) -> Result<Vec<Event>, ferry_store::Error> {
    let mut out = Vec::new();
    loop {
        let page = store
            .events(id, after, ferry_store::MAX_EVENTS_PAGE)
            .await?;
        let full = page.len() as u64 >= u64::from(ferry_store::MAX_EVENTS_PAGE);
        if let Some(last) = page.last() {
            after = last.seq;
        }
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

fn to_sse(e: &Event) -> SseEvent {
    let data = serde_json::to_string(e).unwrap_or_else(|_| "{}".into());
    SseEvent::default().id(e.seq.to_string()).data(data)
}

/// Server-Sent Events: stored events after `Last-Event-ID` (or `after`),
/// then live ones; the SSE id is the event's `seq`.
#[utoipa::path(get, path = "/api/v1/releases/{id}/events", tag = "releases",
    security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "Release id"),
        ("after" = Option<u64>, Query, description = "Replay the stored events after this seq"),
        ("Last-Event-ID" = Option<u64>, Header, description = "As `after`, sent by a reconnecting browser"),
    ),
    responses(
        (status = 200, description = "`text/event-stream` of events", content_type = "text/event-stream", body = ferry_release::Event),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
        (status = 404, description = "No such release", body = ErrorBody),
    ))]
pub async fn stream(
    _: Reader,
    State(st): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .ok_or_else(|| ApiError::bad_request("Last-Event-ID: not an event sequence number"))?,
        None => q.after.unwrap_or(0),
    };
    let rx = st.engine.subscribe();
    if st.engine.release(&id).await?.is_none() {
        return Err(ApiError::not_found(format!("release `{id}` not found")));
    }
    let backlog: VecDeque<Event> = stored_after(&st.store, &id, after).await?.into();
    let feed = Feed {
        id,
        store: st.store.clone(),
        rx,
        backlog,
        last: after,
        stopping: st.stopping.clone(),
    };
    let events = futures_util::stream::unfold(feed, |mut f| async move {
        loop {
            if let Some(e) = f.backlog.pop_front() {
                if e.seq <= f.last {
                    continue;
                }
                f.last = e.seq;
                return Some((Ok(to_sse(&e)), f));
            }
            let received = tokio::select! {
                r = f.rx.recv() => r,
                _ = f.stopping.cancelled() => return None,
            };
            match received {
                // A gap (an event relayed from another replica whose
                // predecessors were not announced here) is filled from
                // the store, so the stream stays gapless.
                Ok(e) if e.release_id == f.id && e.seq > f.last + 1 => {
                    match stored_after(&f.store, &f.id, f.last).await {
                        Ok(evs) => f.backlog.extend(evs),
                        Err(e) => {
                            tracing::warn!(error = %e, "event stream: filling a gap from the store failed");
                            return None;
                        }
                    }
                }
                Ok(e) => {
                    let tail = f.backlog.back().map_or(f.last, |b| b.seq);
                    if e.release_id != f.id || e.seq <= tail {
                        continue;
                    }
                    if e.seq == tail + 1 {
                        f.backlog.push_back(e);
                    } else {
                        // Broadcast out of order (an audit note appended
                        // beside the engine): every seq up to this one is
                        // committed, so read the gap from the store.
                        match stored_after(&f.store, &f.id, tail).await {
                            Ok(evs) => f.backlog.extend(evs),
                            Err(e) => {
                                tracing::warn!(error = %e, "event stream: reading a gap from the store failed");
                                return None;
                            }
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => match stored_after(&f.store, &f.id, f.last).await {
                    Ok(evs) => f.backlog.extend(evs),
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream: catching up from the store failed");
                        return None;
                    }
                },
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllEventsQuery {
    /// Only the releases of this product.
    product: Option<String>,
}

/// Every release's events as they happen (live only, no replay),
/// optionally of one product — what the releases list and the dashboards
/// follow to update without a reload. A subscriber that falls behind gets
/// one `lagged` event (with no id) instead of the events it missed: it
/// reads the state again.
#[utoipa::path(get, path = "/api/v1/events", tag = "releases",
    security(("bearer" = [])),
    params(
        ("product" = Option<String>, Query, description = "Only the events of this product's releases"),
    ),
    responses(
        (status = 200, description = "`text/event-stream` of events (and `lagged` when some were missed)", content_type = "text/event-stream", body = ferry_release::Event),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        ReadRefusals,
    ))]
pub async fn stream_all(
    _: Reader,
    State(st): State<Shared>,
    ApiQuery(q): ApiQuery<AllEventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    struct All {
        st: Shared,
        rx: Receiver<Event>,
        product: Option<String>,
        /// Release id → product, learnt once per release.
        products: std::collections::HashMap<String, String>,
    }
    let all = All {
        rx: st.engine.subscribe(),
        st,
        product: q.product,
        products: std::collections::HashMap::new(),
    };
    let events = futures_util::stream::unfold(all, |mut a| async move {
        loop {
            let received = tokio::select! {
                r = a.rx.recv() => r,
                _ = a.st.stopping.cancelled() => return None,
            };
            match received {
                Ok(e) => {
                    if let Some(want) = &a.product {
                        if !a.products.contains_key(&e.release_id) {
                            let product = match a.st.engine.release(&e.release_id).await {
                                Ok(Some(r)) => r.product,
                                Ok(None) => String::new(),
                                Err(x) => {
                                    tracing::warn!(error = %x, "event stream: reading a release's product failed");
                                    return None;
                                }
                            };
                            a.products.insert(e.release_id.clone(), product);
                        }
                        if a.products.get(&e.release_id) != Some(want) {
                            continue;
                        }
                    }
                    return Some((Ok(to_sse(&e)), a));
                }
                Err(RecvError::Lagged(_)) => {
                    let lagged = SseEvent::default().event("lagged").data("{}");
                    return Some((Ok(lagged), a));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
