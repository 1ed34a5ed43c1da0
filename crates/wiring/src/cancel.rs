//! A tiny cancellation flag for background tasks (tokio's
//! `CancellationToken` lives in tokio-util, which the server's crates do
//! not otherwise need).

use std::sync::Arc;
use tokio::sync::watch;

#[derive(Clone)]
pub struct CancelFlag {
    tx: Arc<watch::Sender<bool>>,
    rx: watch::Receiver<bool>,
}

impl Default for CancelFlag {
    fn default() -> Self {
        let (tx, rx) = watch::channel(false);
        CancelFlag {
            tx: Arc::new(tx),
            rx,
        }
    }
}

impl CancelFlag {
    pub fn cancel(&self) {
        let _ = self.tx.send(true);
    }

    pub async fn cancelled(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|v| *v).await;
    }
}
