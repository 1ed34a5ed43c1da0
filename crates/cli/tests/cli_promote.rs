//! `ferry promote --dry-run` as users run it: the real binary, on a
//! configuration whose Applications point at a real bare repository.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

fn values(env: &str, buslog: &str, ui: &str, replicas: u32) -> String {
    format!(
        "# trio values ({env})
buslog:
  image:
    repository: ghcr.io/example/buslog # logger
    tag: {buslog}
  replicaCount: {replicas}
ctrlr:
  image:
    repository: ghcr.io/example/ctrlr
    tag: \"main-5d6e7f8\"
flask-ui:
  image:
    repository: ghcr.io/example/flask-ui
    tag: '{ui}'
  service:
    port: 8080
"
    )
}

fn application(name: &str, env: &str, path: &str, repo: &Path, branch: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: {name}
  annotations:
    codefresh.io/product: trio
spec:
  project: default
  source:
    repoURL: {}
    targetRevision: {branch}
    path: {path}
  destination:
    name: in-cluster
    namespace: demo-{env}
---
",
        repo.display()
    )
}

const ENVIRONMENTS: &str = "apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: dev}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-dev]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: qa}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-qa]}]}
---
apiVersion: ferry.io/v1alpha1
kind: Environment
metadata: {name: staging}
spec: {kind: NON_PROD, clusters: [{name: in-cluster, namespaces: [demo-staging]}]}
---
apiVersion: codefresh.io/v1beta1
kind: Product
metadata: {name: trio}
spec:
  promotionTemplate:
    versionSource: {file: version.yaml, jsonPath: $.version}
    promotion:
      values.yaml: {jsonPaths: [\"$..image\"]}
      Chart.yaml: {jsonPaths: [$appVersion]}
      version.yaml: {jsonPaths: [$.version]}
";

/// A GitOps repository (bare remote) and a configuration directory.
/// qa deploys from the branch `release-qa`, which differs from `main`.
struct Fixture {
    tmp: TempDir,
    remote: PathBuf,
    config: PathBuf,
}

fn chart(app_version: &str) -> String {
    format!(
        "apiVersion: v2\nname: trio\nversion: 0.1.0\nappVersion: \"{app_version}\" # shown in ferry\n"
    )
}

fn fixture(apps: &[(&str, &str, &str, &str)]) -> Fixture {
    let tmp = TempDir::new().unwrap();
    let remote = tmp.path().join("gitops.git");
    let work = tmp.path().join("work");
    let config = tmp.path().join("config");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    for (dir, env, buslog, version) in [
        ("trio-dev", "dev", "main-1a2b3c4", "54.1"),
        ("trio-qa", "qa", "main-0000001", "53.7"),
        ("trio-staging", "staging", "main-1a2b3c4", "54.1"),
        ("audit-dev", "dev", "main-aaaaaaa", "54.1"),
        ("audit-qa", "qa", "main-bbbbbbb", "53.7"),
    ] {
        let ui = if env == "qa" {
            "main-0000003"
        } else {
            "main-9f8e7d6"
        };
        write(
            &work.join(format!("apps/{dir}/values.yaml")),
            &values(env, buslog, ui, 1),
        );
        write(
            &work.join(format!("apps/{dir}/Chart.yaml")),
            &chart(version),
        );
        write(
            &work.join(format!("apps/{dir}/version.yaml")),
            &format!("version: {version}\n"),
        );
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "-q", "-m", "initial"]);
    // qa's own branch: same files, but qa scaled up.
    git(&work, &["checkout", "-q", "-b", "release-qa"]);
    write(
        &work.join("apps/trio-qa/values.yaml"),
        &values("qa", "main-0000001", "main-0000003", 3),
    );
    git(&work, &["commit", "-q", "-am", "qa: scale up"]);
    git(
        tmp.path(),
        &["init", "-q", "--bare", "-b", "main", "gitops.git"],
    );
    git(
        &work,
        &["push", "-q", remote.to_str().unwrap(), "main", "release-qa"],
    );

    let mut manifests = String::new();
    for (name, env, path, branch) in apps {
        manifests.push_str(&application(name, env, path, &remote, branch));
    }
    write(&config.join("argocd/applications.yaml"), &manifests);
    write(&config.join("ferry/resources.yaml"), ENVIRONMENTS);
    Fixture {
        tmp,
        remote,
        config,
    }
}

const TRIO_ONLY: &[(&str, &str, &str, &str)] = &[
    ("trio-dev", "dev", "apps/trio-dev", "main"),
    ("trio-qa", "qa", "apps/trio-qa", "release-qa"),
    ("trio-staging", "staging", "apps/trio-staging", "main"),
];

impl Fixture {
    fn ferry(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .args(["--config", self.config.to_str().unwrap()])
            .args([
                "--cache-dir",
                self.tmp.path().join("cache").to_str().unwrap(),
            ])
            .output()
            .unwrap()
    }

    fn rev(&self, branch: &str) -> String {
        git(&self.remote, &["rev-parse", branch])
    }

    fn refs(&self) -> String {
        git(&self.remote, &["for-each-ref"])
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

const QA_DIFF: &str = "--- a/apps/trio-qa/Chart.yaml
+++ b/apps/trio-qa/Chart.yaml
@@ -1,4 +1,4 @@
 apiVersion: v2
 name: trio
 version: 0.1.0
-appVersion: \"53.7\" # shown in ferry
+appVersion: \"54.1\" # shown in ferry
--- a/apps/trio-qa/values.yaml
+++ b/apps/trio-qa/values.yaml
@@ -2,7 +2,7 @@
 buslog:
   image:
     repository: ghcr.io/example/buslog # logger
-    tag: main-0000001
+    tag: main-1a2b3c4
   replicaCount: 3
 ctrlr:
   image:
@@ -11,6 +11,6 @@
 flask-ui:
   image:
     repository: ghcr.io/example/flask-ui
-    tag: 'main-0000003'
+    tag: 'main-9f8e7d6'
   service:
     port: 8080
--- a/apps/trio-qa/version.yaml
+++ b/apps/trio-qa/version.yaml
@@ -1 +1 @@
-version: 53.7
+version: 54.1
";

#[test]
fn dry_run_prints_the_exact_diff_against_the_target_branch_and_pushes_nothing() {
    let fx = fixture(TRIO_ONLY);
    let refs = fx.refs();
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "qa",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let main = fx.rev("main");
    let qa = fx.rev("release-qa");
    // `replicaCount: 3` in the context: the diff is against qa's own branch.
    let expected = format!(
        "=== trio-qa ← trio-dev, version 54.1 (from apps/trio-dev at {}; into apps/trio-qa on release-qa at {})\n{QA_DIFF}",
        &main[..12],
        &qa[..12]
    );
    assert_eq!(stdout(&out), expected);
    assert!(
        stderr(&out).contains(&format!("fetching {}", fx.remote.display())),
        "{}",
        stderr(&out)
    );
    assert_eq!(fx.refs(), refs, "a dry run pushes nothing");

    // Applying the printed diff to qa's branch gives what ferry would commit:
    // `git apply --check` proves it is an exact, applicable diff.
    let work = fx.tmp.path().join("check");
    git(
        fx.tmp.path(),
        &[
            "clone",
            "-q",
            "-b",
            "release-qa",
            fx.remote.to_str().unwrap(),
            "check",
        ],
    );
    write(&work.join("promotion.diff"), QA_DIFF);
    git(&work, &["apply", "--check", "promotion.diff"]);
}

#[test]
fn an_environment_already_up_to_date_says_no_change() {
    let fx = fixture(TRIO_ONLY);
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "staging",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let main = &fx.rev("main")[..12];
    assert_eq!(
        stdout(&out),
        format!(
            "=== trio-staging ← trio-dev, version 54.1 (from apps/trio-dev at {main}; into apps/trio-staging on main at {main})\nno change\n"
        )
    );
}

#[test]
fn json_output_carries_the_same_diff() {
    let fx = fixture(TRIO_ONLY);
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "qa",
        "--dry-run",
        "--output",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["product"], "trio");
    assert_eq!(v["dryRun"], true);
    let apps = v["applications"].as_array().unwrap();
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(app["application"], "trio-qa");
    assert_eq!(app["source"], "trio-dev");
    assert_eq!(app["version"], "54.1");
    assert_eq!(app["targetBranch"], "release-qa");
    assert_eq!(app["targetRevision"], fx.rev("release-qa"));
    assert_eq!(app["sourceRevision"], fx.rev("main"));
    assert_eq!(app["changed"], true);
    assert_eq!(app["diff"], QA_DIFF);
    let files: Vec<&str> = app["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        files,
        [
            "apps/trio-qa/Chart.yaml",
            "apps/trio-qa/values.yaml",
            "apps/trio-qa/version.yaml"
        ]
    );
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn several_applications_per_environment_are_paired_by_key() {
    let fx = fixture(&[
        ("trio-dev", "dev", "apps/trio-dev", "main"),
        ("audit-dev", "dev", "apps/audit-dev", "main"),
        ("audit-qa", "qa", "apps/audit-qa", "main"),
        ("trio-qa", "qa", "apps/trio-qa", "release-qa"),
        ("orphan-qa", "qa", "apps/trio-qa", "main"),
    ]);
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "qa",
        "--dry-run",
    ]);
    // orphan-qa has no counterpart in dev: reported, exit 1, the others planned.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    let main = &fx.rev("main")[..12];
    assert!(
        text.contains(&format!("=== audit-qa ← audit-dev, version 54.1 (from apps/audit-dev at {main}; into apps/audit-qa on main at {main})\n--- a/apps/audit-qa/Chart.yaml\n")),
        "{text}"
    );
    assert!(
        text.contains("-    tag: main-bbbbbbb\n+    tag: main-aaaaaaa\n"),
        "{text}"
    );
    assert!(text.contains(&format!("=== trio-qa ← trio-dev, version 54.1 (from apps/trio-dev at {main}; into apps/trio-qa on release-qa at ")), "{text}");
    assert!(text.contains(QA_DIFF), "{text}");
    assert!(
        text.ends_with("=== orphan-qa: error: no application with key `orphan` in environment `dev` (set the label `ferry.io/application` on both to pair them)\n"),
        "{text}"
    );
}

#[test]
fn without_dry_run_it_asks_the_server_and_changes_nothing_here() {
    let fx = fixture(TRIO_ONLY);
    let refs = fx.refs();
    // Nothing listens on port 9: the promotion goes to the server, which is down.
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "qa",
        "--server",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("127.0.0.1:9"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    assert_eq!(fx.refs(), refs);
}

#[test]
fn unknown_product_and_empty_environment_are_clear_errors() {
    let fx = fixture(TRIO_ONLY);
    let out = fx.ferry(&[
        "promote",
        "--product",
        "nope",
        "--from",
        "dev",
        "--to",
        "qa",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("product `nope` not found (known products: trio)"),
        "{}",
        stderr(&out)
    );
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "prod",
        "--dry-run",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("product `trio` has no application in environment `prod`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn one_application_per_environment_is_paired_whatever_its_name() {
    let fx = fixture(&[
        ("trio-dev", "dev", "apps/trio-dev", "main"),
        ("checkout-eu-quality", "qa", "apps/trio-qa", "release-qa"),
    ]);
    let out = fx.ferry(&[
        "promote",
        "--product",
        "trio",
        "--from",
        "dev",
        "--to",
        "qa",
        "--dry-run",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("=== checkout-eu-quality ← trio-dev, version 54.1 "),
        "{text}"
    );
    assert!(text.ends_with(QA_DIFF), "{text}");
}
