//! The release as its pages show it: the view model of the release view
//! (header, flow graph,
//! environments with applications, steps, hooks and issues, the newest
//! events) and the loading of a release with its events. The pages that
//! act on a release (terminate, retry, resume, merge, notes) read it from
//! here.

use ferry_release::{
    EnvironmentRun, EnvironmentStatus, Event, Release, ReleaseKind, ReleaseStatus, StepPhase,
    StepRun, Timestamp,
};

use crate::layout::{UiError, Viewer, When, duration, repo_shown, seg, short_sha, when};
use crate::links::{Links, is_local};
use crate::status::{self, Shown};
use crate::svg;
use crate::text::code_spans;
use crate::timeline::{self, Timeline};
use ferry_api::Shared;
use ferry_api::error::ApiError;

pub struct TriggerView {
    pub sha: String,
    pub short: String,
    pub link: String,
    /// The message's first line (HTML: escaped, `code` spans), and the rest.
    pub subject: String,
    pub body: String,
    pub author: String,
    pub date: String,
    pub branch: String,
    /// The repository: a link to its web page, or (local) its path.
    pub repo: String,
    pub repo_href: String,
}

pub struct NodeView {
    pub name: String,
    pub status: Shown,
    pub message: String,
}

pub struct StepView {
    pub name: String,
    pub phase: &'static str,
    pub status: Shown,
    pub duration: String,
    /// HTML (escaped, `code` spans).
    pub message: String,
    pub attempts: u32,
    pub nodes: Vec<NodeView>,
    /// The Resume confirmation, while the step's workflow is suspended.
    pub resume_href: String,
    /// Where its log is shown: the issue holding it, when there is one.
    pub log_href: String,
}

pub struct PullRequestView {
    /// 0: a branch waiting to be merged, no forge's pull request.
    pub number: u64,
    /// The forge's page, when it has one.
    pub href: String,
    pub branch: String,
}

pub struct AppView {
    pub name: String,
    pub status: Shown,
    /// Shown unfolded: not a success beside trouble in its environment.
    pub open: bool,
    /// Its anchor (`app-<env>-<app>`).
    pub id: String,
    pub commit: String,
    pub commit_href: String,
    pub pull_request: Option<PullRequestView>,
    pub sync: String,
    /// The health shown: observed, or `Degraded` beside a failed
    /// post-action ([`ferry_release::ApplicationRun::health_shown`]).
    pub health: String,
    /// Why it is not what was observed, and what was observed when.
    pub health_reason: String,
    pub observed: String,
    /// The application in Argo CD's UI, when Argo CD watches it.
    pub argocd_href: String,
    pub steps: Vec<StepView>,
}

pub struct IssueView {
    /// Its anchor (`issue-<env>-<n>`).
    pub id: String,
    pub kind: String,
    /// HTML (escaped, `code` spans).
    pub message: String,
    pub application: String,
    pub step: String,
    pub details: String,
    pub manifest: String,
    pub link: String,
    pub at: When,
    /// The attempt it happened in, when an earlier one than the
    /// release's current attempt (0 otherwise): retried releases keep it.
    pub earlier_attempt: u32,
}

pub struct EnvView {
    pub name: String,
    pub status: Shown,
    pub trigger: bool,
    /// Shown expanded: something is happening or went wrong there.
    pub open: bool,
    /// The collapsed line: applications, duration, commit.
    pub line: String,
    pub apps: Vec<AppView>,
    /// The environment's steps over all its applications (SPEC §4.3),
    /// shown when it has more than one application.
    pub steps: Vec<(String, Shown)>,
    pub hooks: Vec<StepView>,
    pub issues: Vec<IssueView>,
    /// The demo's "Merge pull request" confirmation for the environment's
    /// promotion branch (demo mode only).
    pub merge_href: String,
    /// Its approval gate (issue 20), once reached.
    pub approval: Option<ApprovalView>,
}

/// An environment's approval gate: where it stands, who decided when.
pub struct ApprovalView {
    /// "waiting for approval (1 of 2)", "approved", "rejected", "expired".
    pub state: String,
    /// Who may decide, and whether the initiator may.
    pub who: String,
    pub expires: Option<When>,
    /// This round's decisions, oldest first.
    pub decisions: Vec<DecisionView>,
    /// Earlier rounds' decisions (before a retry).
    pub earlier: Vec<DecisionView>,
    /// Set (by [`crate::approvals::offer`]) when the viewer may decide now:
    /// where the Approve and Reject form posts.
    pub decide_href: String,
    /// The viewer's form token, with `decide_href`.
    pub csrf: String,
}

pub struct DecisionView {
    pub by: String,
    /// "approved" or "rejected".
    pub done: &'static str,
    pub comment: String,
    pub at: When,
}

fn approval_view(a: &ferry_release::ApprovalRun) -> ApprovalView {
    let decision = |d: &ferry_release::ApprovalDecision| DecisionView {
        by: d.by.clone(),
        done: d.decision.done(),
        comment: d.comment.clone().unwrap_or_default(),
        at: when(d.at),
    };
    let state = match a.state() {
        ferry_release::GateState::Waiting { .. } => a.waiting_reason().unwrap_or_default(),
        ferry_release::GateState::Approved => "approved".into(),
        ferry_release::GateState::Rejected | ferry_release::GateState::Expired => {
            a.failure().unwrap_or_default()
        }
    };
    ApprovalView {
        state,
        who: format!(
            "{} needed from {}{}",
            match a.required {
                1 => "1 approval".to_owned(),
                n => format!("{n} approvals"),
            },
            a.approvers,
            if a.not_initiator {
                ", not the initiator"
            } else {
                ""
            }
        ),
        expires: a.expires_at.filter(|_| a.is_waiting()).map(when),
        decisions: a.current().map(decision).collect(),
        earlier: a
            .decisions
            .iter()
            .filter(|d| d.round != a.round)
            .map(decision)
            .collect(),
        decide_href: String::new(),
        csrf: String::new(),
    }
}

pub struct Count {
    pub status: Shown,
    pub count: usize,
}

/// Everything the release view shows.
pub struct ReleaseView {
    pub id: String,
    pub product: String,
    pub product_href: String,
    pub number: u64,
    pub href: String,
    pub status: Shown,
    pub finished: bool,
    pub version: String,
    pub flow: String,
    pub flow_href: String,
    pub kind: String,
    /// `#N` of the release a rollback restores, and its page.
    pub rollback_of: Option<(u64, String)>,
    /// The newer release that superseded this one (issue 20): `#N` and
    /// its page.
    pub superseded_by: Option<(u64, String)>,
    /// Automatic rollbacks (issue 20): on a failed release, the rollback
    /// releases ferry started (environment, `#N`, page); on a rollback
    /// release, the failed release it repairs.
    pub rolled_back_by: Vec<(String, u64, String)>,
    pub rollback_for: Option<(String, u64, String)>,
    pub initiator: String,
    pub created: When,
    pub finished_at: Option<When>,
    pub duration: String,
    pub trigger: TriggerView,
    pub counts: Vec<Count>,
    pub graph: String,
    pub envs: Vec<EnvView>,
    pub hooks: Vec<StepView>,
    pub termination: String,
    pub timeline: Timeline,
    pub last_seq: u64,
    pub can_terminate: bool,
    pub can_retry: bool,
    /// Environments held before their first write, with why (issue 20).
    pub holds: Vec<(String, String)>,
    /// `Let through … by carol at …: reason`, when a break-glass was used.
    pub break_glass: String,
    /// The viewer may let this release through (admin, release active,
    /// no break-glass yet).
    pub can_break_glass: bool,
    /// The session's CSRF token, for the forms drawn in the body.
    pub csrf: String,
    pub signed_in: bool,
    /// Environments a rollback to this release can target: those it
    /// finished successfully (its snapshot is known to have run there).
    pub rollback_targets: Vec<String>,
    /// Whether any hook ran or is to run (the Show hooks toggle).
    pub has_hooks: bool,
}

fn phase(p: StepPhase) -> &'static str {
    match p {
        StepPhase::PreAction => "pre-action",
        StepPhase::Action => "action",
        StepPhase::Sync => "sync",
        StepPhase::PostAction => "post-action",
        StepPhase::Hook => "hook",
    }
}

/// How a step is named in a sentence: `post-action health-check`.
pub fn step_words(s: &StepRun) -> String {
    match s.phase {
        StepPhase::Hook => s.name.clone(),
        StepPhase::Sync => "sync".to_owned(),
        p => format!("{} {}", phase(p), s.name),
    }
}

fn step_view(s: &StepRun) -> StepView {
    StepView {
        name: s.name.clone(),
        phase: phase(s.phase),
        status: status::step(s.status),
        duration: duration(s.started_at, s.finished_at),
        message: s.message.as_deref().map(code_spans).unwrap_or_default(),
        attempts: s.attempts,
        // A workflow of one node that says what its step says adds
        // nothing but bytes (a 30 × 10 release has hundreds of them).
        nodes: s
            .nodes
            .iter()
            .filter(|_| {
                !(s.nodes.len() == 1
                    && s.nodes[0].status == s.status
                    && s.nodes[0].message.is_none())
            })
            .map(|n| NodeView {
                name: n.name.clone(),
                status: status::step(n.status),
                message: n.message.clone().unwrap_or_default(),
            })
            .collect(),
        resume_href: String::new(),
        log_href: String::new(),
    }
}

fn issue_anchor(env: &str, index: usize) -> String {
    format!("issue-{env}-{}", index + 1)
}

/// `HH:MM UTC` for SVG text (the script shows it in local time).
fn clock(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second())
}

fn graph_nodes(r: &Release) -> Vec<svg::Node> {
    let version = r.version.clone().unwrap_or_default();
    r.environments
        .iter()
        .map(|e| {
            let took = duration(
                e.started_at,
                e.finished_at.or(e.started_at.map(|_| ferry_release::now())),
            );
            let carried = match e.status {
                EnvironmentStatus::Successful => version.clone(),
                EnvironmentStatus::Pending => String::new(),
                _ if version.is_empty() => String::new(),
                _ => format!("\u{2192} {version}"),
            };
            svg::Node {
                name: e.name.clone(),
                depends_on: e.depends_on.clone(),
                status: Some(status::environment(e.status)),
                trigger: e.trigger,
                detail: svg::Detail {
                    duration: took,
                    version: carried,
                    started: e.started_at.map(|t| (when(t).iso, clock(t))),
                },
            }
        })
        .collect()
}

fn env_line(e: &EnvironmentRun, attempt: u32) -> String {
    let mut parts = Vec::new();
    match e.applications.len() {
        0 => {}
        1 => parts.push(e.applications[0].name.clone()),
        n => parts.push(format!("{n} applications")),
    }
    let took = duration(e.started_at, e.finished_at);
    if !took.is_empty() {
        parts.push(format!("took {took}"));
    }
    let commits: Vec<&str> = e
        .applications
        .iter()
        .filter_map(|a| a.promotion_commit.as_deref())
        .collect();
    if let [one, rest @ ..] = commits.as_slice()
        && rest.iter().all(|c| c == one)
    {
        parts.push(format!("commit {}", short_sha(one)));
    }
    if !e.depends_on.is_empty() {
        parts.push(format!("after {}", e.depends_on.join(", ")));
    }
    // A folded environment still says it went wrong before (the issues
    // are inside, "attempt N failed: …").
    let earlier = e.issues.iter().filter(|i| i.is_earlier(attempt)).count();
    if earlier > 0 {
        parts.push(format!(
            "{earlier} issue{} in earlier attempts",
            if earlier == 1 { "" } else { "s" }
        ));
    }
    parts.join(" · ")
}

fn env_view(e: &EnvironmentRun, links: &Links, attempt: u32) -> EnvView {
    let issues: Vec<IssueView> = e
        .issues
        .iter()
        .enumerate()
        .map(|(n, i)| IssueView {
            id: issue_anchor(&e.name, n),
            kind: serde_json::to_value(i.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            message: code_spans(&i.message),
            application: i.application.clone().unwrap_or_default(),
            step: i.step.clone().unwrap_or_default(),
            details: i.details.clone().unwrap_or_default(),
            manifest: i.manifest.clone().unwrap_or_default(),
            link: i.link.as_deref().and_then(Links::web).unwrap_or_default(),
            at: when(i.at),
            earlier_attempt: if i.is_earlier(attempt) { i.attempt } else { 0 },
        })
        .collect();
    let apps = e
        .applications
        .iter()
        .map(|a| {
            let commit = a.promotion_commit.clone().unwrap_or_default();
            let shown = a.health_shown();
            let steps = a
                .steps
                .iter()
                .map(|s| {
                    let mut v = step_view(s);
                    // The newest issue about this step holds its log.
                    if let Some(n) = e.issues.iter().rposition(|i| {
                        i.details.is_some()
                            && i.step.as_deref() == Some(s.name.as_str())
                            && i.application.as_deref().is_none_or(|x| x == a.name)
                    }) {
                        v.log_href = format!("#{}", issue_anchor(&e.name, n));
                    }
                    v
                })
                .collect();
            AppView {
                name: a.name.clone(),
                status: status::environment(a.status),
                // In an environment that needs attention, the applications
                // that succeeded fold away; elsewhere everything shows.
                open: a.status != EnvironmentStatus::Successful
                    || e.status == EnvironmentStatus::Successful
                    || e.applications.len() == 1,
                id: format!("app-{}-{}", e.name, a.name),
                commit_href: links.commit(&a.repo_url, &commit).unwrap_or_default(),
                commit: short_sha(&commit),
                pull_request: a.pull_request.as_ref().map(|p| PullRequestView {
                    number: p.number,
                    href: Links::web(&p.url).unwrap_or_default(),
                    branch: p.branch.clone(),
                }),
                sync: a.sync.clone().unwrap_or_default(),
                health: shown.as_ref().map(|s| s.health.clone()).unwrap_or_default(),
                health_reason: shown
                    .and_then(|s| s.reason)
                    .as_deref()
                    .map(code_spans)
                    .unwrap_or_default(),
                observed: match (&a.health, a.observed_at) {
                    (Some(h), Some(at)) => format!(
                        "{} {h} at {}",
                        a.sync.as_deref().unwrap_or(""),
                        when(at).text
                    )
                    .trim()
                    .to_owned(),
                    _ => String::new(),
                },
                argocd_href: links.argocd(&a.name).unwrap_or_default().to_owned(),
                steps,
            }
        })
        .collect();
    EnvView {
        name: e.name.clone(),
        status: status::environment(e.status),
        trigger: e.trigger,
        open: match e.status {
            EnvironmentStatus::Running
            | EnvironmentStatus::Suspended
            | EnvironmentStatus::Failed => true,
            EnvironmentStatus::Terminated => !e.issues.is_empty(),
            EnvironmentStatus::Successful | EnvironmentStatus::Pending => false,
        },
        line: env_line(e, attempt),
        apps,
        steps: if e.applications.len() > 1 {
            e.steps()
                .into_iter()
                .map(|s| (s.name, status::step(s.status)))
                .collect()
        } else {
            Vec::new()
        },
        hooks: e.hooks.iter().map(step_view).collect(),
        issues,
        merge_href: String::new(),
        approval: e.approval.as_ref().map(approval_view),
    }
}

/// The view of `r` with its events (the newest [`timeline::RECENT`] in
/// the timeline). `rollback_of` is the number of the release a rollback
/// restores, when known. The "what is happening" panel
/// ([`crate::now`]) is made from it once the pages have added their
/// actions (resume, merge).
pub fn view(
    r: &Release,
    events: &[Event],
    viewer: &Viewer,
    flow_exists: bool,
    links: &Links,
    rollback_of: Option<u64>,
) -> ReleaseView {
    let product_href = format!("/products/{}", seg(&r.product));
    let href = format!("{product_href}/releases/{}", r.number);
    let mut counts = Vec::new();
    for s in [
        EnvironmentStatus::Successful,
        EnvironmentStatus::Running,
        EnvironmentStatus::Suspended,
        EnvironmentStatus::Pending,
        EnvironmentStatus::Failed,
        EnvironmentStatus::Terminated,
    ] {
        let n = r.environments.iter().filter(|e| e.status == s).count();
        if n > 0 {
            counts.push(Count {
                status: status::environment(s),
                count: n,
            });
        }
    }
    let envs = r
        .environments
        .iter()
        .map(|e| env_view(e, links, r.attempt))
        .collect();
    let kind = match &r.kind {
        ReleaseKind::Automatic => "automatic".to_owned(),
        ReleaseKind::Manual => "manual".to_owned(),
        ReleaseKind::Flow => "flow".to_owned(),
        ReleaseKind::Rollback { .. } => "rollback".to_owned(),
    };
    let termination = r
        .termination
        .as_ref()
        .map(|t| {
            let reason = serde_json::to_value(t.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            if r.status == ReleaseStatus::Superseded {
                format!("Superseded by {}", t.by)
            } else {
                format!("Terminated by {} ({reason})", t.by)
            }
        })
        .unwrap_or_default();
    let release_href = |n: u64| format!("{product_href}/releases/{n}");
    let message = r.trigger.message.trim_end();
    let (subject, body) = message.split_once('\n').unwrap_or((message, ""));
    let (repo, repo_href) = if is_local(&r.trigger.repo_url) {
        (r.trigger.repo_url.clone(), String::new())
    } else {
        (
            repo_shown(&r.trigger.repo_url),
            crate::links::repo_web(&r.trigger.repo_url).unwrap_or_default(),
        )
    };
    ReleaseView {
        id: r.id.clone(),
        product: r.product.clone(),
        number: r.number,
        status: status::release(r.status),
        finished: r.finished_at.is_some(),
        version: r.version.clone().unwrap_or_default(),
        flow: r.flow.clone(),
        flow_href: if flow_exists {
            format!("{product_href}/flows/{}", seg(&r.flow))
        } else {
            String::new()
        },
        kind,
        rollback_of: rollback_of.map(|n| (n, release_href(n))),
        superseded_by: r
            .termination
            .as_ref()
            .and_then(|t| t.release.as_ref())
            .filter(|_| r.status == ReleaseStatus::Superseded)
            .map(|n| (n.number, release_href(n.number))),
        rolled_back_by: r
            .rolled_back_by
            .iter()
            .map(|l| (l.environment.clone(), l.number, release_href(l.number)))
            .collect(),
        rollback_for: r
            .rollback_for
            .as_ref()
            .map(|l| (l.environment.clone(), l.number, release_href(l.number))),
        initiator: r.initiator.clone(),
        created: when(r.created_at),
        finished_at: r.finished_at.map(when),
        duration: duration(
            Some(r.created_at),
            r.finished_at.or_else(|| Some(ferry_release::now())),
        ),
        trigger: TriggerView {
            link: links
                .commit(&r.trigger.repo_url, &r.trigger.sha)
                .unwrap_or_default(),
            short: short_sha(&r.trigger.sha),
            sha: r.trigger.sha.clone(),
            subject: code_spans(subject.trim_end()),
            body: body.trim().to_owned(),
            author: r.trigger.author.clone(),
            date: r.trigger.date.clone(),
            branch: r.trigger.branch.clone(),
            repo,
            repo_href,
        },
        counts,
        graph: svg::render(
            &graph_nodes(r),
            &format!("Flow of release #{} of {}", r.number, r.product),
            "#env-",
        ),
        envs,
        hooks: r.hooks.iter().map(step_view).collect(),
        termination,
        timeline: timeline::page(events, r.created_at, 0, timeline::RECENT),
        last_seq: events.last().map_or(0, |e| e.seq),
        can_terminate: !r.status.is_final() && r.status != ReleaseStatus::Terminating,
        can_retry: matches!(r.status, ReleaseStatus::Failed | ReleaseStatus::Terminated),
        holds: r
            .environments
            .iter()
            .filter(|e| e.status == EnvironmentStatus::Suspended)
            .filter_map(|e| e.hold.as_ref().map(|h| (e.name.clone(), h.reason.clone())))
            .collect(),
        break_glass: r
            .break_glass
            .as_ref()
            .map(|b| {
                format!(
                    "Let through closed windows and freezes by {} at {}: {}",
                    b.by,
                    when(b.at).text,
                    b.reason
                )
            })
            .unwrap_or_default(),
        can_break_glass: r.is_active()
            && r.break_glass.is_none()
            && viewer
                .caller
                .as_ref()
                .is_some_and(|c| c.principal.role == ferry_api::auth::Role::Admin),
        csrf: viewer.csrf.clone(),
        signed_in: viewer.signed_in(),
        rollback_targets: r
            .environments
            .iter()
            .filter(|e| !e.trigger && e.status == EnvironmentStatus::Successful)
            .map(|e| e.name.clone())
            .collect(),
        has_hooks: !r.hooks.is_empty() || r.environments.iter().any(|e| !e.hooks.is_empty()),
        product_href,
        href,
    }
}

/// Every stored event of a release, oldest first.
async fn all_events(st: &Shared, id: &str) -> Result<Vec<Event>, UiError> {
    let mut out: Vec<Event> = Vec::new();
    loop {
        let after = out.last().map_or(0, |e| e.seq);
        let page = st
            .store
            .events(id, after, ferry_store::MAX_EVENTS_PAGE)
            .await?;
        let full = page.len() as u64 >= u64::from(ferry_store::MAX_EVENTS_PAGE);
        out.extend(page);
        if !full {
            return Ok(out);
        }
    }
}

/// The release `number` of `product`, with its events (read first, so
/// the release is at least as new as the last event shown).
pub async fn load(
    st: &Shared,
    product: &str,
    number: &str,
) -> Result<(Release, Vec<Event>), UiError> {
    let n: u64 = number
        .parse()
        .map_err(|_| ApiError::bad_request(format!("release number `{number}` is not a number")))?;
    let not_found = || {
        UiError(ApiError::not_found(format!(
            "release #{n} of `{product}` not found"
        )))
    };
    let first = st
        .store
        .get_by_number(product, n)
        .await?
        .ok_or_else(not_found)?;
    let events = all_events(st, &first.id).await?;
    let release = st.store.get(&first.id).await?.ok_or_else(not_found)?;
    Ok((release, events))
}
