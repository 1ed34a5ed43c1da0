//! API tokens, the audit log and side-appended release events, on SQLite
//! files and on a real PostgreSQL cluster (see `pg_cluster`).

mod common;
mod pg_cluster;

use ferry_release::{EventKind, NewEvent};
use ferry_store::{AuditFilter, Created, Error, NewAuditEntry, NewToken, Store};

fn token(name: &str, hash: &str) -> NewToken {
    NewToken {
        id: format!("tok-{name}-{hash}"),
        name: name.into(),
        hash: hash.into(),
        role: "promoter".into(),
        products: vec!["shop".into()],
        non_production: true,
        created_by: "admin".into(),
    }
}

async fn tokens_are_found_by_hash_and_revoked(url: &str) {
    let store = Store::open(url).await.unwrap();
    let created = store.token_create(&token("ci", "aa11")).await.unwrap();
    assert_eq!(created.role, "promoter");
    assert!(created.revoked_at.is_none());

    let found = store.token_by_hash("aa11").await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.products, ["shop"]);
    assert!(found.non_production);
    assert!(store.token_by_hash("bb22").await.unwrap().is_none());

    // One live token per name.
    let err = store.token_create(&token("ci", "cc33")).await.unwrap_err();
    assert!(
        matches!(err, Error::TokenNameTaken { ref name } if name == "ci"),
        "{err}"
    );

    let other = store
        .token_create(&NewToken {
            role: "viewer".into(),
            products: vec![],
            non_production: false,
            ..token("dash", "dd44")
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .tokens(false)
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>(),
        ["ci", "dash"]
    );

    // Revoke by name, then by id; a revoked token is no longer found.
    let revoked = store.token_revoke("ci", "root").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_by.as_deref(), Some("root"));
    assert!(revoked.revoked_at.is_some());
    assert!(store.token_by_hash("aa11").await.unwrap().is_none());
    assert!(store.token_revoke("ci", "root").await.unwrap().is_none());
    assert!(
        store
            .token_revoke(&other.id, "root")
            .await
            .unwrap()
            .is_some()
    );
    assert!(store.tokens(false).await.unwrap().is_empty());
    assert_eq!(store.tokens(true).await.unwrap().len(), 2);

    // The name is free again once revoked.
    store.token_create(&token("ci", "ee55")).await.unwrap();
    assert!(store.token_by_hash("ee55").await.unwrap().is_some());
}

async fn audit_log_pages_newest_first(url: &str) {
    let store = Store::open(url).await.unwrap();
    for i in 0..5u16 {
        store
            .audit_append(&NewAuditEntry {
                actor: if i % 2 == 0 { "alice" } else { "bob" }.into(),
                action: "terminate".into(),
                target: format!("rel-{i}"),
                product: Some("shop".into()),
                release_id: Some(format!("rel-{i}")),
                remote: Some("10.0.0.7".into()),
                outcome: 200 + i,
                detail: None,
            })
            .await
            .unwrap();
    }
    let first = store
        .audit(&AuditFilter {
            limit: 2,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|e| e.target.as_str())
            .collect::<Vec<_>>(),
        ["rel-4", "rel-3"]
    );
    assert_eq!(first.items[0].remote.as_deref(), Some("10.0.0.7"));
    assert_eq!(first.items[0].outcome, 204);
    let second = store
        .audit(&AuditFilter {
            limit: 2,
            cursor: first.next_cursor.clone(),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        second
            .items
            .iter()
            .map(|e| e.target.as_str())
            .collect::<Vec<_>>(),
        ["rel-2", "rel-1"]
    );
    let third = store
        .audit(&AuditFilter {
            limit: 2,
            cursor: second.next_cursor.clone(),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(third.items.len(), 1);
    assert!(third.next_cursor.is_none());

    let alice = store
        .audit(&AuditFilter {
            actor: Some("alice".into()),
            release_id: Some("rel-2".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(alice.items.len(), 1);
    assert_eq!(alice.items[0].target, "rel-2");

    let bad = store
        .audit(&AuditFilter {
            cursor: Some("n5".into()),
            ..AuditFilter::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(bad, Error::BadCursor { .. }), "{bad}");
}

async fn appended_events_keep_the_history_gapless(url: &str) {
    let store = Store::open(url).await.unwrap();
    let Created::New(release, first) = store
        .create_release(common::release("shop"), None, common::first_events())
        .await
        .unwrap()
    else {
        panic!("new release")
    };
    let added = store
        .append_events(
            &release.id,
            vec![NewEvent::new(EventKind::Audit, "RUNNING").message("retry by bob from 10.1.1.1")],
        )
        .await
        .unwrap();
    assert_eq!(added[0].seq, first.len() as u64 + 1);
    let saved = store
        .save(&release, vec![NewEvent::new(EventKind::Release, "RUNNING")])
        .await
        .unwrap();
    assert_eq!(saved[0].seq, first.len() as u64 + 2);
    let all = store.events(&release.id, 0, 0).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=first.len() as u64 + 2).collect::<Vec<_>>()
    );
    // The document is untouched by the side append.
    assert_eq!(store.get(&release.id).await.unwrap().unwrap(), release);
    assert!(matches!(
        store
            .append_events(
                "01NOSUCHRELEASE",
                vec![NewEvent::new(EventKind::Audit, "X")]
            )
            .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn sqlite_tokens() {
    let (_dir, url) = common::sqlite_url();
    tokens_are_found_by_hash_and_revoked(&url).await;
}

#[tokio::test]
async fn sqlite_audit_log() {
    let (_dir, url) = common::sqlite_url();
    audit_log_pages_newest_first(&url).await;
}

#[tokio::test]
async fn sqlite_appended_events() {
    let (_dir, url) = common::sqlite_url();
    appended_events_keep_the_history_gapless(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tokens_audit_and_events() {
    let cluster = pg_cluster::Cluster::start();
    tokens_are_found_by_hash_and_revoked(&cluster.database("t_tokens").await).await;
    audit_log_pages_newest_first(&cluster.database("t_audit").await).await;
    appended_events_keep_the_history_gapless(&cluster.database("t_append").await).await;
}
