//! The cache of repository mirrors shared by every promotion.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ferry_git::{Credentials, Mirror, Remote};

use crate::error::Result;

/// Gives the credentials for a repository URL (from the settings).
pub type CredentialsFor = Arc<dyn Fn(&str) -> Credentials + Send + Sync>;

/// Mirrors by repository URL, opened (cloned) on first use.
pub struct Workspace {
    cache_dir: PathBuf,
    credentials: CredentialsFor,
    mirrors: Mutex<HashMap<String, Arc<Mirror>>>,
}

impl Workspace {
    pub fn new(cache_dir: impl Into<PathBuf>, credentials: CredentialsFor) -> Workspace {
        Workspace {
            cache_dir: cache_dir.into(),
            credentials,
            mirrors: Mutex::new(HashMap::new()),
        }
    }

    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// The mirror of `url`, cloned when this machine has none yet. Opening
    /// does not fetch; call `fetch()` on it when freshness matters.
    pub fn mirror(&self, url: &str) -> Result<Arc<Mirror>> {
        if let Some(m) = self.lock().get(url) {
            return Ok(Arc::clone(m));
        }
        let remote = Remote::new(url, (self.credentials)(url))?;
        let mirror = Arc::new(Mirror::open(&self.cache_dir, remote)?);
        Ok(Arc::clone(
            self.lock().entry(url.to_owned()).or_insert(mirror),
        ))
    }

    /// The mirror of `url` if this process has opened it already; never
    /// clones (for reads that must not wait on the network, e.g. a page).
    pub fn opened(&self, url: &str) -> Option<Arc<Mirror>> {
        self.lock().get(url).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Mirror>>> {
        self.mirrors.lock().unwrap_or_else(|p| p.into_inner())
    }
}
