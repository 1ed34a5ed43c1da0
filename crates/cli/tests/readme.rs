//! The README's first hour, checked: its two commands are the ones CI and
//! a newcomer run, and the demo they start serves the release list with
//! release #1 (issue 12). The demo runs from the binary cargo built for
//! this test — `cargo run --release -p ferry-cli -- demo` builds the same
//! `ferry demo`, only optimised.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The commands of the first ```sh block under "Two commands on a fresh machine".
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let section = readme
        .split("## Two commands on a fresh machine")
        .nth(1)
        .expect("the README has the two-commands section near the top");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block in that section");
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_readme_names_the_demo_and_the_command_ci_runs() {
    assert_eq!(
        readme_commands(),
        vec!["cargo run --release -p ferry-cli -- demo", "scripts/test"]
    );
    let ci = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let last = ci
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap();
    assert_eq!(
        last, "exec scripts/test",
        "CI runs exactly the README's test command"
    );
    assert!(root().join("scripts/test").is_file());
}

struct Demo(Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the demo");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, text)
}

#[test]
fn the_demo_serves_the_release_list_with_its_first_release() {
    let dir = tempfile::tempdir().unwrap();
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["demo", "--listen", &addr])
        .current_dir(dir.path())
        .env("FERRY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry demo");
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);
    let mut release_url = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.expect("demo output");
        if let Some(url) = line.strip_prefix("release #1 of shop: ") {
            release_url = Some(url.trim().to_owned());
        }
        if line.starts_with("ferry is serving on ") {
            break;
        }
    }
    // Keep reading: the demo prints more, and a closed pipe would end it.
    std::thread::spawn(move || lines.for_each(drop));
    let release_url = release_url.expect("the demo prints release #1's URL");
    assert_eq!(
        release_url,
        format!("http://{addr}/products/shop/releases/1")
    );
    // The release list, as a newcomer opens it (anonymous read is on).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, page) = get(&addr, "/products/shop/releases");
        assert_eq!(code, 200, "{page}");
        if page.contains("href=\"/products/shop/releases/1\"") {
            break;
        }
        assert!(Instant::now() < deadline, "release #1 not listed:\n{page}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, page) = get(&addr, "/products/shop/releases/1");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("shop release #1"), "{page}");
}
