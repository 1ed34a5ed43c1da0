//! Merging a branch into another inside a local repository, without a
//! checkout: what a reviewer's "Merge pull request" does on a forge.
//!
//! Only `ferry demo` needs this: its GitOps repositories are local bare
//! repositories with no forge in front, so a `pr` promotion's branch is
//! merged here (by `ferry demo --merge`, or the web UI's demo-only merge
//! button). Real forges merge pull requests themselves; the engine only
//! watches for the merge.
//!
//! The merge commit is written straight into the repository with libgit2
//! (`merge_commits` → tree → commit with two parents) and the target
//! branch is moved only if it still points at the first parent, so a
//! promotion pushed meanwhile is never lost: the merge is computed again.

use std::path::Path;

use git2::{Oid, Repository};

use crate::error::{Error, Result};
use crate::push::Signature;

/// How many times a merge is computed again when the target branch moved
/// between reading it and updating it.
const ATTEMPTS: u32 = 10;

/// What [`merge_branch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeOutcome {
    /// A merge commit now tops the target branch.
    Merged(Oid),
    /// The branch was already contained in the target branch.
    AlreadyMerged,
}

fn library<'a>(repo: &'a Path, operation: &'static str) -> impl Fn(git2::Error) -> Error + 'a {
    move |source| Error::Library {
        operation,
        mirror: repo.display().to_string(),
        source,
    }
}

fn open(repo: &Path) -> Result<Repository> {
    Repository::open(repo).map_err(library(repo, "opening the repository"))
}

fn tip(repository: &Repository, repo: &Path, branch: &str) -> Result<Oid> {
    repository
        .find_branch(branch, git2::BranchType::Local)
        .ok()
        .and_then(|b| b.get().target())
        .ok_or_else(|| Error::RevisionNotFound {
            url: repo.display().to_string(),
            rev: branch.to_owned(),
        })
}

/// Merges `branch` into `into` in the local repository at `repo` (bare or
/// not; only refs and objects are touched) with a merge commit by `who`
/// and `message`. A conflict is an error naming the first conflicting
/// path; nothing is written then.
pub fn merge_branch(
    repo: &Path,
    branch: &str,
    into: &str,
    message: &str,
    who: &Signature,
) -> Result<MergeOutcome> {
    let repository = open(repo)?;
    let err = |op| library(repo, op);
    let theirs = tip(&repository, repo, branch)?;
    for _ in 0..ATTEMPTS {
        let ours = tip(&repository, repo, into)?;
        if ours == theirs
            || repository
                .graph_descendant_of(ours, theirs)
                .map_err(err("checking ancestry"))?
        {
            return Ok(MergeOutcome::AlreadyMerged);
        }
        let ours_commit = repository
            .find_commit(ours)
            .map_err(err("reading a commit"))?;
        let theirs_commit = repository
            .find_commit(theirs)
            .map_err(err("reading a commit"))?;
        let mut index = repository
            .merge_commits(&ours_commit, &theirs_commit, None)
            .map_err(err("merging"))?;
        if index.has_conflicts() {
            let path = index
                .conflicts()
                .ok()
                .and_then(|mut c| c.next())
                .and_then(|c| c.ok())
                .and_then(|c| c.our.or(c.their).or(c.ancestor))
                .map(|e| String::from_utf8_lossy(&e.path).into_owned())
                .unwrap_or_default();
            return Err(Error::PathConflict {
                path,
                reason: format!("merging `{branch}` into `{into}` conflicts"),
            });
        }
        let tree_id = index
            .write_tree_to(&repository)
            .map_err(err("writing the merged tree"))?;
        let tree = repository
            .find_tree(tree_id)
            .map_err(err("reading the merged tree"))?;
        let sig = git2::Signature::now(&who.name, &who.email).map_err(err("signing"))?;
        // `commit` with an update ref moves `into` only if it still points
        // at `ours` (its first parent); otherwise it fails with Modified.
        match repository.commit(
            Some(&format!("refs/heads/{into}")),
            &sig,
            &sig,
            message,
            &tree,
            &[&ours_commit, &theirs_commit],
        ) {
            Ok(id) => return Ok(MergeOutcome::Merged(id)),
            Err(e) if e.code() == git2::ErrorCode::Modified => continue,
            Err(e) => return Err(err("committing the merge")(e)),
        }
    }
    Err(Error::RaceLost {
        url: repo.display().to_string(),
        branch: into.to_owned(),
        attempts: ATTEMPTS,
    })
}

/// Local branches under `prefix` (e.g. `ferry/`) that `into` does not
/// contain yet, sorted by name: the open "pull requests" of a repository
/// without a forge.
pub fn unmerged_branches(repo: &Path, prefix: &str, into: &str) -> Result<Vec<String>> {
    let repository = open(repo)?;
    let err = |op| library(repo, op);
    let target = tip(&repository, repo, into)?;
    let mut out = Vec::new();
    for b in repository
        .branches(Some(git2::BranchType::Local))
        .map_err(err("listing branches"))?
    {
        let (b, _) = b.map_err(err("listing branches"))?;
        let (Some(name), Some(id)) = (b.name().ok().flatten(), b.get().target()) else {
            continue;
        };
        if !name.starts_with(prefix) || id == target {
            continue;
        }
        if !repository
            .graph_descendant_of(target, id)
            .map_err(err("checking ancestry"))?
        {
            out.push(name.to_owned());
        }
    }
    out.sort();
    Ok(out)
}
