//! Every WorkflowTemplate of `tests/corpus/` (shaped like those teams publish
//! for promotions) parses and runs on the local executor with the outcome
//! expected for it.

mod common;

use std::path::Path;

use common::*;
use ferry_workflow::{LocalExecutor, RunOutcome, StepStatus, WorkflowRunner, WorkflowTemplate};

fn load(file: &str) -> WorkflowTemplate {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let v: serde_json::Value = yaml_serde::from_str(&text).unwrap();
    let t = WorkflowTemplate::from_value(&v, &path.display().to_string()).unwrap();
    assert!(
        t.is_promotion_workflow(),
        "{file} is annotated as a promotion workflow"
    );
    t
}

async fn run(exec: &LocalExecutor, file: &str, p: &[(&str, &str)]) -> (RunOutcome, String) {
    let t = load(file);
    let (id, outcome, updates) = run_to_end(exec, &t, &params(p)).await;
    // All step logs, in the order the steps started, for content checks.
    let mut logs = String::new();
    let mut paths: Vec<&str> = Vec::new();
    for u in &updates {
        if !paths.contains(&u.path.as_str()) {
            paths.push(&u.path);
        }
    }
    for p in paths {
        logs.push_str(&exec.logs(&id, p).await.unwrap().text);
    }
    (outcome, logs)
}

#[test]
fn corpus_has_at_least_ten_templates_and_all_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    assert!(files.len() >= 10, "{files:?}");
    for f in &files {
        let t = load(f);
        let unsupported = t.local_unsupported();
        if f == "k8s-job-unsupported.yaml" {
            assert_eq!(unsupported, ["spec.templates[1].resource"]);
        } else {
            assert!(unsupported.is_empty(), "{f}: {unsupported:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_params() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(
        &exec,
        "echo-params.yaml",
        &[
            ("APP_NAME", "web"),
            ("ENVIRONMENT", "qa"),
            ("RELEASE_ID", "01J"),
        ],
    )
    .await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(logs, "promoting web to qa (release 01J)\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_check_waits_for_synced() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(&exec, "sync-check.yaml", &[("APP_NAME", "web")]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(
        logs,
        "web in argocd: OutOfSync\n".repeat(3) + "web is Synced\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_notification_to_an_unavailable_host_fails_after_retries() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(
        &exec,
        "slack-notify.yaml",
        &[("APP_NAME", "web"), ("ENVIRONMENT", "qa")],
    )
    .await;
    assert_eq!(o.status, StepStatus::Failed, "{o:?}");
    let msg = o.message.unwrap();
    // curl's "couldn't connect" is exit code 7; on a machine without curl the
    // message says the command is missing. Either way: clear, and retried.
    assert!(
        msg == "exit code 7 (after 3 attempts)" || msg.starts_with("command \"curl\" not found"),
        "{msg}"
    );
    if msg.starts_with("exit code") {
        assert!(logs.contains("[ferry: attempt 3]"), "{logs}");
        assert!(logs.contains("curl: (7)"), "{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_with_a_missing_cli_fails_clearly() {
    let exec = LocalExecutor::default();
    let (o, _) = run(
        &exec,
        "teams-notify-missing-cli.yaml",
        &[("APP_NAME", "web")],
    )
    .await;
    assert_eq!(o.status, StepStatus::Failed);
    assert_eq!(
        o.message.as_deref(),
        Some(
            "command \"teams-notifier-cli\" not found on this machine (the local executor runs commands directly and ignores the image \"example.com/teams-notifier:1.4\") (after 2 attempts)"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jira_pre_action_exports_jira_id_to_the_post_action() {
    let exec = LocalExecutor::default();
    let (pre, logs) = run(
        &exec,
        "jira-pre-action.yaml",
        &[("APP_NAME", "web"), ("ENVIRONMENT", "prod")],
    )
    .await;
    assert_eq!(pre.status, StepStatus::Success, "{pre:?}");
    assert_eq!(logs, "creating ticket for demo/web -> prod\n");
    let jira = pre
        .outputs
        .global
        .get("JIRA_ID")
        .cloned()
        .expect("JIRA_ID exported");
    assert!(jira.starts_with("PROMO-") && jira.len() > 6, "{jira}");

    let mut args: Vec<(&str, &str)> = vec![("APP_NAME", "web"), ("COMMIT_SHA", "abc123")];
    args.push(("JIRA_ID", &jira));
    let (post, logs) = run(&exec, "jira-post-action.yaml", &args).await;
    assert_eq!(post.status, StepStatus::Success, "{post:?}");
    assert_eq!(logs, format!("{jira}: web promoted at abc123\n"));
    assert_eq!(
        post.outputs.entrypoint.get("comment"),
        Some(&format!("{jira}: web promoted at abc123"))
    );

    // Without the pre-action's output the post-action cannot run.
    let (post, _) = run(&exec, "jira-post-action.yaml", &[("APP_NAME", "web")]).await;
    assert_eq!(post.status, StepStatus::Error);
    assert!(
        post.message
            .unwrap()
            .contains("(JIRA_ID): required workflow parameter has no value")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_tests_dag() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(&exec, "smoke-tests-dag.yaml", &[("APP_NAME", "web")]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert!(
        logs.contains("smoke web: health=ok,login=ok,checkout=ok\n"),
        "{logs}"
    );
    assert!(logs.contains("cleanup=ok\n"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_approval_auto_approves_after_its_duration() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(&exec, "change-approval.yaml", &[("ENVIRONMENT", "qa")]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(logs, "change approved for qa\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_approval_is_resumed_by_a_person() {
    let exec = LocalExecutor::default();
    let t = load("change-approval.yaml");
    let id = exec
        .start(
            &t,
            &params(&[("ENVIRONMENT", "prod"), ("AUTO_APPROVE_AFTER", "1h")]),
        )
        .await
        .unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    while let Some(u) = sub.next().await {
        if u.suspended {
            break;
        }
    }
    exec.resume(&id, None).await.unwrap();
    assert_eq!(exec.wait(&id).await.unwrap().status, StepStatus::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prod_gate_runs_prod_checks_only_for_prod() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(
        &exec,
        "prod-gate.yaml",
        &[("ENVIRONMENT", "prod"), ("APP_NAME", "web")],
    )
    .await;
    assert_eq!(o.status, StepStatus::Success);
    assert_eq!(logs, "checks for web\nchecking the freeze window\n");
    let (o, logs) = run(
        &exec,
        "prod-gate.yaml",
        &[("ENVIRONMENT", "qa"), ("APP_NAME", "web")],
    )
    .await;
    assert_eq!(o.status, StepStatus::Success);
    assert_eq!(logs, "checks for web\nno freeze window outside prod\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_check_accepts_semver_and_rejects_the_rest() {
    let exec = LocalExecutor::default();
    let (o, _) = run(&exec, "version-check.yaml", &[("VERSION", "v1.4.2")]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(
        o.outputs.entrypoint.get("version").map(String::as_str),
        Some("1.4.2")
    );
    let (o, logs) = run(&exec, "version-check.yaml", &[("VERSION", "latest")]).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert!(
        o.message
            .unwrap()
            .contains("child \"validate\" FAILED: exit code 1")
    );
    assert!(logs.contains("version latest is not semver"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_failed_hook_reads_hook_arguments() {
    let exec = LocalExecutor::default();
    let failed =
        r#"[{"name": "qa", "status": "FAILED"}, {"name": "staging", "status": "TERMINATED"}]"#;
    let (o, logs) = run(
        &exec,
        "release-failed-hook.yaml",
        &[
            ("RELEASE_URL", "http://ferry.local/releases/01J"),
            ("RELEASE_ID", "01J"),
            ("PRODUCT_NAME", "shop"),
            ("VERSION", "1.2.3"),
            ("COMMIT_SHA", "abc"),
            ("PROMOTION_FLOW_NAME", "default"),
            ("ERROR_MESSAGE", "qa: sync timeout"),
            ("FAILED_ENVIRONMENTS", failed),
        ],
    )
    .await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(
        logs,
        "release 01J of shop 1.2.3 failed: qa: sync timeout\nfailed: qa\nfailed: staging\nsee http://ferry.local/releases/01J\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_resource_template_is_an_error() {
    let exec = LocalExecutor::default();
    let (o, logs) = run(&exec, "k8s-job-unsupported.yaml", &[]).await;
    assert_eq!(o.status, StepStatus::Error);
    assert_eq!(
        o.message.as_deref(),
        Some("spec.templates[1].resource is not supported by the local executor")
    );
    assert_eq!(logs, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_handler_reports_the_outcome() {
    let exec = LocalExecutor::default();
    let base = [
        ("APP_NAME", "web"),
        ("ENVIRONMENT", "prod"),
        ("COMMIT_SHA", "abc"),
    ];
    let (o, logs) = run(&exec, "deploy-notify-on-exit.yaml", &base).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(logs, "verifying web@abc\nweb in prod: Succeeded\n");
    let mut failing = base.to_vec();
    failing.push(("SHOULD_FAIL", "true"));
    let (o, logs) = run(&exec, "deploy-notify-on-exit.yaml", &failing).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert_eq!(logs, "verifying web@abc\nweb in prod: Failed\n");
}
