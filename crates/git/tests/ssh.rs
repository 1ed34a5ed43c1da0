//! Fetch and push over real SSH: an OpenSSH server (`sshd`, package
//! openssh-server) started by the test on 127.0.0.1 with its own host key,
//! authorized key and configuration; ferry connects with a key file and a
//! known_hosts file, host keys checked strictly.

mod common;

use std::convert::Infallible;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use ferry_git::{
    Change, CommitSpec, Credentials, Error, Mirror, PushOptions, PushTarget, Remote, Signature,
    promotion_message,
};

const SSHD: &str = "/usr/sbin/sshd";

struct Sshd {
    child: Child,
    port: u16,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "ferry-test", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

fn user() -> String {
    String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_string()
}

fn start_sshd(dir: &Path) -> Sshd {
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} not found: the ssh transport test needs OpenSSH's server (apt-get install openssh-server)"
    );
    // sshd insists on its privilege-separation directory.
    std::fs::create_dir_all("/run/sshd").unwrap();
    keygen(&dir.join("host_key"));
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {auth}\nPidFile {pid}\n\
             StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nAllowUsers {user}\nLogLevel ERROR\n",
            host = dir.join("host_key").display(),
            auth = dir.join("authorized_keys").display(),
            pid = dir.join("sshd.pid").display(),
            user = user(),
        ),
    )
    .unwrap();
    let child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let sshd = Sshd { child, port };
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sshd did not start listening"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    sshd
}

fn known_hosts(dir: &Path, port: u16, host_pub: &Path) -> PathBuf {
    let key = std::fs::read_to_string(host_pub).unwrap();
    let path = dir.join(format!(
        "known_hosts-{}",
        host_pub.file_name().unwrap().to_string_lossy()
    ));
    std::fs::write(&path, format!("[127.0.0.1]:{port} {key}")).unwrap();
    path
}

fn spec() -> CommitSpec {
    CommitSpec {
        author: Signature::new("Ferry Bot", "ferry@example.com"),
        committer: None,
        message: promotion_message("trio", "3.0", "qa", "trio-qa", "01SSH"),
    }
}

#[test]
fn ssh_with_key_and_strict_known_hosts() {
    let tmp = TempDir::new("ssh");
    let files = gitops_files();
    let remote = bare_remote(tmp.path(), "gitops", &as_refs(&files));
    keygen(&tmp.join("client_key"));
    std::fs::copy(tmp.join("client_key.pub"), tmp.join("authorized_keys")).unwrap();
    let sshd = start_sshd(tmp.path());
    let url = format!(
        "ssh://{}@127.0.0.1:{}{}",
        user(),
        sshd.port,
        remote.display()
    );
    let good_hosts = known_hosts(tmp.path(), sshd.port, &tmp.join("host_key.pub"));
    let creds = |key: &str, hosts: &Path| Credentials::Ssh {
        key_file: tmp.join(key),
        known_hosts: hosts.to_path_buf(),
    };

    // Clone, read, push, fetch.
    let mirror = Mirror::open(
        &tmp.join("cache"),
        Remote::new(&url, creds("client_key", &good_hosts)).unwrap(),
    )
    .unwrap();
    assert_eq!(
        mirror
            .read_file("main", "envs/qa/trio/version.yaml")
            .unwrap()
            .unwrap(),
        b"version: 54.1\n"
    );
    let outcome = mirror
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec(),
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![Change::write(
                    "envs/qa/trio/version.yaml",
                    "version: 3.0\n",
                )])
            },
        )
        .unwrap();
    assert_eq!(
        outcome.commit.unwrap().to_string(),
        rev_parse(&remote, "main")
    );
    let external = external_push(
        tmp.path(),
        &remote,
        "main",
        &[("envs/dev/x.yaml", "x\n")],
        "external",
    );
    mirror.fetch().unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_string(), external);

    // A server whose host key is not the known one is refused.
    keygen(&tmp.join("other_host_key"));
    let wrong_hosts = known_hosts(tmp.path(), sshd.port, &tmp.join("other_host_key.pub"));
    let err = Mirror::open(
        &tmp.join("cache-hostkey"),
        Remote::new(&url, creds("client_key", &wrong_hosts)).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    assert!(
        err.to_string().contains("Host key verification failed"),
        "{err}"
    );
    assert!(err.to_string().contains("known_hosts"), "{err}");

    // A key the server does not accept is refused.
    keygen(&tmp.join("stranger_key"));
    let err = Mirror::open(
        &tmp.join("cache-key"),
        Remote::new(&url, creds("stranger_key", &good_hosts)).unwrap(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Authentication { .. }), "{err}");
    assert!(
        err.to_string().contains("Permission denied (publickey"),
        "{err}"
    );
}
