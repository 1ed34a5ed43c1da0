//! What an approval gate adds to an environment step (issue 20), against
//! the same step without one, in the same run.
//!
//! Run with `cargo bench -p ferry-release --bench approval_gate`.
//!
//! Per environment step the driver (1) resolves the environment's policy
//! (SPEC §2, at release creation: `ferry_model::evaluate` over 20
//! PromotionPolicies), (2) reads where the gate stands from the record
//! (`ApprovalRun::state`, `waiting_reason`, this round's decisions) and
//! (3) stores the release, one JSON document, at least once — with the
//! gate, the record carries its rounds and decisions. The baseline is the
//! same three things on the same 10-environment release without any
//! gate. The goal: the difference ≤ 1 ms per environment step.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ferry_model::{SourceFile, evaluate, load};
use ferry_release::{
    ApprovalDecision, ApprovalRun, Decision, EnvironmentRun, EnvironmentStatus, FrozenFlow,
    FrozenStep, Release, ReleaseKind, ReleaseStatus, Snapshot, Trigger, now,
};

const ENVS: usize = 10;
const POLICIES: usize = 20;
const ROUNDS: usize = 15;
const ITERATIONS: usize = 2_000;

fn config(gated: bool) -> ferry_model::Loaded {
    let mut text = String::new();
    for i in 0..ENVS {
        text.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: env{i}}}\nspec: {{kind: {}}}\n",
            if i + 1 == ENVS { "PROD" } else { "NON_PROD" }
        ));
    }
    for p in 0..POLICIES {
        let approval = if gated && p == 0 {
            "\n    approval:\n      required: 2\n      approvers: {roles: [admin], names: [carol, dave]}\n      notInitiator: true\n      expiresAfter: 8h"
        } else {
            ""
        };
        text.push_str(&format!(
            "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {{name: p{p:02}}}\nspec:\n  priority: {p}\n  selector:\n    targetEnvironment: {{names: [env{}]}}\n  policy:\n    preAction: smoke\n    action: commit{approval}\n",
            p % ENVS
        ));
    }
    let loaded = load(&[SourceFile {
        path: "config.yaml".into(),
        text,
    }]);
    assert_eq!(loaded.errors().count(), 0);
    loaded
}

fn release(gated: bool) -> Release {
    let at = now();
    let names: Vec<String> = (0..ENVS).map(|i| format!("env{i}")).collect();
    let environments = names
        .iter()
        .map(|n| EnvironmentRun {
            name: n.clone(),
            status: EnvironmentStatus::Successful,
            depends_on: vec![],
            trigger: false,
            issues: vec![],
            applications: vec![],
            hooks: vec![],
            approval: gated.then(|| ApprovalRun {
                required: 2,
                round: u32::try_from(ROUNDS).unwrap_or(1),
                requested_at: at,
                expires_at: Some(at + time::Duration::hours(8)),
                approvers: "a token with role admin, or token carol, dave".into(),
                not_initiator: true,
                // Earlier rounds (retries) and this round's two approvals.
                decisions: (0..ROUNDS * 2)
                    .map(|i| ApprovalDecision {
                        by: format!("approver-{}", i % 2),
                        decision: Decision::Approve,
                        comment: Some("checked the dashboards and the error budget".into()),
                        at,
                        round: u32::try_from(i / 2).unwrap_or(0) + 1,
                    })
                    .collect(),
                expired_at: None,
            }),
            started_at: Some(at),
            finished_at: None,
            hold: None,
        })
        .collect();
    Release {
        id: ferry_release::new_release_id(),
        number: 1,
        product: "shop".into(),
        flow: "main".into(),
        kind: ReleaseKind::Flow,
        status: ReleaseStatus::Running,
        initiator: "ann".into(),
        created_at: at,
        finished_at: None,
        version: Some("1.2.3".into()),
        trigger: Trigger::default(),
        graph: FrozenFlow {
            name: "main".into(),
            trigger_environment: "dev".into(),
            steps: names
                .iter()
                .map(|n| FrozenStep {
                    environment: n.clone(),
                    depends_on: vec![],
                    policy: Default::default(),
                    hooks: Default::default(),
                })
                .collect(),
            hooks: Default::default(),
            trigger_post_action: None,
            timeout_seconds: 86_400,
        },
        snapshot: Snapshot::default(),
        environments,
        hooks: vec![],
        termination: None,
        hotfix: false,
        attempt: u32::try_from(ROUNDS).unwrap_or(1),
        break_glass: None,
        rolled_back_by: Vec::new(),
        rollback_for: None,
        timeout: None,
    }
}

/// One environment step's gate work: resolve, read, store.
fn step(cfg: &ferry_model::Loaded, r: &Release, env: usize) -> usize {
    let name = &r.environments[env].name;
    let policy = evaluate(&cfg.config, "shop", name, None, None);
    let mut n = usize::from(policy.approval.value.is_some());
    if let Some(a) = &r.environments[env].approval {
        n += usize::from(a.is_waiting());
        n += a.waiting_reason().map_or(0, |s| s.len());
        n += a.current().count();
    }
    n + serde_json::to_vec(r).map_or(0, |v| v.len())
}

fn time_steps(cfg: &ferry_model::Loaded, r: &Release) -> Duration {
    let started = Instant::now();
    for i in 0..ITERATIONS {
        black_box(step(cfg, r, i % ENVS));
    }
    started.elapsed() / u32::try_from(ITERATIONS).unwrap_or(1)
}

fn main() {
    let (plain_cfg, gated_cfg) = (config(false), config(true));
    let (plain, gated) = (release(false), release(true));
    assert!(
        gated_cfg
            .config
            .policies
            .iter()
            .any(|p| p.spec.policy.approval.is_some())
    );
    // Warm up, then alternate the two so drift on a shared machine hits both.
    time_steps(&plain_cfg, &plain);
    time_steps(&gated_cfg, &gated);
    let mut base = Vec::new();
    let mut with = Vec::new();
    for _ in 0..9 {
        base.push(time_steps(&plain_cfg, &plain));
        with.push(time_steps(&gated_cfg, &gated));
    }
    base.sort();
    with.sort();
    let (b, w) = (base[base.len() / 2], with[with.len() / 2]);
    let added = w.saturating_sub(b);
    println!(
        "approval gate per environment step ({ENVS} environments, {POLICIES} policies, {ROUNDS} rounds of decisions), median of 9 × {ITERATIONS}:"
    );
    println!("  baseline (no gate):  {:>9.1} µs", b.as_secs_f64() * 1e6);
    println!("  with the gate:       {:>9.1} µs", w.as_secs_f64() * 1e6);
    println!(
        "  added:               {:>9.1} µs ({:.2}× the baseline) — goal ≤ 1 ms: {}",
        added.as_secs_f64() * 1e6,
        w.as_secs_f64() / b.as_secs_f64().max(f64::MIN_POSITIVE),
        if added <= Duration::from_millis(1) {
            "met"
        } else {
            "NOT met"
        }
    );
}
