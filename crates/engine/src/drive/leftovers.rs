//! What a terminated release leaves open (SPEC §12): when a release that
//! was terminated or superseded ends, every pull request it opened that
//! nobody merged is closed with a comment naming the release, and every
//! promotion branch it pushed is deleted — on a forge and in a repository
//! without one — so nothing of it can be merged afterwards. What cannot be
//! closed is an issue on its environment, saying what to do by hand.

use std::sync::Arc;

use ferry_release::{
    IssueKind, Release, StepPhase, StepStatus, Termination, TerminationReason, now,
};

use super::record::app_issue;
use crate::handle::ReleaseHandle;
use crate::pullrequest::PullRequestState;
use crate::{Error, Inner, blocking};

/// One promotion branch of the release (a pull request on a forge, or the
/// branch alone), and the applications waiting on it.
struct Open {
    env: String,
    apps: Vec<String>,
    repo_url: String,
    branch: String,
    number: u64,
    url: String,
}

/// What became of one [`Open`].
struct Closed {
    open: Open,
    /// The pull request was closed, or the branch deleted: nothing is left
    /// to merge.
    closed: bool,
    /// What went wrong, for an issue.
    problems: Vec<String>,
    summary: String,
}

/// How the release ended, as the comment and the step say it.
fn ended(t: &Termination) -> String {
    match t.reason {
        TerminationReason::User => format!("terminated by {}", t.by),
        TerminationReason::Timeout => "terminated: its flow timeout passed".into(),
        TerminationReason::Superseded => format!("superseded by {}", t.by),
        TerminationReason::Queue => "terminated: it was pushed out of a full queue".into(),
    }
}

/// The comment left on a pull request ferry closes.
pub(crate) fn comment(r: &Release, release_url: &str, t: &Termination) -> String {
    format!(
        "ferry closed this pull request: release [#{n}]({release_url}) of **{product}** was {how}. \
         Do not merge it: its promotion branch is deleted, and a retry of #{n} or a newer release \
         promotes again.",
        n = r.number,
        product = r.product,
        how = ended(t),
    )
}

/// The pull requests and branches of `r` still open: a `pr` action that did
/// not succeed (a merged one is part of the release) and was not closed.
fn open_of(r: &Release) -> Vec<Open> {
    let mut out: Vec<Open> = Vec::new();
    for e in &r.environments {
        for a in &e.applications {
            let Some(pr) = a.pull_request.as_ref().filter(|p| p.closed_at.is_none()) else {
                continue;
            };
            let merged = a
                .steps
                .iter()
                .any(|s| s.phase == StepPhase::Action && s.status == StepStatus::Success);
            if merged || pr.branch.is_empty() {
                continue;
            }
            // Applications of one environment in one repository share the
            // branch (and, on a forge, its pull request).
            match out
                .iter_mut()
                .find(|o| o.repo_url == a.repo_url && o.branch == pr.branch)
            {
                Some(o) => o.apps.push(a.name.clone()),
                None => out.push(Open {
                    env: e.name.clone(),
                    apps: vec![a.name.clone()],
                    repo_url: a.repo_url.clone(),
                    branch: pr.branch.clone(),
                    number: pr.number,
                    url: pr.url.clone(),
                }),
            }
        }
    }
    out
}

/// Closes what `handle`'s terminated release left open and records it.
pub(super) async fn close(inner: &Arc<Inner>, handle: &Arc<ReleaseHandle>) -> Result<(), Error> {
    let r = handle.get().await;
    let Some(t) = r.termination.clone() else {
        return Ok(());
    };
    let open = open_of(&r);
    if open.is_empty() {
        return Ok(());
    }
    let text = comment(&r, &inner.release_url(&r.product, r.number), &t);
    let mut done = Vec::new();
    for o in open {
        done.push(close_one(inner, o, &text).await);
    }
    let how = ended(&t);
    handle
        .update(|r| {
            let at = now();
            for c in &done {
                for app in &c.open.apps {
                    let Some(a) = super::record::app_mut(r, &c.open.env, app) else {
                        continue;
                    };
                    if c.closed
                        && let Some(pr) = a.pull_request.as_mut()
                    {
                        pr.closed_at = Some(at);
                    }
                    if let Some(s) = a
                        .steps
                        .iter_mut()
                        .find(|s| s.phase == StepPhase::Action && s.status != StepStatus::Success)
                    {
                        s.message = Some(format!("{} (the release was {how})", c.summary));
                    }
                }
                for p in &c.problems {
                    let mut i = app_issue(IssueKind::Forge, &c.open.apps[0], p.clone());
                    if !c.open.url.is_empty() {
                        i.link = Some(c.open.url.clone());
                    }
                    super::record::push_issue(r, &c.open.env, i);
                }
            }
            ((), vec![])
        })
        .await
}

async fn close_one(inner: &Arc<Inner>, open: Open, comment: &str) -> Closed {
    let mut problems = Vec::new();
    let mut closed = false;
    let mut said = Vec::new();
    if open.number > 0 {
        let n = open.number;
        match inner
            .pull_requests
            .clone()
            .filter(|p| p.handles(&open.repo_url))
        {
            Some(prs) => match prs.close(&open.repo_url, n, comment).await {
                Ok(PullRequestState::Merged { .. }) => {
                    problems.push(format!(
                        "pull request #{n} was merged although the release was terminated: its \
                         change is on the target branch, but it is not part of this release"
                    ));
                    said.push(format!("pull request #{n} had been merged"));
                }
                Ok(_) => {
                    closed = true;
                    said.push(format!("pull request #{n} closed"));
                }
                Err(e) => problems.push(format!(
                    "pull request #{n} could not be closed ({e}): close it on the forge"
                )),
            },
            None => problems.push(format!(
                "pull request #{n} could not be closed: no forge is configured for its \
                 repository any more; close it on the forge"
            )),
        }
    }
    let workspace = Arc::clone(&inner.workspace);
    let (repo, branch) = (open.repo_url.clone(), open.branch.clone());
    match blocking(move || Ok(workspace.mirror(&repo)?.delete_branch(&branch)?)).await {
        Ok(deleted) => {
            // Gone either way: nothing is left to merge (a forge closes a
            // pull request whose branch is deleted).
            closed = closed || open.number == 0 || deleted;
            said.push(if deleted {
                format!("branch `{}` deleted", open.branch)
            } else {
                format!("branch `{}` was gone already", open.branch)
            });
        }
        Err(e) => problems.push(format!(
            "promotion branch `{}` could not be deleted ({e}): delete it by hand so it is not merged",
            open.branch
        )),
    }
    let summary = if said.is_empty() {
        "left open".to_owned()
    } else {
        said.join(", ")
    };
    Closed {
        open,
        closed,
        problems,
        summary,
    }
}
