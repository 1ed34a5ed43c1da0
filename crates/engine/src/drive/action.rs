//! The promotion action (SPEC §4.2 b): `commit` pushes the snapshot to the
//! target branch, `pr` to a pull-request branch and waits until it is
//! merged (through a forge, or by watching the branch without one), `none`
//! changes nothing.

use std::sync::Arc;
use std::time::Duration;

use ferry_git::{CommitSpec, PushOptions, PushTarget, Signature, promotion_message};
use ferry_model::resource::Action;
use ferry_release::{
    ApplicationSnapshot, EnvironmentStatus, IssueKind, PullRequest, Release, StepPhase, StepStatus,
    now,
};
use tokio_util::sync::CancellationToken;

use super::record::{
    Outcome, app_issue, app_mut, app_of, issue, push_issue, set_app_status, step_mut,
};
use crate::handle::ReleaseHandle;
use crate::pullrequest;
use crate::{Error, Inner, blocking};

/// The snapshot entry for a target application: by key, or the only one
/// when source and target each have exactly one application.
fn snapshot_for<'r>(
    r: &'r Release,
    env: &str,
    app: &ferry_release::ApplicationRun,
) -> Option<&'r ApplicationSnapshot> {
    if let Some(s) = r.snapshot.applications.get(&app.key) {
        return Some(s);
    }
    let one_target = r
        .environment(env)
        .is_some_and(|e| e.applications.len() == 1);
    if one_target && r.snapshot.applications.len() == 1 {
        return r.snapshot.applications.values().next();
    }
    None
}

/// The promotion action (SPEC §4.2 b).
pub(super) async fn run_action(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    app: &str,
    idx: usize,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let r = handle.get().await;
    let Some(a) = app_of(&r, env, app).cloned() else {
        return Ok(Outcome::Failed);
    };
    let action = r.graph.step(env).map_or(Action::Commit, |s| s.action());
    let trace = crate::trace::current();
    let mark = |status: StepStatus, message: Option<String>| {
        let trace = trace.clone();
        move |r: &mut Release| {
            if let Some(s) = step_mut(r, env, app, idx) {
                if status == StepStatus::Running {
                    s.started_at = Some(now());
                    s.attempts += 1;
                    s.trace_id = trace.clone();
                } else {
                    s.finished_at = Some(now());
                }
                s.status = status;
                s.message = message.clone();
            }
        }
    };
    handle
        .update(|r| ((mark(StepStatus::Running, None))(r), vec![]))
        .await?;
    if action == Action::None {
        handle
            .update(|r| {
                (
                    (mark(
                        StepStatus::Success,
                        Some("no Git change (action none)".into()),
                    ))(r),
                    vec![],
                )
            })
            .await?;
        return Ok(Outcome::Passed);
    }
    let Some(snapshot) = snapshot_for(&r, env, &a).cloned() else {
        let msg = format!(
            "no application with key `{}` in the source environment `{}` to promote from",
            a.key, r.graph.trigger_environment
        );
        handle
            .update(|r| {
                (mark(StepStatus::Failed, Some(msg.clone())))(r);
                push_issue(r, env, app_issue(IssueKind::Git, app, msg.clone()));
                ((), vec![])
            })
            .await?;
        return Ok(Outcome::Failed);
    };
    let pr_branch = PushTarget::pull_request_branch(&r.product, env, r.number);
    let spec = CommitSpec {
        author: Signature::new(
            inner.settings.commit_author_name.clone(),
            inner.settings.commit_author_email.clone(),
        ),
        committer: None,
        message: promotion_message(
            &r.product,
            r.version.as_deref().unwrap_or("-"),
            env,
            app,
            &r.id,
        ),
    };
    let mut waited_for_disk = Duration::ZERO;
    let pushed = loop {
        let pushed = push_promotion(inner, &a, action, &pr_branch, &snapshot, &spec).await;
        // A Git error while the mirrors' disk cannot be written (full, or
        // read-only) is the disk's fault, not the promotion's: wait until
        // it can be written and push again — the trailers find a commit
        // that did land (issue 23).
        if pushed.is_err() && !cancel.is_cancelled() {
            let cache = inner.workspace.cache_dir().to_owned();
            if !blocking(move || Ok(crate::disk_writable(&cache))).await? {
                if waited_for_disk.is_zero() {
                    tracing::warn!(release = %r.id, environment = %env, application = %app,
                        "the Git mirrors' disk cannot be written; the push waits for it");
                }
                let pause = Duration::from_millis(500);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = cancel.cancelled() => {}
                }
                waited_for_disk += pause;
                continue;
            }
        }
        break pushed;
    };
    let (outcome, target) = match pushed {
        Ok(o) => o,
        Err(e) => {
            let msg = e.to_string();
            handle
                .update(|r| {
                    (mark(StepStatus::Failed, Some(msg.clone())))(r);
                    if let Some(e) = r.environment_mut(env) {
                        let mut i = issue(
                            IssueKind::Git,
                            format!(
                                "promotion commit failed: {}",
                                msg.lines().next().unwrap_or("")
                            ),
                        );
                        i.application = Some(app.to_owned());
                        i.details = Some(msg.clone());
                        e.issues.push(i);
                    }
                    ((), vec![])
                })
                .await?;
            return Ok(Outcome::Failed);
        }
    };
    let commit = outcome.commit.map(|c| c.to_string());
    if action == Action::Pr && commit.is_some() {
        let branch = target.branch.clone();
        if let Some(prs) = inner
            .pull_requests
            .clone()
            .filter(|p| p.handles(&a.repo_url))
        {
            // A forge opens the pull request and says when it is merged.
            // While it cannot (5xx, 429, no answer) the environment waits
            // SUSPENDED and the request is opened again later; only an
            // answer that retrying cannot change fails the environment.
            let head = commit.clone().unwrap_or_default();
            let mut failures = 0u32;
            let pr = loop {
                let opened = match pullrequest::reusable(&prs, &a, &head).await {
                    Some(pr) => Ok(pr),
                    None => {
                        let diff = pullrequest::diff_summary(
                            inner,
                            &a,
                            snapshot_for(&r, env, &a).cloned(),
                            outcome.base,
                        )
                        .await;
                        let (title, body) = pullrequest::describe(inner, &r, env, &a, &diff);
                        let spec = pullrequest::PullRequestSpec {
                            repo_url: a.repo_url.clone(),
                            head: branch.clone(),
                            base: target.base.clone(),
                            title,
                            body,
                            release_id: r.id.clone(),
                            release_url: inner.release_url(&r.product, r.number),
                            release_notes: inner
                                .config()
                                .config
                                .product(&r.product)
                                .and_then(|p| p.spec.release_notes.clone()),
                        };
                        prs.open(&spec).await.map(|o| PullRequest {
                            number: o.number,
                            url: o.url,
                            branch: branch.clone(),
                            head: Some(head.clone()),
                            closed_at: None,
                        })
                    }
                };
                match opened {
                    Ok(pr) => break pr,
                    Err(e) if prs.is_transient(&e) => {
                        failures += 1;
                        tracing::warn!(branch = %branch, failures, error = %e,
                            "the pull request could not be opened yet; trying again");
                        if failures == 1 {
                            let msg = format!(
                                "the pull request for branch `{branch}` could not be opened yet \
                                 (trying again): {e}"
                            );
                            handle
                                .update(|r| {
                                    if let Some(s) = step_mut(r, env, app, idx) {
                                        s.status = StepStatus::Suspended;
                                        s.message = Some(msg.clone());
                                    }
                                    if let Some(a) = app_mut(r, env, app) {
                                        a.promotion_commit = commit.clone();
                                    }
                                    push_issue(
                                        r,
                                        env,
                                        app_issue(IssueKind::Forge, app, msg.clone()),
                                    );
                                    set_app_status(r, env, app, EnvironmentStatus::Suspended);
                                    ((), vec![])
                                })
                                .await?;
                        }
                        tokio::select! {
                            () = tokio::time::sleep(prs.reopen_delay(&a.repo_url, failures)) => {}
                            () = cancel.cancelled() => {
                                handle
                                    .update(|r| ((mark(StepStatus::Terminated, None))(r), vec![]))
                                    .await?;
                                return Ok(Outcome::Terminated);
                            }
                        }
                    }
                    Err(e) => {
                        let msg =
                            format!("opening the pull request for branch `{branch}` failed: {e}");
                        handle
                            .update(|r| {
                                (mark(StepStatus::Failed, Some(msg.clone())))(r);
                                if let Some(a) = app_mut(r, env, app) {
                                    a.promotion_commit = commit.clone();
                                }
                                push_issue(r, env, app_issue(IssueKind::Forge, app, msg.clone()));
                                ((), vec![])
                            })
                            .await?;
                        return Ok(Outcome::Failed);
                    }
                }
            };
            let (number, url) = (pr.number, pr.url.clone());
            handle
                .update(|r| {
                    if let Some(s) = step_mut(r, env, app, idx) {
                        // Waiting on people, as its application is.
                        s.status = StepStatus::Suspended;
                        s.message = Some(format!(
                            "waiting for pull request #{number} to be merged: {url}"
                        ));
                    }
                    if let Some(a) = app_mut(r, env, app) {
                        a.promotion_commit = commit.clone();
                        a.pull_request = Some(pr.clone());
                    }
                    set_app_status(r, env, app, EnvironmentStatus::Suspended);
                    ((), vec![])
                })
                .await?;
            let end = pullrequest::wait(inner, &prs, &a.repo_url, number, cancel).await?;
            return match end {
                Some(pullrequest::PullRequestState::Merged { merge_commit }) => {
                    handle
                        .update(|r| {
                            (mark(
                                StepStatus::Success,
                                Some(format!("pull request #{number} merged")),
                            ))(r);
                            // The merge (or squash) commit is what lands on
                            // the target branch: the sync step waits for it.
                            if let (Some(a), Some(m)) = (app_mut(r, env, app), &merge_commit) {
                                a.promotion_commit = Some(m.clone());
                            }
                            set_app_status(r, env, app, EnvironmentStatus::Running);
                            ((), vec![])
                        })
                        .await?;
                    Ok(Outcome::Passed)
                }
                Some(_) => {
                    let msg = format!("pull request #{number} was closed without being merged");
                    handle
                        .update(|r| {
                            (mark(StepStatus::Failed, Some(msg.clone())))(r);
                            let mut i = app_issue(IssueKind::Forge, app, msg.clone());
                            i.link = Some(url.clone());
                            push_issue(r, env, i);
                            ((), vec![])
                        })
                        .await?;
                    Ok(Outcome::Failed)
                }
                None => {
                    handle
                        .update(|r| ((mark(StepStatus::Terminated, None))(r), vec![]))
                        .await?;
                    Ok(Outcome::Terminated)
                }
            };
        }
        let msg = format!("waiting for the pull request branch `{branch}` to be merged");
        handle
            .update(|r| {
                if let Some(s) = step_mut(r, env, app, idx) {
                    s.status = StepStatus::Suspended;
                    s.message = Some(msg.clone());
                }
                if let Some(a) = app_mut(r, env, app) {
                    a.promotion_commit = commit.clone();
                    a.pull_request = Some(PullRequest {
                        number: 0,
                        url: String::new(),
                        branch: branch.clone(),
                        head: commit.clone(),
                        closed_at: None,
                    });
                }
                set_app_status(r, env, app, EnvironmentStatus::Suspended);
                ((), vec![])
            })
            .await?;
        let merged = wait_for_merge(
            inner,
            &a,
            commit.as_deref().unwrap_or_default(),
            &branch,
            cancel,
        )
        .await?;
        return match merged {
            Some(true) => {
                handle
                    .update(|r| {
                        (mark(
                            StepStatus::Success,
                            Some(format!("pull request branch `{branch}` merged")),
                        ))(r);
                        set_app_status(r, env, app, EnvironmentStatus::Running);
                        ((), vec![])
                    })
                    .await?;
                Ok(Outcome::Passed)
            }
            Some(false) => {
                let msg =
                    format!("pull request branch `{branch}` was deleted without being merged");
                handle
                    .update(|r| {
                        (mark(StepStatus::Failed, Some(msg.clone())))(r);
                        push_issue(r, env, app_issue(IssueKind::Git, app, msg.clone()));
                        ((), vec![])
                    })
                    .await?;
                Ok(Outcome::Failed)
            }
            None => {
                handle
                    .update(|r| ((mark(StepStatus::Terminated, None))(r), vec![]))
                    .await?;
                Ok(Outcome::Terminated)
            }
        };
    }
    let message = match (&commit, outcome.reused) {
        (None, _) => "nothing to change".to_owned(),
        (Some(c), true) => format!("commit {} was already pushed", &c[..c.len().min(12)]),
        (Some(c), false) => format!("pushed {}", &c[..c.len().min(12)]),
    };
    let done = |r: &mut Release| {
        (mark(StepStatus::Success, Some(message.clone())))(r);
        if let Some(a) = app_mut(r, env, app) {
            a.promotion_commit = commit.clone();
        }
        ((), vec![])
    };
    if a.steps.get(idx + 1).map(|s| s.phase) == Some(StepPhase::Sync) {
        // The sync check only observes; its first save stores this too. A
        // crash before it re-runs the action, which finds its pushed commit
        // by the trailers instead of pushing again.
        handle.defer(done).await;
    } else {
        handle.update(done).await?;
    }
    Ok(Outcome::Passed)
}

/// How recent a fetch of the target repository must be for a "nothing to
/// change" decided on the mirror to stand without fetching again.
///
/// Commits are pushed fast-forward only, so a stale mirror is caught by the
/// remote whenever there is something to push; only "nothing to change"
/// rests on the mirror alone, and that decision already races any push
/// landing between a fetch and the read after it. A fetch that started this
/// recently (typically the snapshot's, moments ago) therefore adds no risk a
/// new one would remove.
const ACTION_FETCH_FRESHNESS: Duration = Duration::from_millis(250);

/// Writes the snapshot into the application's files as one commit and
/// pushes it (to the target branch, or a pull-request branch); the push's
/// outcome and where it went.
async fn push_promotion(
    inner: &Arc<Inner>,
    a: &ferry_release::ApplicationRun,
    action: Action,
    pr_branch: &str,
    snapshot: &ApplicationSnapshot,
    spec: &CommitSpec,
) -> Result<(ferry_git::PushOutcome, PushTarget), Error> {
    let workspace = Arc::clone(&inner.workspace);
    let (repo, path, revision) = (
        a.repo_url.clone(),
        a.path.clone(),
        a.target_revision.clone(),
    );
    let (pr_branch, snapshot, spec) = (pr_branch.to_owned(), snapshot.clone(), spec.clone());
    blocking(move || {
        let mirror = workspace.mirror(&repo)?;
        // `targetRevision: HEAD` (or none) deploys the default branch.
        let base = mirror.branch_for(&revision)?;
        let target2 = match action {
            Action::Pr => PushTarget::new_branch(base, pr_branch),
            _ => PushTarget::branch(base),
        };
        let promote = || {
            ferry_gitops::promote(
                &mirror,
                &target2,
                &path,
                &snapshot,
                &spec,
                // Several replicas push to one repository at once (issue 11):
                // each lost race means another commit landed, so a push can
                // lose as often as the other replicas have pushes waiting;
                // with the default jittered backoff between attempts, 30
                // attempts outlast such a burst by many seconds.
                &PushOptions {
                    max_attempts: 30,
                    ..PushOptions::default()
                },
            )
        };
        // No fetch first: the push is fast-forward only, so a mirror behind
        // the remote gets the push rejected and the push loop fetches and
        // plans again. Only an outcome decided on the mirror alone —
        // nothing to change, or an error such as a branch not there yet —
        // is checked again after a fetch (unless one just ran).
        let done = match promote() {
            Ok(done) if done.commit.is_some() => done,
            first => {
                if mirror.fetch_since(recent_fetch())? {
                    promote()?
                } else {
                    first?
                }
            }
        };
        Ok((done, target2))
    })
    .await
}

fn recent_fetch() -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    now.checked_sub(ACTION_FETCH_FRESHNESS).unwrap_or(now)
}

/// Without a forge, a pull request is its branch: merged once the promotion
/// commit is on the target branch; abandoned when the branch disappears
/// unmerged. `None` when cancelled.
async fn wait_for_merge(
    inner: &Arc<Inner>,
    app: &ferry_release::ApplicationRun,
    commit: &str,
    branch: &str,
    cancel: &CancellationToken,
) -> Result<Option<bool>, Error> {
    loop {
        let workspace = Arc::clone(&inner.workspace);
        let (repo, target, commit2, branch2) = (
            app.repo_url.clone(),
            app.target_revision.clone(),
            commit.to_owned(),
            branch.to_owned(),
        );
        let state = blocking(move || {
            let mirror = workspace.mirror(&repo)?;
            mirror.fetch()?;
            let tip = mirror.resolve(&target)?;
            let c = mirror.resolve(&commit2)?;
            if mirror.is_ancestor(c, tip)? {
                return Ok(Some(true));
            }
            let branch_exists = mirror.resolve(&branch2).is_ok();
            Ok(if branch_exists { None } else { Some(false) })
        })
        .await;
        match state {
            Ok(Some(done)) => return Ok(Some(done)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "checking the pull request branch"),
        }
        tokio::select! {
            () = tokio::time::sleep(inner.settings.sync_interval) => {}
            () = cancel.cancelled() => return Ok(None),
        }
    }
}
