//! Notifications out (issue 20): the `[[notifications]]` subscriptions
//! → `ferry-notify`'s outbox writer and courier, run beside the engine
//! until the [`CancelFlag`]. Neither is on the engine's path: the engine
//! records events as always, and these read them from the store.

use std::sync::Arc;

use ferry_notify::{Courier, CourierSettings, Outbox, Subscription};
use ferry_settings::{Settings, SettingsError};
use tokio::sync::Notify;

use crate::cancel::CancelFlag;

/// The subscriptions of the settings, their secrets registered for masking.
pub fn subscriptions(settings: &Settings) -> Result<Vec<Subscription>, SettingsError> {
    let mut out = Vec::with_capacity(settings.notifications.len());
    for (index, n) in settings.notifications.iter().enumerate() {
        let s = ferry_settings::notification_subscription(index, n)?;
        ferry_security::register_secret(s.url.expose());
        if let Some(k) = &s.signing_key {
            ferry_security::register_secret(k.expose());
        }
        out.push(s);
    }
    Ok(out)
}

/// The outbox writer and the courier of one replica.
pub struct Notifier {
    outbox: Outbox,
    courier: Courier,
}

impl Notifier {
    /// `None` without subscriptions: nothing runs.
    pub fn new(
        store: &ferry_store::Store,
        subscriptions: Vec<Subscription>,
        base_url: &str,
        instance: &str,
    ) -> Option<Notifier> {
        if subscriptions.is_empty() {
            return None;
        }
        let wake = Arc::new(Notify::new());
        let subs: Arc<[Subscription]> = subscriptions.into();
        Some(Notifier {
            outbox: Outbox::new(
                store.clone(),
                Arc::clone(&subs),
                base_url,
                Arc::clone(&wake),
            ),
            courier: Courier::new(store.clone(), &subs, CourierSettings::new(instance), wake),
        })
    }

    /// Starts both; call before the engine starts, so the events of
    /// resumed releases wake the writer too (the store scan would find
    /// them anyway).
    pub fn spawn(self, engine: &ferry_engine::Engine, stop: CancelFlag) {
        let events = engine.subscribe();
        let s = stop.clone();
        tokio::spawn(self.outbox.run(events, async move { s.cancelled().await }));
        tokio::spawn(self.courier.run(async move { stop.cancelled().await }));
    }
}
