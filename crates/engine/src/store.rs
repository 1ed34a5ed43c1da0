//! What the engine needs from storage. `ferry-store` implements it for
//! SQLite and PostgreSQL; the engine knows nothing of SQL.

use async_trait::async_trait;
use ferry_release::{Event, NewEvent, Release};

pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// The result of creating a release.
#[derive(Debug, Clone)]
pub enum Created {
    /// Stored with its per-product number, and its first events.
    New(Release, Vec<Event>),
    /// The trigger was seen before: the id of the release it created.
    Duplicate(String),
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
    /// Saves the release and appends events, atomically.
    async fn save(
        &self,
        release: &Release,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Release>, StoreError>;
    /// Releases not finished yet (resumed on start).
    async fn active_ids(&self) -> Result<Vec<String>, StoreError>;
    async fn cursor_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    async fn cursor_set(&self, key: &str, value: &str) -> Result<(), StoreError>;
}
