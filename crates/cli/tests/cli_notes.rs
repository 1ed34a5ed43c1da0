//! `ferry release notes` as users run it: the real binary against
//! `ferry serve` in a child process, on a Git repository made by the test.

use serde_json::{Value, json};

mod served;

use served::{TOKEN, ferry, fixture, git, promote_flow, serve, stderr, stdout};

/// `ferry release notes` against `ferry serve`: Markdown by default,
/// JSON on request, the server's error for an unknown release.
#[test]
fn release_notes_from_the_server() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let (_serve, server) = serve(root.path(), &config, &[]);
    let id = promote_flow(&server, "up");
    let base = ["--server", server.as_str(), "--token", TOKEN];

    let out = ferry(&[&["release", "notes", id.as_str()][..], &base].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("# Release notes: p #1"), "{text}");
    assert!(text.contains("First release of this product"), "{text}");
    assert!(text.contains("### app-dev (`dev`)"), "{text}");
    assert!(text.contains("- initial (`"), "{text}");

    let out = ferry(
        &[
            &["release", "notes", id.as_str(), "--format", "json"][..],
            &base,
        ]
        .concat(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["release"]["id"], id.as_str());
    assert_eq!(doc["configuration"][0]["commits"][0]["subject"], "initial");
    assert_eq!(doc["images"][0]["repository"], "registry.example/app");

    let out = ferry(
        &[
            &["release", "notes", "01NOSUCHRELEASE0000000000"][..],
            &base,
        ]
        .concat(),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("404"), "{}", stderr(&out));
}

/// `ferry release notes <id> --refresh`: notes first computed while the
/// image's source repository did not exist yet say so and stay cached
/// (`FERRY_NOTES_REFRESH_INTERVAL=0`: only on request); once the
/// repository exists, a refresh lists its commits. Refreshing needs a
/// token.
#[test]
fn refresh_recomputes_degraded_notes() {
    let root = tempfile::tempdir().unwrap();
    let config = fixture(root.path());
    let source = root.path().join("app-src");
    let product = config.join("p.yaml");
    let text = std::fs::read_to_string(&product).unwrap().replace(
        "  promotionFlows:\n    - name: up\n",
        &format!(
            "  promotionFlows:\n    - name: up\n  releaseNotes:\n    sources:\n      - image: registry.example/app\n        repoURL: {}\n        tagPattern: \"{{version}}\"\n",
            source.display()
        ),
    );
    assert!(text.contains("releaseNotes"));
    std::fs::write(&product, text).unwrap();
    let (_serve, server) = serve(
        root.path(),
        &config,
        &[
            ("FERRY_NOTES_REFRESH_INTERVAL", "0"),
            ("FERRY_REGISTRY_TIMEOUT", "2"),
        ],
    );
    let id = promote_flow(&server, "up");
    let base = ["--server", server.as_str(), "--token", TOKEN];
    let json_notes = |extra: &[&str]| {
        let out = ferry(
            &[
                &["release", "notes", id.as_str(), "--format", "json"][..],
                extra,
                &base,
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };

    // The source repository does not exist yet.
    let first = json_notes(&[]);
    let why = first["notes"].to_string();
    assert!(why.contains("none of the revisions 2.0.0"), "{why}");
    assert_eq!(first["sources"], json!([]));

    // Now it does, with the image's tag.
    std::fs::create_dir_all(&source).unwrap();
    git(&source, &["init", "-q", "-b", "main"]);
    for (file, message) in [("a", "feat: first feature"), ("b", "fix: first fix (#3)")] {
        std::fs::write(source.join(file), message).unwrap();
        git(&source, &["add", file]);
        git(&source, &["commit", "-q", "-m", message]);
    }
    git(&source, &["tag", "2.0.0"]);
    assert_eq!(json_notes(&[]), first, "cached until refreshed");

    // Refreshing needs a token.
    let out = ferry(&[
        "release",
        "notes",
        id.as_str(),
        "--refresh",
        "--server",
        server.as_str(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));

    let out = ferry(&[&["release", "notes", id.as_str(), "--refresh"][..], &base].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("#### Features\n\n- first feature (`"),
        "{text}"
    );
    assert!(text.contains("- first fix (`"), "{text}");
    assert!(!text.contains("none of the revisions"), "{text}");
    let now = json_notes(&[]);
    assert_eq!(now["sources"][0]["to"].as_str().map(str::len), Some(40));
    assert!(
        !now["notes"].to_string().contains("none of the revisions"),
        "{now:#}"
    );
}
