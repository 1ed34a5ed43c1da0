//! Demo mode (setting `demo`, set by `ferry demo`, off in `ferry serve`):
//! what stands in for a forge when the GitOps repositories are local.
//!
//! A `pr` promotion without a forge pushes its branch and waits until the
//! target branch contains it. On a real forge a reviewer presses "Merge
//! pull request"; the demo has no forge, so this module does the merge in
//! the local repository — for `ferry demo --merge` (every open branch)
//! and for the web UI's demo-only merge button (one branch). Outside demo
//! mode nothing calls it: merging is the forge's job and its reviewers'.

use std::path::Path;

use ferry_git::{MergeOutcome, Signature};

/// Promotion branches are named `ferry/<product>/<environment>/<number>`
/// ([`ferry_git::PushTarget::pull_request_branch`]).
pub const BRANCH_PREFIX: &str = "ferry/";

/// Why a demo merge did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DemoMergeError {
    /// Only local repositories can be merged into by ferry itself.
    #[error(
        "repository `{0}` is not a local repository: its forge merges pull requests, not ferry"
    )]
    NotLocal(String),
    /// Not a promotion branch: the demo merges nothing else.
    #[error("`{0}` is not a promotion branch (ferry/…)")]
    NotAPromotionBranch(String),
    #[error(transparent)]
    Git(#[from] ferry_git::Error),
}

/// The local repository behind `repo_url` (a path or a `file://` URL).
fn local_path(repo_url: &str) -> Option<&Path> {
    let path = Path::new(repo_url.strip_prefix("file://").unwrap_or(repo_url));
    (path.is_absolute() && path.is_dir()).then_some(path)
}

/// Merges the promotion branch `branch` into `target` in the local
/// repository `repo_url`, as a reviewer merging the pull request would
/// (a merge commit by `reviewer`). The engine, which polls the target
/// branch, then sees the promotion commit there and goes on.
pub fn merge_pull_request(
    repo_url: &str,
    branch: &str,
    target: &str,
    reviewer: &str,
) -> Result<MergeOutcome, DemoMergeError> {
    let repo = local_path(repo_url).ok_or_else(|| DemoMergeError::NotLocal(repo_url.to_owned()))?;
    if !branch.starts_with(BRANCH_PREFIX) {
        return Err(DemoMergeError::NotAPromotionBranch(branch.to_owned()));
    }
    Ok(ferry_git::merge_branch(
        repo,
        branch,
        target,
        &format!("Merge promotion pull request {branch}\n\nMerged by {reviewer} (ferry demo)."),
        &Signature::new(reviewer, "reviewer@demo.ferry"),
    )?)
}

/// Every promotion branch of the local repository `repo_url` that
/// `target` does not contain yet, merged; returns the branches merged.
pub fn merge_open_pull_requests(
    repo_url: &str,
    target: &str,
    reviewer: &str,
) -> Result<Vec<String>, DemoMergeError> {
    let repo = local_path(repo_url).ok_or_else(|| DemoMergeError::NotLocal(repo_url.to_owned()))?;
    let mut merged = Vec::new();
    for branch in ferry_git::unmerged_branches(repo, BRANCH_PREFIX, target)? {
        if let MergeOutcome::Merged(_) = merge_pull_request(repo_url, &branch, target, reviewer)? {
            merged.push(branch);
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_promotion_branches_of_local_repositories() {
        let e = merge_pull_request(
            "https://git.example.com/acme/gitops.git",
            "ferry/p/prod/1",
            "main",
            "r",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "repository `https://git.example.com/acme/gitops.git` is not a local repository: its forge merges pull requests, not ferry"
        );
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().display().to_string();
        let e = merge_pull_request(&url, "release/2", "main", "r").unwrap_err();
        assert_eq!(
            e.to_string(),
            "`release/2` is not a promotion branch (ferry/…)"
        );
        // A directory that is no repository: the Git error, naming it.
        let e = merge_pull_request(&url, "ferry/p/prod/1", "main", "r").unwrap_err();
        assert!(
            matches!(e, DemoMergeError::Git(_)) && e.to_string().contains(&url),
            "{e}"
        );
    }
}
