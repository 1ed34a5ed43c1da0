//! Azure DevOps Git REST API 7.1: commit statuses (`GitStatus`) and pull
//! requests (`GitPullRequest`), bodies validated against Microsoft's
//! specification; answers shaped like its HTTP examples.

use serde_json::{Value, json};

use super::schema::{self, Body};
use super::{FakePull, FakeStatus, PrState, Req, Resp, State, is_sha};

/// Azure DevOps refuses longer pull-request descriptions.
const MAX_PR_DESCRIPTION: usize = 4000;

pub(super) fn handle(st: &mut State, req: &Req) -> Resp {
    // A personal access token goes as Basic with any (usually empty) user.
    let auth = req.header("authorization");
    let ok = auth
        .strip_prefix("Basic ")
        .and_then(super::bitbucket::decode_basic)
        .and_then(|pair| pair.split_once(':').map(|(_, t)| t == st.opts.token))
        .unwrap_or(false);
    if !ok {
        st.violation(format!("{} {}: unauthorized", req.method, req.raw_path));
        return Resp::json(
            401,
            json!({"message": "TF400813: The user is not authorized to access this resource."}),
        );
    }
    if req.q("api-version").is_none() {
        st.violation(format!("{} {}: no api-version", req.method, req.raw_path));
        return Resp::json(
            400,
            json!({"message": "No api-version was supplied for the \"POST\" request. The version must be supplied either as part of the Accept header (e.g. \"application/json; api-version=1.0\") or as a query parameter (e.g. \"?api-version=1.0\").",
                   "typeKey": "VssVersionNotSpecifiedException"}),
        );
    }
    let segs = req.segs();
    match (req.method.as_str(), &segs[..]) {
        (
            "POST",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "commits",
                sha,
                "statuses",
            ],
        ) => create_status(st, req, &key(project, repo), sha),
        (
            "POST",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "pullrequests",
            ],
        ) => create_pull(st, req, project, repo),
        (
            "GET",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "pullrequests",
            ],
        ) => {
            let k = key(project, repo);
            let status = req.q("searchCriteria.status").unwrap_or("active");
            let src = req.q("searchCriteria.sourceRefName");
            let dst = req.q("searchCriteria.targetRefName");
            let value: Vec<Value> = st
                .pulls
                .iter()
                .filter(|p| p.repo == k)
                .filter(|p| match status {
                    "active" => p.state == PrState::Open,
                    "completed" => p.state == PrState::Merged,
                    "abandoned" => p.state == PrState::Closed,
                    _ => true,
                })
                .filter(|p| src.is_none_or(|s| s == format!("refs/heads/{}", p.head)))
                .filter(|p| dst.is_none_or(|s| s == format!("refs/heads/{}", p.base)))
                .map(|p| pull_json(req, p, project, repo))
                .collect();
            Resp::json(200, json!({"value": value, "count": value.len()}))
        }
        (
            "GET",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "pullrequests",
                id,
            ],
        ) => {
            let k = key(project, repo);
            match st.pull(&k, id) {
                Some(p) => Resp::json(200, pull_json(req, p, project, repo)),
                None => Resp::json(
                    404,
                    json!({"message": format!("TF401180: The requested pull request was not found.")}),
                ),
            }
        }
        (
            "PATCH",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "pullrequests",
                id,
            ],
        ) => update_pull(st, req, project, repo, id),
        (
            "POST",
            [
                project,
                "_apis",
                "git",
                "repositories",
                repo,
                "pullRequests",
                id,
                "threads",
            ],
        ) => {
            let problems = schema::check(Body::AzureThread, &req.body);
            let content = req
                .body
                .pointer("/comments/0/content")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let Some(content) = content.filter(|_| problems.is_empty()) else {
                st.violation(format!("POST threads: {problems:?} (or no comment)"));
                return Resp::json(
                    400,
                    json!({"message": "Value cannot be null. Parameter name: comments"}),
                );
            };
            match st.pull_mut(&key(project, repo), id) {
                Some(p) => {
                    p.comments.push(content.clone());
                    // Shaped like Microsoft's example answer.
                    Resp::json(
                        200,
                        json!({"id": p.comments.len(), "status": "closed", "isDeleted": false,
                               "comments": [{"id": 1, "parentCommentId": 0, "content": content,
                                             "commentType": "text"}]}),
                    )
                }
                None => Resp::json(
                    404,
                    json!({"message": "TF401180: The requested pull request was not found."}),
                ),
            }
        }
        _ => {
            st.violation(format!("{} {}: no such route", req.method, req.raw_path));
            Resp::json(
                404,
                json!({"message": "The controller for path was not found."}),
            )
        }
    }
}

/// `PATCH pullrequests/{id}`: `status` `abandoned` closes, `active`
/// reactivates; a completed pull request cannot be changed (409).
fn update_pull(st: &mut State, req: &Req, project: &str, repo: &str, id: &str) -> Resp {
    let problems = schema::check(Body::AzurePull, &req.body);
    if !problems.is_empty() {
        st.violation(format!("PATCH pullrequests/{id}: {problems:?}"));
        return Resp::json(400, json!({"message": format!("{problems:?}")}));
    }
    let status = req
        .body
        .get("status")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(p) = st.pull_mut(&key(project, repo), id) else {
        return Resp::json(
            404,
            json!({"message": "TF401180: The requested pull request was not found."}),
        );
    };
    match (status.as_deref(), p.state) {
        (Some(_), PrState::Merged) => {
            return Resp::json(
                409,
                json!({"message": "TF401181: The pull request cannot be edited due to its state."}),
            );
        }
        (Some("abandoned"), _) => p.state = PrState::Closed,
        (Some("active"), _) => p.state = PrState::Open,
        _ => {}
    }
    let p = p.clone();
    Resp::json(200, pull_json(req, &p, project, repo))
}

fn key(project: &str, repo: &str) -> String {
    format!("{project}/{repo}").to_lowercase()
}

fn create_status(st: &mut State, req: &Req, repo: &str, sha: &str) -> Resp {
    let problems = schema::check(Body::AzureStatus, &req.body);
    let b = &req.body;
    let state = b.get("state").and_then(Value::as_str).unwrap_or("");
    let name = b
        .pointer("/context/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let genre = b
        .pointer("/context/genre")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !problems.is_empty() || state.is_empty() || name.is_empty() {
        st.violation(format!(
            "POST statuses: {problems:?} state `{state}` context.name `{name}`"
        ));
        return Resp::json(
            400,
            json!({"message": "Invalid status: state and context.name are required", "errors": problems}),
        );
    }
    if !is_sha(sha) {
        return Resp::json(
            404,
            json!({"message": format!("TF401175: The commit {sha} was not found.")}),
        );
    }
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let status = FakeStatus {
        repo: repo.to_owned(),
        sha: sha.to_owned(),
        context: if genre.is_empty() {
            name.to_owned()
        } else {
            format!("{genre}/{name}")
        },
        state: state.to_owned(),
        description: s("description"),
        target_url: s("targetUrl"),
        key: None,
    };
    st.statuses.push(status);
    let mut answer = b.clone();
    answer["id"] = json!(st.statuses.len());
    answer["creationDate"] = json!("2026-01-01T00:00:00Z");
    Resp::json(201, answer)
}

fn pull_json(req: &Req, p: &FakePull, project: &str, repo: &str) -> Value {
    let remote = format!(
        "{}/{}/_git/{}",
        req.api_url,
        super::encode(project),
        super::encode(repo)
    );
    json!({
        "pullRequestId": p.number,
        "codeReviewId": p.number,
        "status": match p.state { PrState::Open => "active", PrState::Merged => "completed", PrState::Closed => "abandoned" },
        "title": p.title,
        "sourceRefName": format!("refs/heads/{}", p.head),
        "targetRefName": format!("refs/heads/{}", p.base),
        "mergeStatus": if p.state == PrState::Merged { "succeeded" } else { "queued" },
        "lastMergeCommit": p.merge_commit.as_ref().map(|c| json!({"commitId": c})),
        "repository": {"name": repo, "project": {"name": project}, "remoteUrl": remote},
    })
}

fn create_pull(st: &mut State, req: &Req, project: &str, repo: &str) -> Resp {
    let problems = schema::check(Body::AzurePull, &req.body);
    let b = &req.body;
    let s = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (src, dst) = (s("sourceRefName"), s("targetRefName"));
    if !problems.is_empty()
        || s("title").is_empty()
        || !src.starts_with("refs/heads/")
        || !dst.starts_with("refs/heads/")
    {
        st.violation(format!(
            "POST pullrequests: {problems:?} source `{src}` target `{dst}`"
        ));
        return Resp::json(
            400,
            json!({"message": "Invalid pull request", "errors": problems}),
        );
    }
    if s("description").chars().count() > MAX_PR_DESCRIPTION {
        st.violation(format!(
            "POST pullrequests: description of {} characters",
            s("description").chars().count()
        ));
        return Resp::json(
            400,
            json!({"message": "The pull request description is too long (limit 4000 characters)."}),
        );
    }
    let k = key(project, repo);
    let head = src.trim_start_matches("refs/heads/").to_owned();
    let base = dst.trim_start_matches("refs/heads/").to_owned();
    if st
        .pulls
        .iter()
        .any(|p| p.repo == k && p.head == head && p.base == base && p.state == PrState::Open)
    {
        return Resp::json(
            409,
            json!({"message": "TF401179: An active pull request for the source and target branch already exists.",
                   "typeKey": "GitPullRequestExistsException"}),
        );
    }
    let number = st.next_number(&k);
    let pr = FakePull {
        repo: k,
        number,
        head,
        base,
        title: s("title"),
        body: s("description"),
        state: PrState::Open,
        merge_commit: None,
        comments: Vec::new(),
    };
    let body = pull_json(req, &pr, project, repo);
    st.pulls.push(pr);
    Resp::json(201, body)
}
