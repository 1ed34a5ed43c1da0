//! Gitea / Forgejo API v1: statuses and pull requests.

use serde_json::{Value, json};

use super::schema::{self, Body};
use super::{FakePull, FakeStatus, PrState, Req, Resp, State, is_sha, page};

/// The states Gitea's `commitstatus` module knows (`warning` since 1.13;
/// `skipped` only in the newest releases, so not accepted here).
const STATES: [&str; 5] = ["pending", "success", "error", "failure", "warning"];

pub(super) fn handle(st: &mut State, req: &Req) -> Resp {
    let auth = req.header("authorization");
    let token = &st.opts.token;
    let scheme_ok = auth.split_once(' ').is_some_and(|(s, t)| {
        (s.eq_ignore_ascii_case("token") || s.eq_ignore_ascii_case("bearer")) && t == token
    });
    if !scheme_ok {
        st.violation(format!("{} {}: unauthorized", req.method, req.raw_path));
        return Resp::json(401, json!({"message": "token is required"}));
    }
    let segs = req.segs();
    match (req.method.as_str(), &segs[..]) {
        ("POST", ["repos", o, r, "statuses", sha]) => create_status(st, req, &repo(o, r), sha),
        ("POST", ["repos", o, r, "pulls"]) => create_pull(st, req, &repo(o, r)),
        ("GET", ["repos", o, r, "pulls"]) => list_pulls(st, req, &repo(o, r)),
        ("PATCH", ["repos", o, r, "pulls", n]) => {
            let repo = repo(o, r);
            let problems = schema::check(Body::GiteaPullEdit, &req.body);
            if !problems.is_empty() {
                st.violation(format!("PATCH pulls/{n}: {problems:?}"));
                return Resp::json(422, json!({"message": format!("{problems:?}")}));
            }
            let state = req
                .body
                .get("state")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let Some(p) = st.pull_mut(&repo, n) else {
                return Resp::json(404, json!({"message": "The target couldn't be found."}));
            };
            match (state.as_deref(), p.state) {
                (Some(_), PrState::Merged) => {
                    return Resp::json(
                        409,
                        json!({"message": "cannot change state of this pull request, it was already merged"}),
                    );
                }
                (Some("closed"), _) => p.state = PrState::Closed,
                (Some("open"), _) => p.state = PrState::Open,
                (Some(other), _) => {
                    let other = other.to_owned();
                    st.violation(format!("PATCH pulls/{n}: state `{other}`"));
                    return Resp::json(422, json!({"message": format!("unknown state `{other}`")}));
                }
                (None, _) => {}
            }
            let p = p.clone();
            Resp::json(201, pull_json(req, &p))
        }
        ("POST", ["repos", o, r, "issues", n, "comments"]) => {
            let repo = repo(o, r);
            let problems = schema::check(Body::GiteaIssueComment, &req.body);
            if !problems.is_empty() {
                st.violation(format!("POST issues/{n}/comments: {problems:?}"));
                return Resp::json(422, json!({"message": format!("{problems:?}")}));
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
                None => Resp::json(404, json!({"message": "The target couldn't be found."})),
            }
        }
        ("GET", ["repos", o, r, "pulls", n]) => {
            let repo = repo(o, r);
            match st.pull(&repo, n) {
                Some(p) => Resp::json(200, pull_json(req, p)),
                None => Resp::json(404, json!({"message": "The target couldn't be found."})),
            }
        }
        _ => {
            st.violation(format!("{} {}: no such route", req.method, req.raw_path));
            Resp::json(404, json!({"message": "not found"}))
        }
    }
}

fn repo(o: &str, r: &str) -> String {
    format!("{o}/{r}").to_lowercase()
}

fn create_status(st: &mut State, req: &Req, repo: &str, sha: &str) -> Resp {
    let problems = schema::check(Body::GiteaStatus, &req.body);
    let state = req
        .body
        .get("state")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if !problems.is_empty() || !STATES.contains(&state.as_str()) {
        st.violation(format!("POST statuses: {problems:?} state `{state}`"));
        return Resp::json(422, json!({"message": "invalid state", "errors": problems}));
    }
    if !is_sha(sha) {
        return Resp::json(404, json!({"message": "commit not found"}));
    }
    let s = |k: &str| {
        req.body
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let status = FakeStatus {
        repo: repo.to_owned(),
        sha: sha.to_owned(),
        context: s("context"),
        state,
        description: s("description"),
        target_url: s("target_url"),
        key: None,
    };
    let body = json!({"id": st.statuses.len() + 1, "status": status.state, "context": status.context,
                      "description": status.description, "target_url": status.target_url});
    st.statuses.push(status);
    Resp::json(201, body)
}

fn web(req: &Req) -> String {
    req.api_url.trim_end_matches("/api/v1").to_owned()
}

fn pull_json(req: &Req, p: &FakePull) -> Value {
    json!({
        "number": p.number,
        "state": if p.state == PrState::Open { "open" } else { "closed" },
        "merged": p.state == PrState::Merged,
        "merged_at": (p.state == PrState::Merged).then_some("2026-01-01T00:00:00Z"),
        "merge_commit_sha": p.merge_commit,
        "html_url": format!("{}/{}/pulls/{}", web(req), p.repo, p.number),
        "title": p.title,
        "head": {"ref": p.head, "label": p.head},
        "base": {"ref": p.base, "label": p.base},
    })
}

fn create_pull(st: &mut State, req: &Req, repo: &str) -> Resp {
    let problems = schema::check(Body::GiteaPull, &req.body);
    let s = |k: &str| {
        req.body
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    if !problems.is_empty() || s("head").is_empty() || s("base").is_empty() || s("title").is_empty()
    {
        st.violation(format!("POST pulls: {problems:?}"));
        return Resp::json(
            422,
            json!({"message": "[Head]: Required", "errors": problems}),
        );
    }
    if st.pulls.iter().any(|p| {
        p.repo == *repo && p.head == s("head") && p.base == s("base") && p.state == PrState::Open
    }) {
        return Resp::json(
            409,
            json!({"message": "pull request already exists for these targets"}),
        );
    }
    let number = st.next_number(repo);
    let pr = FakePull {
        repo: repo.to_owned(),
        number,
        head: s("head"),
        base: s("base"),
        title: s("title"),
        body: s("body"),
        state: PrState::Open,
        merge_commit: None,
        comments: Vec::new(),
    };
    let body = pull_json(req, &pr);
    st.pulls.push(pr);
    Resp::json(201, body)
}

fn list_pulls(st: &mut State, req: &Req, repo: &str) -> Resp {
    let state = req.q("state").unwrap_or("open");
    // Gitea's `[api] DEFAULT_PAGING_NUM` is 30 and `MAX_RESPONSE_ITEMS` 50.
    let limit = req
        .q("limit")
        .and_then(|p| p.parse().ok())
        .unwrap_or(30usize)
        .min(50);
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
        .map(|p| pull_json(req, p))
        .collect();
    let total = items.len();
    let link_base = format!("{}{}", req.api_url, req.raw_path);
    let (slice, link) = page(&items, pg, limit, &link_base, &req.query, "page");
    let mut r = Resp::json(200, Value::Array(slice)).header("x-total-count", total.to_string());
    if let Some(l) = link {
        r = r.header("link", l);
    }
    r
}
