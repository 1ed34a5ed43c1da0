//! Release governance by time and by people (issue 20): promotion windows,
//! stop-the-line freezes and break-glass.
//!
//! An environment of a release is *held* before anything of it runs when a
//! freeze covers its product and environment, or a PromotionWindow
//! selecting them is closed ([`Inner::hold_for`]). The drive
//! (`drive/gate.rs`) records the hold — the environment SUSPENDED with the
//! reason, as a normal status event — and waits until the hold goes: the
//! window's opening on the engine's [`crate::Clock`], a freeze lifted, a
//! break-glass, a new configuration ([`Inner::gates_changed`]), or, for
//! what another replica changed, the next look ([`GATE_RECHECK`]).
//! Freezes are kept by the store (`ferry_store::Freeze`); a break-glass is
//! marked on the release itself, so it lets exactly that release through.

use std::sync::Arc;
use std::time::Duration;

use ferry_model::Loaded;
use ferry_model::window::Windows;
use ferry_release::{BreakGlass, EventKind, Hold, HoldKind, NewEvent, Release};
use ferry_store::{Freeze, NewFreeze};

use crate::{Engine, Error, Inner};

/// How often a held environment looks again without being told (freezes
/// made or lifted by another replica).
pub(crate) const GATE_RECHECK: Duration = Duration::from_secs(10);

fn store_failed(e: ferry_store::Error) -> Error {
    crate::store_error(Box::new(e))
}

impl Inner {
    /// The windows of `cfg`, compiled once per configuration.
    pub(crate) fn windows(&self, cfg: &Arc<Loaded>) -> Arc<Windows> {
        let mut cached = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((of, w)) = cached.as_ref()
            && Arc::ptr_eq(of, cfg)
        {
            return Arc::clone(w);
        }
        let w = Arc::new(Windows::new(&cfg.config));
        *cached = Some((Arc::clone(cfg), Arc::clone(&w)));
        w
    }

    /// Wakes every held environment to look again.
    pub(crate) fn gates_changed(&self) {
        self.gate_changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What holds `environment` of `release` now, if anything: an active
    /// freeze first (it holds until lifted), then a closed window. A
    /// break-glass on the release lets it through both.
    pub(crate) async fn hold_for(
        &self,
        release: &Release,
        environment: &str,
    ) -> Result<Option<Hold>, Error> {
        if release.break_glass.is_some() {
            return Ok(None);
        }
        let now = self.clock.now();
        if let Some(store) = self.store.freezes() {
            let freezes = store.freezes_active().await.map_err(store_failed)?;
            if let Some(f) = freezes
                .iter()
                .find(|f| f.covers(&release.product, environment))
            {
                return Ok(Some(Hold {
                    kind: HoldKind::Freeze,
                    reason: format!(
                        "frozen until lifted: {} (stop-the-line by {})",
                        f.reason, f.created_by
                    ),
                    until: None,
                    by: f.id.clone(),
                    since: now,
                }));
            }
        }
        let cfg = self.config();
        let windows = self.windows(&cfg);
        if windows.is_empty() {
            return Ok(None);
        }
        Ok(windows
            .closed(
                &cfg.config,
                &release.product,
                environment,
                now.unix_timestamp(),
            )
            .map(|closed| Hold {
                kind: HoldKind::Window,
                reason: closed.reason,
                until: closed
                    .until
                    .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok()),
                by: closed.window,
                since: now,
            }))
    }
}

impl Engine {
    /// Stops the line (issue 20): from now on no release of `products` in
    /// `environments` (empty: all) starts writing, until the freeze is
    /// lifted. Releases are still created; they wait SUSPENDED.
    pub async fn freeze(
        &self,
        products: Vec<String>,
        environments: Vec<String>,
        reason: &str,
        by: &str,
    ) -> Result<Freeze, Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::BadRequest(
                "a freeze needs a reason (what people see while it holds)".into(),
            ));
        }
        let store = self.freeze_store()?;
        let frozen = store
            .freeze_create(&NewFreeze {
                products,
                environments,
                reason: reason.to_owned(),
                created_by: by.to_owned(),
                created_at: ferry_release::now(),
            })
            .await
            .map_err(store_failed)?;
        self.inner.gates_changed();
        Ok(frozen)
    }

    /// Lifts freeze `id`: what it held goes on (unless something else
    /// holds it).
    pub async fn unfreeze(&self, id: &str, by: &str) -> Result<Freeze, Error> {
        let store = self.freeze_store()?;
        let lifted = store
            .freeze_lift(id, by, ferry_release::now())
            .await
            .map_err(store_failed)?
            .ok_or_else(|| Error::NotFound(format!("freeze {id}")))?;
        self.inner.gates_changed();
        Ok(lifted)
    }

    /// The active freezes, oldest first; with `include_lifted`, the latest
    /// freezes (lifted ones too), newest first.
    pub async fn freezes(&self, include_lifted: bool) -> Result<Vec<Freeze>, Error> {
        let store = self.freeze_store()?;
        if include_lifted {
            store.freezes_recent(100).await
        } else {
            store.freezes_active().await
        }
        .map_err(store_failed)
    }

    fn freeze_store(&self) -> Result<&ferry_store::Store, Error> {
        self.inner
            .store
            .freezes()
            .ok_or_else(|| Error::Internal("this engine's store keeps no freezes".into()))
    }

    /// Break-glass (issue 20): lets release `id` through closed promotion
    /// windows and freezes — this release only — marked on it with who and
    /// why, and an audit event in its history.
    pub async fn break_glass(&self, id: &str, by: &str, reason: &str) -> Result<Release, Error> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::BadRequest(
                "break-glass needs a reason (it is recorded on the release)".into(),
            ));
        }
        let mark = BreakGlass {
            by: by.to_owned(),
            reason: reason.to_owned(),
            at: ferry_release::now(),
        };
        let driving = self
            .inner
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|d| Arc::clone(&d.handle));
        let handle = match driving {
            Some(h) => h,
            None => {
                if crate::lease::drive_here(&self.inner, id).await? {
                    return Box::pin(self.break_glass(id, by, reason)).await;
                }
                let release = self
                    .inner
                    .store
                    .get(id)
                    .await
                    .map_err(crate::store_error)?
                    .ok_or_else(|| Error::NotFound(id.to_owned()))?;
                self.inner.handle(release)
            }
        };
        let r = handle.get().await;
        if !r.is_active() {
            return Err(Error::Conflict {
                id: id.to_owned(),
                status: r.status.to_string(),
                action: "break-glass",
            });
        }
        if let Some(before) = &r.break_glass {
            return Err(Error::BadRequest(format!(
                "release {id} was already let through by {} ({})",
                before.by, before.reason
            )));
        }
        handle
            .update_for_request(|r| {
                r.break_glass = Some(mark.clone());
                let status = r.status.to_string();
                (
                    (),
                    vec![NewEvent::new(EventKind::Audit, status).message(format!(
                        "break-glass by {by}: {reason} — this release goes through closed promotion windows and freezes"
                    ))],
                )
            })
            .await?;
        self.inner.gates_changed();
        Ok(handle.get().await)
    }
}
