//! The per-product decision gate across replicas (issue 11, SPEC §4.5 and
//! §10).
//!
//! Whether a new release runs, waits in its product's queue or supersedes
//! the running one is decided from the releases the product has *now*; two
//! replicas deciding at the same time would both see "nothing running" and
//! both start one. The engine holds an in-process lock per product around
//! the decision; on PostgreSQL it also holds this gate, a transaction-level
//! advisory lock keyed by the product's name, so decisions about one
//! product are taken one at a time by every replica sharing the database.
//!
//! Why an advisory lock and not a row lock: the decision is about rows
//! that may not exist yet (the new release), and it spans several of the
//! store's calls; locking a name needs no table. The lock belongs to a
//! transaction on its own connection, so a replica that dies while holding
//! it frees it with its connection, and dropping a [`ProductGate`] without
//! [`ProductGate::release`] closes its connection, which frees it too.
//!
//! SQLite serves one replica, whose in-process lock already orders the
//! decisions: the gate is a no-op there.

use std::sync::Arc;

use sqlx::Postgres;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::backend::{Backend, BeginWrite, WriteTx};
use crate::error::{Result, db};
use crate::store::Store;

/// The first key of ferry's advisory locks (`'ferr'` as an `int4`), so
/// that they cannot collide with another application's on a shared
/// database; the second key is `hashtext` of the product's name (a
/// collision only makes two products' decisions wait for each other).
const ADVISORY_CLASS: i32 = 0x6665_7272;

/// Gates held at once by one store. Each holds a pooled connection while
/// the decision inside it needs others (reads, the insert): bounding the
/// gates below the pool's size leaves connections for that work, so many
/// products deciding at once queue here instead of exhausting the pool.
pub(crate) const MAX_HELD_GATES: usize = 4;

pub(crate) fn permits() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_HELD_GATES))
}

/// A held per-product decision gate (see the module documentation).
#[must_use = "the gate is released when dropped"]
pub struct ProductGate {
    tx: Option<WriteTx<Postgres>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl std::fmt::Debug for ProductGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProductGate")
            .field("held", &self.tx.is_some())
            .finish()
    }
}

impl Store {
    /// Waits until no other holder (this process or another replica on the
    /// same PostgreSQL database) holds the gate of `product`, and holds it
    /// until the returned gate is released or dropped.
    pub async fn product_gate(&self, product: &str) -> Result<ProductGate> {
        let Backend::Postgres(pool) = &self.backend else {
            return Ok(ProductGate {
                tx: None,
                _permit: None,
            });
        };
        let permit = Arc::clone(&self.product_gates).acquire_owned().await.ok();
        let mut tx = pool
            .begin_write()
            .await
            .map_err(db("opening a product gate"))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(ADVISORY_CLASS)
            .bind(product)
            .execute(&mut *tx)
            .await
            .map_err(db("taking a product gate"))?;
        Ok(ProductGate {
            tx: Some(tx),
            _permit: permit,
        })
    }
}

impl ProductGate {
    /// Ends the gate's transaction, which frees the advisory lock at once.
    pub async fn release(mut self) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await.map_err(db("releasing a product gate"))?;
        }
        Ok(())
    }
}
