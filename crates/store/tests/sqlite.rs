//! The store suite on real SQLite files in temporary directories.

mod common;
mod suite;

use common::sqlite_url;
use ferry_store::{BackendKind, Error, Store};

macro_rules! on_sqlite_file {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let (_dir, url) = sqlite_url();
            suite::$name(&url).await;
        }
    )*};
}

on_sqlite_file!(
    round_trip,
    numbering_per_product,
    duplicate_trigger_writes_nothing,
    save_appends_gapless_events,
    list_pagination_and_filters,
    reopen_keeps_data,
    active_releases_and_latest,
    poller_cursors,
    webhook_deliveries_once,
    unfinishable_saves_are_refused,
    broken_finished_rows_are_repaired,
    idempotency_keys,
    notification_outbox,
    hot_queries_use_indexes,
);

#[tokio::test]
async fn in_memory_database_works() {
    let store = Store::open("sqlite::memory:").await.unwrap();
    assert_eq!(store.backend(), BackendKind::Sqlite);
    suite::poller_cursors("sqlite::memory:").await;
    store.cursor_set("k", "v").await.unwrap();
    assert_eq!(store.cursor_get("k").await.unwrap().as_deref(), Some("v"));
}

#[tokio::test]
async fn file_is_in_wal_mode() {
    let (dir, url) = sqlite_url();
    let store = Store::open(&url).await.unwrap();
    store.cursor_set("k", "v").await.unwrap();
    assert!(
        dir.path().join("ferry.db-wal").exists(),
        "WAL file beside the database"
    );
    store.close().await;
}

#[tokio::test]
async fn bad_urls_are_clear_errors_without_secrets() {
    let err = Store::open("mysql://root:hunter2@db/ferry")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UnsupportedUrl { .. }));
    let text = err.to_string();
    assert!(text.contains("mysql://root:***@db/ferry"), "{text}");
    assert!(!text.contains("hunter2"));

    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}/no/such/dir/ferry.db", dir.path().display());
    let err = Store::open(&missing).await.unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[tokio::test]
async fn file_path_with_url_characters_opens_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data dir?#%");
    std::fs::create_dir(&data).unwrap();
    let path = data.join("ferry.db");
    let store = Store::open_sqlite_file(&path).await.unwrap();
    store.cursor_set("k", "v").await.unwrap();
    store.close().await;
    assert!(path.exists());
    let again = Store::open_sqlite_file(&path).await.unwrap();
    assert_eq!(again.cursor_get("k").await.unwrap().as_deref(), Some("v"));
    assert!(data.join("ferry.db-wal").exists(), "WAL mode");
}
