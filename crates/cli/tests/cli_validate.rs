//! `ferry validate` and `ferry policy evaluate` as users run them: the real
//! binary, on directories and on a real Git repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("run ferry")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn examples_validate() {
    let out = ferry(&["validate", examples().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Application        21"), "{text}");
    assert!(
        text.contains("shop     prod-us      storefront-prod-us  helm-storefront"),
        "{text}"
    );
    assert!(text.contains("valid: 0 warning(s)"), "{text}");
}

#[test]
fn errors_are_all_listed_with_locations_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("flow.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - environment: qa\n      dependsOn: [nowhere]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        "apiVersion: codefresh.io/v1beta1\nkind: PromotionPolicy\nmetadata: {name: p}\nspec:\n  policy:\n    action: merge\n",
    )
    .unwrap();
    let out = ferry(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let root = dir.path().display().to_string();
    for expected in [
        format!(
            "{root}/flow.yaml:5:23: error: spec.triggerEnvironment: environment `dev` does not exist"
        ),
        format!(
            "{root}/flow.yaml:7:20: error: spec.steps[0].environment: environment `qa` does not exist"
        ),
        format!(
            "{root}/flow.yaml:8:19: error: spec.steps[0].dependsOn[0]: `nowhere` is neither the trigger environment (`dev`) nor a step of this flow"
        ),
        format!(
            "{root}/policy.yaml:6:13: error: spec.policy.action: unknown value `merge`, expected one of `commit`, `pr` or `none`"
        ),
    ] {
        assert!(text.contains(&expected), "missing `{expected}` in:\n{text}");
    }
    assert!(text.contains("invalid: 4 error(s)"), "{text}");

    let json = ferry(&["validate", dir.path().to_str().unwrap(), "--output", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"], 4);
    assert_eq!(v["diagnostics"][0]["line"], 5);
    assert_eq!(v["diagnostics"][0]["column"], 23);
    assert_eq!(v["diagnostics"][0]["field"], "spec.triggerEnvironment");
}

#[test]
fn json_report_has_the_product_table() {
    let out = ferry(&[
        "validate",
        examples().join("config").to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["counts"]["PromotionPolicy"], 5);
    let shop = v["products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "shop")
        .unwrap();
    assert_eq!(shop["flows"], serde_json::json!(["hotfix", "standard"]));
    let envs: Vec<&str> = shop["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        envs,
        vec!["dev", "qa", "perf", "staging", "prod-eu", "prod-us"]
    );
    let storefront = &shop["environments"][0]["applications"][2];
    assert_eq!(storefront["name"], "storefront-dev");
    assert_eq!(storefront["key"], "storefront");
    assert_eq!(
        storefront["template"],
        serde_json::json!({"kind": "selector", "name": "helm-storefront"})
    );
    assert_eq!(storefront["versionSource"], "version.yaml $.version");
    assert_eq!(
        storefront["promotion"]["values.yaml"],
        serde_json::json!(["$.image", "$[\"edge-proxy\"].image.tag"])
    );
}

#[test]
fn policy_evaluate_json_keys() {
    let cfg = examples().join("config");
    let out = ferry(&[
        "policy",
        "evaluate",
        "--config",
        cfg.to_str().unwrap(),
        "--product",
        "shop",
        "--environment",
        "staging",
        "--output",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["preAction"],
        serde_json::json!({"value": "smoke-tests", "source": "PromotionPolicy/shop-staging-smoke"})
    );
    assert_eq!(
        v["action"],
        serde_json::json!({"value": "commit", "source": "PromotionPolicy/non-prod"})
    );
    assert_eq!(
        v["postAction"],
        serde_json::json!({"value": "health-check", "source": "PromotionPolicy/shop-health-check"})
    );
    assert_eq!(v["warnings"], serde_json::json!([]));

    let unknown = ferry(&[
        "policy",
        "evaluate",
        "--config",
        cfg.to_str().unwrap(),
        "--product",
        "nope",
        "--environment",
        "qa",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("product `nope` not found (known products: ledger, shop)")
    );
}

fn git(dir: &Path, args: &[&str]) {
    let st = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap();
    assert!(st.success(), "git {args:?}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn validates_a_git_configuration_repository_by_branch_and_path() {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    copy_dir(&examples().join("config"), &repo.join("ferry"));
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "config"]);
    git(&repo, &["checkout", "-q", "-b", "broken"]);
    std::fs::write(repo.join("ferry/broken.yaml"), "apiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: x}\nspec: {promotionTemplateRef: missing}\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "break"]);
    let url = format!("file://{}", repo.display());

    let ok = ferry(&["validate", &url, "--branch", "main", "--path", "ferry"]);
    assert!(
        ok.status.success(),
        "{}{}",
        stdout(&ok),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(stdout(&ok).contains("(branch main) path ferry"));

    let bad = ferry(&["validate", &url, "--branch", "broken", "--path", "ferry"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stdout(&bad).contains("broken.yaml:4:30: error: spec.promotionTemplateRef: PromotionTemplate `missing` does not exist"), "{}", stdout(&bad));

    let missing = ferry(&["validate", &url, "--branch", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("git clone failed"));
}

#[test]
fn credentials_in_git_urls_never_reach_the_output() {
    let out = ferry(&["validate", "http://alice:hunter2@127.0.0.1:9/config.git"]);
    assert_eq!(out.status.code(), Some(2));
    let all = format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("hunter2"), "{all}");
    assert!(
        all.contains("http://alice:***@127.0.0.1:9/config.git"),
        "{all}"
    );
}

#[test]
fn local_executor_problems_are_warnings_at_their_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("wf.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata:\n  name: wf\n  annotations: {codefresh.io/workflow-origin: promotion}\nspec:\n  entrypoint: main\n  podResources: {limits: {cpu: \"1\"}}\n  templates:\n    - name: main\n      steps:\n        - - name: a\n            template: k\n            when: \"{{=sprig.nosuch(1)}}\"\n    - name: k\n      resource:\n        action: create\n",
    )
    .unwrap();
    let root = dir.path().display().to_string();
    let out = ferry(&["validate", &root, "--executor", "local", "--verbose"]);
    let text = stdout(&out);
    for expected in [
        format!(
            "{root}/wf.yaml:17:9: warning: spec.templates[1].resource: is not supported by the local executor"
        ),
        format!(
            "{root}/wf.yaml:14:19: warning: spec.templates[0].steps[0][0].when: {{{{=sprig.nosuch(1)}}}}: unknown function sprig.nosuch"
        ),
        "note: spec: the local executor ignores these pod-only fields: spec.podResources"
            .to_string(),
    ] {
        assert!(text.contains(&expected), "missing {expected:?} in\n{text}");
    }
    // The argo executor runs every field: nothing to say.
    let out = ferry(&["validate", &root, "--executor", "argo"]);
    let text = stdout(&out);
    assert!(!text.contains("local executor"), "{text}");
}

/// The configuration limits (issue 23) as `ferry validate` takes them: a
/// file that is not a resource is refused at its first line however large
/// it is, a file over `--config-max-file-bytes` is refused unread, and a
/// source over `FERRY_CONFIG_MAX_BYTES` is refused as a whole (exit 2).
#[test]
fn configuration_limits() {
    let dir = tempfile::tempdir().unwrap();
    let numbers: String = (0..250_000).map(|i| format!("- {}\n", i % 10)).collect();
    std::fs::write(dir.path().join("numbers.yaml"), &numbers).unwrap();
    std::fs::write(dir.path().join("values.yaml"), "replicas: 3\n").unwrap();
    let path = dir.path().to_str().unwrap();
    let root = dir.path().display().to_string();

    let out = ferry(&["validate", path]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{root}/numbers.yaml:1:1: error: expected a Kubernetes resource (a mapping with `apiVersion`, `kind`, `metadata` and `spec`), found a list")),
        "{text}"
    );

    let out = ferry(&["validate", path, "--config-max-file-bytes", "100000"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("{root}/numbers.yaml:0:0: error: file is larger than 100000 bytes (`configMaxFileBytes`); not read")),
        "{text}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["validate", path])
        .env("FERRY_CONFIG_MAX_BYTES", "1000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("2 YAML files of 1000012 bytes in total are more than it may read (100000 files, 1000 bytes)"),
        "{err}"
    );
}
