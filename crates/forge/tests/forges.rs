//! Each forge client against an in-test server that checks every request
//! as the forge's REST API documents it (reference §1–4: method, path,
//! auth header, JSON field names and allowed values) and answers with the
//! documented response shape.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Answer, Recorded};
use ferry_forge::{
    Bitbucket, CommitStatus, Forge, ForgeError, GitHub, GitLab, Gitea, NewPullRequest,
    PullRequestState, Secret, StatusState,
};
use serde_json::{Value, json};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const TIMEOUT: Duration = Duration::from_secs(5);

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn status(state: StatusState, description: &str) -> CommitStatus {
    CommitStatus {
        state,
        context: "ferry/shop/staging".into(),
        description: description.into(),
        target_url: "https://ferry.example/products/shop/releases/4#env-staging".into(),
    }
}

fn pr() -> NewPullRequest {
    NewPullRequest {
        title: "Promote shop 1.2.3 to staging".into(),
        body: "release #4".into(),
        head: "ferry/shop/staging/4".into(),
        base: "main".into(),
    }
}

const ALL_STATES: [StatusState; 5] = [
    StatusState::Pending,
    StatusState::Running,
    StatusState::Success,
    StatusState::Failure,
    StatusState::Error,
];

/// Shared PR state the fake reports: 0 open, 1 merged, 2 closed.
type PrState = Arc<Mutex<u8>>;

// ---------------------------------------------------------------- GitHub

fn github_fake(rec: &Recorded, pr_state: &PrState) -> Answer {
    let unauthorized = rec.header("authorization") != Some("Bearer gh-token");
    if unauthorized {
        return Answer::json(401, json!({"message": "Bad credentials"}));
    }
    if rec.header("accept") != Some("application/vnd.github+json")
        || rec.header("x-github-api-version") != Some("2022-11-28")
        || rec.header("user-agent").is_none()
    {
        return Answer::json(400, json!({"message": "missing GitHub headers"}));
    }
    let b = &rec.body;
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", p) if p == format!("/api/v3/repos/acme/gitops/statuses/{SHA}") => {
            let state = b["state"].as_str().unwrap_or("");
            let desc = b["description"].as_str().unwrap_or("");
            if !keys(b).is_subset(&set(&["state", "target_url", "description", "context"]))
                || !["error", "failure", "pending", "success"].contains(&state)
            {
                return Answer::json(422, json!({"message": "Validation Failed"}));
            }
            if desc.chars().count() > 140 {
                return Answer::json(
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Status", "field": "description", "code": "custom", "message": "description is too long (maximum is 140 characters)"}]}),
                );
            }
            Answer::json(
                201,
                json!({"id": 1, "node_id": "S_1", "url": "u", "state": state, "description": desc,
                       "target_url": b["target_url"], "context": b["context"],
                       "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "creator": {}}),
            )
        }
        ("POST", "/api/v3/repos/acme/gitops/pulls") => {
            if !keys(b).is_subset(&set(&[
                "title",
                "head",
                "base",
                "body",
                "draft",
                "maintainer_can_modify",
            ])) || b["title"].as_str().is_none()
                || b["head"].as_str().is_none()
                || b["base"].as_str().is_none()
            {
                return Answer::json(422, json!({"message": "Validation Failed"}));
            }
            Answer::json(
                201,
                json!({"number": 7, "state": "open", "merged": false,
                       "html_url": "https://github.example/acme/gitops/pull/7",
                       "head": {"ref": b["head"], "sha": SHA}, "base": {"ref": b["base"]}}),
            )
        }
        ("GET", "/api/v3/repos/acme/gitops/pulls") => {
            if rec.query != "state=open&head=acme%3Aferry%2Fshop%2Fstaging%2F4&base=main" {
                return Answer::json(
                    422,
                    json!({"message": format!("unexpected query {}", rec.query)}),
                );
            }
            Answer::json(
                200,
                json!([{"number": 7, "state": "open", "html_url": "https://github.example/acme/gitops/pull/7",
                                      "head": {"ref": "ferry/shop/staging/4", "sha": SHA}, "base": {"ref": "main"}}]),
            )
        }
        ("GET", "/api/v3/repos/acme/gitops/pulls/7") => {
            let s = *pr_state.lock().unwrap();
            Answer::json(
                200,
                json!({"number": 7, "state": if s == 0 { "open" } else { "closed" },
                       "merged": s == 1, "merged_at": if s == 1 { json!("2026-01-01T00:00:00Z") } else { Value::Null },
                       "merge_commit_sha": if s == 1 { json!("feedface") } else { Value::Null },
                       "html_url": "https://github.example/acme/gitops/pull/7"}),
            )
        }
        _ => Answer::json(404, json!({"message": "Not Found"})),
    }
}

#[tokio::test]
async fn github_enterprise_requests_are_documented_shapes() {
    let pr_state: PrState = Arc::default();
    let s2 = Arc::clone(&pr_state);
    let fake = common::start(move |r| github_fake(r, &s2)).await;
    let gh = GitHub::new(
        &fake.url("/api/v3"),
        Secret::new("gh-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    for state in ALL_STATES {
        gh.set_commit_status("acme/gitops", SHA, &status(state, "staging: running"))
            .await
            .unwrap();
    }
    // Over-long descriptions are cut to 140 characters, not refused.
    gh.set_commit_status(
        "acme/gitops",
        SHA,
        &status(StatusState::Pending, &"x".repeat(300)),
    )
    .await
    .unwrap();
    let opened = gh.open_pull_request("acme/gitops", &pr()).await.unwrap();
    assert_eq!(opened.number, 7);
    assert_eq!(opened.url, "https://github.example/acme/gitops/pull/7");
    assert_eq!(
        gh.pull_request_state("acme/gitops", 7).await.unwrap(),
        PullRequestState::Open
    );
    let found = gh
        .find_open_pull_request("acme/gitops", "ferry/shop/staging/4", "main")
        .await
        .unwrap();
    assert_eq!(found, Some(opened.clone()));
    *pr_state.lock().unwrap() = 1;
    assert_eq!(
        gh.pull_request_state("acme/gitops", 7).await.unwrap(),
        PullRequestState::Merged {
            merge_commit: Some("feedface".into())
        }
    );
    *pr_state.lock().unwrap() = 2;
    assert_eq!(
        gh.pull_request_state("acme/gitops", 7).await.unwrap(),
        PullRequestState::Closed
    );

    let reqs = fake.requests();
    let states: Vec<&str> = reqs[..5]
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["pending", "pending", "success", "failure", "error"]
    );
    assert_eq!(reqs[0].body["context"], "ferry/shop/staging");
    assert_eq!(
        reqs[0].body["target_url"],
        "https://ferry.example/products/shop/releases/4#env-staging"
    );
    assert_eq!(
        reqs[5].body["description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        140
    );
    assert_eq!(
        reqs[6].body,
        json!({"title": "Promote shop 1.2.3 to staging", "head": "ferry/shop/staging/4", "base": "main", "body": "release #4"})
    );

    // A wrong token is a 401 error naming the call, never the token.
    let bad = GitHub::new(
        &fake.url("/api/v3"),
        Secret::new("nope-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    let e = bad
        .set_commit_status("acme/gitops", SHA, &status(StatusState::Success, "ok"))
        .await
        .unwrap_err();
    assert!(matches!(e, ForgeError::Status { status: 401, .. }), "{e}");
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("nope-token"), "{e}");
}

// ---------------------------------------------------------------- GitLab

fn gitlab_fake(rec: &Recorded, pr_state: &PrState, last: &Mutex<Option<String>>) -> Answer {
    if rec.header("private-token") != Some("gl-token") {
        return Answer::json(401, json!({"message": "401 Unauthorized"}));
    }
    let b = &rec.body;
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", p) if p == format!("/api/v4/projects/group%2Fsub%2Fgitops/statuses/{SHA}") => {
            let state = b["state"].as_str().unwrap_or("");
            if !keys(b).is_subset(&set(&[
                "state",
                "ref",
                "name",
                "context",
                "target_url",
                "description",
                "coverage",
                "pipeline_id",
            ])) || !["pending", "running", "success", "failed", "canceled"].contains(&state)
            {
                return Answer::json(400, json!({"message": "state does not have a valid value"}));
            }
            // GitLab's state machine: repeating a non-final state is refused.
            let mut last = last.lock().unwrap();
            if last.as_deref() == Some(state) && matches!(state, "pending" | "running") {
                return Answer::json(
                    400,
                    json!({"message": format!("Cannot transition status via :run from :{state} (Reason(s): Status cannot transition via \"run\")")}),
                );
            }
            *last = Some(state.to_owned());
            Answer::json(
                201,
                json!({"id": 1, "sha": SHA, "ref": "main", "status": state, "name": b["name"],
                                     "target_url": b["target_url"], "description": b["description"],
                                     "created_at": "2026-01-01T00:00:00Z", "allow_failure": false}),
            )
        }
        ("POST", "/api/v4/projects/group%2Fsub%2Fgitops/merge_requests") => {
            if !keys(b).is_subset(&set(&[
                "source_branch",
                "target_branch",
                "title",
                "description",
                "remove_source_branch",
                "squash",
                "labels",
            ])) || b["source_branch"].as_str().is_none()
                || b["target_branch"].as_str().is_none()
                || b["title"].as_str().is_none()
            {
                return Answer::json(400, json!({"message": "title is missing"}));
            }
            Answer::json(
                201,
                json!({"id": 900, "iid": 12, "state": "opened", "sha": SHA,
                                     "web_url": "https://gitlab.example/group/sub/gitops/-/merge_requests/12"}),
            )
        }
        ("GET", "/api/v4/projects/group%2Fsub%2Fgitops/merge_requests") => {
            if rec.query
                != "state=opened&source_branch=ferry%2Fshop%2Fstaging%2F4&target_branch=main"
            {
                return Answer::json(
                    400,
                    json!({"message": format!("unexpected query {}", rec.query)}),
                );
            }
            Answer::json(
                200,
                json!([{"iid": 12, "state": "opened", "source_branch": "ferry/shop/staging/4", "target_branch": "main",
                                      "web_url": "https://gitlab.example/group/sub/gitops/-/merge_requests/12"}]),
            )
        }
        ("GET", "/api/v4/projects/group%2Fsub%2Fgitops/merge_requests/12") => {
            let s = *pr_state.lock().unwrap();
            Answer::json(
                200,
                json!({"id": 900, "iid": 12,
                "state": (["opened", "merged", "closed"][s as usize]),
                "merge_commit_sha": if s == 1 { json!("cafe") } else { Value::Null },
                "squash_commit_sha": Value::Null, "sha": SHA,
                "web_url": "https://gitlab.example/group/sub/gitops/-/merge_requests/12"}),
            )
        }
        _ => Answer::json(404, json!({"message": "404 Not Found"})),
    }
}

#[tokio::test]
async fn gitlab_requests_are_documented_shapes() {
    let pr_state: PrState = Arc::default();
    let last: Arc<Mutex<Option<String>>> = Arc::default();
    let (s2, l2) = (Arc::clone(&pr_state), Arc::clone(&last));
    let fake = common::start(move |r| gitlab_fake(r, &s2, &l2)).await;
    let gl = GitLab::new(
        &fake.url("/api/v4"),
        Secret::new("gl-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    for state in ALL_STATES {
        gl.set_commit_status("group/sub/gitops", SHA, &status(state, "staging: running"))
            .await
            .unwrap();
    }
    // Repeating `running` is refused by GitLab's state machine: benign.
    gl.set_commit_status("group/sub/gitops", SHA, &status(StatusState::Running, "a"))
        .await
        .unwrap();
    gl.set_commit_status("group/sub/gitops", SHA, &status(StatusState::Running, "b"))
        .await
        .unwrap();
    let opened = gl
        .open_pull_request("group/sub/gitops", &pr())
        .await
        .unwrap();
    assert_eq!(opened.number, 12, "merge requests are addressed by iid");
    assert_eq!(
        gl.pull_request_state("group/sub/gitops", 12).await.unwrap(),
        PullRequestState::Open
    );
    let found = gl
        .find_open_pull_request("group/sub/gitops", "ferry/shop/staging/4", "main")
        .await
        .unwrap();
    assert_eq!(found, Some(opened.clone()));
    *pr_state.lock().unwrap() = 1;
    assert_eq!(
        gl.pull_request_state("group/sub/gitops", 12).await.unwrap(),
        PullRequestState::Merged {
            merge_commit: Some("cafe".into())
        }
    );
    *pr_state.lock().unwrap() = 2;
    assert_eq!(
        gl.pull_request_state("group/sub/gitops", 12).await.unwrap(),
        PullRequestState::Closed
    );

    let reqs = fake.requests();
    let states: Vec<&str> = reqs[..5]
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["pending", "running", "success", "failed", "canceled"]
    );
    assert_eq!(reqs[0].body["name"], "ferry/shop/staging");
    assert_eq!(
        reqs[7].body,
        json!({"source_branch": "ferry/shop/staging/4", "target_branch": "main", "title": "Promote shop 1.2.3 to staging", "description": "release #4"})
    );
}

// ---------------------------------------------------------------- Gitea

fn gitea_fake(rec: &Recorded, pr_state: &PrState) -> Answer {
    if rec.header("authorization") != Some("token gt-token") {
        return Answer::json(401, json!({"message": "token is required"}));
    }
    let b = &rec.body;
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", p) if p == format!("/api/v1/repos/acme/gitops/statuses/{SHA}") => {
            let state = b["state"].as_str().unwrap_or("");
            if !keys(b).is_subset(&set(&["state", "target_url", "description", "context"]))
                || !["pending", "success", "error", "failure", "warning"].contains(&state)
            {
                return Answer::json(422, json!({"message": "invalid state"}));
            }
            Answer::json(
                201,
                json!({"id": 1, "status": state, "target_url": b["target_url"],
                                     "description": b["description"], "context": b["context"]}),
            )
        }
        ("POST", "/api/v1/repos/acme/gitops/pulls") => {
            if !keys(b).is_subset(&set(&[
                "head",
                "base",
                "title",
                "body",
                "assignee",
                "assignees",
                "labels",
                "milestone",
                "due_date",
            ])) || b["head"].as_str().is_none()
                || b["base"].as_str().is_none()
                || b["title"].as_str().is_none()
            {
                return Answer::json(422, json!({"message": "invalid"}));
            }
            Answer::json(
                201,
                json!({"number": 3, "state": "open", "merged": false,
                                     "html_url": "https://gitea.example/acme/gitops/pulls/3"}),
            )
        }
        ("GET", "/api/v1/repos/acme/gitops/pulls") => {
            // Documented query: state, page (from 1), limit (page size).
            let page = match rec.query.strip_prefix("state=open&limit=50&page=") {
                Some(p) => p.parse::<u64>().unwrap_or(0),
                None => return Answer::json(422, json!({"message": "unexpected query"})),
            };
            match page {
                // A full first page of other pull requests: the promotion's is on page 2.
                1 => Answer::json(
                    200,
                    Value::Array(
                        (100..150)
                            .map(|n| json!({"number": n, "state": "open", "html_url": format!("https://gitea.example/acme/gitops/pulls/{n}"), "head": {"ref": format!("feature-{n}")}, "base": {"ref": "main"}}))
                            .collect(),
                    ),
                ),
                2 => Answer::json(
                    200,
                    json!([
                        {"number": 2, "state": "open", "html_url": "https://gitea.example/acme/gitops/pulls/2", "head": {"ref": "feature"}, "base": {"ref": "main"}},
                        {"number": 3, "state": "open", "html_url": "https://gitea.example/acme/gitops/pulls/3", "head": {"ref": "ferry/shop/staging/4"}, "base": {"ref": "main"}}
                    ]),
                ),
                _ => Answer::json(422, json!({"message": "page out of range"})),
            }
        }
        ("GET", "/api/v1/repos/acme/gitops/pulls/3") => {
            let s = *pr_state.lock().unwrap();
            Answer::json(
                200,
                json!({"number": 3, "state": if s == 0 { "open" } else { "closed" },
                "merged": s == 1, "merge_commit_sha": if s == 1 { json!("beef") } else { Value::Null },
                "html_url": "https://gitea.example/acme/gitops/pulls/3"}),
            )
        }
        _ => Answer::json(404, json!({"message": "not found"})),
    }
}

#[tokio::test]
async fn gitea_requests_are_documented_shapes() {
    let pr_state: PrState = Arc::default();
    let s2 = Arc::clone(&pr_state);
    let fake = common::start(move |r| gitea_fake(r, &s2)).await;
    let gt = Gitea::new(
        &fake.url("/api/v1"),
        Secret::new("gt-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    for state in ALL_STATES {
        gt.set_commit_status("acme/gitops", SHA, &status(state, "staging: running"))
            .await
            .unwrap();
    }
    let opened = gt.open_pull_request("acme/gitops", &pr()).await.unwrap();
    assert_eq!(opened.number, 3);
    assert_eq!(
        gt.pull_request_state("acme/gitops", 3).await.unwrap(),
        PullRequestState::Open
    );
    let found = gt
        .find_open_pull_request("acme/gitops", "ferry/shop/staging/4", "main")
        .await
        .unwrap();
    assert_eq!(found, Some(opened.clone()));
    assert_eq!(
        gt.find_open_pull_request("acme/gitops", "other", "main")
            .await
            .unwrap(),
        None
    );
    *pr_state.lock().unwrap() = 1;
    assert_eq!(
        gt.pull_request_state("acme/gitops", 3).await.unwrap(),
        PullRequestState::Merged {
            merge_commit: Some("beef".into())
        }
    );
    *pr_state.lock().unwrap() = 2;
    assert_eq!(
        gt.pull_request_state("acme/gitops", 3).await.unwrap(),
        PullRequestState::Closed
    );
    let reqs = fake.requests();
    let states: Vec<&str> = reqs[..5]
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["pending", "pending", "success", "failure", "error"]
    );
    assert_eq!(
        reqs[5].body,
        json!({"head": "ferry/shop/staging/4", "base": "main", "title": "Promote shop 1.2.3 to staging", "body": "release #4"})
    );
}

// ---------------------------------------------------------------- Bitbucket

fn bitbucket_fake(rec: &Recorded, pr_state: &PrState) -> Answer {
    let auth = rec.header("authorization");
    if auth != Some("Bearer bb-token") && auth != Some("Basic Ym90OmJiLXRva2Vu") {
        return Answer::json(
            401,
            json!({"type": "error", "error": {"message": "Unauthorized"}}),
        );
    }
    let b = &rec.body;
    match (rec.method.as_str(), rec.path.as_str()) {
        ("POST", p)
            if p == format!("/2.0/repositories/acme/gitops/commit/{SHA}/statuses/build") =>
        {
            let state = b["state"].as_str().unwrap_or("");
            if !keys(b).is_subset(&set(&[
                "key",
                "state",
                "url",
                "name",
                "description",
                "refname",
            ])) || b["key"].as_str().is_none()
                || b["url"].as_str().is_none()
                || !["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"].contains(&state)
            {
                return Answer::json(
                    400,
                    json!({"type": "error", "error": {"message": "Bad request"}}),
                );
            }
            Answer::json(
                201,
                json!({"type": "build", "key": b["key"], "state": state, "url": b["url"],
                                     "name": b["name"], "description": b["description"], "uuid": "{1}",
                                     "created_on": "2026-01-01T00:00:00Z", "updated_on": "2026-01-01T00:00:00Z", "links": {}}),
            )
        }
        ("POST", "/2.0/repositories/acme/gitops/pullrequests") => {
            if b["title"].as_str().is_none() || b["source"]["branch"]["name"].as_str().is_none() {
                return Answer::json(
                    400,
                    json!({"type": "error", "error": {"message": "title required"}}),
                );
            }
            Answer::json(
                201,
                json!({"id": 21, "state": "OPEN",
                "links": {"html": {"href": "https://bitbucket.org/acme/gitops/pull-requests/21"}}}),
            )
        }
        ("GET", "/2.0/repositories/acme/gitops/pullrequests") => {
            if rec.query
                != "state=OPEN&q=source.branch.name%3D%22ferry%2Fshop%2Fstaging%2F4%22%20AND%20state%3D%22OPEN%22"
            {
                return Answer::json(
                    400,
                    json!({"type": "error", "error": {"message": format!("unexpected query {}", rec.query)}}),
                );
            }
            Answer::json(
                200,
                json!({"size": 1, "page": 1, "pagelen": 10, "values": [
                {"id": 21, "state": "OPEN", "source": {"branch": {"name": "ferry/shop/staging/4"}}, "destination": {"branch": {"name": "main"}},
                 "links": {"html": {"href": "https://bitbucket.org/acme/gitops/pull-requests/21"}}}]}),
            )
        }
        ("GET", "/2.0/repositories/acme/gitops/pullrequests/21") => {
            let s = *pr_state.lock().unwrap();
            Answer::json(
                200,
                json!({"id": 21, "state": (["OPEN", "MERGED", "DECLINED"][s as usize]),
                "merge_commit": if s == 1 { json!({"hash": "d00d"}) } else { Value::Null },
                "links": {"html": {"href": "https://bitbucket.org/acme/gitops/pull-requests/21"}}}),
            )
        }
        _ => Answer::json(
            404,
            json!({"type": "error", "error": {"message": "Not found"}}),
        ),
    }
}

#[tokio::test]
async fn bitbucket_requests_are_documented_shapes() {
    let pr_state: PrState = Arc::default();
    let s2 = Arc::clone(&pr_state);
    let fake = common::start(move |r| bitbucket_fake(r, &s2)).await;
    let bb = Bitbucket::new(
        &fake.url("/2.0"),
        None,
        Secret::new("bb-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    for state in ALL_STATES {
        bb.set_commit_status("acme/gitops", SHA, &status(state, "staging: running"))
            .await
            .unwrap();
    }
    let opened = bb.open_pull_request("acme/gitops", &pr()).await.unwrap();
    assert_eq!(opened.number, 21);
    assert_eq!(
        opened.url,
        "https://bitbucket.org/acme/gitops/pull-requests/21"
    );
    assert_eq!(
        bb.pull_request_state("acme/gitops", 21).await.unwrap(),
        PullRequestState::Open
    );
    let found = bb
        .find_open_pull_request("acme/gitops", "ferry/shop/staging/4", "main")
        .await
        .unwrap();
    assert_eq!(found, Some(opened.clone()));
    *pr_state.lock().unwrap() = 1;
    assert_eq!(
        bb.pull_request_state("acme/gitops", 21).await.unwrap(),
        PullRequestState::Merged {
            merge_commit: Some("d00d".into())
        }
    );
    *pr_state.lock().unwrap() = 2;
    assert_eq!(
        bb.pull_request_state("acme/gitops", 21).await.unwrap(),
        PullRequestState::Closed
    );
    let reqs = fake.requests();
    let states: Vec<&str> = reqs[..5]
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        [
            "INPROGRESS",
            "INPROGRESS",
            "SUCCESSFUL",
            "FAILED",
            "STOPPED"
        ]
    );
    assert_eq!(reqs[0].body["key"], "ferry/shop/staging");
    assert_eq!(
        reqs[0].body["url"],
        "https://ferry.example/products/shop/releases/4#env-staging"
    );
    assert_eq!(
        reqs[5].body,
        json!({"title": "Promote shop 1.2.3 to staging", "description": "release #4",
               "source": {"branch": {"name": "ferry/shop/staging/4"}},
               "destination": {"branch": {"name": "main"}}, "close_source_branch": true})
    );
    // API tokens go as Basic username:token.
    let basic = Bitbucket::new(
        &fake.url("/2.0"),
        Some("bot".into()),
        Secret::new("bb-token"),
        Secret::default(),
        TIMEOUT,
    )
    .unwrap();
    basic
        .set_commit_status("acme/gitops", SHA, &status(StatusState::Success, "ok"))
        .await
        .unwrap();
}
