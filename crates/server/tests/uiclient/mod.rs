//! A browser-less UI client for the server's tests: keeps cookies by
//! hand and does not follow redirects, so each step of sign-in and of a
//! form post can be looked at.

#![allow(dead_code)]

use std::collections::HashMap;

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::htmlcheck;

/// A browser-less client that keeps cookies by hand and does not follow
/// redirects, so each step of sign-in can be looked at.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: HashMap<String, String>,
}

pub struct Answer {
    pub status: u16,
    pub location: String,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .no_gzip()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let req = if self.cookies.is_empty() {
            req
        } else {
            req.header(COOKIE, self.cookie_header())
        };
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let set_cookies: Vec<String> = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let pair = c.split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Answer {
            status,
            location,
            set_cookies,
            body: r.text().await.unwrap(),
        }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        let req = self.http.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    /// Signs in through the form, as a browser would.
    pub async fn sign_in(&mut self, token: &str) -> Answer {
        let form = self.get("/signin?next=/products/p").await;
        assert_eq!(form.status, 200);
        let csrf = hidden(&form.body, "csrf");
        self.post(
            "/signin",
            &[("csrf", &csrf), ("token", token), ("next", "/products/p")],
        )
        .await
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The value of the hidden input `name` in a form.
pub fn hidden(html: &str, name: &str) -> String {
    let els = htmlcheck::check(html).unwrap();
    els.iter()
        .find(|e| e.name == "input" && e.attr("name") == Some(name))
        .and_then(|e| e.attr("value"))
        .unwrap_or_else(|| panic!("no hidden input {name} in:\n{html}"))
        .to_owned()
}
