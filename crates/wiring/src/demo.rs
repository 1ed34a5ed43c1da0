//! Demo mode (setting `demo`, set by `ferry demo`, off in `ferry serve`):
//! what stands in for a forge when the GitOps repositories are local.
//!
//! A `pr` promotion without a forge pushes its branch and waits until the
//! target branch contains it. On a real forge a reviewer presses "Merge
//! pull request"; the demo has no forge, so this module does the merge in
//! the local repository — for `ferry demo --merge` (every open branch)
//! and for the web UI's demo-only merge button (one environment's branch).
//! Outside demo mode nothing calls it: merging is the forge's job and its
//! reviewers'.
//!
//! Only a branch its release still waits for is merged
//! ([`waiting_branches`]): the branch of a terminated release (deleted
//! when it ended, SPEC §12), of a finished one, or of an environment that
//! does not wait is refused with the reason, and nothing lands on the
//! target branch.

use std::path::Path;

use ferry_git::{MergeOutcome, Signature};
use ferry_release::{Release, StepPhase, StepStatus};

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
    /// Its release does not wait for it (terminated, finished, or the
    /// environment is elsewhere): merging would deploy what no release
    /// stands behind.
    #[error("not merged: {0}")]
    NotWaiting(String),
    #[error(transparent)]
    Git(#[from] ferry_git::Error),
}

/// A promotion branch a release waits for, in one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingBranch {
    pub repo_url: String,
    pub branch: String,
    /// The branch it merges into (the applications' target revision).
    pub target: String,
    /// The applications waiting on it.
    pub applications: Vec<String>,
}

/// (product, environment, release number) of a promotion branch name.
pub fn parse_branch(branch: &str) -> Option<(&str, &str, u64)> {
    let rest = branch.strip_prefix(BRANCH_PREFIX)?;
    let (rest, number) = rest.rsplit_once('/')?;
    let (product, env) = rest.split_once('/')?;
    Some((product, env, number.parse().ok()?))
}

/// The branches `environment` of `release` waits for (one per repository:
/// the promotion branch belongs to the environment, and every application
/// of it in that repository waits on it). Refused, with the reason, when
/// the release does not wait there.
pub fn waiting_branches(
    release: &Release,
    environment: &str,
) -> Result<Vec<WaitingBranch>, DemoMergeError> {
    let n = release.number;
    let refuse = |why: String| Err(DemoMergeError::NotWaiting(format!("release #{n} {why}")));
    let Some(e) = release.environment(environment) else {
        return refuse(format!("has no environment `{environment}`"));
    };
    if let Some(t) = &release.termination {
        let reason = serde_plain_reason(t.reason);
        return refuse(format!(
            "was terminated by {} ({reason}): its promotion branch in {environment} was closed and is not to be merged",
            t.by
        ));
    }
    if release.status.is_final() {
        return refuse(format!(
            "is {}: it waits for nothing any more",
            release.status
        ));
    }
    let mut out: Vec<WaitingBranch> = Vec::new();
    for a in &e.applications {
        let Some(branch) = a.waits_for_branch() else {
            continue;
        };
        match out
            .iter_mut()
            .find(|w| w.repo_url == a.repo_url && w.branch == branch)
        {
            Some(w) => w.applications.push(a.name.clone()),
            None => out.push(WaitingBranch {
                repo_url: a.repo_url.clone(),
                branch: branch.to_owned(),
                target: a.target_revision.clone(),
                applications: vec![a.name.clone()],
            }),
        }
    }
    if out.is_empty() {
        let merged = e.applications.iter().any(|a| {
            a.pull_request.is_some()
                && a.steps
                    .iter()
                    .any(|s| s.phase == StepPhase::Action && s.status == StepStatus::Success)
        });
        return refuse(if merged {
            format!("merged its promotion branch in {environment} already")
        } else {
            format!(
                "does not wait for a pull request in {environment} (it is {})",
                e.status
            )
        });
    }
    Ok(out)
}

fn serde_plain_reason(r: ferry_release::TerminationReason) -> &'static str {
    match r {
        ferry_release::TerminationReason::User => "user",
        ferry_release::TerminationReason::Timeout => "timeout",
        ferry_release::TerminationReason::Superseded => "superseded",
        ferry_release::TerminationReason::Queue => "queue",
    }
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

/// What [`merge_open_pull_requests`] did with one branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchMerge {
    Merged(String),
    /// Not merged, and why (its release does not wait for it).
    Refused {
        branch: String,
        reason: String,
    },
}

/// Every promotion branch of the local repository `repo_url` that
/// `target` does not contain yet, merged when `may_merge` allows it (its
/// release waits for it); what happened to each.
pub fn merge_open_pull_requests(
    repo_url: &str,
    target: &str,
    reviewer: &str,
    may_merge: impl Fn(&str) -> Result<(), String>,
) -> Result<Vec<BranchMerge>, DemoMergeError> {
    let repo = local_path(repo_url).ok_or_else(|| DemoMergeError::NotLocal(repo_url.to_owned()))?;
    let mut out = Vec::new();
    for branch in ferry_git::unmerged_branches(repo, BRANCH_PREFIX, target)? {
        if let Err(reason) = may_merge(&branch) {
            out.push(BranchMerge::Refused { branch, reason });
            continue;
        }
        if let MergeOutcome::Merged(_) = merge_pull_request(repo_url, &branch, target, reviewer)? {
            out.push(BranchMerge::Merged(branch));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_branch_names() {
        assert_eq!(
            parse_branch("ferry/shop/prod-eu/12"),
            Some(("shop", "prod-eu", 12))
        );
        assert_eq!(parse_branch("ferry/shop/12"), None);
        assert_eq!(parse_branch("feature/x/y/1"), None);
        assert_eq!(parse_branch("ferry/shop/prod/x"), None);
    }

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
