//! Test fixtures: temporary directories, real git repositories built with
//! the git CLI, and a smart-HTTP git server (`http.rs`).
#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "ferry-git-{label}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

/// Runs git, panics with its stderr on failure, returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = git_cmd(dir).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A bare remote that refuses non-fast-forward updates (so any force push
/// would fail) and logs every ref update (so tests can check history was
/// only ever extended), with an initial commit of `files` on `main`.
pub fn bare_remote(root: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let bare = root.join(format!("{name}.git"));
    git(
        root,
        &[
            "init",
            "--quiet",
            "--bare",
            "--initial-branch=main",
            bare.to_str().unwrap(),
        ],
    );
    git(&bare, &["config", "receive.denyNonFastForwards", "true"]);
    git(&bare, &["config", "receive.denyDeletes", "true"]);
    git(&bare, &["config", "core.logAllRefUpdates", "always"]);
    let work = root.join(format!("{name}-seed"));
    git(
        root,
        &[
            "init",
            "--quiet",
            "--initial-branch=main",
            work.to_str().unwrap(),
        ],
    );
    for (path, content) in files {
        write(&work.join(path), content);
    }
    git(&work, &["add", "-A"]);
    git(&work, &["commit", "--quiet", "-m", "initial layout"]);
    git(&work, &["push", "--quiet", bare.to_str().unwrap(), "main"]);
    bare
}

/// Commits `files` in a fresh clone of `remote` on `branch` and pushes
/// (a separate git process, as another tool or person would).
pub fn external_push(
    root: &Path,
    remote: &Path,
    branch: &str,
    files: &[(&str, &str)],
    message: &str,
) -> String {
    let work = TempDir::new("external");
    let dir = work.join("clone");
    let _ = root;
    git(
        work.path(),
        &[
            "clone",
            "--quiet",
            "--branch",
            branch,
            remote.to_str().unwrap(),
            dir.to_str().unwrap(),
        ],
    );
    for (path, content) in files {
        write(&dir.join(path), content);
    }
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "--quiet", "-m", message]);
    git(&dir, &["push", "--quiet", "origin", branch]);
    git(&dir, &["rev-parse", "HEAD"])
}

/// `git rev-parse` in a bare repository.
pub fn rev_parse(repo: &Path, rev: &str) -> String {
    git(repo, &["rev-parse", rev])
}

/// Every update of `refs/heads/<branch>` recorded in the remote's reflog
/// went from an ancestor to a descendant (no history was ever rewritten).
pub fn assert_only_fast_forwards(remote: &Path, branch: &str) {
    let log = std::fs::read_to_string(remote.join("logs/refs/heads").join(branch)).unwrap();
    let mut updates = 0;
    for line in log.lines() {
        let mut parts = line.split(' ');
        let (old, new) = (parts.next().unwrap(), parts.next().unwrap());
        if old.chars().all(|c| c == '0') {
            continue;
        }
        let status = git_cmd(remote)
            .args(["merge-base", "--is-ancestor", old, new])
            .status()
            .unwrap();
        assert!(status.success(), "{old} -> {new} is not a fast-forward");
        updates += 1;
    }
    assert!(updates > 0, "no updates recorded for {branch}");
}

/// A GitOps-like layout: Argo CD applications and one Helm chart per
/// environment, many directories.
pub fn gitops_files() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for env in ["dev", "qa", "staging", "prod"] {
        files.push((
            format!("apps/trio-{env}.yaml"),
            format!("kind: Application\nname: trio-{env}\n"),
        ));
        files.push((
            format!("envs/{env}/trio/Chart.yaml"),
            "apiVersion: v2\nname: trio\nappVersion: \"1.0.0\"\n".to_string(),
        ));
        files.push((
            format!("envs/{env}/trio/values.yaml"),
            "flask-ui:\n  image:\n    tag: \"1.20\"  # pinned\n".to_string(),
        ));
        files.push((
            format!("envs/{env}/trio/version.yaml"),
            "version: 54.1\n".to_string(),
        ));
        for svc in 0..5 {
            files.push((
                format!("envs/{env}/svc-{svc}/config/app.yaml"),
                format!("svc: {svc}\nenv: {env}\n"),
            ));
        }
    }
    files.push(("README.md".to_string(), "# GitOps\n".to_string()));
    files
}

pub fn as_refs(files: &[(String, String)]) -> Vec<(&str, &str)> {
    files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}
