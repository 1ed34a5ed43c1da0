//! The container image (issue 22): `scripts/image` builds it with buildah
//! from scratch and checks it from the inside (`ferry --version`, `ferry
//! validate` chrooted into its root filesystem); here it is pushed to a
//! real registry (Debian's `docker-registry` on a loopback port), read back
//! with `skopeo`, and held to the `Dockerfile`: the same user, entrypoint,
//! command, port, environment, working directory and labels, the binary at
//! the entrypoint's path, the user in /etc/passwd, the data directory
//! owned by it, and the Debian packages the Dockerfile installs.
//!
//! The binary packaged is the one this test run built (debug): the image's
//! layout and its check do not depend on the profile, and a release build
//! would cost CI minutes. Users' images take the release binary
//! (`scripts/image` without `--binary`).

#[path = "support/dockerfile.rs"]
mod dockerfile;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use dockerfile::FinalStage;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?} does not start: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(cmd: &mut Command) -> Value {
    let out = run(cmd);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd:?}: not JSON: {e}"))
}

/// Debian's `docker-registry` on a free loopback port, killed on drop.
struct Registry {
    child: Child,
    addr: String,
}

impl Registry {
    fn start(dir: &Path) -> Registry {
        let bin = Path::new("/usr/bin/docker-registry");
        assert!(
            bin.exists(),
            "{} is missing: install Debian's docker-registry (scripts/test does)",
            bin.display()
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.join("registry.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.join("blobs").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, addr };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !registry.answers() {
            assert!(
                Instant::now() < deadline,
                "the registry on {} did not start:\n{}",
                registry.addr,
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(&self.addr) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// buildah's private storage holds files owned by the user namespace's
/// ids when the test does not run as root: only `buildah unshare` can
/// remove them.
struct Storage(PathBuf);

impl Drop for Storage {
    fn drop(&mut self) {
        let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if !as_root {
            let _ = Command::new("buildah")
                .args(["unshare", "rm", "-rf"])
                .arg(&self.0)
                .status();
        }
    }
}

/// `tar -tvf`: path → (mode string, "uid/gid").
fn listing(layer: &Path) -> BTreeMap<String, (String, String)> {
    let out = run(Command::new("tar")
        .args(["--numeric-owner", "-tvf"])
        .arg(layer));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let path = f[5].trim_end_matches('/').to_owned();
            (path, (f[0].to_owned(), f[1].to_owned()))
        })
        .collect()
}

fn layer_file(layer: &Path, path: &str) -> Vec<u8> {
    run(Command::new("tar").args(["-xOf"]).arg(layer).arg(path)).stdout
}

#[test]
fn the_image_built_with_buildah_has_the_dockerfiles_layout() {
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::start(dir.path());
    let storage = Storage(dir.path().join("storage"));
    let binary = env!("CARGO_BIN_EXE_ferry");
    let version = env!("CARGO_PKG_VERSION");
    let reference = format!("{}/ferry:{version}", registry.addr);

    let built = run(Command::new(root().join("scripts/image"))
        .arg("--binary")
        .arg(binary)
        .arg("--storage")
        .arg(&storage.0)
        .args(["--tag", &format!("localhost/ferry-image-test:{version}")])
        .args(["--push", &reference]));
    let log = String::from_utf8_lossy(&built.stderr);
    // The script checked the image from the inside before committing it.
    for line in [
        "ferry --version: ferry ",
        "ferry validate /tmp/config: valid",
        "ferry validate file:///tmp/config: valid",
    ] {
        assert!(log.contains(line), "no `{line}` in:\n{log}");
    }

    // What the registry holds: an OCI manifest with one layer.
    let docker = format!("docker://{reference}");
    let skopeo = |args: &[&str]| {
        let mut c = Command::new("skopeo");
        c.args(args);
        c
    };
    let manifest = json(&mut skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--raw",
        &docker,
    ]));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let config = json(&mut skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--config",
        &docker,
    ]));
    let c = &config["config"];

    // The Dockerfile's final stage, instruction by instruction.
    let stage = FinalStage::read(&root());
    assert_eq!(c["User"], stage.last("USER"));
    assert_eq!(c["WorkingDir"], stage.last("WORKDIR"));
    let exposed: Vec<&String> = c["ExposedPorts"].as_object().unwrap().keys().collect();
    let declared: Vec<String> = stage
        .all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .map(|p| {
            if p.contains('/') {
                p.to_owned()
            } else {
                format!("{p}/tcp")
            }
        })
        .collect();
    assert_eq!(exposed, declared.iter().collect::<Vec<_>>());
    assert_eq!(
        serde_json::from_value::<Vec<String>>(c["Entrypoint"].clone()).unwrap(),
        stage.exec_form("ENTRYPOINT")
    );
    assert_eq!(
        serde_json::from_value::<Vec<String>>(c["Cmd"].clone()).unwrap(),
        stage.exec_form("CMD")
    );
    let env: BTreeMap<String, String> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let (k, v) = e.as_str().unwrap().split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect();
    // The Dockerfile's image inherits PATH from debian:bookworm-slim.
    let mut expected_env = stage.pairs("ENV");
    expected_env.insert(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
    );
    assert_eq!(env, expected_env);
    let labels = c["Labels"].as_object().unwrap();
    for (k, v) in stage.pairs("LABEL") {
        assert_eq!(
            labels.get(&k).and_then(Value::as_str),
            Some(v.as_str()),
            "label {k}"
        );
    }
    assert_eq!(labels["org.opencontainers.image.version"], version);
    assert_eq!(config["os"], "linux");

    // The layer, as pulled back from the registry.
    let pulled = dir.path().join("pulled");
    run(
        skopeo(&["copy", "--quiet", "--src-tls-verify=false", &docker])
            .arg(format!("dir:{}", pulled.display())),
    );
    let digest = layers[0]["digest"].as_str().unwrap();
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // Decompressed once for the reads below.
    let layer = dir.path().join("layer.tar");
    let gz = pulled.join(digest.trim_start_matches("sha256:"));
    let tar = run(Command::new("gzip").arg("-dc").arg(&gz)).stdout;
    std::fs::write(&layer, tar).unwrap();
    let files = listing(&layer);
    let entrypoint = &stage.exec_form("ENTRYPOINT")[0];
    let (mode, owner) = &files[entrypoint.trim_start_matches('/')];
    assert_eq!((mode.as_str(), owner.as_str()), ("-rwxr-xr-x", "0/0"));
    let copied = stage
        .all("COPY")
        .iter()
        .any(|c| c.ends_with(entrypoint.as_str()));
    assert!(copied, "the Dockerfile copies the binary to the entrypoint");
    assert!(
        layer_file(&layer, entrypoint.trim_start_matches('/')) == std::fs::read(binary).unwrap(),
        "the image's {entrypoint} is not the binary given to scripts/image"
    );
    // The user exists (ssh and git look it up), owns the data directory
    // and has it as its home.
    let user = stage.last("USER");
    let (uid, gid) = user.split_once(':').unwrap();
    let workdir = stage.last("WORKDIR");
    let passwd = String::from_utf8(layer_file(&layer, "etc/passwd")).unwrap();
    let entry: Vec<&str> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[2] == uid)
        .unwrap_or_else(|| panic!("no user {uid} in /etc/passwd:\n{passwd}"));
    assert_eq!((entry[3], entry[5]), (gid, workdir), "{entry:?}");
    let group = String::from_utf8(layer_file(&layer, "etc/group")).unwrap();
    assert!(
        group.lines().any(|l| l.split(':').nth(2) == Some(gid)),
        "no group {gid} in /etc/group:\n{group}"
    );
    let (mode, owner) = &files[workdir.trim_start_matches('/')];
    assert!(mode.starts_with('d'), "{workdir}: {mode}");
    assert_eq!(owner, &format!("{uid}/{gid}"), "{workdir}");
    assert_eq!(files["tmp"].0, "drwxrwxrwt");
    // Nothing runs with more rights than it was started with.
    let setid: Vec<_> = files
        .iter()
        .filter(|(_, (m, _))| m.contains(['s', 'S']) && !m.starts_with('l'))
        .collect();
    assert!(setid.is_empty(), "set-id files: {setid:?}");
    // The run-time packages the Dockerfile installs are in the image, with
    // their dpkg record (for scanners) and licence; git with its HTTP helper.
    let packages: Vec<String> = stage
        .run_words()
        .iter()
        .skip_while(|w| *w != "--no-install-recommends")
        .skip(1)
        .take_while(|w| !w.starts_with('&'))
        .cloned()
        .collect();
    assert!(packages.contains(&"git".to_owned()), "{packages:?}");
    for p in &packages {
        assert!(
            files.contains_key(&format!("var/lib/dpkg/status.d/{p}")),
            "{p}"
        );
        assert!(
            files.contains_key(&format!("usr/share/doc/{p}/copyright")),
            "{p}"
        );
    }
    for f in [
        "usr/bin/git",
        "usr/lib/git-core/git-remote-https",
        "usr/bin/ssh",
        "bin",
        "usr/bin/sh",
        "etc/ssl/certs/ca-certificates.crt",
    ] {
        assert!(files.contains_key(f), "the image has no /{f}");
    }
    drop(registry);
}
