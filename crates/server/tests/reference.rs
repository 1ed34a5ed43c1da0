//! The interactive API reference (`/api/docs`) in headless Chromium,
//! under ferry's own Content Security Policy: the vendored Swagger UI
//! renders every operation of the generated document and "Try it out"
//! calls this ferry.

mod browser;
mod common;

use std::collections::BTreeSet;

use common::{fixture, settings, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_reference_page() {
    let f = fixture();
    let s = start(settings(&f)).await;

    // Served without a token, under the default CSP; the big script
    // gzipped when accepted, with an ETag that answers 304.
    let r = s.http.get(s.url("/api/docs")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self';") && !csp.contains("unsafe"),
        "{csp}"
    );
    let r = s
        .http
        .get(s.url("/api/docs/swagger-ui-bundle.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let etag = r.headers()["etag"].clone();
    let r = s
        .http
        .get(s.url("/api/docs/swagger-ui-bundle.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let licence = s.text("/api/docs/LICENSE").await;
    assert!(licence.contains("Apache License"), "{licence}");
    let (status, _) = s.get("/api/docs/nothing.js").await;
    assert_eq!(status, 404);

    let (status, doc) = s.get("/api/openapi.json").await;
    assert_eq!(status, 200);
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{m} {path}"))
        })
        .collect();

    let b = browser::Browser::start().await;
    b.goto(&s.url("/api/docs")).await;
    b.wait_for(".opblock").await;
    let shown = b
        .eval(
            "return Array.from(document.querySelectorAll('.opblock')).map(function (o) {
               var m = (o.className.match(/opblock-(get|post|put|patch|delete)/) || [])[1];
               var p = o.querySelector('.opblock-summary-path');
               return m + ' ' + (p ? p.getAttribute('data-path') : '');
             });",
        )
        .await;
    let shown: BTreeSet<String> = shown
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(shown, documented, "every operation, and only those");
    // The stylesheet applied (served from ferry, allowed by the CSP).
    let styled = b
        .eval("return getComputedStyle(document.querySelector('.opblock')).borderStyle;")
        .await;
    assert_eq!(styled, "solid", "swagger-ui.css applied");
    b.screenshot("api-reference").await;

    // Try it out: GET /healthz from the page, answered by this ferry.
    b.click("#operations-operations-healthz .opblock-summary-control")
        .await;
    b.click("#operations-operations-healthz .try-out__btn")
        .await;
    b.click("#operations-operations-healthz .execute").await;
    b.wait_true(
        "the live answer of /healthz",
        "var c = document.querySelector('#operations-operations-healthz .live-responses-table tbody .response-col_status');
         return !!c && c.textContent.trim() === '200';",
    )
    .await;
    b.screenshot("api-reference-try").await;
    b.quit().await;
    s.stop().await;
}
