//! Release notes served as stored (gzip, ETag, 304) and refreshed
//! (`POST /api/v1/releases/{id}/notes/refresh`) on the real server with a
//! real `docker-registry`: the promoted image's registry is down when the
//! notes are first computed (nothing listens on its port), so they are
//! degraded; the registry is then started on that same port with the
//! images, the cached notes stay as they were until a promoter refreshes
//! them, and the refreshed notes are complete. Refreshing is audited and
//! needs a promoter whose scope includes the product, from the API and
//! from the notes page's Refresh button.

mod common;
mod htmlcheck;
mod uiclient;

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TOKEN, fixture, git, settings, start};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uiclient::{Client, hidden};

/// A running `docker-registry` (Debian's package; scripts/test installs
/// it), killed on drop.
struct Registry(Child);

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_registry(work: &Path, addr: &str) -> Registry {
    let bin =
        std::env::var("FERRY_REGISTRY_BIN").unwrap_or_else(|_| "/usr/bin/docker-registry".into());
    assert!(
        Path::new(&bin).exists(),
        "{bin} is missing: install Debian's docker-registry"
    );
    let config = work.join("registry.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            work.join("registry-storage").display()
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry starts");
    let registry = Registry(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::Write;
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = write!(s, "GET /v2/ HTTP/1.0\r\nHost: {addr}\r\n\r\n");
            let mut buf = [0u8; 12];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.") {
                return registry;
            }
        }
        assert!(
            Instant::now() < deadline,
            "registry on {addr} did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Pushes an image without source labels (its source comes from the
/// product's `spec.releaseNotes.sources`) through the Distribution API.
async fn push_image(http: &reqwest::Client, addr: &str, name: &str, tag: &str) {
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": {"maintainer": "shop"}},
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .unwrap();
    let layer = format!("layer of {name}:{tag}").into_bytes();
    for blob in [&config, &layer] {
        let r = http
            .post(format!("http://{addr}/v2/{name}/blobs/uploads/"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{addr}{location}")
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let r = http
            .put(format!("{location}{sep}digest={}", digest(blob)))
            .header("content-type", "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let r = http
        .put(format!("http://{addr}/v2/{name}/manifests/{tag}"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{:?}", r.text().await);
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_are_served_as_stored_and_refreshed_when_a_registry_is_back() {
    let f = fixture();
    let root = f.root.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reg = format!("127.0.0.1:{port}");

    // The code of shop/api, tagged like its images.
    let code = root.join("api-src");
    std::fs::create_dir_all(&code).unwrap();
    git(&code, &["init", "-q", "-b", "main"]);
    for (file, message, tag) in [
        ("a.rs", "chore: initial", Some("1.2.0")),
        ("b.rs", "feat(cart): save carts (#21)", None),
        ("c.rs", "fix: empty cart total\n\nFixes #9.", Some("1.3.0")),
    ] {
        std::fs::write(code.join(file), message).unwrap();
        git(&code, &["add", file]);
        git(&code, &["commit", "-q", "-m", message]);
        if let Some(t) = tag {
            git(&code, &["tag", t]);
        }
    }
    // The product maps the image to that repository.
    let product = root.join("config/product.yaml");
    let text = std::fs::read_to_string(&product).unwrap().replace(
        "  promotionFlows:\n    - name: standard\n",
        &format!(
            "  promotionFlows:\n    - name: standard\n  releaseNotes:\n    sources:\n      - image: {reg}/shop/api\n        repoURL: {}\n        tagPattern: \"{{version}}\"\n",
            code.display()
        ),
    );
    assert!(text.contains("releaseNotes"), "{text}");
    std::fs::write(&product, text).unwrap();

    // The GitOps repository promotes images of that (not yet running) registry.
    let work = root.join("dev-work");
    git(
        root,
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let set_dev = |tag: &str, message: &str| {
        // Promotions commit to qa and prod in the meantime.
        git(&work, &["pull", "-q", "--rebase", "origin", "main"]);
        let values = work.join("envs/dev/values.yaml");
        let text = std::fs::read_to_string(&values).unwrap();
        let text = text
            .lines()
            .map(|l| {
                if l.starts_with("image: ") {
                    format!("image: {reg}/shop/api:{tag}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&values, text + "\n").unwrap();
        git(&work, &["commit", "-q", "-am", message]);
        git(&work, &["push", "-q", "origin", "main"]);
    };
    set_dev("1.2.0", "chore: local registry");

    let mut cfg = settings(&f);
    // Only a refresh recomputes (the default would after 10 minutes).
    cfg.release_notes.refresh_interval = None;
    let s = start(cfg).await;
    let promote = || async {
        let (status, created) = s
            .post(
                "/api/v1/products/p/promotions",
                &json!({"flow": "standard"}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        assert_eq!(s.wait_finished(&id).await["status"], "SUCCEEDED");
        id
    };
    promote().await;
    set_dev("1.3.0", "feat(api): ship 1.3.0");
    let id = promote().await;
    let notes_path = format!("/api/v1/releases/{id}/notes");

    // Registry down: degraded notes (the mapping still gives the code).
    let (status, degraded) = s.get(&notes_path).await;
    assert_eq!(status, 200, "{degraded}");
    let why = degraded["notes"].to_string();
    assert!(
        why.contains(&format!("{reg}/shop/api:1.3.0: labels not read")),
        "{why}"
    );
    assert_eq!(
        degraded["images"][0]["source"]["via"], "mapping",
        "{degraded:#}"
    );

    // The registry comes back on the same port with the images.
    let registry = start_registry(root, &reg);
    for tag in ["1.2.0", "1.3.0"] {
        push_image(&s.http, &reg, "shop/api", tag).await;
    }
    let (_, cached) = s.get(&notes_path).await;
    assert_eq!(cached, degraded, "served from the cache until refreshed");

    // Who may refresh: promoters of the product (and admins).
    let mut tokens = Vec::new();
    for body in [
        json!({"name": "vera", "role": "viewer"}),
        json!({"name": "olga", "role": "promoter", "products": ["other"]}),
        json!({"name": "pat", "role": "promoter", "products": ["p"], "nonProduction": true}),
    ] {
        let (status, t) = s.post("/api/v1/tokens", &body).await;
        assert_eq!(status, 201, "{t}");
        tokens.push(t["token"].as_str().unwrap().to_owned());
    }
    let refresh = |token: Option<String>, query: &'static str| {
        let mut req = s.http.post(s.url(&format!("{notes_path}/refresh{query}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move { req.send().await.unwrap() }
    };
    assert_eq!(refresh(None, "").await.status(), 401);
    for (t, why) in tokens[..2].iter().zip([
        "needs the `promoter` role",
        "product `p` is outside its scope",
    ]) {
        let r = refresh(Some(t.clone()), "").await;
        assert_eq!(r.status(), 403);
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(why), "{body}");
    }
    let (_, still) = s.get(&notes_path).await;
    assert_eq!(still, degraded, "a refused refresh changes nothing");

    // The notes page: incomplete notes say why and offer Refresh, which
    // posts with the session's CSRF token under the same role check.
    let (_, release) = s.get(&format!("/api/v1/releases/{id}")).await;
    let page = format!("/products/p/releases/{}/notes", release["number"]);
    let refresh_action = format!("{page}/refresh");
    let mut viewer = Client::new(&s.base);
    assert_eq!(viewer.sign_in(&tokens[0]).await.status, 303);
    let shown = viewer.get(&page).await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.contains("labels not read"), "{}", shown.body);
    assert!(
        !shown.body.contains("Refresh notes"),
        "a viewer may not: {}",
        shown.body
    );
    // A viewer's session has a CSRF token (the sign-out form carries it).
    let csrf = hidden(&shown.body, "csrf");
    let denied = viewer.post(&refresh_action, &[("csrf", &csrf)]).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(
        // The error page draws the message's code spans (issue 17).
        denied.body.contains("needs the <code>promoter</code> role"),
        "{}",
        denied.body
    );
    let mut promoter = Client::new(&s.base);
    assert_eq!(promoter.sign_in(&tokens[2]).await.status, 303);
    let shown = promoter.get(&page).await;
    assert!(
        shown.body.contains(&format!("action=\"{refresh_action}\"")),
        "{}",
        shown.body
    );
    let forged = promoter.post(&refresh_action, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    let (_, still) = s.get(&notes_path).await;
    assert_eq!(still, degraded, "a refused refresh changes nothing");
    let done = promoter
        .post(&refresh_action, &[("csrf", &hidden(&shown.body, "csrf"))])
        .await;
    assert_eq!((done.status, done.location.as_str()), (303, page.as_str()));
    let shown = promoter.get(&page).await;
    assert!(!shown.body.contains("labels not read"), "{}", shown.body);
    assert!(!shown.body.contains("Refresh notes"), "{}", shown.body);
    assert!(shown.body.contains("save carts"), "{}", shown.body);
    let r = refresh(Some(tokens[2].clone()), "").await;
    assert_eq!(r.status(), 200);
    let fresh: Value = r.json().await.unwrap();
    assert_eq!(fresh["notes"], json!([]), "{fresh:#}");
    let subjects: Vec<&str> = ["features", "fixes"]
        .iter()
        .flat_map(|g| fresh["sources"][0]["groups"][g].as_array().unwrap())
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(
        subjects,
        ["feat(cart): save carts (#21)", "fix: empty cart total"]
    );
    let (_, now) = s.get(&notes_path).await;
    assert_eq!(now, fresh, "the refreshed notes are cached");
    let r = refresh(Some(tokens[2].clone()), "?format=markdown").await;
    assert_eq!(r.headers()["content-type"], "text/markdown; charset=utf-8");
    assert!(r.text().await.unwrap().contains("- empty cart total (`"));
    let (status, _) = s
        .post(
            "/api/v1/releases/01NOSUCHRELEASE0000000000/notes/refresh",
            &json!({}),
        )
        .await;
    assert_eq!(status, 404);

    // Audited, denials included.
    let (status, log) = s.get("/api/v1/audit?action=notes.refresh&limit=50").await;
    assert_eq!(status, 200, "{log}");
    let items = log["items"].as_array().unwrap();
    let has = |actor: &str, outcome: u64| {
        items.iter().any(|e| {
            e["actor"] == actor && e["outcome"] == outcome && e["releaseId"] == id.as_str()
        })
    };
    assert!(
        has("vera", 403) && has("olga", 403) && has("pat", 200),
        "{log:#}"
    );
    assert!(items.iter().any(|e| e["outcome"] == 404), "{log:#}");

    // As stored: gzip to clients that accept it, a strong ETag per
    // representation, 304 for a current tag.
    let get = |headers: &[(&str, &str)], format: &str| {
        let mut req = s
            .http
            .get(s.url(&format!("{notes_path}?format={format}")))
            .bearer_auth(TOKEN);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        async move { req.send().await.unwrap() }
    };
    let plain = get(&[], "json").await;
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "accept-encoding");
    assert_eq!(plain.headers()["cache-control"], "private, no-cache");
    let tag = plain.headers()["etag"].to_str().unwrap().to_owned();
    let plain = plain.bytes().await.unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&plain).unwrap(), fresh);
    let zipped = get(&[("accept-encoding", "gzip, br")], "json").await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(zipped.headers()["content-type"], "application/json");
    let gz_tag = zipped.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(gz_tag, format!("{}-gzip\"", tag.trim_end_matches('"')));
    let zipped = zipped.bytes().await.unwrap();
    assert!(zipped.len() < plain.len());
    assert_eq!(gunzip(&zipped), plain);
    for (tags, encoding) in [(tag.as_str(), ""), (gz_tag.as_str(), "gzip")] {
        let r = get(
            &[("if-none-match", tags), ("accept-encoding", encoding)],
            "json",
        )
        .await;
        assert_eq!(r.status(), 304);
        assert!(r.headers().get("etag").is_some());
    }
    let r = get(&[("if-none-match", tag.as_str())], "markdown").await;
    assert_eq!(r.status(), 200, "another format has another tag");
    let md_tag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(md_tag, tag);
    assert!(r.text().await.unwrap().contains("# Release notes: p #2"));
    let r = get(&[("if-none-match", "\"stale\"")], "json").await;
    assert_eq!(r.status(), 200);
    // The degraded notes' tag is no longer current.
    assert_ne!(
        tag,
        ferry_notes::rendition::etag(&serde_json::to_vec(&degraded).unwrap())
    );

    drop(registry);
    s.stop().await;
}
