//! The local executor runs templates as Argo Workflows does: the nine
//! differences issue 19 found, and the Argo features it supports since.

mod common;

use common::*;
use ferry_workflow::{LocalExecutor, NodePhase, StepStatus, WorkflowRunner};

async fn logs_of(
    exec: &LocalExecutor,
    id: &ferry_workflow::RunId,
    updates: &[ferry_workflow::StepUpdate],
) -> String {
    let mut paths: Vec<&str> = Vec::new();
    for u in updates {
        if !paths.contains(&u.path.as_str()) {
            paths.push(&u.path);
        }
    }
    let mut out = String::new();
    for p in paths {
        out.push_str(&exec.logs(id, p).await.unwrap().text);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entrypoint_inputs_come_from_the_workflow_arguments() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: args}
spec:
  entrypoint: print
  arguments: {parameters: [{name: message, value: hello world}]}
  templates:
  - name: print
    inputs: {parameters: [{name: message}]}
    container: {command: [echo, "{{inputs.parameters.message}}"]}
"#;
    let (e, id, o, u) = run_local(yaml, &[("message", "goodbye")]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(logs_of(&e, &id, &u).await, "goodbye\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripts_are_staged_executable() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: script}
spec:
  entrypoint: main
  templates:
  - name: main
    script:
      command: [sh, -c]
      source: |
        echo run as a program
"#;
    let (e, id, o, u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(logs_of(&e, &id, &u).await, "run as a program\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regex_when_and_bad_conditions_are_found_before_anything_runs() {
    let ok = r#"
kind: WorkflowTemplate
metadata: {name: re}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - [{name: a, template: say, arguments: {parameters: [{name: m, value: heads}]}}]
    - - {name: hea, template: say, when: "{{steps.a.outputs.result}} =~ hea", arguments: {parameters: [{name: m, value: yes}]}}
      - {name: tai, template: say, when: "{{steps.a.outputs.result}} =~ tai", arguments: {parameters: [{name: m, value: no}]}}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {command: [echo, "{{inputs.parameters.m}}"]}
"#;
    let (_e, id, o, u) = run_local(ok, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(
        last(&u, &format!("{}[1].hea", id.0)).status,
        StepStatus::Success
    );
    assert_eq!(
        last(&u, &format!("{}[1].tai", id.0)).status,
        StepStatus::Skipped
    );

    let bad = ok.replace("=~ tai", "== (tai");
    let (_e, _id, o, u) = run_local(&bad, &[]).await;
    assert_eq!(o.status, StepStatus::Error);
    assert!(
        o.message
            .as_deref()
            .unwrap()
            .contains("spec.templates[0].steps[1][1].when"),
        "{o:?}"
    );
    assert_eq!(u.len(), 1, "nothing ran: {u:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanned_out_outputs_are_aggregated() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: agg}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - - {name: gen, template: num, withItems: [1, 2, 3], arguments: {parameters: [{name: n, value: "{{item}}"}]}}
    - - {name: results, template: say, arguments: {parameters: [{name: m, value: "{{steps.gen.outputs.result}}"}]}}
      - {name: params, template: say, arguments: {parameters: [{name: m, value: "{{steps.gen.outputs.parameters.double}}"}]}}
      - {name: maps, template: say, arguments: {parameters: [{name: m, value: "{{steps.gen.outputs.parameters}}"}]}}
  - name: num
    inputs: {parameters: [{name: n}]}
    outputs: {parameters: [{name: double, valueFrom: {path: out}}]}
    container: {command: [sh, -c, "echo $(({{inputs.parameters.n}} * 2)) > out; echo {{inputs.parameters.n}}"]}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {command: [echo, "{{inputs.parameters.m}}"]}
"#;
    let (e, id, o, _u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    let text = |s: &str| format!("{}[1].{s}", id.0);
    assert_eq!(
        e.logs(&id, &text("results")).await.unwrap().text,
        "[1,2,3]\n"
    );
    assert_eq!(
        e.logs(&id, &text("params")).await.unwrap().text,
        "[\"2\",\"4\",\"6\"]\n"
    );
    assert_eq!(
        e.logs(&id, &text("maps")).await.unwrap().text,
        "[{\"double\":\"2\"},{\"double\":\"4\"},{\"double\":\"6\"}]\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_handlers_see_status_duration_and_failures() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: exit}
spec:
  entrypoint: fail
  onExit: report
  templates:
  - name: fail
    container: {command: [sh, -c, "exit 3"]}
  - name: report
    container: {command: [sh, -c, "echo {{workflow.status}} {{workflow.duration}} {{workflow.mainEntrypoint}}; echo '{{workflow.failures}}'"]}
"#;
    let (e, id, o, _u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Failed);
    let log = e.logs(&id, &format!("{}.onExit", id.0)).await.unwrap().text;
    let mut lines = log.lines();
    let first: Vec<&str> = lines.next().unwrap().split(' ').collect();
    assert_eq!(first[0], "Failed");
    assert!(
        first[1].parse::<f64>().unwrap() >= 0.0 && first[1].contains('.'),
        "{log}"
    );
    assert_eq!(first[2], "fail");
    let failures: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(failures[0]["displayName"], id.0.as_str());
    assert_eq!(failures[0]["templateName"], "fail");
    assert_eq!(failures[0]["phase"], "Failed");
    assert_eq!(failures[0]["message"], "exit code 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_retry_strategy_retries_until_success() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: retry}}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy: {{}}
    container: {{command: [sh, -c, "echo x >> {d}/n; test $(wc -l < {d}/n) -ge 4"]}}
"#,
        d = dir.path().display()
    );
    let (_e, id, o, u) = run_local(&yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(last(&u, &id.0).attempt, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pod_only_fields_are_ignored_with_one_notice() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: pod}
spec:
  entrypoint: main
  podResources: {limits: {cpu: "1"}}
  templates:
  - name: main
    annotations: {a: b}
    nodeSelector: {kubernetes.io/arch: amd64}
    container: {command: ["true"], resources: {limits: {memory: 1Gi}}}
"#;
    let (_e, _id, o, _u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(
        o.notices,
        [
            "the local executor ignores these pod-only fields: spec.podResources, spec.templates[0].annotations, spec.templates[0].nodeSelector, spec.templates[0].container.resources"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expressions_sequences_and_expression_outputs() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: expr}
spec:
  entrypoint: main
  arguments: {parameters: [{name: n, value: "3"}]}
  templates:
  - name: main
    steps:
    - - {name: seq, template: say, withSequence: {start: "1", count: "{{workflow.parameters.n}}", format: "x%02d"}, arguments: {parameters: [{name: m, value: "{{item}}"}]}}
    - - {name: calc, template: say, arguments: {parameters: [{name: m, value: "{{=asInt(workflow.parameters.n) * 10}} {{=sprig.upper('ok')}}"}]}}
    outputs:
      parameters:
      - name: picked
        valueFrom: {expression: "steps.calc.outputs.result == '30 OK' ? 'yes' : 'no'"}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {command: [echo, "{{inputs.parameters.m}}"]}
"#;
    let (e, id, o, _u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert_eq!(o.outputs.entrypoint["picked"], "yes");
    for (i, v) in ["x01", "x02", "x03"].iter().enumerate() {
        let p = format!("{}[0].seq({i}:{v})", id.0);
        assert_eq!(e.logs(&id, &p).await.unwrap().text, format!("{v}\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dag_fail_fast_target_inline_and_hooks() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: dag}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      target: C
      tasks:
      - {name: A, inline: {container: {command: [echo, a]}}, hooks: {exit: {template: bye}}}
      - {name: B, template: ok}
      - {name: C, depends: A, template: ok, onExit: bye}
  - name: ok
    container: {command: ["true"]}
  - name: bye
    container: {command: [echo, bye]}
"#;
    let (_e, id, o, u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    assert!(
        u.iter().all(|x| x.path != format!("{}.B", id.0)),
        "B is not a target"
    );
    assert_eq!(
        last(&u, &format!("{}.A.onExit", id.0)).status,
        StepStatus::Success
    );
    assert_eq!(
        last(&u, &format!("{}.C.onExit", id.0)).status,
        StepStatus::Success
    );

    // failFast (the default): once C failed, D (after slow B) never starts.
    let ff = r#"
kind: WorkflowTemplate
metadata: {name: ff}
spec:
  entrypoint: main
  templates:
  - name: main
    dag:
      FAILFAST
      tasks:
      - {name: B, template: slow}
      - {name: C, template: fail}
      - {name: D, depends: B, template: ok}
  - name: slow
    container: {command: [sleep, "0.5"]}
  - name: fail
    container: {command: [sh, -c, "exit 1"]}
  - name: ok
    container: {command: ["true"]}
"#;
    let (_e, id, o, u) = run_local(&ff.replace("FAILFAST", ""), &[]).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert!(u.iter().all(|x| x.path != format!("{}.D", id.0)), "{u:?}");
    let (_e, id, o, u) = run_local(&ff.replace("FAILFAST", "failFast: false"), &[]).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert_eq!(last(&u, &format!("{}.D", id.0)).status, StepStatus::Success);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallelism_limits_running_children_and_fail_fast_stops_new_ones() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: par}
spec:
  entrypoint: main
  templates:
  - name: main
    parallelism: 1
    failFast: true
    steps:
    - - {name: s, template: t, withItems: [0, 0, 1, 0], arguments: {parameters: [{name: c, value: "{{item}}"}]}}
  - name: t
    inputs: {parameters: [{name: c}]}
    container: {command: [sh, -c, "sleep 0.1; exit {{inputs.parameters.c}}"]}
"#;
    let (_e, id, o, u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Failed);
    let items: Vec<_> = u
        .iter()
        .filter(|x| x.path.starts_with(&format!("{}[0].s(", id.0)))
        .collect();
    // One at a time: each item started after the previous finished.
    let mut running = 0i32;
    let mut most = 0;
    for x in &items {
        match x.status {
            StepStatus::Running => running += 1,
            s if s.is_final() => running -= 1,
            _ => {}
        }
        most = most.max(running);
    }
    assert_eq!(most, 1, "{items:?}");
    assert!(
        items.iter().all(|x| !x.path.contains("(3:")),
        "the fourth item never starts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_supplied_values() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: approve}
spec:
  entrypoint: main
  templates:
  - name: main
    steps:
    - [{name: approval, template: approval}]
    - [{name: deploy, template: say, when: "{{steps.approval.outputs.parameters.approve}} == YES", arguments: {parameters: [{name: m, value: deploying}]}}]
  - name: approval
    suspend: {}
    inputs: {parameters: [{name: approve, default: "NO", enum: ["YES", "NO"]}]}
    outputs: {parameters: [{name: approve, valueFrom: {supplied: {}}}]}
  - name: say
    inputs: {parameters: [{name: m}]}
    container: {command: [echo, "{{inputs.parameters.m}}"]}
"#;
    let exec = LocalExecutor::default();
    let t = template(yaml);
    let id = exec.start(&t, &Default::default()).await.unwrap();
    loop {
        if exec.status(&id).await.unwrap().suspended {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let bad = exec
        .resume_with(&id, Some("approval"), &params(&[("approve", "yes")]))
        .await
        .unwrap_err();
    assert!(bad.to_string().contains("not one of YES, NO"), "{bad}");
    let bad = exec
        .resume_with(&id, None, &params(&[("other", "x")]))
        .await
        .unwrap_err();
    assert!(
        bad.to_string()
            .contains("no suspended step expects output parameter \"other\""),
        "{bad}"
    );
    exec.resume_with(&id, Some("approval"), &params(&[("approve", "YES")]))
        .await
        .unwrap();
    let o = exec.wait(&id).await.unwrap();
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    let steps = exec.steps(&id).await.unwrap();
    let deploy = steps.iter().find(|s| s.name == "deploy").unwrap();
    assert_eq!(deploy.phase, NodePhase::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn template_defaults_and_timeouts() {
    let yaml = r#"
kind: WorkflowTemplate
metadata: {name: defaults}
spec:
  entrypoint: main
  templateDefaults:
    timeout: 300ms
  templates:
  - name: main
    steps: [[{name: nap, template: nap, continueOn: {failed: true}}], [{name: quick, template: quick}]]
  - name: nap
    container: {command: [sleep, "5"]}
  - name: quick
    timeout: 5s
    container: {command: [sleep, "0.5"]}
"#;
    let (_e, id, o, u) = run_local(yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Success, "{o:?}");
    let nap = last(&u, &format!("{}[0].nap", id.0));
    assert_eq!(nap.status, StepStatus::Failed);
    assert_eq!(
        nap.message.as_deref(),
        Some("step exceeded its timeout (300ms) and was killed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_expression_policy_and_capped_backoff() {
    let dir = tempfile::tempdir().unwrap();
    // Exit 2, then 3: the expression retries only exit code 2.
    let yaml = format!(
        r#"
kind: WorkflowTemplate
metadata: {{name: retry}}
spec:
  entrypoint: main
  templates:
  - name: main
    retryStrategy:
      limit: "5"
      expression: "asInt(lastRetry.exitCode) == 2 && lastRetry.status == 'Failed'"
      backoff: {{duration: 50ms, factor: "10", cap: 100ms, maxDuration: 1m}}
    container: {{command: [sh, -c, "echo x >> {d}/n; exit $(( $(wc -l < {d}/n) + 1 ))"]}}
"#,
        d = dir.path().display()
    );
    let started = std::time::Instant::now();
    let (_e, id, o, u) = run_local(&yaml, &[]).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert_eq!(o.message.as_deref(), Some("exit code 3 (after 2 attempts)"));
    assert_eq!(last(&u, &id.0).attempt, 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // OnError does not retry a failed command; the default policy does.
    let failing = |policy: &str| {
        format!(
            "kind: WorkflowTemplate\nmetadata: {{name: p}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    retryStrategy: {{limit: 2{policy}}}\n    container: {{command: [sh, -c, \"exit 1\"]}}\n"
        )
    };
    let (_e, id, _o, u) = run_local(&failing(", retryPolicy: OnError"), &[]).await;
    assert_eq!(last(&u, &id.0).attempt, 1);
    let (_e, id, _o, u) = run_local(&failing(""), &[]).await;
    assert_eq!(last(&u, &id.0).attempt, 3);
}
