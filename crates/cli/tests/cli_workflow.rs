//! `ferry workflow run` as users run it: the real binary running real child
//! processes through the local executor.

use std::process::{Command, Output};

use tempfile::TempDir;

const TWO_STEPS: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: two-steps
  annotations:
    codefresh.io/workflow-origin: promotion
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: APP_NAME
  templates:
    - name: main
      steps:
        - - name: greet
            template: greet
        - - name: shout
            template: shout
            arguments:
              parameters:
                - name: msg
                  value: "{{steps.greet.outputs.parameters.greeting}}"
      outputs:
        parameters:
          - name: final
            valueFrom:
              parameter: "{{steps.shout.outputs.result}}"
    - name: greet
      script:
        image: alpine:3.20
        command: [sh]
        source: |
          echo "hello {{workflow.parameters.APP_NAME}}" > greeting.txt
      outputs:
        parameters:
          - name: greeting
            globalName: GREETING
            valueFrom:
              path: greeting.txt
    - name: shout
      inputs:
        parameters:
          - name: msg
      container:
        image: alpine:3.20
        command: [sh, -c]
        args: ["echo '{{inputs.parameters.msg}}' | tr a-z A-Z"]
"#;

const FAILING: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: smoke-tests
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - name: check
            template: check
        - - name: never
            template: never
    - name: check
      script:
        image: alpine:3.20
        command: [sh]
        source: |
          echo "checking https://qa.example.com/health"
          echo "health check failed: 503" >&2
          exit 3
    - name: never
      container:
        image: alpine:3.20
        command: ["true"]
"#;

const UNSUPPORTED: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: creates-a-job
spec:
  entrypoint: main
  templates:
    - name: main
      resource:
        action: create
        manifest: "apiVersion: batch/v1\nkind: Job\n"
"#;

struct Dir(TempDir);

impl Dir {
    fn new(files: &[(&str, &str)]) -> Dir {
        let dir = TempDir::new().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        Dir(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// The run id from the first line (`run <id> of <template>`).
fn run_id(text: &str) -> String {
    let first = text.lines().next().unwrap();
    first
        .strip_prefix("run ")
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn two_steps_run_live_and_print_their_outputs() {
    let dir = Dir::new(&[("two.yaml", TWO_STEPS)]);
    let out = ferry(&[
        "workflow",
        "run",
        &dir.path("two.yaml"),
        "-p",
        "APP_NAME=web",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    let id = run_id(&text);
    assert!(id.starts_with("two-steps-"), "{id}");
    let expected = format!(
        "run {id} of two-steps
RUNNING    {id}
RUNNING    {id}[0].greet
SUCCESS    {id}[0].greet
RUNNING    {id}[1].shout
SUCCESS    {id}[1].shout
SUCCESS    {id}

status: SUCCESS
outputs:
  final = HELLO WEB
global outputs:
  GREETING = hello web
"
    );
    assert_eq!(text, expected);
}

#[test]
fn a_failing_step_shows_its_log_and_exits_1() {
    let dir = Dir::new(&[("smoke.yaml", FAILING)]);
    let out = ferry(&["workflow", "run", &dir.path("smoke.yaml")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let id = run_id(&text);
    // The exit code is named once, not repeated by the message.
    assert!(
        text.contains(&format!("FAILED     {id}[0].check exit code 3\n")),
        "{text}"
    );
    assert!(
        !text.contains("].never"),
        "the second group never starts: {text}"
    );
    assert!(text.contains("\nstatus: FAILED"), "{text}");
    let log = text
        .split(&format!("--- log of failed step {id}[0].check ---\n"))
        .nth(1)
        .expect(&text);
    assert!(
        log.contains("checking https://qa.example.com/health\n"),
        "{log}"
    );
    assert!(log.contains("health check failed: 503\n"), "{log}");
}

#[test]
fn a_missing_required_parameter_is_an_error_naming_it() {
    let dir = Dir::new(&[("two.yaml", TWO_STEPS)]);
    let out = ferry(&["workflow", "run", &dir.path("two.yaml")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("\nstatus: ERROR ("), "{text}");
    assert!(text.contains("APP_NAME"), "{text}");
    assert!(text.contains("required"), "{text}");
    assert!(!text.contains("].greet"), "no step ran: {text}");
}

#[test]
fn an_unsupported_field_is_an_error_naming_it() {
    let dir = Dir::new(&[("job.yaml", UNSUPPORTED)]);
    let out = ferry(&["workflow", "run", &dir.path("job.yaml")]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("status: ERROR") && text.contains("resource"),
        "{text}"
    );
}

#[test]
fn templates_are_found_by_name_in_a_configuration() {
    let env = "apiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {name: qa}\nspec: {kind: NON_PROD, clusters: [{name: in-cluster}]}\n";
    let dir = Dir::new(&[
        ("config/envs.yaml", env),
        ("config/workflows/two.yaml", TWO_STEPS),
        ("config/workflows/smoke.yaml", FAILING),
    ]);
    let config = dir.path("config");
    let out = ferry(&[
        "workflow",
        "run",
        "two-steps",
        "--config",
        &config,
        "-p",
        "APP_NAME=api",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("  final = HELLO API\n"),
        "{}",
        stdout(&out)
    );

    let out = ferry(&["workflow", "run", "nope", "--config", &config]);
    assert_eq!(out.status.code(), Some(2));
    // Files are read in path order: workflows/smoke.yaml, then workflows/two.yaml.
    assert!(
        stderr(&out).contains(&format!(
            "no WorkflowTemplate named `nope` in {config} (found: smoke-tests, two-steps)"
        )),
        "{}",
        stderr(&out)
    );

    let out = ferry(&["workflow", "run", "two-steps"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("give the configuration with --config"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_file_with_several_templates_needs_a_name() {
    let both = format!("{TWO_STEPS}---\n{FAILING}");
    let dir = Dir::new(&[
        ("both.yaml", &both),
        (
            "empty.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        ),
    ]);
    let out = ferry(&["workflow", "run", &dir.path("both.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out)
            .contains("holds 2 WorkflowTemplates (two-steps, smoke-tests); choose one with --name"),
        "{}",
        stderr(&out)
    );
    let out = ferry(&[
        "workflow",
        "run",
        &dir.path("both.yaml"),
        "--name",
        "smoke-tests",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).starts_with("run smoke-tests-"),
        "{}",
        stdout(&out)
    );

    let out = ferry(&["workflow", "run", &dir.path("empty.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("holds no WorkflowTemplate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn json_output_is_one_object_per_line() {
    let dir = Dir::new(&[("two.yaml", TWO_STEPS)]);
    let out = ferry(&[
        "workflow",
        "run",
        &dir.path("two.yaml"),
        "-p",
        "APP_NAME=web",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (last, updates) = lines.split_last().unwrap();
    assert_eq!(updates.len(), 6);
    assert!(updates.iter().all(|u| u["update"]["status"].is_string()));
    assert_eq!(updates[3]["update"]["name"], "shout");
    assert_eq!(last["result"]["outcome"]["status"], "SUCCESS");
    assert_eq!(
        last["result"]["outcome"]["outputs"]["global"]["GREETING"],
        "hello web"
    );
}

#[test]
fn bad_parameter_syntax_is_rejected_before_running() {
    let dir = Dir::new(&[("two.yaml", TWO_STEPS)]);
    let out = ferry(&["workflow", "run", &dir.path("two.yaml"), "-p", "APP_NAME"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("parameter \"APP_NAME\" is not KEY=VALUE"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn ctrl_c_terminates_the_run_and_leaves_no_process_behind() {
    let template = r#"apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata:
  name: waits
spec:
  entrypoint: wait
  arguments:
    parameters:
      - name: PID_FILE
  templates:
    - name: wait
      script:
        image: alpine:3.20
        command: [sh]
        source: |
          sleep 300 &
          echo $! > "{{workflow.parameters.PID_FILE}}.tmp"
          mv "{{workflow.parameters.PID_FILE}}.tmp" "{{workflow.parameters.PID_FILE}}"
          wait
"#;
    let dir = Dir::new(&[("wait.yaml", template)]);
    let pid_file = dir.path("sleep.pid");
    let child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "workflow",
            "run",
            &dir.path("wait.yaml"),
            "-p",
            &format!("PID_FILE={pid_file}"),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the step's `sleep` runs (bounded: 60 s).
    let mut sleep_pid = None;
    for _ in 0..600 {
        if let Ok(text) = std::fs::read_to_string(&pid_file) {
            sleep_pid = Some(text.trim().to_owned());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let sleep_pid = sleep_pid.expect("the step started");
    let alive = |pid: &str| {
        let status = Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status();
        status.unwrap().success()
    };
    assert!(alive(&sleep_pid));
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        stderr(&out).contains("interrupted: terminating run waits-"),
        "{}",
        stderr(&out)
    );
    assert!(text.contains("\nstatus: TERMINATED"), "{text}");
    // The step's whole process group was killed, grandchildren included.
    let mut gone = false;
    for _ in 0..100 {
        if !alive(&sleep_pid) {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(gone, "sleep {sleep_pid} outlived the run");
}

#[test]
fn pod_only_fields_are_ignored_with_one_notice() {
    let yaml = "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: pod}\nspec:\n  entrypoint: main\n  podResources: {limits: {cpu: \"1\"}}\n  templates:\n  - name: main\n    nodeSelector: {kubernetes.io/arch: amd64}\n    container: {image: busybox, command: [echo, hi]}\n";
    let dir = Dir::new(&[("pod.yaml", yaml)]);
    let out = ferry(&["workflow", "run", &dir.path("pod.yaml")]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches("notice: the local executor ignores these pod-only fields: spec.podResources, spec.templates[0].nodeSelector\n").count(),
        1,
        "{text}"
    );
}
