//! The JSON API against the real server, store, engine and a real Git
//! repository.

mod common;

use std::time::{Duration, Instant};

use common::{TOKEN, fixture, git, settings, start};
use futures_util::StreamExt;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_promotion_reaches_succeeded_with_trailers() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let (status, created) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["initiator"], "admin");
    assert_eq!(created["product"], "p");
    assert_eq!(created["flow"], "standard");
    let id = created["id"].as_str().unwrap().to_owned();
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");

    // The promotion commits in the bare repository carry the trailers.
    let log = git(
        f.root.path(),
        &[
            "--git-dir",
            f.bare.to_str().unwrap(),
            "log",
            "--format=%B%x00",
            "main",
        ],
    );
    for env in ["qa", "prod"] {
        assert!(
            log.split('\0')
                .any(|m| m.contains(&format!("Ferry-Release: {id}"))
                    && m.contains(&format!("Ferry-Environment: {env}"))
                    && m.contains(&format!("Ferry-Application: api-{env}"))),
            "no promotion commit for {env}:\n{log}"
        );
    }
    let prod = git(
        f.root.path(),
        &[
            "--git-dir",
            f.bare.to_str().unwrap(),
            "show",
            "main:envs/prod/values.yaml",
        ],
    );
    assert!(prod.contains("registry.example/shop/api:1.2.0"), "{prod}");
    assert!(prod.contains("registry.example/proxy:1.2.0"), "{prod}");

    // The product view shows the promoted revision per environment.
    let (status, product) = s.get("/api/v1/products/p").await;
    assert_eq!(status, 200, "{product}");
    let prod_env = product["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "prod")
        .unwrap();
    let app = &prod_env["applications"][0];
    assert_eq!(app["name"], "api-prod");
    assert_eq!(
        app["revision"],
        done["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "prod")
            .unwrap()["applications"][0]["promotionCommit"]
    );
    // The trigger environment, which no release promotes into, shows its
    // own version and the tip of its branch.
    let dev_app = &product["environments"][0]["applications"][0];
    assert_eq!(dev_app["name"], "api-dev", "{product:#}");
    assert_eq!(dev_app["version"], "1.2.0", "{dev_app:#}");
    let tip = git(
        f.root.path(),
        &["--git-dir", f.bare.to_str().unwrap(), "rev-parse", "main"],
    );
    assert_eq!(
        dev_app["revision"].as_str().map(str::len),
        Some(40),
        "{dev_app:#}"
    );
    assert!(
        git(
            f.root.path(),
            &[
                "--git-dir",
                f.bare.to_str().unwrap(),
                "merge-base",
                "--is-ancestor",
                dev_app["revision"].as_str().unwrap(),
                tip.trim(),
            ],
        )
        .is_empty(),
        "the revision is a commit of main"
    );
    let (status, products) = s.get("/api/v1/products").await;
    assert_eq!(status, 200);
    assert_eq!(products["items"][0]["name"], "p");
    assert_eq!(
        products["items"][0]["environments"],
        json!(["dev", "qa", "prod"])
    );
    assert_eq!(products["items"][0]["latestRelease"]["id"], id.as_str());

    // Terminating a finished release is a conflict; retrying a succeeded one too.
    let (status, body) = s
        .post(&format!("/api/v1/releases/{id}/terminate"), &json!({}))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], 409);
    s.stop().await;
}

/// Every SPEC §9 field of a release is present (null when unset).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_json_has_the_spec_fields() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let (_, created) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    let r = s.wait_finished(created["id"].as_str().unwrap()).await;
    for k in [
        "id",
        "number",
        "product",
        "flow",
        "status",
        "initiator",
        "createdAt",
        "finishedAt",
        "version",
        "trigger",
        "environments",
    ] {
        assert!(r.get(k).is_some(), "release lacks {k}: {r:#}");
    }
    for k in ["repoUrl", "sha", "message", "author", "date", "branch"] {
        assert!(r["trigger"].get(k).is_some(), "trigger lacks {k}");
    }
    let envs = r["environments"].as_array().unwrap();
    assert!(!envs.is_empty());
    let mut steps_seen = 0;
    for e in envs {
        for k in ["name", "status", "dependsOn", "issues", "applications"] {
            assert!(e.get(k).is_some(), "environment lacks {k}: {e:#}");
        }
        for a in e["applications"].as_array().unwrap() {
            for k in [
                "name",
                "status",
                "promotionCommit",
                "pullRequest",
                "sync",
                "health",
                "steps",
            ] {
                assert!(a.get(k).is_some(), "application lacks {k}: {a:#}");
            }
            for st in a["steps"].as_array().unwrap() {
                steps_seen += 1;
                for k in ["name", "phase", "status", "startedAt", "finishedAt"] {
                    assert!(st.get(k).is_some(), "step lacks {k}: {st:#}");
                }
            }
        }
    }
    assert!(steps_seen > 0, "no steps in {r:#}");
    // Each environment's steps as a whole (SPEC §4.3): qa's commit and
    // sync over its one application.
    let qa = envs.iter().find(|e| e["name"] == "qa").unwrap();
    assert_eq!(
        qa["steps"],
        json!([
            {"name": "commit", "phase": "action", "status": "SUCCESS"},
            {"name": "sync", "phase": "sync", "status": "SUCCESS"},
        ]),
        "{qa:#}"
    );
    assert_eq!(r["version"], "1.2.0");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_bad_input() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let url = s.url("/api/v1/products/p/promotions");
    let r = s
        .http
        .post(&url)
        .json(&json!({"flow": "standard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let (_, body) = common::documented("POST", &url, r).await;
    assert_eq!(body["status"], 401);
    let r = s
        .http
        .post(&url)
        .bearer_auth("wrong")
        .json(&json!({"flow": "standard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let text = r.text().await.unwrap();
    assert!(!text.contains(TOKEN) && !text.contains("wrong"), "{text}");
    // Reads need a token too while anonymous read is off.
    let r = s.http.get(s.url("/api/v1/releases")).send().await.unwrap();
    let (status, _) = common::documented("GET", "/api/v1/releases", r).await;
    assert_eq!(status, 401);

    // Malformed JSON, unknown fields, oversize bodies.
    let r = s
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"flow\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = common::documented("POST", &url, r).await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], 400);
    assert!(!body["error"].as_str().unwrap().is_empty());
    let (status, body) = s
        .post("/api/v1/products/p/promotions", &json!({"flw": "standard"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("flw"), "{body}");
    let big = format!("{{\"flow\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let r = s
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    // The unread rest of the body means the server closes the connection;
    // the response says so, so the client's pool never reuses it.
    assert_eq!(
        r.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    // Unknown things.
    let (status, body) = s
        .post("/api/v1/products/p/promotions", &json!({"flow": "nope"}))
        .await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s
        .post(
            "/api/v1/products/nope/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s.get("/api/v1/releases/01NOPE").await;
    assert_eq!(status, 404);
    // Releases of a product that does not exist: 404, not an empty list;
    // a configured product without releases: an empty list.
    let (status, body) = s.get("/api/v1/products/nope/releases").await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.get("/api/v1/products/p/releases?status=FAILED").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s.get("/api/v1/releases?status=DONE").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = s.get("/api/v1/releases?limit=0").await;
    assert_eq!(status, 400);
    let (status, _) = s.get("/api/v1/releases?cursor=garbage").await;
    assert_eq!(status, 400);
    let (status, _) = s.get("/api/v1/nowhere").await;
    assert_eq!(status, 404);
    let (status, body) = s
        .post("/api/v1/workflows/no-such-run/resume", &json!({}))
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .post(
            "/api/v1/workflows/no-such-run/resume",
            &json!({"stepp": "x"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_list_pagination_and_status_filter() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (status, r) = s
            .post(
                "/api/v1/products/p/promotions",
                &json!({"flow": "standard"}),
            )
            .await;
        assert_eq!(status, 201, "{r}");
        let id = r["id"].as_str().unwrap().to_owned();
        s.wait_finished(&id).await;
        ids.push(id);
    }
    let (status, page1) = s.get("/api/v1/products/p/releases?limit=2").await;
    assert_eq!(status, 200, "{page1}");
    assert_eq!(page1["items"].as_array().unwrap().len(), 2);
    let cursor = page1["nextCursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (_, page2) = s
        .get(&format!(
            "/api/v1/products/p/releases?limit=2&cursor={cursor}"
        ))
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert!(page2["nextCursor"].is_null());
    let mut listed: Vec<String> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    listed.reverse();
    assert_eq!(listed, ids, "newest first, every release once");

    let (_, ok) = s.get("/api/v1/releases?status=SUCCEEDED").await;
    assert_eq!(ok["items"].as_array().unwrap().len(), 3);
    let (_, failed) = s.get("/api/v1/releases?status=FAILED,TERMINATED").await;
    assert_eq!(failed["items"].as_array().unwrap().len(), 0);
    let (_, other) = s.get("/api/v1/releases?product=other").await;
    assert_eq!(other["items"].as_array().unwrap().len(), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_stream_delivers_events_in_order() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let (_, created) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let r = s
        .http
        .get(s.url(&format!("/api/v1/releases/{id}/events")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut stream = r.bytes_stream();
    let mut buf = String::new();
    let mut events: Vec<(u64, Value)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    'outer: while Instant::now() < deadline {
        let chunk = tokio::time::timeout(Duration::from_secs(60), stream.next())
            .await
            .expect("stream stalls")
            .expect("stream ends early")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut sse_id = None;
            let mut data = None;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    sse_id = Some(v.trim().parse::<u64>().unwrap());
                }
                if let Some(v) = line.strip_prefix("data:") {
                    let event = serde_json::from_str::<Value>(v.trim()).unwrap();
                    common::conforms("Event", &event);
                    data = Some(event);
                }
            }
            if let (Some(i), Some(d)) = (sse_id, data) {
                let finished = d["kind"] == "release"
                    && ["SUCCEEDED", "FAILED", "TERMINATED"]
                        .contains(&d["status"].as_str().unwrap_or(""));
                events.push((i, d));
                if finished {
                    break 'outer;
                }
            }
        }
    }
    assert!(events.len() > 3, "{events:?}");
    for (i, (sse_id, e)) in events.iter().enumerate() {
        assert_eq!(
            *sse_id,
            (i + 1) as u64,
            "ids are the sequence, without gaps"
        );
        assert_eq!(e["seq"], *sse_id);
        assert_eq!(e["releaseId"], id.as_str());
    }
    assert_eq!(events.last().unwrap().1["status"], "SUCCEEDED");

    // Replay after Last-Event-ID starts right after it.
    let r = s
        .http
        .get(s.url(&format!("/api/v1/releases/{id}/events")))
        .bearer_auth(TOKEN)
        .header("Last-Event-ID", "2")
        .send()
        .await
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.starts_with("id: 3\n") || text.contains("\nid: 3\n") || text.contains("id:3"),
        "{text}"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operational_endpoints() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    let (status, _) = common::documented("GET", "/healthz", r).await;
    assert_eq!(status, 200);
    let (status, ready) = s.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["config"]["errors"], json!([]));

    let (_, created) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    s.wait_finished(created["id"].as_str().unwrap()).await;
    let text = s.text("/metrics").await;
    // qa's and prod's commit and sync steps, timed.
    let count = |series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count("ferry_step_duration_seconds_count{phase=\"action\",status=\"SUCCESS\"}") >= 2
            && count("ferry_step_duration_seconds_count{phase=\"sync\",status=\"SUCCESS\"}") >= 2,
        "{text}"
    );
    assert!(
        text.contains("ferry_releases{status=\"SUCCEEDED\"} 1"),
        "{text}"
    );
    assert!(text.contains("ferry_http_requests_total{method=\"POST\",route=\"/api/v1/products/{product}/promotions\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("ferry_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/releases/{id}\"}"), "{text}");

    let doc: Value = s
        .http
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/v1/products/{product}/promotions"]["post"].is_object());

    let (status, eval) = s
        .get("/api/v1/policies/evaluate?product=p&environment=prod")
        .await;
    assert_eq!(status, 200, "{eval}");
    assert_eq!(eval["product"], "p");
    assert_eq!(eval["environment"], "prod");
    let (status, _) = s
        .get("/api/v1/policies/evaluate?product=p&environment=mars")
        .await;
    assert_eq!(status, 404);
    s.stop().await;
}

/// An invalid new configuration is reported while the last good one stays
/// active; a valid one replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_configuration() {
    let f = fixture();
    let s = start(settings(&f)).await;
    std::fs::write(
        f.config.join("broken.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: broken}\nspec:\n  triggerEnvironment: mars\n  steps: []\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let (_, st) = s.get("/api/v1/config/status").await;
        if !st["errors"].as_array().unwrap().is_empty() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the broken configuration was never reported"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let errors = status["errors"].to_string();
    assert!(
        errors.contains("broken.yaml") && errors.contains("mars"),
        "{errors}"
    );
    let (_, ready) = s.get("/readyz").await;
    assert_eq!(ready["config"]["errors"], status["errors"]);
    // The last good configuration is still active.
    let (code, r) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    assert_eq!(code, 201, "{r}");
    s.wait_finished(r["id"].as_str().unwrap()).await;

    // A valid change: a second flow appears.
    std::fs::remove_file(f.config.join("broken.yaml")).unwrap();
    std::fs::write(
        f.config.join("hotfix.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata:\n  name: hotfix\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: prod\n      dependsOn: [dev]\n",
    )
    .unwrap();
    let product = std::fs::read_to_string(f.config.join("product.yaml")).unwrap();
    std::fs::write(
        f.config.join("product.yaml"),
        product.replace(
            "    - name: standard\n",
            "    - name: standard\n    - name: hotfix\n",
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, p) = s.get("/api/v1/products/p").await;
        if p["flows"] == json!(["standard", "hotfix"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new configuration never became active: {p}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, st) = s.get("/api/v1/config/status").await;
    assert_eq!(st["errors"], json!([]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_configuration_at_start_is_an_error() {
    let f = fixture();
    std::fs::write(
        f.config.join("broken.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: broken}\nspec:\n  triggerEnvironment: mars\n  steps: []\n",
    )
    .unwrap();
    let err = match ferry_server::Server::build(settings(&f)).await {
        Ok(_) => panic!("an invalid configuration must not start"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("broken.yaml") && err.contains("mars"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_read_when_enabled() {
    let f = fixture();
    let mut st = settings(&f);
    st.anonymous_read = true;
    let s = start(st).await;
    let r = s.http.get(s.url("/api/v1/products")).send().await.unwrap();
    let (status, _) = common::documented("GET", "/api/v1/products", r).await;
    assert_eq!(status, 200);
    let r = s
        .http
        .post(s.url("/api/v1/products/p/promotions"))
        .json(&json!({"flow": "standard"}))
        .send()
        .await
        .unwrap();
    let (status, _) = common::documented("POST", "/api/v1/products/p/promotions", r).await;
    assert_eq!(status, 401, "writes still need a token");
    s.stop().await;
}

/// A Git configuration repository is watched through `git ls-remote`: a
/// pushed broken configuration is reported and the good one stays active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_configuration_from_git() {
    let f = fixture();
    let (cfg_bare, cfg_work) = common::config_repo(&f);
    let mut st = settings(&f);
    st.config = Some(cfg_bare.display().to_string());
    st.config_branch = Some("main".into());
    let s = start(st).await;
    let (_, status) = s.get("/api/v1/config/status").await;
    assert!(
        status["source"].as_str().unwrap().contains("config.git"),
        "{status}"
    );

    std::fs::write(
        cfg_work.join("broken.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: broken}\nspec:\n  triggerEnvironment: mars\n  steps: []\n",
    )
    .unwrap();
    git(&cfg_work, &["add", "."]);
    git(&cfg_work, &["commit", "-q", "-m", "broken"]);
    git(&cfg_work, &["push", "-q", "origin", "HEAD:main"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, ready) = s.get("/readyz").await;
        if ready["config"]["errors"].to_string().contains("mars") {
            assert_eq!(
                ready["ready"], true,
                "a rejected configuration does not make the server unready"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pushed broken configuration was never reported: {ready}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, r) = s
        .post(
            "/api/v1/products/p/promotions",
            &json!({"flow": "standard"}),
        )
        .await;
    assert_eq!(code, 201, "the last good configuration stays active: {r}");
    s.wait_finished(r["id"].as_str().unwrap()).await;
    s.stop().await;
}

/// Sends `head` and `body` as they are on a new connection (pausing
/// `pause` between them) and reads the answer: its status and JSON body.
async fn raw(s: &common::TestServer, head: &str, body: &[u8], pause: Duration) -> (u16, Value) {
    let head_sent = head;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    conn.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(pause).await;
    // The server may answer and close before reading all of it.
    let _ = conn.write_all(body).await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|n| n.trim().parse::<usize>().ok());
                if len.is_some_and(|n| body.len() >= n) {
                    break;
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "no answer within 20 s");
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let mut request_line = head_sent.split_whitespace();
    let (method, path) = (request_line.next().unwrap(), request_line.next().unwrap());
    common::documented_answer(method, path, status, &json);
    (status, json)
}

/// Issue 23's small inconsistencies: a malformed (chunked) body is 400, a
/// trickled or stalled one 408, an oversize webhook 413 — each the JSON
/// error body, as is every error the API or its webhooks answer (axum's
/// own refusals too); an unknown field inside `policy` is refused naming
/// its path; a workflow the configuration does not have is 422.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_slow_and_unknown_requests_get_json_errors() {
    let f = fixture();
    let mut settings = settings(&f);
    settings.http.body_timeout = Duration::from_secs(1);
    let s = start(settings).await;
    let promote = format!(
        "POST /api/v1/products/p/promotions HTTP/1.1\r\nHost: ferry\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
    );

    // A chunk whose size line is not hexadecimal.
    let (status, body) = raw(
        &s,
        &format!("{promote}Transfer-Encoding: chunked\r\n\r\n"),
        b"zz\r\n{}\r\n0\r\n\r\n",
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_u64()),
        (400, Some(400)),
        "{body}"
    );
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("request body: could not be read"),
        "{body}"
    );

    // 10 bytes of an announced 1000, then nothing: 408 after the body
    // timeout (1 s here).
    let started = Instant::now();
    let (status, body) = raw(
        &s,
        &format!("{promote}Content-Length: 1000\r\n\r\n{{\"flow\": \"s"),
        b"",
        Duration::ZERO,
    )
    .await;
    assert_eq!(
        (status, body["status"].as_u64()),
        (408, Some(408)),
        "{body}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // A webhook delivery larger than the forge's maximum, whatever its type.
    for kind in ["application/json", "application/x-www-form-urlencoded"] {
        let (status, body) = raw(
            &s,
            &format!(
                "POST /api/v1/webhooks/github HTTP/1.1\r\nHost: ferry\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
                30 * 1024 * 1024
            ),
            b"{}",
            Duration::ZERO,
        )
        .await;
        assert_eq!(
            (status, body["status"].as_u64()),
            (413, Some(413)),
            "{kind}: {body}"
        );
        assert!(
            body["error"].as_str().unwrap().contains("larger than"),
            "{body}"
        );
    }

    // A body announced over the limit is read before the 413: a client
    // that writes its whole body first (as most do), even after a pause in
    // which the server could have answered and closed, gets the answer
    // instead of a broken pipe.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = vec![b' '; 2 * 1024 * 1024];
        let mut conn = tokio::net::TcpStream::connect(s.base.trim_start_matches("http://"))
            .await
            .unwrap();
        conn.write_all(format!("{promote}Content-Length: {}\r\n\r\n", body.len()).as_bytes())
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        conn.write_all(&body)
            .await
            .expect("the server reads the whole announced body before it answers");
        let mut answer = [0u8; 12];
        conn.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer, b"HTTP/1.1 413");
    }

    // Unknown fields at every level, named by their path.
    for (request, field) in [
        (json!({"flw": "standard"}), "flw"),
        (
            json!({"targetEnvironment": "qa", "policy": {"preAcion": "ok"}}),
            "policy.preAcion: unknown field `preAcion`",
        ),
        (
            json!({"targetEnvironment": "qa", "policy": {"action": "commit", "x": 1}}),
            "policy.x: unknown field `x`",
        ),
    ] {
        let (status, body) = s.post("/api/v1/products/p/promotions", &request).await;
        assert_eq!(status, 400, "{request}: {body}");
        assert!(body["error"].as_str().unwrap().contains(field), "{body}");
    }
    let (status, body) = s
        .post(
            "/api/v1/tokens",
            &json!({"name": "ci", "role": "viewer", "scope": {}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("scope"), "{body}");

    // A workflow the active configuration does not have: 422, named.
    for (field, policy) in [
        ("policy.preAction", json!({"preAction": "nope-pre"})),
        ("policy.postAction", json!({"postAction": "nope-post"})),
    ] {
        let (status, body) = s
            .post(
                "/api/v1/products/p/promotions",
                &json!({"targetEnvironment": "qa", "policy": policy}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(field) && error.contains("nope-"), "{body}");
    }
    let (status, body) = s.get("/api/v1/releases").await;
    assert_eq!(
        body["items"].as_array().map(Vec::len),
        Some(0),
        "{status} {body}"
    );

    // axum's own refusals are JSON too: a method a route does not have, a
    // body over the limit read as bytes (not JSON, so not buffered first).
    let r = s
        .http
        .delete(s.url("/api/v1/releases"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert!(r.headers().contains_key("allow"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 405, "{body}");
    let r = s
        .http
        .post(s.url("/api/v1/workflows/run-1/resume"))
        .bearer_auth(TOKEN)
        .header("content-type", "text/plain")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], 413, "{body}");
    s.stop().await;
}
