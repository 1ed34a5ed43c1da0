//! Partial mirrors: every commit, and the trees and blobs a reader needs,
//! fetched by id when first needed (issue 24).
//!
//! Why: a full clone of a 20,000-file, 5,000-commit GitOps repository
//! fetches every tree of every commit and every blob — seconds, most of a
//! cold promotion. A mirror is therefore cloned with `--filter=tree:0`:
//! all commits (history walks, ancestry checks and the trailer lookup
//! before every push read commits only, so they work at once) and no tree
//! or blob. What a promotion reads — the trees on the paths of its files
//! and those files' blobs — is fetched in a few small batches.
//!
//! Why by hand: libgit2, which reads the mirror in-process, has no
//! promisor support: a missing object is simply "not found" (and
//! `Tree::get_path` then says the *path* is not there). So every reader
//! here walks trees itself, tells "absent from the tree" from "not fetched
//! yet", and asks the git CLI for what is missing, the way git's own lazy
//! fetch does (`git fetch origin --stdin` of object ids, negotiation off):
//! - trees on a path: the missing tree with `--filter=tree:1` (it and the
//!   trees directly in it, so one round trip goes two levels down), every
//!   path of a read in the same round;
//! - the directory a wanted file is in: its tree with the entries directly
//!   in it, blobs included (`--filter=tree:1`), so the last tree and the
//!   file come in the same round trip — the price is the other files of
//!   that one directory, which in a GitOps repository are the few files of
//!   one application's environment;
//! - a whole directory: its tree with `--filter=blob:none` (all subtrees);
//! - blobs still missing: every one of a read in one fetch.
//!
//! The paths of several readers of one mirror (a promotion's source and
//! target, at different commits) share these rounds ([`prefetch_together`]):
//! a cold promotion costs the clone, one round trip per two directory
//! levels for all its paths together, and the push.
//!
//! A server that refuses filters (`uploadpack.allowFilter` off) answers the
//! clone in full (git warns and ignores the filter): nothing is ever
//! missing then, and nothing here runs. Fetches of objects take no mirror
//! lock: they only add packs (git's object store is append-only), and a
//! read inside `commit_and_push` (which holds the lock) may need one.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use git2::{ObjectType, Odb, OdbLookupFlags, Oid, Repository};

use crate::cli;
use crate::error::{Error, Result};
use crate::path::RepoPath;
use crate::transport::Remote;

/// The remote name `git clone` gives the promisor remote; its URL is the
/// credential-free one (credentials travel in the environment, matched by
/// that URL).
const PROMISOR: &str = "origin";

/// What a clone asks the server to leave out, in order of preference: a
/// server may allow some filters only (`uploadpackfilter.<filter>.allow`),
/// and one that allows none ignores the filter and sends everything.
pub(crate) const CLONE_FILTERS: [Option<&str>; 3] =
    [Some("--filter=tree:0"), Some("--filter=blob:none"), None];

/// Whether a failed command failed because the server refused its filter.
pub(crate) fn is_filter_refusal(error: &Error) -> bool {
    matches!(error, Error::Command { stderr, .. } if stderr.contains("filter"))
}

/// Where a mirror's missing objects come from.
#[derive(Debug)]
pub(crate) struct Objects {
    remote: Remote,
    path: PathBuf,
    partial: OnceLock<bool>,
    /// The first of [`Filter::choices`] the server did not refuse.
    choice: [AtomicUsize; 3],
}

/// How much comes with a fetched tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Filter {
    /// The wanted objects and the trees directly in wanted trees.
    Trees = 0,
    /// Wanted trees with every tree below them; wanted blobs.
    NoBlobs = 1,
    /// The wanted trees with the trees *and blobs* directly in them.
    WithBlobs = 2,
}

impl Filter {
    /// The filters that give this, best first; a later one fetches more
    /// (or, `None`, the remote's clone filter: still every wanted object).
    fn choices(self) -> &'static [Option<&'static str>] {
        match self {
            // `tree:1` alone would bring the blobs directly in the tree too.
            Filter::Trees => &[
                Some("--filter=combine:tree:1+blob:none"),
                Some("--filter=tree:0"),
                Some("--filter=blob:none"),
            ],
            Filter::NoBlobs => &[Some("--filter=blob:none"), None],
            // Without `tree:1`, the blobs come in a later round as before.
            Filter::WithBlobs => &[
                Some("--filter=tree:1"),
                Some("--filter=combine:tree:1+blob:none"),
                Some("--filter=tree:0"),
                Some("--filter=blob:none"),
            ],
        }
    }
}

/// What a reader needs at the end of a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// The entry's id and mode (the trees on the way).
    Entry,
    /// A file's contents too.
    File,
    /// A directory with every tree below it (a listing).
    Listing,
    /// A directory with everything below it, trees and blobs.
    Contents,
}

/// One path to make readable under a root tree.
#[derive(Clone, Debug)]
pub(crate) struct Target<'a> {
    pub root: Oid,
    pub path: &'a RepoPath,
    pub need: Need,
}

impl Objects {
    pub(crate) fn new(remote: Remote, path: PathBuf) -> Objects {
        Objects {
            remote,
            path,
            partial: OnceLock::new(),
            choice: [
                AtomicUsize::new(0),
                AtomicUsize::new(0),
                AtomicUsize::new(0),
            ],
        }
    }

    /// Whether the mirror was cloned with a filter (its `origin` is a
    /// promisor remote): only then may an object be missing.
    pub(crate) fn is_partial(&self) -> bool {
        *self.partial.get_or_init(|| {
            git2::Config::open(&self.path.join("config"))
                .and_then(|c| c.get_bool(&format!("remote.{PROMISOR}.promisor")))
                .unwrap_or(false)
        })
    }

    /// The mirror directory the objects go to.
    pub(crate) fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn url(&self) -> String {
        self.remote.display_url()
    }

    /// Fetches `oids` from the promisor remote (no refs change).
    fn fetch(&self, oids: &BTreeSet<Oid>, filter: Filter) -> Result<()> {
        if oids.is_empty() {
            return Ok(());
        }
        let mut input = String::with_capacity(oids.len() * 41);
        for oid in oids {
            input.push_str(&oid.to_string());
            input.push('\n');
        }
        let choices = filter.choices();
        let choice = &self.choice[filter as usize];
        loop {
            let at = choice.load(Ordering::Relaxed).min(choices.len() - 1);
            let mut args = vec![
                "-c",
                "fetch.negotiationAlgorithm=noop",
                // No repack while other fetches and readers use the packs.
                "-c",
                "maintenance.auto=false",
                "-c",
                "gc.auto=0",
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--recurse-submodules=no",
            ];
            args.extend(choices[at]);
            args.extend(["--stdin", PROMISOR]);
            match cli::run_with_input(
                &self.remote,
                &self.path,
                "fetch of missing objects",
                args,
                Some(input.clone().into_bytes()),
            ) {
                Err(e) if at + 1 < choices.len() && is_filter_refusal(&e) => {
                    choice.store(at + 1, Ordering::Relaxed);
                }
                result => return result.map(|_| ()),
            }
        }
    }

    /// Makes every target readable: the trees on each path, and what its
    /// [`Need`] asks for at the end of it. Paths that are not in their tree
    /// are left alone (the read will say so). Each round fetches, for every
    /// target still blocked, the first tree it lacks, so a read costs about
    /// one round trip per two directory levels plus one for the blobs,
    /// whatever the number of paths.
    pub(crate) fn ensure(&self, repo: &Repository, targets: &[Target<'_>]) -> Result<()> {
        if targets.is_empty() || !self.is_partial() {
            return Ok(());
        }
        let odb = repo
            .odb()
            .map_err(|e| self.lib("opening the object database", e))?;
        let has = |oid: Oid| odb.exists_ext(oid, OdbLookupFlags::NO_REFRESH);
        let mut asked: BTreeSet<Oid> = BTreeSet::new();
        loop {
            let mut trees = BTreeSet::new();
            let mut parents = BTreeSet::new();
            let mut whole = BTreeSet::new();
            let mut blobs = BTreeSet::new();
            for target in targets {
                match self.descend(repo, &has, target)? {
                    Reached::Missing(oid) => {
                        trees.insert(oid);
                    }
                    Reached::MissingParent(oid) => {
                        parents.insert(oid);
                    }
                    Reached::MissingDir(oid) => {
                        whole.insert(oid);
                    }
                    Reached::Done => {}
                    Reached::Blob(oid) => {
                        if target.need == Need::File && !has(oid) {
                            blobs.insert(oid);
                        }
                    }
                    Reached::Tree(oid) => {
                        if matches!(target.need, Need::Listing | Need::Contents) {
                            let blobs = (target.need == Need::Contents).then_some(&mut blobs);
                            self.dir_contents(repo, &has, oid, &mut whole, blobs)?;
                        }
                    }
                }
            }
            // Trees first: the blobs of a directory are known only once
            // its trees are here (those directly in a wanted file's
            // directory come with it).
            // `WithBlobs` brings all `Trees` would.
            trees.retain(|oid| !parents.contains(oid));
            let blobs_only = trees.is_empty() && whole.is_empty() && parents.is_empty();
            if blobs_only && blobs.is_empty() {
                return Ok(());
            }
            let batches = if blobs_only {
                vec![(blobs, Filter::NoBlobs)]
            } else {
                vec![
                    (whole, Filter::NoBlobs),
                    (trees, Filter::Trees),
                    (parents, Filter::WithBlobs),
                ]
            };
            self.fetch_round(&mut asked, &batches)?;
            odb.refresh()
                .map_err(|e| self.lib("rereading the object database", e))?;
            if blobs_only {
                if let Some(oid) = batches[0].0.iter().find(|oid| !has(**oid)) {
                    return Err(self.not_sent(*oid));
                }
                return Ok(());
            }
        }
    }

    /// One round: the non-empty batches fetched at the same time (each
    /// filter is its own `git fetch`), so a round costs one round trip
    /// whatever it mixes.
    fn fetch_round(
        &self,
        asked: &mut BTreeSet<Oid>,
        batches: &[(BTreeSet<Oid>, Filter)],
    ) -> Result<()> {
        let batches: Vec<&(BTreeSet<Oid>, Filter)> = batches
            .iter()
            .filter(|(oids, _)| !oids.is_empty())
            .collect();
        for (wanted, _) in &batches {
            if let Some(again) = wanted.iter().find(|oid| asked.contains(*oid)) {
                return Err(self.not_sent(*again));
            }
        }
        for (wanted, _) in &batches {
            asked.extend(wanted.iter().copied());
        }
        match batches.as_slice() {
            [] => Ok(()),
            [(wanted, filter)] => self.fetch(wanted, *filter),
            _ => std::thread::scope(|scope| {
                let running: Vec<_> = batches
                    .iter()
                    .map(|(wanted, filter)| scope.spawn(move || self.fetch(wanted, *filter)))
                    .collect();
                running
                    .into_iter()
                    .map(|handle| {
                        handle
                            .join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect::<Result<Vec<()>>>()
                    .map(|_| ())
            }),
        }
    }

    /// Follows `target.path` from its root through the trees present.
    fn descend(
        &self,
        repo: &Repository,
        has: &impl Fn(Oid) -> bool,
        target: &Target<'_>,
    ) -> Result<Reached> {
        let components: Vec<&str> = target.path.components().collect();
        let mut tree_id = target.root;
        for (depth, name) in components.iter().enumerate() {
            if !has(tree_id) {
                let parent = depth + 1 == components.len() && target.need == Need::File;
                return Ok(if parent {
                    Reached::MissingParent(tree_id)
                } else {
                    Reached::Missing(tree_id)
                });
            }
            let tree = repo
                .find_tree(tree_id)
                .map_err(|e| self.lib("reading a tree", e))?;
            let Some(entry) = tree.get_name(name) else {
                return Ok(Reached::Done);
            };
            let last = depth + 1 == components.len();
            match entry.kind() {
                // Its id is all an entry lookup needs.
                Some(ObjectType::Tree) if last && target.need == Need::Entry => {
                    return Ok(Reached::Done);
                }
                Some(ObjectType::Tree) => tree_id = entry.id(),
                Some(ObjectType::Blob) if last => return Ok(Reached::Blob(entry.id())),
                // A file in the middle of the path, or a submodule.
                _ => return Ok(Reached::Done),
            }
        }
        if has(tree_id) {
            Ok(Reached::Tree(tree_id))
        } else if matches!(target.need, Need::Listing | Need::Contents) {
            Ok(Reached::MissingDir(tree_id))
        } else {
            Ok(Reached::Missing(tree_id))
        }
    }

    /// The missing subtrees (fetched whole) and, when asked, blobs under a
    /// present tree.
    fn dir_contents(
        &self,
        repo: &Repository,
        has: &impl Fn(Oid) -> bool,
        tree_id: Oid,
        whole: &mut BTreeSet<Oid>,
        mut blobs: Option<&mut BTreeSet<Oid>>,
    ) -> Result<()> {
        let tree = repo
            .find_tree(tree_id)
            .map_err(|e| self.lib("reading a tree", e))?;
        for entry in tree.iter() {
            match entry.kind() {
                Some(ObjectType::Tree) if has(entry.id()) => {
                    self.dir_contents(repo, has, entry.id(), whole, blobs.as_deref_mut())?;
                }
                Some(ObjectType::Tree) => {
                    whole.insert(entry.id());
                }
                Some(ObjectType::Blob) if !has(entry.id()) => {
                    if let Some(blobs) = blobs.as_deref_mut() {
                        blobs.insert(entry.id());
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Fetches one object a reader found missing (the trees directly in a
    /// tree come with it), for reads that were not prepared by
    /// [`Objects::ensure`].
    pub(crate) fn fetch_one(&self, repo: &Repository, oid: Oid) -> Result<()> {
        self.fetch(&BTreeSet::from([oid]), Filter::Trees)?;
        let odb: Odb<'_> = repo
            .odb()
            .map_err(|e| self.lib("opening the object database", e))?;
        odb.refresh()
            .map_err(|e| self.lib("rereading the object database", e))?;
        if odb.exists(oid) {
            Ok(())
        } else {
            Err(self.not_sent(oid))
        }
    }

    fn not_sent(&self, oid: Oid) -> Error {
        Error::ObjectNotSent {
            url: self.url(),
            id: oid.to_string(),
        }
    }

    fn lib(&self, operation: &'static str, source: git2::Error) -> Error {
        Error::Library {
            operation,
            mirror: self.url(),
            source,
        }
    }
}

/// How far a path could be followed.
enum Reached {
    /// Blocked: this tree on the way is not here yet.
    Missing(Oid),
    /// Blocked: the directory the wanted file is in is not here yet.
    MissingParent(Oid),
    /// The directory the target wants whole is not here yet.
    MissingDir(Oid),
    /// Nothing more to fetch for it (or the path is not in the tree).
    Done,
    Blob(Oid),
    Tree(Oid),
}
