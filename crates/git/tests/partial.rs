//! Partial mirrors (issue 24): cloned with `--filter=tree:0` from servers
//! that allow filters, trees and blobs fetched by id when first read —
//! over `file://` and over real smart HTTP (`git http-backend`), with
//! `uploadpack.allowFilter` on (a partial mirror) and off (git ignores the
//! filter: a full mirror).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::http::{Auth, GitHttpServer};
use common::*;
use ferry_git::{
    Change, CommitSpec, Credentials, EntryKind, Mirror, Prefetch, PushOptions, PushTarget, Remote,
    Signature, prefetch_together, promotion_message,
};

const PASSWORD: &str = "partial-clone-password-42";

fn spec(release: &str) -> CommitSpec {
    CommitSpec {
        author: Signature::new("Ferry Bot", "ferry@example.com"),
        committer: None,
        message: promotion_message("trio", "2.0", "qa", "trio-qa", release),
    }
}

fn allow_filter(remote: &Path, on: bool) {
    git(
        remote,
        &[
            "config",
            "uploadpack.allowFilter",
            if on { "true" } else { "false" },
        ],
    );
}

/// Object ids in the mirror's packs and loose objects.
fn objects(mirror: &Mirror) -> BTreeSet<String> {
    let out = git(
        mirror.path(),
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname) %(objecttype)",
        ],
    );
    out.lines().map(|l| l.to_string()).collect()
}

fn count(mirror: &Mirror, kind: &str) -> usize {
    objects(mirror)
        .iter()
        .filter(|l| l.ends_with(&format!(" {kind}")))
        .count()
}

/// A remote with the GitOps layout and some history on one path.
fn remote_with_history(root: &Path) -> std::path::PathBuf {
    let files = gitops_files();
    let remote = bare_remote(root, "gitops", &as_refs(&files));
    for i in 0..3 {
        external_push(
            root,
            &remote,
            "main",
            &[("envs/dev/trio/values.yaml", &format!("tag: \"{i}\"\n"))],
            &format!("dev {i}"),
        );
    }
    external_push(
        root,
        &remote,
        "main",
        &[("envs/qa/svc-1/config/app.yaml", "svc: 1\nenv: qa\nx: 1\n")],
        "qa svc-1",
    );
    remote
}

#[test]
fn a_filtering_server_gives_a_partial_mirror_that_reads_what_it_needs() {
    let tmp = TempDir::new("partial-file");
    let remote = remote_with_history(tmp.path());
    allow_filter(&remote, true);
    let url = format!("file://{}", remote.display());
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&url).unwrap()).unwrap();
    assert!(mirror.is_partial());
    // Every commit, no tree and no blob.
    assert_eq!(count(&mirror, "commit"), 5);
    assert_eq!(count(&mirror, "tree") + count(&mirror, "blob"), 0);
    // Commits read at once: metadata and ancestry.
    let tip = mirror.commit_info("main").unwrap();
    assert_eq!(tip.subject(), "qa svc-1");
    assert!(mirror.is_ancestor(tip.parents[0], tip.id).unwrap());

    let reader = mirror.at("main").unwrap();
    reader
        .prefetch(
            &["envs/dev/trio/values.yaml", "envs/dev/trio/version.yaml"],
            &[],
        )
        .unwrap();
    let (trees, blobs) = (count(&mirror, "tree"), count(&mirror, "blob"));
    assert_eq!(blobs, 2, "only the two files' blobs");
    // root, envs, dev, trio and the trees directly in the fetched ones
    // (qa, staging, prod under envs; svc-N under dev): far from all 33.
    assert!(trees < 20, "{trees} trees fetched");
    // Reading them now needs nothing more.
    let before = objects(&mirror);
    assert_eq!(
        reader
            .read_file("envs/dev/trio/values.yaml")
            .unwrap()
            .unwrap(),
        b"tag: \"2\"\n"
    );
    assert_eq!(objects(&mirror), before);

    // Reads not prepared fetch what they meet.
    assert_eq!(
        reader
            .read_file("envs/prod/svc-3/config/app.yaml")
            .unwrap()
            .unwrap(),
        b"svc: 3\nenv: prod\n"
    );
    // Absent paths are absent, not "not fetched".
    assert_eq!(reader.read_file("envs/prod/nope.yaml").unwrap(), None);
    assert!(!reader.exists("envs/nowhere/x").unwrap());
    assert!(reader.exists("envs/staging/svc-4").unwrap());
    // A recursive listing fetches the directory's trees in one go.
    let listing = reader.list_dir("envs/staging", true).unwrap();
    assert_eq!(listing.len(), 8, "{listing:?}");
    assert!(listing.iter().all(|e| e.kind == EntryKind::File));
    // A whole directory's contents.
    reader.prefetch(&[], &["envs/staging"]).unwrap();
    let offline = mirror.at_offline("main").unwrap();
    for entry in &listing {
        assert!(offline.read_file(&entry.path).unwrap().is_some());
    }
    // The offline reader never fetches: a blob not read yet is an error.
    assert!(offline.read_file("README.md").is_err());
    assert!(reader.read_file("README.md").unwrap().is_some());
}

/// Packs fetched into the mirror since its clone: one per `git fetch`
/// (fetches from a promisor remote always keep their pack).
fn fetches(mirror: &Mirror) -> usize {
    let packs = std::fs::read_dir(mirror.path().join("objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count();
    packs - 1
}

#[test]
fn a_promotions_source_and_target_are_fetched_in_shared_rounds() {
    let tmp = TempDir::new("partial-together");
    let remote = remote_with_history(tmp.path());
    // The target branch differs from the source's on the target's paths,
    // so every tree on them is another object.
    git(&remote, &["branch", "release", "main"]);
    external_push(
        tmp.path(),
        &remote,
        "release",
        &[
            ("envs/qa/trio/values.yaml", "tag: \"qa\"\n"),
            ("envs/qa/notes.yaml", "notes: qa\n"),
        ],
        "qa on release",
    );
    allow_filter(&remote, true);
    let url = format!("file://{}", remote.display());
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&url).unwrap()).unwrap();
    assert_eq!(fetches(&mirror), 0);
    let source = mirror.at("main").unwrap();
    let target = mirror.at("release").unwrap();
    let (source_files, target_files) = (
        ["envs/dev/trio/values.yaml", "envs/dev/trio/version.yaml"],
        ["envs/qa/trio/values.yaml", "envs/qa/notes.yaml"],
    );
    prefetch_together(&[
        Prefetch {
            reader: &source,
            files: &source_files,
            dirs: &[],
        },
        Prefetch {
            reader: &target,
            files: &target_files,
            dirs: &[],
        },
    ])
    .unwrap();
    // Three rounds for both sides, what the source alone costs: both roots
    // with `envs`; `dev` with the trees directly in it beside `qa` with
    // its trees and blobs (`notes.yaml` is directly in it) — two fetches
    // at once; the blobs still missing.
    assert_eq!(fetches(&mirror), 4);
    // Read one after the other, the same costs 3 + 3 fetches in 6 rounds.
    let apart = Mirror::open(&tmp.join("cache-apart"), Remote::local(&url).unwrap()).unwrap();
    apart
        .at("main")
        .unwrap()
        .prefetch(&source_files, &[])
        .unwrap();
    assert_eq!(fetches(&apart), 3);
    apart
        .at("release")
        .unwrap()
        .prefetch(&target_files, &[])
        .unwrap();
    assert_eq!(fetches(&apart), 6);
    let blobs = count(&mirror, "blob");
    assert!(
        blobs <= 5,
        "the wanted files and the other files of qa: {blobs}"
    );
    // Everything is readable without the network now.
    let offline_source = mirror.at_offline("main").unwrap();
    let offline_target = mirror.at_offline("release").unwrap();
    for (reader, file, expected) in [
        (&offline_source, source_files[0], "tag: \"2\"\n"),
        (&offline_source, source_files[1], "version: 54.1\n"),
        (&offline_target, target_files[0], "tag: \"qa\"\n"),
        (&offline_target, target_files[1], "notes: qa\n"),
    ] {
        assert_eq!(
            String::from_utf8(reader.read_file(file).unwrap().unwrap()).unwrap(),
            expected,
            "{file}"
        );
    }
    // A commit on the target finds its paths here and fetches nothing.
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("release"),
            &spec("01TOGETHER"),
            &PushOptions::default(),
            |tree| {
                tree.prefetch(&target_files, &[])?;
                let old = tree.read_file(target_files[0])?.unwrap();
                let mut new = old.clone();
                new.extend_from_slice(b"# promoted\n");
                Ok::<_, ferry_git::Error>(vec![Change::write(target_files[0], new)])
            },
        )
        .unwrap();
    assert_eq!(
        outcome.commit.unwrap().to_string(),
        rev_parse(&remote, "release")
    );
    assert_eq!(fetches(&mirror), 4);
}

#[test]
fn history_of_a_path_on_a_partial_mirror_equals_the_full_mirrors() {
    let tmp = TempDir::new("partial-history");
    let remote = remote_with_history(tmp.path());
    let full = Mirror::open(&tmp.join("full"), Remote::local(&remote).unwrap()).unwrap();
    assert!(!full.is_partial(), "a local clone ignores filters");
    allow_filter(&remote, true);
    let url = format!("file://{}", remote.display());
    let partial = Mirror::open(&tmp.join("partial"), Remote::local(&url).unwrap()).unwrap();
    assert!(partial.is_partial());
    let tip = full.resolve("main").unwrap();
    for path in [
        "envs/dev/trio",
        "envs/dev/trio/values.yaml",
        "envs/qa",
        "README.md",
        "",
    ] {
        let ids = |m: &Mirror| -> Vec<String> {
            m.commits_touching(None, tip, path, 100)
                .unwrap()
                .iter()
                .map(|c| c.id.to_string())
                .collect()
        };
        assert_eq!(ids(&partial), ids(&full), "{path}");
    }
    // Only the trees on those paths came, no blob.
    assert_eq!(count(&partial, "blob"), 0);
}

#[test]
fn commit_and_push_from_a_partial_mirror_and_its_trailer_lookup() {
    let tmp = TempDir::new("partial-push");
    let remote = remote_with_history(tmp.path());
    allow_filter(&remote, true);
    let url = format!("file://{}", remote.display());
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&url).unwrap()).unwrap();
    let push = |release: &str, content: &str| {
        mirror
            .commit_and_push(
                &PushTarget::branch("main"),
                &spec(release),
                &PushOptions::default(),
                |tree| {
                    let old = tree.read_file("envs/qa/trio/values.yaml")?.unwrap();
                    assert!(!old.is_empty());
                    Ok::<_, ferry_git::Error>(vec![Change::write(
                        "envs/qa/trio/values.yaml",
                        content.to_string(),
                    )])
                },
            )
            .unwrap()
    };
    let first = push("01PARTIAL", "tag: \"2\"\n");
    assert!(!first.reused);
    assert_eq!(
        first.commit.unwrap().to_string(),
        rev_parse(&remote, "main")
    );
    assert_eq!(
        git(&remote, &["show", "main:envs/qa/trio/values.yaml"]),
        "tag: \"2\""
    );
    // The commit changed one file: every other path kept its tree.
    assert_eq!(
        git(&remote, &["diff", "--name-only", "main~1", "main"]),
        "envs/qa/trio/values.yaml"
    );
    let blobs = count(&mirror, "blob");
    // The same promotion again: found by its trailers (commits only), not
    // committed twice, and nothing fetched for it.
    let again = push("01PARTIAL", "tag: \"3\"\n");
    assert!(again.reused);
    assert_eq!(again.commit, first.commit);
    assert_eq!(count(&mirror, "blob"), blobs);

    // Someone else pushes; an ordinary fetch brings their commit in, and
    // the next push builds on it.
    let external = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/prod/trio/version.yaml", "version: 99\n")],
        "external",
    );
    mirror.fetch().unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_string(), external);
    assert_eq!(
        mirror
            .read_file("main", "envs/prod/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 99\n"
    );
    let third = push("01PARTIAL-2", "tag: \"4\"\n");
    assert_eq!(
        git(&remote, &["rev-parse", "main~1"]),
        external,
        "built on the fetched tip"
    );
    assert_eq!(
        third.commit.unwrap().to_string(),
        rev_parse(&remote, "main")
    );
    assert_only_fast_forwards(&remote, "main");
    // A dry-run diff reads the old side through the partial mirror.
    let diff = mirror
        .at("main")
        .unwrap()
        .diff(&[Change::write("envs/staging/trio/values.yaml", "x: 1\n")])
        .unwrap();
    assert!(
        diff.contains("-flask-ui:") && diff.contains("+x: 1"),
        "{diff}"
    );
}

/// Over smart HTTP with Basic authentication: `allow` decides whether the
/// server honours filters.
fn over_http(allow: bool) {
    let tmp = TempDir::new(if allow {
        "partial-http-on"
    } else {
        "partial-http-off"
    });
    let root = tmp.join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let remote = remote_with_history(&root);
    allow_filter(&remote, allow);
    let server = GitHttpServer::start(
        root,
        Auth::Basic {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    let credentials = Credentials::Basic {
        username: "alice".into(),
        password: PASSWORD.into(),
    };
    let remote_url = server.url("gitops.git");
    let mirror = Mirror::open(
        &tmp.join("cache"),
        Remote::new(&remote_url, credentials).unwrap(),
    )
    .unwrap();
    assert_eq!(mirror.is_partial(), allow);
    let trees = count(&mirror, "tree");
    if allow {
        assert_eq!(trees, 0);
    } else {
        assert!(trees > 20, "a full mirror has every tree: {trees}");
    }
    let reader = mirror.at("main").unwrap();
    reader
        .prefetch(&["envs/qa/trio/values.yaml"], &["envs/dev/trio"])
        .unwrap();
    assert_eq!(
        reader
            .read_file("envs/dev/trio/values.yaml")
            .unwrap()
            .unwrap(),
        b"tag: \"2\"\n"
    );
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec(if allow { "01HTTPON" } else { "01HTTPOFF" }),
            &PushOptions::default(),
            |tree| {
                let old = tree.read_file("envs/qa/trio/values.yaml")?.unwrap();
                let mut new = old.clone();
                new.extend_from_slice(b"# promoted\n");
                Ok::<_, ferry_git::Error>(vec![Change::write("envs/qa/trio/values.yaml", new)])
            },
        )
        .unwrap();
    assert_eq!(
        outcome.commit.unwrap().to_string(),
        rev_parse(&remote, "main")
    );
    external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/prod/trio/version.yaml", "version: 7\n")],
        "external",
    );
    mirror.fetch().unwrap();
    assert_eq!(
        mirror
            .read_file("main", "envs/prod/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 7\n"
    );
    let log = server.log.lock().unwrap();
    assert!(log.leaked_argv.is_empty(), "{:?}", log.leaked_argv);
    assert_eq!(log.rejected, 0, "every request authenticated: {log:?}");
    if allow {
        // Object fetches went over HTTP too (more upload-pack requests
        // than the clone and the one fetch).
        let uploads = log
            .requests
            .iter()
            .filter(|r| r.starts_with("POST") && r.contains("git-upload-pack"))
            .count();
        assert!(uploads > 3, "{log:?}");
    }
    let config = std::fs::read_to_string(mirror.path().join("config")).unwrap();
    assert!(!config.contains(PASSWORD), "{config}");
}

#[test]
fn over_http_with_filters_allowed() {
    over_http(true);
}

#[test]
fn over_http_with_filters_refused_the_mirror_is_full() {
    over_http(false);
}

#[test]
fn a_symbolic_link_on_the_path_is_seen_on_a_partial_mirror() {
    let tmp = TempDir::new("partial-link");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let work = tmp.join("work");
    git(
        tmp.path(),
        &[
            "clone",
            "--quiet",
            remote.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    std::os::unix::fs::symlink("../prod", work.join("envs/link")).unwrap();
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "link"]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    allow_filter(&remote, true);
    let url = format!("file://{}", remote.display());
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&url).unwrap()).unwrap();
    assert!(mirror.is_partial());
    let reader = mirror.at("main").unwrap();
    assert_eq!(
        reader
            .symlink_on_path("envs/link/trio/values.yaml")
            .unwrap(),
        Some("envs/link".to_string())
    );
    assert_eq!(
        reader.symlink_on_path("envs/qa/trio/values.yaml").unwrap(),
        None
    );
}
