//! What runs where (SPEC §12): an environment's deployed version is what
//! its branch holds, and it is credited to a release only when that
//! release's promotion commit is what runs there.
//!
//! For one application in one environment: the tip of its branch, its
//! version there (the template's `versionSource`), and the newest commit
//! that changed its path and names a promotion into this environment and
//! application — by the promotion trailers (`Ferry-Release`,
//! `Ferry-Environment`, `Ferry-Application`, also inside a squash merge's
//! message) or, for a squash that kept none, by the commit a release
//! recorded. That release is credited when the version did not change since
//! that commit (or, without a `versionSource`, nothing changed the path
//! since) and its record says the promotion is its own: its promotion step
//! succeeded. A pull request merged after its release was terminated, a
//! version changed by hand, a commit ferry did not make: no release is
//! named, and `note` says why.
//!
//! Read from the mirrors this process has open (the engine keeps them
//! fetched): a page view never clones or fetches. The history walk is
//! remembered per (branch tip, path): a commit never changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ferry_git::{Oid, promotion_claims};
use ferry_model::resource::VersionSource;
use ferry_release::{Release, StepPhase, StepStatus};
use serde::Serialize;

/// Commits that changed an application's path, newest first, looked at
/// for its newest promotion.
const SEARCH: usize = 50;

/// One application in one environment, to look up.
pub struct Lookup {
    pub environment: String,
    pub application: String,
    pub repo_url: String,
    pub target_revision: String,
    pub path: String,
    pub version_source: Option<VersionSource>,
}

/// A commit, as shown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitRef {
    pub sha: String,
    pub subject: String,
}

/// The release credited with what runs.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credit {
    pub id: String,
    pub number: u64,
    /// The release's status.
    pub status: ferry_release::ReleaseStatus,
    /// Its environment's and application's status here.
    pub environment_status: ferry_release::EnvironmentStatus,
    pub application_status: ferry_release::EnvironmentStatus,
}

/// What the branch says, and the release credited (if any).
#[derive(Debug, Clone, Default)]
pub struct Deployed {
    /// The tip of the branch.
    pub revision: Option<String>,
    /// The version at the tip.
    pub version: Option<String>,
    /// The commit the version came from (a promotion, else the newest
    /// change of the path).
    pub commit: Option<CommitRef>,
    pub credit: Option<Credit>,
    /// Why no release is named although a promotion is on the branch.
    pub note: Option<String>,
    /// The credited release's record of the application here (sync,
    /// health, steps).
    pub run: Option<ferry_release::ApplicationRun>,
}

/// What the history walk found (immutable for a tip and a path): the
/// commits that changed the path, newest first, down to the newest that
/// names a promotion into (environment, application) by its trailers —
/// and that promotion's release.
#[derive(Debug, Clone, Default)]
struct Walk {
    commits: Vec<(Oid, String)>,
    named: Option<String>,
}

type WalkKey = (String, Oid, String, String, String);

fn walks() -> &'static Mutex<HashMap<WalkKey, Walk>> {
    static WALKS: OnceLock<Mutex<HashMap<WalkKey, Walk>>> = OnceLock::new();
    WALKS.get_or_init(Default::default)
}

/// (environment, application, commit) → release id, from release records:
/// how a squash merge that kept no trailers is recognised.
pub type Recorded = HashMap<(String, String, String), String>;

/// The commits `releases` recorded as promotions.
pub fn recorded(releases: &[Release]) -> Recorded {
    let mut out = HashMap::new();
    for r in releases {
        for e in &r.environments {
            for a in &e.applications {
                let head = a.pull_request.as_ref().and_then(|p| p.head.clone());
                for c in a.promotion_commit.iter().chain(head.iter()) {
                    out.entry((e.name.clone(), a.name.clone(), c.clone()))
                        .or_insert_with(|| r.id.clone());
                }
            }
        }
    }
    out
}

/// A promotion found on the branch, to judge against its release's record:
/// the release id, how many commits changed the path after it, and whether
/// the version is still what it wrote.
struct Found {
    release: String,
    later: usize,
    unchanged: bool,
}

/// What the branch holds for each lookup (in order): tip, version and the
/// newest promotion, read from the open mirrors.
fn read(
    workspace: &ferry_gitops::Workspace,
    lookups: &[Lookup],
    recorded: &Recorded,
) -> Vec<(Deployed, Option<Found>)> {
    lookups
        .iter()
        .map(|l| read_one(workspace, l, recorded).unwrap_or_default())
        .collect()
}

/// The deployed state, and the promotion to judge.
fn read_one(
    workspace: &ferry_gitops::Workspace,
    l: &Lookup,
    recorded: &Recorded,
) -> Option<(Deployed, Option<Found>)> {
    let mirror = workspace.opened(&l.repo_url)?;
    // A page never waits on the network: what a partial mirror has not
    // fetched yet is not shown from the mirror.
    let reader = mirror.at_offline(&l.target_revision).ok()?;
    let tip = reader.commit_id();
    let dir = l.path.trim_matches('/');
    let version_at = |r: &ferry_git::TreeReader| {
        l.version_source
            .as_ref()
            .and_then(|vs| ferry_gitops::read_version(r, dir, vs).ok().flatten())
    };
    let version = version_at(&reader);
    let key = (
        l.repo_url.clone(),
        tip,
        dir.to_owned(),
        l.environment.clone(),
        l.application.clone(),
    );
    let cached = walks()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&key)
        .cloned();
    let walk = match cached {
        Some(w) => w,
        None => {
            let w = walk(&mirror, tip, dir, l);
            let mut all = walks().lock().unwrap_or_else(|p| p.into_inner());
            if all.len() > 4096 {
                all.clear();
            }
            all.insert(key, w.clone());
            w
        }
    };
    let mut d = Deployed {
        revision: Some(tip.to_string()),
        version: version.clone(),
        commit: walk.commits.first().map(|(c, s)| CommitRef {
            sha: c.to_string(),
            subject: s.clone(),
        }),
        ..Deployed::default()
    };
    // The newest promotion: named by its trailers, or (a squash merge that
    // kept none) a commit a release recorded.
    let last = walk.commits.len().saturating_sub(1);
    let found = walk
        .commits
        .iter()
        .enumerate()
        .find_map(|(i, (c, subject))| {
            let by_record = || {
                recorded
                    .get(&(l.environment.clone(), l.application.clone(), c.to_string()))
                    .cloned()
            };
            let release = if i == last {
                walk.named.clone().or_else(by_record)
            } else {
                by_record()
            }?;
            Some((i, *c, subject.clone(), release))
        });
    let Some((later, commit, subject, release)) = found else {
        return Some((d, None));
    };
    // The version came from the promotion when it is still what the
    // promotion wrote (changes of other files since do not matter).
    let unchanged = match &l.version_source {
        Some(_) => mirror
            .at_commit(commit)
            .ok()
            .is_some_and(|r| version_at(&r) == version),
        None => later == 0,
    };
    if unchanged {
        d.commit = Some(CommitRef {
            sha: commit.to_string(),
            subject,
        });
    }
    Some((
        d,
        Some(Found {
            release,
            later,
            unchanged,
        }),
    ))
}

fn walk(mirror: &ferry_git::Mirror, tip: Oid, dir: &str, l: &Lookup) -> Walk {
    let mut w = Walk::default();
    for c in mirror
        .commits_touching(None, tip, dir, SEARCH)
        .unwrap_or_default()
    {
        let named = promotion_claims(&c.message)
            .into_iter()
            .find(|p| p.environment == l.environment && p.application == l.application)
            .map(|p| p.release);
        w.commits.push((c.id, c.subject().to_owned()));
        if named.is_some() {
            w.named = named;
            break;
        }
    }
    w
}

/// Looks up every application, then judges each promotion against its
/// release's record (`releases` first, then the store).
pub async fn deployed(
    workspace: Arc<ferry_gitops::Workspace>,
    store: &ferry_store::Store,
    lookups: Vec<Lookup>,
    releases: Vec<Release>,
) -> Vec<Deployed> {
    let recorded = recorded(&releases);
    let read = {
        let lookups = Arc::new(lookups);
        let l2 = Arc::clone(&lookups);
        let read = tokio::task::spawn_blocking(move || read(&workspace, &l2, &recorded))
            .await
            .unwrap_or_default();
        (lookups, read)
    };
    let (lookups, found) = read;
    let mut records: HashMap<String, Option<Release>> = releases
        .into_iter()
        .map(|r| (r.id.clone(), Some(r)))
        .collect();
    let mut out = Vec::new();
    for (l, (mut d, promotion)) in lookups.iter().zip(found) {
        if let Some(found) = promotion {
            let id = found.release.clone();
            if !records.contains_key(&id) {
                let r = store.get(&id).await.ok().flatten();
                records.insert(id.clone(), r);
            }
            judge(&mut d, l, records.get(&id).and_then(Option::as_ref), &found);
        }
        out.push(d);
    }
    out
}

/// Credits the release, or says why not.
fn judge(d: &mut Deployed, l: &Lookup, release: Option<&Release>, found: &Found) {
    let Found {
        release: id,
        later,
        unchanged,
    } = found;
    let (later, unchanged) = (*later, *unchanged);
    let Some(r) = release else {
        d.note = Some(format!(
            "promoted by release {id}, which this server does not know"
        ));
        return;
    };
    if !unchanged {
        d.note = Some(format!(
            "the version was changed after release #{}'s promotion, by {} later commit{}",
            r.number,
            later,
            if later == 1 { "" } else { "s" }
        ));
        return;
    }
    let Some((e, a)) = r.environment(&l.environment).and_then(|e| {
        e.applications
            .iter()
            .find(|a| a.name == l.application)
            .map(|a| (e, a))
    }) else {
        d.note = Some(format!(
            "release #{} names this promotion but has no {} in {}",
            r.number, l.application, l.environment
        ));
        return;
    };
    let promoted = a
        .steps
        .iter()
        .any(|s| s.phase == StepPhase::Action && s.status == StepStatus::Success);
    if !promoted {
        let step = a
            .steps
            .iter()
            .find(|s| s.phase == StepPhase::Action)
            .map_or("PENDING", |s| s.status.as_str());
        d.note = Some(if r.status.is_final() {
            format!(
                "from release #{}'s promotion, merged after #{} was {} here (its promotion step is {step}): not part of a release",
                r.number, r.number, e.status
            )
        } else {
            format!(
                "release #{} has not recorded this promotion yet (its promotion step is {step})",
                r.number
            )
        });
        return;
    }
    d.credit = Some(Credit {
        id: r.id.clone(),
        number: r.number,
        status: r.status,
        environment_status: e.status,
        application_status: a.status,
    });
    d.run = Some(a.clone());
}
