//! Running `git` against a remote with a deadline. A configuration
//! repository that stops answering (a hung TLS handshake, a half-open
//! connection) must not hold the server's start or its configuration
//! watcher forever; git's own `http.lowSpeed*` settings only cover a
//! transfer that has begun, so the whole command gets a wall-clock limit.

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest time a `git clone` of a configuration repository may take.
pub const CLONE_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest time a `git ls-remote` may take.
pub const LS_REMOTE_TIMEOUT: Duration = Duration::from_secs(60);

/// `git -c http.lowSpeedLimit=1000 -c http.lowSpeedTime=60`: abort a
/// transfer slower than 1 kB/s for a minute.
pub fn git_command() -> Command {
    let mut cmd = Command::new("git");
    cmd.args([
        "-c",
        "http.lowSpeedLimit=1000",
        "-c",
        "http.lowSpeedTime=60",
    ]);
    cmd.env("GIT_TERMINAL_PROMPT", "0");
    cmd
}

/// Runs `cmd` to completion, or kills it after `timeout` and returns
/// `ErrorKind::TimedOut`. Output is read on threads so a chatty process
/// cannot block on a full pipe.
pub fn output_with_timeout(cmd: &mut Command, timeout: Duration) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", timeout.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_command_is_killed_at_the_deadline() {
        let err = output_with_timeout(
            Command::new("sh").args(["-c", "sleep 30"]),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        let ok = output_with_timeout(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(ok.status.success());
        assert_eq!(ok.stdout, b"out\n");
        assert_eq!(ok.stderr, b"err\n");
    }
}
