//! Error pages: what went wrong in words, for the person who is looking,
//! with the way back to what they were looking at.
//!
//! A handler's [`UiError`] becomes a response carrying the failure
//! ([`Failed`]) before any page is drawn for it; [`error_pages`], a layer
//! over every UI route, draws the page knowing the request — who is signed
//! in (the header says so, never "Sign in" to someone signed in) and
//! which release or product the request was about (linked). A response
//! that never passed the layer still gets a page, without the viewer.

use askama::Template;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use percent_encoding::percent_decode_str;

use crate::layout::{Layout, UiError, Viewer};
use crate::text::code_spans;
use ferry_api::Shared;

/// A failed request, as its response carries it to [`error_pages`].
#[derive(Debug, Clone)]
pub struct Failed {
    pub status: StatusCode,
    pub message: String,
}

/// A link back to what the request was about.
pub struct WayBack {
    pub label: String,
    pub href: String,
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    layout: Layout,
    headline: &'static str,
    status: u16,
    reason: &'static str,
    /// HTML (escaped, `code` spans).
    message: String,
    links: Vec<WayBack>,
}

/// What happened, in words a reader acts on (the status code is shown
/// beside it, small).
fn headline(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "The request could not be read",
        401 => "Sign in first",
        403 => "You may not do this",
        404 => "Not found",
        409 => "Not done: it conflicts with the current state",
        413 => "Too large",
        422 => "Not valid",
        429 => "Too many requests: wait a moment and try again",
        503 => "ferry cannot do this right now",
        s if s >= 500 => "ferry failed to do this",
        _ => "Not done",
    }
}

fn decoded(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Where the reader goes back to from `path`: the release and product the
/// request was about (the segments are the request's own, already
/// encoded), never the page that failed itself, then all products.
pub fn way_back(path: &str, status: StatusCode) -> Vec<WayBack> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut out = Vec::new();
    if let ["products", p, rest @ ..] = segs.as_slice()
        && !p.is_empty()
    {
        let product = decoded(p);
        let product_href = format!("/products/{p}");
        match rest {
            // An action on a release (retry, merge, notes…): the release,
            // unless it is the release that was not found.
            ["releases", n, _, ..] if status != StatusCode::NOT_FOUND => out.push(WayBack {
                label: format!("Release #{} of {product}", decoded(n)),
                href: format!("{product_href}/releases/{n}"),
            }),
            ["releases", _, ..] => out.push(WayBack {
                label: format!("Releases of {product}"),
                href: format!("{product_href}/releases"),
            }),
            _ => {}
        }
        // The product itself, unless it is the page that failed.
        if !rest.is_empty() {
            out.push(WayBack {
                label: format!("Product {product}"),
                href: product_href,
            });
        }
    }
    out.push(WayBack {
        label: "All products".to_owned(),
        href: "/products".to_owned(),
    });
    out
}

/// The page for `failed`, drawn for `viewer` (none: as for someone not
/// signed in) about the request to `path`.
fn render(failed: &Failed, viewer: Option<&Viewer>, path: &str) -> Result<String, askama::Error> {
    let headline = headline(failed.status);
    let layout = match viewer {
        Some(v) => Layout::new(headline, v, ""),
        None => Layout {
            title: headline.to_owned(),
            viewer: None,
            csrf: String::new(),
            nav: "",
            storage_down: None,
            admin: false,
            frozen: None,
        },
    };
    ErrorPage {
        layout,
        headline,
        status: failed.status.as_u16(),
        reason: failed.status.canonical_reason().unwrap_or("Error"),
        message: code_spans(&failed.message),
        links: way_back(path, failed.status),
    }
    .render()
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let failed = Failed {
            status: self.0.status,
            message: self.0.message,
        };
        // Drawn here without the viewer; `error_pages` draws it again
        // with them when the request passed it.
        let mut resp = match render(&failed, None, "/") {
            Ok(html) => (failed.status, Html(html)).into_response(),
            Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error page failed").into_response(),
        };
        resp.extensions_mut().insert(failed);
        resp
    }
}

/// The layer over the UI's routes that draws error pages for the viewer
/// and the request (see the module's documentation). The request's head
/// is kept to read the viewer only when the answer is an error page.
pub async fn error_pages(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let (head, body) = req.into_parts();
    let mut kept = head.clone();
    let resp = next.run(Request::from_parts(head, body)).await;
    let Some(failed) = resp.extensions().get::<Failed>().cloned() else {
        return resp;
    };
    // Not signed in (or the session cannot be read): drawn as for anyone.
    let viewer = Viewer::from_request_parts(&mut kept, &st).await.ok();
    let Ok(html) = render(&failed, viewer.as_ref(), kept.uri.path()) else {
        return resp;
    };
    let (mut parts, _) = resp.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(html))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(path: &str, status: StatusCode) -> Vec<(String, String)> {
        way_back(path, status)
            .into_iter()
            .map(|l| (l.label, l.href))
            .collect()
    }

    #[test]
    fn the_way_back_names_the_release_and_the_product() {
        let all = ("All products".to_owned(), "/products".to_owned());
        assert_eq!(
            links("/products/shop/releases/2/merge", StatusCode::CONFLICT),
            vec![
                (
                    "Release #2 of shop".to_owned(),
                    "/products/shop/releases/2".to_owned()
                ),
                ("Product shop".to_owned(), "/products/shop".to_owned()),
                all.clone(),
            ]
        );
        // The release that was not found is not offered again.
        assert_eq!(
            links("/products/shop/releases/9", StatusCode::NOT_FOUND),
            vec![
                (
                    "Releases of shop".to_owned(),
                    "/products/shop/releases".to_owned()
                ),
                ("Product shop".to_owned(), "/products/shop".to_owned()),
                all.clone(),
            ]
        );
        assert_eq!(
            links("/products/shop/releases/9/retry", StatusCode::NOT_FOUND)[0].1,
            "/products/shop/releases"
        );
        // A product page that failed links to the products only.
        assert_eq!(
            links("/products/a%20b", StatusCode::NOT_FOUND),
            vec![all.clone()]
        );
        assert_eq!(
            links("/products/a%20b/promote", StatusCode::BAD_REQUEST)[0],
            ("Product a b".to_owned(), "/products/a%20b".to_owned())
        );
        assert_eq!(links("/releases", StatusCode::BAD_REQUEST), vec![all]);
    }

    #[test]
    fn a_headline_in_words_for_every_status() {
        for s in [400, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 418] {
            let h = headline(StatusCode::from_u16(s).unwrap());
            assert!(!h.is_empty() && !h.contains(char::is_numeric), "{s}: {h}");
        }
        assert_eq!(
            headline(StatusCode::CONFLICT),
            "Not done: it conflicts with the current state"
        );
    }
}
