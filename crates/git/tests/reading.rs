//! Reading a real repository through a mirror: revisions, files,
//! directories, commit metadata, ancestry and path history.

mod common;

use common::*;
use ferry_git::{EntryKind, Error, Mirror, Remote};

fn setup() -> (TempDir, std::path::PathBuf, Mirror) {
    let tmp = TempDir::new("read");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap();
    (tmp, remote, mirror)
}

#[test]
fn resolves_branches_tags_shas_and_head() {
    let (tmp, remote, mirror) = setup();
    let main = rev_parse(&remote, "main");
    let second = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/trio/version.yaml", "version: 55\n")],
        "bump qa",
    );
    git(&remote, &["tag", "v1", &main]);
    git(&remote, &["tag", "-a", "-m", "annotated", "v2", &second]);
    git(&remote, &["branch", "release", &main]);
    mirror.fetch().unwrap();

    assert_eq!(mirror.resolve("main").unwrap().to_string(), second);
    assert_eq!(
        mirror.resolve("refs/heads/main").unwrap().to_string(),
        second
    );
    assert_eq!(mirror.resolve("HEAD").unwrap().to_string(), second);
    assert_eq!(mirror.resolve("release").unwrap().to_string(), main);
    assert_eq!(mirror.resolve("v1").unwrap().to_string(), main);
    // An annotated tag resolves to its commit, not the tag object.
    assert_eq!(mirror.resolve("v2").unwrap().to_string(), second);
    assert_eq!(mirror.resolve(&main).unwrap().to_string(), main);
    assert_eq!(mirror.resolve(&main[..8]).unwrap().to_string(), main);

    for missing in ["nope", "refs/heads/nope", "", "--all", "0000000"] {
        let err = mirror.resolve(missing).unwrap_err();
        assert!(
            matches!(err, Error::RevisionNotFound { .. }),
            "{missing}: {err}"
        );
    }

    let info = mirror.commit_info("main").unwrap();
    assert_eq!(info.id.to_string(), second);
    assert_eq!(info.branch.as_deref(), Some("main"));
    assert_eq!(info.subject(), "bump qa");
    assert_eq!(info.author.name, "Test Author");
    assert_eq!(info.author.email, "author@example.com");
    assert_eq!(info.committer.name, "Test Committer");
    assert_eq!(info.parents.len(), 1);
    assert_eq!(info.parents[0].to_string(), main);
    assert!(info.author.time.seconds > 1_600_000_000);
    assert_eq!(mirror.commit_info(&main).unwrap().branch, None);
}

#[test]
fn reads_files_and_lists_directories_at_revisions() {
    let (tmp, remote, mirror) = setup();
    let first = rev_parse(&remote, "main");
    external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/trio/version.yaml", "version: 55\n")],
        "bump",
    );
    mirror.fetch().unwrap();

    assert_eq!(
        mirror
            .read_file(&first, "envs/qa/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 54.1\n"
    );
    assert_eq!(
        mirror
            .read_file("main", "envs/qa/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 55\n"
    );
    assert_eq!(
        mirror
            .read_file("main", "./envs/qa/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 55\n"
    );
    assert_eq!(
        mirror
            .read_file("main", "envs/qa/trio/missing.yaml")
            .unwrap(),
        None
    );
    assert!(matches!(
        mirror.read_file("main", "envs/qa").unwrap_err(),
        Error::PathConflict { .. }
    ));
    assert!(matches!(
        mirror.read_file("main", "../etc/passwd").unwrap_err(),
        Error::InvalidPath { .. }
    ));

    let listing = mirror.list_dir("main", "envs/qa/trio", false).unwrap();
    let names: Vec<_> = listing.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "envs/qa/trio/Chart.yaml",
            "envs/qa/trio/values.yaml",
            "envs/qa/trio/version.yaml"
        ]
    );
    assert!(listing.iter().all(|e| e.kind == EntryKind::File));

    let shallow = mirror.list_dir("main", "envs/qa", false).unwrap();
    assert_eq!(shallow.len(), 6); // trio + svc-0..4
    assert!(shallow.iter().all(|e| e.kind == EntryKind::Directory));

    let deep = mirror.list_dir("main", "envs/qa", true).unwrap();
    assert_eq!(deep.len(), 3 + 5);
    assert!(
        deep.iter()
            .any(|e| e.path == "envs/qa/svc-3/config/app.yaml")
    );
    assert_eq!(
        mirror.list_dir("main", "", true).unwrap().len(),
        gitops_files().len()
    );

    let reader = mirror.at("main").unwrap();
    assert!(reader.exists("envs/qa").unwrap());
    assert!(!reader.exists("envs/nowhere").unwrap());
    assert!(matches!(
        reader.list_dir("envs/nowhere", false).unwrap_err(),
        Error::PathNotFound { .. }
    ));
    assert!(matches!(
        reader.list_dir("README.md", false).unwrap_err(),
        Error::PathConflict { .. }
    ));
}

#[test]
fn ancestry_and_commits_touching_a_path() {
    let (tmp, remote, mirror) = setup();
    let base = rev_parse(&remote, "main");
    let qa1 = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/trio/values.yaml", "a: 1\n")],
        "qa one",
    );
    let _dev = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/dev/trio/values.yaml", "a: 2\n")],
        "dev only",
    );
    let qa2 = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/svc-1/config/app.yaml", "b: 3\n")],
        "qa two",
    );
    mirror.fetch().unwrap();
    let [base, qa1, qa2] = [&base, &qa1, &qa2].map(|s| s.parse::<ferry_git::Oid>().unwrap());

    assert!(mirror.is_ancestor(base, qa2).unwrap());
    assert!(mirror.is_ancestor(qa2, qa2).unwrap());
    assert!(!mirror.is_ancestor(qa2, base).unwrap());

    let touching = mirror
        .commits_touching(Some(base), qa2, "envs/qa", 100)
        .unwrap();
    let subjects: Vec<_> = touching.iter().map(|c| c.subject()).collect();
    assert_eq!(subjects, ["qa two", "qa one"]);
    let file_only = mirror
        .commits_touching(Some(base), qa2, "envs/qa/trio/values.yaml", 100)
        .unwrap();
    assert_eq!(file_only.len(), 1);
    assert_eq!(file_only[0].id, qa1);
    // Without a lower bound the initial commit (which created the path) counts.
    let all = mirror.commits_touching(None, qa2, "envs/qa", 100).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[2].id, base);
    assert_eq!(
        mirror
            .commits_touching(None, qa2, "envs/qa", 1)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        mirror.commits_touching(None, qa2, "", 100).unwrap().len(),
        4
    );
}

#[test]
fn fetch_requests_made_before_a_fetch_started_share_it() {
    let (tmp, remote, mirror) = setup();
    let before_push = std::time::SystemTime::now();
    let first = external_push(tmp.path(), &remote, "main", &[("a.txt", "1\n")], "one");
    let requested = std::time::SystemTime::now();
    assert!(
        mirror.fetch_since(requested).unwrap(),
        "nothing fetched since the request: fetch"
    );
    assert_eq!(mirror.resolve("main").unwrap().to_string(), first);
    // Requests older than that fetch's start are already satisfied.
    assert!(!mirror.fetch_since(requested).unwrap());
    assert!(!mirror.fetch_since(before_push).unwrap());
    // Another handle on the same cache (another task or process) shares the record.
    let other = Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap();
    assert!(!other.fetch_since(requested).unwrap());
    // A new request fetches again and sees the new commit.
    let second = external_push(tmp.path(), &remote, "main", &[("a.txt", "2\n")], "two");
    assert!(other.fetch().unwrap());
    assert_eq!(mirror.resolve("main").unwrap().to_string(), second);
}

#[test]
fn a_deleted_remote_branch_is_pruned_and_tags_follow() {
    let (_tmp, remote, mirror) = setup();
    git(&remote, &["branch", "feature", "main"]);
    git(&remote, &["tag", "v9", "main"]);
    mirror.fetch().unwrap();
    assert!(mirror.resolve("feature").is_ok());
    assert!(mirror.resolve("v9").is_ok());
    git(&remote, &["branch", "-D", "feature"]);
    git(&remote, &["tag", "-d", "v9"]);
    mirror.fetch().unwrap();
    assert!(matches!(
        mirror.resolve("feature").unwrap_err(),
        Error::RevisionNotFound { .. }
    ));
    assert!(matches!(
        mirror.resolve("v9").unwrap_err(),
        Error::RevisionNotFound { .. }
    ));
}
