//! Release notes end to end on real repositories and a real registry:
//! a GitOps repository with configuration commits (and unrelated ones), a
//! code repository with conventional and free-form commits, a merged pull
//! request, issue keys and a breaking change (its image labelled in the
//! registry), a second code repository found through the product's
//! mapping whose old revision was force-pushed away, and an image nobody
//! knows the source of.

mod common;

use common::{Pusher, Registry, Repo, app_snapshot, path_value, release, scalar, workspace};
use ferry_model::resource::{ReleaseNotesSource, ReleaseNotesSpec};
use ferry_notes::oci::{REVISION_LABEL, SOURCE_LABEL};
use ferry_notes::{NotesBuilder, NotesSettings, OciClient, OciSettings, SourceVia};
use std::sync::Arc;

fn subjects(commits: &[ferry_notes::Commit]) -> Vec<&str> {
    commits.iter().map(|c| c.subject.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_from_git_history_and_image_labels() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let registry = Registry::start(root, &root.join("storage"), None);
    let pusher = Pusher::new(&registry.addr);
    let reg = registry.addr.clone();

    // --- code repository of `api`: labels in the registry point at it.
    let mut api = Repo::init(root.join("api"));
    let api_old = api.commit("src/main.rs", "chore: initial service");
    api.commit(
        "src/orders.rs",
        "feat(orders): add the orders endpoint (#12)",
    );
    api.run(&["checkout", "-q", "-b", "fix-cart"]);
    api.commit(
        "src/cart.rs",
        "fix: handle an empty cart\n\nFixes #7, see PROJ-42.",
    );
    api.commit("src/cart.rs", "add a test for the empty cart");
    api.run(&["checkout", "-q", "main"]);
    api.commit("src/prices.rs", "perf(prices): cache price lookups");
    api.run(&[
        "merge",
        "-q",
        "--no-ff",
        "fix-cart",
        "-m",
        "Merge pull request #15 from acme/fix-cart\n\nfix: handle an empty cart",
    ]);
    api.commit("README.md", "Update README");
    api.commit(
        "src/v1.rs",
        "refactor(api)!: drop the v1 API\n\nBREAKING CHANGE: clients must call /v2.",
    );
    let api_new = api.head();
    for (tag, rev) in [("1.0", &api_old), ("1.1", &api_new)] {
        pusher
            .image(
                "acme/api",
                Some(tag),
                &[(SOURCE_LABEL, &api.url()), (REVISION_LABEL, rev)],
                false,
                "amd64",
            )
            .await;
    }

    // --- code repository of `web`: no labels; the mapping says
    // `main-{sha}`. Its old revision is force-pushed away and pruned.
    let mut web = Repo::init(root.join("web"));
    web.commit("index.html", "feat: landing page");
    let web_gone = web.commit("index.html", "fix: typo on the landing page");
    web.run(&["reset", "-q", "--hard", "HEAD~1"]);
    web.commit("index.html", "fix: typo on the landing page (reworded)");
    let web_new = web.commit("app.js", "feat(ui): dark mode");
    web.run(&["reflog", "expire", "--expire=now", "--all"]);
    web.run(&["gc", "-q", "--prune=now"]);
    for sha in [&web_gone, &web_new] {
        pusher
            .image(
                "acme/web",
                Some(&format!("main-{}", &sha[..10])),
                &[],
                false,
                "amd64",
            )
            .await;
    }

    // --- the GitOps repository.
    let mut gitops = Repo::init(root.join("gitops"));
    let values = |api_tag: &str, web_sha: &str, worker: &str| {
        format!(
            "api:\n  image:\n    repository: {reg}/acme/api\n    tag: \"{api_tag}\"\nweb:\n  image: {reg}/acme/web:main-{}\nworker:\n  image: {reg}/acme/worker:{worker}\n",
            &web_sha[..10]
        )
    };
    let c1 = gitops.commit_file(
        "apps/trio/dev/values.yaml",
        &values("1.0", &web_gone, "1"),
        "chore: first version",
    );
    gitops.commit_file(
        "apps/other/dev/values.yaml",
        "x: 1\n",
        "chore(other): unrelated change",
    );
    gitops.commit_file(
        "apps/trio/dev/values.yaml",
        &values("1.1", &web_gone, "1"),
        "chore(dev): api 1.1 (#31)",
    );
    let c2 = gitops.commit_file(
        "apps/trio/dev/values.yaml",
        &values("1.1", &web_new, "2"),
        "Bump web and worker\n\nRefs OPS-5",
    );

    let snap = |rev: &str, api_tag: &str, web_sha: &str, worker: &str| {
        app_snapshot(
            "trio-dev",
            &gitops.url(),
            "apps/trio/dev",
            rev,
            vec![(
                "values.yaml",
                vec![
                    path_value("$['api']['image']['tag']", scalar(api_tag)),
                    path_value(
                        "$['web']['image']",
                        scalar(&format!("{reg}/acme/web:main-{}", &web_sha[..10])),
                    ),
                    path_value(
                        "$['worker']['image']",
                        scalar(&format!("{reg}/acme/worker:{worker}")),
                    ),
                ],
            )],
        )
    };
    let first = release(
        "trio",
        1,
        "1.0",
        vec![("trio", snap(&c1, "1.0", &web_gone, "1"))],
    );
    let second = release(
        "trio",
        2,
        "1.1",
        vec![("trio", snap(&c2, "1.1", &web_new, "2"))],
    );

    let spec = ReleaseNotesSpec {
        sources: vec![ReleaseNotesSource {
            image: format!("{reg}/acme/web"),
            repo_url: web.url(),
            tag_pattern: Some("main-{sha}".into()),
        }],
        issue_pattern: Some(r"\b(PROJ|OPS)-[0-9]+\b".into()),
        issue_url_template: Some("https://jira.example.com/browse/{key}".into()),
        first_release_limit: Some(1),
    };
    let cache = root.join("mirrors");
    let builder = NotesBuilder::new(
        workspace(&cache),
        Arc::new(OciClient::new(OciSettings::default()).unwrap()),
        NotesSettings {
            allow_local_sources: true,
            ..NotesSettings::default()
        },
    );
    let notes = builder.build(&second, Some(&first), Some(&spec)).await;

    assert_eq!(notes.release.number, 2);
    assert_eq!(notes.previous_release.as_ref().map(|p| p.number), Some(1));

    // Configuration: only the commits touching the application's path.
    assert_eq!(notes.configuration.len(), 1);
    let config = &notes.configuration[0];
    assert_eq!(
        subjects(&config.commits),
        ["Bump web and worker", "chore(dev): api 1.1 (#31)"]
    );
    assert_eq!(config.from.as_deref(), Some(c1.as_str()));
    assert_eq!(config.commits[0].issues[0].key, "OPS-5");
    assert_eq!(config.commits[1].pull_request, Some(31));
    assert!(!config.truncated);

    // Images: api through a tag beside its repository, web and worker whole.
    let images: Vec<_> = notes
        .images
        .iter()
        .map(|i| {
            (
                i.repository.clone(),
                i.from.clone(),
                i.to.clone(),
                i.source.as_ref().map(|s| s.via),
            )
        })
        .collect();
    assert_eq!(
        images,
        [
            (
                format!("{reg}/acme/api"),
                Some("1.0".into()),
                "1.1".into(),
                Some(SourceVia::Labels)
            ),
            (
                format!("{reg}/acme/web"),
                Some(format!("main-{}", &web_gone[..10])),
                format!("main-{}", &web_new[..10]),
                Some(SourceVia::Mapping)
            ),
            (
                format!("{reg}/acme/worker"),
                Some("1".into()),
                "2".into(),
                None
            ),
        ]
    );

    // Code of api: grouped, the merge not listed but its PR given to the
    // commits it brought in.
    let api_src = notes
        .sources
        .iter()
        .find(|s| s.repo_url == api.url())
        .expect("api source");
    assert_eq!(api_src.from.as_deref(), Some(api_old.as_str()));
    assert_eq!(api_src.to, api_new);
    let g = &api_src.groups;
    assert_eq!(subjects(&g.breaking), ["refactor(api)!: drop the v1 API"]);
    assert_eq!(g.breaking[0].scope.as_deref(), Some("api"));
    assert_eq!(
        subjects(&g.features),
        ["feat(orders): add the orders endpoint (#12)"]
    );
    assert_eq!(g.features[0].pull_request, Some(12));
    assert_eq!(subjects(&g.fixes), ["fix: handle an empty cart"]);
    assert_eq!(g.fixes[0].pull_request, Some(15));
    let issues: Vec<_> = g.fixes[0]
        .issues
        .iter()
        .map(|i| (i.key.as_str(), i.url.as_deref()))
        .collect();
    assert_eq!(
        issues,
        [
            ("#7", None),
            ("PROJ-42", Some("https://jira.example.com/browse/PROJ-42"))
        ]
    );
    assert_eq!(
        subjects(&g.performance),
        ["perf(prices): cache price lookups"]
    );
    let mut other = subjects(&g.other);
    other.sort();
    assert_eq!(other, ["Update README", "add a test for the empty cart"]);
    let from_branch = g
        .other
        .iter()
        .find(|c| c.subject.starts_with("add a test"))
        .unwrap();
    assert_eq!(from_branch.pull_request, Some(15));
    assert_eq!(from_branch.author.name, "Ada Lovelace");
    assert!(
        from_branch.date.starts_with("2026-01-01T"),
        "{}",
        from_branch.date
    );

    // Code of web: the old revision is gone; explained, recent commits shown.
    let web_src = notes
        .sources
        .iter()
        .find(|s| s.repo_url == web.url())
        .expect("web source");
    assert_eq!(web_src.to, web_new);
    assert_eq!(web_src.groups.len(), 1, "first-release limit of 1");
    assert!(web_src.truncated);
    assert_eq!(subjects(&web_src.groups.features), ["feat(ui): dark mode"]);
    let joined = notes.notes.join("\n");
    assert!(
        joined.contains(&format!("none of the revisions {}", &web_gone[..10])),
        "{joined}"
    );

    // Worker: no labels, no mapping → a note, no failure.
    assert!(
        joined.contains(&format!("{reg}/acme/worker:2: labels not read")),
        "{joined}"
    );
    assert!(
        joined.contains("acme/worker:2: no source known"),
        "{joined}"
    );

    // Markdown has every group.
    let md = ferry_notes::markdown(&notes);
    for heading in [
        "#### Breaking changes",
        "#### Features",
        "#### Fixes",
        "#### Performance",
        "#### Other changes",
        "## Configuration changes",
        "## Notes",
    ] {
        assert!(md.contains(heading), "{heading} missing:\n{md}");
    }
    let pr = ferry_notes::markdown_for_pr(
        &notes,
        600,
        Some("https://ferry.example.com/releases/x/notes"),
    );
    assert!(pr.chars().count() <= 600, "{}", pr.len());
    assert!(
        pr.ends_with("the full notes: https://ferry.example.com/releases/x/notes\n"),
        "{pr}"
    );

    // By default a label naming a local path is not followed: labels are
    // written by whoever builds an image.
    let strict = NotesBuilder::new(
        workspace(&cache),
        Arc::new(OciClient::new(OciSettings::default()).unwrap()),
        NotesSettings::default(),
    );
    let notes = strict.build(&second, Some(&first), Some(&spec)).await;
    assert!(notes.images[0].source.is_none(), "{:?}", notes.images[0]);
    assert!(notes.sources.iter().all(|s| s.repo_url != api.url()));
    let joined = notes.notes.join("\n");
    assert!(
        joined.contains("is not a remote repository URL; ignored"),
        "{joined}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_release_and_rewritten_history() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut gitops = Repo::init(root.join("gitops"));
    for i in 0..5 {
        gitops.commit_file(
            "apps/a/values.yaml",
            &format!("n: {i}\n"),
            &format!("fix: change {i}"),
        );
    }
    let tip = gitops.head();
    let now = release(
        "p",
        1,
        "1",
        vec![(
            "a",
            app_snapshot("a-dev", &gitops.url(), "apps/a", &tip, vec![]),
        )],
    );
    let builder = NotesBuilder::new(
        workspace(&root.join("mirrors")),
        Arc::new(OciClient::new(OciSettings::default()).unwrap()),
        NotesSettings {
            max_commits: 100,
            first_release_limit: 3,
            allow_local_sources: true,
            ..NotesSettings::default()
        },
    );
    // First release: the configured limit, truncation flagged.
    let notes = builder.build(&now, None, None).await;
    assert!(notes.previous_release.is_none());
    assert_eq!(
        subjects(&notes.configuration[0].commits),
        ["fix: change 4", "fix: change 3", "fix: change 2"]
    );
    assert!(notes.configuration[0].truncated);
    assert!(notes.notes.is_empty(), "{:?}", notes.notes);

    // A previous revision that is not an ancestor (rebased away, still in
    // the mirror): explained, and the new side listed.
    gitops.run(&["checkout", "-q", "-b", "side", "HEAD~2"]);
    let side = gitops.commit_file("apps/a/values.yaml", "n: side\n", "chore: side change");
    let before = release(
        "p",
        1,
        "0",
        vec![(
            "a",
            app_snapshot("a-dev", &gitops.url(), "apps/a", &side, vec![]),
        )],
    );
    let again = release(
        "p",
        2,
        "1",
        vec![(
            "a",
            app_snapshot("a-dev", &gitops.url(), "apps/a", &tip, vec![]),
        )],
    );
    let notes = builder.build(&again, Some(&before), None).await;
    assert_eq!(
        subjects(&notes.configuration[0].commits),
        ["fix: change 4", "fix: change 3"]
    );
    assert!(
        notes.notes[0].contains("is not an ancestor"),
        "{:?}",
        notes.notes
    );

    // A repository that does not exist: a note, nothing else fails.
    let missing = release(
        "p",
        3,
        "1",
        vec![(
            "a",
            app_snapshot(
                "a-dev",
                &root.join("nope").display().to_string(),
                "apps/a",
                &tip,
                vec![],
            ),
        )],
    );
    let notes = builder.build(&missing, None, None).await;
    assert!(notes.configuration.is_empty());
    assert!(
        notes.notes[0].contains("configuration repository not available"),
        "{:?}",
        notes.notes
    );
}
