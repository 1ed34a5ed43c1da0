//! Webhook delivery ids (issue 7): recording one is the single atomic
//! step that decides whether a delivery is acted on, so a replayed
//! delivery changes nothing — also when two replicas receive it at once.

use crate::backend::on_pool;
use crate::columns::millis;
use crate::error::{Result, db};
use crate::store::Store;

impl Store {
    /// Records delivery `id` of `forge`; `true` the first time, `false`
    /// when it was recorded before (a replay).
    pub async fn record_delivery(&self, forge: &str, id: &str) -> Result<bool> {
        let now = millis(ferry_release::now(), id, "now")?;
        on_pool!(&self.backend, |pool| {
            let done = sqlx::query(
                "INSERT INTO webhook_deliveries (forge, delivery_id, received_at) \
                 VALUES ($1, $2, $3) ON CONFLICT (forge, delivery_id) DO NOTHING",
            )
            .bind(forge)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await
            .map_err(db("recording a webhook delivery"))?;
            Ok(done.rows_affected() == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_delivery_is_new_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_sqlite_file(&dir.path().join("f.db"))
            .await
            .unwrap();
        assert!(store.record_delivery("github", "d-1").await.unwrap());
        assert!(!store.record_delivery("github", "d-1").await.unwrap());
        assert!(store.record_delivery("gitlab", "d-1").await.unwrap());
        // Durable: a second connection (another replica) sees it.
        store.close().await;
        let again = Store::open_sqlite_file(&dir.path().join("f.db"))
            .await
            .unwrap();
        assert!(!again.record_delivery("github", "d-1").await.unwrap());
    }
}
