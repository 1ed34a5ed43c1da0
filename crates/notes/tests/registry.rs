//! The OCI client against a real registry: Debian's `docker-registry`
//! started by the test on a loopback port, images pushed by the test
//! through the Distribution API (OCI and Docker media types, a manifest
//! list, an index with an attestation entry), and a second registry over
//! the same storage that requires bearer tokens from an in-test token
//! endpoint (RS256 JWTs the registry verifies against the test's
//! certificate).

mod common;

use std::collections::HashMap;

use common::{Pusher, Registry, TokenAuth, TokenServer, signing_key};
use ferry_notes::oci::{REVISION_LABEL, SOURCE_LABEL};
use ferry_notes::{Error, ImageRef, OciClient, OciSettings};

const SERVICE: &str = "ferry-test-registry";
const ISSUER: &str = "ferry-test-issuer";

fn labels(source: &str, revision: &str) -> Vec<(&'static str, String)> {
    vec![
        (SOURCE_LABEL, source.to_owned()),
        (REVISION_LABEL, revision.to_owned()),
    ]
}

async fn push_fixtures(p: &Pusher) {
    let l = labels(
        "https://git.example.com/acme/api",
        "1111111111111111111111111111111111111111",
    );
    let l: Vec<(&str, &str)> = l.iter().map(|(k, v)| (*k, v.as_str())).collect();
    p.image("acme/api", Some("1.0"), &l, false, "amd64").await;
    p.image("acme/api", Some("1.0-docker"), &l, true, "amd64")
        .await;

    // A Docker manifest list: amd64 first, arm64 second.
    let amd = p
        .image(
            "acme/web",
            None,
            &[
                (SOURCE_LABEL, "https://git.example.com/acme/web"),
                (REVISION_LABEL, "aaaa"),
            ],
            true,
            "amd64",
        )
        .await;
    let arm = p
        .image(
            "acme/web",
            None,
            &[
                (SOURCE_LABEL, "https://git.example.com/acme/web"),
                (REVISION_LABEL, "bbbb"),
            ],
            true,
            "arm64",
        )
        .await;
    p.index(
        "acme/web",
        "2.0",
        &[(&amd, "linux/amd64"), (&arm, "linux/arm64")],
        true,
    )
    .await;

    // An OCI index whose first entry is a buildx attestation.
    let att = p.image("acme/worker", None, &[], false, "unknown").await;
    let arm = p
        .image(
            "acme/worker",
            None,
            &[
                (SOURCE_LABEL, "https://git.example.com/acme/worker"),
                (REVISION_LABEL, "cccc"),
            ],
            false,
            "arm64",
        )
        .await;
    let amd = p
        .image(
            "acme/worker",
            None,
            &[
                (SOURCE_LABEL, "https://git.example.com/acme/worker"),
                (REVISION_LABEL, "dddd"),
            ],
            false,
            "amd64",
        )
        .await;
    p.index(
        "acme/worker",
        "3.0",
        &[
            (&att, "unknown/unknown"),
            (&arm, "linux/arm64"),
            (&amd, "linux/amd64"),
        ],
        false,
    )
    .await;

    p.image("acme/plain", Some("1"), &[], false, "amd64").await;
}

fn image(addr: &str, name_tag: &str) -> ImageRef {
    ImageRef::parse(&format!("{addr}/{name_tag}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_from_a_real_registry() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let registry = Registry::start(dir.path(), &storage, None);
    let pusher = Pusher::new(&registry.addr);
    push_fixtures(&pusher).await;
    let client = OciClient::new(OciSettings::default()).unwrap();

    for tag in ["acme/api:1.0", "acme/api:1.0-docker"] {
        let src = client
            .image_source(&image(&registry.addr, tag))
            .await
            .unwrap();
        assert_eq!(
            src.source(),
            Some("https://git.example.com/acme/api"),
            "{tag}"
        );
        assert_eq!(
            src.revision(),
            Some("1111111111111111111111111111111111111111")
        );
        assert!(
            src.digest
                .as_deref()
                .is_some_and(|d| d.starts_with("sha256:"))
        );
    }
    // Manifest list → the first platform's config.
    let web = client
        .image_source(&image(&registry.addr, "acme/web:2.0"))
        .await
        .unwrap();
    assert_eq!(web.revision(), Some("aaaa"));
    // OCI index: the attestation entry is skipped.
    let worker = client
        .image_source(&image(&registry.addr, "acme/worker:3.0"))
        .await
        .unwrap();
    assert_eq!(worker.source(), Some("https://git.example.com/acme/worker"));
    assert_eq!(worker.revision(), Some("cccc"));
    // By digest, too.
    let digest = web.digest.clone().unwrap();
    let by_digest = client
        .image_source(&image(&registry.addr, &format!("acme/web@{digest}")))
        .await
        .unwrap();
    assert_eq!(by_digest.revision(), Some("aaaa"));
    // No labels: an empty answer, not an error.
    let plain = client
        .image_source(&image(&registry.addr, "acme/plain:1"))
        .await
        .unwrap();
    assert_eq!(plain.source(), None);

    // Unknown tag: the registry's error code is named.
    let err = client
        .image_source(&image(&registry.addr, "acme/api:9.9"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Registry { .. }), "{err}");
    assert!(err.to_string().contains("MANIFEST_UNKNOWN"), "{err}");

    // Nothing listening: unreachable, with the registry named.
    let port = common::free_port();
    let err = client
        .image_source(&image(&format!("127.0.0.1:{port}"), "acme/api:1.0"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_registry() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    // Images are pushed through an anonymous registry over the same storage.
    let open = Registry::start(dir.path(), &storage, None);
    push_fixtures(&Pusher::new(&open.addr)).await;

    let key = signing_key(dir.path());
    let root_cert = key.cert_pem.clone();
    let tokens = TokenServer::start(key, ISSUER, SERVICE, None);
    let auth = TokenAuth {
        realm: tokens.realm.clone(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        root_cert,
    };
    let guarded = Registry::start(dir.path(), &storage, Some(&auth));

    // The registry really wants a token.
    let raw = reqwest::get(format!("http://{}/v2/acme/api/manifests/1.0", guarded.addr))
        .await
        .unwrap();
    assert_eq!(raw.status(), 401);
    let challenge = raw.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer realm="), "{challenge}");

    let client = OciClient::new(OciSettings::default()).unwrap();
    let api = client
        .image_source(&image(&guarded.addr, "acme/api:1.0"))
        .await
        .unwrap();
    assert_eq!(
        api.revision(),
        Some("1111111111111111111111111111111111111111")
    );
    {
        let reqs = tokens.requests.lock().unwrap();
        assert_eq!(reqs.len(), 1, "{reqs:?}");
        let r = &reqs[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/token"));
        assert!(
            r.query.contains(&("service".into(), SERVICE.into())),
            "{:?}",
            r.query
        );
        assert!(
            r.query
                .contains(&("scope".into(), "repository:acme/api:pull".into())),
            "{:?}",
            r.query
        );
        assert_eq!(r.authorization, None, "anonymous token request");
    }
    // The token is reused for the next image of the same repository,
    // and the manifest list of another one needs its own scope.
    client
        .image_source(&image(&guarded.addr, "acme/api:1.0-docker"))
        .await
        .unwrap();
    let web = client
        .image_source(&image(&guarded.addr, "acme/web:2.0"))
        .await
        .unwrap();
    assert_eq!(web.revision(), Some("aaaa"));
    let scopes: Vec<String> = tokens
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
        })
        .collect();
    assert_eq!(
        scopes,
        ["repository:acme/api:pull", "repository:acme/web:pull"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_with_basic_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let storage = dir.path().join("storage");
    let open = Registry::start(dir.path(), &storage, None);
    push_fixtures(&Pusher::new(&open.addr)).await;
    let key = signing_key(dir.path());
    let root_cert = key.cert_pem.clone();
    let tokens = TokenServer::start(key, ISSUER, SERVICE, Some(("robot", "s3cret-pass")));
    let auth = TokenAuth {
        realm: tokens.realm.clone(),
        service: SERVICE.into(),
        issuer: ISSUER.into(),
        root_cert,
    };
    let guarded = Registry::start(dir.path(), &storage, Some(&auth));

    let with = |password: &str| {
        OciClient::new(OciSettings {
            credentials: HashMap::from([(
                guarded.addr.clone(),
                ("robot".to_owned(), password.to_owned()),
            )]),
            ..OciSettings::default()
        })
        .unwrap()
    };
    let ok = with("s3cret-pass")
        .image_source(&image(&guarded.addr, "acme/worker:3.0"))
        .await
        .unwrap();
    assert_eq!(ok.revision(), Some("cccc"));
    assert_eq!(
        tokens.requests.lock().unwrap()[0].authorization.as_deref(),
        Some("Basic cm9ib3Q6czNjcmV0LXBhc3M=")
    );

    // Wrong password: a clear error that does not repeat it.
    let err = with("wrong-pass-123")
        .image_source(&image(&guarded.addr, "acme/worker:3.0"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("token endpoint") && text.contains("401"),
        "{text}"
    );
    assert!(
        !text.contains("wrong-pass-123") && !text.contains("robot:"),
        "{text}"
    );
    let debug = format!("{:?}", with("wrong-pass-123"));
    assert!(!debug.contains("wrong-pass-123"), "{debug}");
}
