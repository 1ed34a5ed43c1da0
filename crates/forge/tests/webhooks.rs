//! Webhook deliveries of the four forges with the documented headers and
//! payloads: valid, wrongly signed, unsigned, malformed, and replayed.

use std::sync::Arc;
use std::time::Duration;

use ferry_forge::registry::Entry;
use ferry_forge::webhook::hmac_sha256;
use ferry_forge::{
    Bitbucket, ForgeKind, GitHub, GitLab, Gitea, PullRequestAction, Registry, Secret, WebhookError,
    WebhookEvent,
};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::json;

const SECRET: &str = "It's a Secret to Everybody";
const AFTER: &str = "9fceb02d0ae598e95dc970b74767f19372d61af8";

fn registry() -> Registry {
    let t = Duration::from_secs(1);
    let s = || Secret::new(SECRET);
    let entry = |kind, prefix: &str, forge: Arc<dyn ferry_forge::Forge>, secret: Secret| Entry {
        kind,
        repo_prefix: prefix.into(),
        forge,
        webhook_secret: secret,
        poll_interval: Duration::from_secs(60),
        web_path: String::new(),
        retry: None,
    };
    Registry::from_forges(vec![
        entry(
            ForgeKind::Github,
            "https://github.com/acme/",
            Arc::new(GitHub::new("http://127.0.0.1:9", Secret::new("x"), s(), t).unwrap()),
            s(),
        ),
        entry(
            ForgeKind::Github,
            "https://github.com/other/",
            Arc::new(
                GitHub::new(
                    "http://127.0.0.1:9",
                    Secret::new("x"),
                    Secret::new("other-secret"),
                    t,
                )
                .unwrap(),
            ),
            Secret::new("other-secret"),
        ),
        entry(
            ForgeKind::Gitlab,
            "https://gitlab.example/",
            Arc::new(GitLab::new("http://127.0.0.1:9", Secret::new("x"), s(), t).unwrap()),
            s(),
        ),
        entry(
            ForgeKind::Gitea,
            "https://gitea.example/",
            Arc::new(Gitea::new("http://127.0.0.1:9", Secret::new("x"), s(), t).unwrap()),
            s(),
        ),
        entry(
            ForgeKind::Bitbucket,
            "https://bitbucket.org/",
            Arc::new(Bitbucket::new("http://127.0.0.1:9", None, Secret::new("x"), s(), t).unwrap()),
            s(),
        ),
    ])
}

fn headers(pairs: &[(&str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn sig(body: &[u8]) -> String {
    hex::encode(hmac_sha256(SECRET.as_bytes(), body))
}

/// (kind, push headers+body, PR-merged headers+body, PR-closed headers+body) for each forge.
fn github(event: &str, body: &serde_json::Value, signature: Option<&str>) -> (HeaderMap, Vec<u8>) {
    let b = serde_json::to_vec(body).unwrap();
    let mut h = vec![
        ("x-github-event", event.to_string()),
        (
            "x-github-delivery",
            "72d3162e-cc78-11e3-81ab-4c9367dc0958".to_string(),
        ),
        ("user-agent", "GitHub-Hookshot/044aadd".to_string()),
    ];
    let s = signature
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sha256={}", sig(&b)));
    h.push(("x-hub-signature-256", s));
    (headers(&h), b)
}

#[test]
fn github_push_and_pull_requests() {
    let r = registry();
    let push = json!({"ref": "refs/heads/main", "before": "0".repeat(40), "after": AFTER,
        "created": false, "deleted": false, "forced": false, "commits": [], "head_commit": null,
        "repository": {"full_name": "acme/gitops", "html_url": "https://github.com/acme/gitops",
                       "clone_url": "https://github.com/acme/gitops.git", "ssh_url": "git@github.com:acme/gitops.git"},
        "pusher": {"name": "dev"}, "sender": {}});
    let (h, b) = github("push", &push, None);
    let d = r.authenticate(ForgeKind::Github, &h, &b).unwrap();
    assert_eq!(d.id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    match &d.events[..] {
        [WebhookEvent::Push(p)] => {
            assert_eq!(p.branch, "main");
            assert_eq!(p.after, AFTER);
            assert!(
                p.repo_urls
                    .contains(&"https://github.com/acme/gitops.git".to_string())
            );
        }
        other => panic!("{other:?}"),
    }
    // Replayed: the same delivery id comes out (the server refuses it).
    assert_eq!(r.authenticate(ForgeKind::Github, &h, &b).unwrap().id, d.id);

    // Wrong signature, missing signature, tampered body → unauthenticated.
    let (h2, b2) = github("push", &push, Some("sha256=0000"));
    assert!(matches!(
        r.authenticate(ForgeKind::Github, &h2, &b2),
        Err(WebhookError::Unauthenticated(_))
    ));
    let mut h3 = h.clone();
    h3.remove("x-hub-signature-256");
    assert!(matches!(
        r.authenticate(ForgeKind::Github, &h3, &b),
        Err(WebhookError::Unauthenticated(_))
    ));
    let mut tampered = b.clone();
    tampered[10] ^= 1;
    assert!(matches!(
        r.authenticate(ForgeKind::Github, &h, &tampered),
        Err(WebhookError::Unauthenticated(_))
    ));
    // Signed with another team's secret for this team's repository: a
    // verified delivery, so accepted (forges disable hooks that keep
    // getting 4xx), but nothing in it is acted on.
    let other_sig = format!("sha256={}", hex::encode(hmac_sha256(b"other-secret", &b)));
    let (h4, _) = github("push", &push, Some(&other_sig));
    match &r.authenticate(ForgeKind::Github, &h4, &b).unwrap().events[..] {
        [WebhookEvent::Ignored { reason }] => {
            assert!(reason.contains("another webhook secret"), "{reason}")
        }
        other => panic!("{other:?}"),
    }

    // Malformed (signed) bodies → 400.
    let (h5, b5) = {
        let b = b"{not json".to_vec();
        let h = headers(&[
            ("x-github-event", "push".into()),
            ("x-github-delivery", "d".into()),
            ("x-hub-signature-256", format!("sha256={}", sig(&b))),
        ]);
        (h, b)
    };
    assert!(matches!(
        r.authenticate(ForgeKind::Github, &h5, &b5),
        Err(WebhookError::Malformed(_))
    ));
    let (h6, b6) = github(
        "push",
        &json!({"ref": "refs/heads/main", "repository": {"clone_url": "https://github.com/acme/gitops.git"}}),
        None,
    );
    assert!(
        matches!(r.authenticate(ForgeKind::Github, &h6, &b6), Err(WebhookError::Malformed(m)) if m.contains("after"))
    );

    // Tags and deletions are ignored.
    let mut tag = push.clone();
    tag["ref"] = json!("refs/tags/v1");
    let (h7, b7) = github("push", &tag, None);
    assert!(matches!(
        &r.authenticate(ForgeKind::Github, &h7, &b7).unwrap().events[..],
        [WebhookEvent::Ignored { .. }]
    ));

    for (merged, want) in [
        (true, PullRequestAction::Merged),
        (false, PullRequestAction::Closed),
    ] {
        let pr = json!({"action": "closed", "number": 7,
            "pull_request": {"number": 7, "state": "closed", "merged": merged, "merge_commit_sha": AFTER, "head": {"sha": AFTER}, "base": {"ref": "main"}},
            "repository": {"clone_url": "https://github.com/acme/gitops.git", "html_url": "https://github.com/acme/gitops"}, "sender": {}});
        let (h, b) = github("pull_request", &pr, None);
        match &r.authenticate(ForgeKind::Github, &h, &b).unwrap().events[..] {
            [WebhookEvent::PullRequest(p)] => {
                assert_eq!(p.number, 7);
                assert_eq!(p.action, want);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn gitlab_push_and_merge_requests() {
    let r = registry();
    let h = |event: &str, token: &str| {
        headers(&[
            ("x-gitlab-event", event.into()),
            ("x-gitlab-token", token.into()),
            ("x-gitlab-event-uuid", "ev-1".into()),
            ("idempotency-key", "idem-1".into()),
        ])
    };
    let push = serde_json::to_vec(&json!({"object_kind": "push", "event_name": "push", "before": "0".repeat(40),
        "after": AFTER, "ref": "refs/heads/main", "checkout_sha": AFTER, "project_id": 15,
        "project": {"id": 15, "web_url": "https://gitlab.example/group/gitops",
                    "git_http_url": "https://gitlab.example/group/gitops.git",
                    "git_ssh_url": "git@gitlab.example:group/gitops.git", "path_with_namespace": "group/gitops"},
        "commits": [], "total_commits_count": 0})).unwrap();
    let d = r
        .authenticate(ForgeKind::Gitlab, &h("Push Hook", SECRET), &push)
        .unwrap();
    assert_eq!(
        d.id, "idem-1",
        "Idempotency-Key is the same across GitLab's retries"
    );
    assert!(
        matches!(&d.events[..], [WebhookEvent::Push(p)] if p.branch == "main" && p.after == AFTER)
    );
    assert!(matches!(
        r.authenticate(ForgeKind::Gitlab, &h("Push Hook", "wrong"), &push),
        Err(WebhookError::Unauthenticated(_))
    ));
    let no_token = headers(&[("x-gitlab-event", "Push Hook".into())]);
    assert!(matches!(
        r.authenticate(ForgeKind::Gitlab, &no_token, &push),
        Err(WebhookError::Unauthenticated(_))
    ));
    assert!(matches!(
        r.authenticate(ForgeKind::Gitlab, &h("Push Hook", SECRET), b"[1,2"),
        Err(WebhookError::Malformed(_))
    ));
    for (action, state, want) in [
        ("merge", "merged", PullRequestAction::Merged),
        ("close", "closed", PullRequestAction::Closed),
        ("update", "opened", PullRequestAction::Other),
    ] {
        let mr = serde_json::to_vec(&json!({"object_kind": "merge_request",
            "project": {"git_http_url": "https://gitlab.example/group/gitops.git"},
            "object_attributes": {"iid": 12, "state": state, "action": action, "source_branch": "ferry/shop/qa/1", "target_branch": "main"}})).unwrap();
        let d = r
            .authenticate(ForgeKind::Gitlab, &h("Merge Request Hook", SECRET), &mr)
            .unwrap();
        assert!(
            matches!(&d.events[..], [WebhookEvent::PullRequest(p)] if p.number == 12 && p.action == want),
            "{action}"
        );
    }
}

#[test]
fn gitea_and_forgejo_push_and_pull_requests() {
    let r = registry();
    let push = serde_json::to_vec(&json!({"ref": "refs/heads/main", "before": "0".repeat(40), "after": AFTER,
        "compare_url": "", "commits": [], "total_commits": 0, "head_commit": null,
        "repository": {"full_name": "acme/gitops", "html_url": "https://gitea.example/acme/gitops",
                       "clone_url": "https://gitea.example/acme/gitops.git", "ssh_url": "git@gitea.example:acme/gitops.git"},
        "pusher": {}, "sender": {}})).unwrap();
    let gitea = headers(&[
        ("x-gitea-event", "push".into()),
        ("x-gitea-event-type", "push".into()),
        (
            "x-gitea-delivery",
            "f6266f16-1bf3-46a5-9ea4-602e06ead473".into(),
        ),
        ("x-gitea-signature", sig(&push)),
        // Sent for compatibility; ferry reads the Gitea ones.
        ("x-github-event", "push".into()),
        ("x-hub-signature-256", format!("sha256={}", sig(&push))),
    ]);
    let d = r.authenticate(ForgeKind::Gitea, &gitea, &push).unwrap();
    assert_eq!(d.id, "f6266f16-1bf3-46a5-9ea4-602e06ead473");
    assert!(matches!(&d.events[..], [WebhookEvent::Push(p)] if p.branch == "main"));
    let forgejo = headers(&[
        ("x-forgejo-event", "push".into()),
        ("x-forgejo-delivery", "fj-1".into()),
        ("x-forgejo-signature", sig(&push)),
    ]);
    assert_eq!(
        r.authenticate(ForgeKind::Gitea, &forgejo, &push)
            .unwrap()
            .id,
        "fj-1"
    );
    let bad = headers(&[
        ("x-gitea-event", "push".into()),
        ("x-gitea-delivery", "x".into()),
        ("x-gitea-signature", "".into()),
    ]);
    assert!(matches!(
        r.authenticate(ForgeKind::Gitea, &bad, &push),
        Err(WebhookError::Unauthenticated(_))
    ));
    let pr = serde_json::to_vec(&json!({"action": "closed", "number": 3,
        "pull_request": {"number": 3, "merged": true, "state": "closed"},
        "repository": {"clone_url": "https://gitea.example/acme/gitops.git"}}))
    .unwrap();
    let h = headers(&[
        ("x-gitea-event", "pull_request".into()),
        ("x-gitea-delivery", "p".into()),
        ("x-gitea-signature", sig(&pr)),
    ]);
    assert!(
        matches!(&r.authenticate(ForgeKind::Gitea, &h, &pr).unwrap().events[..],
        [WebhookEvent::PullRequest(p)] if p.number == 3 && p.action == PullRequestAction::Merged)
    );
    let missing = serde_json::to_vec(&json!({"action": "closed", "repository": {"clone_url": "https://gitea.example/acme/gitops.git"}})).unwrap();
    let h = headers(&[
        ("x-gitea-event", "pull_request".into()),
        ("x-gitea-delivery", "m".into()),
        ("x-gitea-signature", sig(&missing)),
    ]);
    assert!(
        matches!(r.authenticate(ForgeKind::Gitea, &h, &missing), Err(WebhookError::Malformed(m)) if m.contains("number"))
    );
}

#[test]
fn bitbucket_push_and_pull_requests() {
    let r = registry();
    let repo = json!({"full_name": "acme/gitops", "uuid": "{1}", "links": {"html": {"href": "https://bitbucket.org/acme/gitops"}}});
    let push = serde_json::to_vec(&json!({"actor": {}, "repository": repo,
        "push": {"changes": [
            {"new": {"type": "branch", "name": "main", "target": {"type": "commit", "hash": AFTER}}, "old": null, "created": true, "closed": false, "forced": false, "truncated": false, "commits": []},
            {"new": {"type": "tag", "name": "v1", "target": {"type": "commit", "hash": AFTER}}, "old": null},
            {"new": null, "old": {"type": "branch", "name": "gone"}, "closed": true}
        ]}})).unwrap();
    let h = |event: &str, body: &[u8], signature: Option<String>| {
        headers(&[
            ("x-event-key", event.into()),
            ("x-request-uuid", "req-1".into()),
            ("x-hook-uuid", "hook-1".into()),
            ("x-attempt-number", "1".into()),
            (
                "x-hub-signature",
                signature.unwrap_or_else(|| format!("sha256={}", sig(body))),
            ),
        ])
    };
    let d = r
        .authenticate(ForgeKind::Bitbucket, &h("repo:push", &push, None), &push)
        .unwrap();
    assert_eq!(d.id, "req-1");
    assert_eq!(d.events.len(), 3);
    assert!(
        matches!(&d.events[0], WebhookEvent::Push(p) if p.branch == "main" && p.after == AFTER)
    );
    assert!(matches!(&d.events[1], WebhookEvent::Ignored { .. }));
    assert!(matches!(&d.events[2], WebhookEvent::Ignored { .. }));
    assert!(matches!(
        r.authenticate(
            ForgeKind::Bitbucket,
            &h("repo:push", &push, Some("sha256=abcd".into())),
            &push
        ),
        Err(WebhookError::Unauthenticated(_))
    ));
    for (event, want) in [
        ("pullrequest:fulfilled", PullRequestAction::Merged),
        ("pullrequest:rejected", PullRequestAction::Closed),
        ("pullrequest:updated", PullRequestAction::Other),
    ] {
        let pr = serde_json::to_vec(&json!({"actor": {}, "repository": repo,
            "pullrequest": {"id": 21, "state": "MERGED", "merge_commit": {"hash": AFTER}}}))
        .unwrap();
        let d = r
            .authenticate(ForgeKind::Bitbucket, &h(event, &pr, None), &pr)
            .unwrap();
        assert!(
            matches!(&d.events[..], [WebhookEvent::PullRequest(p)] if p.number == 21 && p.action == want),
            "{event}"
        );
    }
    let bad = serde_json::to_vec(&json!({"repository": repo, "push": {}})).unwrap();
    assert!(matches!(
        r.authenticate(ForgeKind::Bitbucket, &h("repo:push", &bad, None), &bad),
        Err(WebhookError::Malformed(_))
    ));
}

/// A GitHub organisation (or GitLab group) webhook sends deliveries for
/// every repository: the ones outside every `repoPrefix` are verified,
/// accepted and ignored with the reason — never 4xx, which would get the
/// hook disabled.
#[test]
fn group_webhooks_for_other_repositories_are_accepted_and_ignored() {
    let r = registry();
    for i in 0..50 {
        let push = json!({"ref": "refs/heads/main", "after": AFTER,
            "repository": {"clone_url": format!("https://github.com/elsewhere/repo-{i}.git"),
                           "html_url": format!("https://github.com/elsewhere/repo-{i}")}});
        let (h, b) = github("push", &push, None);
        let d = r.authenticate(ForgeKind::Github, &h, &b).unwrap();
        match &d.events[..] {
            [WebhookEvent::Ignored { reason }] => {
                assert!(
                    reason.contains("outside every configured repoPrefix"),
                    "{reason}"
                );
                assert!(reason.contains(&format!("repo-{i}")), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }
    // The same repository written in another case is ours (GitHub names
    // are case-insensitive): `Acme/GitOps` under `https://github.com/acme/`.
    let push = json!({"ref": "refs/heads/main", "after": AFTER,
        "repository": {"clone_url": "https://github.com/Acme/GitOps.git"}});
    let (h, b) = github("push", &push, None);
    assert!(matches!(
        &r.authenticate(ForgeKind::Github, &h, &b).unwrap().events[..],
        [WebhookEvent::Push(_)]
    ));
}

#[test]
fn a_forge_kind_without_entries_is_unauthenticated() {
    let r = Registry::default();
    assert!(matches!(
        r.authenticate(ForgeKind::Github, &HeaderMap::new(), b"{}"),
        Err(WebhookError::Unauthenticated(_))
    ));
}
