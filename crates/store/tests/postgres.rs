//! The store suite on a real PostgreSQL: the test starts its own cluster
//! (`initdb` + `pg_ctl`, loopback port, trust auth, throw-away directory)
//! from Debian's binaries under /usr/lib/postgresql/*/bin, or from
//! `FERRY_PG_BIN`. As root, the cluster runs as the `postgres` user, since
//! PostgreSQL refuses to run as root.

mod common;
mod pg_cluster;
mod suite;

use ferry_store::{BackendKind, Error, Store};
use pg_cluster::Cluster;
use sqlx::Connection;

/// One cluster for the whole suite: starting PostgreSQL costs seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_backend_passes_the_store_suite() {
    let cluster = Cluster::start();

    let url = cluster.database("t_round_trip").await;
    assert_eq!(
        Store::open(&url).await.unwrap().backend(),
        BackendKind::Postgres
    );
    suite::round_trip(&url).await;
    suite::numbering_per_product(&cluster.database("t_numbering").await).await;
    suite::duplicate_trigger_writes_nothing(&cluster.database("t_duplicate").await).await;
    suite::save_appends_gapless_events(&cluster.database("t_save").await).await;
    suite::list_pagination_and_filters(&cluster.database("t_list").await).await;
    suite::reopen_keeps_data(&cluster.database("t_reopen").await).await;
    suite::active_releases_and_latest(&cluster.database("t_active").await).await;
    suite::poller_cursors(&cluster.database("t_cursors").await).await;
    suite::webhook_deliveries_once(&cluster.database("t_deliveries").await).await;
    suite::unfinishable_saves_are_refused(&cluster.database("t_unfinishable").await).await;
    suite::broken_finished_rows_are_repaired(&cluster.database("t_repair").await).await;
    suite::idempotency_keys(&cluster.database("t_idempotency").await).await;
    suite::notification_outbox(&cluster.database("t_notifications").await).await;
    suite::hot_queries_use_indexes(&cluster.database("t_plans").await).await;

    // Connection failures name the server without the password.
    let wrong = format!(
        "postgres://ferry:hunter2@127.0.0.1:{}/no_such_db",
        cluster.port
    );
    let err = Store::open(&wrong).await.unwrap_err();
    assert!(matches!(err, Error::Open { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("ferry:***@127.0.0.1"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

/// The two migration directories must describe the same tables.
#[tokio::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let cluster = Cluster::start();
    let pg_url = cluster.database("t_schema").await;
    Store::open(&pg_url).await.unwrap().close().await;
    let (_dir, sqlite_url) = common::sqlite_url();
    Store::open(&sqlite_url).await.unwrap().close().await;

    let mut pg = sqlx::PgConnection::connect(&pg_url).await.unwrap();
    let mut pg_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut pg)
    .await
    .unwrap();
    let mut lite = sqlx::SqliteConnection::connect(&sqlite_url).await.unwrap();
    let mut lite_columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut lite)
    .await
    .unwrap();
    pg_columns.sort();
    lite_columns.sort();
    assert!(lite_columns.contains(&("releases".into(), "lease_owner".into())));
    assert_eq!(pg_columns, lite_columns);
}
