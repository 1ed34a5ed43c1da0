//! Workflow secrets (issue 10): given to every local step from the
//! server's settings, not shadowed by a template's own `env`, and nothing
//! else of ferry's environment is inherited.

mod common;

use common::*;
use ferry_workflow::{LocalConfig, LocalExecutor, StepStatus, WorkflowRunner};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_reach_every_step_and_templates_cannot_shadow_them() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: deploy}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: a, template: show}], [{name: b, template: show}]]
  - name: show
    script:
      command: [sh]
      env: [{name: DEPLOY_TOKEN, value: from-the-config-repo}]
      source: |
        echo "token=$DEPLOY_TOKEN other=${OTHER_SECRET:-unset} home=${CARGO_HOME:-unset}"
"#;
    let exec = LocalExecutor::new(LocalConfig {
        inherited_env: vec!["PATH".into()],
        secret_env: vec![
            ("DEPLOY_TOKEN".into(), "from-settings".into()),
            ("OTHER_SECRET".into(), "second".into()),
        ],
        ..LocalConfig::default()
    });
    let (id, outcome, _) = run_to_end(&exec, &template(yaml), &params(&[])).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    for step in ["a", "b"] {
        assert_eq!(
            exec.logs(&id, step).await.unwrap().text,
            "token=from-settings other=second home=unset\n"
        );
    }
}
