//! `GET /api/v1/releases/{id}/notes` on the real server: two releases of
//! the fixture product, a configuration commit between them, JSON and
//! Markdown, the cache, and bad requests.

mod common;

use common::{TOKEN, fixture, git, settings, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_notes_json_markdown_and_cache() {
    let f = fixture();
    let s = start(settings(&f)).await;
    let promote = || async {
        let (status, created) = s
            .post(
                "/api/v1/products/p/promotions",
                &json!({"flow": "standard"}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let done = s.wait_finished(&id).await;
        assert_eq!(done["status"], "SUCCEEDED", "{done:#}");
        id
    };
    let first = promote().await;

    // A configuration change in dev between the two releases, and one
    // outside the application's path.
    let work = f.root.path().join("dev-work");
    git(
        f.root.path(),
        &[
            "clone",
            "-q",
            f.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let values = work.join("envs/dev/values.yaml");
    let text = std::fs::read_to_string(&values)
        .unwrap()
        .replace("shop/api:1.2.0", "shop/api:1.3.0");
    std::fs::write(&values, text).unwrap();
    std::fs::write(work.join("README.md"), "unrelated\n").unwrap();
    git(&work, &["add", "README.md"]);
    git(&work, &["commit", "-q", "-m", "docs: unrelated"]);
    git(&work, &["add", "-A"]);
    git(
        &work,
        &[
            "commit",
            "-q",
            "-m",
            "feat(api): ship 1.3.0 (#4)\n\nCloses #3",
        ],
    );
    git(&work, &["push", "-q", "origin", "main"]);
    let second = promote().await;

    let (status, notes) = s.get(&format!("/api/v1/releases/{second}/notes")).await;
    assert_eq!(status, 200, "{notes}");
    assert_eq!(notes["formatVersion"], 1);
    assert_eq!(notes["release"]["id"], second.as_str());
    assert_eq!(notes["previousRelease"]["id"], first.as_str());
    let commits = notes["configuration"][0]["commits"].as_array().unwrap();
    let subjects: Vec<&str> = commits
        .iter()
        .map(|c| c["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, ["feat(api): ship 1.3.0 (#4)"], "{notes:#}");
    assert_eq!(commits[0]["type"], "feat");
    assert_eq!(commits[0]["scope"], "api");
    assert_eq!(commits[0]["pullRequest"], 4);
    assert_eq!(commits[0]["issues"][0]["key"], "#3");
    let images = notes["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{notes:#}");
    assert_eq!(images[0]["repository"], "registry.example/shop/api");
    assert_eq!(
        (images[0]["from"].as_str(), images[0]["to"].as_str()),
        (Some("1.2.0"), Some("1.3.0"))
    );
    // No registry answers for registry.example: a note, not an error.
    let why = notes["notes"].to_string();
    assert!(
        why.contains("registry.example/shop/api:1.3.0: labels not read"),
        "{why}"
    );

    // Markdown.
    let md = s
        .http
        .get(s.url(&format!("/api/v1/releases/{second}/notes?format=markdown")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(md.status(), 200);
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = md.text().await.unwrap();
    assert!(md.starts_with("# Release notes: p #2"), "{md}");
    assert!(md.contains("- feat(api): ship 1.3.0 (`"), "{md}");

    // Served from the store: with the mirrors gone, the same document.
    std::fs::remove_dir_all(f.data.join("mirrors")).unwrap();
    let (status, again) = s.get(&format!("/api/v1/releases/{second}/notes")).await;
    assert_eq!(status, 200);
    assert_eq!(again, notes);

    // The first release: no previous one.
    let (_, first_notes) = s.get(&format!("/api/v1/releases/{first}/notes")).await;
    assert!(first_notes["previousRelease"].is_null(), "{first_notes:#}");

    // Bad requests.
    let (status, err) = s
        .get(&format!("/api/v1/releases/{second}/notes?format=xml"))
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"].as_str().unwrap().contains("format"), "{err}");
    let (status, _) = s
        .get("/api/v1/releases/01NOSUCHRELEASE0000000000/notes")
        .await;
    assert_eq!(status, 404);
    let anonymous = s
        .http
        .get(s.url(&format!("/api/v1/releases/{second}/notes")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    s.stop().await;
}
