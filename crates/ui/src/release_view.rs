//! The release as its pages show it: the view model of the release view
//! (header, flow graph, environments with applications, steps, hooks and
//! issues, the event timeline) and the loading of a release with its
//! events. The pages that act on a release (terminate, retry, resume,
//! merge, notes) read it from here.

use ferry_release::{
    EnvironmentStatus, Event, Release, ReleaseKind, ReleaseStatus, StepPhase, StepRun,
};

use crate::layout::{
    UiError, Viewer, When, commit_link, duration, repo_shown, seg, short_sha, when,
};
use crate::status::{self, Shown};
use crate::svg;
use ferry_api::Shared;
use ferry_api::error::ApiError;

/// Newest events shown in the timeline (older ones are counted).
pub const TIMELINE: usize = 100;

pub struct TriggerView {
    pub sha: String,
    pub short: String,
    pub link: String,
    pub message: String,
    pub author: String,
    pub date: String,
    pub branch: String,
    pub repo: String,
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
    pub message: String,
    pub attempts: u32,
    pub nodes: Vec<NodeView>,
    /// The Resume confirmation, while the step's workflow is suspended.
    pub resume_href: String,
}

pub struct AppView {
    pub name: String,
    pub status: Shown,
    pub commit: String,
    pub commit_href: String,
    pub pr_number: u64,
    pub pr_href: String,
    pub sync: String,
    pub health: String,
    pub steps: Vec<StepView>,
    /// The demo's "Merge pull request" confirmation (demo mode only).
    pub merge_href: String,
}

pub struct IssueView {
    pub kind: String,
    pub message: String,
    pub application: String,
    pub step: String,
    pub details: String,
    pub manifest: String,
    pub link: String,
    pub at: When,
}

pub struct EnvView {
    pub name: String,
    pub status: Shown,
    pub trigger: bool,
    pub depends_on: String,
    pub duration: String,
    pub apps: Vec<AppView>,
    /// The environment's steps over all its applications (SPEC §4.3),
    /// shown when it has more than one application.
    pub steps: Vec<(String, Shown)>,
    pub hooks: Vec<StepView>,
    pub issues: Vec<IssueView>,
}

pub struct EventView {
    pub at: When,
    pub kind: String,
    pub subject: String,
    pub status: Option<Shown>,
    pub status_text: String,
    pub message: String,
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
    pub timeline: Vec<EventView>,
    pub timeline_omitted: usize,
    pub last_seq: u64,
    pub can_terminate: bool,
    pub can_retry: bool,
    pub signed_in: bool,
    /// Environments a rollback to this release can target.
    pub rollback_targets: Vec<String>,
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

fn step_view(s: &StepRun) -> StepView {
    StepView {
        name: s.name.clone(),
        phase: phase(s.phase),
        status: status::step(s.status),
        duration: duration(s.started_at, s.finished_at),
        message: s.message.clone().unwrap_or_default(),
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
    }
}

fn event_view(e: &Event) -> EventView {
    let subject = [&e.environment, &e.application, &e.step]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" / ");
    let kind = serde_json::to_value(e.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    EventView {
        at: when(e.at),
        kind,
        subject,
        status: status::any(&e.status),
        status_text: e.status.clone(),
        message: e.message.clone().unwrap_or_default(),
    }
}

fn graph_nodes(r: &Release) -> Vec<svg::Node> {
    r.environments
        .iter()
        .map(|e| svg::Node {
            name: e.name.clone(),
            depends_on: e.depends_on.clone(),
            status: Some(status::environment(e.status)),
            trigger: e.trigger,
        })
        .collect()
}

/// The view of `r` with its (newest [`TIMELINE`]) events.
pub fn view(r: &Release, events: &[Event], viewer: &Viewer, flow_exists: bool) -> ReleaseView {
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
        .map(|e| EnvView {
            name: e.name.clone(),
            status: status::environment(e.status),
            trigger: e.trigger,
            depends_on: e.depends_on.join(", "),
            duration: duration(e.started_at, e.finished_at),
            apps: e
                .applications
                .iter()
                .map(|a| {
                    let commit = a.promotion_commit.clone().unwrap_or_default();
                    AppView {
                        name: a.name.clone(),
                        status: status::environment(a.status),
                        commit_href: commit_link(&a.repo_url, &commit).unwrap_or_default(),
                        commit: short_sha(&commit),
                        pr_number: a.pull_request.as_ref().map_or(0, |p| p.number),
                        pr_href: a
                            .pull_request
                            .as_ref()
                            .map(|p| repo_shown(&p.url))
                            .unwrap_or_default(),
                        sync: a.sync.clone().unwrap_or_default(),
                        health: a.health.clone().unwrap_or_default(),
                        steps: a.steps.iter().map(step_view).collect(),
                        merge_href: String::new(),
                    }
                })
                .collect(),
            steps: if e.applications.len() > 1 {
                e.steps()
                    .into_iter()
                    .map(|s| (s.name, status::step(s.status)))
                    .collect()
            } else {
                Vec::new()
            },
            hooks: e.hooks.iter().map(step_view).collect(),
            issues: e
                .issues
                .iter()
                .map(|i| IssueView {
                    kind: serde_json::to_value(i.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    message: i.message.clone(),
                    application: i.application.clone().unwrap_or_default(),
                    step: i.step.clone().unwrap_or_default(),
                    details: i.details.clone().unwrap_or_default(),
                    manifest: i.manifest.clone().unwrap_or_default(),
                    link: i.link.as_deref().map(repo_shown).unwrap_or_default(),
                    at: when(i.at),
                })
                .collect(),
        })
        .collect();
    let start = events.len().saturating_sub(TIMELINE);
    let kind = match &r.kind {
        ReleaseKind::Automatic => "automatic".to_owned(),
        ReleaseKind::Manual => "manual".to_owned(),
        ReleaseKind::Flow => "flow".to_owned(),
        ReleaseKind::Rollback { from_release } => format!("rollback to {from_release}"),
    };
    let termination = r
        .termination
        .as_ref()
        .map(|t| {
            let reason = serde_json::to_value(t.reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            format!("Terminated by {} ({reason})", t.by)
        })
        .unwrap_or_default();
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
        initiator: r.initiator.clone(),
        created: when(r.created_at),
        finished_at: r.finished_at.map(when),
        duration: duration(
            Some(r.created_at),
            r.finished_at.or_else(|| Some(ferry_release::now())),
        ),
        trigger: TriggerView {
            link: commit_link(&r.trigger.repo_url, &r.trigger.sha).unwrap_or_default(),
            short: short_sha(&r.trigger.sha),
            sha: r.trigger.sha.clone(),
            message: r.trigger.message.trim_end().to_owned(),
            author: r.trigger.author.clone(),
            date: r.trigger.date.clone(),
            branch: r.trigger.branch.clone(),
            repo: repo_shown(&r.trigger.repo_url),
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
        timeline: events[start..].iter().map(event_view).collect(),
        timeline_omitted: start,
        last_seq: events.last().map_or(0, |e| e.seq),
        can_terminate: !r.status.is_final() && r.status != ReleaseStatus::Terminating,
        can_retry: matches!(r.status, ReleaseStatus::Failed | ReleaseStatus::Terminated),
        signed_in: viewer.signed_in(),
        rollback_targets: r
            .environments
            .iter()
            .filter(|e| !e.trigger)
            .map(|e| e.name.clone())
            .collect(),
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
