//! Each forge client against its fake (`ferry_forge::fake`), which answers
//! as the forge does and checks every request against the vendor's own
//! material: bodies against the published schemas (GitHub's REST
//! description, Gitea's swagger, Microsoft's Azure DevOps specification),
//! the limits (GitHub's 140-character description, Bitbucket's
//! 40-character key, Azure's 4,000-character pull-request description),
//! GitLab's status state machine, paging with `Link` headers / `next`.
//!
//! Every forge is reached under a URL path prefix where it can be
//! installed so (GitHub Enterprise, GitLab, Gitea), and every repository
//! URL is written in another case than the forge's (names are
//! case-insensitive there).

use std::time::Duration;

use ferry_forge::fake::{FakeForge, Options};
use ferry_forge::{
    CommitStatus, ForgeEntry, ForgeError, ForgeKind, NewPullRequest, PullRequestState, Registry,
    Secret, StatusState,
};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const TOKEN: &str = "t0ken-never-printed";

fn status(state: StatusState, context: &str, description: &str) -> CommitStatus {
    CommitStatus {
        state,
        context: context.into(),
        description: description.into(),
        target_url: "https://ferry.example/products/shop/releases/4#env-staging".into(),
    }
}

/// A registry with one entry for `fake`, and the repository URL ferry
/// would be configured with (mixed case, under the forge's path).
fn setup(fake: &FakeForge, token: &str) -> (Registry, String) {
    let (prefix, url) = match fake.kind {
        ForgeKind::Github => (
            "https://ghe.example/ghe/",
            "https://ghe.example/ghe/Acme/GitOps.git",
        ),
        ForgeKind::Gitlab => (
            "https://gl.example/gitlab/",
            "https://gl.example/gitlab/Group/Sub/GitOps.git",
        ),
        ForgeKind::Gitea => (
            "https://code.example/git/",
            "https://code.example/git/Acme/GitOps",
        ),
        ForgeKind::Bitbucket => (
            "https://bitbucket.org/",
            "https://bitbucket.org/acme/gitops.git",
        ),
        ForgeKind::AzureDevOps => (
            "https://dev.azure.com/acme/",
            "https://dev.azure.com/acme/Shop/_git/GitOps",
        ),
    };
    let entry = ForgeEntry {
        kind: Some(fake.kind),
        repo_prefix: prefix.into(),
        api_url: Some(fake.api_url()),
        // The fake serves the API on 127.0.0.1; the web pages' path is the
        // one in the repository URLs.
        web_url: match fake.kind {
            ForgeKind::Github => Some("https://ghe.example/ghe".into()),
            ForgeKind::Gitlab => Some("https://gl.example/gitlab".into()),
            ForgeKind::Gitea => Some("https://code.example/git".into()),
            _ => None,
        },
        token: Some(Secret::new(token)),
        timeout: Some(5),
        ..ForgeEntry::default()
    };
    (
        Registry::from_entries(&[entry], |_| None).expect("registry"),
        url.to_owned(),
    )
}

fn prefix_of(kind: ForgeKind) -> &'static str {
    match kind {
        ForgeKind::Github => "ghe",
        ForgeKind::Gitlab => "gitlab",
        ForgeKind::Gitea => "git",
        _ => "",
    }
}

async fn start(kind: ForgeKind) -> FakeForge {
    FakeForge::start(
        kind,
        Options {
            token: TOKEN.into(),
            path_prefix: prefix_of(kind).into(),
            ..Options::default()
        },
    )
    .await
}

/// Statuses, pull requests and errors of one forge, end to end.
async fn conformance(kind: ForgeKind) {
    let fake = start(kind).await;
    let (registry, url) = setup(&fake, TOKEN);
    let t = registry.for_repo(&url).expect("the entry handles the URL");
    let forge = &t.forge;

    // Statuses: a long description is cut to 140 characters, a long
    // context still fits Bitbucket's 40-character key; states in the order
    // every forge takes (GitLab's state machine included).
    let long_ctx = format!("ferry/{}/production", "p".repeat(40));
    for (state, ctx) in [
        (StatusState::Pending, "ferry/shop/staging"),
        (StatusState::Running, "ferry/shop/staging"),
        (StatusState::Success, "ferry/shop/staging"),
        (StatusState::Pending, long_ctx.as_str()),
        (StatusState::Failure, long_ctx.as_str()),
        (StatusState::Running, "ferry/shop"),
        (StatusState::Error, "ferry/shop"),
    ] {
        forge
            .set_commit_status(&t.repo, SHA, &status(state, ctx, &"é".repeat(300)))
            .await
            .unwrap_or_else(|e| panic!("{kind} {state:?} {ctx}: {e}"));
    }
    let latest = fake.latest(SHA);
    let shown = |ctx: &str| {
        latest
            .get(ctx)
            .unwrap_or_else(|| panic!("{kind}: no status {ctx} in {latest:?}"))
            .clone()
    };
    let staging = shown("ferry/shop/staging");
    assert!(staging.is_final(), "{kind}: {staging:?}");
    assert_eq!(staging.description.chars().count(), 140, "{kind}");
    assert_eq!(
        staging.target_url,
        "https://ferry.example/products/shop/releases/4#env-staging"
    );
    assert!(shown(&long_ctx).is_final(), "{kind}");
    assert!(shown("ferry/shop").is_final(), "{kind}");

    // Pull requests: 120 others open first (paging), then ferry's.
    let repo_key = fake_repo(kind);
    for i in 0..120 {
        fake.add_pull(&repo_key, &format!("feature/{i}"), "main");
    }
    let pr = NewPullRequest {
        title: "ferry: promote shop 1.2.3 to staging".into(),
        body: "x".repeat(70_000),
        head: "ferry/shop/staging/4".into(),
        base: "main".into(),
    };
    let opened = forge.open_pull_request(&t.repo, &pr).await.unwrap();
    assert_eq!(opened.number, 121, "{kind}");
    assert!(opened.url.contains("121"), "{kind}: {}", opened.url);
    let found = forge
        .find_open_pull_request(&t.repo, &pr.head, &pr.base)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&opened), "{kind}: found after paging");
    assert_eq!(
        forge
            .find_open_pull_request(&t.repo, "ferry/other", "main")
            .await
            .unwrap(),
        None
    );
    // A second open for the same branches is refused by the forge (the
    // adapter looks for the open one first).
    if kind != ForgeKind::Bitbucket {
        let dup = forge.open_pull_request(&t.repo, &pr).await.unwrap_err();
        assert!(!dup.is_retryable(), "{kind}: {dup}");
    }
    assert_eq!(
        forge
            .pull_request_state(&t.repo, opened.number)
            .await
            .unwrap(),
        PullRequestState::Open
    );
    assert!(fake.merge(
        &repo_key,
        opened.number,
        "feedfacefeedfacefeedfacefeedfacefeedface"
    ));
    assert_eq!(
        forge
            .pull_request_state(&t.repo, opened.number)
            .await
            .unwrap(),
        PullRequestState::Merged {
            merge_commit: Some("feedfacefeedfacefeedfacefeedfacefeedface".into())
        }
    );
    assert!(fake.close(&repo_key, 3));
    assert_eq!(
        forge.pull_request_state(&t.repo, 3).await.unwrap(),
        PullRequestState::Closed
    );

    // The pull request of a terminated release: a comment naming it, then
    // closed (declined, abandoned) without merging.
    let comment = "Closed by ferry: release [#4](https://ferry.example/products/shop/releases/4) of shop was terminated.";
    forge
        .comment_on_pull_request(&t.repo, 7, comment)
        .await
        .unwrap_or_else(|e| panic!("{kind}: comment: {e}"));
    forge
        .close_pull_request(&t.repo, 7)
        .await
        .unwrap_or_else(|e| panic!("{kind}: close: {e}"));
    assert_eq!(
        forge.pull_request_state(&t.repo, 7).await.unwrap(),
        PullRequestState::Closed,
        "{kind}"
    );
    let seven = fake
        .pull_requests()
        .into_iter()
        .find(|p| p.number == 7)
        .unwrap();
    assert_eq!(seven.comments, vec![comment.to_owned()], "{kind}");
    // A merged one cannot be closed: the forge says so (GitLab keeps it
    // merged without an error).
    let merged = forge.close_pull_request(&t.repo, opened.number).await;
    if kind == ForgeKind::Gitlab {
        assert!(merged.is_ok(), "{kind}: {merged:?}");
    } else {
        let e = merged.expect_err("a merged pull request is not closed");
        assert!(!e.is_retryable(), "{kind}: {e}");
    }
    assert!(
        matches!(
            forge
                .pull_request_state(&t.repo, opened.number)
                .await
                .unwrap(),
            PullRequestState::Merged { .. }
        ),
        "{kind}"
    );
    // A pull request that does not exist: 404, not retried.
    let missing = forge.close_pull_request(&t.repo, 9999).await.unwrap_err();
    assert!(
        matches!(missing, ForgeError::Status { status: 404, .. }),
        "{kind}: {missing}"
    );
    let body = &fake.pull_requests()[120].body;
    assert!(body.chars().count() <= 70_000, "{kind}");
    assert_eq!(
        fake.violations(),
        Vec::<String>::new(),
        "{kind}: every request ferry sent follows the forge's rules"
    );

    // A wrong token: an error naming the call, never the token, not retried.
    let (bad, _) = setup(&fake, "wrong-token-value");
    let b = bad.for_repo(&url).unwrap();
    let e = b
        .forge
        .set_commit_status(&b.repo, SHA, &status(StatusState::Success, "ferry/x", "ok"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ForgeError::Status { status: 401, .. }),
        "{kind}: {e}"
    );
    assert!(!e.is_retryable());
    assert!(!e.to_string().contains("wrong-token-value"), "{e}");
    assert!(!e.to_string().contains(TOKEN), "{e}");
}

/// How the fake keys the repository of `setup`'s URL.
fn fake_repo(kind: ForgeKind) -> String {
    match kind {
        ForgeKind::Github | ForgeKind::Gitea => "acme/gitops",
        ForgeKind::Gitlab => "group/sub/gitops",
        ForgeKind::Bitbucket => "acme/gitops",
        ForgeKind::AzureDevOps => "shop/gitops",
    }
    .into()
}

#[tokio::test]
async fn github_enterprise_under_a_path() {
    conformance(ForgeKind::Github).await;
}

#[tokio::test]
async fn gitlab_under_a_path() {
    conformance(ForgeKind::Gitlab).await;
}

#[tokio::test]
async fn gitea_under_a_path() {
    conformance(ForgeKind::Gitea).await;
}

#[tokio::test]
async fn bitbucket_cloud() {
    conformance(ForgeKind::Bitbucket).await;
}

#[tokio::test]
async fn azure_devops() {
    conformance(ForgeKind::AzureDevOps).await;
}

#[tokio::test]
async fn gitlab_refuses_what_its_state_machine_does_not_take() {
    let fake = start(ForgeKind::Gitlab).await;
    let (registry, url) = setup(&fake, TOKEN);
    let t = registry.for_repo(&url).unwrap();
    let ctx = "ferry/shop/qa";
    let send = |state, d: &'static str| {
        let (forge, repo) = (t.forge.clone(), t.repo.clone());
        async move {
            forge
                .set_commit_status(&repo, SHA, &status(state, ctx, d))
                .await
        }
    };
    send(StatusState::Pending, "qa: waiting for dev")
        .await
        .unwrap();
    send(StatusState::Running, "qa: running pre-action smoke")
        .await
        .unwrap();
    // Same state, new description: GitLab answers 400, which is a refusal,
    // not a delivery, and not worth retrying.
    let e = send(StatusState::Waiting, "qa: waiting for pull request #7")
        .await
        .unwrap_err();
    assert!(matches!(e, ForgeError::Refused { .. }), "{e}");
    assert!(!e.is_retryable());
    let e = send(StatusState::Pending, "qa: back to pending")
        .await
        .unwrap_err();
    assert!(matches!(e, ForgeError::Refused { .. }), "{e}");
    assert_eq!(fake.refused_transitions(), 2);
    send(StatusState::Success, "qa: 1.2.3 promoted")
        .await
        .unwrap();
    // After a final state GitLab starts a new status (a retried release).
    send(StatusState::Running, "qa: running again")
        .await
        .unwrap();
    let shown = &fake.latest(SHA)[ctx];
    assert_eq!(
        (shown.state.as_str(), shown.description.as_str()),
        ("running", "qa: running again")
    );
    // The client says which transitions GitLab takes, so the publisher
    // does not have to ask.
    let d = status(StatusState::Running, ctx, "a");
    assert!(
        t.forge
            .transition(Some(&d), &status(StatusState::Waiting, ctx, "b"))
            .is_err()
    );
    assert!(
        t.forge
            .transition(Some(&d), &status(StatusState::Success, ctx, "b"))
            .is_ok()
    );
    assert!(
        t.forge
            .transition(None, &status(StatusState::Waiting, ctx, "b"))
            .is_ok()
    );
    assert!(fake.violations().is_empty(), "{:?}", fake.violations());
}

#[tokio::test]
async fn faults_are_retryable_and_rate_limits_honoured() {
    let fake = FakeForge::start(
        ForgeKind::Github,
        Options {
            token: TOKEN.into(),
            fault_rate: 1.0,
            retry_after: 2,
            ..Options::default()
        },
    )
    .await;
    let entry = ForgeEntry {
        kind: Some(ForgeKind::Github),
        repo_prefix: "https://github.com/".into(),
        api_url: Some(fake.api_url()),
        token: Some(Secret::new(TOKEN)),
        ..ForgeEntry::default()
    };
    let r = Registry::from_entries(&[entry], |_| None).unwrap();
    let t = r.for_repo("https://github.com/acme/app").unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let e = t
            .forge
            .set_commit_status(&t.repo, SHA, &status(StatusState::Pending, "ferry/a", "x"))
            .await
            .unwrap_err();
        assert!(e.is_retryable(), "{e}");
        if let ForgeError::Status {
            status,
            retry_after,
            ..
        } = &e
        {
            seen.insert(*status);
            if *status == 429 {
                assert_eq!(*retry_after, Some(Duration::from_secs(2)));
                break;
            }
        }
    }
    assert!(seen.contains(&429), "{seen:?}");
    assert_eq!(fake.calls().0, fake.calls().1, "every call was a fault");
}
