//! Every webhook payload in the conformance data (`tests/data/webhooks`,
//! the forges' own examples — see the README there) parses to the event it
//! describes, delivered with the headers and signature its forge sends.
//! The table says, per file, what a reader of the payload would expect.

use std::path::Path;

use ferry_forge::{
    ForgeEntry, ForgeKind, PullRequestAction, Registry, Secret, WebhookEvent, webhook::hmac_sha256,
};
use http::HeaderMap;

const SECRET: &str = "conformance-secret";

#[derive(Debug)]
enum Want {
    Push {
        branch: &'static str,
        after: &'static str,
    },
    Pr {
        number: u64,
        action: PullRequestAction,
    },
    /// Ignored, with this in the reason.
    Ignored(&'static str),
}

use PullRequestAction::{Closed, Merged, Other};
use Want::{Ignored, Pr, Push};

/// (forge, file under tests/data/webhooks, event header, expected events).
fn table() -> Vec<(ForgeKind, &'static str, &'static str, Vec<Want>)> {
    let gh = ForgeKind::Github;
    let gl = ForgeKind::Gitlab;
    let gt = ForgeKind::Gitea;
    let bb = ForgeKind::Bitbucket;
    let az = ForgeKind::AzureDevOps;
    const NEW_BRANCH: &str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
    vec![
        // GitHub (octokit/webhooks examples).
        (
            gh,
            "github/push-payload.json",
            "push",
            vec![Ignored("is not a branch")],
        ),
        (
            gh,
            "github/push-1.payload.json",
            "push",
            vec![Ignored("is not a branch")],
        ),
        (
            gh,
            "github/push-with-installation.payload.json",
            "push",
            vec![Ignored("is not a branch")],
        ),
        (
            gh,
            "github/push-with-organization.payload.json",
            "push",
            vec![Ignored("is not a branch")],
        ),
        (
            gh,
            "github/push-with-new-branch.payload.json",
            "push",
            vec![Push {
                branch: "master",
                after: NEW_BRANCH,
            }],
        ),
        (
            gh,
            "github/push-with-no-username-committer.payload.json",
            "push",
            vec![Push {
                branch: "master",
                after: NEW_BRANCH,
            }],
        ),
        (
            gh,
            "github/ghes-35-push-payload.json",
            "push",
            vec![Ignored("is not a branch")],
        ),
        (
            gh,
            "github/ping-payload.json",
            "ping",
            vec![Ignored("`ping` events are not used")],
        ),
        (
            gh,
            "github/ping-with-organization.payload.json",
            "ping",
            vec![Ignored("`ping` events are not used")],
        ),
        (
            gh,
            "github/pull_request-opened.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gh,
            "github/pull_request-opened.with-null-body.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gh,
            "github/pull_request-reopened.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gh,
            "github/pull_request-synchronize.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gh,
            "github/pull_request-labeled.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gh,
            "github/pull_request-closed.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Closed,
            }],
        ),
        (
            gh,
            "github/pull_request-closed.with-organization.payload.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Closed,
            }],
        ),
        (
            gh,
            "github/ghes-35-pull_request-closed.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Closed,
            }],
        ),
        // GitLab (its documentation's examples).
        (
            gl,
            "gitlab/push.json",
            "Push Hook",
            vec![Push {
                branch: "master",
                after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
            }],
        ),
        (
            gl,
            "gitlab/tag_push.json",
            "Tag Push Hook",
            vec![Ignored("events are not used")],
        ),
        (
            gl,
            "gitlab/merge_request.json",
            "Merge Request Hook",
            vec![Pr {
                number: 1,
                action: Other,
            }],
        ),
        (
            gl,
            "gitlab/service_merge_request.json",
            "Merge Request Hook",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gl,
            "gitlab/pipeline.json",
            "Pipeline Hook",
            vec![Ignored("events are not used")],
        ),
        // Gitea / Forgejo.
        (
            gt,
            "gitea/docs-push.json",
            "push",
            vec![Push {
                branch: "develop",
                after: "bffeb74224043ba2feb48d137756c8a9331c449a",
            }],
        ),
        (
            gt,
            "gitea/push-event.json",
            "push",
            vec![Push {
                branch: "master",
                after: "67b56589a45103f891bdee7c0546e5d40bc02001",
            }],
        ),
        (
            gt,
            "gitea/pull-request-event.json",
            "pull_request",
            vec![Pr {
                number: 2,
                action: Other,
            }],
        ),
        (
            gt,
            "gitea/create-event.json",
            "create",
            vec![Ignored("`create` events are not used")],
        ),
        // Bitbucket Cloud (its documented payloads).
        (
            bb,
            "bitbucket/repo-push.json",
            "repo:push",
            vec![Push {
                branch: "name-of-branch",
                after: "709d658dc5b6d6afcd46049c2f332ee3f515a67d",
            }],
        ),
        (
            bb,
            "bitbucket/pull-request-created.json",
            "pullrequest:created",
            vec![Pr {
                number: 1,
                action: Other,
            }],
        ),
        (
            bb,
            "bitbucket/pull-request-updated.json",
            "pullrequest:updated",
            vec![Pr {
                number: 1,
                action: Other,
            }],
        ),
        (
            bb,
            "bitbucket/pull-request-approved.json",
            "pullrequest:approved",
            vec![Pr {
                number: 1,
                action: Other,
            }],
        ),
        (
            bb,
            "bitbucket/pull-request-merged.json",
            "pullrequest:fulfilled",
            vec![Pr {
                number: 1,
                action: Merged,
            }],
        ),
        (
            bb,
            "bitbucket/pull-request-declined.json",
            "pullrequest:rejected",
            vec![Pr {
                number: 1,
                action: Closed,
            }],
        ),
        (
            bb,
            "bitbucket/repo-commit-status-created.json",
            "repo:commit_status_created",
            vec![Ignored("events are not used")],
        ),
        // Azure DevOps (Microsoft's service-hook samples).
        (
            az,
            "azuredevops/git.push.json",
            "",
            vec![Push {
                branch: "master",
                after: "33b55f7cb7e7e245323987634f960cf4a6e6bc74",
            }],
        ),
        (
            az,
            "azuredevops/git.pullrequest.created.json",
            "",
            vec![Pr {
                number: 1,
                action: Other,
            }],
        ),
        (
            az,
            "azuredevops/git.pullrequest.merged.json",
            "",
            vec![Pr {
                number: 1,
                action: Merged,
            }],
        ),
        (
            az,
            "azuredevops/git.pullrequest.updated.json",
            "",
            vec![Pr {
                number: 1,
                action: Merged,
            }],
        ),
    ]
}

/// Entries whose prefixes cover the repositories of the examples (in
/// another case than the payloads write them, as names are
/// case-insensitive on the forges).
fn registry() -> Registry {
    let entry = |kind, prefix: &str| ForgeEntry {
        kind: Some(kind),
        repo_prefix: prefix.into(),
        api_url: Some("http://127.0.0.1:9/api".into()),
        token: Some(Secret::new("t")),
        webhook_secret: Some(Secret::new(SECRET)),
        ..ForgeEntry::default()
    };
    Registry::from_entries(
        &[
            entry(ForgeKind::Github, "https://github.com/codertocat/"),
            entry(
                ForgeKind::Github,
                "https://octocoders.github.io/codertocat/",
            ),
            entry(ForgeKind::Gitlab, "http://example.com/"),
            entry(ForgeKind::Gitlab, "http://10.40.8.5:3200/"),
            entry(ForgeKind::Gitlab, "http://192.168.64.1:3005/"),
            entry(ForgeKind::Gitea, "http://localhost:3000/"),
            entry(ForgeKind::Bitbucket, "https://bitbucket.org/team_name/"),
            entry(ForgeKind::AzureDevOps, "https://dev.azure.com/fabrikam/"),
            entry(
                ForgeKind::AzureDevOps,
                "https://dev.azure.com/fabrikam-fiber-inc/",
            ),
        ],
        |_| None,
    )
    .expect("registry")
}

/// The headers `kind` sends with `body` for `event`, signed with SECRET.
fn headers(kind: ForgeKind, event: &str, body: &[u8], n: usize) -> HeaderMap {
    let sig = hex::encode(hmac_sha256(SECRET.as_bytes(), body));
    let id = format!("00000000-0000-0000-0000-{n:012}");
    let pairs: Vec<(&str, String)> = match kind {
        ForgeKind::Github => vec![
            ("x-github-event", event.into()),
            ("x-github-delivery", id),
            ("x-hub-signature-256", format!("sha256={sig}")),
            ("user-agent", "GitHub-Hookshot/044aadd".into()),
        ],
        ForgeKind::Gitlab => vec![
            ("x-gitlab-event", event.into()),
            ("x-gitlab-token", SECRET.into()),
            ("x-gitlab-event-uuid", id),
        ],
        // Every other delivery as Forgejo sends it (its own headers beside Gitea's).
        ForgeKind::Gitea if n.is_multiple_of(2) => vec![
            ("x-forgejo-event", event.into()),
            ("x-forgejo-delivery", id),
            ("x-forgejo-signature", sig),
        ],
        ForgeKind::Gitea => vec![
            ("x-gitea-event", event.into()),
            ("x-gitea-delivery", id),
            ("x-gitea-signature", sig),
        ],
        ForgeKind::Bitbucket => vec![
            ("x-event-key", event.into()),
            ("x-request-uuid", id),
            ("x-hub-signature", format!("sha256={sig}")),
        ],
        ForgeKind::AzureDevOps => {
            let pair = format!("ferry:{SECRET}");
            vec![(
                "authorization",
                format!("Basic {}", base64(pair.as_bytes())),
            )]
        }
    };
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(k, v.parse().expect("header value"));
    }
    h
}

fn base64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[test]
fn every_vendored_payload_parses_to_its_event() {
    let r = registry();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/webhooks");
    let table = table();
    for (n, (kind, file, event, want)) in table.iter().enumerate() {
        let body = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let d = r
            .authenticate(*kind, &headers(*kind, event, &body, n), &body)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(d.events.len(), want.len(), "{file}: {:?}", d.events);
        for (got, want) in d.events.iter().zip(want) {
            match (got, want) {
                (WebhookEvent::Push(p), Push { branch, after }) => {
                    assert_eq!(
                        (p.branch.as_str(), p.after.as_str()),
                        (*branch, *after),
                        "{file}"
                    );
                    assert!(!p.repo_urls.is_empty(), "{file}");
                }
                (WebhookEvent::PullRequest(p), Pr { number, action }) => {
                    assert_eq!((p.number, p.action), (*number, *action), "{file}");
                }
                (WebhookEvent::Ignored { reason }, Ignored(fragment)) => {
                    assert!(reason.contains(fragment), "{file}: {reason}");
                }
                (got, want) => panic!("{file}: got {got:?}, want {want:?}"),
            }
        }
        // The delivery id is the forge's (Azure DevOps: the notification id).
        if *kind == ForgeKind::AzureDevOps {
            assert!(!d.id.starts_with("sha256:"), "{file}: {}", d.id);
        } else {
            assert!(d.id.ends_with(&format!("{n:012}")), "{file}: {}", d.id);
        }
    }
    // Every file in the data is in the table (new data gets a row).
    let mut files = Vec::new();
    for forge in std::fs::read_dir(&dir).unwrap() {
        let forge = forge.unwrap().path();
        if !forge.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&forge).unwrap() {
            let f = f.unwrap().path();
            if f.extension().is_some_and(|e| e == "json") {
                files.push(format!(
                    "{}/{}",
                    forge.file_name().unwrap().to_string_lossy(),
                    f.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    files.sort();
    let mut listed: Vec<String> = table.iter().map(|r| r.1.to_owned()).collect();
    listed.sort();
    assert_eq!(files, listed);
}

#[test]
fn a_wrong_secret_is_refused_for_every_payload() {
    let r = registry();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/webhooks");
    for (n, (kind, file, event, _)) in table().iter().enumerate() {
        let body = std::fs::read(dir.join(file)).unwrap();
        let mut tampered = body.clone();
        tampered.extend_from_slice(b" ");
        let h = headers(*kind, event, &body, n);
        let result = r.authenticate(*kind, &h, &tampered);
        // GitLab and Azure DevOps send the secret itself, not a signature
        // of the body: a changed body still verifies there.
        if matches!(kind, ForgeKind::Gitlab | ForgeKind::AzureDevOps) {
            assert!(result.is_ok(), "{file}");
        } else {
            assert!(result.is_err(), "{file}: a changed body must not verify");
        }
    }
}
