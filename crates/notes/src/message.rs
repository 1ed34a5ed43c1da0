//! What a commit message says: its Conventional Commit header, whether it
//! breaks something, the pull request it came from and the issues it links.
//!
//! Pure text in, data out (no Git, no I/O), so it is property-tested on
//! arbitrary messages: a commit message is input from anyone who can push.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The Conventional Commit header `type(scope)!: description`, when the
/// subject has that shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conventional {
    /// Lower-cased (`Feat` and `feat` are one type).
    pub kind: String,
    pub scope: Option<String>,
    /// `!` before the colon.
    pub bang: bool,
    pub description: String,
}

/// An issue a commit links to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct IssueLink {
    /// As written: `#123`, `PROJ-123`, or the URL.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// How issue keys become links: the product's `issuePattern` /
/// `issueUrlTemplate` and the web address of the repository (for `#123`).
#[derive(Debug, Clone, Default)]
pub struct IssueRules {
    /// Keys such as `PROJ-123`. Only matched when configured: a default
    /// pattern like `[A-Z]+-\d+` would turn `UTF-8` into an issue.
    pub key_pattern: Option<Regex>,
    /// `{key}` is replaced by the matched key.
    pub url_template: Option<String>,
    /// Web address of the repository the commits come from, for `#123`
    /// links (`https://github.com/acme/api`); `None` leaves them unlinked.
    pub repo_web_url: Option<String>,
}

/// Everything read from one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub conventional: Option<Conventional>,
    pub breaking: bool,
    pub pull_request: Option<u64>,
    pub issues: Vec<IssueLink>,
}

/// Longest type and scope accepted in a header; longer ones are prose.
const MAX_TYPE_LEN: usize = 32;
const MAX_SCOPE_LEN: usize = 64;

/// Parses the Conventional Commit header of `subject` (the first line).
pub fn conventional(subject: &str) -> Option<Conventional> {
    let subject = subject.trim_end();
    let colon = subject.find(": ")?;
    let head = &subject[..colon];
    let description = subject[colon + 2..].trim();
    if description.is_empty() {
        return None;
    }
    let (head, bang) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.find('(') {
        Some(open) => {
            let inner = head[open + 1..].strip_suffix(')')?;
            if inner.is_empty()
                || inner.len() > MAX_SCOPE_LEN
                || inner.contains(['(', ')'])
                || inner.trim() != inner
            {
                return None;
            }
            (&head[..open], Some(inner.to_owned()))
        }
        None => (head, None),
    };
    let valid_kind = !kind.is_empty()
        && kind.len() <= MAX_TYPE_LEN
        && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && kind.as_bytes()[0].is_ascii_alphabetic();
    if !valid_kind {
        return None;
    }
    Some(Conventional {
        kind: kind.to_ascii_lowercase(),
        scope,
        bang,
        description: description.to_owned(),
    })
}

/// A `BREAKING CHANGE:` / `BREAKING-CHANGE:` footer (Conventional Commits
/// 1.0 §12/§16: the token is upper case) at the start of a line after the
/// subject.
fn breaking_footer(body: &str) -> bool {
    body.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("BREAKING CHANGE:") || l.starts_with("BREAKING-CHANGE:")
    })
}

static SQUASH_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\(#([0-9]{1,9})\)\s*$").expect("static regex"));
/// GitHub: `Merge pull request #12 from owner/branch`; Gitea/Forgejo:
/// `Merge pull request 'title' (#12) from branch into main`; Bitbucket:
/// `Merged in branch (pull request #12)`.
static MERGE_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Merge pull request #([0-9]{1,9})\b|Merge pull request '.*' \(#([0-9]{1,9})\)|Merged in \S+ \(pull request #([0-9]{1,9})\))")
        .expect("static regex")
});
/// GitLab: `See merge request group/project!12` in the body of a merge.
static GITLAB_MERGE_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^See merge request \S*!([0-9]{1,9})\s*$").expect("static regex")
});
static HASH_ISSUE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w&/#!])#([0-9]{1,9})\b").expect("static regex"));
/// Issue pages of GitHub (`/issues/12`), GitLab (`/-/issues/12`),
/// Gitea/Forgejo (`/issues/12`), Bitbucket (`/issues/12`), Jira
/// (`/browse/PROJ-12`).
static ISSUE_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"https?://[^\s<>()\x22']+?/(?:issues/[0-9]{1,9}|browse/[A-Z][A-Z0-9_]*-[0-9]{1,9})\b",
    )
    .expect("static regex")
});

fn capture_number(re: &Regex, text: &str) -> Option<u64> {
    let caps = re.captures(text)?;
    caps.iter()
        .skip(1)
        .flatten()
        .next()
        .and_then(|m| m.as_str().parse().ok())
}

/// The pull request a commit came from: the number in a merge commit's
/// subject (or GitLab's `See merge request` line), else a squash-merge
/// `(#123)` at the end of the subject.
pub fn pull_request(subject: &str, body: &str) -> Option<u64> {
    capture_number(&MERGE_SUBJECT, subject)
        .or_else(|| capture_number(&GITLAB_MERGE_REQUEST, body))
        .or_else(|| capture_number(&SQUASH_SUFFIX, subject))
}

/// Parses a whole commit message.
pub fn parse(message: &str, rules: &IssueRules) -> Parsed {
    let (subject, body) = split(message);
    let conventional = conventional(subject);
    let breaking = conventional.as_ref().is_some_and(|c| c.bang) || breaking_footer(body);
    let pull_request = pull_request(subject, body);
    let issues = issues(message, pull_request, rules);
    Parsed {
        conventional,
        breaking,
        pull_request,
        issues,
    }
}

/// Subject (first line) and body (after the blank line), as git shows them.
pub fn split(message: &str) -> (&str, &str) {
    match message.split_once('\n') {
        Some((s, rest)) => (
            s.trim_end(),
            rest.trim_start_matches(['\r', '\n']).trim_end(),
        ),
        None => (message.trim_end(), ""),
    }
}

/// Linked issues in message order, each once: forge issue URLs, `#123`
/// (not the pull request's own number), and configured keys.
fn issues(message: &str, pull_request: Option<u64>, rules: &IssueRules) -> Vec<IssueLink> {
    let mut found: Vec<(usize, IssueLink)> = Vec::new();
    let mut url_spans = Vec::new();
    for m in ISSUE_URL.find_iter(message) {
        url_spans.push(m.range());
        found.push((
            m.start(),
            IssueLink {
                key: m.as_str().to_owned(),
                url: Some(m.as_str().to_owned()),
            },
        ));
    }
    let inside_url = |at: usize| url_spans.iter().any(|r| r.contains(&at));
    for caps in HASH_ISSUE.captures_iter(message) {
        let Some(num) = caps.get(1) else { continue };
        let Ok(n) = num.as_str().parse::<u64>() else {
            continue;
        };
        if Some(n) == pull_request || inside_url(num.start()) {
            continue;
        }
        let url = rules
            .repo_web_url
            .as_deref()
            .map(|base| issue_page(base, n));
        found.push((
            num.start() - 1,
            IssueLink {
                key: format!("#{n}"),
                url,
            },
        ));
    }
    if let Some(pattern) = &rules.key_pattern {
        for m in pattern.find_iter(message) {
            if m.as_str().is_empty() || inside_url(m.start()) {
                continue;
            }
            let url = rules
                .url_template
                .as_deref()
                .map(|t| t.replace("{key}", m.as_str()));
            found.push((
                m.start(),
                IssueLink {
                    key: m.as_str().to_owned(),
                    url,
                },
            ));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    let mut out: Vec<IssueLink> = Vec::new();
    for (_, link) in found {
        if !out.iter().any(|l| l.key == link.key) {
            out.push(link);
        }
    }
    out
}

/// The page of issue `n` of a repository: GitLab puts issues under `/-/`.
fn issue_page(base: &str, n: u64) -> String {
    let base = base.trim_end_matches('/');
    if base.contains("gitlab") {
        format!("{base}/-/issues/{n}")
    } else {
        format!("{base}/issues/{n}")
    }
}

/// The web address of a repository from its clone URL, when it is an
/// http(s) URL or a `git@host:owner/repo` one: credentials and `.git`
/// removed. Used only to link `#123`.
pub fn repo_web_url(clone_url: &str) -> Option<String> {
    let url = clone_url.trim();
    let (host_and_path, _) = if let Some(rest) = url.strip_prefix("https://") {
        (rest, "https")
    } else if let Some(rest) = url.strip_prefix("http://") {
        (rest, "http")
    } else if let Some(rest) = url.strip_prefix("git@") {
        let (host, path) = rest.split_once(':')?;
        let path = path.trim_end_matches('/');
        let path = path.strip_suffix(".git").unwrap_or(path);
        return Some(format!("https://{host}/{path}"));
    } else {
        return None;
    };
    let host_and_path = match host_and_path.split_once('@') {
        Some((creds, rest)) if !creds.contains('/') => rest,
        _ => host_and_path,
    };
    let trimmed = host_and_path.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    if !trimmed.contains('/') {
        return None;
    }
    let scheme = if url.starts_with("http://") {
        "http"
    } else {
        "https"
    };
    Some(format!("{scheme}://{trimmed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> IssueRules {
        IssueRules {
            key_pattern: Some(Regex::new(r"\bPROJ-[0-9]+\b").unwrap()),
            url_template: Some("https://jira.example.com/browse/{key}".into()),
            repo_web_url: Some("https://github.com/acme/api".into()),
        }
    }

    #[test]
    fn conventional_headers() {
        let c = conventional("feat(api)!: drop v1 endpoints").unwrap();
        assert_eq!(
            (c.kind.as_str(), c.scope.as_deref(), c.bang),
            ("feat", Some("api"), true)
        );
        assert_eq!(c.description, "drop v1 endpoints");
        let c = conventional("Fix: handle empty input").unwrap();
        assert_eq!((c.kind.as_str(), c.scope, c.bang), ("fix", None, false));
        assert_eq!(conventional("Update README"), None);
        assert_eq!(conventional("fix:no space"), None);
        assert_eq!(conventional("fix(): empty scope"), None);
        assert_eq!(conventional("see http://x: y"), None);
        assert_eq!(conventional("fix: "), None);
    }

    #[test]
    fn breaking_by_footer() {
        let p = parse(
            "refactor: new config\n\nBREAKING CHANGE: `port` is now `listen`",
            &rules(),
        );
        assert!(p.breaking);
        let p = parse("chore: x\n\nbreaking change: lower case is prose", &rules());
        assert!(!p.breaking);
    }

    #[test]
    fn pull_requests() {
        assert_eq!(
            pull_request("Merge pull request #42 from acme/feat-x", ""),
            Some(42)
        );
        assert_eq!(pull_request("feat: add x (#7)", ""), Some(7));
        assert_eq!(
            pull_request(
                "Merge branch 'feat' into 'main'",
                "Add x\n\nSee merge request acme/api!15"
            ),
            Some(15)
        );
        assert_eq!(
            pull_request("Merge pull request 'Add x' (#9) from feat into main", ""),
            Some(9)
        );
        assert_eq!(
            pull_request("Merged in feat-x (pull request #3)", ""),
            Some(3)
        );
        assert_eq!(pull_request("fix: issue #7 again", ""), None);
    }

    #[test]
    fn issue_links() {
        let p = parse(
            "fix(db): retry deadlocks (#51)\n\nFixes #12, relates to PROJ-7 and\nhttps://gitlab.example.com/g/p/-/issues/3\nalso https://github.com/acme/api/issues/12\nnot a ref: a#5 or &#39;",
            &rules(),
        );
        assert_eq!(p.pull_request, Some(51));
        let keys: Vec<_> = p.issues.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "#12",
                "PROJ-7",
                "https://gitlab.example.com/g/p/-/issues/3",
                "https://github.com/acme/api/issues/12"
            ]
        );
        assert_eq!(
            p.issues[0].url.as_deref(),
            Some("https://github.com/acme/api/issues/12")
        );
        assert_eq!(
            p.issues[1].url.as_deref(),
            Some("https://jira.example.com/browse/PROJ-7")
        );
    }

    #[test]
    fn keys_need_a_pattern() {
        let p = parse("fix: UTF-8 handling for PROJ-1", &IssueRules::default());
        assert!(p.issues.is_empty(), "{:?}", p.issues);
    }

    #[test]
    fn web_urls() {
        assert_eq!(
            repo_web_url("https://user:tok@github.com/acme/api.git").as_deref(),
            Some("https://github.com/acme/api")
        );
        assert_eq!(
            repo_web_url("git@gitlab.com:g/p.git").as_deref(),
            Some("https://gitlab.com/g/p")
        );
        assert_eq!(repo_web_url("/srv/git/api.git"), None);
        assert_eq!(
            issue_page("https://gitlab.com/g/p", 4),
            "https://gitlab.com/g/p/-/issues/4"
        );
    }
}
