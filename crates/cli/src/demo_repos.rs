//! The demo's local GitOps world, built from the embedded `examples/`:
//! two bare repositories (shop, ledger) seeded with the example layout, and
//! a configuration directory whose Applications point at them.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

include!(concat!(env!("OUT_DIR"), "/examples.rs"));

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

    /// Creates the repositories and configuration unless they exist.
    pub fn prepare(dir: &Path, progress: &dyn Fn(&str)) -> anyhow::Result<DemoLayout> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize()?;
        let layout = DemoLayout::at(&dir);
        if layout.config_dir.exists() {
            progress("reusing the demo repositories and configuration");
            return Ok(layout);
        }
        for (_, name) in REPOS {
            progress(&format!("creating the GitOps repository {name}-gitops"));
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
        progress("writing the configuration (examples/config, pointed at the local repositories)");
        for (path, text) in EXAMPLES.iter().filter(|(p, _)| p.starts_with("config/")) {
            let mut text = (*text).to_owned();
            for (url, name) in REPOS {
                let local = dir.join(format!("repos/{name}-gitops.git"));
                text = text.replace(url, &local.display().to_string());
            }
            write(&layout.config_dir.join(&path["config/".len()..]), &text)?;
        }
        // A first build in dev, so the first release has something to promote.
        layout.commit(Some("feat: first build of every shop service"))?;
        Ok(layout)
    }

    /// Merges every open promotion pull-request branch (`ferry/…`) of the
    /// shop repository, as a reviewer would; returns the branches merged.
    pub fn merge_pull_requests(&self) -> anyhow::Result<Vec<String>> {
        if !self.shop_seed.exists() {
            bail!("no demo in {} (run `ferry demo` first)", self.dir.display());
        }
        git(&self.shop_seed, &["fetch", "-q", "--prune", "origin"])?;
        git(
            &self.shop_seed,
            &["pull", "-q", "--rebase", "origin", "main"],
        )?;
        let branches = git(
            &self.shop_seed,
            &[
                "branch",
                "-r",
                "--no-merged",
                "main",
                "--format=%(refname:short)",
            ],
        )?;
        let mut merged = Vec::new();
        for branch in branches
            .lines()
            .map(str::trim)
            .filter(|b| b.starts_with("origin/ferry/"))
        {
            let name = branch.trim_start_matches("origin/");
            git(
                &self.shop_seed,
                &[
                    "merge",
                    "-q",
                    "--no-ff",
                    "-m",
                    &format!("Merge promotion pull request {name}"),
                    branch,
                ],
            )?;
            merged.push(name.to_owned());
        }
        if !merged.is_empty() {
            git(&self.shop_seed, &["push", "-q", "origin", "main"])?;
        }
        Ok(merged)
    }

    /// A new commit in the trigger environment (`dev`): new image tags and
    /// versions for every shop service. The server's poller turns it into
    /// the next release.
    pub fn commit(&self, message: Option<&str>) -> anyhow::Result<String> {
        if !self.shop_seed.exists() {
            bail!("no demo in {} (run `ferry demo` first)", self.dir.display());
        }
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
        git(&self.shop_seed, &["push", "-q", "origin", "main"])?;
        git(&self.shop_seed, &["rev-parse", "HEAD"])
    }
}
