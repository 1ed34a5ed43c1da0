//! End to end with a forge: real Git repositories, the real server, and an
//! in-test GitHub (127.0.0.1) that checks every request as GitHub's REST API
//! documents it. A push webhook creates the release; the `pr` environment
//! opens a pull request and waits SUSPENDED; the test merges the branch and
//! delivers the merged-PR webhook; the release continues and every commit
//! status ends in its final state. Closing a pull request without merging
//! fails the release with a `forge` issue. Bad signatures change nothing.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use common::{TOKEN, git};
use ferry_forge::{ForgeEntry, ForgeKind, Secret};
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "whsec-e2e-0123";
const GH_TOKEN: &str = "ghp-e2e-token";

#[derive(Default)]
struct GitHubState {
    /// (sha, context) → last state accepted.
    statuses: HashMap<(String, String), (String, String)>,
    /// Opened pull requests: number → request body.
    pulls: Vec<Value>,
    /// 0 open, 1 merged, 2 closed.
    pr_state: u8,
    merge_commit: Option<String>,
    /// Requests refused for their shape.
    refused: Vec<String>,
}

type Shared = Arc<Mutex<GitHubState>>;

/// A GitHub REST fake for repository `owner/gitops`.
async fn fake_github(owner: String) -> (String, Shared) {
    let state: Shared = Arc::default();
    let st = Arc::clone(&state);
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let st = Arc::clone(&st);
            let owner = owner.clone();
            async move {
                let mut s = st.lock().unwrap();
                let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
                if h("authorization") != format!("Bearer {GH_TOKEN}") {
                    return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "Bad credentials"})));
                }
                if h("accept") != "application/vnd.github+json" || h("x-github-api-version") != "2022-11-28" || h("user-agent").is_empty() {
                    s.refused.push(format!("headers of {method} {uri}"));
                    return (StatusCode::BAD_REQUEST, axum::Json(json!({"message": "headers"})));
                }
                let b: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let path = uri.path().to_owned();
                let prefix = format!("/repos/{owner}/gitops/");
                let Some(rest) = path.strip_prefix(&prefix) else {
                    s.refused.push(format!("path {path}"));
                    return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"})));
                };
                match (method.as_str(), rest) {
                    ("POST", r) if r.starts_with("statuses/") => {
                        let sha = r.trim_start_matches("statuses/").to_owned();
                        let state = b["state"].as_str().unwrap_or("");
                        let desc = b["description"].as_str().unwrap_or("");
                        let ctx = b["context"].as_str().unwrap_or("");
                        let url = b["target_url"].as_str().unwrap_or("");
                        let fields: Vec<&String> = b.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                        if sha.len() != 40
                            || !["error", "failure", "pending", "success"].contains(&state)
                            || desc.chars().count() > 140
                            || fields.iter().any(|k| !["state", "target_url", "description", "context"].contains(&k.as_str()))
                        {
                            s.refused.push(format!("status {b}"));
                            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"message": "Validation Failed"})));
                        }
                        s.statuses.insert((sha, ctx.to_owned()), (state.to_owned(), url.to_owned()));
                        (StatusCode::CREATED, axum::Json(json!({"id": 1, "state": state, "context": ctx, "description": desc, "target_url": url})))
                    }
                    ("POST", "pulls") => {
                        if b["title"].as_str().is_none() || b["head"].as_str().is_none() || b["base"].as_str().is_none() {
                            s.refused.push(format!("pull {b}"));
                            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"message": "Validation Failed"})));
                        }
                        s.pulls.push(b.clone());
                        let n = s.pulls.len();
                        (StatusCode::CREATED, axum::Json(json!({"number": n, "state": "open", "merged": false,
                            "html_url": format!("https://github.example/{owner}/gitops/pull/{n}")})))
                    }
                    ("GET", "pulls") => {
                        // `?state=open&head=owner:branch&base=main`, as ferry asks
                        // before opening one.
                        let q = uri.query().unwrap_or("");
                        if !q.starts_with("state=open&head=") || !q.contains("&base=") {
                            s.refused.push(format!("list query {q}"));
                            return (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"message": "Validation Failed"})));
                        }
                        let open: Vec<Value> = if s.pr_state == 0 {
                            s.pulls.iter().enumerate().map(|(i, p)| json!({"number": i + 1, "state": "open",
                                "html_url": format!("https://github.example/{owner}/gitops/pull/{}", i + 1),
                                "head": {"ref": p["head"]}, "base": {"ref": p["base"]}})).collect()
                        } else {
                            Vec::new()
                        };
                        (StatusCode::OK, axum::Json(Value::Array(open)))
                    }
                    ("GET", r) if r.starts_with("pulls/") => {
                        let n: usize = r.trim_start_matches("pulls/").parse().unwrap_or(0);
                        if n == 0 || n > s.pulls.len() {
                            return (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"})));
                        }
                        let merged = s.pr_state == 1;
                        (StatusCode::OK, axum::Json(json!({"number": n, "state": if s.pr_state == 0 { "open" } else { "closed" },
                            "merged": merged, "merge_commit_sha": if merged { json!(s.merge_commit) } else { Value::Null },
                            "html_url": format!("https://github.example/{owner}/gitops/pull/{n}")})))
                    }
                    _ => {
                        s.refused.push(format!("{method} {path}"));
                        (StatusCode::NOT_FOUND, axum::Json(json!({"message": "Not Found"})))
                    }
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

/// The fixture's flow with `qa` promoted through a pull request.
fn pr_flow(config: &Path) {
    let product = std::fs::read_to_string(config.join("product.yaml")).unwrap();
    let product = product.replace(
        "    - environment: qa\n      dependsOn: [dev]\n",
        "    - environment: qa\n      dependsOn: [dev]\n      policy:\n        action: pr\n",
    );
    assert!(product.contains("action: pr"));
    std::fs::write(config.join("product.yaml"), product).unwrap();
}

fn forge_settings(f: &common::Fixture, api: &str) -> ferry_server::Settings {
    let mut s = common::settings(f);
    s.base_url = Some("https://ferry.example".into());
    let parent = f.root.path().parent().unwrap();
    s.forges = vec![ForgeEntry {
        kind: Some(ForgeKind::Github),
        repo_prefix: format!("{}/", parent.display()),
        api_url: Some(api.to_owned()),
        token: Some(Secret::new(GH_TOKEN)),
        webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        // Only a webhook can end the wait quickly: polling is hourly.
        poll_interval: Some(3600),
        ..ForgeEntry::default()
    }];
    s
}

fn owner(f: &common::Fixture) -> String {
    f.root
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

fn sign(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(ferry_forge::webhook::hmac_sha256(
            WEBHOOK_SECRET.as_bytes(),
            body
        ))
    )
}

async fn deliver(
    server: &common::TestServer,
    event: &str,
    id: &str,
    body: &Value,
    signature: Option<String>,
) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    let r = server
        .http
        .post(server.url("/api/v1/webhooks/github"))
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("user-agent", "GitHub-Hookshot/e2e")
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            signature.unwrap_or_else(|| sign(&bytes)),
        )
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Commits `image` as the dev image in the bare repository; returns the commit.
fn commit_dev(f: &common::Fixture, tag: &str) -> String {
    let work = f.root.path().join(format!("dev-{tag}"));
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let values = work.join("envs/dev/values.yaml");
    let text = std::fs::read_to_string(&values).unwrap();
    let text: String = text
        .lines()
        .map(|l| {
            if l.starts_with("image: ") {
                format!("image: registry.example/shop/api:{tag}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&values, text).unwrap();
    std::fs::write(
        work.join("envs/dev/version.yaml"),
        format!("version: {tag}\n"),
    )
    .unwrap();
    git(&work, &["commit", "-qam", &format!("dev: {tag}")]);
    git(&work, &["push", "-q", "origin", "main"]);
    git(&work, &["rev-parse", "HEAD"]).trim().to_owned()
}

fn push_payload(f: &common::Fixture, after: &str) -> Value {
    json!({"ref": "refs/heads/main", "before": "0".repeat(40), "after": after,
           "created": false, "deleted": false, "forced": false, "commits": [], "head_commit": null,
           "repository": {"full_name": format!("{}/gitops", owner(f)), "clone_url": f.bare.display().to_string()},
           "pusher": {"name": "dev"}, "sender": {}})
}

fn pr_payload(f: &common::Fixture, number: u64, merged: bool) -> Value {
    json!({"action": "closed", "number": number,
           "pull_request": {"number": number, "state": "closed", "merged": merged},
           "repository": {"full_name": format!("{}/gitops", owner(f)), "clone_url": f.bare.display().to_string()},
           "sender": {}})
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn releases(server: &common::TestServer) -> Vec<Value> {
    let (_, page) = server.get("/api/v1/products/p/releases").await;
    page["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_webhook_pr_promotion_and_merge_webhook() {
    let f = common::fixture();
    pr_flow(&f.config);
    let (api, gh) = fake_github(owner(&f)).await;
    let server = common::start(forge_settings(&f, &api)).await;

    // The first push is where the trigger poller starts watching from.
    let first = commit_dev(&f, "1.2.1");
    let (code, body) = deliver(&server, "push", "d-1", &push_payload(&f, &first), None).await;
    assert_eq!(code, 202, "{body}");
    let store = ferry_store::Store::open_sqlite_file(&f.data.join("ferry.db"))
        .await
        .unwrap();
    until("the trigger cursor", async || {
        store
            .cursor_get("trigger:p:api-dev")
            .await
            .unwrap()
            .filter(|c| c == &first)
    })
    .await;

    // A bad signature is refused and changes nothing.
    let second = commit_dev(&f, "1.3.0");
    let (code, body) = deliver(
        &server,
        "push",
        "d-2",
        &push_payload(&f, &second),
        Some("sha256=00".into()),
    )
    .await;
    assert_eq!(code, 401, "{body}");
    assert!(!body.to_string().contains(WEBHOOK_SECRET));
    // Malformed (but signed) → 400.
    let (code, _) = deliver(
        &server,
        "push",
        "d-3",
        &json!({"ref": "refs/heads/main"}),
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        releases(&server).await.is_empty(),
        "a refused delivery created a release"
    );

    // The signed push starts the release (polling is off in this server).
    let (code, body) = deliver(&server, "push", "d-4", &push_payload(&f, &second), None).await;
    assert_eq!(code, 202, "{body}");
    let id = until("the release of the push", async || {
        releases(&server)
            .await
            .first()
            .map(|r| r["id"].as_str().unwrap().to_owned())
    })
    .await;
    // The same delivery again changes nothing.
    let (code, body) = deliver(&server, "push", "d-4", &push_payload(&f, &second), None).await;
    assert_eq!((code, body["status"].as_str()), (200, Some("duplicate")));

    // qa waits SUSPENDED on its pull request.
    let release = until("the pull request", async || {
        let (_, r) = server.get(&format!("/api/v1/releases/{id}")).await;
        (r["status"] == "SUSPENDED").then_some(r)
    })
    .await;
    assert_eq!(release["trigger"]["sha"], second);
    let qa = release["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap()
        .clone();
    assert_eq!(qa["status"], "SUSPENDED");
    let app = &qa["applications"][0];
    assert_eq!(app["pullRequest"]["number"], 1);
    assert_eq!(
        app["pullRequest"]["url"],
        format!("https://github.example/{}/gitops/pull/1", owner(&f))
    );
    assert_eq!(app["pullRequest"]["branch"], "ferry/p/qa/1");
    let head = app["pullRequest"]["head"].as_str().unwrap().to_owned();
    {
        let s = gh.lock().unwrap();
        let pull = &s.pulls[0];
        assert_eq!(pull["head"], "ferry/p/qa/1");
        assert_eq!(pull["base"], "main");
        assert_eq!(pull["title"], "ferry: promote p 1.3.0 to qa");
        let body = pull["body"].as_str().unwrap();
        assert!(
            body.contains("/products/p/releases/1") && body.contains("```diff"),
            "{body}"
        );
        assert!(
            body.contains("-image: registry.example/shop/api:1.0.0")
                && body.contains("+image: registry.example/shop/api:1.3.0"),
            "{body}"
        );
        // The release notes follow (SPEC §7): the configuration commits
        // that led to the release.
        let notes = body
            .split_once("### Release notes")
            .map(|(_, n)| n)
            .unwrap_or_else(|| panic!("no release notes in {body}"));
        assert!(notes.contains("## Configuration changes"), "{body}");
    }
    // Statuses on the PR's head commit too, as soon as the PR is recorded.
    until("statuses on the PR head", async || {
        let s = gh.lock().unwrap();
        s.statuses
            .get(&(head.clone(), "ferry/p/qa".to_string()))
            .map(|_| ())
    })
    .await;

    // Merge the branch as a person would, then tell ferry.
    let work = f.root.path().join("merge");
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    git(
        &work,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge pull request #1",
            "origin/ferry/p/qa/1",
        ],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    let merge = git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    {
        let mut s = gh.lock().unwrap();
        s.pr_state = 1;
        s.merge_commit = Some(merge.clone());
    }
    let (code, body) = deliver(
        &server,
        "pull_request",
        "d-5",
        &pr_payload(&f, 1, true),
        None,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["pullRequestWaitsWoken"], 1, "{body}");
    let done = server.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    let qa = done["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap()
        .clone();
    assert_eq!(qa["applications"][0]["promotionCommit"], merge);

    // Every context of both commits ends in its final state, linked to the release view.
    let base = "https://ferry.example";
    until("final statuses", async || {
        let s = gh.lock().unwrap();
        let ok = [second.as_str(), head.as_str()].iter().all(|sha| {
            ["ferry/p", "ferry/p/qa", "ferry/p/prod"].iter().all(|c| {
                s.statuses
                    .get(&(sha.to_string(), c.to_string()))
                    .is_some_and(|(st, _)| st == "success")
            })
        });
        ok.then_some(())
    })
    .await;
    {
        let s = gh.lock().unwrap();
        assert_eq!(
            s.statuses[&(second.clone(), "ferry/p/prod".to_string())].1,
            format!("{base}/products/p/releases/1#env-prod")
        );
        assert_eq!(
            s.statuses[&(second.clone(), "ferry/p".to_string())].1,
            format!("{base}/products/p/releases/1")
        );
        assert!(
            !s.statuses.keys().any(|(_, c)| c == "ferry/p/dev"),
            "the trigger environment has no status"
        );
        assert!(
            s.refused.is_empty(),
            "requests refused by the fake: {:?}",
            s.refused
        );
    }

    // /metrics counts the forge calls and the statuses delivered (at
    // least the six final ones above; the other test of this binary may
    // add its own, the counters being per process).
    let text = server.text("/metrics").await;
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} in\n{text}"))
    };
    assert!(
        value("ferry_forge_requests_total{forge=\"github\",method=\"POST\",status=\"201\"}") >= 6.0
    );
    assert!(value("ferry_forge_request_duration_seconds_count{forge=\"github\"}") >= 6.0);
    assert!(value("ferry_commit_statuses_total{outcome=\"delivered\"}") >= 6.0);
    assert!(value("ferry_git_commands_total") >= 1.0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_pull_request_without_merge_fails_the_release() {
    let f = common::fixture();
    let (api, gh) = fake_github(owner(&f)).await;
    let server = common::start(forge_settings(&f, &api)).await;
    // As if ferry had opened the pull request and stopped before recording
    // it: the promotion adopts it instead of opening a second one.
    gh.lock()
        .unwrap()
        .pulls
        .push(json!({"title": "earlier", "head": "ferry/p/qa/1", "base": "main"}));
    let (code, r) = server
        .post(
            "/api/v1/products/p/promotions",
            &json!({"targetEnvironment": "qa", "policy": {"action": "pr"}}),
        )
        .await;
    assert_eq!(code, 201, "{r}");
    let id = r["id"].as_str().unwrap().to_owned();
    until("the pull request", async || {
        let (_, r) = server.get(&format!("/api/v1/releases/{id}")).await;
        (r["status"] == "SUSPENDED").then_some(())
    })
    .await;
    assert_eq!(
        gh.lock().unwrap().pulls.len(),
        1,
        "a second pull request was opened"
    );
    let (_, r) = server.get(&format!("/api/v1/releases/{id}")).await;
    let qa = r["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap()
        .clone();
    assert_eq!(qa["applications"][0]["pullRequest"]["number"], 1);
    gh.lock().unwrap().pr_state = 2;
    // A delivery for another pull request number wakes nothing.
    let (_, body) = deliver(
        &server,
        "pull_request",
        "c-0",
        &pr_payload(&f, 99, false),
        None,
    )
    .await;
    assert_eq!(body["pullRequestWaitsWoken"], 0);
    let (code, body) = deliver(
        &server,
        "pull_request",
        "c-1",
        &pr_payload(&f, 1, false),
        None,
    )
    .await;
    assert_eq!(code, 202, "{body}");
    let done = server.wait_finished(&id).await;
    assert_eq!(done["status"], "FAILED", "{done:#}");
    let qa = done["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "qa")
        .unwrap()
        .clone();
    let issue = &qa["issues"][0];
    assert_eq!(issue["kind"], "forge", "{qa:#}");
    assert_eq!(
        issue["message"],
        "pull request #1 was closed without being merged"
    );
    assert_eq!(
        issue["link"],
        format!("https://github.example/{}/gitops/pull/1", owner(&f))
    );
    let _ = TOKEN;
    server.stop().await;
}

/// The configuration comes from a Git repository and is not polled: a
/// push webhook for that repository loads the pushed configuration at once
/// (SPEC §1), and one for another repository does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_to_the_configuration_repository_reloads_it() {
    let f = common::fixture();
    let (api, _gh) = fake_github(owner(&f)).await;
    let (cfg_bare, cfg_work) = common::config_repo(&f);
    let mut settings = forge_settings(&f, &api);
    settings.config = Some(cfg_bare.display().to_string());
    settings.config_branch = Some("main".into());
    settings.config_poll_interval = None;
    let server = common::start(settings).await;

    std::fs::write(
        cfg_work.join("extra.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: express}\nspec:\n  triggerEnvironment: mars\n  steps: []\n",
    )
    .unwrap();
    git(&cfg_work, &["add", "."]);
    git(&cfg_work, &["commit", "-q", "-m", "a flow from mars"]);
    git(&cfg_work, &["push", "-q", "origin", "HEAD:main"]);
    let head = git(&cfg_work, &["rev-parse", "HEAD"]).trim().to_owned();
    // The pushed configuration is invalid (no environment `mars`): once
    // loaded, it is reported and the last good one stays active.
    let seen = async || {
        let (_, status) = server.get("/api/v1/config/status").await;
        status["errors"].to_string().contains("mars")
    };
    // A push elsewhere (the GitOps repository) does not reload it.
    let (status, body) = deliver(&server, "push", "cfg-1", &push_payload(&f, &head), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["configurationChecked"], false, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!seen().await, "not reloaded by another repository's push");
    // The configuration repository's push does.
    let mut payload = push_payload(&f, &head);
    payload["repository"]["clone_url"] = json!(cfg_bare.display().to_string());
    payload["repository"]["full_name"] = json!(format!("{}/config", owner(&f)));
    let (status, body) = deliver(&server, "push", "cfg-2", &payload, None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["configurationChecked"], true, "{body}");
    until("the pushed configuration is loaded", async || {
        seen().await.then_some(())
    })
    .await;
    server.stop().await;
}

/// A GitLab group webhook sends every project's events: deliveries for 50
/// projects outside `repoPrefix` are verified and answered 200 with the
/// reason — never 4xx, after four of which GitLab disables the hook. A
/// delivery for the configured repository is acted on (202); a 2 MiB push
/// is read (the forges' maximum is 25 MB, not the API's 1 MiB); verified
/// deliveries are never rate limited, while a flood of wrong tokens is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_webhook_is_never_answered_4xx_for_other_projects() {
    let f = common::fixture();
    let mut s = common::settings(&f);
    let parent = f.root.path().parent().unwrap();
    s.forges = vec![ForgeEntry {
        kind: Some(ForgeKind::Gitlab),
        repo_prefix: format!("{}/", parent.display()),
        api_url: Some("http://127.0.0.1:9/api/v4".into()),
        token: Some(Secret::new("glpat")),
        webhook_secret: Some(Secret::new(WEBHOOK_SECRET)),
        ..ForgeEntry::default()
    }];
    let server = common::start(s).await;
    let send = async |token: &str, id: String, body: &Value| {
        let r = server
            .http
            .post(server.url("/api/v1/webhooks/gitlab"))
            .header("x-gitlab-event", "Push Hook")
            .header("x-gitlab-token", token)
            .header("x-gitlab-event-uuid", id)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        let code = r.status().as_u16();
        (code, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let push = |url: String, filler: usize| {
        json!({"object_kind": "push", "ref": "refs/heads/main", "after": "1".repeat(40),
               "project": {"git_http_url": url, "path_with_namespace": "elsewhere/x"},
               "commits": [], "total_commits_count": 0, "filler": "x".repeat(filler)})
    };
    for i in 0..50 {
        let (code, body) = send(
            WEBHOOK_SECRET,
            format!("other-{i}"),
            &push(
                format!("https://gitlab.example/elsewhere/project-{i}.git"),
                0,
            ),
        )
        .await;
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["status"], "ignored");
        assert!(
            body["ignored"][0]
                .as_str()
                .unwrap()
                .contains("outside every configured repoPrefix"),
            "{body}"
        );
    }
    // The configured repository, with a 2 MiB body.
    let ours = f.bare.display().to_string();
    let (code, body) = send(
        WEBHOOK_SECRET,
        "ours".into(),
        &push(ours.clone(), 2 * 1024 * 1024),
    )
    .await;
    assert_eq!(code, 202, "{body}");
    assert_eq!(body["triggersPolled"], true);
    // A replay is 200 with the reason.
    let (code, body) = send(WEBHOOK_SECRET, "ours".into(), &push(ours.clone(), 0)).await;
    assert_eq!(
        (code, body["status"].as_str()),
        (200, Some("duplicate")),
        "{body}"
    );
    // Larger than any forge sends: refused from its Content-Length — 413
    // after the body is read and thrown away (for at most 5 s; on a slow
    // machine the connection may be closed under the writing client
    // instead). The deliveries below show the server unharmed.
    let huge = serde_json::to_vec(&push(ours, 26 * 1024 * 1024)).unwrap();
    let r = server
        .http
        .post(server.url("/api/v1/webhooks/gitlab"))
        .header("x-gitlab-event", "Push Hook")
        .header("x-gitlab-token", WEBHOOK_SECRET)
        .header("x-gitlab-event-uuid", "huge")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    // 300 verified deliveries in a burst: none is limited (the limit is 120
    // failures per client in a burst).
    for i in 0..300 {
        let (code, body) = send(
            WEBHOOK_SECRET,
            format!("burst-{i}"),
            &push(format!("https://gitlab.example/elsewhere/p-{i}"), 0),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    // Wrong tokens: 401, then 429 once the client failed too often.
    let mut codes = Vec::new();
    for i in 0..200 {
        codes.push(
            send("wrong", format!("bad-{i}"), &push("x".into(), 0))
                .await
                .0,
        );
    }
    assert_eq!(codes[0], 401);
    assert!(codes.contains(&429), "{codes:?}");
    // And the forge's own deliveries still pass.
    let (code, _) = send(
        WEBHOOK_SECRET,
        "after-flood".into(),
        &push("https://gitlab.example/elsewhere/p".into(), 0),
    )
    .await;
    assert_eq!(code, 200);
    server.stop().await;
}
