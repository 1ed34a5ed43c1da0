//! Every forge failing 60 % of its calls (502, 503, or 429 with
//! `Retry-After`), the real server, real Git repositories: 4 releases per
//! forge (20 in all), each promoting `qa` through a pull request that a
//! person merges and `prod` by a commit. Every environment reaches its
//! final state and none fails for a forge error; every commit status on
//! the trigger commits and the pull requests' head commits ends final with
//! its current description; the fakes saw no request that breaks the
//! forges' rules.
//!
//! Benchmark-style: the numbers (time, calls, injected faults, statuses)
//! are printed (`--nocapture`) and recorded in BENCHMARKS.md. Backoffs are
//! short through the forge entries' `retryInitialMs`/`retryMaxMs`, so the
//! suite stays quick in CI.

mod common;

use std::time::{Duration, Instant};

use common::{commit_dev, git};
use ferry_forge::fake::{FakeForge, Options};
use ferry_forge::{ForgeEntry, ForgeKind, Secret};
use serde_json::Value;

const RELEASES: usize = 4;
const FAULT_RATE: f64 = 0.6;

/// The fixture's flow with `qa` promoted through a pull request.
fn pr_flow(config: &std::path::Path) {
    let product = std::fs::read_to_string(config.join("product.yaml")).unwrap();
    let product = product.replace(
        "    - environment: qa\n      dependsOn: [dev]\n",
        "    - environment: qa\n      dependsOn: [dev]\n      policy:\n        action: pr\n",
    );
    assert!(product.contains("action: pr"));
    std::fs::write(config.join("product.yaml"), product).unwrap();
}

/// Merges the pull-request branch into main as the forge's button would;
/// the merge commit.
fn merge(f: &common::Fixture, branch: &str, n: usize) -> String {
    let work = f.root.path().join(format!("merge-{n}"));
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    git(
        &work,
        &[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            &format!("Merge {branch}"),
            &format!("origin/{branch}"),
        ],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    git(&work, &["rev-parse", "HEAD"]).trim().to_owned()
}

async fn until<T>(what: &str, secs: u64, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Numbers {
    kind: ForgeKind,
    seconds: f64,
    calls: u64,
    faults: u64,
    statuses: usize,
    refused: u64,
}

async fn run(kind: ForgeKind, seed: u64, fault_rate: f64) -> Numbers {
    let f = common::fixture();
    pr_flow(&f.config);
    let fake = FakeForge::start(
        kind,
        Options {
            fault_rate,
            retry_after: 0,
            seed,
            ..Options::default()
        },
    )
    .await;
    let mut settings = common::settings(&f);
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
    let server = common::start(settings).await;
    let repo = format!(
        "{}/gitops",
        f.root.path().file_name().unwrap().to_string_lossy()
    )
    .to_lowercase();

    let started = Instant::now();
    let mut finished: Vec<Value> = Vec::new();
    for n in 1..=RELEASES {
        commit_dev(&f, &format!("2.{n}.0"));
        let id = server.promote("standard").await;
        // qa's pull request, opened through the faults.
        let number = until("the pull request", 120, async || {
            let (_, r) = server.get(&format!("/api/v1/releases/{id}")).await;
            let qa = r["environments"]
                .as_array()?
                .iter()
                .find(|e| e["name"] == "qa")?
                .clone();
            assert_ne!(qa["status"], "FAILED", "{kind}: {r:#}");
            qa["applications"][0]["pullRequest"]["number"].as_u64()
        })
        .await;
        let commit = merge(&f, &format!("ferry/p/qa/{n}"), n);
        assert!(fake.merge(&repo, number, &commit), "{kind}: PR {number}");
        finished.push(server.wait_finished(&id).await);
    }
    let seconds = started.elapsed().as_secs_f64();
    for r in &finished {
        assert_eq!(r["status"], "SUCCEEDED", "{kind}: {r:#}");
        for e in r["environments"].as_array().unwrap() {
            assert!(
                ["SUCCESSFUL"].contains(&e["status"].as_str().unwrap()),
                "{kind}: {e:#}"
            );
        }
    }
    // Every context of every release, on its trigger commit and on the pull
    // request's head commit, ends final with its current description.
    let wanted: Vec<(String, String, ferry_forge::CommitStatus)> = finished
        .iter()
        .flat_map(|r| {
            let release: ferry_release::Release = serde_json::from_value(r.clone()).unwrap();
            ferry_forge::status::statuses(&release, "https://ferry.example")
        })
        .collect();
    until("every status final", 120, async || {
        wanted
            .iter()
            .all(|(_, sha, s)| {
                fake.latest(sha)
                    .get(&status_name(kind, &s.context))
                    .is_some_and(|got| got.is_final() && got.description == s.description)
            })
            .then_some(())
    })
    .await;
    assert_eq!(fake.calls().1 == 0, fault_rate == 0.0);
    assert!(
        fake.violations().is_empty(),
        "{kind}: requests that break the forge's rules: {:?}",
        fake.violations()
    );
    let (calls, faults) = fake.calls();
    let n = Numbers {
        kind,
        seconds,
        calls,
        faults,
        statuses: fake.history().len(),
        refused: fake.refused_transitions(),
    };
    server.stop().await;
    n
}

/// How the fake names a context (Azure DevOps shows `genre/name`, the
/// others the context itself; Bitbucket keeps it as the status name).
fn status_name(_kind: ForgeKind, context: &str) -> String {
    context.to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_percent_faults_on_every_forge_lose_no_release_and_no_status() {
    // Baseline, same run: GitHub without faults.
    let baseline = run(ForgeKind::Github, 10, 0.0).await;
    let mut all = Vec::new();
    for (i, kind) in ForgeKind::ALL.into_iter().enumerate() {
        all.push(run(kind, 11 + i as u64, FAULT_RATE).await);
    }
    println!(
        "forge        releases  seconds  API calls  injected faults  statuses accepted  refused transitions"
    );
    println!(
        "{:<12} {:>8} {:>8.1} {:>10} {:>16} {:>18} {:>20}   (baseline: no faults)",
        "github",
        RELEASES,
        baseline.seconds,
        baseline.calls,
        baseline.faults,
        baseline.statuses,
        baseline.refused
    );
    for n in &all {
        println!(
            "{:<12} {:>8} {:>8.1} {:>10} {:>16} {:>18} {:>20}",
            n.kind.as_str(),
            RELEASES,
            n.seconds,
            n.calls,
            n.faults,
            n.statuses,
            n.refused
        );
        println!(
            "{:<12} time ×{:.2} of the baseline, calls ×{:.2}",
            "",
            n.seconds / baseline.seconds,
            n.calls as f64 / baseline.calls as f64
        );
        assert!(
            n.faults as f64 > 0.4 * n.calls as f64,
            "{}: faults were injected ({} of {})",
            n.kind,
            n.faults,
            n.calls
        );
    }
}
