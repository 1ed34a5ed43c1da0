//! The local executor against real child processes.

mod common;

use common::*;
use ferry_workflow::{
    LocalConfig, LocalExecutor, NodePhase, RunnerError, StepStatus, WorkflowRunner,
};

fn sh_template(name: &str, script: &str) -> String {
    format!(
        "  - name: {name}\n    script:\n      image: alpine:3.20\n      command: [sh]\n      source: |\n{}\n",
        script
            .lines()
            .map(|l| format!("        {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_groups_and_parallel_items() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    // b1 and b2 each wait for the other's marker: they can only both finish when
    // they run at the same time. The deadline bounds the test if they don't.
    let yaml = format!(
        r#"
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: seqpar}}
spec:
  entrypoint: main
  arguments: {{parameters: [{{name: dir}}]}}
  templates:
  - name: main
    steps:
    - - {{name: a, template: first}}
    - - {{name: b1, template: meet, arguments: {{parameters: [{{name: me, value: b1}}, {{name: other, value: b2}}]}}}}
      - {{name: b2, template: meet, arguments: {{parameters: [{{name: me, value: b2}}, {{name: other, value: b1}}]}}}}
{first}
  - name: meet
    inputs: {{parameters: [{{name: me}}, {{name: other}}]}}
    activeDeadlineSeconds: 20
    script:
      command: [sh]
      source: |
        test -f "{{{{workflow.parameters.dir}}}}/a" || exit 7
        touch "{{{{workflow.parameters.dir}}}}/{{{{inputs.parameters.me}}}}"
        while [ ! -f "{{{{workflow.parameters.dir}}}}/{{{{inputs.parameters.other}}}}" ]; do sleep 0.01; done
        echo "{{{{inputs.parameters.me}}}} met {{{{inputs.parameters.other}}}}"
"#,
        first = sh_template(
            "first",
            "touch \"{{workflow.parameters.dir}}/a\"\necho first"
        )
    );
    let (exec, id, outcome, updates) = run_local(&yaml, &[("dir", &d)]).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    let root = id.0.clone();
    for p in [
        format!("{root}[0].a"),
        format!("{root}[1].b1"),
        format!("{root}[1].b2"),
    ] {
        assert_eq!(last(&updates, &p).status, StepStatus::Success, "{p}");
    }
    // Group 0 finished before anything of group 1 started.
    let a_done = updates
        .iter()
        .position(|u| u.path == format!("{root}[0].a") && u.status == StepStatus::Success)
        .unwrap();
    let b_start = updates
        .iter()
        .position(|u| u.path.starts_with(&format!("{root}[1]")))
        .unwrap();
    assert!(a_done < b_start);
    assert_eq!(last(&updates, &root).status, StepStatus::Success);
    let log = exec.logs(&id, "b1").await.unwrap();
    assert_eq!(log.text, "b1 met b2\n");
    assert!(!log.truncated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dag_with_join_and_depends_expression() {
    let yaml = r#"
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: diamond}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: ok}
      - {name: b, template: fail, dependencies: [a]}
      - {name: c, template: ok, depends: a}
      - {name: join, template: ok, dependencies: [a, c]}
      - {name: on-b-failed, template: ok, depends: "b.Failed && (c.Succeeded || c.Skipped)"}
      - {name: never, template: ok, depends: "b.Succeeded"}
      - {name: after-never, template: ok, depends: "!never.Succeeded && join"}
  - name: ok
    container: {image: alpine, command: ["true"]}
  - name: fail
    container: {image: alpine, command: [sh, -c, "exit 3"]}
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[]).await;
    let r = &id.0;
    let st = |t: &str| last(&updates, &format!("{r}.{t}")).clone();
    assert_eq!(st("a").status, StepStatus::Success);
    assert_eq!(st("b").status, StepStatus::Failed);
    assert_eq!(st("b").exit_code, Some(3));
    assert_eq!(st("join").status, StepStatus::Success);
    assert_eq!(st("on-b-failed").status, StepStatus::Success);
    assert_eq!(st("never").status, StepStatus::Skipped);
    assert_eq!(st("never").phase, NodePhase::Omitted);
    assert_eq!(st("after-never").status, StepStatus::Success);
    // b's failure is handled by on-b-failed, so the DAG succeeds.
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    // The join started only after both of its dependencies finished.
    let pos = |t: &str, s: StepStatus| {
        updates
            .iter()
            .position(|u| u.path == format!("{r}.{t}") && u.status == s)
            .unwrap()
    };
    assert!(pos("join", StepStatus::Running) > pos("c", StepStatus::Success));
    assert!(pos("join", StepStatus::Running) > pos("a", StepStatus::Success));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unhandled_dag_failure_fails_the_run() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: dagfail}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      tasks:
      - {name: a, template: fail}
      - {name: b, template: ok, dependencies: [a]}
  - name: ok
    container: {command: ["true"]}
  - name: fail
    container: {command: ["false"]}
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert!(outcome.message.unwrap().contains("child \"a\" FAILED"));
    assert_eq!(
        last(&updates, &format!("{}.b", id.0)).status,
        StepStatus::Skipped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_flow_between_steps_and_tasks() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: flow}
spec:
  entrypoint: main
  arguments:
    parameters:
    - {name: greeting, value: hello}
    - {name: who}
  templates:
  - name: main
    steps:
    - - name: gen
        template: gen
        arguments: {parameters: [{name: word, value: "{{workflow.parameters.greeting}}"}]}
    - - name: use
        template: echo
        arguments: {parameters: [{name: msg, value: "{{steps.gen.outputs.parameters.out}} / {{steps.gen.outputs.result}}"}]}
    - - name: inner
        template: graph
    outputs:
      parameters:
      - name: final
        valueFrom: {parameter: "{{steps.inner.outputs.parameters.joined}}"}
  - name: gen
    inputs: {parameters: [{name: word}]}
    outputs:
      parameters:
      - name: out
        valueFrom: {path: out.txt}
    script:
      command: [sh]
      source: |
        printf '%s %s\n' "{{inputs.parameters.word}}" "{{workflow.parameters.who}}" > out.txt
        echo printed
  - name: echo
    inputs: {parameters: [{name: msg}, {name: suffix, default: "!"}]}
    outputs:
      parameters:
      - {name: said, valueFrom: {path: said}}
    container:
      command: [sh, -c]
      args: ["echo \"$MSG{{inputs.parameters.suffix}}\" | tee said"]
      env: [{name: MSG, value: "{{inputs.parameters.msg}}"}]
  - name: graph
    dag:
      tasks:
      - {name: x, template: gen, arguments: {parameters: [{name: word, value: dag}]}}
      - {name: y, template: echo, dependencies: [x], arguments: {parameters: [{name: msg, value: "got {{tasks.x.outputs.parameters.out}}"}]}}
    outputs:
      parameters:
      - name: joined
        valueFrom: {parameter: "{{tasks.y.outputs.parameters.said}}"}
"#;
    let (exec, id, outcome, _updates) = run_local(yaml, &[("who", "ferry")]).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    assert_eq!(
        exec.logs(&id, "use").await.unwrap().text,
        "hello ferry / printed!\n"
    );
    assert_eq!(
        outcome.outputs.entrypoint.get("final").map(String::as_str),
        Some("got dag ferry!")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_output_reaches_a_second_run() {
    let pre = template(
        r#"
kind: WorkflowTemplate
metadata: {name: jira-pre}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: create, template: create}]]
  - name: create
    outputs:
      parameters:
      - name: id
        globalName: JIRA_ID
        valueFrom: {path: jira_id}
    script:
      command: [sh]
      source: echo "OPS-{{workflow.parameters.APP_NAME}}-42" > jira_id
"#,
    );
    let post = template(
        r#"
kind: WorkflowTemplate
metadata: {name: jira-post}
spec:
  entrypoint: close
  arguments: {parameters: [{name: JIRA_ID}, {name: out}]}
  templates:
  - name: close
    container:
      command: [sh, -c, 'echo "closing $ID" > "{{workflow.parameters.out}}"']
      env: [{name: ID, value: "{{workflow.parameters.JIRA_ID}}"}]
"#,
    );
    let exec = LocalExecutor::default();
    let (_, first, _) = run_to_end(&exec, &pre, &params(&[("APP_NAME", "web")])).await;
    assert_eq!(first.status, StepStatus::Success, "{first:?}");
    assert_eq!(
        first.outputs.global.get("JIRA_ID").map(String::as_str),
        Some("OPS-web-42")
    );

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("closed");
    let mut p = first.outputs.global.clone();
    p.insert("out".into(), out.display().to_string());
    let (_, second, _) = run_to_end(&exec, &post, &p).await;
    assert_eq!(second.status, StepStatus::Success, "{second:?}");
    assert_eq!(
        std::fs::read_to_string(out).unwrap(),
        "closing OPS-web-42\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_succeed_on_the_third_try() {
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("count");
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: flaky}}
spec:
  entrypoint: flaky
  templates:
  - name: flaky
    retryStrategy:
      limit: "4"
      backoff: {{duration: 10ms, factor: 2}}
    script:
      command: [sh]
      source: |
        n=$(cat {c} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {c}
        echo "try $n"
        [ "$n" -ge 3 ]
"#,
        c = counter.display()
    );
    let (exec, id, outcome, updates) = run_local(&yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    assert_eq!(std::fs::read_to_string(&counter).unwrap().trim(), "3");
    let root = last(&updates, &id.0);
    assert_eq!(root.attempt, 3);
    assert!(updates.iter().any(|u| {
        u.message
            .as_deref()
            .is_some_and(|m| m.starts_with("attempt 2 failed: exit code 1"))
    }));
    let log = exec.logs(&id, &id.0).await.unwrap().text;
    assert_eq!(
        log,
        "try 1\n\n[ferry: attempt 2]\ntry 2\n\n[ferry: attempt 3]\ntry 3\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_after_the_limit() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: hopeless}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {limit: 2}
    container: {command: [sh, -c, "exit 4"]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("exit code 4 (after 3 attempts)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_deadline_kills_a_sleep() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: slow}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{{name: nap, template: nap}}]]
  - name: nap
    activeDeadlineSeconds: 1
    script:
      command: [sh]
      source: |
        echo $$ > {p}
        sleep 300
"#,
        p = pidfile.display()
    );
    let (_e, id, outcome, updates) = run_local(&yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    let nap = last(&updates, &format!("{}[0].nap", id.0));
    assert_eq!(nap.status, StepStatus::Failed);
    assert!(
        nap.message
            .as_deref()
            .unwrap()
            .contains("activeDeadlineSeconds (1s)"),
        "{nap:?}"
    );
    let pgid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(live_group_members(pgid), Vec::<i32>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_deadline_stops_the_run() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: slowwf}
spec:
  entrypoint: main
  activeDeadlineSeconds: 1
  templates:
  - name: main
    steps: [[{name: nap, template: nap}], [{name: after, template: nap}]]
  - name: nap
    container: {command: [sleep, "300"]}
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    let nap = last(&updates, &format!("{}[0].nap", id.0));
    assert_eq!(
        nap.message.as_deref(),
        Some("workflow exceeded spec.activeDeadlineSeconds")
    );
    assert!(!updates.iter().any(|u| u.name == "after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: long}}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{{name: work, template: work}}], [{{name: next, template: work}}]]
  - name: work
    script:
      command: [sh]
      source: |
        sleep 300 &
        sleep 300 &
        echo $$ > {p}.tmp && mv {p}.tmp {p}
        wait
"#,
        p = pidfile.display()
    );
    let exec = LocalExecutor::default();
    let id = exec.start(&template(&yaml), &params(&[])).await.unwrap();
    wait_for_file(&pidfile).await;
    let pgid: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        live_group_members(pgid).len() >= 3,
        "shell and two sleeps run in the group"
    );
    exec.terminate(&id).await.unwrap();
    let outcome = exec.wait(&id).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Terminated);
    let steps = exec.steps(&id).await.unwrap();
    let work = steps.iter().find(|u| u.name == "work").unwrap();
    assert_eq!(work.status, StepStatus::Terminated);
    assert!(
        !steps.iter().any(|u| u.name == "next"),
        "nothing starts after terminate"
    );
    assert_eq!(
        live_group_members(pgid),
        Vec::<i32>::new(),
        "no orphan left in group {pgid}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_field_is_an_error_naming_it() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: k8s}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: make, template: make}]]
  - name: make
    resource:
      action: create
      manifest: "kind: ConfigMap"
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some("spec.templates[1].resource is not supported by the local executor")
    );
    assert_eq!(updates.len(), 1, "nothing ran: {updates:?}");
    assert_eq!(updates[0].path, id.0);
    assert_eq!(updates[0].status, StepStatus::Error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_required_parameters_are_errors() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: needs}
spec:
  entrypoint: main
  arguments: {parameters: [{name: APP_NAME}, {name: ENV, default: dev}]}
  templates:
  - name: main
    steps: [[{name: s, template: t}]]
  - name: t
    inputs: {parameters: [{name: target}]}
    container: {command: [echo, "{{inputs.parameters.target}}"]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some("spec.arguments.parameters[0] (APP_NAME): required workflow parameter has no value")
    );
    // With the workflow parameter given, the step's own missing input is the error.
    let (_e, id, outcome, updates) = run_local(yaml, &[("APP_NAME", "web")]).await;
    assert_eq!(outcome.status, StepStatus::Error);
    let s = last(&updates, &format!("{}[0].s", id.0));
    assert_eq!(s.status, StepStatus::Error);
    assert_eq!(
        s.message.as_deref(),
        Some(
            "spec.templates[1].inputs.parameters[0] (target): required input parameter was not passed"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_variable_is_an_error() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: typo}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {command: [echo, "{{workflow.parameters.APP_NAM}}"]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[("APP_NAME", "web")]).await;
    assert_eq!(outcome.status, StepStatus::Error);
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "spec.templates[0].container.command[1]: unresolved variable {{workflow.parameters.APP_NAM}}"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_program_fails_with_a_clear_message() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: noprog}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {limit: 1}
    container: {image: curlimages/curl, command: [ferry-test-no-such-program, --version]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some(
            "command \"ferry-test-no-such-program\" not found on this machine (the local executor runs commands directly and ignores the image \"curlimages/curl\") (after 2 attempts)"
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_waits_for_resume() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: approve}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: approval, template: wait}], [{name: go, template: go}]]
  - name: wait
    suspend: {}
  - name: go
    container: {command: [echo, approved]}
"#;
    let exec = LocalExecutor::default();
    let id = exec.start(&template(yaml), &params(&[])).await.unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    loop {
        let u = sub.next().await.expect("the run waits, it does not end");
        if u.name == "approval" && u.suspended {
            assert_eq!(u.status, StepStatus::Running);
            break;
        }
    }
    assert!(matches!(
        exec.resume(&id, Some("nope")).await,
        Err(RunnerError::NotSuspended { .. })
    ));
    assert!(exec.status(&id).await.unwrap().suspended);
    exec.resume(&id, Some("approval")).await.unwrap();
    let outcome = exec.wait(&id).await.unwrap();
    assert_eq!(outcome.status, StepStatus::Success);
    assert!(!outcome.suspended);
    assert_eq!(exec.logs(&id, "go").await.unwrap().text, "approved\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_while_suspended() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: approve2}
spec:
  entrypoint: wait
  templates:
  - name: wait
    suspend: {duration: "1h"}
"#;
    let exec = LocalExecutor::default();
    let id = exec.start(&template(yaml), &params(&[])).await.unwrap();
    let mut sub = exec.subscribe(&id).await.unwrap();
    while let Some(u) = sub.next().await {
        if u.suspended {
            break;
        }
    }
    exec.terminate(&id).await.unwrap();
    assert_eq!(exec.wait(&id).await.unwrap().status, StepStatus::Terminated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_skips_steps() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: cond}
spec:
  entrypoint: main
  arguments: {parameters: [{name: ENVIRONMENT}]}
  templates:
  - name: main
    steps:
    - - {name: prod-only, template: say, when: "'{{workflow.parameters.ENVIRONMENT}}' == prod"}
      - {name: not-prod, template: say, when: "'{{workflow.parameters.ENVIRONMENT}}' != prod"}
  - name: say
    container: {command: ["true"]}
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[("ENVIRONMENT", "qa")]).await;
    assert_eq!(outcome.status, StepStatus::Success);
    assert_eq!(
        last(&updates, &format!("{}[0].prod-only", id.0)).status,
        StepStatus::Skipped
    );
    assert_eq!(
        last(&updates, &format!("{}[0].not-prod", id.0)).status,
        StepStatus::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_are_capped_and_environment_is_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let envfile = dir.path().join("env");
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: noisy}}
spec:
  entrypoint: main
  templates:
  - name: main
    script:
      command: [sh]
      env: [{{name: GREETING, value: hi}}]
      source: |
        env | sort > {e}
        i=0; while [ $i -lt 200 ]; do echo "line $i of noise"; i=$((i+1)); done
"#,
        e = envfile.display()
    );
    let exec = LocalExecutor::new(LocalConfig {
        log_limit: 100,
        inherited_env: vec!["PATH".into()],
        ..LocalConfig::default()
    });
    let (id, outcome, _u) = run_to_end(&exec, &template(&yaml), &params(&[])).await;
    assert_eq!(outcome.status, StepStatus::Success);
    let log = exec.logs(&id, &id.0).await.unwrap();
    assert!(log.truncated);
    assert!(log.text.starts_with("line 0 of noise\n"));
    assert!(
        log.text
            .ends_with("\n[ferry: log truncated at 100 bytes]\n"),
        "{:?}",
        log.text
    );
    let env = std::fs::read_to_string(&envfile).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split('=').next())
        .filter(|n| !["PWD", "SHLVL", "_"].contains(n))
        .collect();
    assert_eq!(
        names,
        ["GREETING", "PATH"],
        "only the allowed variables reach the step: {env}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_are_independent_and_can_be_forgotten() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: twice}
spec:
  entrypoint: main
  templates:
  - name: main
    container: {command: [sleep, "0.2"]}
"#;
    let exec = LocalExecutor::default();
    let t = template(yaml);
    let a = exec.start(&t, &params(&[])).await.unwrap();
    let b = exec.start(&t, &params(&[])).await.unwrap();
    assert_ne!(a, b);
    assert!(matches!(
        exec.forget(&a).await,
        Err(RunnerError::StillRunning(_))
    ));
    assert_eq!(exec.wait(&a).await.unwrap().status, StepStatus::Success);
    assert_eq!(exec.wait(&b).await.unwrap().status, StepStatus::Success);
    exec.forget(&a).await.unwrap();
    assert!(matches!(
        exec.status(&a).await,
        Err(RunnerError::UnknownRun(_))
    ));
    assert!(exec.status(&b).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_and_follow_streams_every_update_live() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: live}
spec:
  entrypoint: main
  templates:
  - name: main
    steps: [[{name: one, template: t}], [{name: two, template: t}]]
  - name: t
    container: {command: [sh, -c, "exit 0"]}
"#;
    let exec = LocalExecutor::default();
    let mut lines = Vec::new();
    let (id, outcome) = ferry_workflow::run_and_follow(&exec, &template(yaml), &params(&[]), |u| {
        lines.push(u.to_string())
    })
    .await
    .unwrap();
    assert_eq!(outcome.status, StepStatus::Success);
    let r = &id.0;
    assert_eq!(
        lines,
        [
            format!("RUNNING    {r}"),
            format!("RUNNING    {r}[0].one"),
            format!("SUCCESS    {r}[0].one"),
            format!("RUNNING    {r}[1].two"),
            format!("SUCCESS    {r}[1].two"),
            format!("SUCCESS    {r}"),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_items_and_with_param_fan_out() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: fan}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - name: notify
        template: say
        withItems: [slack, {channel: email, to: ops}]
        arguments: {parameters: [{name: msg, value: "{{item}}"}]}
    - - name: list
        template: list
    - - name: each
        template: graph
        arguments: {parameters: [{name: envs, value: "{{steps.list.outputs.result}}"}]}
  - name: list
    container: {command: [echo, '["qa", "prod"]']}
  - name: graph
    inputs: {parameters: [{name: envs}]}
    dag:
      tasks:
      - name: check
        template: say
        withParam: "{{inputs.parameters.envs}}"
        arguments: {parameters: [{name: msg, value: "check {{item}}"}]}
      - {name: done, template: say, dependencies: [check], arguments: {parameters: [{name: msg, value: done}]}}
  - name: say
    inputs: {parameters: [{name: msg}]}
    container: {command: [echo, "{{inputs.parameters.msg}}"]}
"#;
    let (exec, id, outcome, updates) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    let r = &id.0;
    let log = |p: String| {
        let exec = &exec;
        let id = &id;
        async move { exec.logs(id, &p).await.unwrap().text }
    };
    assert_eq!(log(format!("{r}[0].notify(0:slack)")).await, "slack\n");
    assert_eq!(
        log(format!(
            "{r}[0].notify(1:{{\"channel\":\"email\",\"to\":\"ops\"}})"
        ))
        .await,
        "{\"channel\":\"email\",\"to\":\"ops\"}\n"
    );
    assert_eq!(log(format!("{r}[2].each.check(0:qa)")).await, "check qa\n");
    assert_eq!(
        log(format!("{r}[2].each.check(1:prod)")).await,
        "check prod\n"
    );
    assert_eq!(
        last(&updates, &format!("{r}[2].each.done")).status,
        StepStatus::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_over_something_that_is_not_a_list_is_an_error() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: badfan}
spec:
  entrypoint: main
  arguments: {parameters: [{name: envs, value: "qa,prod"}]}
  templates:
  - name: main
    steps: [[{name: each, template: t, withParam: "{{workflow.parameters.envs}}"}]]
  - name: t
    container: {command: ["true"]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Error);
    assert!(
        outcome
            .message
            .unwrap()
            .contains("spec.templates[0].steps[0][0].withParam: \"qa,prod\" is not a JSON list"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_on_failed_lets_steps_and_tasks_go_on() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: tolerant}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: optional, template: fail, continueOn: {failed: true}}
    - - {name: graph, template: graph}
  - name: graph
    dag:
      tasks:
      - {name: flaky, template: fail, continueOn: {failed: true}}
      - {name: after, template: ok, dependencies: [flaky]}
  - name: ok
    container: {command: ["true"]}
  - name: fail
    container: {command: ["false"]}
"#;
    let (_e, id, outcome, updates) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Success, "{outcome:?}");
    let r = &id.0;
    assert_eq!(
        last(&updates, &format!("{r}[0].optional")).status,
        StepStatus::Failed
    );
    assert_eq!(
        last(&updates, &format!("{r}[1].graph.flaky")).status,
        StepStatus::Failed
    );
    assert_eq!(
        last(&updates, &format!("{r}[1].graph.after")).status,
        StepStatus::Success
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_handler_runs_with_the_workflow_status() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("status");
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: exits}}
spec:
  entrypoint: main
  onExit: notify
  arguments: {{parameters: [{{name: code}}]}}
  templates:
  - name: main
    container: {{command: [sh, -c, "exit {{{{workflow.parameters.code}}}}"]}}
  - name: notify
    container: {{command: [sh, -c, 'echo "{{{{workflow.status}}}}" > {o}']}}
"#,
        o = out.display()
    );
    let (_e, id, outcome, updates) = run_local(&yaml, &[("code", "1")]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(outcome.message.as_deref(), Some("exit code 1"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Failed\n");
    assert_eq!(
        last(&updates, &format!("{}.onExit", id.0)).status,
        StepStatus::Success
    );

    let (_e, _id, outcome, _u) = run_local(&yaml, &[("code", "0")]).await;
    assert_eq!(outcome.status, StepStatus::Success);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "Succeeded\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_exit_handler_fails_a_successful_run() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: badexit}
spec:
  entrypoint: main
  onExit: notify
  templates:
  - name: main
    container: {command: ["true"]}
  - name: notify
    container: {command: [sh, -c, "exit 5"]}
"#;
    let (_e, _id, outcome, _u) = run_local(yaml, &[]).await;
    assert_eq!(outcome.status, StepStatus::Failed);
    assert_eq!(
        outcome.message.as_deref(),
        Some("exit handler FAILED: exit code 5")
    );
}
