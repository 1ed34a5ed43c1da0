//! "What is happening": the line under the release view's title and the
//! panel below it, so a reader knows in five seconds why a release
//! stands where it does — for a failure, where (environment, application,
//! step), the first lines of the log and a link to all of it; for a
//! release that waits, what it waits for (each pull request with its link,
//! or the suspended workflow step) and since when; while it runs, the
//! current step of each environment and for how long.
//!
//! Everything here comes from the stored release and its events; nothing
//! is guessed (a wait with no recorded cause says so).

use std::collections::HashMap;

use ferry_release::{
    EnvironmentStatus, Event, EventKind, Release, ReleaseKind, ReleaseStatus, StepStatus, Timestamp,
};

use crate::layout::{When, duration, when};
use crate::release_view::{ReleaseView, step_words};
use crate::svg::esc;
use crate::text::{code_spans, head_lines};

/// Log lines shown in the panel (all of them are in the environment's
/// issue, one click away).
pub const LOG_LINES: usize = 6;

/// The panel.
#[derive(Default)]
pub struct NowView {
    /// The status class (`st-fail`, …) the panel is coloured with.
    pub class: &'static str,
    /// One line, HTML.
    pub headline: String,
    pub failures: Vec<Failure>,
    pub waits: Vec<Wait>,
    pub running: Vec<Running>,
}

pub struct Failure {
    pub env: String,
    pub app: String,
    /// HTML: `post-action <code>health-check</code>`.
    pub what: String,
    /// HTML.
    pub message: String,
    pub log: String,
    /// Log lines not shown here.
    pub more: usize,
    /// The issue with the whole log, on this page.
    pub log_href: String,
    /// Where the trouble is shown outside ferry (Argo CD, the forge).
    pub link: String,
    pub at: Option<When>,
}

pub struct Wait {
    pub env: String,
    pub app: String,
    /// HTML: what it waits for.
    pub what: String,
    /// The pull request's page, when the forge has one.
    pub href: String,
    pub since: Option<When>,
    /// An action that ends the wait from here (Merge…, Resume…).
    pub action_href: String,
    pub action_label: &'static str,
}

pub struct Running {
    pub env: String,
    pub app: String,
    /// HTML.
    pub what: String,
    pub elapsed: String,
}

fn step_html(words: &str) -> String {
    // `post-action health-check` → `post-action <code>health-check</code>`
    match words.split_once(' ') {
        Some((phase, name)) => format!("{} <code>{}</code>", esc(phase), esc(name)),
        None => esc(words),
    }
}

fn since(t: Option<Timestamp>, now: Timestamp) -> (Option<When>, String) {
    (t.map(when), duration(t, t.map(|_| now)))
}

/// When each (environment, application) last became SUSPENDED.
fn suspended_at(events: &[Event]) -> HashMap<(&str, &str), Timestamp> {
    let mut out = HashMap::new();
    for e in events {
        if e.kind == EventKind::Application
            && e.status == "SUSPENDED"
            && let (Some(env), Some(app)) = (&e.environment, &e.application)
        {
            out.insert((env.as_str(), app.as_str()), e.at);
        }
    }
    out
}

fn failures(v: &ReleaseView, r: &Release) -> Vec<Failure> {
    let mut out = Vec::new();
    for (e, ev) in r.environments.iter().zip(&v.envs) {
        if e.status != EnvironmentStatus::Failed {
            continue;
        }
        let failed_app = |name: Option<&str>| {
            name.is_none_or(|n| {
                e.applications
                    .iter()
                    .any(|a| a.name == n && a.status == EnvironmentStatus::Failed)
            })
        };
        // The newest issue of each failed application (earlier attempts'
        // issues stay on the page, in the environment).
        let mut seen: Vec<Option<&str>> = Vec::new();
        for (n, i) in e.issues.iter().enumerate().rev() {
            let app = i.application.as_deref();
            if !failed_app(app) || seen.contains(&app) {
                continue;
            }
            seen.push(app);
            let step = app
                .and_then(|a| e.applications.iter().find(|x| x.name == a))
                .and_then(|a| {
                    a.steps
                        .iter()
                        .find(|s| Some(s.name.as_str()) == i.step.as_deref())
                        .or_else(|| {
                            a.steps.iter().find(|s| {
                                matches!(s.status, StepStatus::Failed | StepStatus::Error)
                            })
                        })
                });
            let what = match (step, &i.step) {
                (Some(s), _) => step_html(&step_words(s)),
                (None, Some(s)) => format!("<code>{}</code>", esc(s)),
                (None, None) => String::new(),
            };
            let (log, more) = head_lines(i.details.as_deref().unwrap_or_default(), LOG_LINES);
            let issue = &ev.issues[n];
            out.push(Failure {
                env: e.name.clone(),
                app: app.unwrap_or_default().to_owned(),
                what,
                message: issue.message.clone(),
                log,
                more,
                log_href: format!("#{}", issue.id),
                link: issue.link.clone(),
                at: Some(issue.at.clone()),
            });
        }
        if seen.is_empty() {
            // No issue recorded: the failed steps say what they can.
            for a in e
                .applications
                .iter()
                .filter(|a| a.status == EnvironmentStatus::Failed)
            {
                if let Some(s) = a
                    .steps
                    .iter()
                    .find(|s| matches!(s.status, StepStatus::Failed | StepStatus::Error))
                {
                    out.push(Failure {
                        env: e.name.clone(),
                        app: a.name.clone(),
                        what: step_html(&step_words(s)),
                        message: s.message.as_deref().map(code_spans).unwrap_or_default(),
                        log: String::new(),
                        more: 0,
                        log_href: String::new(),
                        link: String::new(),
                        at: s.finished_at.map(when),
                    });
                }
            }
        }
    }
    out
}

/// Whether every wait is an environment held by a window or a freeze
/// (not an approval gate, not a soak time): the headline then names the
/// hold and its reason.
fn only_held(r: &Release, waits: &[Wait]) -> bool {
    waits.iter().all(|w| {
        r.environments.iter().any(|e| {
            e.name == w.env
                && e.status == EnvironmentStatus::Suspended
                && e.approval
                    .as_ref()
                    .and_then(ferry_release::ApprovalRun::waiting_reason)
                    .is_none()
                && e.hold
                    .as_ref()
                    .is_some_and(|h| h.kind != ferry_release::HoldKind::Soak)
        })
    })
}

fn waits(v: &ReleaseView, r: &Release, events: &[Event]) -> Vec<Wait> {
    let at = suspended_at(events);
    let mut out = Vec::new();
    for (e, ev) in r.environments.iter().zip(&v.envs) {
        // Held by ferry at an approval gate before anything of it runs
        // (issue 20).
        if let Some(reason) = e
            .approval
            .as_ref()
            .filter(|_| e.status == EnvironmentStatus::Suspended)
            .and_then(ferry_release::ApprovalRun::waiting_reason)
        {
            let since = e.approval.as_ref().map(|a| when(a.requested_at));
            let decide = ev
                .approval
                .as_ref()
                .map(|a| a.decide_href.clone())
                .filter(|h| !h.is_empty());
            out.push(Wait {
                env: e.name.clone(),
                app: String::new(),
                what: esc(&reason),
                href: String::new(),
                since,
                action_href: decide
                    .map(|_| format!("#approval-{}", e.name))
                    .unwrap_or_default(),
                action_label: "Approve or reject…",
            });
            continue;
        }
        // Held before it starts (issue 20: a soak time, a closed window,
        // a freeze).
        if let Some(w) = e
            .hold
            .as_ref()
            .filter(|_| e.status == EnvironmentStatus::Suspended)
        {
            out.push(Wait {
                env: e.name.clone(),
                app: e
                    .applications
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                what: esc(&w.reason),
                href: String::new(),
                since: None,
                action_href: String::new(),
                action_label: "",
            });
            continue;
        }
        for (a, av) in e.applications.iter().zip(&ev.apps) {
            if a.status != EnvironmentStatus::Suspended {
                continue;
            }
            let started = at
                .get(&(e.name.as_str(), a.name.as_str()))
                .copied()
                .or_else(|| {
                    a.steps
                        .iter()
                        .rev()
                        .find_map(|s| s.started_at.filter(|_| s.finished_at.is_none()))
                });
            let since = started.map(when);
            let resume = av.steps.iter().find(|s| !s.resume_href.is_empty());
            let waiting_step = a
                .steps
                .iter()
                .find(|s| matches!(s.status, StepStatus::Running | StepStatus::Pending));
            let (what, href, action_href, action_label) = match (&a.pull_request, resume) {
                (Some(pr), _) if pr.number > 0 => (
                    format!(
                        "pull request #{} (branch <code>{}</code>) to be merged",
                        pr.number,
                        esc(&pr.branch)
                    ),
                    crate::links::Links::web(&pr.url).unwrap_or_default(),
                    ev.merge_href.clone(),
                    "Merge pull request…",
                ),
                (Some(pr), _) => (
                    format!("branch <code>{}</code> to be merged", esc(&pr.branch)),
                    String::new(),
                    ev.merge_href.clone(),
                    "Merge pull request…",
                ),
                (None, Some(s)) => (
                    format!(
                        "{} <code>{}</code> to be resumed (suspended workflow step)",
                        esc(s.phase),
                        esc(&s.name)
                    ),
                    String::new(),
                    s.resume_href.clone(),
                    "Resume…",
                ),
                (None, None) => (
                    match waiting_step.and_then(|s| s.message.as_deref()) {
                        Some(m) => code_spans(m),
                        None => "no recorded cause".to_owned(),
                    },
                    String::new(),
                    String::new(),
                    "",
                ),
            };
            // Applications of one environment waiting for the same
            // thing (its promotion branch) are one wait.
            if let Some(w) = out
                .iter_mut()
                .find(|w: &&mut Wait| w.env == e.name && w.what == what)
            {
                w.app.push_str(", ");
                w.app.push_str(&a.name);
                if w.action_href.is_empty() {
                    w.action_href = action_href;
                }
                continue;
            }
            out.push(Wait {
                env: e.name.clone(),
                app: a.name.clone(),
                what,
                href,
                since,
                action_href,
                action_label,
            });
        }
    }
    out
}

fn running(r: &Release, now: Timestamp) -> Vec<Running> {
    let mut out = Vec::new();
    for e in &r.environments {
        if e.status != EnvironmentStatus::Running {
            continue;
        }
        let mut any = false;
        for a in e
            .applications
            .iter()
            .filter(|a| a.status == EnvironmentStatus::Running)
        {
            let step = a.steps.iter().find(|s| s.status == StepStatus::Running);
            let (what, started) = match step {
                Some(s) => (step_html(&step_words(s)), s.started_at),
                None => ("between steps".to_owned(), e.started_at),
            };
            let (_, elapsed) = since(started, now);
            out.push(Running {
                env: e.name.clone(),
                app: a.name.clone(),
                what,
                elapsed,
            });
            any = true;
        }
        if !any {
            // Environment hooks, or applications not started yet.
            let hook = e.hooks.iter().find(|h| h.status == StepStatus::Running);
            let (_, elapsed) = since(hook.and_then(|h| h.started_at).or(e.started_at), now);
            out.push(Running {
                env: e.name.clone(),
                app: String::new(),
                what: match hook {
                    Some(h) => format!("hook <code>{}</code>", esc(&h.name)),
                    None => "starting".to_owned(),
                },
                elapsed,
            });
        }
    }
    out
}

fn names(list: impl Iterator<Item = String>) -> String {
    let mut v: Vec<String> = Vec::new();
    for n in list {
        if !v.contains(&n) {
            v.push(n);
        }
    }
    esc(&v.join(", "))
}

/// The panel of `v` (built from `r` and its `events`).
pub fn summarize(v: &ReleaseView, r: &Release, events: &[Event]) -> NowView {
    let now = ferry_release::now();
    let failures = failures(v, r);
    let waits = waits(v, r, events);
    let running = running(r, now);
    let not_run = r
        .environments
        .iter()
        .filter(|e| {
            matches!(
                e.status,
                EnvironmentStatus::Pending | EnvironmentStatus::Terminated
            )
        })
        .count();
    let mut headline = match r.status {
        ReleaseStatus::Failed => match failures.first() {
            Some(f) => {
                let mut s = format!("Failed in <strong>{}</strong>", esc(&f.env));
                if !f.app.is_empty() {
                    s.push_str(&format!(": {}", esc(&f.app)));
                }
                if !f.what.is_empty() {
                    s.push_str(&format!(", {}", f.what));
                }
                if failures.len() > 1 {
                    s.push_str(&format!(" (and {} more)", failures.len() - 1));
                }
                s
            }
            None => "Failed".to_owned(),
        },
        // Held before its first write by a window or a freeze (issue 20),
        // and waiting for nothing else.
        ReleaseStatus::Suspended if !v.holds.is_empty() && only_held(r, &waits) => {
            let (env, reason) = &v.holds[0];
            format!("Held in <strong>{}</strong>: {}", esc(env), esc(reason))
        }
        ReleaseStatus::Suspended => {
            let prs = waits
                .iter()
                .filter(|w| w.what.contains("to be merged"))
                .count();
            let soaks = r
                .environments
                .iter()
                .filter(|e| {
                    e.hold
                        .as_ref()
                        .is_some_and(|h| h.kind == ferry_release::HoldKind::Soak)
                })
                .count();
            let approvals: Vec<&str> = waits
                .iter()
                .filter(|w| w.app.is_empty())
                .map(|w| w.what.as_str())
                .collect();
            let what = match (prs, waits.len()) {
                // "for approval (1 of 2)"
                (0, 1) if approvals.len() == 1 => approvals[0]
                    .strip_prefix("waiting for ")
                    .unwrap_or(approvals[0])
                    .to_owned(),
                (0, n) if n == soaks => "its soak time".to_owned(),
                (0, _) => "a suspended step".to_owned(),
                (1, 1) => "a pull request to be merged".to_owned(),
                (n, m) if n == m => format!("{n} pull requests to be merged"),
                _ => format!("{} waits", waits.len()),
            };
            format!(
                "Waiting in <strong>{}</strong> for {what}",
                names(waits.iter().map(|w| w.env.clone()))
            )
        }
        ReleaseStatus::Running => match running.as_slice() {
            [] => "Running".to_owned(),
            [one] => format!(
                "Running in <strong>{}</strong>: {}{}{}",
                esc(&one.env),
                if one.app.is_empty() {
                    String::new()
                } else {
                    format!("{}, ", esc(&one.app))
                },
                one.what,
                if one.elapsed.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", one.elapsed)
                }
            ),
            many => format!(
                "Running in <strong>{}</strong>",
                names(many.iter().map(|x| x.env.clone()))
            ),
        },
        ReleaseStatus::Succeeded => {
            let what = match &r.kind {
                ReleaseKind::Rollback { .. } => "Rolled back",
                _ => "Succeeded",
            };
            let n = r.environments.len();
            format!(
                "{what}: {n} environment{} in {}",
                if n == 1 { "" } else { "s" },
                esc(&v.duration)
            )
        }
        ReleaseStatus::Terminating => "Terminating: running workflows are being stopped".into(),
        ReleaseStatus::Terminated => {
            let mut s = if v.termination.is_empty() {
                "Terminated".to_owned()
            } else {
                esc(&v.termination)
            };
            if not_run > 0 {
                s.push_str(&format!(
                    "; {not_run} environment{} did not finish",
                    if not_run == 1 { "" } else { "s" }
                ));
            }
            s
        }
        ReleaseStatus::Queued => {
            "Queued: starts when the product's running release finishes".to_owned()
        }
        ReleaseStatus::Superseded => {
            match r.termination.as_ref().and_then(|t| t.release.as_ref()) {
                Some(newer) => format!(
                    "Superseded by <a href=\"{}\">release #{}</a>: a newer release of {} replaced it while it waited",
                    esc(&format!("{}/releases/{}", v.product_href, newer.number)),
                    newer.number,
                    esc(&r.product)
                ),
                None => "Superseded by a newer release".to_owned(),
            }
        }
    };
    // Automatic rollbacks ferry started for it (issue 20), linked.
    if !r.rolled_back_by.is_empty() {
        let links: Vec<String> = r
            .rolled_back_by
            .iter()
            .map(|l| {
                format!(
                    "<a href=\"{}\">release #{}</a> ({})",
                    esc(&format!("{}/releases/{}", v.product_href, l.number)),
                    l.number,
                    esc(&l.environment)
                )
            })
            .collect();
        headline.push_str(&format!("; rolled back by {}", links.join(", ")));
    }
    NowView {
        class: v.status.class,
        headline,
        failures,
        waits,
        running,
    }
}
