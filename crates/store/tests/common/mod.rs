//! A realistic release for tests and the benchmark: 4 environments ×
//! 3 applications × 4 steps, with a snapshot, issues, hooks and a
//! pull request, so every kind of field goes through the store.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::str::FromStr;

use ferry_model::resource::{Action, Hooks, PolicySettings};
use ferry_release::{
    ApplicationRun, ApplicationSnapshot, EnvironmentRun, EnvironmentStatus, EventKind, FrozenFlow,
    FrozenStep, Issue, IssueKind, PullRequest, Release, ReleaseKind, ReleaseStatus, Snapshot,
    StepPhase, StepRun, StepStatus, Termination, TerminationReason, Trigger,
};
use ferry_store::NewEvent;
use ferry_yamledit::{NormalizedPath, PathValue, Scalar, Value};
use time::macros::datetime;

pub const ENVIRONMENTS: [&str; 4] = ["dev", "qa", "staging", "prod"];
pub const APPLICATIONS: [&str; 3] = ["api", "web", "worker"];

/// A running release of `product`, created at a fixed instant with
/// sub-millisecond precision (to check that the document keeps it).
pub fn release(product: &str) -> Release {
    let created_at = datetime!(2026-11-27 05:00:00.123456789 UTC);
    let id = ferry_release::new_release_id();
    let steps = ENVIRONMENTS[1..]
        .iter()
        .enumerate()
        .map(|(i, env)| FrozenStep {
            environment: env.to_string(),
            depends_on: vec![ENVIRONMENTS[i].to_string()],
            policy: PolicySettings {
                pre_action: Some("smoke-test".into()),
                action: Some(if *env == "prod" {
                    Action::Pr
                } else {
                    Action::Commit
                }),
                post_action: Some("integration-test".into()),
                approval: None,
                on_failure: None,
            },
            hooks: Hooks {
                on_start: Some("notify-start".into()),
                on_success: None,
                on_fail: Some("page-oncall".into()),
            },
        })
        .collect();
    let snapshot = Snapshot {
        environment: "dev".into(),
        applications: APPLICATIONS
            .iter()
            .map(|app| {
                let values = BTreeMap::from([(
                    "values.yaml".to_string(),
                    vec![
                        PathValue {
                            path: NormalizedPath::from_str(&format!("$['{app}']['image']['tag']"))
                                .unwrap(),
                            value: Value::Scalar(Scalar::string("1.4.2")),
                        },
                        PathValue {
                            path: NormalizedPath::from_str("$['replicas']").unwrap(),
                            value: Value::Sequence(vec![Value::Scalar(Scalar::string("x"))]),
                        },
                    ],
                )]);
                (
                    format!("{app}-dev"),
                    ApplicationSnapshot {
                        application: format!("{app}-dev"),
                        repo_url: "https://git.example/org/gitops.git".into(),
                        path: format!("apps/{app}/dev"),
                        revision: "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6".into(),
                        values,
                        files: BTreeMap::from([(
                            "config.json".to_string(),
                            "{\"feature\": true}\n".to_string(),
                        )]),
                    },
                )
            })
            .collect(),
        pending: false,
    };
    let environments = ENVIRONMENTS
        .iter()
        .enumerate()
        .map(|(i, env)| EnvironmentRun {
            name: env.to_string(),
            status: match i {
                0 => EnvironmentStatus::Successful,
                1 => EnvironmentStatus::Running,
                _ => EnvironmentStatus::Pending,
            },
            depends_on: if i == 0 {
                vec![]
            } else {
                vec![ENVIRONMENTS[i - 1].to_string()]
            },
            trigger: i == 0,
            issues: if i == 1 {
                vec![Issue {
                    kind: IssueKind::Workflow,
                    message: "smoke-test failed once".into(),
                    application: Some("api-qa".into()),
                    step: Some("smoke-test".into()),
                    details: Some("line 1\nline 2 — ünïcode\n".into()),
                    manifest: Some("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n".into()),
                    link: None,
                    at: created_at,
                    attempt: 1,
                }]
            } else {
                vec![]
            },
            applications: APPLICATIONS
                .iter()
                .map(|app| ApplicationRun {
                    name: format!("{app}-{env}"),
                    key: app.to_string(),
                    repo_url: "https://git.example/org/gitops.git".into(),
                    path: format!("apps/{app}/{env}"),
                    target_revision: "main".into(),
                    namespace: Some(format!("{app}-{env}")),
                    status: if i == 0 {
                        EnvironmentStatus::Successful
                    } else {
                        EnvironmentStatus::Pending
                    },
                    promotion_commit: (i == 1).then(|| "0123456789abcdef".repeat(2)),
                    pull_request: (*env == "prod").then(|| PullRequest {
                        number: 17,
                        url: "https://git.example/org/gitops/pull/17".into(),
                        branch: "ferry/prod".into(),
                        head: None,
                        closed_at: None,
                    }),
                    sync: Some("Synced".into()),
                    health: Some("Healthy".into()),
                    observed_at: None,
                    steps: [
                        ("smoke-test", StepPhase::PreAction),
                        ("commit", StepPhase::Action),
                        ("sync", StepPhase::Sync),
                        ("integration-test", StepPhase::PostAction),
                    ]
                    .into_iter()
                    .map(|(name, phase)| StepRun {
                        status: if i == 0 {
                            StepStatus::Success
                        } else {
                            StepStatus::Pending
                        },
                        started_at: (i == 0).then_some(created_at),
                        finished_at: (i == 0).then_some(created_at),
                        run_id: (i == 0).then(|| format!("run-{app}-{name}")),
                        message: None,
                        attempts: u32::from(i == 0),
                        ..StepRun::pending(name, phase)
                    })
                    .collect(),
                    outputs: BTreeMap::from([(
                        "IMAGE_DIGEST".to_string(),
                        "sha256:abc".to_string(),
                    )]),
                })
                .collect(),
            hooks: vec![StepRun::pending("onStart: notify-start", StepPhase::Hook)],
            approval: None,
            started_at: (i <= 1).then_some(created_at),
            finished_at: (i == 0).then_some(created_at),
            hold: None,
        })
        .collect();
    Release {
        id,
        number: 0,
        product: product.to_string(),
        flow: "main".into(),
        kind: ReleaseKind::Rollback {
            from_release: "01J00000000000000000000000".into(),
        },
        status: ReleaseStatus::Running,
        initiator: "jane@example.com".into(),
        created_at,
        finished_at: None,
        version: Some("1.4.2".into()),
        trigger: Trigger {
            repo_url: "https://git.example/org/gitops.git".into(),
            sha: "9f1c2d3e4b5a69788796a5b4c3d2e1f0a9b8c7d6".into(),
            message: "bump api to 1.4.2".into(),
            author: "Jane <jane@example.com>".into(),
            date: "2026-11-27T04:59:00Z".into(),
            branch: "main".into(),
        },
        graph: FrozenFlow {
            name: "main".into(),
            trigger_environment: "dev".into(),
            steps,
            hooks: Hooks::default(),
            trigger_post_action: Some("tag-release".into()),
            timeout_seconds: 86_400,
        },
        snapshot,
        environments,
        hooks: vec![],
        termination: Some(Termination {
            reason: TerminationReason::Superseded,
            by: "ferry".into(),
            at: created_at,
            release: None,
        }),
        hotfix: true,
        break_glass: None,
        attempt: 1,
        rolled_back_by: Vec::new(),
        rollback_for: None,
        timeout: None,
    }
}

/// The events a release starts with.
pub fn first_events() -> Vec<NewEvent> {
    vec![
        NewEvent::new(EventKind::Release, "QUEUED").message("created by jane"),
        NewEvent::new(EventKind::Environment, "RUNNING").environment("qa"),
    ]
}

/// A temporary SQLite database file; the directory lives as long as the
/// returned guard.
pub fn sqlite_url() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("ferry.db").display()
    );
    (dir, url)
}
