//! What the engine needs from storage. `ferry-store` implements it for
//! SQLite and PostgreSQL; the engine knows nothing of SQL.

use async_trait::async_trait;
use ferry_release::{Event, NewEvent, Release, ReleaseStatus};

pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// The result of creating a release.
#[derive(Debug, Clone)]
pub enum Created {
    /// Stored with its per-product number, and its first events.
    New(Box<Release>, Vec<Event>),
    /// The trigger was seen before: the id of the release it created.
    Duplicate(String),
    /// The request's idempotency key was used less than a day ago: the
    /// first answer. Nothing was stored.
    Remembered(ferry_store::Remembered),
}

#[async_trait]
pub trait ReleaseStore: Send + Sync + 'static {
    /// Stores a new release (number assigned by the store) and its first
    /// events, unless `trigger_key` was already used.
    async fn create(
        &self,
        release: Release,
        trigger_key: Option<String>,
        events: Vec<NewEvent>,
    ) -> Result<Created, StoreError>;
    /// [`ReleaseStore::create`] for a request with an `Idempotency-Key`:
    /// the answer is remembered in the same transaction as the release
    /// (issue 23). Stores that cannot do that refuse, rather than create
    /// without remembering.
    async fn create_idempotent(
        &self,
        _release: Release,
        _request: &ferry_store::IdempotentRequest,
        _events: Vec<NewEvent>,
    ) -> Result<Created, StoreError> {
        Err("this store does not remember idempotency keys".into())
    }
    /// The remembered answer to a request with an `Idempotency-Key`.
    async fn idempotent_answer(
        &self,
        _scope: &str,
        _key: &str,
    ) -> Result<Option<ferry_store::Remembered>, StoreError> {
        Ok(None)
    }
    /// Saves the release and appends events, atomically.
    async fn save(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, StoreError>;
    /// [`ReleaseStore::save`] of the effect of a request with an
    /// `Idempotency-Key` (retry, terminate): the answer is remembered in
    /// the same transaction (issue 23), or, when the key was used less
    /// than a day ago, nothing is written and the first answer is named.
    /// Stores that cannot do that refuse, rather than save without
    /// remembering.
    async fn save_idempotent(
        &self,
        _release: &Release,
        _events: Vec<NewEvent>,
        _request: &ferry_store::IdempotentRequest,
    ) -> Result<ferry_store::Saved, StoreError> {
        Err("this store does not remember idempotency keys".into())
    }
    async fn get(&self, id: &str) -> Result<Option<Release>, StoreError>;
    /// Re-opens releases stored as finished with a status that is not
    /// terminal, or with a terminal status and no finish time (SPEC §12;
    /// issue 23), each with an audit note; returns their ids. Called on
    /// start, before [`ReleaseStore::active_ids`].
    async fn repair_finished(&self) -> Result<Vec<String>, StoreError> {
        Ok(Vec::new())
    }
    /// Releases not finished yet (resumed on start).
    async fn active_ids(&self) -> Result<Vec<String>, StoreError>;
    /// The queued releases of `product`, oldest first (per-product queue,
    /// SPEC §4.5). The default reads every active release, which costs one
    /// read per active release of *any* product on every queue decision;
    /// backends that can filter by product and status should override it.
    async fn queued_of_product(&self, product: &str) -> Result<Vec<Release>, StoreError> {
        let mut out = Vec::new();
        for id in self.active_ids().await? {
            if let Some(r) = self.get(&id).await?
                && r.product == product
                && r.status == ReleaseStatus::Queued
            {
                out.push(r);
            }
        }
        sort_oldest_first(&mut out);
        Ok(out)
    }
    /// Products with a queued release and no release started (active and
    /// not queued): their queue waits for nothing. The default reads every
    /// active release; backends that can filter by status override it.
    async fn stalled_queues(&self) -> Result<Vec<String>, StoreError> {
        let mut queued = std::collections::BTreeSet::new();
        let mut started = std::collections::BTreeSet::new();
        for id in self.active_ids().await? {
            if let Some(r) = self.get(&id).await?
                && r.is_active()
            {
                if r.status == ReleaseStatus::Queued {
                    queued.insert(r.product);
                } else {
                    started.insert(r.product);
                }
            }
        }
        Ok(queued.difference(&started).cloned().collect())
    }
    /// The newest release of `product` numbered below `before` in which
    /// `environment` succeeded: what an automatic rollback restores there
    /// (issue 20). The default knows of none (a store that cannot search
    /// finished releases); `ferry-store` overrides it.
    async fn last_success_in(
        &self,
        _product: &str,
        _environment: &str,
        _before: u64,
    ) -> Result<Option<Release>, StoreError> {
        Ok(None)
    }
    async fn cursor_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn cursor_set(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Moves a cursor from `expected` to `value`; `false` when it was not
    /// at `expected`. Stores shared by several replicas override this with
    /// one atomic statement; the default (read, compare, write) suits a
    /// store only one engine uses.
    async fn cursor_compare_and_set(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
    ) -> Result<bool, StoreError> {
        if self.cursor_get(key).await?.as_deref() != expected {
            return Ok(false);
        }
        self.cursor_set(key, value).await?;
        Ok(true)
    }
    /// Holds the per-product concurrency decision gate of `product` for
    /// every engine sharing the store (issue 11): on PostgreSQL an advisory
    /// lock, so two replicas cannot both start a release of one product.
    /// `None`: the engine's in-process lock is enough (one engine per
    /// store, as with SQLite).
    async fn product_gate(
        &self,
        _product: &str,
    ) -> Result<Option<ferry_store::ProductGate>, StoreError> {
        Ok(None)
    }
    /// Where stop-the-line freezes are kept (issue 20); `None`: this
    /// store keeps none, so nothing is ever frozen and freezing is refused.
    fn freezes(&self) -> Option<&ferry_store::Store> {
        None
    }
    /// Leases, when several replicas may share the store (issue 11);
    /// `None`: this engine drives every release it resumes.
    fn leases(&self) -> Option<&dyn crate::lease::Leases> {
        None
    }
}

/// Creation order: the order a product's queue is served in.
pub(crate) fn sort_oldest_first(releases: &mut [Release]) {
    releases.sort_by(|a, b| {
        a.created_at
            .cmp(&b.created_at)
            .then_with(|| a.id.cmp(&b.id))
    });
}
