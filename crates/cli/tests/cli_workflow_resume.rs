//! `ferry workflow resume RUN -p KEY=VALUE` against a real `ferry serve`:
//! a promotion's pre-action waits at an approval whose answer is a
//! `valueFrom.supplied` output; the resume supplies it through
//! `POST /api/v1/workflows/{run}/resume` (issue 19).

mod served;

use std::time::{Duration, Instant};

use served::*;

const GATE: &str = "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: qa-gate}\nspec:\n  priority: 10\n  selector:\n    targetEnvironment: {names: [qa]}\n  policy: {preAction: approval, action: commit}\n---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: approval, annotations: {codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    steps:\n    - [{name: approve, template: approve}]\n    - [{name: check, template: check, arguments: {parameters: [{name: answer, value: \"{{steps.approve.outputs.parameters.approve}}\"}]}}]\n  - name: approve\n    suspend: {}\n    inputs: {parameters: [{name: approve, default: \"NO\", enum: [\"YES\", \"NO\"]}]}\n    outputs: {parameters: [{name: approve, valueFrom: {supplied: {}}}]}\n  - name: check\n    inputs: {parameters: [{name: answer}]}\n    container: {command: [sh, -c, \"test {{inputs.parameters.answer}} = YES\"]}\n";

fn release(server: &str, id: &str) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .get(format!("{server}/api/v1/releases/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The run of qa's pre-action once it waits at the approval: its step
/// reads SUSPENDED, as the release does (issue 17).
fn gate_run(r: &serde_json::Value) -> Option<String> {
    r["environments"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == "qa")?["applications"][0]["steps"]
        .as_array()?
        .iter()
        .find(|s| s["status"] == "SUSPENDED" && s["runId"].is_string())
        .and_then(|s| s["runId"].as_str().map(String::from))
}

#[test]
fn resume_supplies_the_approval() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let mut text = std::fs::read_to_string(config.join("p.yaml")).unwrap();
    text.push_str(GATE);
    std::fs::write(config.join("p.yaml"), text).unwrap();
    let (_serve, server) = serve(root.path(), &config, &[]);
    let id = promote_flow(&server, "up");
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        if let Some(run) = gate_run(&release(&server, &id)) {
            break run;
        }
        assert!(Instant::now() < deadline, "never waited at the approval");
        std::thread::sleep(Duration::from_millis(100));
    };
    let client = ["--server", server.as_str(), "--token", TOKEN];
    let resume = |extra: &[&str]| {
        let mut args = vec!["workflow", "resume", run.as_str()];
        args.extend(extra);
        args.extend(client);
        ferry(&args)
    };
    // A value outside the enum is refused and the step stays suspended.
    let out = resume(&["-p", "approve=yes"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("server answered 400"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("not one of YES, NO"),
        "{}",
        stderr(&out)
    );
    let out = resume(&["--step", "approve", "-p", "approve=YES"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("resumed {run}\n"));
    let r = loop {
        let r = release(&server, &id);
        if r["status"] != "RUNNING" && r["status"] != "SUSPENDED" {
            break r;
        }
        assert!(Instant::now() < deadline, "release never finished: {r}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(r["status"], "SUCCEEDED", "{r}");
}
