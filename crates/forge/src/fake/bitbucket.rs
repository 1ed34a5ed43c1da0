//! Bitbucket Cloud 2.0: build statuses (by `key`) and pull requests.
//!
//! Atlassian publishes no machine-readable schema in the material at hand;
//! the documented rules are enforced instead: `key`, `state` and `url` are
//! required, `key` is at most 40 characters (400 "Ensure this value has at
//! most 40 characters"), `state` is one of INPROGRESS, SUCCESSFUL, FAILED,
//! STOPPED; a status with the same key replaces the earlier one.

use serde_json::{Value, json};

use super::{FakePull, FakeStatus, PrState, Req, Resp, State, is_sha};

const MAX_KEY: usize = 40;
const STATES: [&str; 4] = ["INPROGRESS", "SUCCESSFUL", "FAILED", "STOPPED"];

pub(super) fn handle(st: &mut State, req: &Req) -> Resp {
    let auth = req.header("authorization");
    let ok = auth == format!("Bearer {}", st.opts.token)
        || (auth.starts_with("Basic ")
            && auth.len() > 6
            && decode_basic(&auth[6..]).is_some_and(|pair| {
                pair.split_once(':')
                    .is_some_and(|(_, t)| t == st.opts.token)
            }));
    if !ok {
        st.violation(format!("{} {}: unauthorized", req.method, req.raw_path));
        return Resp::json(
            401,
            json!({"type": "error", "error": {"message": "Unauthorized"}}),
        );
    }
    let segs = req.segs();
    match (req.method.as_str(), &segs[..]) {
        ("POST", ["repositories", w, s, "commit", sha, "statuses", "build"]) => {
            create_status(st, req, &format!("{w}/{s}").to_lowercase(), sha)
        }
        ("POST", ["repositories", w, s, "pullrequests"]) => {
            create_pull(st, req, &format!("{w}/{s}").to_lowercase())
        }
        ("GET", ["repositories", w, s, "pullrequests"]) => {
            list_pulls(st, req, &format!("{w}/{s}").to_lowercase())
        }
        ("POST", ["repositories", w, s, "pullrequests", id, "decline"]) => {
            let repo = format!("{w}/{s}").to_lowercase();
            let Some(p) = st.pull_mut(&repo, id) else {
                return Resp::json(
                    404,
                    json!({"type": "error", "error": {"message": "Not found"}}),
                );
            };
            if p.state != PrState::Open {
                return Resp::json(
                    400,
                    json!({"type": "error", "error": {"message": "You can't decline a pull request that is not open."}}),
                );
            }
            p.state = PrState::Closed;
            let p = p.clone();
            Resp::json(200, pull_json(req, &p))
        }
        ("POST", ["repositories", w, s, "pullrequests", id, "comments"]) => {
            let repo = format!("{w}/{s}").to_lowercase();
            let Some(raw) = req
                .body
                .pointer("/content/raw")
                .and_then(Value::as_str)
                .map(str::to_owned)
            else {
                st.violation(format!("POST pullrequests/{id}/comments: no content.raw"));
                return Resp::json(
                    400,
                    json!({"type": "error", "error": {"message": "Bad request", "fields": {"content": ["This field is required."]}}}),
                );
            };
            match st.pull_mut(&repo, id) {
                Some(p) => {
                    p.comments.push(raw.clone());
                    Resp::json(
                        201,
                        json!({"id": p.comments.len(), "type": "pullrequest_comment", "content": {"raw": raw}}),
                    )
                }
                None => Resp::json(
                    404,
                    json!({"type": "error", "error": {"message": "Not found"}}),
                ),
            }
        }
        ("GET", ["repositories", w, s, "pullrequests", id]) => {
            let repo = format!("{w}/{s}").to_lowercase();
            match st.pull(&repo, id) {
                Some(p) => Resp::json(200, pull_json(req, p)),
                None => Resp::json(
                    404,
                    json!({"type": "error", "error": {"message": "Not found"}}),
                ),
            }
        }
        _ => {
            st.violation(format!("{} {}: no such route", req.method, req.raw_path));
            Resp::json(
                404,
                json!({"type": "error", "error": {"message": "Resource not found"}}),
            )
        }
    }
}

fn bad_request(field: &str, message: String) -> Resp {
    Resp::json(
        400,
        json!({"type": "error", "error": {"message": "Bad request", "fields": {field: [message]}}}),
    )
}

fn create_status(st: &mut State, req: &Req, repo: &str, sha: &str) -> Resp {
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let key = s("key");
    for f in ["key", "state", "url"] {
        if s(f).is_empty() {
            st.violation(format!("POST statuses/build: `{f}` is required"));
            return bad_request(f, "This field is required.".into());
        }
    }
    if key.chars().count() > MAX_KEY {
        st.violation(format!(
            "POST statuses/build: key of {} characters",
            key.chars().count()
        ));
        return bad_request(
            "key",
            format!(
                "Ensure this value has at most {MAX_KEY} characters (it has {}).",
                key.chars().count()
            ),
        );
    }
    if !STATES.contains(&s("state").as_str()) {
        st.violation(format!("POST statuses/build: state `{}`", s("state")));
        return bad_request(
            "state",
            format!("\"{}\" is not a valid choice.", s("state")),
        );
    }
    if !is_sha(sha) {
        return Resp::json(
            404,
            json!({"type": "error", "error": {"message": "Commit not found"}}),
        );
    }
    let existed = st
        .statuses
        .iter()
        .any(|x| x.repo == repo && x.sha == sha && x.key.as_deref() == Some(key.as_str()));
    let status = FakeStatus {
        repo: repo.to_owned(),
        sha: sha.to_owned(),
        context: if s("name").is_empty() {
            key.clone()
        } else {
            s("name")
        },
        state: s("state"),
        description: s("description"),
        target_url: s("url"),
        key: Some(key.clone()),
    };
    let body = json!({"type": "build", "key": key, "state": status.state, "name": status.context,
                      "description": status.description, "url": status.target_url});
    st.statuses.push(status);
    Resp::json(if existed { 200 } else { 201 }, body)
}

fn pull_json(req: &Req, p: &FakePull) -> Value {
    json!({
        "type": "pullrequest",
        "id": p.number,
        "title": p.title,
        "state": match p.state { PrState::Open => "OPEN", PrState::Merged => "MERGED", PrState::Closed => "DECLINED" },
        "merge_commit": p.merge_commit.as_ref().map(|h| json!({"hash": h})),
        "source": {"branch": {"name": p.head}},
        "destination": {"branch": {"name": p.base}},
        "links": {"html": {"href": format!("{}/{}/pull-requests/{}",
            req.api_url.trim_end_matches("/2.0"), p.repo, p.number)}},
    })
}

fn create_pull(st: &mut State, req: &Req, repo: &str) -> Resp {
    let b = &req.body;
    let title = b.get("title").and_then(Value::as_str).unwrap_or("");
    let src = b
        .pointer("/source/branch/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if title.is_empty() || src.is_empty() {
        st.violation("POST pullrequests: title and source.branch.name are required".into());
        return bad_request("source", "This field is required.".into());
    }
    let dst = b
        .pointer("/destination/branch/name")
        .and_then(Value::as_str)
        .unwrap_or("main");
    let number = st.next_number(repo);
    let pr = FakePull {
        repo: repo.to_owned(),
        number,
        head: src.to_owned(),
        base: dst.to_owned(),
        title: title.to_owned(),
        body: b
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        state: PrState::Open,
        merge_commit: None,
        comments: Vec::new(),
    };
    let body = pull_json(req, &pr);
    st.pulls.push(pr);
    Resp::json(201, body)
}

fn list_pulls(st: &mut State, req: &Req, repo: &str) -> Resp {
    // `q=source.branch.name="X" AND state="OPEN"` (BBQL), the filter ferry sends.
    let q = req.q("q").unwrap_or("");
    let branch = q
        .split("source.branch.name=\"")
        .nth(1)
        .and_then(|r| r.split('"').next());
    let state = req.q("state").unwrap_or("OPEN");
    let pagelen = req
        .q("pagelen")
        .and_then(|p| p.parse().ok())
        .unwrap_or(10usize)
        .clamp(1, 50);
    let pg = req
        .q("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1usize)
        .max(1);
    let items: Vec<Value> = st
        .pulls
        .iter()
        .filter(|p| p.repo == repo)
        .filter(|p| match state {
            "OPEN" => p.state == PrState::Open,
            "MERGED" => p.state == PrState::Merged,
            "DECLINED" => p.state == PrState::Closed,
            _ => true,
        })
        .filter(|p| branch.is_none_or(|b| p.head == b))
        .map(|p| pull_json(req, p))
        .collect();
    let size = items.len();
    let values: Vec<Value> = items
        .into_iter()
        .skip((pg - 1) * pagelen)
        .take(pagelen)
        .collect();
    let mut body = json!({"size": size, "page": pg, "pagelen": pagelen, "values": values});
    if pg * pagelen < size {
        let mut q: Vec<String> = req
            .query
            .iter()
            .filter(|(k, _)| k.as_str() != "page")
            .map(|(k, v)| format!("{}={}", super::encode(k), super::encode(v)))
            .collect();
        q.sort();
        q.push(format!("page={}", pg + 1));
        body["next"] = json!(format!("{}{}?{}", req.api_url, req.raw_path, q.join("&")));
    }
    Resp::json(200, body)
}

pub(super) fn decode_basic(b64: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}
