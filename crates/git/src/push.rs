//! Committing changes on a branch tip and pushing them fast-forward only,
//! with retries on lost races and idempotency by trailers.
//!
//! The algorithm (optimistic concurrency, the remote is the arbiter):
//! 1. look for a commit carrying the promotion's trailers in the recent
//!    history of the branch; if one exists the promotion already landed
//!    (e.g. ferry crashed after pushing) → reuse it;
//! 2. let the caller compute the changes against the branch tip, build the
//!    commit in-process (only changed blobs and their trees);
//! 3. push `<sha>:refs/heads/<branch>` without force; the remote accepts only
//!    a fast-forward;
//! 4. if another push won the race, wait a jittered, growing while, fetch
//!    and start again from 1 on the new tip (bounded). Nothing is ever
//!    force-pushed, so no foreign commit can be lost.
//!
//! Onto a branch, steps 1–3 go through the branch's lane ([`crate::group`]):
//! the "tip" is the newest commit of the lane — possibly built by another
//! promotion and not pushed yet — and one push carries every commit built
//! while the previous push ran. A pull-request branch (new, one per
//! release) is built and pushed alone, under the mirror lock.
//!
//! Why the wait (issue 11): with several replicas pushing to one
//! repository, the race is not fair. The replica that just pushed knows
//! the new tip without fetching, so its next push is built and sent at
//! once, while the loser must fetch first; as long as the winner has
//! pushes queued, every loser's fetch → build → push window contains one of
//! the winner's pushes, and the loser lost 30 times in a row (8 of 1,000
//! releases failed in the two-replica benchmark). A loser that backs off
//! (randomly, so that losers do not come back together) retries across a
//! longer span, until the winner's burst has a gap. And a mirror that lost
//! a race recently fetches before its next pushes too ([`CONTENDED_FOR`]),
//! so the replicas race on equal terms while the contention lasts: each
//! window then starts with a fetch, instead of the loser's alone.
//!
//! The mirror is not fetched before the first attempt unless asked: a warm
//! mirror is usually current, and when it is not the remote rejects the push,
//! which costs the same fetch the eager variant would have paid anyway.

use std::time::{Duration, SystemTime};

use git2::{Oid, Repository};

use crate::cli;
use crate::error::{Error, Result};
use crate::group::Fate;
use crate::mirror::Mirror;
use crate::read::TreeReader;
use crate::trailers::{CommitMessage, Trailer, has_trailers};
use crate::tree_edit::{Change, apply_changes};

/// A name and e-mail for author or committer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub name: String,
    pub email: String,
}

impl Signature {
    pub fn new(name: impl Into<String>, email: impl Into<String>) -> Self {
        Signature {
            name: name.into(),
            email: email.into(),
        }
    }
}

/// Who commits and with which message.
#[derive(Clone, Debug)]
pub struct CommitSpec {
    pub author: Signature,
    /// Defaults to the author.
    pub committer: Option<Signature>,
    /// Its trailers identify the promotion for idempotency; a message without
    /// trailers is never deduplicated.
    pub message: CommitMessage,
}

/// Where the commit goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTarget {
    /// The branch whose tip the commit is built on.
    pub base: String,
    /// The branch that is pushed: the same as `base` for a direct commit, a
    /// new branch for a pull request.
    pub branch: String,
}

impl PushTarget {
    /// Commit directly on `branch`.
    pub fn branch(branch: impl Into<String>) -> Self {
        let branch = branch.into();
        PushTarget {
            base: branch.clone(),
            branch,
        }
    }

    /// Commit on a new branch `branch` created from the tip of `base` (for a
    /// pull request). If `branch` already exists (a retry), the commit is
    /// built on its tip instead.
    pub fn new_branch(base: impl Into<String>, branch: impl Into<String>) -> Self {
        PushTarget {
            base: base.into(),
            branch: branch.into(),
        }
    }

    /// The pull-request branch name of SPEC §4.2:
    /// `ferry/<product>/<environment>/<release number>`.
    pub fn pull_request_branch(product: &str, environment: &str, release_number: u64) -> String {
        format!("ferry/{product}/{environment}/{release_number}")
    }

    fn is_pull_request(&self) -> bool {
        self.base != self.branch
    }
}

/// Knobs of [`Mirror::commit_and_push`].
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Pushes tried before giving up with [`Error::RaceLost`].
    pub max_attempts: u32,
    /// How many commits of the branch history are searched for an existing
    /// commit with the same trailers.
    pub idempotency_depth: usize,
    /// Fetch before the first attempt (otherwise only after a lost race,
    /// or when the mirror lost one within [`CONTENDED_FOR`]).
    pub fetch_first: bool,
    /// The wait after a lost race, before fetching and trying again.
    pub race_backoff: RaceBackoff,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            max_attempts: 5,
            idempotency_depth: 200,
            fetch_first: false,
            race_backoff: RaceBackoff::default(),
        }
    }
}

/// How long a mirror that lost a push race fetches before each push, so
/// that it does not lose again on a tip it already knows to be stale.
pub const CONTENDED_FOR: Duration = Duration::from_secs(10);

/// Exponential backoff with jitter between push attempts that lost a race.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaceBackoff {
    /// The wait after the first lost race (before jitter).
    pub initial: Duration,
    /// The longest wait (before jitter).
    pub max: Duration,
}

impl Default for RaceBackoff {
    /// 20 ms doubling to 1 s: a promotion commit takes tens of
    /// milliseconds, so the first waits let one or two of the winner's
    /// pushes pass and the later ones outlast a burst of them.
    fn default() -> Self {
        RaceBackoff {
            initial: Duration::from_millis(20),
            max: Duration::from_secs(1),
        }
    }
}

impl RaceBackoff {
    /// The wait after lost race number `lost` (from 1):
    /// `initial · 2^(lost-1)` capped at `max`, jittered to 50–100 %, so
    /// that losers of the same race do not come back at the same instant.
    pub fn delay(&self, lost: u32) -> Duration {
        let exp = lost.saturating_sub(1).min(20);
        let full = self.initial.saturating_mul(1u32 << exp).min(self.max);
        full.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// What [`Mirror::commit_and_push`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushOutcome {
    /// The promotion commit on the remote; `None` when nothing had to change.
    pub commit: Option<Oid>,
    /// The commit was already there (same trailers) and was not made again.
    pub reused: bool,
    /// Push attempts made (0 when nothing was pushed).
    pub attempts: u32,
    /// The branch the commit is on.
    pub branch: String,
    /// The tip the commit was built on (or that was found unchanged).
    pub base: Option<Oid>,
}

enum PushResult {
    Pushed,
    LostRace,
}

/// What one round of a grouped commit left to wait for.
enum Built {
    /// Our commit, in the lane.
    Mine { seq: u64, commit: Oid, base: Oid },
    /// A commit with our trailers, made by another call, in the lane.
    Waiting { seq: u64, commit: Oid, base: Oid },
    /// Nothing to change on top of the lane's commits not pushed yet:
    /// wait for the last of them, then decide again.
    Settle { seq: u64 },
}

impl Mirror {
    /// Builds one commit with the changes `compute` returns for the tip of
    /// the target branch, and pushes it fast-forward only.
    ///
    /// `compute` may run several times (once per attempt, each time on the
    /// newest tip), so it must derive the changes from the tree it is given.
    /// No change → no commit (`commit: None`).
    pub fn commit_and_push<F, E>(
        &self,
        target: &PushTarget,
        spec: &CommitSpec,
        options: &PushOptions,
        mut compute: F,
    ) -> Result<PushOutcome>
    where
        F: FnMut(&TreeReader) -> Result<Vec<Change>, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        for name in [&target.base, &target.branch] {
            validate_branch(name)?;
        }
        let message = spec.message.render()?;
        if !target.is_pull_request() {
            return self.commit_and_push_grouped(target, spec, &message, options, compute);
        }
        let trailers = &spec.message.trailers;
        let mut lock = self.lock()?;
        if options.fetch_first || self.contended_within(CONTENDED_FOR) {
            self.fetch_locked()?;
        }
        let max_attempts = options.max_attempts.max(1);
        for attempt in 1..=max_attempts {
            let repo = self.repo()?;
            if !trailers.is_empty() {
                let mut branches = vec![target.branch.as_str()];
                if target.is_pull_request() {
                    // Merged already (and the PR branch deleted)?
                    branches.push(target.base.as_str());
                }
                for branch in branches {
                    if let Some(tip) = branch_tip(&repo, branch)
                        && let Some(found) = self.find_with_trailers(
                            &repo,
                            tip,
                            trailers,
                            options.idempotency_depth,
                        )?
                    {
                        return Ok(PushOutcome {
                            commit: Some(found),
                            reused: true,
                            attempts: attempt - 1,
                            branch: branch.to_string(),
                            base: Some(tip),
                        });
                    }
                }
            }
            let base = branch_tip(&repo, &target.branch)
                .or_else(|| branch_tip(&repo, &target.base))
                .ok_or_else(|| Error::RevisionNotFound {
                    url: self.remote().display_url(),
                    rev: target.base.clone(),
                })?;
            let reader = TreeReader::new(
                repo,
                base,
                self.remote().display_url(),
                Some(std::sync::Arc::clone(self.objects())),
            )?;
            let commit_span = tracing::info_span!(target: crate::TRACE_TARGET, "git.commit",
                branch = %target.branch, attempt)
            .entered();
            let changes = compute(&reader).map_err(|e| Error::Changes { source: e.into() })?;
            reader.prepare_changes(&changes)?;
            let repo = reader.repo();
            let new_tree = apply_changes(repo, reader.tree_id(), &changes)?;
            if new_tree == reader.tree_id() {
                return Ok(PushOutcome {
                    commit: None,
                    reused: false,
                    attempts: attempt - 1,
                    branch: target.branch.clone(),
                    base: Some(base),
                });
            }
            let commit = self.write_commit(repo, spec, &message, new_tree, base)?;
            drop(commit_span);
            match self.push_locked(commit, &target.branch)? {
                PushResult::Pushed => {
                    // The remote has it now; let the mirror say so without a fetch.
                    repo.reference(
                        &format!("refs/heads/{}", target.branch),
                        commit,
                        true,
                        "ferry push",
                    )
                    .map_err(|e| self.git_error("updating the pushed branch", e))?;
                    return Ok(PushOutcome {
                        commit: Some(commit),
                        reused: false,
                        attempts: attempt,
                        branch: target.branch.clone(),
                        base: Some(base),
                    });
                }
                PushResult::LostRace => {
                    self.mark_contended()?;
                    if attempt < max_attempts {
                        // Unlocked while waiting: this replica's readers
                        // (and its other pushers, which will fetch first
                        // now) go on meanwhile.
                        drop(lock);
                        std::thread::sleep(options.race_backoff.delay(attempt));
                        lock = self.lock()?;
                        self.fetch_locked()?;
                    }
                }
            }
        }
        drop(lock);
        Err(Error::RaceLost {
            url: self.remote().display_url(),
            branch: target.branch.clone(),
            attempts: max_attempts,
        })
    }

    /// [`Mirror::commit_and_push`] onto a branch: through the branch's lane
    /// (see [`crate::group`]), so promotions made at the same time build
    /// their commits one on another and share pushes. The mirror lock is
    /// held only to fetch and to record a pushed tip, never across a push:
    /// reads and fetches for other promotions go on meanwhile.
    fn commit_and_push_grouped<F, E>(
        &self,
        target: &PushTarget,
        spec: &CommitSpec,
        message: &str,
        options: &PushOptions,
        mut compute: F,
    ) -> Result<PushOutcome>
    where
        F: FnMut(&TreeReader) -> Result<Vec<Change>, E>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let trailers = &spec.message.trailers;
        let branch = target.branch.as_str();
        let lane = crate::group::lane(self.path(), branch);
        let max_attempts = options.max_attempts.max(1);
        let mut attempt = 1;
        // Whether the branch tip in the mirror is known to be stale (asked
        // to fetch first, or our last commit was dropped by a lost race).
        let mut stale = options.fetch_first;
        loop {
            let since = SystemTime::now();
            let built = {
                let turn = lane.build();
                let end = turn.end();
                // A commit on the lane's unpushed end needs no fetch: the
                // chain's first commit was built on a fresh tip.
                if end.is_none() && (stale || self.contended_within(CONTENDED_FOR)) {
                    self.fetch_since(since)?;
                }
                stale = false;
                let repo = self.repo()?;
                let base = match end {
                    Some(end) => end,
                    None => branch_tip(&repo, branch).ok_or_else(|| Error::RevisionNotFound {
                        url: self.remote().display_url(),
                        rev: target.base.clone(),
                    })?,
                };
                let found = if trailers.is_empty() {
                    None
                } else {
                    self.find_with_trailers(&repo, base, trailers, options.idempotency_depth)?
                };
                if let Some(found) = found {
                    match turn.waiting(found) {
                        // Landed before (e.g. pushed before a crash).
                        None => {
                            return Ok(PushOutcome {
                                commit: Some(found),
                                reused: true,
                                attempts: attempt - 1,
                                branch: branch.to_owned(),
                                base: Some(base),
                            });
                        }
                        // The same promotion, made by another call moments ago.
                        Some(seq) => Built::Waiting {
                            seq,
                            commit: found,
                            base,
                        },
                    }
                } else {
                    let reader = TreeReader::new(
                        repo,
                        base,
                        self.remote().display_url(),
                        Some(std::sync::Arc::clone(self.objects())),
                    )?;
                    let commit_span =
                        tracing::info_span!(target: crate::TRACE_TARGET, "git.commit",
                        branch = %branch, attempt)
                        .entered();
                    let changes =
                        compute(&reader).map_err(|e| Error::Changes { source: e.into() })?;
                    reader.prepare_changes(&changes)?;
                    let new_tree = apply_changes(reader.repo(), reader.tree_id(), &changes)?;
                    if new_tree == reader.tree_id() {
                        match end.and_then(|end| turn.waiting(end)) {
                            // Unchanged on top of commits not pushed yet:
                            // decided once they are on the remote (or gone).
                            Some(last) => Built::Settle { seq: last },
                            None => {
                                return Ok(PushOutcome {
                                    commit: None,
                                    reused: false,
                                    attempts: attempt - 1,
                                    branch: branch.to_owned(),
                                    base: Some(base),
                                });
                            }
                        }
                    } else {
                        let commit =
                            self.write_commit(reader.repo(), spec, message, new_tree, base)?;
                        drop(commit_span);
                        match turn.append(end, commit) {
                            Some(seq) => Built::Mine { seq, commit, base },
                            // A push ended while we built: build again on
                            // what the lane holds now.
                            None => continue,
                        }
                    }
                }
            };
            let (seq, outcome) = match built {
                Built::Mine { seq, commit, base } => (seq, Some((commit, false, base))),
                Built::Waiting { seq, commit, base } => (seq, Some((commit, true, base))),
                Built::Settle { seq } => (seq, None),
            };
            let landed = loop {
                match lane.wait(seq) {
                    Fate::Pushed => break true,
                    Fate::Dropped => break false,
                    Fate::Push(push) => match self.push_locked(push.end, branch) {
                        Ok(PushResult::Pushed) => {
                            // The remote has it; the mirror says so without
                            // a fetch (before the waiters are told).
                            let recorded = self.record_pushed(branch, push.end);
                            push.done(true);
                            recorded?;
                        }
                        Ok(PushResult::LostRace) => {
                            push.done(false);
                            self.mark_contended()?;
                        }
                        Err(e) => {
                            push.done(false);
                            if outcome.is_some() {
                                return Err(e);
                            }
                        }
                    },
                }
            };
            match outcome {
                Some((commit, reused, base)) if landed => {
                    return Ok(PushOutcome {
                        commit: Some(commit),
                        reused,
                        attempts: attempt,
                        branch: branch.to_owned(),
                        base: Some(base),
                    });
                }
                // Settled: look again on what the lane (or the branch) holds.
                None => stale = !landed,
                Some(_) => {
                    if attempt >= max_attempts {
                        return Err(Error::RaceLost {
                            url: self.remote().display_url(),
                            branch: branch.to_owned(),
                            attempts: max_attempts,
                        });
                    }
                    std::thread::sleep(options.race_backoff.delay(attempt));
                    attempt += 1;
                    stale = true;
                }
            }
        }
    }

    /// Moves the mirror's `branch` to `commit`, just pushed — unless a
    /// fetch meanwhile brought it past it.
    fn record_pushed(&self, branch: &str, commit: Oid) -> Result<()> {
        let _lock = self.lock()?;
        let repo = self.repo()?;
        if let Some(tip) = branch_tip(&repo, branch)
            && (tip == commit
                || !repo
                    .graph_descendant_of(commit, tip)
                    .map_err(|e| self.git_error("comparing the pushed commit", e))?)
        {
            return Ok(());
        }
        repo.reference(&format!("refs/heads/{branch}"), commit, true, "ferry push")
            .map_err(|e| self.git_error("updating the pushed branch", e))?;
        Ok(())
    }

    /// The newest commit reachable from `tip` (within `depth` commits, all
    /// parents followed so merged pull requests count) whose message carries
    /// all of `trailers`.
    fn find_with_trailers(
        &self,
        repo: &Repository,
        tip: Oid,
        trailers: &[Trailer],
        depth: usize,
    ) -> Result<Option<Oid>> {
        let mut walk = repo
            .revwalk()
            .map_err(|e| self.git_error("walking history", e))?;
        walk.push(tip)
            .map_err(|e| self.git_error("walking history", e))?;
        // Cheap pre-filter: the rarest value (usually the release id) must
        // appear in the message before trailers are parsed.
        let needle = trailers
            .first()
            .map(|t| t.value.trim().to_string())
            .unwrap_or_default();
        for oid in walk.take(depth) {
            let oid = oid.map_err(|e| self.git_error("walking history", e))?;
            let commit = repo
                .find_commit(oid)
                .map_err(|e| self.git_error("reading a commit", e))?;
            let message = String::from_utf8_lossy(commit.message_bytes());
            if message.contains(needle.as_str()) && has_trailers(&message, trailers) {
                return Ok(Some(oid));
            }
        }
        Ok(None)
    }

    fn write_commit(
        &self,
        repo: &Repository,
        spec: &CommitSpec,
        message: &str,
        tree: Oid,
        parent: Oid,
    ) -> Result<Oid> {
        let signature = |s: &Signature| {
            git2::Signature::now(&s.name, &s.email)
                .map_err(|e| self.git_error("creating a signature", e))
        };
        let author = signature(&spec.author)?;
        let committer = signature(spec.committer.as_ref().unwrap_or(&spec.author))?;
        let tree = repo
            .find_tree(tree)
            .map_err(|e| self.git_error("reading the new tree", e))?;
        let parent = repo
            .find_commit(parent)
            .map_err(|e| self.git_error("reading the parent commit", e))?;
        repo.commit(None, &author, &committer, message, &tree, &[&parent])
            .map_err(|e| self.git_error("writing the commit", e))
    }

    /// `git push <url> <sha>:refs/heads/<branch>` — never forced.
    fn push_locked(&self, commit: Oid, branch: &str) -> Result<PushResult> {
        let _span = tracing::info_span!(target: crate::TRACE_TARGET, "git.push",
            url = %self.remote().display_url(), branch = %branch)
        .entered();
        let refspec = format!("{commit}:refs/heads/{branch}");
        let output = cli::spawn(
            self.remote(),
            self.path(),
            "push",
            [
                "push",
                "--porcelain",
                "--quiet",
                "--",
                self.remote().url(),
                refspec.as_str(),
            ],
        )?;
        if output.status.success() {
            return Ok(PushResult::Pushed);
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        // Porcelain status line: "!\t<src>:<dst>\t[rejected] (fetch first)".
        if let Some(line) = stdout.lines().find(|l| l.starts_with('!')) {
            let summary = line.split('\t').nth(2).unwrap_or(line).trim();
            if is_lost_race(summary) {
                return Ok(PushResult::LostRace);
            }
            let stderr = self
                .remote()
                .redact(String::from_utf8_lossy(&output.stderr).trim());
            let summary = self.remote().redact(summary);
            return Err(Error::PushRejected {
                url: self.remote().display_url(),
                branch: branch.to_string(),
                reason: if stderr.is_empty() {
                    summary
                } else {
                    format!("{summary}; remote said: {stderr}")
                },
            });
        }
        Err(cli::failure(self.remote(), "push", &output))
    }
}

impl Mirror {
    /// Deletes `branch` on the remote and in the mirror: the promotion
    /// branch of a release that was terminated or superseded, so nobody
    /// merges it. `Ok(false)` when the remote has no such branch (deleted
    /// already, or merged and deleted by a forge).
    pub fn delete_branch(&self, branch: &str) -> Result<bool> {
        validate_branch(branch)?;
        let _lock = self.lock()?;
        let refspec = format!(":refs/heads/{branch}");
        let output = cli::spawn(
            self.remote(),
            self.path(),
            "push",
            [
                "push",
                "--porcelain",
                "--quiet",
                "--",
                self.remote().url(),
                refspec.as_str(),
            ],
        )?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // A remote without the branch warns ("deleting a non-existent
        // ref") and succeeds, or the client refuses first ("remote ref
        // does not exist"), depending on the transport.
        let deleted = if output.status.success() {
            !stderr.contains("non-existent ref")
        } else if stderr.contains("remote ref does not exist") {
            false
        } else {
            return Err(cli::failure(self.remote(), "push", &output));
        };
        // The mirror forgets it too (a fetch would prune it anyway).
        let repo = self.repo()?;
        if let Ok(mut r) = repo.find_reference(&format!("refs/heads/{branch}")) {
            r.delete().map_err(|e| {
                crate::read::lib_error(&self.remote().display_url(), "deleting a branch", e)
            })?;
        }
        Ok(deleted)
    }
}

/// Rejections that mean "the branch moved under us" (fetch and retry), as
/// opposed to policy rejections (protected branch, hooks).
fn is_lost_race(summary: &str) -> bool {
    const MARKERS: &[&str] = &[
        "fetch first",
        "non-fast-forward",
        "stale info",
        "incorrect old value",
        "cannot lock ref",
        "failed to update ref",
    ];
    MARKERS.iter().any(|m| summary.contains(m))
}

fn branch_tip(repo: &Repository, branch: &str) -> Option<Oid> {
    repo.find_reference(&format!("refs/heads/{branch}"))
        .ok()?
        .peel_to_commit()
        .ok()
        .map(|c| c.id())
}

fn validate_branch(name: &str) -> Result<()> {
    if name.is_empty()
        || name.starts_with('-')
        || !git2::Reference::is_valid_name(&format!("refs/heads/{name}"))
    {
        return Err(Error::InvalidBranch {
            name: name.to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_request_branch_name() {
        assert_eq!(
            PushTarget::pull_request_branch("trio", "qa", 7),
            "ferry/trio/qa/7"
        );
        assert!(validate_branch(&PushTarget::pull_request_branch("trio", "qa", 7)).is_ok());
    }

    #[test]
    fn branch_names_git_refuses_are_rejected() {
        for bad in ["", "-x", "a..b", "a b", "a~1", "x.lock", "a//b"] {
            assert!(
                matches!(validate_branch(bad), Err(Error::InvalidBranch { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn race_markers() {
        assert!(is_lost_race("[rejected] (fetch first)"));
        assert!(is_lost_race("[rejected] (non-fast-forward)"));
        assert!(!is_lost_race(
            "[remote rejected] (pre-receive hook declined)"
        ));
    }
}
