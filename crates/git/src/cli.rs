//! Running the git CLI for the network operations (clone, fetch, push).
//!
//! Why the CLI: it speaks every transport and authentication scheme the
//! forges use, with the host's proxy and TLS configuration, and is what the
//! plumbing-floor benchmark measures against. libgit2 is used only locally.
//!
//! Every command runs in its own process group under a deadline
//! ([`Remote::timeout`]): a remote that stops answering must not hold the
//! mirror lock (and with it every promotion to that repository) forever.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;

use crate::error::{Error, Result};
use crate::transport::Remote;

/// Runs `git <args>` in `dir` with the remote's environment. Returns the
/// output on success; on failure a redacted, classified error.
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
    run_with_input(remote, dir, operation, args, None)
}

/// [`run`] with `input` written to the command's standard input (object
/// ids for `fetch --stdin`: a list of thousands would not fit in argv).
pub(crate) fn run_with_input<I, S>(
    remote: &Remote,
    dir: &Path,
    operation: &'static str,
    args: I,
    input: Option<Vec<u8>>,
) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let output = spawn_with_input(remote, dir, operation, args, input)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(remote, operation, &output))
    }
}

/// Runs the command and returns its output whatever the exit status; only
/// a failure to start or the deadline passing are errors.
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
    spawn_with_input(remote, dir, operation, args, None)
}

fn spawn_with_input<I, S>(
    remote: &Remote,
    dir: &Path,
    operation: &'static str,
    args: I,
    input: Option<Vec<u8>>,
) -> Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let spawn_error = |source| Error::Spawn { operation, source };
    let _record = Record(std::time::Instant::now());
    let mut child = remote
        .git_command()
        .current_dir(dir)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own group, so a timeout kills git's helpers (ssh, git-remote-https) too.
        .process_group(0)
        .spawn()
        .map_err(spawn_error)?;
    let pid = child.id();
    // Written on its own thread: git may answer before it has read all of it.
    let feeder = match (input, child.stdin.take()) {
        (Some(bytes), Some(mut stdin)) => Some(thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        })),
        _ => None,
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (tx, rx) = mpsc::channel::<std::io::Result<ExitStatus>>();
    let waiter = thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = match rx.recv_timeout(remote.timeout()) {
        Ok(status) => status.map_err(spawn_error)?,
        Err(_) => {
            // Kill the whole group (git and its helpers), then let the waiter reap it.
            kill_group(pid);
            let _ = waiter.join();
            return Err(Error::Timeout {
                operation,
                url: remote.display_url(),
                seconds: remote.timeout().as_secs(),
            });
        }
    };
    let _ = waiter.join();
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Counts the command in [`crate::stats`] however `spawn` returns.
struct Record(std::time::Instant);

impl Drop for Record {
    fn drop(&mut self) {
        crate::stats::record(self.0.elapsed());
    }
}

/// Sends SIGKILL to the process group `pgid`.
fn kill_group(pgid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
    // addresses the process group the child leads (created by
    // `process_group(0)`). Its id could only have been reused if the child
    // exited and was reaped in the instant after the deadline and a new group
    // took the id meanwhile.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Reads a pipe to the end on its own thread (so neither pipe can fill up
/// and block the child while we wait on the other).
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
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
