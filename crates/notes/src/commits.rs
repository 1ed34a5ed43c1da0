//! The commits between two revisions of a cached mirror, each with what
//! its message says ([`crate::message`]).
//!
//! Merge commits are not listed themselves: they bring no change of their
//! own, but their pull-request number is given to every commit they
//! brought in that has none (a merged branch's commits rarely say which
//! pull request they belong to; the merge does). That takes one pass, no
//! walk per merge, so histories where every change is a merge stay linear.
//!
//! Histories get rewritten: the old revision may be gone (force push,
//! deleted branch) or no longer an ancestor (rebase). Neither is an error;
//! the range is shown as well as it can be, with a note that says why.

use std::collections::{HashMap, HashSet};

use ferry_git::{GitTime, Mirror, Oid};
use git2::{Repository, Sort};

use crate::document::{Author, Commit};
use crate::error::{Error, Result};
use crate::message::{self, IssueRules};

/// The commits of one range, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Range {
    pub commits: Vec<Commit>,
    /// More commits exist in the range than `limit` allowed.
    pub truncated: bool,
    /// Why the range is not exactly `from..to` (rewritten history …).
    pub notes: Vec<String>,
}

/// How much history to read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most commits listed for one range.
    pub max_commits: usize,
    /// Commits listed when there is no usable old revision (a first
    /// release, or the old revision is gone).
    pub without_base: usize,
}

/// Commits reachable from `to` and not from `from`, newest first.
///
/// `to` must exist in the mirror (else [`Error::Git`]); a missing `from`
/// only adds a note and lists up to `limits.without_base` commits.
pub fn between(
    mirror: &Mirror,
    from: Option<&str>,
    to: &str,
    limits: Limits,
    rules: &IssueRules,
) -> Result<Range> {
    let url = mirror.remote().display_url();
    let to_id = mirror.resolve(to).map_err(|e| Error::git(&url, e))?;
    let mut notes = Vec::new();
    let mut limit = limits.max_commits;
    let from_id = match from {
        None => {
            limit = limit.min(limits.without_base);
            None
        }
        Some(rev) => match mirror.resolve(rev) {
            Ok(id) => Some(id),
            Err(_) => {
                limit = limit.min(limits.without_base);
                notes.push(format!(
                    "{url}: the previous revision {} is no longer in the repository (force-pushed or deleted); showing up to {limit} commits before {}",
                    short(rev),
                    short(to)
                ));
                None
            }
        },
    };
    let repo = Repository::open_bare(mirror.path()).map_err(|e| Error::library(&url, e))?;
    if let Some(from_id) = from_id {
        if from_id == to_id {
            return Ok(Range {
                notes,
                ..Range::default()
            });
        }
        let forward = repo
            .graph_descendant_of(to_id, from_id)
            .map_err(|e| Error::library(&url, e))?;
        if !forward {
            let backward = repo
                .graph_descendant_of(from_id, to_id)
                .map_err(|e| Error::library(&url, e))?;
            if backward {
                let removed = walk(&repo, &url, from_id, Some(to_id), limit, rules)?;
                notes.push(format!(
                    "{url}: {} is older than the previous revision {}: this goes back, removing {}{} commit(s)",
                    short(&to_id.to_string()),
                    short(&from_id.to_string()),
                    removed.commits.len(),
                    if removed.truncated { "+" } else { "" }
                ));
                return Ok(Range {
                    notes,
                    ..Range::default()
                });
            }
            notes.push(format!(
                "{url}: the previous revision {} is not an ancestor of {} (history rewritten); listing the commits of {} that it does not contain",
                short(&from_id.to_string()),
                short(&to_id.to_string()),
                short(&to_id.to_string())
            ));
        }
    }
    let mut range = walk(&repo, &url, to_id, from_id, limit, rules)?;
    notes.append(&mut range.notes);
    range.notes = notes;
    Ok(range)
}

fn walk(
    repo: &Repository,
    url: &str,
    to: Oid,
    hide: Option<Oid>,
    limit: usize,
    rules: &IssueRules,
) -> Result<Range> {
    let lib = |e| Error::library(url, e);
    let mut revwalk = repo.revwalk().map_err(lib)?;
    revwalk
        .set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(lib)?;
    revwalk.push(to).map_err(lib)?;
    if let Some(h) = hide {
        revwalk.hide(h).map_err(lib)?;
    }
    // The first-parent chain of `to`: the branch itself. A merge's other
    // parents lead into the merged branch, whose commits (down to where
    // they meet this chain) get the merge's pull request. One pass, as a
    // topological walk lists every commit after all of its children.
    let mainline = first_parents(repo, to, hide, limit).map_err(lib)?;
    let mut commits = Vec::new();
    let mut pr_of: HashMap<Oid, u64> = HashMap::new();
    let mut truncated = false;
    for oid in revwalk {
        let oid = oid.map_err(lib)?;
        let commit = repo.find_commit(oid).map_err(lib)?;
        let text = String::from_utf8_lossy(commit.message_bytes());
        let parsed = message::parse(&text, rules);
        let inherited = pr_of.get(&oid).copied();
        let merge = commit.parent_count() > 1;
        for (i, parent) in commit.parent_ids().enumerate() {
            if mainline.contains(&parent) {
                continue;
            }
            let pr = match (merge && i > 0, parsed.pull_request) {
                (true, Some(own)) => Some(own),
                _ => inherited,
            };
            if let Some(pr) = pr {
                pr_of.entry(parent).or_insert(pr);
            }
        }
        if merge {
            continue;
        }
        if commits.len() >= limit {
            truncated = true;
            break;
        }
        let (subject, body) = message::split(&text);
        let author = commit.author();
        let conventional = parsed.conventional;
        commits.push(Commit {
            sha: oid.to_string(),
            author: Author {
                name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
                email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
            },
            date: GitTime {
                seconds: author.when().seconds(),
                offset_minutes: author.when().offset_minutes(),
            }
            .to_rfc3339(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            kind: conventional.as_ref().map(|c| c.kind.clone()),
            scope: conventional.and_then(|c| c.scope),
            breaking: parsed.breaking,
            pull_request: parsed.pull_request.or(inherited),
            issues: parsed.issues,
        });
    }
    Ok(Range {
        commits,
        truncated,
        notes: Vec::new(),
    })
}

/// The first-parent chain from `to` (not below `hide`), at most
/// `limit + 1` commits: enough for every commit the walk may list.
fn first_parents(
    repo: &Repository,
    to: Oid,
    hide: Option<Oid>,
    limit: usize,
) -> std::result::Result<HashSet<Oid>, git2::Error> {
    let mut walk = repo.revwalk()?;
    walk.simplify_first_parent()?;
    walk.push(to)?;
    if let Some(h) = hide {
        walk.hide(h)?;
    }
    walk.take(limit.saturating_add(1)).collect()
}

/// The first 12 characters of a revision, for notes.
pub(crate) fn short(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..12]
    } else {
        rev
    }
}
