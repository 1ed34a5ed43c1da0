//! [`ReleaseStore`] over `ferry-store` (SQLite / PostgreSQL).

use async_trait::async_trait;
use ferry_release::{Event, NewEvent, Release, ReleaseStatus};

use crate::store::{Created, ReleaseStore, StoreError, sort_oldest_first};

/// How many of a product's newest releases [`ReleaseStore::last_success_in`]
/// looks through for an environment's last success.
const LAST_SUCCESS_SCAN: usize = 2_000;

#[async_trait]
impl ReleaseStore for ferry_store::Store {
    fn freezes(&self) -> Option<&ferry_store::Store> {
        Some(self)
    }

    async fn create(
        &self,
        release: Release,
        trigger_key: Option<String>,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        Ok(
            match self
                .create_release(release, trigger_key.as_deref(), events)
                .await?
            {
                ferry_store::Created::New(r, ev) => Created::New(Box::new(r), ev),
                ferry_store::Created::Duplicate(id) => Created::Duplicate(id),
                ferry_store::Created::Remembered(r) => Created::Remembered(r),
            },
        )
    }

    async fn create_idempotent(
        &self,
        release: Release,
        request: &ferry_store::IdempotentRequest,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        Ok(
            match self
                .create_release_idempotent(release, request, events)
                .await?
            {
                ferry_store::Created::New(r, ev) => Created::New(Box::new(r), ev),
                ferry_store::Created::Duplicate(id) => Created::Duplicate(id),
                ferry_store::Created::Remembered(r) => Created::Remembered(r),
            },
        )
    }

    async fn idempotent_answer(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<ferry_store::Remembered>, StoreError> {
        Ok(ferry_store::Store::idempotent_answer(self, scope, key).await?)
    }

    async fn save(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(ferry_store::Store::save(self, release, events).await?)
    }

    async fn save_idempotent(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
        request: &ferry_store::IdempotentRequest,
    ) -> Result<ferry_store::Saved, StoreError> {
        Ok(ferry_store::Store::save_idempotent(self, release, events, request).await?)
    }

    async fn get(&self, id: &str) -> Result<Option<Release>, StoreError> {
        Ok(ferry_store::Store::get(self, id).await?)
    }

    async fn repair_finished(&self) -> Result<Vec<String>, StoreError> {
        Ok(ferry_store::Store::repair_finished(self)
            .await?
            .into_iter()
            .map(|r| r.id)
            .collect())
    }

    async fn active_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.active_release_ids().await?)
    }

    /// Only this product's queued rows are read (by the `product` and
    /// `status` columns), not every active release.
    async fn queued_of_product(&self, product: &str) -> Result<Vec<Release>, StoreError> {
        let mut filter = ferry_store::ListFilter {
            product: Some(product.to_owned()),
            statuses: vec![ReleaseStatus::Queued],
            limit: ferry_store::MAX_PAGE,
            cursor: None,
        };
        let mut out = Vec::new();
        loop {
            let page = self.list(&filter).await?;
            for summary in page.items.iter().filter(|s| s.finished_at.is_none()) {
                if let Some(r) = ferry_store::Store::get(self, &summary.id).await?
                    && r.status == ReleaseStatus::Queued
                    && r.finished_at.is_none()
                {
                    out.push(r);
                }
            }
            match page.next_cursor {
                Some(c) => filter.cursor = Some(c),
                None => break,
            }
        }
        sort_oldest_first(&mut out);
        Ok(out)
    }

    async fn stalled_queues(&self) -> Result<Vec<String>, StoreError> {
        Ok(ferry_store::Store::stalled_queues(self).await?)
    }

    /// Pages of the product's releases, newest first, by their summary
    /// rows (each carries its environments' statuses); only the one found
    /// is read whole. At most [`LAST_SUCCESS_SCAN`] releases are looked at.
    async fn last_success_in(
        &self,
        product: &str,
        environment: &str,
        before: u64,
    ) -> Result<Option<Release>, StoreError> {
        let mut filter = ferry_store::ListFilter {
            product: Some(product.to_owned()),
            statuses: Vec::new(),
            limit: ferry_store::MAX_PAGE,
            cursor: None,
        };
        let mut seen = 0usize;
        loop {
            let page = self.list(&filter).await?;
            for summary in &page.items {
                seen += 1;
                let succeeded = summary.environments.iter().any(|e| {
                    e.name == environment
                        && e.status == ferry_release::EnvironmentStatus::Successful
                });
                if summary.number < before
                    && succeeded
                    && let Some(r) = ferry_store::Store::get(self, &summary.id).await?
                {
                    return Ok(Some(r));
                }
            }
            match page.next_cursor {
                Some(c) if seen < LAST_SUCCESS_SCAN => filter.cursor = Some(c),
                _ => return Ok(None),
            }
        }
    }

    /// On PostgreSQL an advisory lock shared by every replica; on SQLite
    /// (one replica) a no-op, the engine's in-process lock orders it.
    async fn product_gate(
        &self,
        product: &str,
    ) -> Result<Option<ferry_store::ProductGate>, StoreError> {
        Ok(Some(ferry_store::Store::product_gate(self, product).await?))
    }

    async fn cursor_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(ferry_store::Store::cursor_get(self, key).await?)
    }

    async fn cursor_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        Ok(ferry_store::Store::cursor_set(self, key, value).await?)
    }
}
