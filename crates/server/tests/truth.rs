//! State that is true by construction (issue 17), end to end with the
//! real server, real Git repositories and headless Chromium:
//!
//! - terminating a release closes its pull requests (on every forge, with
//!   a comment naming the release) and deletes its promotion branches; a
//!   merge of such a branch afterwards — the demo's button, `ferry demo
//!   --merge` — is refused with the reason and nothing lands on `main`;
//! - one merge action per environment: its promotion branch carries every
//!   application of the environment;
//! - the product dashboard names the release whose promotion commit runs
//!   in each environment (and its status there), never one that did not
//!   deploy; a failed post-action shows the application Degraded beside
//!   what was observed;
//! - a retried release keeps its first attempt's issue and log.

mod browser;
mod common;
mod htmlcheck;
mod uiclient;
mod uifixture;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use ferry_forge::fake::{FakeForge, Options};
use ferry_forge::{ForgeEntry, ForgeKind, Secret};
use serde_json::{Value, json};
use uiclient::{Client, hidden};
use uifixture::wait_release;

/// Product `p`: dev → qa (commit, post-action `check`) → prod (pull
/// request). `check` fails while the file `broken` exists.
fn truth_config(f: &Fixture) -> PathBuf {
    let broken = f.root.path().join("broken");
    let product = format!(
        r#"apiVersion: codefresh.io/v1beta1
kind: Product
metadata:
  name: p
spec:
  promotionTemplate:
    versionSource:
      file: version.yaml
      jsonPath: $.version
    promotion:
      values.yaml:
        jsonPaths: ["$..image"]
      version.yaml:
        jsonPaths: ["$.version"]
  promotionFlows:
    - name: reviewed
---
apiVersion: codefresh.io/v1beta1
kind: PromotionFlow
metadata:
  name: reviewed
spec:
  triggerEnvironment: dev
  steps:
    - environment: qa
      dependsOn: [dev]
      policy: {{postAction: check}}
    - environment: prod
      dependsOn: [qa]
      policy: {{action: pr}}
---
apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {{name: check, annotations: {{codefresh.io/workflow-origin: promotion}}}}
spec:
  entrypoint: main
  templates:
    - name: main
      script: {{image: alpine, command: [sh], source: "if [ -f {broken} ]; then echo 'health check failed: checkout has 0 ready replicas' >&2; exit 1; fi; echo healthy"}}
"#,
        broken = broken.display()
    );
    std::fs::write(f.config.join("product.yaml"), product).unwrap();
    broken
}

/// A second application (`web`) in every environment, in the same
/// repository: prod's promotion branch then carries two applications.
fn second_application(f: &Fixture) {
    let work = f.root.path().join("web-work");
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    for env in ["dev", "qa", "prod"] {
        let dir = work.join("envs").join(format!("{env}-web"));
        std::fs::create_dir_all(&dir).unwrap();
        // dev is ahead: every promotion of web changes something.
        let tag = if env == "dev" { "1.1.0" } else { "1.0.0" };
        std::fs::write(
            dir.join("values.yaml"),
            format!("image: registry.example/shop/web:{tag}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("version.yaml"), format!("version: {tag}\n")).unwrap();
    }
    git(&work, &["add", "."]);
    git(&work, &["commit", "-qm", "web"]);
    git(&work, &["push", "-q", "origin", "main"]);
    let mut apps = String::new();
    for env in ["dev", "qa", "prod"] {
        apps.push_str(&format!(
            "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-{env}\n  namespace: argocd\n  annotations:\n    codefresh.io/product: p\nspec:\n  project: default\n  source:\n    repoURL: {}\n    targetRevision: main\n    path: envs/{env}-web\n  destination:\n    name: in-cluster\n    namespace: p-{env}\n",
            f.bare.display()
        ));
    }
    std::fs::write(f.config.join("applications-web.yaml"), apps).unwrap();
}

fn env<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["environments"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["name"] == name))
        .unwrap_or_else(|| panic!("no environment {name}: {r:#}"))
}

fn app<'a>(r: &'a Value, env_name: &str, name: &str) -> &'a Value {
    env(r, env_name)["applications"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == name))
        .unwrap_or_else(|| panic!("no application {name} in {env_name}: {r:#}"))
}

/// The dashboard's entry for application `name` (`GET /api/v1/products/p`).
async fn dashboard_app(s: &TestServer, env_name: &str, name: &str) -> Value {
    let (status, d) = s.get("/api/v1/products/p").await;
    assert_eq!(status, 200, "{d}");
    app(&d, env_name, name).clone()
}

/// No step of a finished release is PENDING, RUNNING or SUSPENDED.
fn all_steps_final(r: &Value) {
    for e in r["environments"].as_array().unwrap() {
        for a in e["applications"].as_array().unwrap() {
            for s in a["steps"].as_array().unwrap() {
                assert!(
                    !["PENDING", "RUNNING", "SUSPENDED"].contains(&s["status"].as_str().unwrap()),
                    "{} / {}: {s}",
                    e["name"],
                    a["name"]
                );
            }
        }
    }
}

fn branches(bare: &Path) -> Vec<String> {
    git(
        bare,
        &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
    )
    .lines()
    .map(str::to_owned)
    .collect()
}

/// The environments whose merge action the page offers, each once
/// however many buttons lead to it (the "what is happening" panel and the
/// environment's section draw the same action).
const MERGE_ACTIONS: &str = "return [...new Set([...document.querySelectorAll('a.button[href*=\"/merge?\"]')].map(a => new URL(a.href).searchParams.get('environment')))].sort();";

async fn sign_in(b: &browser::Browser, s: &TestServer, next: &str) {
    b.goto(&s.url(&format!("/signin?next={next}"))).await;
    b.wait_for("#token").await;
    b.type_into("#token", TOKEN).await;
    b.click("form.signin button[type=submit]").await;
}

fn demo(f: &Fixture) -> ferry_server::Settings {
    ferry_server::Settings {
        demo: true,
        ..settings(f)
    }
}

/// Terminate, then merge: the demo's button refuses with the reason (the
/// header still knows who is signed in), `ferry demo --merge`'s check
/// refuses a leftover branch, and `main` never moves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_terminate_then_merge_is_refused_and_nothing_lands_on_main() {
    let f = fixture();
    truth_config(&f);
    let s = start(demo(&f)).await;
    let id = s.promote("reviewed").await;
    let waiting = wait_release(&s, &id, "prod waits for its branch", |r| {
        r["environments"].is_array() && env(r, "prod")["status"] == "SUSPENDED"
    })
    .await;
    // The step that waits is SUSPENDED, as its application is.
    let pr_step = &app(&waiting, "prod", "api-prod")["steps"][0];
    assert_eq!(pr_step["name"], "pr");
    assert_eq!(pr_step["status"], "SUSPENDED", "{pr_step}");
    let head = app(&waiting, "prod", "api-prod")["pullRequest"]["head"]
        .as_str()
        .unwrap()
        .to_owned();
    let main_before = git(&f.bare, &["rev-parse", "main"]);
    assert!(branches(&f.bare).contains(&"ferry/p/prod/1".to_owned()));

    let b = browser::Browser::start().await;
    sign_in(&b, &s, "/products/p/releases/1").await;
    b.wait_for("#env-prod.st-wait").await;
    // One merge action, for the environment (offered in the "what is
    // happening" panel and in prod's section, both the same action).
    assert_eq!(b.eval(MERGE_ACTIONS).await, json!(["prod"]));
    b.click("#env-prod p.merge a.button").await;
    b.wait_for("form.confirm").await;
    // Meanwhile someone terminates the release.
    let (status, body) = s
        .post(&format!("/api/v1/releases/{id}/terminate"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "TERMINATED");
    b.click("form.confirm button[type=submit]").await;
    b.wait_for("p.refused").await;
    let reason = b.text("p.refused").await;
    assert!(
        reason.contains("release #1 was terminated by admin (user)")
            && reason.contains("not to be merged"),
        "{reason}"
    );
    assert_eq!(b.text("main h1").await, "Not merged");
    assert!(
        b.source().await.contains("Sign out"),
        "the refusal page knows who is signed in"
    );
    b.screenshot("truth-01-merge-refused").await;
    assert_eq!(
        git(&f.bare, &["rev-parse", "main"]),
        main_before,
        "nothing on main"
    );
    // The branch was deleted when the release ended; its pull request is
    // recorded as closed; nothing is left PENDING.
    assert!(
        !branches(&f.bare).iter().any(|b| b.starts_with("ferry/")),
        "{:?}",
        branches(&f.bare)
    );
    let prod_app = app(&done, "prod", "api-prod");
    assert!(
        prod_app["pullRequest"]["closedAt"].is_string(),
        "{prod_app:#}"
    );
    all_steps_final(&done);
    // Back on the release: no merge action any more.
    b.click("p a.button").await;
    b.wait_for("#env-prod").await;
    assert_eq!(b.eval(MERGE_ACTIONS).await, json!([]));
    b.quit().await;

    // A leftover branch (say, its deletion failed): `ferry demo --merge`'s
    // check refuses it too.
    git(&f.bare, &["branch", "ferry/p/prod/1", &head]);
    let release: ferry_release::Release = serde_json::from_value(done.clone()).unwrap();
    let bare = f.bare.display().to_string();
    let outcome =
        ferry_wiring::demo::merge_open_pull_requests(&bare, "main", "Demo Reviewer", |branch| {
            let (_, env, _) =
                ferry_wiring::demo::parse_branch(branch).ok_or("not a promotion branch")?;
            ferry_wiring::demo::waiting_branches(&release, env)
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .unwrap();
    assert_eq!(
        outcome,
        vec![ferry_wiring::demo::BranchMerge::Refused {
            branch: "ferry/p/prod/1".into(),
            reason: "not merged: release #1 was terminated by admin (user): its promotion branch in prod was closed and is not to be merged".into(),
        }]
    );
    assert_eq!(git(&f.bare, &["rev-parse", "main"]), main_before);
    // The refusal is in the audit log.
    let (_, log) = s.get("/api/v1/audit?action=merge").await;
    assert!(
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["outcome"] == 409 && e["releaseId"] == id.as_str()),
        "{log:#}"
    );
    s.stop().await;
}

/// Two applications in prod share its promotion branch: one merge action,
/// and both go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_one_merge_per_environment_carries_every_application() {
    let f = fixture();
    truth_config(&f);
    second_application(&f);
    let s = start(demo(&f)).await;
    let id = s.promote("reviewed").await;
    let waiting = wait_release(&s, &id, "both prod applications wait", |r| {
        r["environments"].is_array()
            && env(r, "prod")["applications"]
                .as_array()
                .is_some_and(|a| a.len() == 2 && a.iter().all(|a| a["status"] == "SUSPENDED"))
    })
    .await;
    for a in ["api-prod", "web-prod"] {
        assert_eq!(
            app(&waiting, "prod", a)["pullRequest"]["branch"],
            "ferry/p/prod/1"
        );
    }
    let b = browser::Browser::start().await;
    sign_in(&b, &s, "/products/p/releases/1").await;
    b.wait_for("#env-prod.st-wait").await;
    assert_eq!(
        b.eval(MERGE_ACTIONS).await,
        json!(["prod"]),
        "one merge action for prod, not one per application"
    );
    assert_eq!(
        b.eval("return document.querySelectorAll('#env-prod .app-run a.button[href*=\"/merge?\"]').length;")
            .await,
        json!(0)
    );
    b.click("#env-prod p.merge a.button").await;
    b.wait_for("form.confirm").await;
    let confirm = b.text("main").await;
    assert!(
        confirm.contains("api-prod") && confirm.contains("web-prod"),
        "{confirm}"
    );
    b.screenshot("truth-02-confirm-merge-environment").await;
    b.click("form.confirm button[type=submit]").await;
    b.wait_true(
        "SUCCEEDED after the one merge",
        "var r = document.querySelector('.release-body'); return !!r && r.dataset.status === 'SUCCEEDED';",
    )
    .await;
    b.quit().await;
    let done = s.wait_finished(&id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
    for a in ["api-prod", "web-prod"] {
        assert_eq!(app(&done, "prod", a)["status"], "SUCCESSFUL");
    }
    assert_eq!(
        git(&f.bare, &["log", "--merges", "--format=%s", "main"])
            .lines()
            .count(),
        1,
        "one merge commit"
    );
    s.stop().await;
}

/// The dashboard through a success, a failed post-action, a retry and a
/// terminate: each environment names the release whose promotion runs
/// there, with its status there, and the health ferry stands behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_chromium_the_dashboard_names_the_release_that_runs_and_retry_keeps_attempt_one() {
    let f = fixture();
    let broken = truth_config(&f);
    let s = start(demo(&f)).await;
    let mut c = Client::new(&s.base);
    c.sign_in(TOKEN).await;

    // #1: through qa, prod merged → everything credited to #1.
    let one = s.promote("reviewed").await;
    wait_release(&s, &one, "#1 waits in prod", |r| {
        r["environments"].is_array() && env(r, "prod")["status"] == "SUSPENDED"
    })
    .await;
    let view = c.get("/products/p/releases/1").await;
    let r = c
        .post(
            "/products/p/releases/1/merge",
            &[
                ("csrf", &hidden(&view.body, "csrf")),
                ("environment", "prod"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(s.wait_finished(&one).await["status"], "SUCCEEDED");
    let prod = dashboard_app(&s, "prod", "api-prod").await;
    assert_eq!(prod["release"]["number"], 1, "{prod:#}");
    assert_eq!(prod["version"], "1.2.0");
    assert_eq!(prod["health"], "Healthy");

    // #2: qa's post-action fails.
    commit_dev(&f, "1.3.0");
    std::fs::write(&broken, "").unwrap();
    let two = s.promote("reviewed").await;
    let failed = s.wait_finished(&two).await;
    assert_eq!(failed["status"], "FAILED", "{failed:#}");
    all_steps_final(&failed);
    let qa_run = app(&failed, "qa", "api-qa");
    assert_eq!(qa_run["health"], "Degraded", "{qa_run:#}");
    assert_eq!(qa_run["observedHealth"], "Healthy");
    assert!(qa_run["observedAt"].is_string());
    assert_eq!(qa_run["failedStep"]["name"], "check");
    let qa = dashboard_app(&s, "qa", "api-qa").await;
    assert_eq!(qa["version"], "1.3.0", "{qa:#}");
    assert_eq!(qa["release"]["number"], 2);
    assert_eq!(qa["release"]["environmentStatus"], "FAILED");
    assert_eq!(qa["health"], "Degraded");
    assert_eq!(qa["observedHealth"], "Healthy");
    assert!(
        qa["healthReason"]
            .as_str()
            .unwrap()
            .contains("post-action `check` failed"),
        "{qa:#}"
    );
    let prod = dashboard_app(&s, "prod", "api-prod").await;
    assert_eq!(
        (prod["release"]["number"].clone(), prod["version"].clone()),
        (json!(1), json!("1.2.0")),
        "prod still runs #1: {prod:#}"
    );

    let b = browser::Browser::start().await;
    sign_in(&b, &s, "/products/p").await;
    b.wait_for("td[data-app='api-qa']").await;
    let qa_cell = b.text("td[data-app='api-qa']").await;
    for want in [
        "1.3.0",
        "#2",
        "FAILED",
        "Degraded",
        "post-action check failed",
    ] {
        assert!(qa_cell.contains(want), "{want} in {qa_cell}");
    }
    assert!(
        b.text("td[data-app='api-qa'] .health")
            .await
            .starts_with("Degraded"),
        "never Healthy beside a failed health check"
    );
    let prod_cell = b.text("td[data-app='api-prod']").await;
    assert!(
        prod_cell.contains("1.2.0") && prod_cell.contains("#1") && prod_cell.contains("SUCCESSFUL"),
        "{prod_cell}"
    );
    b.screenshot("truth-03-dashboard-after-failure").await;

    // Retry once fixed: attempt 1's issue and log stay on the release view.
    std::fs::remove_file(&broken).unwrap();
    let (status, body) = s
        .post(&format!("/api/v1/releases/{two}/retry"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let retried = wait_release(&s, &two, "#2 waits in prod", |r| {
        r["environments"].is_array() && env(r, "prod")["status"] == "SUSPENDED"
    })
    .await;
    assert_eq!(retried["attempt"], 2);
    let issues = env(&retried, "qa")["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{issues:?}");
    assert_eq!(issues[0]["attempt"], 1);
    assert!(
        issues[0]["details"]
            .as_str()
            .unwrap()
            .contains("checkout has 0 ready replicas")
    );
    b.goto(&s.url("/products/p/releases/2")).await;
    b.wait_for("#env-qa .issue.earlier").await;
    // qa succeeded: folded to one line, which says it failed before.
    assert!(
        b.text("#env-qa > summary .line")
            .await
            .contains("1 issue in earlier attempts")
    );
    b.click("#env-qa > summary").await;
    let earlier = b.text("#env-qa .issue.earlier summary").await;
    assert!(earlier.starts_with("attempt 1 failed:"), "{earlier}");
    assert!(
        b.source().await.contains("checkout has 0 ready replicas"),
        "attempt 1's log is kept"
    );
    assert!(b.text("#env-qa h3").await.contains("SUCCESSFUL"));
    b.screenshot("truth-04-retry-keeps-attempt-1").await;

    // Terminate #2 while prod waits: prod keeps running #1.
    let (status, body) = s
        .post(&format!("/api/v1/releases/{two}/terminate"), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let ended = s.wait_finished(&two).await;
    assert_eq!(ended["status"], "TERMINATED");
    all_steps_final(&ended);
    let prod = dashboard_app(&s, "prod", "api-prod").await;
    assert_eq!(prod["release"]["number"], 1, "{prod:#}");
    assert_eq!(prod["version"], "1.2.0");
    let qa = dashboard_app(&s, "qa", "api-qa").await;
    assert_eq!(qa["release"]["number"], 2);
    assert_eq!(qa["release"]["environmentStatus"], "SUCCESSFUL");
    assert_eq!(qa["health"], "Healthy", "{qa:#}");
    b.goto(&s.url("/products/p")).await;
    b.wait_for("td[data-app='api-prod']").await;
    let prod_cell = b.text("td[data-app='api-prod']").await;
    assert!(
        prod_cell.contains("1.2.0") && prod_cell.contains("#1") && !prod_cell.contains("#2"),
        "{prod_cell}"
    );
    b.screenshot("truth-05-dashboard-after-terminate").await;
    b.quit().await;
    s.stop().await;
}

/// On every forge, terminating a release closes its pull request with a
/// comment naming the release (as each forge documents it, the fakes
/// enforcing it) and deletes the branch; a merge on the forge afterwards
/// neither resumes the release nor is credited to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminating_closes_the_pull_request_on_every_forge() {
    for kind in ForgeKind::ALL {
        let f = fixture();
        // qa through a pull request.
        let product = std::fs::read_to_string(f.config.join("product.yaml")).unwrap();
        std::fs::write(
            f.config.join("product.yaml"),
            product.replace(
                "    - environment: qa\n      dependsOn: [dev]\n",
                "    - environment: qa\n      dependsOn: [dev]\n      policy:\n        action: pr\n",
            ),
        )
        .unwrap();
        let fake = FakeForge::start(kind, Options::default()).await;
        let mut settings = settings(&f);
        settings.base_url = Some("https://ferry.example".into());
        let parent = f.root.path().parent().unwrap();
        settings.forges = vec![ForgeEntry {
            kind: Some(kind),
            repo_prefix: format!("{}/", parent.display()),
            api_url: Some(fake.api_url()),
            token: Some(Secret::new(Options::default().token)),
            webhook_secret: Some(Secret::new("unused")),
            poll_interval: Some(1),
            retry_initial_ms: Some(5),
            retry_max_ms: Some(50),
            ..ForgeEntry::default()
        }];
        let s = start(settings).await;
        let id = s.promote("standard").await;
        let waiting = wait_release(&s, &id, "qa's pull request", |r| {
            r["environments"].is_array() && app(r, "qa", "api-qa")["pullRequest"]["number"].is_u64()
        })
        .await;
        let number = app(&waiting, "qa", "api-qa")["pullRequest"]["number"]
            .as_u64()
            .unwrap();
        let (status, body) = s
            .post(&format!("/api/v1/releases/{id}/terminate"), &json!({}))
            .await;
        assert_eq!(status, 200, "{kind}: {body}");
        let done = s.wait_finished(&id).await;
        assert_eq!(done["status"], "TERMINATED", "{kind}: {done:#}");
        assert!(
            env(&done, "qa")["issues"].as_array().unwrap().is_empty(),
            "{kind}: {done:#}"
        );
        let pull = fake
            .pull_requests()
            .into_iter()
            .find(|p| p.number == number)
            .unwrap();
        assert_eq!(pull.state, ferry_forge::fake::PrState::Closed, "{kind}");
        assert_eq!(pull.comments.len(), 1, "{kind}: {:?}", pull.comments);
        assert!(
            pull.comments[0].contains("release [#1](https://ferry.example/products/p/releases/1)")
                && pull.comments[0].contains("terminated by admin"),
            "{kind}: {}",
            pull.comments[0]
        );
        assert!(
            !branches(&f.bare).iter().any(|b| b.starts_with("ferry/")),
            "{kind}: {:?}",
            branches(&f.bare)
        );
        assert!(
            fake.violations().is_empty(),
            "{kind}: {:?}",
            fake.violations()
        );
        // Merged on the forge anyway: nothing resumes, nothing is credited.
        let repo = format!(
            "{}/gitops",
            f.root.path().file_name().unwrap().to_string_lossy()
        )
        .to_lowercase();
        fake.merge(&repo, number, &"f".repeat(40));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let (_, after) = s.get(&format!("/api/v1/releases/{id}")).await;
        assert_eq!(after["status"], "TERMINATED", "{kind}");
        assert_eq!(after["environments"], done["environments"], "{kind}");
        let qa = dashboard_app(&s, "qa", "api-qa").await;
        assert!(qa["release"].is_null(), "{kind}: {qa:#}");
        s.stop().await;
    }
}
