//! Open libgit2 handles of one mirror, reused between operations.
//!
//! Why: opening a repository with libgit2 reads its config files, lists the
//! pack directory and opens the multi-pack index — dozens of system calls
//! that cost more than the lookup they precede (a release resolved, read
//! and checked its mirror about ten times per environment, each through a
//! fresh handle). A handle also keeps its object cache between uses.
//!
//! Why reuse is safe: libgit2 reads loose refs from disk on every lookup,
//! re-reads `packed-refs` when its file stamp changes, and rescans the pack
//! directory when an object is not found. The one change it cannot see is a
//! pack *removed* (a repack after a fetch), so a handle is only reused while
//! the pack directory and the fetch marker keep the modification times they
//! had when it was opened; otherwise it is dropped and a fresh one opened.

use std::fmt;
use std::fs;
use std::ops::Deref;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use git2::Repository;

/// Handles kept per mirror: enough for the promotions that read one mirror
/// at the same time; more are closed when returned.
const MAX_IDLE: usize = 8;

/// What must not have changed for an idle handle to be reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    packs: Option<SystemTime>,
    fetched: Option<SystemTime>,
}

impl Stamp {
    fn now(repo: &Path, fetch_marker: &Path) -> Stamp {
        let mtime = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
        Stamp {
            packs: mtime(&repo.join("objects").join("pack")),
            fetched: mtime(fetch_marker),
        }
    }
}

type Idle = Arc<Mutex<Vec<(Stamp, Repository)>>>;

/// The idle handles of one mirror (shared by clones of the `Mirror`).
#[derive(Clone, Default)]
pub(crate) struct RepoPool {
    idle: Idle,
}

impl fmt::Debug for RepoPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle = self.idle.lock().map_or(0, |v| v.len());
        f.debug_struct("RepoPool").field("idle", &idle).finish()
    }
}

impl RepoPool {
    /// A handle on the bare repository at `path`: an idle one whose stamp is
    /// still current, else a newly opened one.
    pub(crate) fn take(&self, path: &Path, fetch_marker: &Path) -> Result<PooledRepo, git2::Error> {
        let stamp = Stamp::now(path, fetch_marker);
        let reused = {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.retain(|(s, _)| *s == stamp);
            idle.pop().map(|(_, repo)| repo)
        };
        let repo = match reused {
            Some(repo) => repo,
            None => Repository::open_bare(path)?,
        };
        Ok(PooledRepo {
            repo: Some(repo),
            stamp,
            idle: Arc::clone(&self.idle),
        })
    }
}

/// A repository handle that goes back to its pool when dropped.
pub(crate) struct PooledRepo {
    repo: Option<Repository>,
    stamp: Stamp,
    idle: Idle,
}

impl Deref for PooledRepo {
    type Target = Repository;

    fn deref(&self) -> &Repository {
        // Only `drop` takes it out.
        self.repo
            .as_ref()
            .unwrap_or_else(|| unreachable!("handle used after drop"))
    }
}

impl Drop for PooledRepo {
    fn drop(&mut self) {
        if let Some(repo) = self.repo.take() {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.len() < MAX_IDLE {
                idle.push((self.stamp, repo));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) {
        let out = Command::new("git")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn bare_repo_with_commit() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work");
        fs::create_dir(&work).expect("mkdir");
        git(&work, &["init", "-q", "-b", "main"]);
        fs::write(work.join("a"), "1").expect("write");
        git(&work, &["add", "a"]);
        git(
            &work,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-qm",
                "one",
            ],
        );
        git(dir.path(), &["clone", "-q", "--bare", "work", "repo.git"]);
        dir
    }

    #[test]
    fn a_returned_handle_is_reused_while_nothing_changed() {
        let dir = bare_repo_with_commit();
        let (path, marker) = (dir.path().join("repo.git"), dir.path().join("repo.fetched"));
        let pool = RepoPool::default();
        drop(pool.take(&path, &marker).expect("open"));
        assert_eq!(pool.idle.lock().expect("lock").len(), 1);
        let again = pool.take(&path, &marker).expect("reuse");
        assert_eq!(
            pool.idle.lock().expect("lock").len(),
            0,
            "the idle handle was taken"
        );
        assert!(again.find_reference("refs/heads/main").is_ok());
    }

    #[test]
    fn a_repack_or_fetch_retires_idle_handles() {
        let dir = bare_repo_with_commit();
        let (path, marker) = (dir.path().join("repo.git"), dir.path().join("repo.fetched"));
        let pool = RepoPool::default();
        drop(pool.take(&path, &marker).expect("open"));
        assert_eq!(pool.idle.lock().expect("lock").len(), 1);
        // A repack rewrites the pack directory (mtime moves).
        std::thread::sleep(std::time::Duration::from_millis(20));
        git(&path, &["repack", "-a", "-d", "-q"]);
        let fresh = pool.take(&path, &marker).expect("open again");
        assert_eq!(
            pool.idle.lock().expect("lock").len(),
            0,
            "the stale handle was dropped"
        );
        drop(fresh);
        assert_eq!(pool.idle.lock().expect("lock").len(), 1);
        // So does a fetch (its marker is rewritten).
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(&marker, "1").expect("marker");
        let _h = pool.take(&path, &marker).expect("open after fetch");
        assert_eq!(pool.idle.lock().expect("lock").len(), 0);
    }

    #[test]
    fn the_pool_keeps_a_bounded_number_of_idle_handles() {
        let dir = bare_repo_with_commit();
        let (path, marker) = (dir.path().join("repo.git"), dir.path().join("repo.fetched"));
        let pool = RepoPool::default();
        let handles: Vec<_> = (0..MAX_IDLE + 3)
            .map(|_| pool.take(&path, &marker).expect("open"))
            .collect();
        drop(handles);
        assert_eq!(pool.idle.lock().expect("lock").len(), MAX_IDLE);
    }
}
