//! A real GitOps repository for the tests: a work clone built with the git
//! CLI and pushed to a bare remote that refuses non-fast-forward updates,
//! laid out like a real product (Argo CD Applications under `argocd/`, one
//! Helm chart per environment under `apps/trio-<env>/`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ferry_git::{Credentials, Mirror, Remote};
use tempfile::TempDir;

pub const ENVIRONMENTS: [&str; 4] = ["dev", "qa", "staging", "prod"];

/// A git command isolated from the host's configuration.
pub fn git_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// Runs git, panics with its stderr on failure, returns stdout as is.
pub fn git_raw(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    git_raw(dir, args).trim().to_owned()
}

pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

pub fn application(env: &str, repo_url: &str) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: trio-{env}
  namespace: argocd
  annotations:
    codefresh.io/product: trio
spec:
  project: default
  source:
    repoURL: {repo_url}
    targetRevision: main
    path: apps/trio-{env}
  destination:
    name: in-cluster
    namespace: demo-{env}
"
    )
}

pub const DEV_VALUES: &str = "\
# Values for the trio product, dev environment.
# Images are bumped by CI on every merge to main.

buslog:
  image:
    repository: ghcr.io/example/buslog-v2 # the bus logger
    tag: main-1a2b3c4
  replicaCount: 1

ctrlr:
  image:
    repository: \"ghcr.io/example/ctrlr\"
    tag: 'main-5d6e7f8'
  replicaCount: 1
  resources: {limits: {cpu: 200m}}

flask-ui:
  image:
    repository: ghcr.io/example/flask-ui
    tag: \"main-9f8e7d6\"   # quoted on purpose
    pullPolicy: IfNotPresent
  service:
    port: 8080
";

pub const QA_VALUES: &str = "\
# Values for the trio product, qa environment.
# Do not edit the image tags by hand: ferry promotes them from dev.

buslog:
  image:
    repository: ghcr.io/example/buslog # the bus logger
    tag: main-0000001
  replicaCount: 2

ctrlr:
  image:
    repository: \"ghcr.io/example/ctrlr\"
    tag: 'main-0000002'
  replicaCount: 2
  resources: {limits: {cpu: 500m}}

flask-ui:
  image:
    repository: ghcr.io/example/flask-ui
    tag: \"main-0000003\"   # quoted on purpose
  service:
    port: 80
  ingress:
    host: qa.trio.example.com
";

pub fn chart(env: &str, app_version: &str, redis: &str) -> String {
    format!(
        "apiVersion: v2
name: trio
description: Three services promoted together   # {env}
type: application
version: 0.1.0
# appVersion is the product version ferry shows
appVersion: \"{app_version}\"
dependencies:
  - name: redis
    version: {redis}
    repository: https://charts.bitnami.com/bitnami
    condition: redis.enabled
"
    )
}

pub fn version_file(version: &str) -> String {
    format!("# The product version, read by ferry (versionSource).\nversion: {version}\n")
}

pub fn deployment(env: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: buslog   # {env}
spec:
  template:
    spec:
      containers:
        - name: buslog
          image: \"{{{{ .Values.buslog.image.repository }}}}:{{{{ .Values.buslog.image.tag }}}}\"
"
    )
}

/// The files of the product repository, by path.
pub fn product_files(repo_url: &str) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for env in ENVIRONMENTS {
        files.insert(
            format!("argocd/trio-{env}.yaml"),
            application(env, repo_url),
        );
        files.insert(
            format!("apps/trio-{env}/templates/deployment.yaml"),
            deployment(env),
        );
    }
    files.insert(
        "apps/trio-dev/Chart.yaml".into(),
        chart("dev", "54.1", "17.11.3"),
    );
    files.insert("apps/trio-dev/values.yaml".into(), DEV_VALUES.into());
    files.insert("apps/trio-dev/version.yaml".into(), version_file("54.1"));
    files.insert(
        "apps/trio-dev/templates/configmap.yaml".into(),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trio-flags\ndata:\n  NEW_FLAG: \"on\"\n".into(),
    );
    files.insert(
        "apps/trio-qa/Chart.yaml".into(),
        chart("qa", "53.7", "17.9.0"),
    );
    files.insert("apps/trio-qa/values.yaml".into(), QA_VALUES.into());
    files.insert("apps/trio-qa/version.yaml".into(), version_file("53.7"));
    files.insert(
        "apps/trio-qa/qa-overrides.yaml".into(),
        "# only in qa\nfeatureFlags:\n  darkLaunch: true\n".into(),
    );
    for (env, v) in [("staging", "53.2"), ("prod", "52.0")] {
        files.insert(
            format!("apps/trio-{env}/Chart.yaml"),
            chart(env, v, "17.9.0"),
        );
        files.insert(
            format!("apps/trio-{env}/values.yaml"),
            QA_VALUES.replace("qa", env),
        );
        files.insert(format!("apps/trio-{env}/version.yaml"), version_file(v));
    }
    files
}

/// A product repository: a bare remote (`main`), a work clone, a mirror cache.
pub struct Fixture {
    pub tmp: TempDir,
    pub remote: PathBuf,
    pub work: PathBuf,
    pub cache: PathBuf,
}

impl Fixture {
    /// The product repository with `edit` applied to its files first.
    pub fn new(edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Fixture {
        let tmp = TempDir::new().unwrap();
        let remote = tmp.path().join("gitops.git");
        let work = tmp.path().join("work");
        let cache = tmp.path().join("cache");
        let mut files = product_files(&remote.display().to_string());
        edit(&mut files);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        for (path, content) in &files {
            write(&work.join(path), content);
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "trio: initial layout"]);
        git(
            tmp.path(),
            &["init", "-q", "--bare", "-b", "main", "gitops.git"],
        );
        // Any force push would be refused, so a passing test proves none happened.
        git(&remote, &["config", "receive.denyNonFastForwards", "true"]);
        git(&work, &["push", "-q", &file_url(&remote), "main"]);
        Fixture {
            tmp,
            remote,
            work,
            cache,
        }
    }

    pub fn url(&self) -> String {
        file_url(&self.remote)
    }

    pub fn mirror(&self) -> Mirror {
        Mirror::open(
            &self.cache,
            Remote::new(&self.url(), Credentials::None).unwrap(),
        )
        .unwrap()
    }

    /// The exact bytes of `path` on the remote's `main`.
    pub fn remote_file(&self, path: &str) -> String {
        git_raw(&self.remote, &["show", &format!("main:{path}")])
    }

    pub fn tip(&self) -> String {
        git(&self.remote, &["rev-parse", "main"])
    }

    pub fn commit_count(&self) -> usize {
        git(&self.remote, &["rev-list", "--count", "main"])
            .parse()
            .unwrap()
    }

    /// Every file under `dir` on the remote's `main`, with its blob id.
    pub fn tree(&self, rev: &str, dir: &str) -> String {
        git(&self.remote, &["ls-tree", "-r", rev, "--", dir])
    }

    /// Another process commits `files` on top of the remote's `main`.
    pub fn external_push(&self, files: &[(&str, &str)], message: &str) -> String {
        let other = self.tmp.path().join("other");
        if !other.exists() {
            git(self.tmp.path(), &["clone", "-q", &self.url(), "other"]);
        } else {
            git(&other, &["pull", "-q", "--ff-only", &self.url(), "main"]);
        }
        for (path, content) in files {
            write(&other.join(path), content);
        }
        git(&other, &["add", "-A"]);
        git(&other, &["commit", "-q", "-m", message]);
        git(&other, &["push", "-q", &self.url(), "HEAD:main"]);
        git(&other, &["rev-parse", "HEAD"])
    }
}

pub fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}
