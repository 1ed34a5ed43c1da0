//! Snapshot tests of the rendered notes (Markdown for people, the JSON
//! document for the API), on a fixed document so every byte is stable.

use ferry_notes::{
    Author, Commit, ConfigChanges, Groups, ImageChange, IssueLink, ReleaseNotes, ReleaseRef,
    ResolvedRange, SourceChanges, SourceVia, markdown, markdown_for_pr,
};

fn commit(sha_char: char, subject: &str, kind: Option<&str>, scope: Option<&str>) -> Commit {
    Commit {
        sha: sha_char.to_string().repeat(40),
        author: Author {
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        },
        date: "2026-11-20T10:15:00+01:00".into(),
        subject: subject.into(),
        body: String::new(),
        kind: kind.map(str::to_owned),
        scope: scope.map(str::to_owned),
        breaking: false,
        pull_request: None,
        issues: Vec::new(),
    }
}

fn document() -> ReleaseNotes {
    let mut breaking = commit(
        'a',
        "refactor(api)!: drop the v1 API",
        Some("refactor"),
        Some("api"),
    );
    breaking.breaking = true;
    breaking.body = "BREAKING CHANGE: clients must call /v2.".into();
    let mut feature = commit(
        'b',
        "feat(orders): add the orders endpoint (#12)",
        Some("feat"),
        Some("orders"),
    );
    feature.pull_request = Some(12);
    let mut fix = commit('c', "fix: handle an empty cart", Some("fix"), None);
    fix.pull_request = Some(15);
    fix.issues = vec![
        IssueLink {
            key: "#7".into(),
            url: Some("https://github.com/acme/api/issues/7".into()),
        },
        IssueLink {
            key: "PROJ-42".into(),
            url: Some("https://jira.example.com/browse/PROJ-42".into()),
        },
        IssueLink {
            key: "https://gitlab.example.com/g/p/-/issues/3".into(),
            url: Some("https://gitlab.example.com/g/p/-/issues/3".into()),
        },
    ];
    let perf = commit(
        'd',
        "perf(prices): cache price lookups",
        Some("perf"),
        Some("prices"),
    );
    let other = commit(
        'e',
        "Update README: <b>*bold*</b> [link](x) | pipe",
        None,
        None,
    );
    let config = commit('f', "chore(dev): api 1.1 (#31)", Some("chore"), Some("dev"));
    ReleaseNotes {
        format_version: 1,
        release: ReleaseRef {
            id: "01JDR7Q0000000000000000000".into(),
            number: 8,
            product: "trio".into(),
            version: Some("1.1".into()),
        },
        previous_release: Some(ReleaseRef {
            id: "01JDR6Q0000000000000000000".into(),
            number: 7,
            product: "trio".into(),
            version: Some("1.0".into()),
        }),
        configuration: vec![ConfigChanges {
            application: "trio-dev".into(),
            repo_url: "https://github.com/acme/gitops.git".into(),
            path: "apps/trio/dev".into(),
            from: Some("1".repeat(40)),
            to: "2".repeat(40),
            commits: vec![config],
            truncated: false,
        }],
        images: vec![
            ImageChange {
                application: "trio-dev".into(),
                file: "values.yaml".into(),
                path: "$['api']['image']['tag']".into(),
                repository: "ghcr.io/acme/api".into(),
                from: Some("1.0".into()),
                to: "1.1".into(),
                source: Some(ResolvedRange {
                    repo_url: "https://github.com/acme/api".into(),
                    from: Some("3".repeat(40)),
                    to: "4".repeat(40),
                    via: SourceVia::Labels,
                }),
            },
            ImageChange {
                application: "trio-dev".into(),
                file: "values.yaml".into(),
                path: "$['worker']['image']".into(),
                repository: "ghcr.io/acme/worker".into(),
                from: None,
                to: "2".into(),
                source: None,
            },
        ],
        sources: vec![SourceChanges {
            repo_url: "https://github.com/acme/api".into(),
            images: vec!["ghcr.io/acme/api".into()],
            from: Some("3".repeat(40)),
            to: "4".repeat(40),
            groups: Groups::of(vec![breaking, feature, fix, perf, other]),
            truncated: false,
        }],
        notes: vec!["ghcr.io/acme/worker:2: no source known (no `org.opencontainers.image.source` label, no entry in spec.releaseNotes.sources)".into()],
    }
}

#[test]
fn markdown_snapshot() {
    insta::assert_snapshot!(markdown(&document()));
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!(serde_json::to_string_pretty(&document()).unwrap());
}

#[test]
fn json_round_trips() {
    let doc = document();
    let text = serde_json::to_string(&doc).unwrap();
    assert_eq!(serde_json::from_str::<ReleaseNotes>(&text).unwrap(), doc);
}

#[test]
fn first_release_and_empty_notes() {
    let mut doc = document();
    doc.previous_release = None;
    doc.sources.clear();
    doc.images.clear();
    doc.configuration.clear();
    doc.notes.clear();
    insta::assert_snapshot!(markdown(&doc));
}

#[test]
fn pr_bodies_fit_the_limit() {
    let doc = document();
    let full = markdown_for_pr(&doc, usize::MAX, None);
    assert!(!full.starts_with("# "), "no title in a PR body");
    assert!(full.starts_with("Changes since release #7 (1.0)."));
    for limit in [80, 300, 700, full.chars().count() - 1] {
        let cut = markdown_for_pr(&doc, limit, Some("https://ferry.example.com/n"));
        assert!(
            cut.chars().count() <= limit,
            "{limit}: {}",
            cut.chars().count()
        );
        assert!(
            cut.ends_with("the full notes: https://ferry.example.com/n\n"),
            "{cut}"
        );
    }
    assert_eq!(markdown_for_pr(&doc, full.chars().count(), None), full);
}
