//! The `argocd` provider against an in-test Argo CD API server that checks
//! every request against the documented API (path, query, bearer token)
//! and serves Application documents in Argo CD's shape, over both the
//! single-GET endpoint and the application stream.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use ferry_appstate::argocd::fake::{FakeArgoCd, application, set_resources, set_state};
use ferry_appstate::argocd::{ArgoCdProvider, Backoff, InstanceConfig, Secret};
use ferry_appstate::route::StateRouter;
use ferry_appstate::{AppRef, AppStateProvider, Error, Health, SyncStatus};
use ferry_gitops::Workspace;

const TOKEN: &str = "argocd-s3cret-token";

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A GitOps repository with `apps/web/qa` and `apps/api/qa`.
struct Repo {
    dir: tempfile::TempDir,
    url: String,
}

impl Repo {
    fn new() -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let remote = dir.path().join("gitops.git");
        git(
            dir.path(),
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                remote.to_str().unwrap(),
            ],
        );
        let seed = dir.path().join("seed");
        std::fs::create_dir_all(seed.join("apps/web/qa")).unwrap();
        std::fs::create_dir_all(seed.join("apps/api/qa")).unwrap();
        git(&seed, &["init", "-q", "-b", "main"]);
        std::fs::write(seed.join("apps/web/qa/values.yaml"), "tag: a\n").unwrap();
        std::fs::write(seed.join("apps/api/qa/values.yaml"), "tag: a\n").unwrap();
        git(&seed, &["add", "."]);
        git(&seed, &["commit", "-q", "-m", "initial"]);
        git(
            &seed,
            &["remote", "add", "origin", remote.to_str().unwrap()],
        );
        git(&seed, &["push", "-q", "origin", "main"]);
        Repo {
            url: remote.display().to_string(),
            dir,
        }
    }

    /// Commits a change to `apps/<app>/qa/values.yaml`; returns the SHA.
    fn commit(&self, app: &str, tag: &str) -> String {
        let seed = self.dir.path().join("seed");
        std::fs::write(
            seed.join(format!("apps/{app}/qa/values.yaml")),
            format!("tag: {tag}\n"),
        )
        .unwrap();
        git(&seed, &["commit", "-q", "-am", &format!("{app} {tag}")]);
        git(&seed, &["push", "-q", "origin", "main"]);
        git(&seed, &["rev-parse", "HEAD"])
    }

    fn workspace(&self) -> Arc<Workspace> {
        Arc::new(Workspace::new(
            self.dir.path().join("cache"),
            Arc::new(|_: &str| ferry_git::Credentials::None),
        ))
    }

    fn app_ref(&self) -> AppRef {
        AppRef {
            name: "web-qa".into(),
            namespace: Some("web-qa".into()),
            repo_url: self.url.clone(),
            path: "apps/web/qa".into(),
            target_revision: "main".into(),
        }
    }
}

fn config(url: &str, watch: bool) -> InstanceConfig {
    let mut c = InstanceConfig::new("east", url);
    c.token = Some(Secret::new(TOKEN));
    c.watch = watch;
    c.backoff = Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
    };
    c
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_get_follows_out_of_sync_progressing_healthy() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    let provider = ArgoCdProvider::new(config(fake.url(), false), repo.workspace()).unwrap();
    let app = repo.app_ref();
    let commit = repo.commit("web", "b");

    // OutOfSync, nothing deployed yet.
    let obs = provider
        .observe_in(&app, Some("argocd"), Some(&commit))
        .await
        .unwrap();
    assert_eq!(obs.state.sync, SyncStatus::OutOfSync);
    assert_eq!(obs.state.health, Health::Missing);
    assert!(!obs.synced_at_commit);

    // Synced at the commit, still Progressing: synced but not healthy.
    fake.update("argocd", "web-qa", |a| {
        set_state(
            a,
            "Synced",
            &commit,
            "Progressing",
            Some("Waiting for rollout to finish"),
        )
    });
    let obs = provider
        .observe_in(&app, Some("argocd"), Some(&commit))
        .await
        .unwrap();
    assert_eq!(
        (obs.state.sync, obs.state.health),
        (SyncStatus::Synced, Health::Progressing)
    );
    assert_eq!(
        obs.state.message.as_deref(),
        Some("Waiting for rollout to finish")
    );
    assert!(obs.synced_at_commit);

    // Healthy.
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Healthy", None)
    });
    let obs = provider
        .observe_in(&app, Some("argocd"), Some(&commit))
        .await
        .unwrap();
    assert_eq!(obs.state.health, Health::Healthy);
    assert_eq!(obs.state.revision.as_deref(), Some(commit.as_str()));
    assert_eq!(
        obs.state.link.as_deref(),
        Some(format!("{}/applications/argocd/web-qa", fake.url()).as_str())
    );
    assert!(obs.synced_at_commit);

    // Every request: the documented path, appNamespace, the bearer token.
    let seen = fake.requests();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, "GET");
        assert_eq!(s.path, "/api/v1/applications/web-qa");
        assert_eq!(
            s.query,
            vec![("appNamespace".to_owned(), "argocd".to_owned())]
        );
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_at_a_descendant_counts_only_when_the_path_is_unchanged() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    let provider = ArgoCdProvider::new(config(fake.url(), false), repo.workspace()).unwrap();
    let app = repo.app_ref();
    let ours = repo.commit("web", "b");
    let other_app = repo.commit("api", "c");
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &other_app, "Healthy", None)
    });
    let obs = provider.observe_in(&app, None, Some(&ours)).await.unwrap();
    assert!(
        obs.synced_at_commit,
        "a later commit to another application keeps ours deployed"
    );

    let newer_web = repo.commit("web", "d");
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &newer_web, "Healthy", None)
    });
    let obs = provider.observe_in(&app, None, Some(&ours)).await.unwrap();
    assert!(
        !obs.synced_at_commit,
        "a later commit changed the application's path"
    );

    // An older revision is not ours either.
    let before = git(&repo.dir.path().join("seed"), &["rev-parse", "HEAD~3"]);
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &before, "Healthy", None)
    });
    let obs = provider.observe_in(&app, None, Some(&ours)).await.unwrap();
    assert!(!obs.synced_at_commit);
    // Without appNamespace the fake looks in Argo CD's own namespace.
    assert!(fake.requests().iter().all(|s| s.query.is_empty()));
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_and_suspended_carry_message_resources_and_link() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    let mut cfg = config(fake.url(), false);
    cfg.ui_url = Some("https://argocd.example/".into());
    let provider = ArgoCdProvider::new(cfg, repo.workspace()).unwrap();
    let commit = repo.commit("web", "b");
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Degraded", None);
        set_resources(
            a,
            &[
                ("Service", "web", "Healthy", None),
                (
                    "Deployment",
                    "web",
                    "Degraded",
                    Some("Deployment \"web\" exceeded its progress deadline"),
                ),
            ],
        );
    });
    let obs = provider
        .observe(&repo.app_ref(), Some(&commit))
        .await
        .unwrap();
    assert_eq!(obs.state.health, Health::Degraded);
    assert_eq!(
        obs.state.message.as_deref(),
        Some("Deployment \"web\" exceeded its progress deadline")
    );
    assert_eq!(obs.state.unhealthy.len(), 1);
    assert_eq!(
        obs.state.unhealthy[0].to_string(),
        "Deployment web-qa/web: Degraded: Deployment \"web\" exceeded its progress deadline"
    );
    assert_eq!(
        obs.state.link.as_deref(),
        Some("https://argocd.example/applications/argocd/web-qa")
    );

    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Suspended", Some("Rollout is paused"));
        set_resources(
            a,
            &[("Rollout", "web", "Suspended", Some("Rollout is paused"))],
        );
    });
    let obs = provider
        .observe(&repo.app_ref(), Some(&commit))
        .await
        .unwrap();
    assert_eq!(obs.state.health, Health::Suspended);
    assert_eq!(obs.state.message.as_deref(), Some("Rollout is paused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_drives_transitions_and_reconnects_after_a_drop() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    let mut cfg = config(fake.url(), true);
    cfg.app_namespace = Some("argocd".into());
    let provider = ArgoCdProvider::new(cfg, repo.workspace()).unwrap();
    let app = repo.app_ref();
    let commit = repo.commit("web", "b");
    eventually("the stream to connect and deliver ADDED", || {
        provider.stream_connected() && provider.events_applied() >= 1
    })
    .await;
    let mut updates = provider.updates(&app).expect("the stream pushes updates");
    let obs = provider.observe(&app, Some(&commit)).await.unwrap();
    assert_eq!(obs.state.sync, SyncStatus::OutOfSync);

    for (sync, health) in [("Synced", "Progressing"), ("Synced", "Healthy")] {
        fake.update("argocd", "web-qa", |a| {
            set_state(a, sync, &commit, health, None)
        });
        tokio::time::timeout(Duration::from_secs(5), updates.changed())
            .await
            .expect("woken by the stream event")
            .unwrap();
        updates.borrow_and_update();
        let obs = provider.observe(&app, Some(&commit)).await.unwrap();
        assert_eq!(obs.state.health.as_str(), health);
        assert!(obs.synced_at_commit);
    }

    // Argo CD restarts: the stream ends; ferry reconnects and catches up.
    fake.drop_streams();
    eventually("a second connection", || {
        provider.stream_connects() >= 2 && fake.open_streams() == 1
    })
    .await;
    fake.update("argocd", "web-qa", |a| {
        set_state(a, "Synced", &commit, "Degraded", Some("CrashLoopBackOff"))
    });
    // The reconnect's ADDED burst wakes the waiter too; wake until the
    // Degraded event has arrived.
    let obs = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            updates.changed().await.unwrap();
            updates.borrow_and_update();
            let obs = provider.observe(&app, Some(&commit)).await.unwrap();
            if obs.state.health == Health::Degraded {
                return obs;
            }
        }
    })
    .await
    .expect("woken by the Degraded event after the reconnect");
    assert_eq!(obs.state.message.as_deref(), Some("CrashLoopBackOff"));

    // While connected the cache answers: only stream requests were made.
    let seen = fake.requests();
    assert!(seen.len() >= 2);
    for s in &seen {
        assert_eq!(s.path, "/api/v1/stream/applications");
        assert_eq!(s.param("appNamespace"), Some("argocd"));
        assert_eq!(
            s.authorization.as_deref(),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_refresh_is_asked_once_per_promotion_commit() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    let mut cfg = config(fake.url(), false);
    cfg.hard_refresh = true;
    let provider = ArgoCdProvider::new(cfg, repo.workspace()).unwrap();
    let commit = repo.commit("web", "b");
    for _ in 0..3 {
        provider
            .observe_in(&repo.app_ref(), Some("argocd"), Some(&commit))
            .await
            .unwrap();
    }
    // No refresh without a promotion commit.
    provider
        .observe_in(&repo.app_ref(), Some("argocd"), None)
        .await
        .unwrap();
    eventually("the hard refresh", || {
        fake.requests().iter().any(|s| s.param("refresh").is_some())
    })
    .await;
    let refreshes: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|s| s.param("refresh").is_some())
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].path, "/api/v1/applications/web-qa");
    assert_eq!(
        refreshes[0].query,
        vec![
            ("appNamespace".to_owned(), "argocd".to_owned()),
            ("refresh".to_owned(), "hard".to_owned())
        ]
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/tls")
            .join(name),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_ca_is_trusted_for_https() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start_tls(TOKEN, &fixture("server.pem"), &fixture("server.key")).await;
    fake.put(application("web-qa", "argocd", &repo.url, "apps/web/qa"));
    assert!(fake.url().starts_with("https://"));

    let untrusted = ArgoCdProvider::new(config(fake.url(), false), repo.workspace()).unwrap();
    let err = untrusted.observe(&repo.app_ref(), None).await.unwrap_err();
    assert!(matches!(err, Error::ArgoCd { .. }), "{err:?}");
    assert!(fake.requests().is_empty(), "no request got through");

    let mut cfg = config(fake.url(), false);
    cfg.ca_pem = Some(fixture("ca.pem"));
    let trusted = ArgoCdProvider::new(cfg, repo.workspace()).unwrap();
    let obs = trusted.observe(&repo.app_ref(), None).await.unwrap();
    assert_eq!(obs.state.sync, SyncStatus::OutOfSync);
    assert_eq!(fake.requests().len(), 1);

    let mut bad = config(fake.url(), false);
    bad.ca_pem = Some(b"not a certificate".to_vec());
    let e = ArgoCdProvider::new(bad, repo.workspace()).unwrap_err();
    assert!(e.to_string().contains("CA certificate"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_name_the_instance_and_never_the_token() {
    let repo = Repo::new();
    let fake = FakeArgoCd::start(TOKEN).await;
    let provider = ArgoCdProvider::new(config(fake.url(), false), repo.workspace()).unwrap();
    let e = provider
        .observe(&repo.app_ref(), None)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "Argo CD east: GET /api/v1/applications/web-qa: 403 permission denied"
    );

    let mut wrong = config(fake.url(), false);
    wrong.token = Some(Secret::new("wrong"));
    let e = ArgoCdProvider::new(wrong, repo.workspace())
        .unwrap()
        .observe(&repo.app_ref(), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("401"), "{e}");
    assert!(!format!("{:?}", config(fake.url(), false)).contains(TOKEN));

    let mut creds = config("https://admin:pw@argocd.example", false);
    creds.token = None;
    let e = ArgoCdProvider::new(creds, repo.workspace())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("must not contain credentials") && !e.contains("pw"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_binds_each_application_to_its_instance() {
    let repo = Repo::new();
    let east = FakeArgoCd::start(TOKEN).await;
    let west = FakeArgoCd::start(TOKEN).await;
    let mut on_west = application("api-qa", "argocd", &repo.url, "apps/api/qa");
    on_west["metadata"]["annotations"]["codefresh.io/product"] = "shop".into();
    set_state(&mut on_west, "Synced", "x", "Suspended", None);
    west.put(on_west);
    let mut on_east = application("web-qa", "team-a", &repo.url, "apps/web/qa");
    set_state(&mut on_east, "Synced", "x", "Progressing", None);
    east.put(on_east);

    let text = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: web-qa\n  namespace: team-a\n  annotations: {{ferry.io/argocd-instance: east}}\nspec:\n  source: {{repoURL: '{0}', path: apps/web/qa, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: web-qa}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {{name: local-qa}}\nspec:\n  source: {{repoURL: '{0}', path: apps/web/qa, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: local}}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: lost-qa\n  annotations: {{ferry.io/argocd-instance: north}}\nspec:\n  source: {{repoURL: '{0}', path: apps/web/qa}}\n  destination: {{name: in-cluster, namespace: lost}}\n",
        repo.url
    );
    let mut loaded = ferry_model::load(&[ferry_model::SourceFile {
        path: "apps.yaml".into(),
        text,
    }]);
    let west_provider = Arc::new(
        ArgoCdProvider::new(
            {
                let mut c = config(west.url(), false);
                c.name = "west".into();
                c
            },
            repo.workspace(),
        )
        .unwrap(),
    );
    let discovered = west_provider.list_applications().await.unwrap();
    let (apps, diags) = ferry_appstate::argocd::discovery::discover("west", &discovered);
    assert!(diags.is_empty());
    ferry_appstate::argocd::merge::merge(&mut loaded, apps);
    let loaded = Arc::new(loaded);
    let workspace = repo.workspace();
    let router = StateRouter::new(
        Arc::new(ferry_appstate::git::GitProvider::new(Arc::clone(
            &workspace,
        ))),
        vec![
            Arc::new(
                ArgoCdProvider::new(config(east.url(), false), Arc::clone(&workspace)).unwrap(),
            ),
            west_provider,
        ],
        None,
        Arc::new(move || Some(Arc::clone(&loaded))),
    );
    let app = |name: &str, path: &str| AppRef {
        name: name.into(),
        namespace: None,
        repo_url: repo.url.clone(),
        path: path.into(),
        target_revision: "main".into(),
    };
    // Annotation → east, asked in the Application's namespace.
    let obs = router
        .observe(&app("web-qa", "apps/web/qa"), None)
        .await
        .unwrap();
    assert_eq!(obs.state.health, Health::Progressing);
    assert_eq!(east.requests()[0].param("appNamespace"), Some("team-a"));
    // Discovered on west → west.
    let obs = router
        .observe(&app("api-qa", "apps/api/qa"), None)
        .await
        .unwrap();
    assert_eq!(obs.state.health, Health::Suspended);
    assert_eq!(
        router.provider_of(&app("api-qa", "")),
        ("argocd", Some("west".into()))
    );
    // No binding and no default instance → git.
    let obs = router
        .observe(&app("local-qa", "apps/web/qa"), None)
        .await
        .unwrap();
    assert_eq!(obs.state.link, None);
    assert_eq!(router.provider_of(&app("local-qa", "")).0, "git");
    // An instance that is not configured is an error naming both.
    let e = router
        .observe(&app("lost-qa", "apps/web/qa"), None)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("lost-qa") && e.contains("north"), "{e}");
    assert_eq!(east.violations(), Vec::<String>::new());
    assert_eq!(west.violations(), Vec::<String>::new());
    assert_eq!(west.requests()[0].path, "/api/v1/applications");
}
