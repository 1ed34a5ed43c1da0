//! Approval gates (issue 20): an environment whose policy sets `approval`
//! waits, before anything of it runs, until enough people allowed by the
//! gate approved it — SUSPENDED, "waiting for approval (k of N)", an
//! honest state that a page, the API, a commit status and a superseding
//! release all read from the record ([`ApprovalRun`]). A rejection fails
//! it with the rejection's comment, and so does the gate expiring
//! (`expiresAfter`, read on the engine's [`Clock`](crate::Clock)).
//!
//! Decisions ([`decide`]) are written into the release record by the
//! replica that drives the release, through the handle like every other
//! change; the waiting driver is woken by [`Inner::approvals`] and reads
//! the record again. A restart re-enters the wait with the decisions
//! made so far.

use std::sync::Arc;

use ferry_model::resource::{ApprovalGate, parse_duration};
use ferry_release::{
    ApprovalDecision, ApprovalRun, Decision, EnvironmentStatus, EventKind, GateState, IssueKind,
    NewEvent, Release, now,
};
use tokio_util::sync::CancellationToken;

use super::record::{Outcome, issue};
use crate::handle::ReleaseHandle;
use crate::{Error, Inner};

/// Who asks to decide at a gate: a token's name and role, and whether it
/// may promote the release's product into the environment (what a gate
/// without named approvers asks for). The API knows tokens; the engine
/// only compares.
#[derive(Debug, Clone)]
pub struct Approver {
    pub name: String,
    /// `viewer`, `promoter` or `admin`.
    pub role: String,
    pub may_promote: bool,
}

/// An approval or rejection asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub environment: String,
    pub decision: Decision,
    pub comment: Option<String>,
}

/// Longest comment kept with a decision.
pub const MAX_COMMENT: usize = 2000;

/// Waits at `env`'s approval gate, if its frozen policy has one. `Passed`
/// once approved (or when there is no gate), `Failed` when rejected or
/// expired (the environment then has the issue), `Terminated` when the
/// release was terminated meanwhile.
pub(super) async fn wait_for_approval(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    cancel: &CancellationToken,
) -> Result<Outcome, Error> {
    let r = handle.get().await;
    let Some(gate) = r.graph.step(env).and_then(|s| s.policy.approval.clone()) else {
        return Ok(Outcome::Passed);
    };
    let current = r.environment(env).and_then(|e| e.approval.clone());
    let open = current
        .as_ref()
        .is_some_and(|a| a.state() == GateState::Approved);
    if open {
        // Approved before (a retry after a later failure, a restart).
        return Ok(Outcome::Passed);
    }
    // Subscribed before the record is read, so no decision is missed.
    let mut decisions = inner.approvals.subscribe();
    let same_round = current.as_ref().is_some_and(|a| a.round == r.attempt);
    if !same_round {
        ask(inner, handle, env, &gate).await?;
    } else if r
        .environment(env)
        .is_some_and(|e| e.status != EnvironmentStatus::Suspended)
    {
        // Resumed in the same round: waiting again, with the decisions so far.
        handle
            .update(|r| {
                if let Some(e) = r.environment_mut(env) {
                    e.status = EnvironmentStatus::Suspended;
                }
                ((), vec![])
            })
            .await?;
    }
    loop {
        let r = handle.get().await;
        let Some(a) = r.environment(env).and_then(|e| e.approval.clone()) else {
            return Err(Error::Internal(format!(
                "the approval gate of `{env}` was not recorded"
            )));
        };
        match a.state() {
            GateState::Approved => {
                handle
                    .update(|r| {
                        if let Some(e) = r.environment_mut(env) {
                            e.status = EnvironmentStatus::Running;
                        }
                        let names: Vec<&str> = a
                            .current()
                            .filter(|d| d.decision == Decision::Approve)
                            .map(|d| d.by.as_str())
                            .collect();
                        (
                            (),
                            vec![
                                NewEvent::new(EventKind::Approval, "OPEN")
                                    .environment(env)
                                    .message(format!("approved by {}", names.join(", "))),
                            ],
                        )
                    })
                    .await?;
                return Ok(Outcome::Passed);
            }
            GateState::Rejected | GateState::Expired => {
                let why = a.failure().unwrap_or_else(|| "the approval failed".into());
                handle
                    .update(|r| {
                        if let Some(e) = r.environment_mut(env) {
                            // FAILED by `end_environment`, which runs `onFail`.
                            e.issues.push(issue(IssueKind::Approval, why.clone()));
                        }
                        ((), vec![])
                    })
                    .await?;
                return Ok(Outcome::Failed);
            }
            GateState::Waiting { .. } => {}
        }
        let expiry = a.expires_at;
        tokio::select! {
            changed = decisions.changed() => {
                if changed.is_err() {
                    return Err(Error::ShuttingDown);
                }
            }
            () = async {
                match expiry {
                    Some(at) => inner.clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                expire(handle, env).await?;
            }
            () = cancel.cancelled() => {
                if handle.stop_token().is_cancelled() {
                    return Err(Error::ShuttingDown);
                }
                return Ok(Outcome::Terminated);
            }
        }
    }
}

/// Reaches the gate in a new round (the first, or after a retry):
/// SUSPENDED, and the "approval needed" event. Earlier rounds' decisions
/// stay as history.
async fn ask(
    inner: &Arc<Inner>,
    handle: &Arc<ReleaseHandle>,
    env: &str,
    gate: &ApprovalGate,
) -> Result<(), Error> {
    let at = inner.clock.now();
    // Checked when the configuration was loaded; an unreadable one (an
    // older release) waits without expiring rather than failing.
    let expires_at = gate
        .expires_after
        .as_deref()
        .and_then(|t| parse_duration(t).ok())
        .and_then(|d| time::Duration::try_from(d).ok())
        .map(|d| at + d);
    handle
        .update(|r| {
            let round = r.attempt;
            let mut events = vec![];
            if let Some(e) = r.environment_mut(env) {
                let earlier = e.approval.take().map(|a| a.decisions).unwrap_or_default();
                let run = new_round(gate, round, at, expires_at, earlier);
                let needed = match run.required {
                    1 => "1 approval".to_owned(),
                    n => format!("{n} approvals"),
                };
                events.push(
                    NewEvent::new(EventKind::Approval, "NEEDED")
                        .environment(env)
                        .message(format!(
                            "{needed} needed from {}{}",
                            run.approvers,
                            if run.not_initiator {
                                ", not the initiator"
                            } else {
                                ""
                            }
                        )),
                );
                e.approval = Some(run);
                e.status = EnvironmentStatus::Suspended;
                e.started_at.get_or_insert_with(now);
            }
            ((), events)
        })
        .await
}

fn new_round(
    gate: &ApprovalGate,
    round: u32,
    at: ferry_release::Timestamp,
    expires_at: Option<ferry_release::Timestamp>,
    decisions: Vec<ApprovalDecision>,
) -> ApprovalRun {
    ApprovalRun {
        required: gate.required.max(1),
        round,
        requested_at: at,
        expires_at,
        approvers: gate.approvers_text(),
        not_initiator: gate.not_initiator,
        decisions,
        expired_at: None,
    }
}

async fn expire(handle: &Arc<ReleaseHandle>, env: &str) -> Result<(), Error> {
    handle
        .update(|r| {
            let mut events = vec![];
            if let Some(a) = r.environment_mut(env).and_then(|e| e.approval.as_mut())
                && a.is_waiting()
            {
                a.expired_at = Some(now());
                events.push(
                    NewEvent::new(EventKind::Approval, "EXPIRED")
                        .environment(env)
                        .message(a.failure().unwrap_or_default()),
                );
            }
            ((), events)
        })
        .await
}

/// Whether `approver` may make `request` on release `r` now; the refusal
/// says why, in words: [`Error::NotApprover`] (not allowed at this gate,
/// or its initiator), [`Error::ApprovalConflict`] (not waiting, decided
/// already), [`Error::UnknownEnvironment`], [`Error::BadRequest`]. Pages
/// ask it to show the buttons only to those who may press them.
pub fn check_decision(
    r: &Release,
    request: &ApprovalRequest,
    approver: &Approver,
) -> Result<(), Error> {
    let env = &request.environment;
    let e = r
        .environment(env)
        .ok_or_else(|| Error::UnknownEnvironment(env.clone()))?;
    let gate = r.graph.step(env).and_then(|s| s.policy.approval.as_ref());
    let (Some(gate), Some(a)) = (gate, e.approval.as_ref()) else {
        return Err(Error::ApprovalConflict(format!(
            "environment `{env}` of release #{} has no approval gate waiting (it is {})",
            r.number, e.status
        )));
    };
    if !gate.allows(&approver.name, &approver.role, approver.may_promote) {
        return Err(Error::NotApprover(format!(
            "token `{}` may not {} `{env}` of release #{}: the gate needs {}",
            approver.name,
            request.decision.as_str(),
            r.number,
            gate.approvers_text()
        )));
    }
    if gate.not_initiator && approver.name == r.initiator {
        return Err(Error::NotApprover(format!(
            "token `{}` started release #{} and may not {} it: the gate of `{env}` needs people other than the initiator",
            approver.name,
            r.number,
            request.decision.as_str()
        )));
    }
    if !(a.is_waiting()
        && a.round == r.attempt
        && e.status == EnvironmentStatus::Suspended
        && r.is_active())
    {
        return Err(Error::ApprovalConflict(format!(
            "environment `{env}` of release #{} is not waiting for approval (it is {}{})",
            r.number,
            e.status,
            a.failure().map(|f| format!(": {f}")).unwrap_or_default()
        )));
    }
    if let Some(d) = a.decided_by(&approver.name) {
        return Err(Error::ApprovalConflict(format!(
            "token `{}` already {} `{env}` of release #{} at {}; each person decides once",
            approver.name,
            d.decision.done(),
            r.number,
            d.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        )));
    }
    if request
        .comment
        .as_deref()
        .is_some_and(|c| c.len() > MAX_COMMENT)
    {
        return Err(Error::BadRequest(format!(
            "comment: longer than {MAX_COMMENT} bytes"
        )));
    }
    Ok(())
}

/// Records `approver`'s decision at a waiting gate and wakes the gate's
/// driver. `key`: the request's `Idempotency-Key`, stored with it.
pub(crate) async fn decide(
    inner: &Arc<Inner>,
    id: &str,
    request: &ApprovalRequest,
    approver: &Approver,
    key: Option<&ferry_store::IdempotentRequest>,
) -> Result<Release, Error> {
    let driving = inner
        .running
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(id)
        .map(|d| Arc::clone(&d.handle));
    let handle = match driving {
        Some(h) => h,
        None => {
            // Driven by another replica: take it over and decide here.
            if crate::lease::drive_here(inner, id).await? {
                return Box::pin(decide(inner, id, request, approver, key)).await;
            }
            let r = inner
                .store
                .get(id)
                .await
                .map_err(crate::store_error)?
                .ok_or_else(|| Error::NotFound(id.to_owned()))?;
            check_decision(&r, request, approver)?;
            // Waiting at a gate, but no driver here yet (it is being
            // resumed): nothing was changed.
            return Err(Error::Unavailable(format!(
                "release {id} is being resumed; try again shortly"
            )));
        }
    };
    check_decision(&handle.get().await, request, approver)?;
    let comment = request
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    handle
        .try_update_for_keyed_request(key, |r| {
            // Checked again on the state the change applies to: a refusal
            // stores nothing, the Idempotency-Key included.
            check_decision(r, request, approver)?;
            let round = r.attempt;
            let mut events = vec![];
            if let Some(a) = r
                .environment_mut(&request.environment)
                .and_then(|e| e.approval.as_mut())
            {
                a.decisions.push(ApprovalDecision {
                    by: approver.name.clone(),
                    decision: request.decision,
                    comment: comment.clone(),
                    at: now(),
                    round,
                });
                let status = match request.decision {
                    Decision::Approve => "APPROVED",
                    Decision::Reject => "REJECTED",
                };
                events.push(
                    NewEvent::new(EventKind::Approval, status)
                        .environment(request.environment.clone())
                        .message(format!(
                            "{} by {} ({} of {}){}",
                            request.decision.done(),
                            approver.name,
                            a.approvals(),
                            a.required,
                            comment
                                .as_deref()
                                .map(|c| format!(": {c}"))
                                .unwrap_or_default()
                        )),
                );
            }
            Ok(((), events))
        })
        .await?;
    inner.approvals.send_modify(|n| *n = n.wrapping_add(1));
    Ok(handle.get().await)
}
