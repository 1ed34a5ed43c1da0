//! Promotion commits on real repositories over `file://` and local paths:
//! minimal trees, races, idempotency, pull-request branches.

mod common;

use std::convert::Infallible;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use ferry_git::{
    Change, CommitMessage, CommitSpec, Error, Mirror, Oid, PushOptions, PushTarget, Remote,
    Signature, Trailer, promotion_message,
};

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn spec(release: &str, env: &str, app: &str) -> CommitSpec {
    CommitSpec {
        author: Signature::new("Ferry Bot", "ferry@example.com"),
        committer: Some(Signature::new("Ferry Committer", "committer@ferry.example")),
        message: promotion_message("trio", "54.2", env, app, release),
    }
}

fn tree_of(repo: &Path, rev: &str, path: &str) -> String {
    git(repo, &["rev-parse", &format!("{rev}:{path}")])
}

fn qa_edit() -> Vec<Change> {
    vec![
        Change::write(
            "envs/qa/trio/values.yaml",
            "flask-ui:\n  image:\n    tag: \"1.21\"  # pinned\n",
        ),
        Change::write("envs/qa/trio/version.yaml", "version: 54.2\n"),
    ]
}

fn setup(label: &str) -> (TempDir, std::path::PathBuf, Mirror) {
    let tmp = TempDir::new(label);
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror = Mirror::open(
        &tmp.join("cache"),
        Remote::new(&file_url(&remote), Default::default()).unwrap(),
    )
    .unwrap();
    (tmp, remote, mirror)
}

#[test]
fn commit_rewrites_only_the_changed_blobs_and_their_trees() {
    let (_tmp, remote, mirror) = setup("minimal");
    let before = rev_parse(&remote, "main");
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01REL", "qa", "trio-qa"),
            &PushOptions::default(),
            |tree| {
                // The reader shows the branch tip.
                assert_eq!(tree.commit_id().to_string(), before);
                assert_eq!(
                    tree.read_file("envs/qa/trio/version.yaml")
                        .unwrap()
                        .unwrap(),
                    b"version: 54.1\n"
                );
                Ok::<_, Infallible>(qa_edit())
            },
        )
        .unwrap();
    let after = rev_parse(&remote, "main");
    assert_eq!(outcome.commit.unwrap().to_string(), after);
    assert!(!outcome.reused);
    assert_eq!(outcome.attempts, 1);
    assert_eq!(outcome.base.unwrap().to_string(), before);

    // History preserved: one new commit on top of the old tip.
    assert_eq!(rev_parse(&remote, "main^"), before);
    // Exactly the two files changed.
    let diff = git(&remote, &["diff", "--name-status", &before, &after]);
    assert_eq!(
        diff,
        "M\tenvs/qa/trio/values.yaml\nM\tenvs/qa/trio/version.yaml"
    );
    assert_eq!(
        git(&remote, &["show", "main:envs/qa/trio/version.yaml"]),
        "version: 54.2"
    );
    // Untouched directories keep their tree ids; only the path to the root changes.
    for untouched in [
        "apps",
        "envs/dev",
        "envs/prod",
        "envs/staging",
        "envs/qa/svc-0",
        "envs/qa/svc-4/config",
    ] {
        assert_eq!(
            tree_of(&remote, &before, untouched),
            tree_of(&remote, &after, untouched),
            "{untouched}"
        );
    }
    for changed in ["envs", "envs/qa", "envs/qa/trio"] {
        assert_ne!(
            tree_of(&remote, &before, changed),
            tree_of(&remote, &after, changed),
            "{changed}"
        );
    }
    // Author, committer, message and trailers as specified.
    let fmt = git(
        &remote,
        &["log", "-1", "--format=%an <%ae>|%cn <%ce>|%s", "main"],
    );
    assert_eq!(
        fmt,
        "Ferry Bot <ferry@example.com>|Ferry Committer <committer@ferry.example>|promote trio 54.2 to qa (trio-qa)"
    );
    let trailers = git(
        &remote,
        &["log", "-1", "--format=%(trailers:only,unfold)", "main"],
    );
    assert_eq!(
        trailers,
        "Ferry-Release: 01REL\nFerry-Environment: qa\nFerry-Application: trio-qa"
    );
    // The remote repository is consistent.
    git(&remote, &["fsck", "--strict", "--no-progress"]);
    // The mirror knows its own push without fetching.
    assert_eq!(mirror.resolve("main").unwrap().to_string(), after);
    assert_eq!(
        mirror.commit_info("main").unwrap().trailers(),
        ferry_git::promotion_trailers("01REL", "qa", "trio-qa")
    );
}

#[test]
fn adds_deletes_nested_dirs_and_keeps_modes() {
    let (tmp, remote, mirror) = setup("add-delete");
    // An executable script, to check its mode survives a rewrite.
    let work = tmp.join("exec");
    git(
        tmp.path(),
        &[
            "clone",
            "--quiet",
            remote.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    write(&work.join("envs/qa/hooks/run.sh"), "#!/bin/sh\n");
    git(&work, &["add", "-A"]);
    git(
        &work,
        &["update-index", "--chmod=+x", "envs/qa/hooks/run.sh"],
    );
    git(&work, &["commit", "--quiet", "-m", "hook"]);
    git(&work, &["push", "--quiet", "origin", "main"]);
    mirror.fetch().unwrap();

    let changes = vec![
        Change::write("envs/qa/new/deeply/nested/file.yaml", "x: 1\n"),
        Change::write("envs/qa/hooks/run.sh", "#!/bin/sh\necho hi\n"),
        Change::delete("envs/prod/svc-2/config/app.yaml"), // its dirs become empty and vanish
        Change::delete("envs/prod/does/not/exist.yaml"),
        Change::delete("README.md"),
    ];
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01ADD", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(changes.clone()),
        )
        .unwrap();
    assert!(outcome.commit.is_some());
    let diff = git(&remote, &["diff", "--name-status", "main^", "main"]);
    assert_eq!(
        diff,
        "D\tREADME.md\n\
         D\tenvs/prod/svc-2/config/app.yaml\n\
         M\tenvs/qa/hooks/run.sh\n\
         A\tenvs/qa/new/deeply/nested/file.yaml"
    );
    assert!(
        git(&remote, &["ls-tree", "main", "envs/prod/"])
            .lines()
            .all(|l| !l.ends_with("svc-2"))
    );
    assert!(git(&remote, &["ls-tree", "main", "envs/qa/hooks/run.sh"]).starts_with("100755 "));
    git(&remote, &["fsck", "--strict", "--no-progress"]);
}

#[test]
fn no_change_means_no_commit() {
    let (_tmp, remote, mirror) = setup("nochange");
    let before = rev_parse(&remote, "main");
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01NOP", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![
                    Change::write("envs/qa/trio/version.yaml", "version: 54.1\n"), // same bytes
                    Change::delete("envs/qa/absent.yaml"),
                ])
            },
        )
        .unwrap();
    assert_eq!(outcome.commit, None);
    assert_eq!(outcome.attempts, 0);
    assert_eq!(rev_parse(&remote, "main"), before);
}

#[test]
fn conflicting_and_invalid_changes_are_clear_errors() {
    let (_tmp, remote, mirror) = setup("conflict");
    let before = rev_parse(&remote, "main");
    let cases: Vec<(Vec<Change>, &str)> = vec![
        (vec![Change::write("envs/qa", "x")], "a directory is there"),
        (
            vec![Change::write("README.md/inner.yaml", "x")],
            "a file is there",
        ),
        (vec![Change::delete("envs/qa")], "is a directory"),
        (
            vec![Change::write("../outside", "x")],
            "invalid path `../outside`",
        ),
        (vec![Change::write(".git/config", "x")], "invalid path"),
        (
            vec![Change::write("a/b", "x"), Change::write("a/b/c", "y")],
            "both as a file and as a directory",
        ),
    ];
    for (changes, expected) in cases {
        let err = mirror
            .commit_and_push(
                &PushTarget::branch("main"),
                &spec("01ERR", "qa", "trio-qa"),
                &PushOptions::default(),
                |_| Ok::<_, Infallible>(changes.clone()),
            )
            .unwrap_err();
        assert!(err.to_string().contains(expected), "{changes:?}: {err}");
    }
    // The caller's own error is carried through.
    let err = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01ERR", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| {
                Err::<Vec<Change>, _>(std::io::Error::other(
                    "values.yaml:3:7: path $.image not found",
                ))
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Changes { .. }));
    assert!(err.to_string().contains("values.yaml:3:7"), "{err}");
    let err = mirror
        .commit_and_push(
            &PushTarget::branch("nope"),
            &spec("01ERR", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap_err();
    assert!(matches!(err, Error::RevisionNotFound { .. }), "{err}");
    assert_eq!(rev_parse(&remote, "main"), before);
}

#[test]
fn lost_race_is_retried_on_the_new_tip_without_force() {
    let (tmp, remote, mirror) = setup("race");
    let calls = AtomicU32::new(0);
    let mut external = None;
    let options = PushOptions {
        fetch_first: true,
        ..PushOptions::default()
    };
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01RACE", "qa", "trio-qa"),
            &options,
            |tree| {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    // After our fetch, before our push: another process pushes.
                    external = Some(external_push(
                        tmp.path(),
                        &remote,
                        "main",
                        &[("envs/dev/trio/version.yaml", "version: 99\n")],
                        "someone else",
                    ));
                } else {
                    // The retry sees the external commit.
                    assert_eq!(
                        tree.read_file("envs/dev/trio/version.yaml")
                            .unwrap()
                            .unwrap(),
                        b"version: 99\n"
                    );
                }
                Ok::<_, Infallible>(qa_edit())
            },
        )
        .unwrap();
    let external = external.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(outcome.attempts, 2);
    let tip = rev_parse(&remote, "main");
    assert_eq!(outcome.commit.unwrap().to_string(), tip);
    // The promotion landed on top of the external commit, which is kept.
    assert_eq!(rev_parse(&remote, "main^"), external);
    assert!(
        mirror
            .is_ancestor(external.parse().unwrap(), tip.parse().unwrap())
            .unwrap()
    );
    assert_eq!(
        git(&remote, &["show", "main:envs/dev/trio/version.yaml"]),
        "version: 99"
    );
    assert_eq!(
        git(&remote, &["show", "main:envs/qa/trio/version.yaml"]),
        "version: 54.2"
    );
    assert_only_fast_forwards(&remote, "main");
}

#[test]
fn races_lost_every_time_stop_after_the_bound() {
    let (tmp, remote, mirror) = setup("race-bound");
    let calls = AtomicU32::new(0);
    let options = PushOptions {
        max_attempts: 3,
        ..PushOptions::default()
    };
    let err = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01LOSE", "qa", "trio-qa"),
            &options,
            |_| {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let content = format!("version: {n}\n");
                external_push(
                    tmp.path(),
                    &remote,
                    "main",
                    &[("envs/dev/trio/version.yaml", &content)],
                    "again",
                );
                Ok::<_, Infallible>(qa_edit())
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::RaceLost { attempts: 3, .. }), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(git(&remote, &["log", "-1", "--format=%s", "main"]), "again");
    assert_only_fast_forwards(&remote, "main");
}

#[test]
fn the_same_promotion_twice_makes_one_commit() {
    let (tmp, remote, mirror) = setup("idem");
    let first = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01IDEM", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap();
    // Other work lands on top in between; the promotion is still found.
    external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/dev/x.yaml", "x\n")],
        "unrelated",
    );
    let tip = rev_parse(&remote, "main");
    // A fresh mirror (another replica after a crash) finds it too.
    let other = Mirror::open(
        &tmp.join("cache-2"),
        Remote::new(&file_url(&remote), Default::default()).unwrap(),
    )
    .unwrap();
    let mut called = false;
    let second = other
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01IDEM", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| {
                called = true;
                Ok::<_, Infallible>(qa_edit())
            },
        )
        .unwrap();
    assert!(second.reused);
    assert!(
        !called,
        "changes must not be recomputed for a promotion that already landed"
    );
    assert_eq!(second.commit, first.commit);
    assert_eq!(rev_parse(&remote, "main"), tip);
    let count = git(
        &remote,
        &["log", "--format=%H", "--grep=Ferry-Release: 01IDEM", "main"],
    );
    assert_eq!(count.lines().count(), 1);

    // A different environment of the same release is a different promotion.
    let third = other
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01IDEM", "staging", "trio-staging"),
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![Change::write(
                    "envs/staging/trio/version.yaml",
                    "version: 54.2\n",
                )])
            },
        )
        .unwrap();
    assert!(!third.reused);
    assert_ne!(third.commit, first.commit);
}

#[test]
fn a_message_without_trailers_is_not_deduplicated() {
    let (_tmp, remote, mirror) = setup("no-trailers");
    let spec = CommitSpec {
        author: Signature::new("A", "a@example.com"),
        committer: None,
        message: CommitMessage {
            subject: "manual".into(),
            body: Some("why".into()),
            trailers: vec![],
        },
    };
    for n in 0..2 {
        let outcome = mirror
            .commit_and_push(
                &PushTarget::branch("main"),
                &spec,
                &PushOptions::default(),
                |_| Ok::<_, Infallible>(vec![Change::write("n.txt", format!("{n}\n"))]),
            )
            .unwrap();
        assert!(!outcome.reused);
    }
    assert_eq!(git(&remote, &["rev-list", "--count", "main"]), "3");
    assert_eq!(
        git(&remote, &["log", "-1", "--format=%an|%cn|%B", "main"]),
        "A|A|manual\n\nwhy"
    );
    // Invalid trailers are refused before anything is written.
    let bad = CommitSpec {
        message: CommitMessage {
            subject: "s".into(),
            body: None,
            trailers: vec![Trailer::new("Bad Key", "v")],
        },
        ..spec
    };
    let err = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &bad,
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(vec![]),
        )
        .unwrap_err();
    assert!(matches!(err, Error::InvalidTrailer { .. }));
}

#[test]
fn pull_request_mode_commits_on_a_new_branch() {
    let (tmp, remote, mirror) = setup("pr");
    let main_before = rev_parse(&remote, "main");
    let branch = PushTarget::pull_request_branch("trio", "qa", 7);
    assert_eq!(branch, "ferry/trio/qa/7");
    let target = PushTarget::new_branch("main", &branch);
    let outcome = mirror
        .commit_and_push(
            &target,
            &spec("01PR", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap();
    assert_eq!(outcome.branch, branch);
    assert_eq!(
        rev_parse(&remote, "main"),
        main_before,
        "the target branch is untouched"
    );
    let pr_tip = rev_parse(&remote, &branch);
    assert_eq!(outcome.commit.unwrap().to_string(), pr_tip);
    assert_eq!(rev_parse(&remote, &format!("{branch}^")), main_before);

    // Retrying the same release reuses the branch's commit.
    let again = mirror
        .commit_and_push(
            &target,
            &spec("01PR", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap();
    assert!(again.reused);
    assert_eq!(again.commit, outcome.commit);

    // After the PR is merged and its branch deleted, a retry finds the
    // promotion on the target branch.
    let work = tmp.join("merge");
    git(
        tmp.path(),
        &[
            "clone",
            "--quiet",
            remote.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    git(
        &work,
        &[
            "merge",
            "--quiet",
            "--no-ff",
            "-m",
            "Merge pull request #7",
            &format!("origin/{branch}"),
        ],
    );
    git(&work, &["push", "--quiet", "origin", "main"]);
    git(
        &remote,
        &["update-ref", "-d", &format!("refs/heads/{branch}")],
    );
    mirror.fetch().unwrap();
    assert!(
        mirror.resolve(&branch).is_err(),
        "fetch prunes deleted branches"
    );
    let after_merge = mirror
        .commit_and_push(
            &target,
            &spec("01PR", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap();
    assert!(after_merge.reused);
    assert_eq!(after_merge.branch, "main");
    assert_eq!(after_merge.commit, outcome.commit);
}

#[test]
fn policy_rejections_are_not_retried() {
    let (_tmp, remote, mirror) = setup("hook");
    let hook = remote.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&hook)
        .status()
        .unwrap();
    let calls = AtomicU32::new(0);
    let err = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01HOOK", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Infallible>(qa_edit())
            },
        )
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    match &err {
        Error::PushRejected { branch, reason, .. } => {
            assert_eq!(branch, "main");
            assert!(reason.contains("pre-receive hook declined"), "{reason}");
            assert!(reason.contains("main is protected"), "{reason}");
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn concurrent_promotions_all_land() {
    let (tmp, remote, mirror) = setup("concurrent");
    // Two threads on one mirror (serialised by its lock) and one on a second
    // mirror of the same remote (racing through the remote).
    let other = Mirror::open(&tmp.join("cache-2"), Remote::local(&remote).unwrap()).unwrap();
    let results: Vec<Oid> = std::thread::scope(|s| {
        let handles: Vec<_> = [("dev", &mirror), ("staging", &mirror), ("prod", &other)]
            .into_iter()
            .map(|(env, m)| {
                s.spawn(move || {
                    let target = PushTarget::branch("main");
                    let outcome = m
                        .commit_and_push(
                            &target,
                            &spec("01CONC", env, &format!("trio-{env}")),
                            &PushOptions::default(),
                            |_| {
                                Ok::<_, Infallible>(vec![Change::write(
                                    format!("envs/{env}/trio/version.yaml"),
                                    "version: 60\n",
                                )])
                            },
                        )
                        .unwrap();
                    outcome.commit.unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let tip: Oid = rev_parse(&remote, "main").parse().unwrap();
    let fresh = Mirror::open(&tmp.join("cache-3"), Remote::local(&remote).unwrap()).unwrap();
    for commit in results {
        assert!(fresh.is_ancestor(commit, tip).unwrap());
    }
    for env in ["dev", "staging", "prod"] {
        assert_eq!(
            git(
                &remote,
                &["show", &format!("main:envs/{env}/trio/version.yaml")]
            ),
            "version: 60"
        );
    }
    assert_only_fast_forwards(&remote, "main");
}

#[test]
fn dry_run_diff_is_what_git_diff_shows_for_the_commit() {
    let (tmp, remote, mirror) = setup("diff");
    let mut changes = qa_edit();
    changes.push(Change::write("envs/qa/trio/new.yaml", "a: 1\n"));
    changes.push(Change::delete("envs/qa/svc-0/config/app.yaml"));
    let before = rev_parse(&remote, "main");
    let diff = mirror.at("main").unwrap().diff(&changes).unwrap();
    assert_eq!(
        rev_parse(&remote, "main"),
        before,
        "a dry run pushes nothing"
    );
    assert!(diff.contains("+    tag: \"1.21\"  # pinned\n"), "{diff}");
    assert!(diff.contains("new file mode 100644"), "{diff}");
    assert!(diff.contains("deleted file mode 100644"), "{diff}");
    // Exactly what git prints for the commit that is then pushed.
    mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01DIFF", "qa", "trio-qa"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(changes.clone()),
        )
        .unwrap();
    let _ = tmp;
    let git_diff = git_cmd(&remote)
        .args([
            "-c",
            "core.abbrev=7",
            "diff",
            "--no-color",
            "--no-renames",
            "main^",
            "main",
        ])
        .output()
        .unwrap();
    assert_eq!(diff, String::from_utf8(git_diff.stdout).unwrap());
    // Nothing to change, nothing to show.
    assert_eq!(mirror.at("main").unwrap().diff(&changes).unwrap(), "");
}

/// The branch of a terminated release is deleted on the remote and in
/// the mirror; deleting it again says it was gone.
#[test]
fn a_promotion_branch_is_deleted_on_the_remote() {
    let (_tmp, remote, mirror) = setup("delete");
    let branch = PushTarget::pull_request_branch("trio", "prod", 3);
    mirror
        .commit_and_push(
            &PushTarget::new_branch("main", &branch),
            &spec("01DEL", "prod", "trio-prod"),
            &PushOptions::default(),
            |_| Ok::<_, Infallible>(qa_edit()),
        )
        .unwrap();
    let main = rev_parse(&remote, "main");
    assert!(mirror.resolve(&branch).is_ok());
    // A remote that refuses deletions says so; nothing is forgotten.
    let refused = mirror.delete_branch(&branch).unwrap_err();
    assert!(
        refused.to_string().contains("denying ref deletion"),
        "{refused}"
    );
    assert!(mirror.resolve(&branch).is_ok());
    git(&remote, &["config", "receive.denyDeletes", "false"]);
    assert!(mirror.delete_branch(&branch).unwrap());
    let listed = git(&remote, &["branch", "--list", "ferry/*"]);
    assert_eq!(listed, "", "the remote has no promotion branch left");
    assert!(mirror.resolve(&branch).is_err(), "nor has the mirror");
    assert_eq!(rev_parse(&remote, "main"), main, "main is untouched");
    assert!(!mirror.delete_branch(&branch).unwrap());
    assert!(matches!(
        mirror.delete_branch("bad..name"),
        Err(Error::InvalidBranch { .. })
    ));
}
