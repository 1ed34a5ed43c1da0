//! The demo's local GitOps world, built from the embedded `examples/`:
//! two bare repositories (shop, ledger) seeded with the example layout, and
//! a configuration directory whose Applications point at them.
//!
//! Everything the demo does to it is an ordinary Git commit, as a team
//! member would make: a new build in dev (`--commit`), a broken deployment
//! (`--fail <env>`: checkout scaled to zero replicas there, which the
//! `health-check` post-action of the example configuration catches) and
//! its repair (`--fix`), and merges of promotion branches (`--merge`,
//! through [`ferry_wiring::demo`], which the web UI's demo-only merge
//! button uses too).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::progress::Progress;

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

/// The shop's environments (`examples/config/environments/`), in order.
pub const ENVIRONMENTS: &[&str] = &["dev", "qa", "perf", "staging", "prod-eu", "prod-us"];

/// Environments whose post-action is the `health-check` workflow (policy
/// `shop-health-check`): where `--fail` can break a deployment so that
/// the promotion fails there. perf's flow step runs its load test and
/// production closes its change request instead; dev is where releases
/// start, nothing is promoted into it.
pub const FAILABLE: &[&str] = &["qa", "staging"];

/// The service `--fail` breaks.
const BROKEN_SERVICE: &str = "checkout";

/// Checks `--fail`'s environment, with the choices when it is wrong.
pub fn check_fail_target(env: &str) -> anyhow::Result<()> {
    if FAILABLE.contains(&env) {
        return Ok(());
    }
    let choices = FAILABLE.join(" or ");
    if ENVIRONMENTS.contains(&env) {
        bail!(
            "--fail {env}: the demo's {env} runs no health check after deploying, so nothing would fail there; choose {choices}"
        );
    }
    bail!(
        "--fail {env}: the demo has no environment `{env}` (its environments: {}); choose {choices}",
        ENVIRONMENTS.join(", ")
    )
}

/// Example repository URL → folder of `examples/gitops/`.
const REPOS: &[(&str, &str)] = &[
    ("https://git.example.com/acme/shop-gitops.git", "shop"),
    ("https://git.example.com/acme/ledger-gitops.git", "ledger"),
];

pub struct DemoLayout {
    pub dir: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    /// Working clone of the shop repository, for `ferry demo --commit`.
    pub shop_seed: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Demo Developer")
        .env("GIT_AUTHOR_EMAIL", "dev@demo.ferry")
        .env("GIT_COMMITTER_NAME", "Demo Developer")
        .env("GIT_COMMITTER_EMAIL", "dev@demo.ferry")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .with_context(|| format!("running git {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

impl DemoLayout {
    pub fn at(dir: &Path) -> DemoLayout {
        DemoLayout {
            dir: dir.to_owned(),
            config_dir: dir.join("config"),
            data_dir: dir.join("data"),
            shop_seed: dir.join("work/shop"),
        }
    }

    /// The steps [`DemoLayout::prepare`] reports for `dir`.
    pub fn prepare_steps(dir: &Path) -> usize {
        if DemoLayout::at(dir).config_dir.exists() {
            1
        } else {
            REPOS.len() + 2
        }
    }

    /// Creates the repositories and configuration unless they exist.
    pub fn prepare(dir: &Path, progress: &mut Progress) -> anyhow::Result<DemoLayout> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let layout = DemoLayout::at(&dir);
        if layout.config_dir.exists() {
            progress.step("reusing the demo repositories and configuration");
            return Ok(layout);
        }
        for (_, name) in REPOS {
            progress.step(&format!("creating the GitOps repository {name}-gitops"));
            let bare = dir.join(format!("repos/{name}-gitops.git"));
            let seed = dir.join(format!("work/{name}"));
            std::fs::create_dir_all(&bare)?;
            std::fs::create_dir_all(&seed)?;
            git(&bare, &["init", "-q", "--bare", "-b", "main"])?;
            git(&seed, &["init", "-q", "-b", "main"])?;
            let prefix = format!("gitops/{name}/");
            for (path, text) in EXAMPLES.iter().filter(|(p, _)| p.starts_with(&prefix)) {
                write(&seed.join(&path[prefix.len()..]), text)?;
            }
            git(&seed, &["add", "."])?;
            git(
                &seed,
                &["commit", "-q", "-m", &format!("Initial {name} layout")],
            )?;
            git(
                &seed,
                &[
                    "remote",
                    "add",
                    "origin",
                    bare.to_str().context("non-UTF-8 path")?,
                ],
            )?;
            git(&seed, &["push", "-q", "origin", "main"])?;
        }
        progress
            .step("writing the configuration (examples/config, pointed at the local repositories)");
        for (path, text) in EXAMPLES.iter().filter(|(p, _)| p.starts_with("config/")) {
            let mut text = (*text).to_owned();
            for (url, name) in REPOS {
                let local = dir.join(format!("repos/{name}-gitops.git"));
                text = text.replace(url, &local.display().to_string());
            }
            write(&layout.config_dir.join(&path["config/".len()..]), &text)?;
        }
        // A first build in dev, so the first release has something to promote.
        progress.step("committing a first build of every shop service to dev");
        layout.commit(Some("feat: first build of every shop service"))?;
        Ok(layout)
    }

    fn check(&self) -> anyhow::Result<()> {
        if !self.shop_seed.exists() {
            bail!("no demo in {} (run `ferry demo` first)", self.dir.display());
        }
        Ok(())
    }

    /// Merges every open promotion branch (`ferry/…`) of the demo's
    /// repositories into `main`, as a reviewer merging the pull requests
    /// would; returns the branches merged, as `repository: branch`.
    /// Merges every open promotion branch its release waits for
    /// (`may_merge(repository, branch)`); the others are refused, with the
    /// reason. Lines saying what happened, per repository.
    pub fn merge_pull_requests(
        &self,
        may_merge: impl Fn(&str, &str) -> Result<(), String>,
    ) -> anyhow::Result<Vec<String>> {
        self.check()?;
        let mut lines = Vec::new();
        for (_, name) in REPOS {
            let bare = self.dir.join(format!("repos/{name}-gitops.git"));
            let url = bare.to_str().context("non-UTF-8 path")?;
            for done in ferry_wiring::demo::merge_open_pull_requests(
                url,
                "main",
                "Demo Reviewer",
                |branch| may_merge(url, branch),
            )? {
                lines.push(match done {
                    ferry_wiring::demo::BranchMerge::Merged(b) => {
                        format!("merged {name}-gitops: {b}")
                    }
                    ferry_wiring::demo::BranchMerge::Refused { branch, reason } => {
                        format!("not merged {name}-gitops: {branch}: {reason}")
                    }
                });
            }
        }
        Ok(lines)
    }

    /// Pushes `main` of the shop's working clone; a push that loses the
    /// race against the server's own promotion commits is rebased and
    /// tried again.
    fn push_shop(&self) -> anyhow::Result<()> {
        let mut last = None;
        for _ in 0..5 {
            match git(&self.shop_seed, &["push", "-q", "origin", "main"]) {
                Ok(_) => return Ok(()),
                Err(e) => last = Some(e),
            }
            git(
                &self.shop_seed,
                &["pull", "-q", "--rebase", "origin", "main"],
            )?;
        }
        Err(last.unwrap_or_else(|| anyhow::anyhow!("push failed")))
    }

    fn values_path(&self, env: &str) -> PathBuf {
        self.shop_seed
            .join(format!("apps/{BROKEN_SERVICE}/{env}/values.yaml"))
    }

    /// Sets `replicaCount` of checkout's values in `env` to `to` (keeping
    /// every other byte); returns the value it had.
    fn set_replicas(&self, env: &str, to: &str) -> anyhow::Result<String> {
        let path = self.values_path(env);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut old = None;
        let new: Vec<String> = text
            .lines()
            .map(|l| match l.strip_prefix("replicaCount:") {
                Some(v) if old.is_none() => {
                    old = Some(v.trim().to_owned());
                    format!("replicaCount: {to}")
                }
                _ => l.to_owned(),
            })
            .collect();
        let old = old.with_context(|| format!("{} has no replicaCount", path.display()))?;
        std::fs::write(&path, new.join("\n") + "\n")?;
        Ok(old)
    }

    /// The replica count checkout has in `env` in the examples.
    fn example_replicas(env: &str) -> Option<String> {
        let file = format!("gitops/shop/apps/{BROKEN_SERVICE}/{env}/values.yaml");
        let (_, text) = EXAMPLES.iter().find(|(p, _)| *p == file)?;
        text.lines()
            .find_map(|l| l.strip_prefix("replicaCount:"))
            .map(|v| v.trim().to_owned())
    }

    /// Breaks the deployment of checkout in `env` the way a hurried
    /// change would: a commit that scales it to zero replicas. The next
    /// promotion into `env` then fails in its `health-check` post-action.
    /// Returns the commit, or `None` when `env` is broken already.
    pub fn break_environment(&self, env: &str) -> anyhow::Result<Option<String>> {
        check_fail_target(env)?;
        self.check()?;
        git(
            &self.shop_seed,
            &["pull", "-q", "--rebase", "origin", "main"],
        )?;
        let old = self.set_replicas(env, "0")?;
        if old == "0" {
            return Ok(None);
        }
        git(
            &self.shop_seed,
            &[
                "commit",
                "-q",
                "-am",
                &format!(
                    "{env}: scale {BROKEN_SERVICE} down to 0 replicas\n\nMade by `ferry demo --fail {env}`; `ferry demo --fix` scales it back up."
                ),
            ],
        )?;
        self.push_shop()?;
        git(&self.shop_seed, &["rev-parse", "HEAD"]).map(Some)
    }

    /// Repairs every environment `--fail` broke (checkout back to its
    /// replica count of the examples), in one commit; returns the
    /// environments repaired. A Retry of the failed release then passes.
    pub fn fix(&self) -> anyhow::Result<Vec<String>> {
        self.check()?;
        git(
            &self.shop_seed,
            &["pull", "-q", "--rebase", "origin", "main"],
        )?;
        let mut fixed = Vec::new();
        for env in FAILABLE {
            let want = DemoLayout::example_replicas(env).unwrap_or_else(|| "1".into());
            if self.set_replicas(env, &want)? == "0" {
                fixed.push((*env).to_owned());
            }
        }
        if fixed.is_empty() {
            git(&self.shop_seed, &["checkout", "-q", "--", "."])?;
            return Ok(fixed);
        }
        git(
            &self.shop_seed,
            &[
                "commit",
                "-q",
                "-am",
                &format!("{}: scale {BROKEN_SERVICE} back up", fixed.join(", ")),
            ],
        )?;
        self.push_shop()?;
        Ok(fixed)
    }

    /// A new commit in the trigger environment (`dev`): new image tags and
    /// versions for every shop service. The server's poller turns it into
    /// the next release.
    pub fn commit(&self, message: Option<&str>) -> anyhow::Result<String> {
        self.check()?;
        git(
            &self.shop_seed,
            &["pull", "-q", "--rebase", "origin", "main"],
        )?;
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let tag = format!("main-{:07x}", stamp & 0xfff_ffff);
        let minor = (stamp / 60) % 1000;
        for service in ["catalog", "checkout", "storefront"] {
            let d = self.shop_seed.join(format!("apps/{service}/dev"));
            let values = std::fs::read_to_string(d.join("values.yaml"))?;
            let values: String = values
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with("tag: main-") {
                        format!("  tag: {tag}   # promoted by ferry")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(d.join("values.yaml"), values + "\n")?;
            let chart = std::fs::read_to_string(d.join("Chart.yaml"))?;
            let chart: String = chart
                .lines()
                .map(|l| {
                    if l.starts_with("appVersion:") {
                        format!("appVersion: \"1.{minor}.0\"")
                    } else {
                        l.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(d.join("Chart.yaml"), chart + "\n")?;
            if service == "storefront" {
                std::fs::write(
                    d.join("version.yaml"),
                    format!("# Release version of the storefront\nversion: 54.{minor}\n"),
                )?;
            }
        }
        let message = message.map_or_else(
            || format!("feat: build {tag} for every shop service"),
            str::to_owned,
        );
        git(&self.shop_seed, &["commit", "-q", "-am", &message])?;
        self.push_shop()?;
        git(&self.shop_seed, &["rev-parse", "HEAD"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The environment lists above are the examples' own.
    #[test]
    fn the_lists_match_the_examples() {
        let (_, envs) = EXAMPLES
            .iter()
            .find(|(p, _)| *p == "config/environments/environments.yaml")
            .unwrap();
        let names: Vec<&str> = envs
            .lines()
            .filter_map(|l| l.strip_prefix("  name: "))
            .collect();
        assert_eq!(names, ENVIRONMENTS);
        for env in FAILABLE {
            assert!(DemoLayout::example_replicas(env).is_some_and(|r| r != "0"));
        }
        let (_, policies) = EXAMPLES
            .iter()
            .find(|(p, _)| *p == "config/policies/policies.yaml")
            .unwrap();
        assert!(policies.contains("postAction: health-check"));
    }

    #[test]
    fn fail_names_the_choices() {
        assert!(check_fail_target("staging").is_ok());
        assert_eq!(
            check_fail_target("prod").unwrap_err().to_string(),
            "--fail prod: the demo has no environment `prod` (its environments: dev, qa, perf, staging, prod-eu, prod-us); choose qa or staging"
        );
        assert_eq!(
            check_fail_target("perf").unwrap_err().to_string(),
            "--fail perf: the demo's perf runs no health check after deploying, so nothing would fail there; choose qa or staging"
        );
    }
}
