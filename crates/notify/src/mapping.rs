//! Release events → notifications.
//!
//! The engine records every change of status as an event (`ferry-release`
//! `Event`); this module reads the release and environment ones in order
//! and says which are worth telling people: a status *change* (a repeat
//! is not), classified by where it came from — RUNNING after PENDING,
//! QUEUED or an end is a start, after SUSPENDED a continuation (not
//! announced). What it remembers between batches (the last status of the
//! release and of each environment) is [`State`], stored with the
//! progress. Statuses it does not know (added later) are skipped, and
//! `SUPERSEDED` / `ROLLED_BACK` are mapped by name, so statuses other
//! parts of ferry add flow through.

use std::collections::BTreeMap;

use ferry_release::{
    EnvironmentRun, Event, EventKind, Release, ReleaseKind, StepStatus, TerminationReason,
};
use serde::{Deserialize, Serialize};

use crate::subscription::{EventType, Subject};

/// How many log lines a failure carries.
pub const LOG_LINES: usize = 10;

/// The last status seen of the release and of each environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, String>,
}

/// An event worth telling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    pub seq: u64,
    pub subject: Subject,
    pub event: EventType,
    pub environment: Option<String>,
    pub status: String,
    pub reason: Option<String>,
    pub log: Vec<String>,
    pub at: ferry_release::Timestamp,
}

/// The events of `events` (in order, of `release`) worth telling;
/// `state` is moved past them.
pub fn map_events(release: &Release, events: &[Event], state: &mut State) -> Vec<Mapped> {
    // An approval gate (issue 20) records "approval needed" and its
    // environment's SUSPENDED in one save, so both are in the same batch:
    // the approval's event is told, with its message, in place of the
    // status.
    let asked: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventKind::Approval && e.status == "NEEDED")
        .filter_map(|e| e.environment.as_deref())
        .collect();
    let mut out = Vec::new();
    for e in events {
        if e.kind == EventKind::Approval {
            if e.status == "NEEDED"
                && let Some(env) = &e.environment
            {
                out.push(Mapped {
                    seq: e.seq,
                    subject: Subject::Environment,
                    event: EventType::ApprovalNeeded,
                    environment: Some(env.clone()),
                    status: "SUSPENDED".into(),
                    reason: e.message.clone(),
                    log: Vec::new(),
                    at: e.at,
                });
            }
            continue;
        }
        let (subject, prev) = match (e.kind, &e.environment) {
            (EventKind::Release, _) => (Subject::Release, state.release.replace(e.status.clone())),
            (EventKind::Environment, Some(env)) => (
                Subject::Environment,
                state.environments.insert(env.clone(), e.status.clone()),
            ),
            _ => continue,
        };
        if prev.as_deref() == Some(e.status.as_str()) {
            continue;
        }
        let env = match subject {
            Subject::Environment => e.environment.as_deref(),
            Subject::Release => None,
        };
        let Some(event) = classify(release, subject, prev.as_deref(), &e.status, env) else {
            continue;
        };
        if event == EventType::Suspended && env.is_some_and(|n| asked.contains(&n)) {
            continue;
        }
        let (reason, log) = explain(release, event, env, e.message.as_deref());
        out.push(Mapped {
            seq: e.seq,
            subject,
            event,
            environment: env.map(str::to_owned),
            status: e.status.clone(),
            reason,
            log,
            at: e.at,
        });
    }
    out
}

fn classify(
    release: &Release,
    subject: Subject,
    prev: Option<&str>,
    status: &str,
    env: Option<&str>,
) -> Option<EventType> {
    Some(match status {
        "RUNNING" => match prev {
            // Continuing after a wait is not news; a retry after an end is.
            Some("SUSPENDED" | "RUNNING" | "TERMINATING") => return None,
            _ => EventType::Started,
        },
        "SUSPENDED" => {
            if waits_for_approval(release, env) {
                EventType::ApprovalNeeded
            } else {
                EventType::Suspended
            }
        }
        "FAILED" => EventType::Failed,
        "SUCCEEDED" | "SUCCESSFUL" => match (&release.kind, subject) {
            (ReleaseKind::Rollback { .. }, Subject::Release) => EventType::RolledBack,
            _ => EventType::Succeeded,
        },
        "ROLLED_BACK" => EventType::RolledBack,
        "SUPERSEDED" => EventType::Superseded,
        // An environment ends TERMINATED with its release: the release's
        // event says it once.
        "TERMINATED" if subject == Subject::Release => match &release.termination {
            Some(t) if t.reason == TerminationReason::Superseded => EventType::Superseded,
            _ => EventType::Terminated,
        },
        _ => return None,
    })
}

/// Whether what `env` (or, for the release, any environment) waits at is
/// an approval.
fn waits_for_approval(release: &Release, env: Option<&str>) -> bool {
    let about_approval = |s: &str| s.to_ascii_lowercase().contains("approv");
    envs(release, env).any(|e| {
        e.approval.as_ref().is_some_and(|a| a.is_waiting())
            || e.applications.iter().flat_map(|a| &a.steps).any(|s| {
                s.status == StepStatus::Suspended
                    && (about_approval(&s.name) || s.message.as_deref().is_some_and(about_approval))
            })
    })
}

fn envs<'a>(
    release: &'a Release,
    env: Option<&'a str>,
) -> impl Iterator<Item = &'a EnvironmentRun> {
    release
        .environments
        .iter()
        .filter(move |e| env.is_none_or(|n| e.name == n))
}

/// The reason and log lines of an event.
fn explain(
    release: &Release,
    event: EventType,
    env: Option<&str>,
    message: Option<&str>,
) -> (Option<String>, Vec<String>) {
    let given = message.map(str::to_owned);
    match event {
        EventType::Suspended | EventType::ApprovalNeeded => {
            (given.or_else(|| waiting_for(release, env)), Vec::new())
        }
        EventType::Failed => {
            let failed = envs(release, env)
                .find(|e| e.status == ferry_release::EnvironmentStatus::Failed || env.is_some());
            let issue = failed.and_then(|e| {
                e.issues
                    .iter()
                    .find(|i| !i.is_earlier(release.attempt))
                    .map(|i| (e, i))
            });
            match issue {
                Some((e, i)) => {
                    let reason = if env.is_some() {
                        i.message.clone()
                    } else {
                        format!("{}: {}", e.name, i.message)
                    };
                    let log = i
                        .details
                        .as_deref()
                        .unwrap_or_default()
                        .lines()
                        .filter(|l| !l.trim().is_empty())
                        .take(LOG_LINES)
                        .map(str::to_owned)
                        .collect();
                    (given.or(Some(reason)), log)
                }
                None => (given, Vec::new()),
            }
        }
        EventType::Superseded | EventType::Terminated => (
            given.or_else(|| release.termination.as_ref().map(|t| format!("by {}", t.by))),
            Vec::new(),
        ),
        _ => (given, Vec::new()),
    }
}

/// What a suspended environment (or release) waits for, from its record.
fn waiting_for(release: &Release, env: Option<&str>) -> Option<String> {
    for e in envs(release, env) {
        if let Some(why) = e.approval.as_ref().and_then(|a| a.waiting_reason())
            && e.status == ferry_release::EnvironmentStatus::Suspended
        {
            return Some(match env {
                Some(_) => why,
                None => format!("{}: {why}", e.name),
            });
        }
        // A closed promotion window or a freeze (issue 20) holds it.
        if let Some(h) = &e.hold
            && e.status == ferry_release::EnvironmentStatus::Suspended
        {
            return Some(match env {
                Some(_) => h.reason.clone(),
                None => format!("{}: {}", e.name, h.reason),
            });
        }
        for a in &e.applications {
            if let Some(s) = a.steps.iter().find(|s| s.status == StepStatus::Suspended) {
                let what = match &s.message {
                    Some(m) => format!("{} ({m})", s.name),
                    None => s.name.clone(),
                };
                let text = format!("{}: waiting at {what}", a.name);
                return Some(match env {
                    Some(_) => text,
                    None => format!("{}: {text}", e.name),
                });
            }
            if let Some(pr) = &a.pull_request
                && pr.closed_at.is_none()
                && e.status == ferry_release::EnvironmentStatus::Suspended
            {
                let text = format!(
                    "{}: waiting for pull request #{} to be merged ({})",
                    a.name, pr.number, pr.url
                );
                return Some(match env {
                    Some(_) => text,
                    None => format!("{}: {text}", e.name),
                });
            }
        }
    }
    None
}
