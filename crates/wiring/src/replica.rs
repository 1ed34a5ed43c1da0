//! One replica among several (issue 11, SPEC §10 scale-out).
//!
//! - [`instance_id`]: the name this replica writes as the holder of its
//!   release leases. It is kept in the data directory, so a replica that
//!   restarts with the same directory (a single machine, a StatefulSet)
//!   takes its releases back at once, while one with a fresh directory (a
//!   new pod) gets a new name and waits for the dead holder's leases to
//!   expire.
//! - [`spawn_relay`]: on PostgreSQL, events written by other replicas are
//!   announced with NOTIFY; the relay reads them from the store and hands
//!   them to this replica's live streams, so a browser connected anywhere
//!   sees every release move. On SQLite there is one replica and the
//!   engine's in-process broadcast is all there is.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ferry_engine::Engine;

use crate::cancel::CancelFlag;

const INSTANCE_FILE: &str = "instance-id";

/// This replica's instance id: `<host>-<16 hex digits>`, created once per
/// data directory.
pub fn instance_id(data_dir: &Path) -> std::io::Result<String> {
    let path = data_dir.join(INSTANCE_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let id = text.trim();
        if !id.is_empty() {
            return Ok(id.to_owned());
        }
    }
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
    let host: String = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let host = if host.is_empty() {
        "ferry".into()
    } else {
        host
    };
    let id = format!("{host}-{}", hex::encode(random));
    let mut file = std::fs::File::create(&path)?;
    file.write_all(id.as_bytes())?;
    file.sync_all()?;
    Ok(id)
}

/// Relays other replicas' events to this replica's subscribers until
/// `stop` (PostgreSQL; returns at once on SQLite).
pub fn spawn_relay(store: ferry_store::Store, engine: Engine, stop: CancelFlag) {
    tokio::spawn(async move {
        loop {
            let mut listener = match store.listen_events().await {
                Ok(Some(l)) => l,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "event relay: cannot listen; retrying");
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            loop {
                let notice = tokio::select! {
                    () = stop.cancelled() => return,
                    n = listener.recv() => n,
                };
                let notice = match notice {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::warn!(error = %e, "event relay: listener failed; reconnecting");
                        break;
                    }
                };
                // This replica's own events were broadcast when written.
                if Some(notice.instance.as_str()) == store.instance() {
                    continue;
                }
                match store.events_of(&notice).await {
                    Ok(events) => engine.relay(events),
                    Err(e) => tracing::warn!(
                        release = %notice.release_id,
                        error = %e,
                        "event relay: reading announced events"
                    ),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::instance_id;

    #[test]
    fn instance_id_is_kept_per_data_directory() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let first = instance_id(a.path()).unwrap();
        assert_eq!(instance_id(a.path()).unwrap(), first);
        let other = instance_id(b.path()).unwrap();
        assert_ne!(other, first);
        assert!(
            first.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
            "{first}"
        );
    }
}
