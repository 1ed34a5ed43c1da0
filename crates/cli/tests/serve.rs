//! The real `ferry serve` process:
//! - crash safety (issue 5): 20 releases running, the server killed with
//!   SIGKILL at 10 random moments and restarted each time; afterwards every
//!   release has finished, and every (release, environment, application) has
//!   exactly one promotion commit, found by its trailers; a client sending
//!   promotions with an `Idempotency-Key` through the kills, each again
//!   until answered, sees each take effect exactly once (issue 23);
//! - `ferry promote` and `ferry release show` against it;
//! - `ferry promote` whose request is cut off by a SIGKILL of the server
//!   (before the server read it, or after it answered): the CLI sends it
//!   again with its `Idempotency-Key` and prints the one release (issue 23).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PRODUCTS: usize = 20;
const ENVS: [&str; 3] = ["dev", "qa", "prod"];
const TOKEN: &str = "crash-test-admin-token";
/// Products that get a second promotion from the idempotent client.
const IDEMPOTENT: usize = 10;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A tiny deterministic generator, seeded from the clock (printed, so a
/// failing run can be replayed by setting FERRY_CRASH_SEED).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn setup(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let remote = root.join("gitops.git");
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    git(
        root,
        &[
            "init",
            "-q",
            "--bare",
            "-b",
            "main",
            remote.to_str().unwrap(),
        ],
    );
    git(&seed, &["init", "-q", "-b", "main"]);
    let config = root.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut docs = String::new();
    for (i, env) in ENVS.iter().enumerate() {
        docs.push_str(&format!(
            "---\napiVersion: ferry.io/v1alpha1\nkind: Environment\nmetadata: {{name: {env}}}\nspec: {{kind: NON_PROD, order: {i}, clusters: [{{name: in-cluster, namespaces: ['*-{env}']}}]}}\n"
        ));
    }
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionTemplate\nmetadata: {name: t}\nspec:\n  applicationSourceSelector: {matchLabels: {t: v}}\n  promotion: {values.yaml: {jsonPaths: [$..image]}}\n");
    docs.push_str("---\napiVersion: argoproj.io/v1alpha1\nkind: WorkflowTemplate\nmetadata: {name: pause, annotations: {codefresh.io/workflow-origin: promotion}}\nspec:\n  entrypoint: main\n  templates:\n    - name: main\n      script: {image: alpine, command: [sh], source: 'sleep 0.3'}\n");
    docs.push_str("---\napiVersion: codefresh.io/v1beta1\nkind: PromotionFlow\nmetadata: {name: f}\nspec:\n  triggerEnvironment: dev\n  steps:\n    - {environment: qa, dependsOn: [dev], policy: {preAction: pause}}\n    - {environment: prod, dependsOn: [qa], policy: {postAction: pause}}\n");
    for p in 0..PRODUCTS {
        docs.push_str(&format!("---\napiVersion: codefresh.io/v1beta1\nkind: Product\nmetadata: {{name: p{p}}}\nspec: {{promotionFlows: [{{name: f}}]}}\n"));
        for env in ENVS {
            let d = seed.join(format!("p{p}/{env}"));
            std::fs::create_dir_all(&d).unwrap();
            let tag = if env == "dev" { "v2" } else { "v1" };
            std::fs::write(
                d.join("values.yaml"),
                format!("image:\n  repository: r/p{p}\n  tag: {tag}\n"),
            )
            .unwrap();
            docs.push_str(&format!(
                "---\napiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata:\n  name: p{p}-{env}\n  labels: {{t: v}}\n  annotations: {{codefresh.io/product: p{p}}}\nspec:\n  source: {{repoURL: '{}', path: p{p}/{env}, targetRevision: main}}\n  destination: {{name: in-cluster, namespace: p{p}-{env}}}\n",
                remote.display()
            ));
        }
    }
    std::fs::write(config.join("all.yaml"), docs).unwrap();
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-q", "-m", "layout"]);
    git(
        &seed,
        &["remote", "add", "origin", remote.to_str().unwrap()],
    );
    git(&seed, &["push", "-q", "origin", "main"]);
    (remote, config)
}

fn start(root: &Path, config: &Path, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("serve")
        .env("FERRY_LISTEN", format!("127.0.0.1:{port}"))
        .env("FERRY_CONFIG", config)
        .env("FERRY_DATA_DIR", root.join("data"))
        .env("FERRY_ADMIN_TOKEN", TOKEN)
        .env("FERRY_POLL_INTERVAL", "0")
        .env("FERRY_CONFIG_POLL_INTERVAL", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ferry serve")
}

/// `GET url` with the admin token, as JSON.
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    client
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return;
        }
        assert!(Instant::now() < deadline, "server not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn releases_survive_sigkill_with_exactly_one_commit_each() {
    let seed: u64 = std::env::var("FERRY_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    println!("FERRY_CRASH_SEED={seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let (remote, config) = setup(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &config, port);
    wait_ready(&client, &base).await;

    let mut ids = Vec::new();
    let mut ids_extra: Vec<(usize, String)> = Vec::new();
    for p in 0..PRODUCTS {
        let resp = client
            .post(format!("{base}/api/v1/products/p{p}/promotions"))
            .bearer_auth(TOKEN)
            .json(&serde_json::json!({"flow": "f"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status().as_u16(),
            201,
            "{}",
            resp.text().await.unwrap_or_default()
        );
        let r: serde_json::Value = resp.json().await.unwrap();
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    // A client with an Idempotency-Key per request (issue 23): each of
    // its promotions is sent until an answer arrives — again and again
    // through the kills, always with the same key — and must take effect
    // exactly once.
    let idempotent = {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            for p in 0..IDEMPOTENT {
                let key = format!("crash-test-{p}");
                let mut ids = std::collections::BTreeSet::new();
                let mut sends = 0;
                loop {
                    sends += 1;
                    let resp = client
                        .post(format!("{base}/api/v1/products/p{p}/promotions"))
                        .bearer_auth(TOKEN)
                        .header("Idempotency-Key", &key)
                        .json(&serde_json::json!({"flow": "f"}))
                        .timeout(Duration::from_secs(10))
                        .send()
                        .await;
                    if let Ok(resp) = resp
                        && resp.status().is_success()
                        && let Ok(v) = resp.json::<serde_json::Value>().await
                    {
                        ids.insert(v["id"].as_str().unwrap_or_default().to_owned());
                        // One more send after the answer: a repeat.
                        if ids.len() == 1 && sends > 0 {
                            let again: serde_json::Value = loop {
                                if let Ok(r) = client
                                    .post(format!("{base}/api/v1/products/p{p}/promotions"))
                                    .bearer_auth(TOKEN)
                                    .header("Idempotency-Key", &key)
                                    .json(&serde_json::json!({"flow": "f"}))
                                    .send()
                                    .await
                                    && r.status().is_success()
                                    && let Ok(v) = r.json().await
                                {
                                    break v;
                                }
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            };
                            ids.insert(again["id"].as_str().unwrap_or_default().to_owned());
                        }
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                answers.push((p, ids, sends));
                // Spread over the kills.
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
            answers
        })
    };
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100 + rng.next() % 600)).await;
        server.kill().unwrap();
        server.wait().unwrap();
        server = start(dir.path(), &config, port);
        wait_ready(&client, &base).await;
    }
    let answers = idempotent.await.unwrap();
    let mut resent = 0;
    for (p, ids, sends) in &answers {
        assert_eq!(
            ids.len(),
            1,
            "p{p}: the idempotent promotion was answered with several releases {ids:?}; seed {seed}"
        );
        resent += sends - 1;
        ids_extra.push((*p, ids.iter().next().unwrap().clone()));
    }
    println!("idempotent promotions: {IDEMPOTENT}, sent again {resent} times through the kills");
    // Every promotion the client sent took effect once: its product has
    // its first release and exactly one more.
    for p in 0..IDEMPOTENT {
        let page: serde_json::Value =
            get_json(&client, &format!("{base}/api/v1/products/p{p}/releases")).await;
        let n = page["items"].as_array().map_or(0, Vec::len);
        assert_eq!(n, 2, "p{p} has {n} releases: {page:#}; seed {seed}");
    }
    let all: Vec<String> = ids
        .iter()
        .cloned()
        .chain(ids_extra.iter().map(|(_, id)| id.clone()))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut restarted_steps = 0;
    for id in &all {
        loop {
            let r: serde_json::Value =
                get_json(&client, &format!("{base}/api/v1/releases/{id}")).await;
            if !r["finishedAt"].is_null() {
                assert_eq!(r["status"], "SUCCEEDED", "{r:#}");
                for env in r["environments"].as_array().into_iter().flatten() {
                    for app in env["applications"].as_array().into_iter().flatten() {
                        for step in app["steps"].as_array().into_iter().flatten() {
                            if step["attempts"].as_u64().unwrap_or(0) > 1 {
                                restarted_steps += 1;
                            }
                        }
                    }
                }
                break;
            }
            assert!(
                Instant::now() < deadline,
                "release {id} did not finish: {r:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!("steps started again after a kill: {restarted_steps}");
    assert!(
        restarted_steps > 0,
        "no kill landed while a step ran; the test proved nothing (seed {seed})"
    );
    server.kill().unwrap();
    server.wait().unwrap();
    let log = git(&remote, &["log", "--format=%B%x00", "main"]);
    let messages: Vec<&str> = log
        .split('\0')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .collect();
    // The client's releases promote what the first ones did: nothing to
    // change, so no commit of their own — and never a second one.
    let everything = ids
        .iter()
        .enumerate()
        .map(|(p, id)| (p, id.clone(), 1))
        .chain(ids_extra.iter().map(|(p, id)| (*p, id.clone(), 0)));
    for (p, id, expected) in everything {
        for env in ["qa", "prod"] {
            let n = messages
                .iter()
                .filter(|m| {
                    m.contains(&format!("Ferry-Release: {id}"))
                        && m.contains(&format!("Ferry-Environment: {env}"))
                        && m.contains(&format!("Ferry-Application: p{p}-{env}"))
                })
                .count();
            assert_eq!(
                n, expected,
                "release {id} (p{p}) has {n} commits for {env}; seed {seed}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_promote_creates_a_release_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (remote, config) = setup(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = start(dir.path(), &config, port);
    wait_ready(&client, &base).await;
    let ferry = |args: Vec<String>| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            ferry(vec![
                "promote".into(),
                "--product".into(),
                "p3".into(),
                "--to".into(),
                "qa".into(),
                "--server".into(),
                base,
                "--token".into(),
                TOKEN.into(),
                "--output".into(),
                "json".into(),
            ])
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let release: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(release["flow"], "Manual");
    assert_eq!(release["product"], "p3");
    assert_eq!(release["initiator"], "admin");
    let id = release["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r: serde_json::Value = get_json(&client, &format!("{base}/api/v1/releases/{id}")).await;
        if !r["finishedAt"].is_null() {
            assert_eq!(r["status"], "SUCCEEDED", "{r:#}");
            break;
        }
        assert!(Instant::now() < deadline, "{r:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let show = tokio::task::spawn_blocking({
        let base = base.clone();
        let id = id.clone();
        move || {
            ferry(vec![
                "release".into(),
                "show".into(),
                id,
                "--server".into(),
                base,
                "--token".into(),
                TOKEN.into(),
            ])
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success() && text.contains("SUCCEEDED") && text.contains("qa"),
        "{text}"
    );
    let log = git(&remote, &["log", "--format=%B%x00", "main"]);
    assert!(log.contains(&format!("Ferry-Release: {id}")) && log.contains("Ferry-Environment: qa"));
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Where the cutting proxy of
/// [`cli_promote_learns_its_release_when_the_server_dies_mid_request`]
/// stops the first promotion request and kills the server.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// The request's header reached the server, its body never did.
    MidRequest,
    /// The server created the release and answered; the answer never
    /// reached the client.
    BeforeAnswer,
}

/// What the proxy withheld, and how it hears that the server is dead.
type Withheld = (String, tokio::sync::oneshot::Sender<()>);

/// A TCP proxy in front of `ferry serve` on `backend`: its first
/// connection is cut as `cut` says — it hands the test what it withheld,
/// waits until the test has killed the server, then closes the client's
/// connection — every later one is passed through (waiting for the server
/// to accept again, as a load balancer does).
async fn cutting_proxy(
    front: tokio::net::TcpListener,
    backend: u16,
    cut: Cut,
    cut_done: tokio::sync::mpsc::UnboundedSender<Withheld>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    async fn connect(port: u16) -> TcpStream {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => return s,
                Err(e) => assert!(Instant::now() < deadline, "the server never came back: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    /// Reads from `s` into `into` until `done` says the message is whole.
    async fn read_until(s: &mut TcpStream, into: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
        let mut buf = [0u8; 8192];
        while !done(into) {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => into.extend_from_slice(&buf[..n]),
            }
        }
    }
    /// The header's length and the body's `Content-Length` of a message
    /// whose header is whole.
    fn framing(m: &[u8]) -> Option<(usize, usize)> {
        let end = m.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = String::from_utf8_lossy(&m[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        Some((end, len))
    }
    let whole = |m: &[u8]| framing(m).is_some_and(|(head, len)| m.len() >= head + len);

    let (mut client, _) = front.accept().await.unwrap();
    let mut server = connect(backend).await;
    let mut request = Vec::new();
    read_until(&mut client, &mut request, |m| framing(m).is_some()).await;
    let withheld = match cut {
        Cut::MidRequest => {
            let (head, _) = framing(&request).expect("a request header");
            server.write_all(&request[..head]).await.unwrap();
            String::new()
        }
        Cut::BeforeAnswer => {
            read_until(&mut client, &mut request, whole).await;
            server.write_all(&request).await.unwrap();
            let mut answer = Vec::new();
            read_until(&mut server, &mut answer, whole).await;
            String::from_utf8_lossy(&answer).into_owned()
        }
    };
    let (killed, dead) = tokio::sync::oneshot::channel();
    cut_done.send((withheld, killed)).unwrap();
    let _ = dead.await;
    drop(client);
    loop {
        let (mut client, _) = front.accept().await.unwrap();
        tokio::spawn(async move {
            let mut server = connect(backend).await;
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
    }
}

/// `ferry serve` killed with SIGKILL while a `ferry promote` request is in
/// flight (issue 23) — once before the server read the request's body,
/// once after it created the release but before its answer reached the
/// client. The CLI sends the promotion with an `Idempotency-Key` and,
/// having no answer, sends it again with the same key to the restarted
/// server: either way the product has exactly one new release, and the
/// CLI prints its id — the one the lost answer carried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_promote_learns_its_release_when_the_server_dies_mid_request() {
    let dir = tempfile::tempdir().unwrap();
    let (_remote, config) = setup(dir.path());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = Killed(start(dir.path(), &config, port));
    wait_ready(&client, &base).await;
    for (product, cut) in [("p3", Cut::MidRequest), ("p4", Cut::BeforeAnswer)] {
        let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let via = format!("http://{}", front.local_addr().unwrap());
        let (cut_done, mut cuts) = tokio::sync::mpsc::unbounded_channel();
        let proxy = tokio::spawn(cutting_proxy(front, port, cut, cut_done));
        let cli = tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_ferry"))
                .args(["promote", "--product", product, "--to", "qa"])
                .args(["--server", &via, "--token", TOKEN, "--output", "json"])
                .output()
                .unwrap()
        });
        let (withheld, killed) = tokio::time::timeout(Duration::from_secs(60), cuts.recv())
            .await
            .expect("the promotion never reached the proxy")
            .unwrap();
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        killed.send(()).unwrap();
        server = Killed(start(dir.path(), &config, port));
        wait_ready(&client, &base).await;

        let out = cli.await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{cut:?}: {stderr}");
        assert!(
            stderr.contains("sending it again with the same Idempotency-Key"),
            "{cut:?}: the CLI did not send the request again: {stderr}"
        );
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = printed["id"].as_str().unwrap();
        let page: serde_json::Value = get_json(
            &client,
            &format!("{base}/api/v1/products/{product}/releases"),
        )
        .await;
        let stored: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["id"].as_str())
            .collect();
        assert_eq!(stored, [id], "{cut:?}: {product}'s releases");
        match cut {
            Cut::MidRequest => assert!(withheld.is_empty()),
            Cut::BeforeAnswer => assert!(
                withheld.starts_with("HTTP/1.1 201") && withheld.contains(id),
                "{cut:?}: the lost answer was not release {id}: {withheld}"
            ),
        }
        println!("{cut:?}: one release {id}; the CLI said: {}", stderr.trim());
        proxy.abort();
    }
}

/// A `ferry serve` child killed when dropped, also when the test fails.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
