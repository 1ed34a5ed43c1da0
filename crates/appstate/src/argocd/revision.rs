//! "Synced at the promotion commit" (SPEC §4.2 c): Argo CD's synced
//! revision is the promotion commit, or a descendant of it that leaves the
//! application's path unchanged — a later commit to another application
//! of the same repository does not hide that ours is deployed.

use ferry_gitops::Workspace;

use crate::{AppRef, Error};

/// Whether `revision` (Argo CD's) deploys what `commit` wrote for `app`.
/// Blocking (reads the repository's mirror; fetches once when a revision
/// is not known yet).
pub fn deploys_commit(
    workspace: &Workspace,
    app: &AppRef,
    revision: &str,
    commit: &str,
) -> Result<bool, Error> {
    if revision.eq_ignore_ascii_case(commit) {
        return Ok(true);
    }
    let mirror = workspace.mirror(&app.repo_url)?;
    let resolve = |m: &ferry_git::Mirror| match (m.resolve(commit), m.resolve(revision)) {
        (Ok(c), Ok(r)) => Some((c, r)),
        _ => None,
    };
    let (c, r) = match resolve(&mirror) {
        Some(pair) => pair,
        None => {
            mirror.fetch()?;
            match resolve(&mirror) {
                Some(pair) => pair,
                // Argo CD deploys something this repository does not have
                // (yet): not ours.
                None => return Ok(false),
            }
        }
    };
    if c == r {
        return Ok(true);
    }
    if !mirror.is_ancestor(c, r)? {
        return Ok(false);
    }
    Ok(mirror
        .commits_touching(Some(c), r, &app.path, 1)?
        .is_empty())
}
