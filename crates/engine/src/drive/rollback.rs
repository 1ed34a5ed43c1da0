//! Automatic rollback (policy `onFailure: rollback`, issue 20). When an
//! environment fails after its promotion commit landed, ferry promotes the
//! environment's previous successful snapshot — that of the newest earlier
//! release of the product that succeeded there — back as a *rollback
//! release*: a one-environment release of kind `rollback` whose edit
//! changes only the promoted properties, so every other byte stays.
//!
//! Once per (failed release, environment), whatever happens: the rollback
//! is stored under the trigger key `rollback:<release>:<environment>`
//! (the store's primary key makes a second one impossible), and the failed
//! release records the link before it finishes. A restart between the two
//! finds the stored rollback by its key and links it; a rollback release
//! never rolls back itself (it would undo its own repair).
//!
//! The rollback is stored QUEUED and started by the product's queue
//! hand-over once the failed release has ended (a rollback goes before
//! any other queued release; see `release.rs`).

use std::sync::Arc;

use ferry_model::resource::OnFailure;
use ferry_release::{
    EnvironmentStatus, EventKind, IssueKind, NewEvent, Release, ReleaseKind, ReleaseStatus,
    RollbackLink,
};

use super::record::{issue, stops_driver};
use crate::create::{assemble, members, single_step};
use crate::handle::ReleaseHandle;
use crate::store::Created;
use crate::{Error, Inner};

/// Who rollback releases name as their initiator.
const INITIATOR: &str = "ferry (automatic rollback)";

/// The environments of `r` that call for a rollback now: failed after a
/// promotion commit landed, with `onFailure: rollback`, not rolled back
/// yet — none when `r` is itself a rollback or was terminated.
fn to_roll_back(r: &Release) -> Vec<String> {
    if r.rollback_for.is_some() || r.termination.is_some() {
        return Vec::new();
    }
    r.environments
        .iter()
        .filter(|e| !e.trigger && e.status == EnvironmentStatus::Failed)
        .filter(|e| {
            r.graph
                .step(&e.name)
                .is_some_and(|s| s.policy.on_failure == Some(OnFailure::Rollback))
        })
        .filter(|e| e.applications.iter().any(|a| a.promotion_commit.is_some()))
        .filter(|e| !r.rolled_back_by.iter().any(|l| l.environment == e.name))
        .map(|e| e.name.clone())
        .collect()
}

/// Starts the rollbacks `r` calls for (called as it finishes, before its
/// end is stored) and records each link — or, when there is nothing to
/// roll back to, an issue saying so.
pub(super) async fn roll_back_failed(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
) -> Result<(), Error> {
    let r = handle.get().await;
    for env in to_roll_back(&r) {
        match create(inner, &r, &env).await {
            Ok(Some(link)) => {
                let note = NewEvent::new(EventKind::Audit, "ROLLED_BACK")
                    .environment(&env)
                    .message(format!(
                        "rolled back: {env} failed after its promotion commit; release #{} promotes the previous successful snapshot back",
                        link.number
                    ));
                handle
                    .update(|r| {
                        if !r.rolled_back_by.iter().any(|l| l.environment == env) {
                            r.rolled_back_by.push(link.clone());
                        }
                        ((), vec![note.clone()])
                    })
                    .await?;
            }
            Ok(None) => {
                let why = format!(
                    "no automatic rollback: no earlier release of `{}` succeeded in {env}",
                    r.product
                );
                note_issue(handle, &env, why).await?;
            }
            Err(e) if stops_driver(handle, &e) => return Err(e),
            Err(e) => {
                tracing::error!(release = %r.id, environment = %env, error = %e, "starting an automatic rollback");
                note_issue(
                    handle,
                    &env,
                    format!("the automatic rollback could not be started: {e}"),
                )
                .await?;
            }
        }
    }
    Ok(())
}

/// An issue on `env`, once (a restart in the middle of the release's end
/// comes here again).
async fn note_issue(handle: &Arc<ReleaseHandle>, env: &str, why: String) -> Result<(), Error> {
    handle
        .update(|r| {
            if let Some(e) = r.environment_mut(env)
                && !e.issues.iter().any(|i| i.message == why)
            {
                e.issues.push(issue(IssueKind::Internal, why.clone()));
            }
            ((), vec![])
        })
        .await
}

/// Stores the rollback release of `env` for the failed release `failed`
/// (or finds the one stored before) and links it; `None` when no earlier
/// release succeeded there.
async fn create(
    inner: &Arc<Inner>,
    failed: &Release,
    env: &str,
) -> Result<Option<RollbackLink>, Error> {
    let key = format!("rollback:{}:{env}", failed.id);
    let Some(previous) = inner
        .store
        .last_success_in(&failed.product, env, failed.number)
        .await
        .map_err(crate::store_error)?
    else {
        return Ok(None);
    };
    let cfg = inner.config();
    let membership = inner.membership(&cfg);
    let pm = members(&membership, &failed.product)?;
    // The environment's checks as the failed release ran them (its frozen
    // step policy, inline settings of its flow included).
    let policy = failed.graph.step(env).map(|s| s.policy.clone());
    let flow = single_step(
        &cfg,
        pm,
        &previous.snapshot.environment,
        env,
        policy.as_ref(),
    )?;
    let mut release = assemble(
        &cfg,
        pm,
        &failed.product,
        flow,
        ReleaseKind::Rollback {
            from_release: previous.id.clone(),
        },
        INITIATOR,
        previous.trigger.clone(),
        previous.version.clone(),
        previous.snapshot.clone(),
    );
    release.rollback_for = Some(RollbackLink {
        environment: env.to_owned(),
        release: failed.id.clone(),
        number: failed.number,
    });
    // Started by the queue hand-over once the failed release has ended.
    release.status = ReleaseStatus::Queued;
    crate::create::start_timeout(inner, &mut release);
    let mut created = NewEvent::new(EventKind::Audit, ReleaseStatus::Queued.as_str()).message(
        format!(
            "automatic rollback of {env}: release #{} failed there after its promotion commit; promoting release #{}'s snapshot ({}) back",
            failed.number,
            previous.number,
            previous.version.as_deref().unwrap_or("no version")
        ),
    );
    created.at = release.created_at;
    let stored = inner
        .store
        .create(release, Some(key), vec![created])
        .await
        .map_err(crate::store_error)?;
    let (id, number) = match stored {
        Created::New(r, events) => {
            for e in events {
                let _ = inner.events.send(e);
            }
            (r.id.clone(), r.number)
        }
        // Stored before a restart: the same rollback, linked now.
        Created::Duplicate(id) => {
            let r = inner
                .store
                .get(&id)
                .await
                .map_err(crate::store_error)?
                .ok_or_else(|| Error::NotFound(id.clone()))?;
            (r.id, r.number)
        }
        Created::Remembered(_) => {
            return Err(Error::Internal(
                "a rollback was answered as a remembered request".into(),
            ));
        }
    };
    Ok(Some(RollbackLink {
        environment: env.to_owned(),
        release: id,
        number,
    }))
}
