//! Configuration commits: those touching an application's source path in
//! the GitOps repository between the previous release's revision and this
//! release's (SPEC §7.1). Read from the cached mirror the snapshot was
//! taken from; a revision missing there (another replica's fresh mirror)
//! costs one fetch.

use ferry_git::{CommitInfo, Mirror, Oid};
use ferry_release::ApplicationSnapshot;

use crate::commits::{Limits, short};
use crate::document::{Author, Commit, ConfigChanges};
use crate::error::{Error, Result};
use crate::message::{self, IssueRules};

/// Resolves `rev`, fetching once when the mirror does not have it yet.
pub(crate) fn resolve_fetching(mirror: &Mirror, rev: &str, fetched: &mut bool) -> Option<Oid> {
    if let Ok(id) = mirror.resolve(rev) {
        return Some(id);
    }
    if !*fetched {
        *fetched = true;
        if mirror.fetch().is_err() {
            return None;
        }
        return mirror.resolve(rev).ok();
    }
    None
}

/// The configuration commits of one application, plus notes.
pub fn for_application(
    mirror: &Mirror,
    now: &ApplicationSnapshot,
    before: Option<&ApplicationSnapshot>,
    limits: Limits,
    rules: &IssueRules,
) -> Result<(ConfigChanges, Vec<String>)> {
    let url = mirror.remote().display_url();
    let mut fetched = false;
    let mut notes = Vec::new();
    let to = resolve_fetching(mirror, &now.revision, &mut fetched).ok_or_else(|| {
        Error::Git(format!(
            "{url}: revision {} of {} is not in the repository",
            short(&now.revision),
            now.application
        ))
    })?;
    // The previous release may have promoted from another path (the
    // application moved): its revision still bounds the history.
    let from_rev = before.map(|b| b.revision.as_str());
    let mut limit = limits.max_commits;
    let from = match from_rev {
        None => {
            limit = limit.min(limits.without_base);
            None
        }
        Some(rev) => match resolve_fetching(mirror, rev, &mut fetched) {
            Some(id) => Some(id),
            None => {
                limit = limit.min(limits.without_base);
                notes.push(format!(
                    "{}: the previous release's revision {} is no longer in {url}; showing up to {limit} commits",
                    now.application,
                    short(rev)
                ));
                None
            }
        },
    };
    if let Some(from) = from
        && from != to
        && !mirror
            .is_ancestor(from, to)
            .map_err(|e| Error::git(&url, e))?
    {
        notes.push(format!(
            "{}: the previous release's revision {} is not an ancestor of {} (history rewritten or a rollback); listing the commits it does not contain",
            now.application,
            short(&from.to_string()),
            short(&to.to_string())
        ));
    }
    let mut infos = mirror
        .commits_touching(from, to, &now.path, limit.saturating_add(1))
        .map_err(|e| Error::git(&url, e))?;
    let truncated = infos.len() > limit;
    infos.truncate(limit);
    let commits = infos.iter().map(|c| commit_of(c, rules)).collect();
    Ok((
        ConfigChanges {
            application: now.application.clone(),
            repo_url: url,
            path: now.path.clone(),
            from: from.map(|f| f.to_string()),
            to: to.to_string(),
            commits,
            truncated,
        },
        notes,
    ))
}

/// A commit of ferry-git's history as the notes show it.
pub fn commit_of(info: &CommitInfo, rules: &IssueRules) -> Commit {
    let parsed = message::parse(&info.message, rules);
    let (subject, body) = message::split(&info.message);
    let conventional = parsed.conventional;
    Commit {
        sha: info.id.to_string(),
        author: Author {
            name: info.author.name.clone(),
            email: info.author.email.clone(),
        },
        date: info.author.time.to_rfc3339(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        kind: conventional.as_ref().map(|c| c.kind.clone()),
        scope: conventional.and_then(|c| c.scope),
        breaking: parsed.breaking,
        pull_request: parsed.pull_request,
        issues: parsed.issues,
    }
}
