//! The notes cache on a real SQLite store, a real registry and real
//! repositories: notes computed while the registry is down are degraded
//! and cached; once the registry is back (a real `docker-registry` started
//! later on the same port), `refresh_notes` computes complete notes, and
//! a read computes degraded notes again by itself once they are older than
//! the refresh interval (and not before). Also: the bodies as served
//! (gzip, ETag) and rows written by the first cache version.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Pusher, Registry, Repo, app_snapshot, path_value, release, scalar, workspace};
use ferry_notes::oci::{REVISION_LABEL, SOURCE_LABEL};
use ferry_notes::rendition::{etag, gunzip};
use ferry_notes::{
    NotesBuilder, NotesEncoding, NotesFormat, NotesSettings, OciClient, OciSettings, ReleaseNotes,
    cached_notes, notes_for_release, notes_validator, refresh_notes,
};
use ferry_release::Release;
use ferry_store::{Created, Store};

fn builder(root: &std::path::Path, refresh_after: Option<Duration>) -> NotesBuilder {
    NotesBuilder::new(
        workspace(&root.join("mirrors")),
        Arc::new(OciClient::new(OciSettings::default()).unwrap()),
        NotesSettings {
            allow_local_sources: true,
            refresh_degraded_after: refresh_after,
            ..NotesSettings::default()
        },
    )
}

async fn create(store: &Store, r: Release) -> String {
    match store.create_release(r, None, Vec::new()).await.unwrap() {
        Created::New(r, _) => r.id,
        other => panic!("not created: {other:?}"),
    }
}

fn labels_not_read(notes: &ReleaseNotes) -> bool {
    notes.notes.iter().any(|n| n.contains("labels not read"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degraded_notes_are_computed_again_once_the_registry_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    // The registry's port, with nothing listening yet: "registry down".
    let port = common::free_port();
    let reg = format!("127.0.0.1:{port}");

    let mut code = Repo::init(root.join("svc"));
    let old_rev = code.commit("src/a.rs", "chore: initial service");
    code.commit("src/b.rs", "feat(api): add the orders endpoint (#12)");
    code.commit("src/c.rs", "fix: handle an empty cart\n\nFixes #7.");
    let new_rev = code.head();

    // Two products promoting the same image, old → new.
    let mut gitops = Repo::init(root.join("gitops"));
    let values = |tag: &str| format!("svc:\n  image: {reg}/acme/svc:{tag}\n");
    let c1 = gitops.commit_file("apps/svc/values.yaml", &values("1.0"), "chore: 1.0");
    let c2 = gitops.commit_file("apps/svc/values.yaml", &values("1.1"), "feat: 1.1 (#3)");
    let snap = |rev: &str, tag: &str| {
        app_snapshot(
            "svc-dev",
            &gitops.url(),
            "apps/svc",
            rev,
            vec![(
                "values.yaml",
                vec![path_value(
                    "$['svc']['image']",
                    scalar(&format!("{reg}/acme/svc:{tag}")),
                )],
            )],
        )
    };
    let store = Store::open_sqlite_file(&root.join("ferry.db"))
        .await
        .unwrap();
    let mut second = Vec::new();
    for product in ["p", "q"] {
        create(
            &store,
            release(product, 1, "1.0", vec![("svc", snap(&c1, "1.0"))]),
        )
        .await;
        second.push(
            create(
                &store,
                release(product, 2, "1.1", vec![("svc", snap(&c2, "1.1"))]),
            )
            .await,
        );
    }
    let (p, q) = (second[0].clone(), second[1].clone());

    // An hour before degraded notes are computed again on read.
    let patient = builder(root, Some(Duration::from_secs(3600)));
    for id in [&p, &q] {
        let notes = notes_for_release(&store, &patient, id, |_| None)
            .await
            .unwrap();
        assert!(labels_not_read(&notes), "{:?}", notes.notes);
        assert!(notes.sources.is_empty());
        let json = cached_notes(
            &store,
            &patient,
            id,
            NotesFormat::Json,
            NotesEncoding::Identity,
            |_| None,
        )
        .await
        .unwrap();
        assert!(json.degraded);
        // What is stored is what the API serves: the document's JSON.
        let body = json.body.clone();
        assert_eq!(body, serde_json::to_vec(&notes).unwrap());
        assert_eq!(json.etag, etag(&body));
        assert_eq!(json.size, body.len());
        // And gzip-compressed, with the same validator.
        let gz = cached_notes(
            &store,
            &patient,
            id,
            NotesFormat::Json,
            NotesEncoding::Gzip,
            |_| None,
        )
        .await
        .unwrap();
        assert_eq!(
            (gz.encoding, &gz.etag, gz.size),
            (NotesEncoding::Gzip, &json.etag, json.size)
        );
        assert_eq!(gunzip(&gz.body, gz.size).unwrap(), body);
    }
    let degraded_tag = notes_validator(&store, &patient, &p, NotesFormat::Json)
        .await
        .unwrap()
        .expect("stored")
        .etag;

    // The registry comes back on the same port, with the images.
    let registry = Registry::start_at(root, &root.join("storage"), None, port);
    let pusher = Pusher::new(&registry.addr);
    let source = code.url();
    for (tag, rev) in [("1.0", &old_rev), ("1.1", &new_rev)] {
        pusher
            .image(
                "acme/svc",
                Some(tag),
                &[(SOURCE_LABEL, &source), (REVISION_LABEL, rev)],
                false,
                "amd64",
            )
            .await;
    }

    // Not yet due: the cached (degraded) notes are served as they are.
    let cached = cached_notes(
        &store,
        &patient,
        &p,
        NotesFormat::Json,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert!(cached.degraded);
    assert_eq!(cached.etag, degraded_tag);

    // Refreshed on request: complete notes, stored in every format.
    let fresh = refresh_notes(&store, &patient, &p, |_| None).await.unwrap();
    assert!(fresh.notes.is_empty(), "{:?}", fresh.notes);
    let subjects: Vec<&str> = fresh.sources[0]
        .groups
        .named()
        .iter()
        .flat_map(|(_, c)| c.iter().map(|c| c.subject.as_str()))
        .collect();
    assert_eq!(
        subjects,
        [
            "feat(api): add the orders endpoint (#12)",
            "fix: handle an empty cart"
        ]
    );
    let json = cached_notes(
        &store,
        &patient,
        &p,
        NotesFormat::Json,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert!(!json.degraded);
    assert_ne!(json.etag, degraded_tag);
    assert_eq!(json.body.clone(), serde_json::to_vec(&fresh).unwrap());
    let md = cached_notes(
        &store,
        &patient,
        &p,
        NotesFormat::Markdown,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(md.body.clone()).unwrap(),
        ferry_notes::markdown(&fresh)
    );
    assert!(!md.degraded);

    // q was not refreshed; a reader whose interval has passed (zero)
    // computes its notes again by itself.
    let cached_q = cached_notes(
        &store,
        &patient,
        &q,
        NotesFormat::Markdown,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert!(cached_q.degraded);
    let eager = builder(root, Some(Duration::ZERO));
    // Due: no validator is offered, so a conditional request cannot be
    // answered with the stale notes.
    assert_eq!(
        notes_validator(&store, &eager, &q, NotesFormat::Markdown)
            .await
            .unwrap(),
        None
    );
    let md_q = cached_notes(
        &store,
        &eager,
        &q,
        NotesFormat::Markdown,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert!(!md_q.degraded);
    let text = String::from_utf8(md_q.body.clone()).unwrap();
    assert!(text.contains("add the orders endpoint"), "{text}");
    let doc_q = notes_for_release(&store, &patient, &q, |_| None)
        .await
        .unwrap();
    assert!(doc_q.notes.is_empty(), "{:?}", doc_q.notes);

    // Complete notes are never computed again on read.
    let before = notes_validator(&store, &eager, &p, NotesFormat::Json)
        .await
        .unwrap()
        .expect("complete notes are offered");
    drop(registry);
    let after = cached_notes(
        &store,
        &eager,
        &p,
        NotesFormat::Json,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert_eq!(after.etag, before.etag);
    assert_eq!(after.computed_at, before.created_at);
    assert!(!after.degraded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_of_the_first_cache_version_are_rendered_on_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let store = Store::open_sqlite_file(&root.join("ferry.db"))
        .await
        .unwrap();
    let gitops = Repo::init(root.join("gitops"));
    let id = create(
        &store,
        release(
            "p",
            1,
            "1.0",
            vec![(
                "a",
                app_snapshot("a", &gitops.url(), "a", "0000000", vec![]),
            )],
        ),
    )
    .await;
    // A document as the first cache version stored it (its repository
    // revision does not even exist: it must be served, not recomputed).
    let legacy = ReleaseNotes {
        format_version: ferry_notes::FORMAT_VERSION,
        release: ferry_notes::ReleaseRef {
            id: id.clone(),
            number: 1,
            product: "p".into(),
            version: Some("1.0".into()),
        },
        previous_release: None,
        configuration: Vec::new(),
        images: Vec::new(),
        sources: Vec::new(),
        notes: vec!["computed by an earlier ferry".into()],
    };
    let text = serde_json::to_string(&legacy).unwrap();
    store
        .put_release_notes(&id, ferry_notes::FORMAT_VERSION, &text)
        .await
        .unwrap();

    let b = builder(root, None);
    let md = cached_notes(
        &store,
        &b,
        &id,
        NotesFormat::Markdown,
        NotesEncoding::Identity,
        |_| None,
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(md.body.clone()).unwrap(),
        ferry_notes::markdown(&legacy)
    );
    assert!(md.degraded);
    // Converted: the old row is gone, both formats are stored.
    assert_eq!(store.release_notes(&id).await.unwrap(), None);
    let json = store
        .notes_rendition(&id, "json", "gzip")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        gunzip(&json.body, json.validator.size as usize).unwrap(),
        text.as_bytes()
    );
    assert_eq!(json.validator.etag, etag(text.as_bytes()));
    let plain = store
        .notes_rendition(&id, "json", "identity")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(plain.body, text.as_bytes());
    assert_eq!(
        notes_for_release(&store, &b, &id, |_| None).await.unwrap(),
        legacy
    );
    // Refresh interval `None`: degraded notes are recomputed only on
    // request, so a read offers the validator.
    assert!(
        notes_validator(&store, &b, &id, NotesFormat::Markdown)
            .await
            .unwrap()
            .is_some()
    );
}
