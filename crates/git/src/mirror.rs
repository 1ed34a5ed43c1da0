//! The cached bare mirror of one remote repository.
//!
//! Why a mirror: cloning (and above all checking out) a GitOps repository
//! with tens of thousands of files costs seconds; a bare mirror that is
//! fetched incrementally costs one round trip. One mirror per remote URL,
//! under a directory named by a hash of the URL without credentials (so the
//! cache directory listing reveals nothing and equal URLs share a mirror).
//!
//! Concurrency: clone, fetch, recording a pushed tip, deleting a branch
//! and a pull-request branch's commit-and-push take an exclusive advisory
//! lock on `<mirror>.lock` (flock), which serialises them between threads
//! and processes. Pushes onto a branch run outside it (group commit, see
//! [`crate::group`]): `git push` to a URL changes no ref of the mirror, and
//! the pushed tip is recorded under the lock afterwards. Reads take no
//! lock: git's object store is append-only and ref updates are atomic, so
//! readers always see a consistent commit.
//!
//! So every change to the mirror's refs happens under that lock (git's own
//! automatic maintenance included: it runs in the foreground, never
//! detached), and whoever holds the lock knows that any git lock file
//! (`refs/heads/main.lock`, `packed-refs.lock`, …) was left by a git or
//! ferry process that was killed mid-update — a crash, a SIGKILL, a
//! command past its deadline — and removes it. Without that, one kill
//! during a fetch failed every later fetch with "Unable to create
//! '…/refs/heads/main.lock': File exists" until someone deleted the file.
//!
//! `HEAD` of the mirror is the remote's default branch as of the clone
//! (`git fetch` does not move it); resolving `HEAD` therefore follows that
//! branch's fetched tip.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use git2::Repository;

use crate::cli;
use crate::error::{Error, Result};
use crate::flight::Flight;
use crate::partial::{CLONE_FILTERS, Objects, is_filter_refusal};
use crate::pool::{PooledRepo, RepoPool};
use crate::transport::Remote;

/// Refs mirrored from the remote: branches and tags, nothing else (pull
/// request refs of a forge would only cost space and fetch time).
const FETCH_REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// A bare mirror of one remote repository.
#[derive(Debug, Clone)]
pub struct Mirror {
    remote: Remote,
    path: PathBuf,
    lock_path: PathBuf,
    /// Holds the start time of the last successful fetch (ns since the epoch).
    marker_path: PathBuf,
    /// Open libgit2 handles, reused while the mirror's packs stay put.
    pool: RepoPool,
    /// Touched when a push from this mirror loses a race (see `push`).
    contended_path: PathBuf,
    /// Where the objects a partial mirror lacks come from.
    objects: Arc<Objects>,
    /// This process's fetches of the mirror (single-flight).
    flight: Arc<Flight>,
}

/// Held while a mirror is being changed; released on drop.
#[derive(Debug)]
pub struct MirrorLock {
    _file: File,
}

impl Mirror {
    /// Opens the mirror of `remote` under `cache_dir`, cloning it first when
    /// it does not exist yet. Does not fetch an existing mirror (call
    /// [`Mirror::fetch`] for that), so opening a warm mirror costs no round trip.
    pub fn open(cache_dir: &Path, remote: Remote) -> Result<Mirror> {
        fs::create_dir_all(cache_dir).map_err(|source| Error::Io {
            operation: "creating the mirror cache directory",
            path: cache_dir.display().to_string(),
            source,
        })?;
        allow_partial_clones();
        let key = mirror_key(remote.url())?;
        let path = cache_dir.join(format!("{key}.git"));
        let mirror = Mirror {
            objects: Arc::new(Objects::new(remote.clone(), path.clone())),
            flight: crate::flight::of(&path),
            path,
            lock_path: cache_dir.join(format!("{key}.lock")),
            marker_path: cache_dir.join(format!("{key}.fetched")),
            contended_path: cache_dir.join(format!("{key}.contended")),
            remote,
            pool: RepoPool::default(),
        };
        if !mirror.path.join("HEAD").exists() {
            let _lock = mirror.lock()?;
            // Another task may have cloned while we waited for the lock.
            if !mirror.path.join("HEAD").exists() {
                mirror.clone_locked(cache_dir, &key)?;
            }
        }
        Ok(mirror)
    }

    /// The remote this mirror follows.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// The mirror's directory (a bare repository).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the mirror's exclusive lock (blocking).
    pub fn lock(&self) -> Result<MirrorLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock_path)
            .map_err(|source| self.io_error("opening the mirror lock", &self.lock_path, source))?;
        file.lock()
            .map_err(|source| self.io_error("locking the mirror", &self.lock_path, source))?;
        self.remove_stale_git_locks()?;
        Ok(MirrorLock { _file: file })
    }

    /// Removes git lock files left by a killed process (see the module
    /// comment: under the mirror lock nobody else can be holding one).
    /// Looks only where ref and config updates lock: the top level and
    /// `refs/` — a few directory reads, next to a network round trip.
    fn remove_stale_git_locks(&self) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        // (directory, whether to descend): the top level's subdirectories
        // are objects/, hooks/, …; only refs/ holds ref locks.
        let mut dirs = vec![(self.path.clone(), false), (self.path.join("refs"), true)];
        while let Some((dir, descend)) = dirs.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(self.io_error("reading the mirror's refs", &dir, source));
                }
            };
            for entry in entries {
                let entry = entry
                    .map_err(|source| self.io_error("reading the mirror's refs", &dir, source))?;
                let path = entry.path();
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    if descend {
                        dirs.push((path, true));
                    }
                } else if path.extension().is_some_and(|e| e == "lock") {
                    tracing::warn!(target: crate::TRACE_TARGET,
                        lock = %path.display(),
                        "removing a git lock file left in the mirror by a killed process");
                    match fs::remove_file(&path) {
                        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                            return Err(self.io_error("removing a stale git lock", &path, e));
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Brings branches and tags up to date with the remote (pruning deleted
    /// ones). Returns whether a fetch ran: when another task's fetch started
    /// after this call was made (it waited for the lock meanwhile), that
    /// fetch already saw everything this one would, so it is not repeated.
    pub fn fetch(&self) -> Result<bool> {
        self.fetch_since(SystemTime::now())
    }

    /// Makes sure the mirror reflects a fetch that started at or after
    /// `since`; fetches only when the last one started earlier. Many tasks
    /// reacting to the same push event share one fetch this way.
    ///
    /// In this process one fetch runs at a time per mirror and serves every
    /// caller waiting for it (see [`crate::flight`]); between processes the
    /// lock and the fetch marker do the same.
    pub fn fetch_since(&self, since: SystemTime) -> Result<bool> {
        let url = self.remote.display_url();
        self.flight.since(since, &url, |started| {
            let _lock = self.lock()?;
            if let Some(last) = self.last_fetch_started().filter(|last| *last >= since) {
                started(last);
                return Ok(false);
            }
            started(SystemTime::now());
            self.fetch_locked()?;
            Ok(true)
        })
    }

    /// When the last successful clone or fetch started, if known.
    fn last_fetch_started(&self) -> Option<SystemTime> {
        let text = fs::read_to_string(&self.marker_path).ok()?;
        let nanos: u64 = text.trim().parse().ok()?;
        Some(UNIX_EPOCH + Duration::from_nanos(nanos))
    }

    fn record_fetch_started(&self, started: SystemTime) -> Result<()> {
        let nanos = started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = self.marker_path.with_extension("fetched.tmp");
        fs::write(&tmp, nanos.to_string())
            .and_then(|()| fs::rename(&tmp, &self.marker_path))
            .map_err(|source| self.io_error("recording the fetch time", &self.marker_path, source))
    }

    /// Records that a push from this mirror just lost a race (a file's
    /// modification time, so every task and process using the mirror sees it).
    pub(crate) fn mark_contended(&self) -> Result<()> {
        fs::write(&self.contended_path, b"").map_err(|source| {
            self.io_error("recording a lost push race", &self.contended_path, source)
        })
    }

    /// Whether a push from this mirror lost a race less than `window` ago.
    pub(crate) fn contended_within(&self, window: Duration) -> bool {
        fs::metadata(&self.contended_path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|at| at.elapsed().ok())
            .is_some_and(|age| age < window)
    }

    /// [`Mirror::fetch`] for callers that already hold the lock; always fetches.
    pub(crate) fn fetch_locked(&self) -> Result<()> {
        let _span = tracing::info_span!(target: crate::TRACE_TARGET, "git.fetch",
            url = %self.remote.display_url())
        .entered();
        let started = SystemTime::now();
        let mut args = vec![
            // Automatic maintenance (gc, pack-refs) in the foreground: a
            // detached one would change refs after the mirror lock is
            // released, and its lock files would look stale to the next
            // holder (see the module comment).
            "-c",
            "gc.autoDetach=false",
            "-c",
            "maintenance.autoDetach=false",
            "fetch",
            "--prune",
            "--quiet",
            "--no-write-fetch-head",
            "--",
        ];
        args.push(self.remote.url());
        args.extend(FETCH_REFSPECS);
        cli::run(&self.remote, &self.path, "fetch", args)?;
        self.record_fetch_started(started)
    }

    fn clone_locked(&self, cache_dir: &Path, key: &str) -> Result<()> {
        let _span = tracing::info_span!(target: crate::TRACE_TARGET, "git.clone",
            url = %self.remote.display_url())
        .entered();
        // Clone next to the final place and rename, so a crash never leaves a
        // half-cloned mirror that looks complete.
        let tmp = cache_dir.join(format!("{key}.tmp-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp)
                .map_err(|source| self.io_error("removing a stale clone", &tmp, source))?;
        }
        let tmp_arg = tmp.to_string_lossy().into_owned();
        let started = SystemTime::now();
        // Commits only; trees and blobs come when read (see `partial`).
        for filter in CLONE_FILTERS {
            let mut args = vec!["clone", "--bare", "--quiet"];
            args.extend(filter);
            args.extend(["--", self.remote.url(), tmp_arg.as_str()]);
            match cli::run(&self.remote, cache_dir, "clone", args) {
                Ok(_) => break,
                Err(e) => {
                    let _ = fs::remove_dir_all(&tmp);
                    if filter.is_none() || !is_filter_refusal(&e) {
                        return Err(e);
                    }
                }
            }
        }
        {
            let repo = Repository::open_bare(&tmp)
                .map_err(|e| self.git_error("opening the new mirror", e))?;
            let mut config = repo
                .config()
                .map_err(|e| self.git_error("reading the mirror config", e))?;
            // The promotion commits are built in-process and pushed by SHA; ref
            // logs in a mirror only grow.
            config
                .set_bool("core.logAllRefUpdates", false)
                .map_err(|e| self.git_error("configuring the mirror", e))?;
            if !filter_honoured(&repo) {
                // The server sent everything (it refuses filters, e.g.
                // `uploadpack.allowFilter` off): a full mirror, which git
                // still marks as partial. Say what it is, so no read ever
                // waits for an object fetch that cannot be needed.
                for key in ["remote.origin.promisor", "remote.origin.partialclonefilter"] {
                    match config.remove(key) {
                        Err(e) if e.code() != git2::ErrorCode::NotFound => {
                            return Err(self.git_error("configuring the mirror", e));
                        }
                        _ => {}
                    }
                }
            }
        }
        fs::rename(&tmp, &self.path).map_err(|source| {
            self.io_error("moving the new mirror into place", &self.path, source)
        })?;
        self.record_fetch_started(started)
    }

    /// Where this mirror's missing objects come from.
    pub(crate) fn objects(&self) -> &Arc<Objects> {
        &self.objects
    }

    /// Whether the mirror is partial: cloned with a filter the server
    /// honoured, so trees and blobs are fetched when first read.
    pub fn is_partial(&self) -> bool {
        self.objects.is_partial()
    }

    /// A libgit2 handle on the mirror (pooled: see [`crate::pool`]).
    pub(crate) fn repo(&self) -> Result<PooledRepo> {
        self.pool
            .take(&self.path, &self.marker_path)
            .map_err(|e| self.git_error("opening the mirror", e))
    }

    pub(crate) fn git_error(&self, operation: &'static str, source: git2::Error) -> Error {
        Error::Library {
            operation,
            mirror: self.remote.display_url(),
            source,
        }
    }

    fn io_error(&self, operation: &'static str, path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            operation,
            path: path.display().to_string(),
            source,
        }
    }
}

/// Whether a clone asked with a filter left objects out: the tip's tree is
/// missing (`tree:0`), or a blob in it is (`blob:none`). (A repository
/// without commits or files counts as filtered; nothing can be missing
/// from it anyway.)
fn filter_honoured(repo: &Repository) -> bool {
    let Ok(tree) = repo.head().and_then(|head| head.peel_to_tree()) else {
        return true;
    };
    let Ok(odb) = repo.odb() else {
        return true;
    };
    let has = |oid| odb.exists_ext(oid, git2::OdbLookupFlags::NO_REFRESH);
    let mut first_blob = None;
    let _ = tree.walk(git2::TreeWalkMode::PreOrder, |_, entry| {
        if entry.kind() == Some(git2::ObjectType::Blob) {
            first_blob = Some(entry.id());
            git2::TreeWalkResult::Abort
        } else {
            git2::TreeWalkResult::Ok
        }
    });
    first_blob.is_none_or(|blob| !has(blob))
}

/// Lets libgit2 open repositories that git marks as partial clones (git
/// before 2.45 writes `extensions.partialclone`, which libgit2 refuses
/// unless told it is supported): ferry fetches what they lack itself.
fn allow_partial_clones() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: libgit2's option setters are not synchronised with
        // repository opens on other threads; this runs once, on the first
        // `Mirror::open`, which every read of a mirror follows.
        let _ = unsafe { git2::opts::set_extensions(&["partialclone"]) };
    });
}

/// The mirror's directory name: a hash of the credential-free URL.
fn mirror_key(url: &str) -> Result<String> {
    let oid = git2::Oid::hash_object(git2::ObjectType::Blob, url.as_bytes()).map_err(|source| {
        Error::Library {
            operation: "hashing the remote URL",
            mirror: crate::redact::redact_url(url),
            source,
        }
    })?;
    Ok(oid.to_string()[..20].to_string())
}
