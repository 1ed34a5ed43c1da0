//! A real smart-HTTP git server for tests: `git http-backend` (CGI) behind
//! a tiny_http server on 127.0.0.1 that checks an Authorization header.
//!
//! While serving each request it also scans the command lines of all
//! processes on the machine for the secret, proving that credentials travel
//! outside argv while git is talking to us.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// What the server accepts.
#[derive(Clone)]
pub enum Auth {
    Basic { user: String, password: String },
    Bearer { token: String },
}

impl Auth {
    fn expected_header(&self) -> String {
        match self {
            Auth::Basic { user, password } => {
                format!("Basic {}", base64(format!("{user}:{password}").as_bytes()))
            }
            Auth::Bearer { token } => format!("Bearer {token}"),
        }
    }

    fn secret(&self) -> &str {
        match self {
            Auth::Basic { password, .. } => password,
            Auth::Bearer { token } => token,
        }
    }

    fn user(&self) -> &str {
        match self {
            Auth::Basic { user, .. } => user,
            Auth::Bearer { .. } => "token-user",
        }
    }
}

/// What the server saw.
#[derive(Default, Debug)]
pub struct Log {
    /// `METHOD path?query -> status`
    pub requests: Vec<String>,
    pub rejected: usize,
    pub accepted: usize,
    /// Command lines that contained the secret while a request was served.
    pub leaked_argv: Vec<String>,
}

pub struct GitHttpServer {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    pub base_url: String,
    pub log: Arc<Mutex<Log>>,
}

impl GitHttpServer {
    /// Serves the repositories under `project_root` at `http://127.0.0.1:<port>/<name>.git`.
    pub fn start(project_root: PathBuf, auth: Auth) -> GitHttpServer {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let log = Arc::new(Mutex::new(Log::default()));
        let thread = {
            let server = Arc::clone(&server);
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(request, &project_root, &auth, &log);
                }
            })
        };
        GitHttpServer {
            server,
            thread: Some(thread),
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    pub fn url(&self, repo: &str) -> String {
        format!("{}/{repo}", self.base_url)
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(mut request: tiny_http::Request, root: &PathBuf, auth: &Auth, log: &Mutex<Log>) {
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_string())
    };
    let authorization = header("Authorization");
    let git_protocol = header("Git-Protocol");
    let content_type = header("Content-Type");
    let content_encoding = header("Content-Encoding");
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let (path, query) = (path.to_string(), query.to_string());

    let expected = auth.expected_header();
    let encoded = expected.split_once(' ').unwrap().1.to_string();
    let leaks = scan_argv(&[auth.secret(), &encoded]);
    if authorization.as_deref() != Some(expected.as_str()) {
        let mut log = log.lock().unwrap();
        log.rejected += 1;
        log.leaked_argv.extend(leaks);
        log.requests.push(format!("{method} {url} -> 401"));
        let response = tiny_http::Response::from_string("authentication required")
            .with_status_code(401)
            .with_header(
                tiny_http::Header::from_bytes("WWW-Authenticate", "Basic realm=\"ferry-test\"")
                    .unwrap(),
            );
        let _ = request.respond(response);
        return;
    }

    let mut body = Vec::new();
    request.as_reader().read_to_end(&mut body).unwrap();
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_USER", auth.user())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(ct) = content_type {
        cmd.env("CONTENT_TYPE", ct);
    }
    if let Some(ce) = content_encoding {
        cmd.env("HTTP_CONTENT_ENCODING", ce);
    }
    if let Some(p) = git_protocol {
        cmd.env("GIT_PROTOCOL", p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();

    // CGI response: headers, blank line, body.
    let out = output.stdout;
    let split = find(&out, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(&out, b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (
            String::from_utf8_lossy(&out[..i]).into_owned(),
            out[i + n..].to_vec(),
        ),
        None => (String::new(), out),
    };
    let mut status = 200;
    let mut headers = Vec::new();
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("Status") {
                status = value.split(' ').next().unwrap().parse().unwrap();
            } else {
                headers.push(tiny_http::Header::from_bytes(name.trim(), value).unwrap());
            }
        }
    }
    {
        let mut log = log.lock().unwrap();
        log.accepted += 1;
        log.leaked_argv.extend(leaks);
        log.requests.push(format!("{method} {url} -> {status}"));
    }
    let len = body.len();
    let response = tiny_http::Response::new(
        tiny_http::StatusCode(status),
        headers,
        std::io::Cursor::new(body),
        Some(len),
        None,
    );
    let _ = request.respond(response);
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Command lines of running processes that contain `secret`.
fn scan_argv(secrets: &[&str]) -> Vec<String> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return hits;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if secrets.iter().any(|s| text.contains(s)) {
                hits.push(text);
            }
        }
    }
    hits
}

pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in input.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}
