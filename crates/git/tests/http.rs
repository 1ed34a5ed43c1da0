//! Fetch and push over real smart HTTP: `git http-backend` behind a test
//! HTTP server on 127.0.0.1 that checks Basic or Bearer authentication.

mod common;

use std::convert::Infallible;

use common::http::{Auth, GitHttpServer};
use common::*;
use ferry_git::{
    Change, CommitSpec, Credentials, Error, Mirror, PushOptions, PushTarget, Remote, Signature,
    promotion_message,
};

const PASSWORD: &str = "correct-horse-battery-staple";
const TOKEN: &str = "glpat-S3CRETtoken0123456789";

fn spec(release: &str) -> CommitSpec {
    CommitSpec {
        author: Signature::new("Ferry Bot", "ferry@example.com"),
        committer: None,
        message: promotion_message("trio", "2.0", "qa", "trio-qa", release),
    }
}

fn serve(label: &str, auth: Auth) -> (TempDir, std::path::PathBuf, GitHttpServer) {
    let tmp = TempDir::new(label);
    let root = tmp.join("srv");
    std::fs::create_dir_all(&root).unwrap();
    let files = gitops_files();
    let remote = bare_remote(&root, "gitops", &as_refs(&files));
    let server = GitHttpServer::start(root, auth);
    (tmp, remote, server)
}

/// Clone, read, push and fetch with the right credentials.
fn round_trip(
    tmp: &TempDir,
    remote: &std::path::Path,
    server: &GitHttpServer,
    credentials: Credentials,
) {
    let url = server.url("gitops.git");
    let mirror = Mirror::open(&tmp.join("cache"), Remote::new(&url, credentials).unwrap()).unwrap();
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
            &spec("01HTTP"),
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![Change::write(
                    "envs/qa/trio/version.yaml",
                    "version: 2.0\n",
                )])
            },
        )
        .unwrap();
    assert_eq!(
        outcome.commit.unwrap().to_string(),
        rev_parse(remote, "main")
    );
    assert_eq!(
        git(remote, &["show", "main:envs/qa/trio/version.yaml"]),
        "version: 2.0"
    );

    // Someone else pushes; fetch over HTTP brings it in.
    let external = external_push(
        tmp.path(),
        remote,
        "main",
        &[("envs/dev/x.yaml", "x\n")],
        "external",
    );
    mirror.fetch().unwrap();
    assert_eq!(mirror.resolve("main").unwrap().to_string(), external);

    // The stored mirror config holds no credentials.
    let config = std::fs::read_to_string(mirror.path().join("config")).unwrap();
    assert!(config.contains(&url), "{config}");
    assert!(!config.contains(PASSWORD) && !config.contains(TOKEN));

    let log = server.log.lock().unwrap();
    assert!(log.accepted >= 4, "{log:?}");
    assert!(
        log.requests
            .iter()
            .any(|r| r.contains("git-receive-pack") && r.ends_with("200")),
        "{log:?}"
    );
    assert!(
        log.leaked_argv.is_empty(),
        "secret seen in a command line: {:?}",
        log.leaked_argv
    );
}

#[test]
fn basic_auth_push_and_fetch() {
    let (tmp, remote, server) = serve(
        "basic",
        Auth::Basic {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    round_trip(
        &tmp,
        &remote,
        &server,
        Credentials::Basic {
            username: "alice".into(),
            password: PASSWORD.into(),
        },
    );
}

#[test]
fn credentials_embedded_in_the_url_are_moved_out_of_argv() {
    let (tmp, remote, server) = serve(
        "url-creds",
        Auth::Basic {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    let url = server
        .url("gitops.git")
        .replace("http://", &format!("http://alice:{PASSWORD}@"));
    let remote_cfg = Remote::new(&url, Credentials::None).unwrap();
    assert_eq!(remote_cfg.url(), server.url("gitops.git"));
    let mirror = Mirror::open(&tmp.join("cache"), remote_cfg).unwrap();
    mirror.fetch().unwrap();
    assert_eq!(
        mirror.resolve("main").unwrap().to_string(),
        rev_parse(&remote, "main")
    );
    assert!(server.log.lock().unwrap().leaked_argv.is_empty());
}

#[test]
fn bearer_token_push_and_fetch() {
    let (tmp, remote, server) = serve(
        "bearer",
        Auth::Bearer {
            token: TOKEN.into(),
        },
    );
    round_trip(
        &tmp,
        &remote,
        &server,
        Credentials::Bearer {
            token: TOKEN.into(),
        },
    );
}

#[test]
fn forge_token_as_basic_password() {
    let (tmp, remote, server) = serve(
        "token",
        Auth::Basic {
            user: "x-access-token".into(),
            password: TOKEN.into(),
        },
    );
    round_trip(&tmp, &remote, &server, Credentials::token(TOKEN));
}

fn assert_clean_auth_error(err: &Error, url: &str, secrets: &[&str]) {
    let display = err.to_string();
    let debug = format!("{err:?}");
    assert!(matches!(err, Error::Authentication { .. }), "{display}");
    assert!(
        !err.is_transient(),
        "bad credentials need a person, not a retry"
    );
    assert!(display.contains("authentication failed, "), "{display}");
    assert!(
        display.contains(url),
        "the error names the remote: {display}"
    );
    for secret in secrets {
        assert!(!display.contains(secret), "secret in message: {display}");
        assert!(!debug.contains(secret), "secret in debug: {debug}");
    }
}

#[test]
fn wrong_credentials_give_a_clear_error_without_the_secret() {
    let (tmp, remote, server) = serve(
        "wrong",
        Auth::Basic {
            user: "alice".into(),
            password: PASSWORD.into(),
        },
    );
    let url = server.url("gitops.git");
    let wrong = "wrong-password-XYZ";
    let wrong_header = common::http::base64(format!("alice:{wrong}").as_bytes());

    // Clone with wrong credentials.
    let err = Mirror::open(
        &tmp.join("cache-wrong"),
        Remote::new(
            &url,
            Credentials::Basic {
                username: "alice".into(),
                password: wrong.into(),
            },
        )
        .unwrap(),
    )
    .unwrap_err();
    assert_clean_auth_error(&err, &url, &[wrong, &wrong_header, PASSWORD]);
    assert!(
        err.to_string()
            .contains("refused the configured user name and password"),
        "{err}"
    );
    assert!(
        !tmp.join("cache-wrong").read_dir().unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".git"))
    );

    // The same with the wrong password written into the URL.
    let err = Mirror::open(
        &tmp.join("cache-url"),
        Remote::new(
            &url.replace("http://", &format!("http://alice:{wrong}@")),
            Credentials::None,
        )
        .unwrap(),
    )
    .unwrap_err();
    assert_clean_auth_error(&err, &url, &[wrong, &wrong_header]);

    // No credentials at all: git must not hang on a prompt.
    let err = Mirror::open(
        &tmp.join("cache-none"),
        Remote::new(&url, Credentials::None).unwrap(),
    )
    .unwrap_err();
    assert_clean_auth_error(&err, &url, &[PASSWORD]);
    assert!(
        err.to_string().contains("no credentials are configured"),
        "{err}"
    );

    // A mirror cloned with good credentials, then fetched and pushed with a
    // revoked token.
    let good = Remote::new(
        &url,
        Credentials::Basic {
            username: "alice".into(),
            password: PASSWORD.into(),
        },
    )
    .unwrap();
    Mirror::open(&tmp.join("cache"), good).unwrap();
    let revoked = Mirror::open(
        &tmp.join("cache"),
        Remote::new(
            &url,
            Credentials::Basic {
                username: "alice".into(),
                password: wrong.into(),
            },
        )
        .unwrap(),
    )
    .unwrap();
    assert_clean_auth_error(&revoked.fetch().unwrap_err(), &url, &[wrong, &wrong_header]);
    let before = rev_parse(&remote, "main");
    let err = revoked
        .commit_and_push(
            &PushTarget::branch("main"),
            &spec("01WRONG"),
            &PushOptions::default(),
            |_| {
                Ok::<_, Infallible>(vec![Change::write(
                    "envs/qa/trio/version.yaml",
                    "version: 3\n",
                )])
            },
        )
        .unwrap_err();
    assert_clean_auth_error(&err, &url, &[wrong, &wrong_header]);
    assert_eq!(rev_parse(&remote, "main"), before);

    let log = server.log.lock().unwrap();
    assert!(log.rejected >= 4, "{log:?}");
    assert!(log.leaked_argv.is_empty(), "{:?}", log.leaked_argv);
}

#[test]
fn a_remote_that_never_answers_is_stopped_at_the_deadline() {
    use std::io::Read;
    // Accepts the connection, reads the request, never answers; ends when
    // the client's processes are killed and the socket closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let mut received = 0;
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            received += n;
        }
        received
    });
    let tmp = TempDir::new("silent");
    let remote = Remote::new(
        &format!("http://127.0.0.1:{port}/gitops.git"),
        Credentials::token(TOKEN),
    )
    .unwrap()
    .with_timeout(std::time::Duration::from_secs(2));
    let err = Mirror::open(&tmp.join("cache"), remote).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                operation: "clone",
                seconds: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("did not finish within 2 s"),
        "{err}"
    );
    assert!(err.is_transient(), "a timeout may pass: retry later");
    assert!(!err.to_string().contains(TOKEN));
    // The killed clone left nothing behind, and git had really sent its request.
    let left: Vec<String> = std::fs::read_dir(tmp.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.len() == 1 && left[0].ends_with(".lock"), "{left:?}");
    assert!(silent.join().unwrap() > 0);
}
