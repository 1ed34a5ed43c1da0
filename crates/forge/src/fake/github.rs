//! GitHub (and GHES, `/api/v3`): statuses and pull requests.

use serde_json::{Value, json};

use super::schema::{self, Body};
use super::{FakePull, FakeStatus, PrState, Req, Resp, State, is_sha, page};

/// GitHub refuses longer status descriptions (422 "description is too
/// long (maximum is 140 characters)", seen in many client logs).
const MAX_DESCRIPTION: usize = 140;
/// Statuses per commit and context (documented: "a limit of 1000").
const MAX_STATUSES: usize = 1000;

pub(super) fn handle(st: &mut State, req: &Req) -> Resp {
    let auth = req.header("authorization");
    let token = &st.opts.token;
    if auth != format!("Bearer {token}") && auth != format!("token {token}") {
        st.violation(format!("{} {}: bad credentials", req.method, req.raw_path));
        return Resp::json(401, json!({"message": "Bad credentials"}));
    }
    if req.header("user-agent").is_empty() {
        st.violation(format!("{} {}: no User-Agent", req.method, req.raw_path));
        return Resp::json(
            403,
            json!({"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"}),
        );
    }
    let segs = req.segs();
    match (req.method.as_str(), &segs[..]) {
        ("POST", ["repos", o, r, "statuses", sha]) => create_status(st, req, &repo(o, r), sha),
        ("GET", ["repos", o, r, "commits", sha, "statuses"]) => {
            let repo = repo(o, r);
            let list: Vec<Value> = st
                .statuses
                .iter()
                .rev()
                .filter(|s| s.repo == repo && s.sha == *sha)
                .map(status_json)
                .collect();
            Resp::json(200, Value::Array(list))
        }
        ("POST", ["repos", o, r, "pulls"]) => create_pull(st, req, &repo(o, r), o),
        ("GET", ["repos", o, r, "pulls"]) => list_pulls(st, req, &repo(o, r), o),
        ("PATCH", ["repos", o, r, "pulls", n]) => update_pull(st, req, &repo(o, r), n, o),
        ("POST", ["repos", o, r, "issues", n, "comments"]) => {
            let repo = repo(o, r);
            let problems = schema::check(Body::GithubIssueComment, &req.body);
            if !problems.is_empty() {
                st.violation(format!("POST issues/{n}/comments: {problems:?}"));
                return validation_failed(json!([{"resource": "IssueComment", "code": "invalid"}]));
            }
            let body = req
                .body
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            match st.pull_mut(&repo, n) {
                Some(p) => {
                    p.comments.push(body.clone());
                    Resp::json(201, json!({"id": p.comments.len(), "body": body}))
                }
                None => Resp::json(404, json!({"message": "Not Found"})),
            }
        }
        ("GET", ["repos", o, r, "pulls", n]) => {
            let repo = repo(o, r);
            match st.pull(&repo, n) {
                Some(p) => Resp::json(200, pull_json(req, p, o)),
                None => Resp::json(404, json!({"message": "Not Found"})),
            }
        }
        _ => {
            st.violation(format!("{} {}: no such route", req.method, req.raw_path));
            Resp::json(404, json!({"message": "Not Found"}))
        }
    }
}

fn repo(o: &str, r: &str) -> String {
    format!("{o}/{r}").to_lowercase()
}

fn validation_failed(errors: Value) -> Resp {
    Resp::json(
        422,
        json!({"message": "Validation Failed", "errors": errors,
               "documentation_url": "https://docs.github.com/rest"}),
    )
}

fn create_status(st: &mut State, req: &Req, repo: &str, sha: &str) -> Resp {
    let problems = schema::check(Body::GithubStatus, &req.body);
    if !problems.is_empty() {
        st.violation(format!("POST statuses: {problems:?}"));
        return validation_failed(json!([{"resource": "Status", "code": "invalid"}]));
    }
    if !is_sha(sha) {
        st.violation(format!("POST statuses/{sha}: not a commit SHA"));
        return Resp::json(
            422,
            json!({"message": format!("No commit found for SHA: {sha}")}),
        );
    }
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let description = s("description");
    if description.chars().count() > MAX_DESCRIPTION {
        st.violation(format!(
            "POST statuses: description of {} characters",
            description.chars().count()
        ));
        return validation_failed(json!([{"resource": "Status", "field": "description",
            "code": "custom", "message": "description is too long (maximum is 140 characters)"}]));
    }
    let context = b
        .get("context")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_owned();
    let same = st
        .statuses
        .iter()
        .filter(|x| x.repo == repo && x.sha == sha && x.context.eq_ignore_ascii_case(&context))
        .count();
    if same >= MAX_STATUSES {
        return validation_failed(json!([{"resource": "Status", "code": "custom",
            "message": "This SHA and context has reached the maximum number of statuses."}]));
    }
    let status = FakeStatus {
        repo: repo.to_owned(),
        sha: sha.to_owned(),
        context,
        state: s("state"),
        description,
        target_url: s("target_url"),
        key: None,
    };
    let body = status_json(&status);
    st.statuses.push(status);
    Resp::json(201, body)
}

fn status_json(s: &FakeStatus) -> Value {
    json!({"state": s.state, "description": s.description, "target_url": s.target_url,
           "context": s.context, "id": 1, "url": ""})
}

fn create_pull(st: &mut State, req: &Req, repo: &str, owner: &str) -> Resp {
    let problems = schema::check(Body::GithubPull, &req.body);
    if !problems.is_empty() {
        st.violation(format!("POST pulls: {problems:?}"));
        return validation_failed(json!([{"resource": "PullRequest", "code": "invalid"}]));
    }
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    if s("title").is_empty() && b.get("issue").is_none() {
        st.violation("POST pulls: no title".into());
        return validation_failed(
            json!([{"resource": "PullRequest", "field": "title", "code": "missing_field"}]),
        );
    }
    let head = s("head");
    let head = head
        .split_once(':')
        .map_or(head.clone(), |(_, b)| b.to_owned());
    let base = s("base");
    if st
        .pulls
        .iter()
        .any(|p| p.repo == repo && p.head == head && p.base == base && p.state == PrState::Open)
    {
        return validation_failed(json!([{"resource": "PullRequest", "code": "custom",
            "message": format!("A pull request already exists for {owner}:{head}.")}]));
    }
    let number = st.next_number(repo);
    let pr = FakePull {
        repo: repo.to_owned(),
        number,
        head,
        base,
        title: s("title"),
        body: s("body"),
        state: PrState::Open,
        merge_commit: None,
        comments: Vec::new(),
    };
    let body = pull_json(req, &pr, owner);
    st.pulls.push(pr);
    Resp::json(201, body)
}

/// `PATCH pulls/{n}`: only `state` is used by ferry; a merged pull
/// request cannot be closed or reopened (422).
fn update_pull(st: &mut State, req: &Req, repo: &str, n: &str, owner: &str) -> Resp {
    let problems = schema::check(Body::GithubPullUpdate, &req.body);
    if !problems.is_empty() {
        st.violation(format!("PATCH pulls/{n}: {problems:?}"));
        return validation_failed(json!([{"resource": "PullRequest", "code": "invalid"}]));
    }
    let state = req.body.get("state").and_then(Value::as_str);
    let Some(p) = st.pull_mut(repo, n) else {
        return Resp::json(404, json!({"message": "Not Found"}));
    };
    match (state, p.state) {
        (Some(_), PrState::Merged) => {
            return validation_failed(json!([{"resource": "PullRequest", "field": "state",
                "code": "custom", "message": "state cannot be changed. The pull request has been merged."}]));
        }
        (Some("closed"), _) => p.state = PrState::Closed,
        (Some("open"), _) => p.state = PrState::Open,
        _ => {}
    }
    let p = p.clone();
    Resp::json(200, pull_json(req, &p, owner))
}

fn pull_json(req: &Req, p: &FakePull, owner: &str) -> Value {
    let web = req.api_url.trim_end_matches("/api/v3").to_owned();
    json!({
        "number": p.number,
        "state": if p.state == PrState::Open { "open" } else { "closed" },
        "merged": p.state == PrState::Merged,
        "merged_at": (p.state == PrState::Merged).then_some("2026-01-01T00:00:00Z"),
        "merge_commit_sha": p.merge_commit,
        "html_url": format!("{web}/{}/pull/{}", p.repo, p.number),
        "title": p.title,
        "head": {"ref": p.head, "label": format!("{owner}:{}", p.head)},
        "base": {"ref": p.base},
    })
}

fn list_pulls(st: &mut State, req: &Req, repo: &str, owner: &str) -> Resp {
    let state = req.q("state").unwrap_or("open");
    let head = req
        .q("head")
        .map(|h| h.split_once(':').map_or(h, |(_, b)| b).to_owned());
    let base = req.q("base");
    let per_page = req
        .q("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .min(100);
    let pg = req.q("page").and_then(|p| p.parse().ok()).unwrap_or(1usize);
    let items: Vec<Value> = st
        .pulls
        .iter()
        .filter(|p| p.repo == repo)
        .filter(|p| match state {
            "open" => p.state == PrState::Open,
            "closed" => p.state != PrState::Open,
            _ => true,
        })
        .filter(|p| head.as_deref().is_none_or(|h| p.head == h))
        .filter(|p| base.is_none_or(|b| p.base == b))
        .map(|p| pull_json(req, p, owner))
        .collect();
    let link_base = format!("{}{}", req.api_url, req.raw_path);
    let (slice, link) = page(&items, pg, per_page, &link_base, &req.query, "page");
    let mut r = Resp::json(200, Value::Array(slice));
    if let Some(l) = link {
        r = r.header("link", l);
    }
    r
}
