//! GitLab REST v4: commit statuses with GitLab's state machine, merge
//! requests.
//!
//! The state machine is the one of `Ci::CreateCommitStatusService`: the
//! status of (project, sha, name) that is still `pending` or `running` is
//! reused and moved by an event — `pending` → `enqueue` (from created
//! only), `running` → `enqueue` then `run` (from pending), `success`,
//! `failed` → `drop`, `canceled` → `cancel` (from created, pending or
//! running); any other move answers 400 "Cannot transition status via
//! :<event> from :<state>". A status in a final state is not reused: the
//! next one starts from `created`.

use serde_json::{Value, json};

use super::{FakePull, FakeStatus, PrState, Req, Resp, State, is_sha, page};

const STATES: [&str; 5] = ["pending", "running", "success", "failed", "canceled"];

pub(super) fn handle(st: &mut State, req: &Req) -> Resp {
    let token = st.opts.token.clone();
    if req.header("private-token") != token
        && req.header("authorization") != format!("Bearer {token}")
    {
        st.violation(format!("{} {}: unauthorized", req.method, req.raw_path));
        return Resp::json(401, json!({"message": "401 Unauthorized"}));
    }
    let segs = req.segs();
    match (req.method.as_str(), &segs[..]) {
        ("POST", ["projects", id, "statuses", sha]) => {
            create_status(st, req, &id.to_lowercase(), sha)
        }
        ("POST", ["projects", id, "merge_requests"]) => create_mr(st, req, &id.to_lowercase()),
        ("GET", ["projects", id, "merge_requests"]) => list_mrs(st, req, &id.to_lowercase()),
        ("PUT", ["projects", id, "merge_requests", iid]) => {
            update_mr(st, req, &id.to_lowercase(), iid)
        }
        ("POST", ["projects", id, "merge_requests", iid, "notes"]) => {
            let repo = id.to_lowercase();
            let body = req
                .body
                .get("body")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            if body.trim().is_empty() {
                st.violation(format!("POST merge_requests/{iid}/notes: no body"));
                return Resp::json(400, json!({"error": "body is missing"}));
            }
            match st.pull_mut(&repo, iid) {
                Some(p) => {
                    p.comments.push(body.clone());
                    Resp::json(
                        201,
                        json!({"id": p.comments.len(), "body": body, "noteable_type": "MergeRequest"}),
                    )
                }
                None => Resp::json(404, json!({"message": "404 Not found"})),
            }
        }
        ("GET", ["projects", id, "merge_requests", iid]) => {
            let repo = id.to_lowercase();
            match st.pull(&repo, iid) {
                Some(p) => Resp::json(200, mr_json(req, p)),
                None => Resp::json(404, json!({"message": "404 Not found"})),
            }
        }
        _ => {
            st.violation(format!("{} {}: no such route", req.method, req.raw_path));
            Resp::json(404, json!({"error": "404 Not Found"}))
        }
    }
}

/// `PUT merge_requests/:iid`: `state_event` is `close` or `reopen`
/// (400 otherwise); a merged merge request keeps its state.
fn update_mr(st: &mut State, req: &Req, project: &str, iid: &str) -> Resp {
    let event = req
        .body
        .get("state_event")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(e) = &event
        && !matches!(e.as_str(), "close" | "reopen")
    {
        st.violation(format!("PUT merge_requests/{iid}: state_event `{e}`"));
        return Resp::json(
            400,
            json!({"error": "state_event does not have a valid value"}),
        );
    }
    let Some(p) = st.pull_mut(project, iid) else {
        return Resp::json(404, json!({"message": "404 Not found"}));
    };
    match (event.as_deref(), p.state) {
        (_, PrState::Merged) => {}
        (Some("close"), _) => p.state = PrState::Closed,
        (Some("reopen"), _) => p.state = PrState::Open,
        _ => {}
    }
    let p = p.clone();
    Resp::json(200, mr_json(req, &p))
}

/// The event a requested state fires, and the states it may fire from.
fn event(to: &str) -> (&'static str, &'static [&'static str]) {
    match to {
        "pending" => ("enqueue", &["created"]),
        "running" => ("run", &["created", "pending"]),
        "success" => ("success", &["created", "pending", "running"]),
        "failed" => ("drop", &["created", "pending", "running"]),
        _ => ("cancel", &["created", "pending", "running"]),
    }
}

fn create_status(st: &mut State, req: &Req, project: &str, sha: &str) -> Resp {
    if !project.contains('/') {
        st.violation(format!(
            "POST statuses: project `{project}` is not a full path"
        ));
        return Resp::json(404, json!({"message": "404 Project Not Found"}));
    }
    if !is_sha(sha) {
        return Resp::json(404, json!({"message": "404 Commit Not Found"}));
    }
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_owned);
    let Some(state) = s("state") else {
        st.violation("POST statuses: no state".into());
        return Resp::json(400, json!({"error": "state is missing"}));
    };
    if !STATES.contains(&state.as_str()) {
        st.violation(format!("POST statuses: state `{state}`"));
        return Resp::json(400, json!({"error": "state does not have a valid value"}));
    }
    for k in b
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if ![
            "state",
            "ref",
            "name",
            "context",
            "target_url",
            "description",
            "coverage",
            "pipeline_id",
        ]
        .contains(&k.as_str())
        {
            st.violation(format!("POST statuses: unknown parameter `{k}`"));
        }
    }
    let name = s("name")
        .or_else(|| s("context"))
        .unwrap_or_else(|| "default".into());
    let row_key = (project.to_owned(), sha.to_owned(), name.clone());
    let current = st
        .gitlab_rows
        .get(&row_key)
        .map(|i| (*i, st.statuses[*i].state.clone()));
    let from = current.as_ref().map_or("created", |(_, s)| s.as_str());
    let (ev, allowed) = event(&state);
    if !allowed.contains(&from) {
        st.refused_transitions += 1;
        return Resp::json(
            400,
            json!({"message": format!(
                "Cannot transition status via :{ev} from :{from} (Reason(s): Status cannot transition via \"{ev}\")"
            )}),
        );
    }
    let new = FakeStatus {
        repo: project.to_owned(),
        sha: sha.to_owned(),
        context: name,
        state: state.clone(),
        description: s("description").unwrap_or_default(),
        target_url: s("target_url").unwrap_or_default(),
        key: None,
    };
    let created = current.is_none();
    // The row keeps its identity while it is pending or running; the
    // history records each accepted change in order.
    st.statuses.push(new.clone());
    let idx = st.statuses.len() - 1;
    if matches!(state.as_str(), "pending" | "running") {
        st.gitlab_rows.insert(row_key, idx);
    } else {
        st.gitlab_rows.remove(&row_key);
    }
    Resp::json(
        if created { 201 } else { 200 },
        json!({"id": idx + 1, "sha": sha, "ref": "main", "status": state, "name": new.context,
               "target_url": new.target_url, "description": new.description,
               "allow_failure": false, "coverage": null}),
    )
}

fn web(req: &Req) -> String {
    req.api_url.trim_end_matches("/api/v4").to_owned()
}

fn mr_json(req: &Req, p: &FakePull) -> Value {
    json!({
        "iid": p.number,
        "state": match p.state { PrState::Open => "opened", PrState::Merged => "merged", PrState::Closed => "closed" },
        "merge_commit_sha": p.merge_commit,
        "squash_commit_sha": null,
        "source_branch": p.head,
        "target_branch": p.base,
        "title": p.title,
        "web_url": format!("{}/{}/-/merge_requests/{}", web(req), p.repo, p.number),
    })
}

fn create_mr(st: &mut State, req: &Req, project: &str) -> Resp {
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    for k in ["source_branch", "target_branch", "title"] {
        if s(k).is_empty() {
            st.violation(format!("POST merge_requests: {k} is missing"));
            return Resp::json(400, json!({"error": format!("{k} is missing")}));
        }
    }
    if let Some(p) = st
        .pulls
        .iter()
        .find(|p| p.repo == project && p.head == s("source_branch") && p.state == PrState::Open)
    {
        return Resp::json(
            409,
            json!({"message": [format!("Another open merge request already exists for this source branch: !{}", p.number)]}),
        );
    }
    let number = st.next_number(project);
    let pr = FakePull {
        repo: project.to_owned(),
        number,
        head: s("source_branch"),
        base: s("target_branch"),
        title: s("title"),
        body: s("description"),
        state: PrState::Open,
        merge_commit: None,
        comments: Vec::new(),
    };
    let body = mr_json(req, &pr);
    st.pulls.push(pr);
    Resp::json(201, body)
}

fn list_mrs(st: &mut State, req: &Req, project: &str) -> Resp {
    let state = req.q("state").unwrap_or("all");
    let per_page = req
        .q("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(20usize)
        .min(100);
    let pg = req.q("page").and_then(|p| p.parse().ok()).unwrap_or(1usize);
    let items: Vec<Value> = st
        .pulls
        .iter()
        .filter(|p| p.repo == project)
        .filter(|p| match state {
            "opened" => p.state == PrState::Open,
            "merged" => p.state == PrState::Merged,
            "closed" => p.state == PrState::Closed,
            _ => true,
        })
        .filter(|p| req.q("source_branch").is_none_or(|b| p.head == b))
        .filter(|p| req.q("target_branch").is_none_or(|b| p.base == b))
        .map(|p| mr_json(req, p))
        .collect();
    let total = items.len();
    let link_base = format!("{}{}", req.api_url, req.raw_path);
    let (slice, link) = page(&items, pg, per_page, &link_base, &req.query, "page");
    let mut r = Resp::json(200, Value::Array(slice))
        .header("x-total", total.to_string())
        .header("x-per-page", per_page.to_string())
        .header("x-page", pg.to_string());
    if pg * per_page < total {
        r = r.header("x-next-page", (pg + 1).to_string());
    }
    if let Some(l) = link {
        r = r.header("link", l);
    }
    r
}
