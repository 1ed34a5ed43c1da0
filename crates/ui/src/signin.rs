//! Sign-in (paste an API token), sign-out.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::layout::{Layout, UiError, page};
use ferry_api::Shared;
use ferry_api::csrf;
use ferry_api::error::ApiError;
use ferry_api::session::{self, principal_for_token};

#[derive(Template)]
#[template(path = "ui/signin.html")]
struct SigninPage {
    layout: Layout,
    next: String,
    csrf: String,
    error: String,
    anonymous_read: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// Only same-site paths are followed after sign-in (no open redirect):
/// a path starting with one `/`, of visible ASCII only (browsers drop tabs
/// and newlines, which would turn `/\t/evil` into `//evil`; anything else
/// could not be a `Location` header).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n.to_owned()
        }
        _ => "/products".to_owned(),
    }
}

fn form_page(
    st: &Shared,
    next: String,
    error: &str,
    status: StatusCode,
) -> Result<Response, UiError> {
    let token = csrf::new_token().map_err(|e| ApiError::internal("sign-in form", e))?;
    let mut response = page(&SigninPage {
        layout: Layout {
            title: "Sign in".into(),
            viewer: None,
            csrf: String::new(),
            nav: "",
            storage_down: None,
            admin: false,
            frozen: None,
        },
        next,
        csrf: token.clone(),
        error: error.to_owned(),
        anonymous_read: st.anonymous_read,
    });
    *response.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(&st.sessions.signin_cookie(&token)) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(response)
}

pub async fn show(
    State(st): State<Shared>,
    Query(q): Query<NextQuery>,
) -> Result<Response, UiError> {
    form_page(&st, safe_next(q.next.as_deref()), "", StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct SigninForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

pub async fn submit(
    State(st): State<Shared>,
    parts: axum::http::request::Parts,
    Form(f): Form<SigninForm>,
) -> Result<Response, UiError> {
    let headers = &parts.headers;
    // Guessing tokens through the form is rate limited per client, as the
    // API's webhooks are (issue 10).
    if let Err(refused) = st.security.limit_sign_in(&parts) {
        return Ok(refused);
    }
    let next = safe_next(Some(&f.next));
    let expected = session::cookie(headers, csrf::SIGNIN_COOKIE).unwrap_or_default();
    if !csrf::matches(&expected, &f.csrf) {
        return form_page(
            &st,
            next,
            "The form expired or did not come from this site; please try again.",
            StatusCode::FORBIDDEN,
        );
    }
    let Some(principal) = principal_for_token(&st.tokens, &f.token).await else {
        return form_page(
            &st,
            next,
            "That token is not valid.",
            StatusCode::UNAUTHORIZED,
        );
    };
    let id = st.sessions.start(&st.store, principal, &f.token).await?;
    let mut r = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::from_str(&st.sessions.cookie(&id)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Debug, Deserialize)]
pub struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session server-side and clears the cookie. Needs the
/// session's CSRF token, so another site cannot sign a person out.
pub async fn signout(
    State(st): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<SignoutForm>,
) -> Result<Response, UiError> {
    let Some((id, s)) = st.sessions.from_headers(&st.store, &headers).await? else {
        return Ok(Redirect::to("/signin").into_response());
    };
    if !csrf::matches(&s.csrf, &f.csrf) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the form's CSRF token is missing or wrong",
        )
        .into());
    }
    st.sessions.end(&st.store, &id).await?;
    let mut r = Redirect::to("/signin").into_response();
    if let Ok(v) = HeaderValue::from_str(&st.sessions.clear_cookie()) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_same_site_paths() {
        assert_eq!(safe_next(Some("/products/p?x=1")), "/products/p?x=1");
        for bad in [
            "//evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "/\\evil",
            "/é",
            "/a\r\nSet-Cookie: x=1",
            "/a b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/products", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/products");
    }
}
