//! A process killed while it changed the mirror (SIGKILL, a crash, a git
//! command past its deadline) leaves git's lock files behind. The next
//! holder of the mirror lock removes them; before, every later fetch
//! failed with "Unable to create '…/refs/heads/main.lock': File exists"
//! (found by the CLI's SIGKILL test on CI).

mod common;

use std::convert::Infallible;
use std::fs;

use common::*;
use ferry_git::{
    Change, CommitSpec, Mirror, PushOptions, PushTarget, Remote, Signature, promotion_message,
};

/// What a git killed mid-update leaves: lock files, one with half a ref.
fn leave_stale_locks(mirror: &Mirror) -> Vec<std::path::PathBuf> {
    let locks = vec![
        mirror.path().join("refs/heads/main.lock"),
        mirror.path().join("packed-refs.lock"),
        mirror.path().join("refs/tags/deep/v1.lock"),
    ];
    for lock in &locks {
        fs::create_dir_all(lock.parent().unwrap()).unwrap();
        fs::write(lock, "4b825dc6").unwrap();
    }
    locks
}

#[test]
fn a_fetch_after_a_killed_one_removes_its_locks_and_succeeds() {
    let tmp = TempDir::new("stale-fetch");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap();
    let locks = leave_stale_locks(&mirror);
    // The plain git the lock would stop (the failure CI saw).
    let pushed = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/qa/trio/version.yaml", "version: 61\n")],
        "bump",
    );
    let refused = git_cmd(mirror.path())
        .args(["fetch", "--quiet", "--"])
        .arg(&remote)
        .arg("+refs/heads/*:refs/heads/*")
        .output()
        .unwrap();
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("File exists"),
        "the hand-made lock must stop git as a killed fetch's does: {refused:?}"
    );

    assert!(mirror.fetch().unwrap());
    assert_eq!(mirror.resolve("main").unwrap().to_string(), pushed);
    for lock in &locks {
        assert!(!lock.exists(), "{} was left in place", lock.display());
    }
    // Other files of refs/ are untouched: the tag directory stays.
    assert!(mirror.path().join("refs/tags/deep").is_dir());
}

#[test]
fn a_promotion_after_a_killed_one_pushes_and_records_its_branch() {
    let tmp = TempDir::new("stale-push");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    let mirror = Mirror::open(&tmp.join("cache"), Remote::local(&remote).unwrap()).unwrap();
    leave_stale_locks(&mirror);
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &CommitSpec {
                author: Signature::new("Ferry Bot", "ferry@example.com"),
                committer: None,
                message: promotion_message("trio", "62", "qa", "trio-qa", "01STALE"),
            },
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![Change::write(
                    "envs/qa/trio/version.yaml",
                    "version: 62\n",
                )])
            },
        )
        .unwrap();
    let commit = outcome.commit.unwrap().to_string();
    assert_eq!(rev_parse(&remote, "main"), commit);
    // The mirror's own branch moved too (libgit2 takes the same ref lock).
    assert_eq!(mirror.resolve("main").unwrap().to_string(), commit);
}
