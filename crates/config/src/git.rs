//! Reading a configuration from a Git repository.
//!
//! A shallow, single-branch clone into a temporary directory: configuration
//! repositories are small and read rarely, so this favours simplicity; the
//! server's long-lived reader keeps a mirror instead (ferry-git).

use ferry_model::Loaded;

use crate::{Budget, ConfigError, ConfigSource, dir, redact_url};

/// Clones the repository, then loads the files at `path` within `budget`;
/// the checkout is removed when loading is done.
pub(crate) fn load_repository(
    source: &ConfigSource,
    url: &str,
    branch: Option<&str>,
    path: Option<&str>,
    budget: &Budget,
) -> Result<Loaded, ConfigError> {
    let tmp = tempfile::tempdir()?;
    let checkout = tmp.path().join("config");
    let mut cmd = crate::timeout::git_command();
    cmd.args([
        "clone",
        "--quiet",
        "--depth",
        "1",
        "--single-branch",
        "--no-tags",
    ]);
    if let Some(b) = branch {
        cmd.args(["--branch", b]);
    }
    cmd.arg("--").arg(url).arg(&checkout);
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true");
    let output = crate::timeout::output_with_timeout(&mut cmd, crate::timeout::CLONE_TIMEOUT)
        .map_err(|e| ConfigError::Git {
            url: redact_url(url),
            operation: "clone",
            message: format!("cannot run git: {e}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(ConfigError::Git {
            url: redact_url(url),
            operation: "clone",
            message: redact_text(stderr.trim(), url),
        });
    }
    let sub = path.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty());
    let root = match sub {
        Some(p) if p.split('/').any(|c| c == "..") => {
            return Err(ConfigError::MissingPath {
                url: redact_url(url),
                branch: branch.unwrap_or("HEAD").to_owned(),
                path: p.to_owned(),
            });
        }
        Some(p) => checkout.join(p),
        None => checkout.clone(),
    };
    if !root.exists() {
        return Err(ConfigError::MissingPath {
            url: redact_url(url),
            branch: branch.unwrap_or("HEAD").to_owned(),
            path: sub.unwrap_or("").to_owned(),
        });
    }
    let mut entries = dir::list(&root)?;
    // Show paths relative to the repository, not the temporary checkout.
    let prefix = checkout.display().to_string();
    for e in &mut entries {
        e.display = strip(&e.display, &prefix);
    }
    dir::load(&source.describe(), &entries, budget)
}

fn strip(path: &str, prefix: &str) -> String {
    path.strip_prefix(prefix)
        .map(|r| r.trim_start_matches('/').to_owned())
        .unwrap_or_else(|| path.to_owned())
}

/// git echoes the URL it was given in its messages; hide credentials there too.
fn redact_text(text: &str, url: &str) -> String {
    let redacted = redact_url(url);
    if redacted == url {
        text.to_owned()
    } else {
        text.replace(url, &redacted)
    }
}
