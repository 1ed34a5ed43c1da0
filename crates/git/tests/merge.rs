//! Merging a promotion branch inside a local bare repository (what
//! `ferry demo` does in place of a forge's "Merge pull request"), checked
//! with the git CLI on real repositories.

mod common;

use common::{TempDir, git};
use ferry_git::{MergeOutcome, Signature, merge_branch, unmerged_branches};

/// A bare repository with `main` (two files) and `ferry/p/prod/1`, one
/// commit ahead that changes `prod/values.yaml`.
fn repo_with_branch(t: &TempDir) -> std::path::PathBuf {
    let bare = t.join("gitops.git");
    let work = t.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(
        t.path(),
        &["init", "-q", "--bare", "-b", "main", bare.to_str().unwrap()],
    );
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::create_dir_all(work.join("prod")).unwrap();
    std::fs::create_dir_all(work.join("dev")).unwrap();
    std::fs::write(work.join("prod/values.yaml"), "tag: 1\n").unwrap();
    std::fs::write(work.join("dev/values.yaml"), "tag: 2\n").unwrap();
    git(&work, &["add", "."]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    git(&work, &["checkout", "-q", "-b", "ferry/p/prod/1"]);
    std::fs::write(work.join("prod/values.yaml"), "tag: 2\n").unwrap();
    git(&work, &["commit", "-qam", "promote p to prod"]);
    git(
        &work,
        &["push", "-q", bare.to_str().unwrap(), "ferry/p/prod/1"],
    );
    // main moves on meanwhile (another promotion), so the merge is a real one.
    git(&work, &["checkout", "-q", "main"]);
    std::fs::write(work.join("dev/values.yaml"), "tag: 3\n").unwrap();
    git(&work, &["commit", "-qam", "new build in dev"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    bare
}

#[test]
fn merges_a_branch_with_a_merge_commit_and_lists_what_is_open() {
    let t = TempDir::new("merge");
    let bare = repo_with_branch(&t);
    git(&bare, &["branch", "ferry/p/qa/1", "main"]); // contained in main already
    git(&bare, &["branch", "other", "ferry/p/prod/1"]); // not under the prefix
    assert_eq!(
        unmerged_branches(&bare, "ferry/", "main").unwrap(),
        vec!["ferry/p/prod/1"]
    );
    let before = git(&bare, &["rev-parse", "main"]);
    let branch = git(&bare, &["rev-parse", "ferry/p/prod/1"]);
    let who = Signature::new("Reviewer", "reviewer@example.com");
    let out = merge_branch(
        &bare,
        "ferry/p/prod/1",
        "main",
        "Merge ferry/p/prod/1",
        &who,
    )
    .unwrap();
    let MergeOutcome::Merged(id) = out else {
        panic!("{out:?}")
    };
    assert_eq!(git(&bare, &["rev-parse", "main"]), id.to_string());
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%P|%an|%s", "main"]),
        format!("{before} {branch}|Reviewer|Merge ferry/p/prod/1")
    );
    // Both sides' changes are in the merged tree.
    assert_eq!(git(&bare, &["show", "main:prod/values.yaml"]), "tag: 2");
    assert_eq!(git(&bare, &["show", "main:dev/values.yaml"]), "tag: 3");
    assert!(
        unmerged_branches(&bare, "ferry/", "main")
            .unwrap()
            .is_empty()
    );
    // Merging again changes nothing.
    assert_eq!(
        merge_branch(&bare, "ferry/p/prod/1", "main", "again", &who).unwrap(),
        MergeOutcome::AlreadyMerged
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), id.to_string());
}

#[test]
fn a_conflict_or_a_missing_branch_is_an_error_that_writes_nothing() {
    let t = TempDir::new("merge-conflict");
    let bare = repo_with_branch(&t);
    // main changes the same line the branch changes.
    let work = t.join("work");
    std::fs::write(work.join("prod/values.yaml"), "tag: 9\n").unwrap();
    git(&work, &["commit", "-qam", "hand edit in prod"]);
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let before = git(&bare, &["rev-parse", "main"]);
    let who = Signature::new("Reviewer", "reviewer@example.com");
    let e = merge_branch(&bare, "ferry/p/prod/1", "main", "m", &who).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot apply change at `prod/values.yaml`: merging `ferry/p/prod/1` into `main` conflicts"
    );
    assert_eq!(git(&bare, &["rev-parse", "main"]), before);
    let e = merge_branch(&bare, "ferry/nope", "main", "m", &who).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("revision `ferry/nope` not found in "),
        "{e}"
    );
}
