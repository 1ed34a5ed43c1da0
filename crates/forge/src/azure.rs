//! Azure DevOps Repos (Services at dev.azure.com, and Server), REST API
//! 7.1 as Microsoft's specification describes it
//! (`tests/data/schemas/azuredevops`).
//!
//! - `apiUrl` is the organisation (`https://dev.azure.com/ORG`) or, on
//!   Azure DevOps Server, the collection (`https://HOST/tfs/COLLECTION`);
//!   ferry names a repository `project/repo` and calls
//!   `{apiUrl}/{project}/_apis/git/repositories/{repo}/…?api-version=7.1`.
//! - Authentication: a personal access token as Basic with an empty user
//!   (`:PAT`), as Microsoft documents for PATs.
//! - Commit statuses are `GitStatus` objects whose context is
//!   `{genre, name}`: ferry's `ferry/<product>/<env>` becomes genre
//!   `ferry`, name `<product>/<env>`, shown as "ferry/<product>/<env>".
//!   Azure keeps every status posted; the newest per context is the one
//!   shown, so the last state wins as elsewhere.
//! - Pull requests are opened from `refs/heads/<head>` into
//!   `refs/heads/<base>`; `completed` is merged (its `lastMergeCommit` is
//!   what lands), `abandoned` is closed.
//! - Service hooks (Web Hooks consumer) authenticate with HTTP basic
//!   authentication: the password is the webhook secret.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client::{Client, encode_segment, header};
use crate::webhook::{self, Delivery, PullRequestAction, PullRequestEvent, WebhookEvent};
use crate::{
    CommitStatus, Forge, ForgeError, ForgeKind, NewPullRequest, OpenedPullRequest,
    PullRequestState, Secret, StatusState, WebhookError,
};

const API_VERSION: &str = "api-version=7.1";
/// Azure DevOps refuses longer pull-request descriptions.
pub const MAX_PR_DESCRIPTION: usize = 4000;

pub struct AzureDevOps {
    client: Client,
    username: Option<String>,
    token: Secret,
    webhook_secret: Secret,
}

impl AzureDevOps {
    pub fn new(
        api_url: &str,
        username: Option<String>,
        token: Secret,
        webhook_secret: Secret,
        timeout: Duration,
    ) -> Result<AzureDevOps, ForgeError> {
        Ok(AzureDevOps {
            client: Client::new(ForgeKind::AzureDevOps, api_url, timeout)?,
            username,
            token,
            webhook_secret,
        })
    }

    fn headers(&self) -> Result<reqwest::header::HeaderMap, ForgeError> {
        let pair = format!(
            "{}:{}",
            self.username.as_deref().unwrap_or(""),
            self.token.expose()
        );
        header(
            "authorization",
            &format!("Basic {}", crate::bitbucket::base64(pair.as_bytes())),
        )
    }
}

/// Azure's `GitStatusState` words.
pub(crate) fn state_word(s: StatusState) -> &'static str {
    match s {
        StatusState::Pending | StatusState::Running | StatusState::Waiting => "pending",
        StatusState::Success => "succeeded",
        StatusState::Failure => "failed",
        StatusState::Error => "error",
    }
}

/// `ferry/<product>/<env>` → genre `ferry`, name `<product>/<env>`.
pub(crate) fn context(ctx: &str) -> (String, String) {
    match ctx.split_once('/') {
        Some((genre, name)) if !genre.is_empty() && !name.is_empty() => {
            (genre.to_owned(), name.to_owned())
        }
        _ => ("ferry".to_owned(), ctx.to_owned()),
    }
}

/// The body of `POST …/commits/{sha}/statuses`.
pub(crate) fn status_body(status: &CommitStatus) -> Value {
    let (genre, name) = context(&status.context);
    json!({
        "state": state_word(status.state),
        "description": crate::truncate_chars(&status.description, crate::MAX_DESCRIPTION),
        "targetUrl": status.target_url,
        "context": {"genre": genre, "name": name},
    })
}

/// `project/repo` split and encoded for a path.
fn project_repo(repo: &str) -> Result<(String, String), ForgeError> {
    match repo.split_once('/') {
        Some((p, r)) if !p.is_empty() && !r.is_empty() && !r.contains('/') => {
            Ok((encode_segment(p), encode_segment(r)))
        }
        _ => Err(ForgeError::Repository {
            repo: repo.to_owned(),
            message: "expected `project/repository`".into(),
        }),
    }
}

fn branch_ref(b: &str) -> String {
    if b.starts_with("refs/") {
        b.to_owned()
    } else {
        format!("refs/heads/{b}")
    }
}

/// A pull request's web page: the repository's web URL (or its remote
/// URL without credentials) and `/pullrequest/{id}`.
fn pr_url(pr: &Value, id: u64) -> Option<String> {
    let repo = pr.get("repository")?;
    let base = repo
        .get("webUrl")
        .or_else(|| repo.get("remoteUrl"))
        .and_then(Value::as_str)?;
    let base = match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}/{path}")
        }
        None => base.to_owned(),
    };
    Some(format!("{}/pullrequest/{id}", base.trim_end_matches('/')))
}

fn opened(v: &Value, call: &str) -> Result<OpenedPullRequest, ForgeError> {
    let id = v.get("pullRequestId").and_then(Value::as_u64);
    match id.and_then(|id| Some((id, pr_url(v, id)?))) {
        Some((number, url)) => Ok(OpenedPullRequest { number, url }),
        None => Err(ForgeError::Decode {
            forge: ForgeKind::AzureDevOps,
            call: call.to_owned(),
            message: "the answer has no `pullRequestId` and `repository.remoteUrl`".into(),
        }),
    }
}

#[async_trait]
impl Forge for AzureDevOps {
    fn kind(&self) -> ForgeKind {
        ForgeKind::AzureDevOps
    }

    async fn set_commit_status(
        &self,
        repo: &str,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), ForgeError> {
        let (p, r) = project_repo(repo)?;
        let body = status_body(status);
        self.client
            .send(
                Method::POST,
                &format!("/{p}/_apis/git/repositories/{r}/commits/{sha}/statuses?{API_VERSION}"),
                self.headers()?,
                Some(&body),
            )
            .await?;
        Ok(())
    }

    async fn open_pull_request(
        &self,
        repo: &str,
        pr: &NewPullRequest,
    ) -> Result<OpenedPullRequest, ForgeError> {
        let (p, r) = project_repo(repo)?;
        let body = json!({
            "sourceRefName": branch_ref(&pr.head),
            "targetRefName": branch_ref(&pr.base),
            "title": pr.title,
            "description": crate::truncate_chars(&pr.body, MAX_PR_DESCRIPTION),
        });
        let path = format!("/{p}/_apis/git/repositories/{r}/pullrequests?{API_VERSION}");
        let answer = self
            .client
            .send(Method::POST, &path, self.headers()?, Some(&body))
            .await?;
        opened(&answer.body, &format!("POST {path}"))
    }

    async fn find_open_pull_request(
        &self,
        repo: &str,
        head: &str,
        base: &str,
    ) -> Result<Option<OpenedPullRequest>, ForgeError> {
        let (p, r) = project_repo(repo)?;
        let (src, dst) = (branch_ref(head), branch_ref(base));
        let answer = self
            .client
            .send(
                Method::GET,
                &format!(
                    "/{p}/_apis/git/repositories/{r}/pullrequests?searchCriteria.sourceRefName={}\
                     &searchCriteria.targetRefName={}&searchCriteria.status=active&{API_VERSION}",
                    encode_segment(&src),
                    encode_segment(&dst)
                ),
                self.headers()?,
                None,
            )
            .await?;
        let values = answer.body.get("value").and_then(Value::as_array);
        Ok(values.and_then(|items| {
            items.iter().find_map(|pr| {
                (pr.get("sourceRefName")?.as_str()? == src
                    && pr.get("targetRefName")?.as_str()? == dst
                    && pr.get("status")?.as_str()? == "active")
                    .then_some(())?;
                let id = pr.get("pullRequestId")?.as_u64()?;
                Some(OpenedPullRequest {
                    number: id,
                    url: pr_url(pr, id)?,
                })
            })
        }))
    }

    async fn pull_request_state(
        &self,
        repo: &str,
        number: u64,
    ) -> Result<PullRequestState, ForgeError> {
        let (p, r) = project_repo(repo)?;
        let answer = self
            .client
            .send(
                Method::GET,
                &format!("/{p}/_apis/git/repositories/{r}/pullrequests/{number}?{API_VERSION}"),
                self.headers()?,
                None,
            )
            .await?;
        Ok(pr_state(&answer.body))
    }

    async fn comment_on_pull_request(
        &self,
        repo: &str,
        number: u64,
        body: &str,
    ) -> Result<(), ForgeError> {
        let (p, r) = project_repo(repo)?;
        // A thread of one comment; `closed` as it needs no answer.
        let thread = json!({
            "comments": [{ "parentCommentId": 0, "content": body, "commentType": "text" }],
            "status": "closed",
        });
        self.client
            .send(
                Method::POST,
                &format!(
                    "/{p}/_apis/git/repositories/{r}/pullRequests/{number}/threads?{API_VERSION}"
                ),
                self.headers()?,
                Some(&thread),
            )
            .await?;
        Ok(())
    }

    async fn close_pull_request(&self, repo: &str, number: u64) -> Result<(), ForgeError> {
        let (p, r) = project_repo(repo)?;
        self.client
            .send(
                Method::PATCH,
                &format!("/{p}/_apis/git/repositories/{r}/pullrequests/{number}?{API_VERSION}"),
                self.headers()?,
                Some(&json!({ "status": "abandoned" })),
            )
            .await?;
        Ok(())
    }

    fn verify(&self, headers: &http::HeaderMap, _body: &[u8]) -> Result<(), WebhookError> {
        verify_webhook(&self.webhook_secret, headers)
    }
}

/// `completed` is merged, `abandoned` closed, anything else open.
fn pr_state(v: &Value) -> PullRequestState {
    match v.get("status").and_then(Value::as_str) {
        Some("completed") => PullRequestState::Merged {
            merge_commit: v
                .get("lastMergeCommit")
                .and_then(|c| c.get("commitId"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        Some("abandoned") => PullRequestState::Closed,
        _ => PullRequestState::Open,
    }
}

/// Service hooks send `Authorization: Basic base64(user:password)`; the
/// password must be the webhook secret (the user name is not checked:
/// Azure DevOps shows it in the subscription, the password it hides).
pub(crate) fn verify_webhook(
    secret: &Secret,
    headers: &http::HeaderMap,
) -> Result<(), WebhookError> {
    if secret.expose().is_empty() {
        return Err(WebhookError::Unauthenticated(
            "no webhook secret is configured for this forge".into(),
        ));
    }
    let given = webhook::header(headers, "authorization").ok_or_else(|| {
        WebhookError::Unauthenticated("the Authorization header (basic) is missing".into())
    })?;
    let encoded = given
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, v)| v.trim())
        .ok_or_else(|| {
            WebhookError::Unauthenticated("the Authorization header is not basic".into())
        })?;
    let decoded = base64_decode(encoded).unwrap_or_default();
    let password = decoded
        .iter()
        .position(|b| *b == b':')
        .map_or(&[][..], |i| &decoded[i + 1..]);
    // Hash both sides so the comparison takes the same time whatever the lengths.
    let a = Sha256::digest(password);
    let b = Sha256::digest(secret.expose().as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(WebhookError::Unauthenticated(
            "the basic-auth password is not the configured secret".into(),
        ))
    }
}

/// The URLs a service-hook resource names its repository by, and the
/// canonical `https://dev.azure.com/{org}/{project}/_git/{repo}` built
/// from the organisation of the remote URL and the names in the payload.
fn repo_urls(resource: &Value) -> Vec<String> {
    let mut urls = webhook::urls_at(
        resource,
        &[
            "repository.remoteUrl",
            "repository.webUrl",
            "repository.sshUrl",
        ],
    );
    let org = urls.first().and_then(|u| organisation(u));
    let project = webhook::str_at(resource, "repository.project.name").ok();
    let name = webhook::str_at(resource, "repository.name").ok();
    if let (Some(org), Some(project), Some(name)) = (org, project, name) {
        let canonical = format!(
            "https://dev.azure.com/{org}/{}/_git/{}",
            encode_segment(project),
            encode_segment(name)
        );
        if !urls.contains(&canonical) {
            urls.push(canonical);
        }
    }
    urls
}

/// The organisation of an Azure DevOps Services URL.
fn organisation(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_ascii_lowercase();
    if host == "dev.azure.com" {
        path.split('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    } else {
        host.strip_suffix(".visualstudio.com")
            .filter(|o| !o.contains('.') && *o != "vs-ssh")
            .map(str::to_owned)
    }
}

pub(crate) fn parse_webhook(body: &[u8]) -> Result<Delivery, WebhookError> {
    let v = webhook::json(body)?;
    let event = webhook::str_at(&v, "eventType")?.to_owned();
    // The notification's id stays the same when Azure DevOps retries it.
    let id = match v.get("id").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => crate::truncate_chars(id, 200),
        _ => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    };
    let resource = v.get("resource").unwrap_or(&Value::Null);
    let mut events = Vec::new();
    match event.as_str() {
        "git.push" => {
            let urls = webhook::need_urls(repo_urls(resource))?;
            let updates = resource
                .get("refUpdates")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    WebhookError::Malformed("`resource.refUpdates` is missing".into())
                })?;
            for u in updates {
                let name = webhook::str_at(u, "name")?;
                let new = webhook::str_at(u, "newObjectId")?;
                events.push(webhook::push_event(urls.clone(), name, new));
            }
        }
        "git.pullrequest.created" | "git.pullrequest.updated" | "git.pullrequest.merged" => {
            let urls = webhook::need_urls(repo_urls(resource))?;
            let number = webhook::u64_at(resource, "pullRequestId")?;
            let status = webhook::str_at(resource, "status")?;
            // `git.pullrequest.merged` is "merge commit created": Azure
            // also sends it for the trial merge of an active pull request,
            // so only `completed` counts as merged.
            let action = match status {
                "completed" => PullRequestAction::Merged,
                "abandoned" => PullRequestAction::Closed,
                _ => PullRequestAction::Other,
            };
            events.push(WebhookEvent::PullRequest(PullRequestEvent {
                repo_urls: urls,
                number,
                action,
                raw_action: format!("{event} ({status})"),
            }));
        }
        other => events.push(WebhookEvent::Ignored {
            reason: format!("`{other}` events are not used"),
        }),
    }
    Ok(Delivery { id, event, events })
}

/// The default `apiUrl` of an entry: the organisation of a
/// `https://dev.azure.com/ORG/…` or `https://ORG.visualstudio.com/…` prefix.
pub(crate) fn default_api_url(repo_prefix: &str) -> Option<String> {
    let org = organisation(repo_prefix).or_else(|| {
        // git@ssh.dev.azure.com:v3/ORG/… and ORG@vs-ssh.visualstudio.com:v3/ORG/…
        let (_, path) = repo_prefix.split_once(":v3/")?;
        path.split('/')
            .next()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    })?;
    Some(format!("https://dev.azure.com/{org}"))
}

/// Azure's `project/repo` of `url`; `web_path` is the organisation or
/// collection path of the API URL (stripped from HTTPS paths).
pub(crate) fn repo_name(url: &str, web_path: &str) -> Option<String> {
    let segments = path_segments(url)?;
    let mut segs: Vec<String> = segments.iter().map(|s| percent_decode(s)).collect();
    if segs.first().map(String::as_str) == Some("v3") && segs.len() == 4 {
        return Some(format!("{}/{}", segs[2], segs[3]));
    }
    let wp: Vec<&str> = web_path.split('/').filter(|s| !s.is_empty()).collect();
    if !wp.is_empty()
        && segs.len() > wp.len()
        && segs.iter().zip(&wp).all(|(a, b)| a.eq_ignore_ascii_case(b))
    {
        segs.drain(..wp.len());
    }
    let git = segs.iter().position(|s| s == "_git")?;
    let repo = segs.get(git + 1)?.trim_end_matches(".git").to_owned();
    let before: Vec<&String> = segs[..git]
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("DefaultCollection"))
        .collect();
    let project = before.last().map_or(repo.clone(), |p| (*p).clone());
    Some(format!("{project}/{repo}"))
}

/// The canonical key of an Azure DevOps Services URL (see
/// [`crate::repo_key`]); `None` for other hosts.
pub(crate) fn canonical_key(host: &str, path: &str) -> Option<String> {
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode(s).to_lowercase())
        .collect();
    let (org, rest): (String, &[String]) = if host == "dev.azure.com" {
        (segs.first()?.clone(), &segs[1..])
    } else if host == "ssh.dev.azure.com" || host == "vs-ssh.visualstudio.com" {
        // v3/{org}/{project}/{repo}
        match &segs[..] {
            [v, org, project, repo] if v == "v3" => {
                return Some(format!("dev.azure.com/{org}/{project}/_git/{repo}"));
            }
            _ => return None,
        }
    } else if let Some(org) = host.strip_suffix(".visualstudio.com") {
        (org.to_owned(), &segs[..])
    } else {
        return None;
    };
    let git = rest.iter().position(|s| s == "_git")?;
    let repo = rest.get(git + 1)?;
    let before: Vec<&String> = rest[..git]
        .iter()
        .filter(|s| *s != "defaultcollection")
        .collect();
    let project = before.last().map_or(repo, |p| *p);
    Some(format!("dev.azure.com/{org}/{project}/_git/{repo}"))
}

/// The path segments of an HTTPS, SSH or scp-like URL (no host).
fn path_segments(url: &str) -> Option<Vec<String>> {
    let path = if let Some((_, rest)) = url.split_once("://") {
        let rest = rest.split(['?', '#']).next().unwrap_or(rest);
        rest.split_once('/').map_or("", |(_, p)| p).to_owned()
    } else {
        let (host, path) = url.split_once(':')?;
        if host.contains('/') {
            return None;
        }
        path.to_owned()
    };
    let path = path.trim_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    Some(
        path.split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    )
}

/// `%XX` sequences decoded (names with spaces are `My%20Project` in URLs).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Standard base64 decoding (the Basic header).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms_name_the_same_repository() {
        let k = "dev.azure.com/acme/my project/_git/app";
        for u in [
            "https://dev.azure.com/acme/My%20Project/_git/app",
            "https://acme@dev.azure.com/acme/My%20Project/_git/app",
            "https://acme.visualstudio.com/My%20Project/_git/app",
            "https://acme.visualstudio.com/DefaultCollection/My%20Project/_git/app",
            "git@ssh.dev.azure.com:v3/acme/My%20Project/app",
            "acme@vs-ssh.visualstudio.com:v3/acme/My%20Project/app",
        ] {
            assert_eq!(crate::repo_key(u), k, "{u}");
            assert_eq!(
                repo_name(u, "acme").as_deref(),
                Some("My Project/app"),
                "{u}"
            );
        }
        // Project named like the repository: `{org}/_git/{repo}`.
        assert_eq!(
            crate::repo_key("https://dev.azure.com/fabrikam/_git/Fabrikam"),
            "dev.azure.com/fabrikam/fabrikam/_git/fabrikam"
        );
        assert_eq!(
            crate::repo_key("https://dev.azure.com/fabrikam/DefaultCollection/_git/Fabrikam"),
            "dev.azure.com/fabrikam/fabrikam/_git/fabrikam"
        );
        // Azure DevOps Server: the collection path comes from apiUrl.
        assert_eq!(
            repo_name(
                "https://tfs.example/tfs/DefaultCollection/Shop/_git/gitops",
                "tfs/DefaultCollection"
            )
            .as_deref(),
            Some("Shop/gitops")
        );
        assert_eq!(
            default_api_url("https://dev.azure.com/acme/").as_deref(),
            Some("https://dev.azure.com/acme")
        );
        assert_eq!(
            default_api_url("https://acme.visualstudio.com/").as_deref(),
            Some("https://dev.azure.com/acme")
        );
        assert_eq!(
            default_api_url("git@ssh.dev.azure.com:v3/acme/").as_deref(),
            Some("https://dev.azure.com/acme")
        );
        assert_eq!(default_api_url("https://tfs.example/tfs/"), None);
    }

    #[test]
    fn statuses_and_pull_request_states() {
        let s = CommitStatus {
            state: StatusState::Waiting,
            context: "ferry/shop/qa".into(),
            description: "qa: waiting".into(),
            target_url: "https://ferry/x#env-qa".into(),
        };
        let b = status_body(&s);
        assert_eq!(b["state"], "pending");
        assert_eq!(b["context"]["genre"], "ferry");
        assert_eq!(b["context"]["name"], "shop/qa");
        assert_eq!(b["targetUrl"], "https://ferry/x#env-qa");
        assert_eq!(state_word(StatusState::Success), "succeeded");
        assert_eq!(state_word(StatusState::Error), "error");
        assert_eq!(
            pr_state(&json!({"status": "completed", "lastMergeCommit": {"commitId": "abc"}})),
            PullRequestState::Merged {
                merge_commit: Some("abc".into())
            }
        );
        assert_eq!(
            pr_state(&json!({"status": "abandoned"})),
            PullRequestState::Closed
        );
        assert_eq!(
            pr_state(&json!({"status": "active"})),
            PullRequestState::Open
        );
        let pr = json!({"pullRequestId": 22, "repository": {"remoteUrl": "https://fabrikam@dev.azure.com/fabrikam/_git/2016_10_31"}});
        assert_eq!(
            pr_url(&pr, 22).as_deref(),
            Some("https://dev.azure.com/fabrikam/_git/2016_10_31/pullrequest/22")
        );
    }

    #[test]
    fn basic_auth_password_is_the_secret() {
        let secret = Secret::new("s3cret");
        let mut h = http::HeaderMap::new();
        let basic = |pair: &str| format!("Basic {}", crate::bitbucket::base64(pair.as_bytes()));
        h.insert("authorization", basic("ferry:s3cret").parse().unwrap());
        assert!(verify_webhook(&secret, &h).is_ok());
        h.insert("authorization", basic(":s3cret").parse().unwrap());
        assert!(verify_webhook(&secret, &h).is_ok());
        h.insert("authorization", basic("ferry:wrong").parse().unwrap());
        assert!(verify_webhook(&secret, &h).is_err());
        h.insert("authorization", "Bearer s3cret".parse().unwrap());
        assert!(verify_webhook(&secret, &h).is_err());
        h.remove("authorization");
        assert!(verify_webhook(&secret, &h).is_err());
        assert!(verify_webhook(&Secret::default(), &h).is_err());
        for s in ["", "a", "ab", "abc", "user:pass", "ferry:s3cret"] {
            assert_eq!(
                base64_decode(&crate::bitbucket::base64(s.as_bytes())).unwrap(),
                s.as_bytes()
            );
        }
    }
}
