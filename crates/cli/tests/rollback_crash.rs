//! Automatic rollback survives a crash (issue 20): the real `ferry serve`
//! is killed with SIGKILL while the rollback release runs its post-action,
//! and started again. Afterwards the rollback has finished, exactly once:
//! one rollback release, linked both ways, one rollback commit (found by
//! its trailers), and qa's files byte for byte what the last good release
//! left.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::replicas::{empty_gitops, free_port, git, wait_ready};

mod support;

const TOKEN: &str = "rollback-crash-admin-token";

/// dev → qa; qa's post-action `check` fails for version 2.0.0 and
/// otherwise waits while `<root>/hold` exists; `onFailure: rollback`.
fn setup(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (remote, seed, config) = empty_gitops(root);
    let hold = root.join("hold");
    let mut docs = String::new();
    for (i, env) in ["dev", "qa"].iter().enumerate() {
        docs.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {i}, clusters: [{{name: in-cluster, namespaces: ['shop-{env}']}}]}}\n"
        ));
        docs.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: shop-{env}\n  labels: {{t: v}}\n  annotations: {{codefresh.io/product: shop}}\nspec:\n  source: {{repoURL: '{}', path: shop/{env}, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: shop-{env}}}\n",
            remote.display()
        ));
        let d = seed.join(format!("shop/{env}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(
            d.join("values.yaml"),
            "# shop\nimage:\n  repository: r/shop   # keep this comment\n  tag: \"1.0.0\"\nreplicas: 3\n",
        )
        .unwrap();
    }
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {t: v}}\n  versionSource: {file: values.yaml, jsonPath: $.image.tag}\n  promotion: {values.yaml: {jsonPaths: [$..image]}}\n");
    docs.push_str(&format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: check, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  arguments:
    parameters:
      - name: COMMIT_MESSAGE
  templates:
    - name: main
      script:
        image: alpine
        command: [sh]
        source: |
          case "{{{{workflow.parameters.COMMIT_MESSAGE}}}}" in
            *2.0.0*) echo "smoke test failed" >&2; exit 1 ;;
          esac
          while [ -f {hold} ]; do sleep 0.05; done
          echo healthy
"#,
        hold = hold.display()
    ));
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - {environment: qa, dependsOn: [dev], policy: {postAction: check, onFailure: rollback}}\n");
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {name: shop}\nspec: {promotionFlows: [{name: f}]}\n");
    std::fs::write(config.join("all.yaml"), docs).unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "layout"]);
    git(
        &seed,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    (remote, seed)
}

fn commit_dev(seed: &Path, tag: &str) {
    git(seed, &["pull", "-q", "--rebase", "origin", "main"]);
    let f = seed.join("shop/dev/values.yaml");
    let text = std::fs::read_to_string(&f).unwrap();
    let start = text.find("tag: \"").unwrap() + 6;
    let end = start + text[start..].find('"').unwrap();
    std::fs::write(&f, format!("{}{tag}{}", &text[..start], &text[end..])).unwrap();
    git(seed, &["commit", "-q", "-am", &format!("dev {tag}")]);
    git(seed, &["push", "-q", "origin", "main"]);
}

/// A `ferry serve` child killed (SIGKILL) when dropped.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(root: &Path, port: u16) -> Serve {
    Serve(
        Command::new(env!("CARGO_BIN_EXE_ferry"))
            .arg("serve")
            .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
            .env("FERRY_CONFIG", root.join("config"))
            .env("FERRY_DATA_DIR", root.join("data"))
            .env("FERRY_ADMIN_TOKEN", TOKEN)
            .env("FERRY_POLL_INTERVAL", "0")
            .env("FERRY_CONFIG_POLL_INTERVAL", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ferry serve"),
    )
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn promote(&self) -> String {
        let r: Value = self
            .client
            .post(format!("{}/api/v1/products/shop/promotions", self.base))
            .bearer_auth(TOKEN)
            .json(&json!({"flow": "f"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["id"].as_str().expect("a release id").to_owned()
    }

    async fn wait(&self, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let r = self.get(&format!("/api/v1/releases/{id}")).await;
            if ok(&r) {
                return r;
            }
            assert!(Instant::now() < deadline, "{what}: {r:#}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn finished(r: &Value) -> bool {
    r["finishedAt"].is_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_killed_midway_completes_once_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (remote, seed) = setup(root);
    let port = free_port();
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let server = serve(root, port);
    wait_ready(&api.client, &api.base).await;

    commit_dev(&seed, "1.5.0");
    let good = api.promote().await;
    let r = api.wait(&good, "the good release", finished).await;
    assert_eq!(r["status"], "SUCCEEDED", "{r:#}");
    let good_bytes = git(&remote, &["show", "main:shop/qa/values.yaml"]);
    assert!(good_bytes.contains("tag: \"1.5.0\""), "{good_bytes}");

    std::fs::write(root.join("hold"), "").unwrap();
    commit_dev(&seed, "2.0.0");
    let bad = api.promote().await;
    let failed = api.wait(&bad, "the bad release", finished).await;
    assert_eq!(failed["status"], "FAILED", "{failed:#}");
    let rollback = failed["rolledBackBy"][0]["release"]
        .as_str()
        .expect("a rollback started")
        .to_owned();
    // Killed while the rollback's post-action runs (its commit landed).
    api.wait(&rollback, "the rollback's post-action", |r| {
        r["environments"][1]["applications"][0]["steps"]
            .as_array()
            .is_some_and(|s| {
                s.iter()
                    .any(|s| s["phase"] == "postAction" && s["status"] == "RUNNING")
            })
    })
    .await;
    drop(server);

    let server = serve(root, port);
    wait_ready(&api.client, &api.base).await;
    std::fs::remove_file(root.join("hold")).unwrap();
    let done = api
        .wait(&rollback, "the rollback after the restart", finished)
        .await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    assert_eq!(done["rollbackFor"]["release"], bad.as_str());
    assert_eq!(done["kind"]["fromRelease"], good.as_str());

    // Nothing repeats: let the restarted server settle, then count.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let list = api.get("/api/v1/releases?product=shop").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{list:#}");
    let failed = api.get(&format!("/api/v1/releases/{bad}")).await;
    assert_eq!(
        failed["rolledBackBy"].as_array().unwrap().len(),
        1,
        "{failed:#}"
    );
    let log = git(&remote, &["log", "--format=%B%x00", "main"]);
    let rollback_commits = log
        .split('\0')
        .filter(|m| m.contains(&format!("Ferry-Release: {rollback}")))
        .count();
    assert_eq!(rollback_commits, 1, "{log}");
    assert_eq!(
        git(&remote, &["show", "main:shop/qa/values.yaml"]),
        good_bytes,
        "qa holds, byte for byte, what the good release left"
    );
    drop(server);
}
