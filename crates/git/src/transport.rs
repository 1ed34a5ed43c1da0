//! Remote URLs, credentials and the environment of the git processes that
//! talk to a remote.
//!
//! Why env and not argv: arguments of a running process are world-readable
//! (`ps`), so credentials travel only through the child's environment:
//! an `Authorization` header via `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
//! `GIT_CONFIG_VALUE_n` (scoped to the remote URL, so a redirect to another
//! host does not receive it) and an ssh command via `GIT_SSH_COMMAND`.
//! Interactive prompts are disabled so a missing credential fails fast
//! instead of hanging a promotion.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::redact::{Redactor, redact_url};

/// A secret string whose `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value; only for handing it to a transport.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Secret(s.to_string())
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Secret(s)
    }
}

/// How to authenticate to a remote.
#[derive(Clone, Debug, Default)]
pub enum Credentials {
    /// Nothing (local paths, `file://`, public repositories, or whatever the
    /// host's git configuration provides).
    #[default]
    None,
    /// HTTP(S) basic authentication.
    Basic { username: String, password: Secret },
    /// An HTTP(S) access token sent as the basic-auth password: the form the
    /// forges accept for Git over HTTPS (GitHub: user `x-access-token`,
    /// GitLab: `oauth2`, Bitbucket: `x-token-auth`).
    Token { username: String, token: Secret },
    /// An HTTP(S) bearer token (`Authorization: Bearer …`).
    Bearer { token: Secret },
    /// SSH with a private key file and a known_hosts file; host keys are
    /// checked strictly.
    Ssh {
        key_file: PathBuf,
        known_hosts: PathBuf,
    },
}

impl Credentials {
    /// A token for GitHub-style HTTPS (user `x-access-token`).
    pub fn token(token: impl Into<Secret>) -> Self {
        Credentials::Token {
            username: "x-access-token".to_string(),
            token: token.into(),
        }
    }

    fn http_authorization(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64(format!("{username}:{}", password.expose()).as_bytes())
            )),
            Credentials::Token { username, token } => Some(format!(
                "Basic {}",
                base64(format!("{username}:{}", token.expose()).as_bytes())
            )),
            Credentials::Bearer { token } => Some(format!("Bearer {}", token.expose())),
            Credentials::None | Credentials::Ssh { .. } => None,
        }
    }

    /// Every string that must never appear in output: raw secrets and the
    /// encoded header value.
    fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Credentials::Basic { password: s, .. }
            | Credentials::Token { token: s, .. }
            | Credentials::Bearer { token: s } => out.push(s.expose().to_string()),
            Credentials::None | Credentials::Ssh { .. } => {}
        }
        if let Some(header) = self.http_authorization()
            && let Some((_, value)) = header.split_once(' ')
        {
            out.push(value.to_string());
        }
        out
    }
}

/// The kind of transport a remote URL uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A path on this machine (absolute or relative).
    Local,
    /// `file://`
    File,
    /// `http://` or `https://`
    Http,
    /// `ssh://` or scp-like `user@host:path`
    Ssh,
}

/// A remote repository: its URL (without credentials) and how to reach it.
#[derive(Clone)]
pub struct Remote {
    url: String,
    transport: Transport,
    credentials: Credentials,
    redactor: Redactor,
    timeout: Duration,
}

/// Default deadline of one git network command (a first clone of a large
/// repository is the slowest).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// HTTP transfers slower than this many bytes per second…
const HTTP_LOW_SPEED_LIMIT: &str = "1000";
/// …for this many seconds are aborted by git itself.
const HTTP_LOW_SPEED_TIME: &str = "60";

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("transport", &self.transport)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl Remote {
    /// Parses `url` and attaches `credentials`.
    ///
    /// Credentials embedded in an http(s) URL (`https://user:pass@host/…`)
    /// are moved out of the URL into [`Credentials::Basic`] (when no explicit
    /// credentials are given), so they never reach a command line.
    pub fn new(url: &str, credentials: Credentials) -> Result<Remote> {
        let url = url.trim();
        let invalid = |reason: &str| Error::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_string(),
        };
        if url.is_empty() {
            return Err(invalid("empty URL"));
        }
        if url.starts_with('-') {
            // Would be read as an option by git.
            return Err(invalid("a URL must not start with '-'"));
        }
        if url.contains(['\n', '\r', '\0']) {
            return Err(invalid("control characters in URL"));
        }
        let (transport, url, credentials) = if let Some((scheme, rest)) = url.split_once("://") {
            match scheme.to_ascii_lowercase().as_str() {
                "file" => (Transport::File, url.to_string(), credentials),
                "ssh" | "git+ssh" | "ssh+git" => (Transport::Ssh, url.to_string(), credentials),
                "http" | "https" => {
                    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
                    let authority = &rest[..authority_end];
                    match authority.rfind('@') {
                        Some(at) => {
                            let userinfo = &authority[..at];
                            let clean = format!(
                                "{scheme}://{}{}",
                                &authority[at + 1..],
                                &rest[authority_end..]
                            );
                            let creds = match credentials {
                                Credentials::None => match userinfo.split_once(':') {
                                    Some((user, pass)) => Credentials::Basic {
                                        username: percent_decode(user),
                                        password: Secret::new(percent_decode(pass)),
                                    },
                                    // A lone user name in an https URL is a token.
                                    None => Credentials::token(percent_decode(userinfo)),
                                },
                                explicit => explicit,
                            };
                            (Transport::Http, clean, creds)
                        }
                        None => (Transport::Http, url.to_string(), credentials),
                    }
                }
                other => return Err(invalid(&format!("unsupported scheme `{other}`"))),
            }
        } else if is_scp_like(url) {
            (Transport::Ssh, url.to_string(), credentials)
        } else {
            // The mirror runs git in its own directory: make paths absolute.
            let absolute =
                std::path::absolute(url).map_err(|_| invalid("cannot make the path absolute"))?;
            (
                Transport::Local,
                absolute.to_string_lossy().into_owned(),
                credentials,
            )
        };
        match (&transport, &credentials) {
            (Transport::Http, Credentials::Ssh { .. }) => {
                return Err(invalid("ssh credentials given for an http(s) URL"));
            }
            (
                Transport::Ssh,
                Credentials::Basic { .. } | Credentials::Token { .. } | Credentials::Bearer { .. },
            ) => {
                return Err(invalid("http credentials given for an ssh URL"));
            }
            _ => {}
        }
        let redactor = Redactor::new(credentials.secrets());
        Ok(Remote {
            url,
            transport,
            credentials,
            redactor,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// A remote on this machine (path or `file://`), without credentials.
    pub fn local(path_or_url: impl AsRef<Path>) -> Result<Remote> {
        let s = path_or_url.as_ref().to_string_lossy().into_owned();
        Remote::new(&s, Credentials::None)
    }

    /// Sets the deadline of each git network command (clone, fetch, push).
    pub fn with_timeout(mut self, timeout: Duration) -> Remote {
        self.timeout = timeout;
        self
    }

    /// The deadline of each git network command.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The URL without credentials (what is stored in the mirror's config).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL as it may be shown to people.
    pub fn display_url(&self) -> String {
        redact_url(&self.url)
    }

    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Which kind of credential was offered, for authentication errors.
    pub(crate) fn credentials_hint(&self) -> &'static str {
        match &self.credentials {
            Credentials::None => "no credentials are configured for this remote",
            Credentials::Basic { .. } => "the remote refused the configured user name and password",
            Credentials::Token { .. } => "the remote refused the configured access token",
            Credentials::Bearer { .. } => "the remote refused the configured bearer token",
            Credentials::Ssh { .. } => {
                "the remote refused the configured ssh key, or its host key is not in the known_hosts file"
            }
        }
    }

    /// Masks this remote's secrets (and any URL credentials) in `text`.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// A `git` command with this remote's credentials in its environment,
    /// never in its arguments.
    pub fn git_command(&self) -> Command {
        let mut cmd = Command::new("git");
        for (key, value) in self.git_env() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// The environment for a git process talking to this remote: `Some` sets,
    /// `None` removes a variable.
    pub fn git_env(&self) -> Vec<(String, Option<OsString>)> {
        let fixed: Vec<(&str, Option<OsString>)> = vec![
            ("GIT_TERMINAL_PROMPT", Some("0".into())),
            // Never let a desktop askpass pop up or a trace print headers.
            ("GIT_ASKPASS", None),
            ("SSH_ASKPASS", None),
            ("GIT_TRACE", None),
            ("GIT_TRACE_CURL", None),
            ("GIT_TRACE_PACKET", None),
            ("GIT_CURL_VERBOSE", None),
            // Messages are parsed (push rejections), so keep them in English.
            ("LC_ALL", Some("C".into())),
            ("LANGUAGE", None),
        ];
        let mut env: Vec<(String, Option<OsString>)> =
            fixed.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        // A stalled HTTP transfer is aborted by git before the overall deadline.
        let mut config: Vec<(String, String)> = vec![
            ("http.lowSpeedLimit".into(), HTTP_LOW_SPEED_LIMIT.into()),
            ("http.lowSpeedTime".into(), HTTP_LOW_SPEED_TIME.into()),
        ];
        if let Some(header) = self.credentials.http_authorization() {
            // Scope the header to this remote so redirects elsewhere do not get it;
            // and ignore the host's credential helpers: the configured credential
            // is the one to use, and a failure must be reported, not retried with
            // something else.
            config.push(("credential.helper".into(), String::new()));
            config.push((
                format!("http.{}.extraHeader", self.url),
                format!("Authorization: {header}"),
            ));
        }
        env.push((
            "GIT_CONFIG_COUNT".into(),
            Some(config.len().to_string().into()),
        ));
        for (i, (key, value)) in config.into_iter().enumerate() {
            env.push((format!("GIT_CONFIG_KEY_{i}"), Some(key.into())));
            env.push((format!("GIT_CONFIG_VALUE_{i}"), Some(value.into())));
        }
        match &self.credentials {
            Credentials::Ssh {
                key_file,
                known_hosts,
            } => {
                env.push(("GIT_SSH_VARIANT".into(), Some("ssh".into())));
                env.push((
                    "GIT_SSH_COMMAND".into(),
                    Some(ssh_command(key_file, known_hosts).into()),
                ));
            }
            _ if self.transport == Transport::Ssh => {
                // No key configured: still never prompt for a password or a host key.
                env.push((
                    "GIT_SSH_COMMAND".into(),
                    Some(format!("ssh -o BatchMode=yes {SSH_KEEPALIVE}").into()),
                ));
            }
            _ => {}
        }
        env
    }
}

/// A dead connection is noticed within about a minute.
const SSH_KEEPALIVE: &str =
    "-o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4";

/// The ssh command line git runs (through a shell, hence the quoting).
fn ssh_command(key_file: &Path, known_hosts: &Path) -> String {
    format!(
        "ssh -i {} -o IdentitiesOnly=yes -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o BatchMode=yes {}",
        shell_quote(&key_file.to_string_lossy()),
        shell_quote(&known_hosts.to_string_lossy()),
        SSH_KEEPALIVE,
    )
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `user@host:path` (git's scp-like syntax): a colon before the first slash,
/// and not a Windows drive letter.
fn is_scp_like(url: &str) -> bool {
    match url.find(':') {
        Some(colon) => {
            let before = &url[..colon];
            !before.contains('/') && colon > 1
        }
        None => false,
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Standard base64 with padding (for the basic-auth header).
pub(crate) fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(TABLE[(n >> 18) as usize & 63] as char);
        out.push(TABLE[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            TABLE[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            TABLE[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(remote: &Remote) -> Vec<(String, Option<String>)> {
        remote
            .git_env()
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| v.to_string_lossy().into_owned())))
            .collect()
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn transports_are_recognised() {
        let kind = |u: &str| Remote::new(u, Credentials::None).unwrap().transport();
        assert_eq!(kind("/srv/repo.git"), Transport::Local);
        assert_eq!(kind("relative/repo"), Transport::Local);
        assert_eq!(kind("file:///srv/repo.git"), Transport::File);
        assert_eq!(kind("https://h/o/r.git"), Transport::Http);
        assert_eq!(kind("http://127.0.0.1:9/r.git"), Transport::Http);
        assert_eq!(kind("ssh://git@h:22/o/r.git"), Transport::Ssh);
        assert_eq!(kind("git@github.com:org/repo.git"), Transport::Ssh);
    }

    #[test]
    fn bad_urls_are_rejected_without_secrets() {
        let err = Remote::new("ftp://u:pw@h/r", Credentials::None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unsupported scheme"), "{err}");
        assert!(!err.contains("pw@"), "{err}");
        assert!(Remote::new("--upload-pack=evil", Credentials::None).is_err());
        assert!(Remote::new("", Credentials::None).is_err());
        assert!(Remote::new("https://h/r\n", Credentials::None).is_ok()); // trimmed
        assert!(Remote::new("https://h/r\nx", Credentials::None).is_err());
    }

    #[test]
    fn url_credentials_move_to_the_environment() {
        let remote = Remote::new(
            "https://alice:s%40cret@h.example/o/r.git",
            Credentials::None,
        )
        .unwrap();
        assert_eq!(remote.url(), "https://h.example/o/r.git");
        let env = env_of(&remote);
        let header = base64(b"alice:s@cret");
        assert!(env.contains(&(
            "GIT_CONFIG_KEY_3".into(),
            Some("http.https://h.example/o/r.git.extraHeader".into())
        )));
        assert!(env.contains(&(
            "GIT_CONFIG_VALUE_3".into(),
            Some(format!("Authorization: Basic {header}"))
        )));
        // The command line carries no secret.
        let cmd = remote.git_command();
        let args: Vec<_> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(
            args.iter()
                .all(|a| !a.contains("s@cret") && !a.contains(&header))
        );
        // Redaction knows the raw secret and the header form.
        assert_eq!(
            remote.redact(&format!("x s@cret {header} y")),
            "x *** *** y"
        );
    }

    #[test]
    fn token_and_bearer_headers() {
        let r = Remote::new("https://h/r.git", Credentials::token("tok123")).unwrap();
        let env = env_of(&r);
        let expected = format!("Authorization: Basic {}", base64(b"x-access-token:tok123"));
        assert!(
            env.iter()
                .any(|(_, v)| v.as_deref() == Some(expected.as_str()))
        );
        let r = Remote::new(
            "https://h/r.git",
            Credentials::Bearer {
                token: "tok9".into(),
            },
        )
        .unwrap();
        let env = env_of(&r);
        assert!(
            env.iter()
                .any(|(_, v)| v.as_deref() == Some("Authorization: Bearer tok9"))
        );
        assert!(!format!("{:?}", Credentials::token("tok123")).contains("tok123"));
    }

    #[test]
    fn ssh_key_and_known_hosts_are_strict() {
        let r = Remote::new(
            "git@github.com:org/repo.git",
            Credentials::Ssh {
                key_file: "/keys/it's key".into(),
                known_hosts: "/keys/known_hosts".into(),
            },
        )
        .unwrap();
        let env = env_of(&r);
        let ssh = env
            .iter()
            .find(|(k, _)| k == "GIT_SSH_COMMAND")
            .and_then(|(_, v)| v.clone())
            .unwrap();
        assert_eq!(
            ssh,
            concat!(
                r"ssh -i '/keys/it'\''s key' -o IdentitiesOnly=yes -o UserKnownHostsFile='/keys/known_hosts' ",
                "-o StrictHostKeyChecking=yes -o BatchMode=yes ",
                "-o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4"
            )
        );
        assert!(env.contains(&("GIT_TERMINAL_PROMPT".into(), Some("0".into()))));
    }

    #[test]
    fn mismatched_credentials_are_rejected() {
        assert!(Remote::new("git@h:o/r.git", Credentials::token("t")).is_err());
        assert!(
            Remote::new(
                "https://h/r.git",
                Credentials::Ssh {
                    key_file: "k".into(),
                    known_hosts: "kh".into()
                }
            )
            .is_err()
        );
    }
}
