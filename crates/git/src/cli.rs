//! Running the git CLI for the network operations (clone, fetch, push).
//!
//! Why the CLI: it speaks every transport and authentication scheme the
//! forges use, with the host's proxy and TLS configuration, and is what the
//! plumbing-floor benchmark measures against. libgit2 is used only locally.

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Output, Stdio};

use crate::error::{Error, Result};
use crate::transport::Remote;

/// Runs `git <args>` in `dir` with the remote's environment. Returns stdout
/// on success; on failure a redacted, classified error.
pub(crate) fn run<I, S>(
    remote: &Remote,
    dir: &Path,
    operation: &'static str,
    args: I,
) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = spawn(remote, dir, operation, args)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(remote, operation, &output))
    }
}

/// Runs the command and returns its output whatever the exit status.
pub(crate) fn spawn<I, S>(
    remote: &Remote,
    dir: &Path,
    operation: &'static str,
    args: I,
) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    remote
        .git_command()
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Spawn { operation, source })
}

/// The classified error for a failed command.
pub(crate) fn failure(remote: &Remote, operation: &'static str, output: &Output) -> Error {
    let stderr = remote.redact(String::from_utf8_lossy(&output.stderr).trim());
    let url = remote.display_url();
    if is_auth_failure(&stderr) {
        Error::Authentication {
            operation,
            url,
            hint: remote.credentials_hint(),
            stderr,
        }
    } else {
        Error::Command {
            operation,
            url,
            status: output.status.code(),
            stderr,
        }
    }
}

/// git's wording when credentials are missing or refused, over http and ssh.
fn is_auth_failure(stderr: &str) -> bool {
    const MARKERS: &[&str] = &[
        "Authentication failed",
        "could not read Username",
        "could not read Password",
        "terminal prompts disabled",
        "returned error: 401",
        "returned error: 403",
        "Permission denied (publickey",
        "Host key verification failed",
    ];
    MARKERS.iter().any(|m| stderr.contains(m))
}
