//! Runs one `script`/`container` attempt as a child process in its own process
//! group, so terminate and deadlines can kill everything it started (a shell's
//! background jobs included), and keeps its output size-capped.

use std::ffi::OsString;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::watch;

use super::Stop;

/// A size-capped byte buffer: a runaway step cannot exhaust ferry's memory.
#[derive(Debug)]
pub(crate) struct CappedBuf {
    pub(crate) data: Vec<u8>,
    pub(crate) limit: usize,
    pub(crate) truncated: bool,
}

impl CappedBuf {
    pub(crate) fn new(limit: usize) -> Self {
        CappedBuf {
            data: Vec::new(),
            limit,
            truncated: false,
        }
    }

    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.data.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

/// What to run.
pub(crate) struct Spawn {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: PathBuf,
    pub(crate) deadline: Option<Duration>,
    pub(crate) grace: Duration,
}

/// How an attempt ended.
#[derive(Debug)]
pub(crate) enum Exit {
    /// The process exited; `code` is `None` when a signal killed it.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The process could not be started.
    SpawnFailed(io::Error),
    /// The template's `activeDeadlineSeconds` ran out; the group was killed.
    DeadlineExceeded,
    /// The run was stopped (terminate or workflow deadline); the group was killed.
    Stopped(Stop),
}

/// Runs the process to completion. Output goes to `log` (both streams) and
/// stdout also to `stdout` (Argo's `outputs.result`). `on_spawn` gets the
/// process group id once the child runs.
pub(crate) async fn run(
    spec: Spawn,
    log: Arc<Mutex<CappedBuf>>,
    stdout: Arc<Mutex<CappedBuf>>,
    mut stop: watch::Receiver<Stop>,
) -> Exit {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .current_dir(&spec.cwd)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Exit::SpawnFailed(e),
    };
    let pgid = child.id().map(|p| p as i32);
    let out_task = child
        .stdout
        .take()
        .map(|s| tokio::spawn(pump(s, log.clone(), Some(stdout))));
    let err_task = child
        .stderr
        .take()
        .map(|s| tokio::spawn(pump(s, log, None)));

    let deadline = async {
        match spec.deadline {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    let exit = tokio::select! {
        status = child.wait() => match status {
            Ok(s) => {
                use std::os::unix::process::ExitStatusExt;
                Exit::Exited { code: s.code(), signal: s.signal() }
            }
            Err(e) => Exit::SpawnFailed(e),
        },
        _ = deadline => {
            stop_group(pgid, &mut child, spec.grace).await;
            Exit::DeadlineExceeded
        }
        reason = super::stopped(&mut stop) => {
            stop_group(pgid, &mut child, spec.grace).await;
            Exit::Stopped(reason)
        }
    };
    // The step is over: whatever it left running in its group goes too, as it
    // would when Argo deletes the pod. This also closes pipes held by
    // background jobs, so the readers below finish.
    kill_group(pgid, libc::SIGKILL);
    for task in [out_task, err_task].into_iter().flatten() {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .is_err()
        {
            // A grandchild left the group (setsid) and holds the pipe open.
            abort.abort();
        }
    }
    exit
}

async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    log: Arc<Mutex<CappedBuf>>,
    stdout: Option<Arc<Mutex<CappedBuf>>>,
) {
    let mut buf = vec![0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                log.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(&buf[..n]);
                if let Some(s) = &stdout {
                    s.lock().unwrap_or_else(|p| p.into_inner()).push(&buf[..n]);
                }
            }
        }
    }
}

/// SIGTERM to the group, `grace` to exit, then SIGKILL (what Kubernetes does).
async fn stop_group(pgid: Option<i32>, child: &mut tokio::process::Child, grace: Duration) {
    kill_group(pgid, libc::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        kill_group(pgid, libc::SIGKILL);
        let _ = child.wait().await;
    }
}

fn kill_group(pgid: Option<i32>, signal: i32) {
    if let Some(pgid) = pgid.filter(|p| *p > 1) {
        // SAFETY: kill(2) with a negative pid signals a process group; it has no
        // memory-safety preconditions. ESRCH (group already gone) is fine.
        unsafe {
            libc::kill(-pgid, signal);
        }
    }
}
