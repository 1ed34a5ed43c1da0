//! `ferry release approve|reject` against a real `ferry serve` (issue
//! 20): the gate's refusals come through with the server's words and exit
//! code 2, an approval lets the environment run, a rejection fails it with
//! the comment.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod served;

use served::{TOKEN, ferry, fixture, promote_flow, serve, stderr, stdout};

const GATE: &str = "---\napiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: qa-gate}\nspec:\n  selector:\n    targetEnvironment: {names: [qa]}\n  policy:\n    approval: {required: 1, approvers: {roles: [admin]}, notInitiator: true}\n";

fn token(server: &str, name: &str, role: &str) -> String {
    let v: Value = reqwest::blocking::Client::new()
        .post(format!("{server}/api/v1/tokens"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": name, "role": role}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    v["token"].as_str().expect("a token").to_owned()
}

fn release(server: &str, id: &str) -> Value {
    reqwest::blocking::Client::new()
        .get(format!("{server}/api/v1/releases/{id}"))
        .bearer_auth(TOKEN)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn qa(r: &Value) -> Value {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == "qa").cloned())
        .unwrap_or(Value::Null)
}

fn wait(server: &str, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = release(server, id);
        if pred(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "never {what}: {r:#}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn approve_and_reject_from_the_command_line() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    std::fs::write(config.join("gate.yaml"), GATE).unwrap();
    let (_serve, server) = serve(root.path(), &config, &[]);
    let rita = token(&server, "rita", "admin");
    let vic = token(&server, "vic", "viewer");
    let id = promote_flow(&server, "up");
    wait(&server, &id, "waited at qa's gate", |r| {
        qa(r)["waitingReason"] == "waiting for approval (0 of 1)"
    });
    let decide = |verb: &str, release: &str, token: &str, comment: &str| {
        ferry(&[
            "release",
            verb,
            release,
            "--env",
            "qa",
            "--comment",
            comment,
            "--server",
            &server,
            "--token",
            token,
        ])
    };
    // `release show` says what qa waits for.
    let out = ferry(&[
        "release", "show", "p#1", "--server", &server, "--token", TOKEN,
    ]);
    assert!(
        stdout(&out).contains("qa: waiting for approval (0 of 1)"),
        "{}",
        stdout(&out)
    );

    // The initiator and a viewer are refused, with the server's reason.
    let out = decide("approve", "p#1", TOKEN, "mine");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("403") && stderr(&out).contains("other than the initiator"),
        "{}",
        stderr(&out)
    );
    let out = decide("approve", "p#1", &vic, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("role admin"), "{}", stderr(&out));

    // rita approves: qa runs and the release succeeds; who approved stays.
    let out = decide("approve", "p#1", &rita, "smoke tests passed");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("qa: approved by rita at ")
            && stdout(&out).contains(": smoke tests passed"),
        "{}",
        stdout(&out)
    );
    let done = wait(&server, &id, "finished", |r| !r["finishedAt"].is_null());
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(qa(&done)["approval"]["decisions"][0]["by"], "rita");
    // Deciding again: 409, said so.
    let out = decide("approve", "p#1", &rita, "again");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("409"), "{}", stderr(&out));

    // A second release, rejected: qa fails with the comment.
    let second = promote_flow(&server, "up");
    wait(&server, &second, "waited at qa's gate", |r| {
        qa(r)["waitingReason"].is_string()
    });
    let out = decide("reject", &second, &rita, "the release notes name no ticket");
    assert!(out.status.success(), "{}", stderr(&out));
    let done = wait(&server, &second, "finished", |r| !r["finishedAt"].is_null());
    assert_eq!(done["status"], "FAILED");
    assert_eq!(
        qa(&done)["issues"][0]["message"],
        "rejected by rita: the release notes name no ticket"
    );
    let out = ferry(&[
        "release", "show", &second, "--server", &server, "--token", TOKEN,
    ]);
    assert!(
        stdout(&out).contains("issue in qa: rejected by rita: the release notes name no ticket"),
        "{}",
        stdout(&out)
    );
}
