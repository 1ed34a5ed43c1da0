//! Reading the mirror: resolving revisions, files and directories at a
//! revision, commit metadata, ancestry and the history of a path.
//!
//! Everything is read in-process with libgit2 from the object store; no
//! working tree exists.

use std::collections::BTreeSet;
use std::sync::Arc;

use git2::{ObjectType, Oid, Repository, Sort, Tree};

use crate::error::{Error, Result};
use crate::mirror::Mirror;
use crate::partial::{Need, Objects, Target};
use crate::path::{self, RepoPath};
use crate::pool::PooledRepo;

/// A point in time as git records it: seconds since the epoch and the
/// author's UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GitTime {
    pub seconds: i64,
    pub offset_minutes: i32,
}

impl GitTime {
    /// RFC 3339 in the recorded offset, e.g. `2024-05-01T12:00:00+02:00`.
    pub fn to_rfc3339(&self) -> String {
        let offset = time::UtcOffset::from_whole_seconds(self.offset_minutes.saturating_mul(60))
            .unwrap_or(time::UtcOffset::UTC);
        time::OffsetDateTime::from_unix_timestamp(self.seconds)
            .map(|t| t.to_offset(offset))
            .ok()
            .and_then(|t| {
                t.format(time::macros::format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
                ))
                .ok()
            })
            .unwrap_or_default()
    }
}

/// The author or committer of a commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
    pub time: GitTime,
}

/// What ferry records about a commit (trigger commits, release notes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitInfo {
    pub id: Oid,
    pub parents: Vec<Oid>,
    pub author: Person,
    pub committer: Person,
    /// The full message, as written.
    pub message: String,
    /// The branch the commit was resolved from, when it was resolved from one.
    pub branch: Option<String>,
}

impl CommitInfo {
    /// The first line of the message.
    pub fn subject(&self) -> &str {
        self.message.lines().next().unwrap_or("").trim_end()
    }

    /// The message after the subject and the blank line that follows it.
    pub fn body(&self) -> &str {
        match self.message.split_once('\n') {
            Some((_, rest)) => rest.trim_start_matches(['\r', '\n']).trim_end(),
            None => "",
        }
    }

    /// The message's trailers (`Key: value` lines of the last paragraph).
    pub fn trailers(&self) -> Vec<crate::trailers::Trailer> {
        crate::trailers::parse_trailers(&self.message)
    }
}

/// The kind of a tree entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Executable,
    Symlink,
    Directory,
    Submodule,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Path from the repository root, `/`-separated.
    pub path: String,
    pub kind: EntryKind,
    /// The blob, tree or (for submodules) commit id.
    pub id: Oid,
}

/// A read-only view of the tree of one commit.
///
/// On a partial mirror (see [`crate::partial`]) a tree or blob the mirror
/// has not fetched yet is fetched when first met; [`TreeReader::prefetch`]
/// fetches what a whole read needs in a few batches first.
pub struct TreeReader {
    repo: PooledRepo,
    commit: Oid,
    tree: Oid,
    url: String,
    /// Where missing objects come from; `None` for a full mirror and for a
    /// reader that must not use the network ([`Mirror::at_offline`]).
    objects: Option<Arc<Objects>>,
}

impl std::fmt::Debug for TreeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeReader")
            .field("commit", &self.commit)
            .finish()
    }
}

/// One reader's part of [`prefetch_together`]: the files it will read and
/// the directories it will read whole.
#[derive(Clone, Copy, Debug)]
pub struct Prefetch<'a> {
    pub reader: &'a TreeReader,
    pub files: &'a [&'a str],
    pub dirs: &'a [&'a str],
}

/// [`TreeReader::prefetch`] for several readers at once: the paths of
/// readers of the same partial mirror — a promotion's source at one commit
/// and its target at another — are fetched in shared rounds, so together
/// they cost the round trips of the deepest path, not the sum (issue 24).
pub fn prefetch_together(reads: &[Prefetch<'_>]) -> Result<()> {
    let parse = |paths: &[&str]| -> Result<Vec<RepoPath>> {
        paths.iter().map(|p| RepoPath::parse(p)).collect()
    };
    // Parsed first: the targets borrow the paths.
    let mut parsed = Vec::with_capacity(reads.len());
    for read in reads {
        parsed.push((read.reader, parse(read.files)?, parse(read.dirs)?));
    }
    let mut done = vec![false; parsed.len()];
    for first in 0..parsed.len() {
        let Some(objects) = parsed[first].0.objects.as_ref().filter(|_| !done[first]) else {
            continue;
        };
        // Every reader of the same mirror directory joins this group.
        let mut targets = Vec::new();
        for (i, (reader, files, dirs)) in parsed.iter().enumerate() {
            let same = reader
                .objects
                .as_ref()
                .is_some_and(|o| o.path() == objects.path());
            if done[i] || !same {
                continue;
            }
            done[i] = true;
            let paths = files
                .iter()
                .map(|path| (path, Need::File))
                .chain(dirs.iter().map(|path| (path, Need::Contents)));
            targets.extend(paths.map(|(path, need)| Target {
                root: reader.tree,
                path,
                need,
            }));
        }
        objects.ensure(&parsed[first].0.repo, &targets)?;
    }
    Ok(())
}

/// A tree entry found at a path.
#[derive(Clone, Copy)]
struct Found {
    id: Oid,
    mode: i32,
    kind: Option<ObjectType>,
}

impl TreeReader {
    pub(crate) fn new(
        repo: PooledRepo,
        commit: Oid,
        url: String,
        objects: Option<Arc<Objects>>,
    ) -> Result<TreeReader> {
        let tree = repo
            .find_commit(commit)
            .map_err(|e| lib_error(&url, "reading a commit", e))?
            .tree_id();
        Ok(TreeReader {
            repo,
            commit,
            tree,
            url,
            objects: objects.filter(|o| o.is_partial()),
        })
    }

    /// The commit this view shows.
    pub fn commit_id(&self) -> Oid {
        self.commit
    }

    /// The root tree of the commit.
    pub fn tree_id(&self) -> Oid {
        self.tree
    }

    pub(crate) fn repo(&self) -> &Repository {
        &self.repo
    }

    /// Fetches, in as few round trips as the tree's depth allows, what
    /// reading the `files` and everything under the directories `dirs`
    /// will need from a partial mirror (nothing for a full one). Reads work
    /// without it — each missing object is fetched when met — only with
    /// one round trip per object instead of a few for all of them.
    pub fn prefetch(&self, files: &[&str], dirs: &[&str]) -> Result<()> {
        prefetch_together(&[Prefetch {
            reader: self,
            files,
            dirs,
        }])
    }

    /// Makes sure the trees on the paths of `changes` are here (before a
    /// commit is built on this tree).
    pub(crate) fn prepare_changes(&self, changes: &[crate::tree_edit::Change]) -> Result<()> {
        let Some(objects) = &self.objects else {
            return Ok(());
        };
        let paths = changes
            .iter()
            .map(|c| RepoPath::parse(c.path()))
            .collect::<Result<Vec<_>>>()?;
        let targets: Vec<Target<'_>> = paths
            .iter()
            .map(|path| Target {
                root: self.tree,
                path,
                need: Need::Entry,
            })
            .collect();
        objects.ensure(&self.repo, &targets)
    }

    /// The tree `oid`, fetched first when a partial mirror lacks it.
    fn find_tree(&self, oid: Oid) -> Result<Tree<'_>> {
        match self.repo.find_tree(oid) {
            Err(e) if e.code() == git2::ErrorCode::NotFound && self.objects.is_some() => {
                if let Some(objects) = &self.objects {
                    objects.fetch_one(&self.repo, oid)?;
                }
                self.repo
                    .find_tree(oid)
                    .map_err(|e| lib_error(&self.url, "reading a tree", e))
            }
            found => found.map_err(|e| lib_error(&self.url, "reading a tree", e)),
        }
    }

    /// The blob `oid`, fetched first when a partial mirror lacks it.
    fn find_blob(&self, oid: Oid) -> Result<git2::Blob<'_>> {
        match self.repo.find_blob(oid) {
            Err(e) if e.code() == git2::ErrorCode::NotFound && self.objects.is_some() => {
                if let Some(objects) = &self.objects {
                    objects.fetch_one(&self.repo, oid)?;
                }
                self.repo
                    .find_blob(oid)
                    .map_err(|e| lib_error(&self.url, "reading a blob", e))
            }
            found => found.map_err(|e| lib_error(&self.url, "reading a blob", e)),
        }
    }

    fn root(&self) -> Result<Tree<'_>> {
        self.find_tree(self.tree)
    }

    /// The entry at `path`, `None` when nothing is there. Walked one
    /// directory at a time (not `Tree::get_path`): in a partial mirror a
    /// tree not fetched yet must be fetched, not taken for an absent path.
    /// With `stop_at_link`, the first symbolic link on the way is returned
    /// instead of going on.
    fn lookup(&self, path: &RepoPath, stop_at_link: bool) -> Result<Option<(String, Found)>> {
        let mut tree = self.root()?;
        let mut prefix = String::new();
        let mut components = path.components().peekable();
        while let Some(name) = components.next() {
            prefix = path::join(&prefix, name);
            let Some(found) = tree.get_name(name).map(|entry| Found {
                id: entry.id(),
                mode: entry.filemode(),
                kind: entry.kind(),
            }) else {
                return Ok(None);
            };
            if components.peek().is_none() || (stop_at_link && found.mode == 0o120000) {
                return Ok(Some((prefix, found)));
            }
            if found.kind != Some(ObjectType::Tree) {
                // A file where the path wants a directory.
                return Ok(None);
            }
            tree = self.find_tree(found.id)?;
        }
        Ok(Some((
            prefix,
            Found {
                id: self.tree,
                mode: 0o040000,
                kind: Some(ObjectType::Tree),
            },
        )))
    }

    /// The contents of the file at `path`, or `None` when nothing is there.
    /// A directory at `path` is an error (it is not a file).
    pub fn read_file(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let path = RepoPath::parse(path)?;
        let Some((_, entry)) = self.lookup(&path, false)? else {
            return Ok(None);
        };
        match entry.kind {
            Some(ObjectType::Blob) => Ok(Some(self.find_blob(entry.id)?.content().to_vec())),
            _ => Err(Error::PathConflict {
                path: path.to_string(),
                reason: format!("is a directory at {}, not a file", self.commit),
            }),
        }
    }

    /// The first prefix of `path` (the path itself included) that is a
    /// symbolic link, if any. Git stores a link as a blob holding its
    /// target; reading or writing "through" it would act on whatever the
    /// link points at — possibly outside the application's directory, or
    /// outside the repository — so callers refuse such paths by name.
    pub fn symlink_on_path(&self, path: &str) -> Result<Option<String>> {
        let path = RepoPath::parse(path)?;
        Ok(self
            .lookup(&path, true)?
            .filter(|(_, found)| found.mode == 0o120000)
            .map(|(prefix, _)| prefix))
    }

    /// Whether anything (file or directory) exists at `path`.
    pub fn exists(&self, path: &str) -> Result<bool> {
        let path = RepoPath::parse(path)?;
        if path.is_root() {
            return Ok(true);
        }
        Ok(self.lookup(&path, false)?.is_some())
    }

    /// The entries under the directory `path` (`""` is the root), sorted by
    /// path. With `recursive`, files of subdirectories are listed too (and
    /// directories themselves are not).
    pub fn list_dir(&self, path: &str, recursive: bool) -> Result<Vec<DirEntry>> {
        let path = RepoPath::parse(path)?;
        if recursive && let Some(objects) = &self.objects {
            objects.ensure(
                &self.repo,
                &[Target {
                    root: self.tree,
                    path: &path,
                    need: Need::Listing,
                }],
            )?;
        }
        let tree = match self.lookup(&path, false)? {
            Some((_, found)) if found.kind == Some(ObjectType::Tree) => self.find_tree(found.id)?,
            Some(_) => {
                return Err(Error::PathConflict {
                    path: path.to_string(),
                    reason: format!("is a file at {}, not a directory", self.commit),
                });
            }
            None => {
                return Err(Error::PathNotFound {
                    url: self.url.clone(),
                    rev: self.commit.to_string(),
                    path: path.to_string(),
                });
            }
        };
        let mut out = Vec::new();
        self.collect(&tree, path.as_str(), recursive, &mut out)?;
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// The unified diff (as `git diff` prints it) that committing `changes`
    /// on this tree would produce; empty when they change nothing. Used for
    /// dry runs: it shows exactly what [`Mirror::commit_and_push`] would
    /// commit. Writes the new objects into the mirror (unreferenced, so
    /// harmless and collected by `git gc`).
    pub fn diff(&self, changes: &[crate::tree_edit::Change]) -> Result<String> {
        let paths: Vec<&str> = changes.iter().map(|c| c.path()).collect();
        // The old side of every changed file (the diff reads it), and every
        // tree under the directory the changes share: libgit2's tree diff
        // walks the trees it compares whole, in the range of its pathspec.
        self.prefetch(&paths, &[])?;
        if let Some(objects) = &self.objects {
            let common = RepoPath::parse(common_dir(&paths))?;
            objects.ensure(
                &self.repo,
                &[Target {
                    root: self.tree,
                    path: &common,
                    need: Need::Listing,
                }],
            )?;
        }
        let new_tree = crate::tree_edit::apply_changes(&self.repo, self.tree, changes)?;
        if new_tree == self.tree {
            return Ok(String::new());
        }
        let lib = |e| lib_error(&self.url, "diffing trees", e);
        let old = self.repo.find_tree(self.tree).map_err(lib)?;
        let new = self.repo.find_tree(new_tree).map_err(lib)?;
        let mut options = git2::DiffOptions::new();
        options.disable_pathspec_match(true);
        for path in &paths {
            options.pathspec(*path);
        }
        let diff = self
            .repo
            .diff_tree_to_tree(Some(&old), Some(&new), Some(&mut options))
            .map_err(lib)?;
        let mut out = Vec::new();
        diff.print(git2::DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                out.push(line.origin() as u8);
            }
            out.extend_from_slice(line.content());
            true
        })
        .map_err(lib)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn collect(
        &self,
        tree: &Tree<'_>,
        prefix: &str,
        recursive: bool,
        out: &mut Vec<DirEntry>,
    ) -> Result<()> {
        for entry in tree.iter() {
            let name = String::from_utf8_lossy(entry.name_bytes());
            let full = path::join(prefix, &name);
            let kind = entry_kind(entry.filemode());
            if recursive && kind == EntryKind::Directory {
                let sub = self.find_tree(entry.id())?;
                self.collect(&sub, &full, true, out)?;
            } else {
                out.push(DirEntry {
                    path: full,
                    kind,
                    id: entry.id(),
                });
            }
        }
        Ok(())
    }
}

/// The longest directory every path is in (`""`: the root).
fn common_dir<'p>(paths: &[&'p str]) -> &'p str {
    let Some(first) = paths.first() else {
        return "";
    };
    let mut common = first.rsplit_once('/').map_or("", |(dir, _)| dir);
    for path in &paths[1..] {
        let inside = |dir: &str| {
            dir.is_empty()
                || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
        };
        while !inside(common) {
            common = common.rsplit_once('/').map_or("", |(dir, _)| dir);
        }
    }
    common
}

fn entry_kind(mode: i32) -> EntryKind {
    match mode {
        0o040000 => EntryKind::Directory,
        0o100755 => EntryKind::Executable,
        0o120000 => EntryKind::Symlink,
        0o160000 => EntryKind::Submodule,
        _ => EntryKind::File,
    }
}

pub(crate) fn lib_error(url: &str, operation: &'static str, source: git2::Error) -> Error {
    Error::Library {
        operation,
        mirror: url.to_string(),
        source,
    }
}

impl Mirror {
    /// Resolves a branch name, tag, `HEAD`, full ref name or (abbreviated)
    /// SHA to a commit. Branches win over tags of the same name, as in Argo
    /// CD's `targetRevision`.
    pub fn resolve(&self, rev: &str) -> Result<Oid> {
        let repo = self.repo()?;
        self.resolve_in(&repo, rev).map(|(oid, _)| oid)
    }

    /// The branch a `targetRevision` names, for pushing to it: `HEAD` (Argo
    /// CD's default when `targetRevision` is empty) is the remote's default
    /// branch, as the mirror's `HEAD` records it; `refs/heads/x` is `x`; any
    /// other revision (a branch name, or a tag or SHA, which cannot be
    /// pushed to) is returned as written.
    pub fn branch_for(&self, rev: &str) -> Result<String> {
        let rev = rev.trim();
        if rev.is_empty() || rev == "HEAD" {
            let repo = self.repo()?;
            let (_, branch) = self.resolve_in(&repo, "HEAD")?;
            return branch.ok_or_else(|| Error::RevisionNotFound {
                url: self.remote().display_url(),
                rev: "HEAD (the repository's HEAD names no branch)".to_string(),
            });
        }
        Ok(rev.strip_prefix("refs/heads/").unwrap_or(rev).to_string())
    }

    /// Resolves `rev` and also names the branch when it is one.
    fn resolve_in(&self, repo: &Repository, rev: &str) -> Result<(Oid, Option<String>)> {
        let not_found = || Error::RevisionNotFound {
            url: self.remote().display_url(),
            rev: rev.to_string(),
        };
        let rev = rev.trim();
        if rev.is_empty() || rev.starts_with('-') {
            return Err(not_found());
        }
        let peel = |reference: git2::Reference<'_>| {
            reference
                .peel_to_commit()
                .map(|c| c.id())
                .map_err(|e| self.git_error("peeling a ref to a commit", e))
        };
        let branch = rev.strip_prefix("refs/heads/").unwrap_or(rev);
        if let Ok(reference) = repo.find_reference(&format!("refs/heads/{branch}")) {
            return Ok((peel(reference)?, Some(branch.to_string())));
        }
        let tag = rev.strip_prefix("refs/tags/").unwrap_or(rev);
        if let Ok(reference) = repo.find_reference(&format!("refs/tags/{tag}")) {
            return Ok((peel(reference)?, None));
        }
        if rev == "HEAD" {
            let head = repo.find_reference("HEAD").map_err(|_| not_found())?;
            let branch = head
                .symbolic_target()
                .and_then(|t| t.strip_prefix("refs/heads/"))
                .map(str::to_string);
            let oid = head.resolve().map_err(|_| not_found()).and_then(peel)?;
            return Ok((oid, branch));
        }
        if rev.len() >= 4 && rev.len() <= 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
            let object = repo.revparse_single(rev).map_err(|_| not_found())?;
            let commit = object.peel_to_commit().map_err(|_| not_found())?;
            return Ok((commit.id(), None));
        }
        Err(not_found())
    }

    /// A view of the tree at `rev` for reading files and directories.
    pub fn at(&self, rev: &str) -> Result<TreeReader> {
        let repo = self.repo()?;
        let (oid, _) = self.resolve_in(&repo, rev)?;
        TreeReader::new(
            repo,
            oid,
            self.remote().display_url(),
            Some(Arc::clone(self.objects())),
        )
    }

    /// [`Mirror::at`] for readers that must not wait on the network (a
    /// page): what a partial mirror has not fetched yet is an error.
    pub fn at_offline(&self, rev: &str) -> Result<TreeReader> {
        let repo = self.repo()?;
        let (oid, _) = self.resolve_in(&repo, rev)?;
        TreeReader::new(repo, oid, self.remote().display_url(), None)
    }

    /// A view of the tree of commit `commit`.
    pub fn at_commit(&self, commit: Oid) -> Result<TreeReader> {
        TreeReader::new(
            self.repo()?,
            commit,
            self.remote().display_url(),
            Some(Arc::clone(self.objects())),
        )
    }

    /// The file at `path` in revision `rev`, `None` if absent.
    pub fn read_file(&self, rev: &str, path: &str) -> Result<Option<Vec<u8>>> {
        self.at(rev)?.read_file(path)
    }

    /// The directory `path` at revision `rev` (see [`TreeReader::list_dir`]).
    pub fn list_dir(&self, rev: &str, path: &str, recursive: bool) -> Result<Vec<DirEntry>> {
        self.at(rev)?.list_dir(path, recursive)
    }

    /// Metadata of the commit `rev` resolves to; `branch` is set when `rev`
    /// names a branch (or `HEAD`).
    pub fn commit_info(&self, rev: &str) -> Result<CommitInfo> {
        let repo = self.repo()?;
        let (oid, branch) = self.resolve_in(&repo, rev)?;
        let mut info = self.commit_info_in(&repo, oid)?;
        info.branch = branch;
        Ok(info)
    }

    pub(crate) fn commit_info_in(&self, repo: &Repository, oid: Oid) -> Result<CommitInfo> {
        let commit = repo
            .find_commit(oid)
            .map_err(|e| self.git_error("reading a commit", e))?;
        Ok(info_of(&commit))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: Oid, descendant: Oid) -> Result<bool> {
        if ancestor == descendant {
            return Ok(true);
        }
        let repo = self.repo()?;
        repo.graph_descendant_of(descendant, ancestor)
            .map_err(|e| self.git_error("checking ancestry", e))
    }

    /// The commits reachable from `to` but not from `from` that changed
    /// `path` (a file or a directory; `""` for any change), newest first, at
    /// most `limit`. A merge counts only when it differs from every parent at
    /// `path` (it brought something new), like `git log -- <path>`.
    pub fn commits_touching(
        &self,
        from: Option<Oid>,
        to: Oid,
        path: &str,
        limit: usize,
    ) -> Result<Vec<CommitInfo>> {
        let path = RepoPath::parse(path)?;
        let repo = self.repo()?;
        let mut walk = repo
            .revwalk()
            .map_err(|e| self.git_error("walking history", e))?;
        walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
            .map_err(|e| self.git_error("walking history", e))?;
        walk.push(to)
            .map_err(|e| self.git_error("walking history", e))?;
        if let Some(from) = from {
            walk.hide(from)
                .map_err(|e| self.git_error("walking history", e))?;
        }
        let partial = self.is_partial();
        let mut out = Vec::new();
        let mut walk = walk.peekable();
        while out.len() < limit && walk.peek().is_some() {
            // In chunks, so that a partial mirror fetches the trees on
            // `path` of a chunk's commits and their parents in one go.
            let chunk: Vec<Oid> = walk
                .by_ref()
                .take(if partial { HISTORY_CHUNK } else { 1 })
                .collect::<Result<_, _>>()
                .map_err(|e| self.git_error("walking history", e))?;
            let commits = chunk
                .iter()
                .map(|oid| repo.find_commit(*oid))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.git_error("reading a commit", e))?;
            if partial && !path.is_root() {
                let roots: BTreeSet<Oid> = commits
                    .iter()
                    .flat_map(|c| {
                        std::iter::once(c.tree_id()).chain(c.parents().map(|p| p.tree_id()))
                    })
                    .collect();
                let targets: Vec<Target<'_>> = roots
                    .into_iter()
                    .map(|root| Target {
                        root,
                        path: &path,
                        need: Need::Entry,
                    })
                    .collect();
                self.objects().ensure(&repo, &targets)?;
            }
            for commit in commits {
                if out.len() >= limit {
                    break;
                }
                let here = id_at(&repo, commit.tree_id(), &path);
                let touched = if commit.parent_count() == 0 {
                    here.is_some()
                } else {
                    commit
                        .parents()
                        .all(|parent| id_at(&repo, parent.tree_id(), &path) != here)
                };
                if touched {
                    out.push(info_of(&commit));
                }
            }
        }
        Ok(out)
    }
}

/// Commits whose trees a partial mirror fetches together when walking the
/// history of a path.
const HISTORY_CHUNK: usize = 256;

/// The object id at `path` in tree `tree`, `None` if absent.
fn id_at(repo: &Repository, tree: Oid, path: &RepoPath) -> Option<Oid> {
    if path.is_root() {
        return Some(tree);
    }
    let tree = repo.find_tree(tree).ok()?;
    tree.get_path(path.as_std()).ok().map(|e| e.id())
}

fn person(sig: &git2::Signature<'_>) -> Person {
    Person {
        name: String::from_utf8_lossy(sig.name_bytes()).into_owned(),
        email: String::from_utf8_lossy(sig.email_bytes()).into_owned(),
        time: GitTime {
            seconds: sig.when().seconds(),
            offset_minutes: sig.when().offset_minutes(),
        },
    }
}

fn info_of(commit: &git2::Commit<'_>) -> CommitInfo {
    CommitInfo {
        id: commit.id(),
        parents: commit.parent_ids().collect(),
        author: person(&commit.author()),
        committer: person(&commit.committer()),
        message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
        branch: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_directory_paths_share() {
        assert_eq!(common_dir(&["a/b/c.yaml", "a/b/d.yaml"]), "a/b");
        assert_eq!(common_dir(&["a/b/c.yaml", "a/bc/d.yaml"]), "a");
        assert_eq!(common_dir(&["a/b/c.yaml", "x.yaml"]), "");
        assert_eq!(common_dir(&["a/b/c.yaml"]), "a/b");
        assert_eq!(common_dir(&[]), "");
    }

    #[test]
    fn rfc3339_formatting() {
        let t = GitTime {
            seconds: 0,
            offset_minutes: 0,
        };
        assert_eq!(t.to_rfc3339(), "1970-01-01T00:00:00+00:00");
        let t = GitTime {
            seconds: 1_714_564_800,
            offset_minutes: 120,
        };
        assert_eq!(t.to_rfc3339(), "2024-05-01T14:00:00+02:00");
        let t = GitTime {
            seconds: 951_782_400,
            offset_minutes: -330,
        };
        assert_eq!(t.to_rfc3339(), "2000-02-28T18:30:00-05:30");
    }
}
