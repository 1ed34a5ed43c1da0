//! Building a new tree from a base tree and a few file changes, writing only
//! the changed blobs and the trees on their paths.
//!
//! Why: a promotion changes two or three files of a repository that may hold
//! tens of thousands. Rewriting only the path from each changed file up to
//! the root costs a handful of object writes, independent of repository size;
//! every untouched directory keeps its tree id (so `git diff` and reviews see
//! exactly the promoted change).

use std::collections::BTreeMap;

use git2::{ObjectType, Oid, Repository, Tree};

use crate::error::{Error, Result};
use crate::path::{self, RepoPath};

const MODE_TREE: i32 = 0o040000;
const MODE_FILE: i32 = 0o100644;
const MODE_EXECUTABLE: i32 = 0o100755;

/// One file change of a promotion.
#[derive(Clone, PartialEq, Eq)]
pub enum Change {
    /// Create or replace the file at `path` (an existing executable bit is kept).
    Write { path: String, content: Vec<u8> },
    /// Remove the file at `path` (nothing happens when it does not exist).
    Delete { path: String },
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Write { path, content } => write!(f, "Write({path}, {} bytes)", content.len()),
            Change::Delete { path } => write!(f, "Delete({path})"),
        }
    }
}

impl Change {
    pub fn write(path: impl Into<String>, content: impl Into<Vec<u8>>) -> Self {
        Change::Write {
            path: path.into(),
            content: content.into(),
        }
    }

    pub fn delete(path: impl Into<String>) -> Self {
        Change::Delete { path: path.into() }
    }

    pub fn path(&self) -> &str {
        match self {
            Change::Write { path, .. } | Change::Delete { path } => path,
        }
    }
}

/// The changes below one directory, by entry name.
#[derive(Default)]
struct Node {
    entries: BTreeMap<String, Edit>,
}

enum Edit {
    /// New blob, or `None` to delete.
    File(Option<Oid>),
    Dir(Node),
}

/// Writes the blobs of `changes` and the trees above them on top of
/// `base_tree`; returns the new root tree id (equal to `base_tree` when the
/// changes change nothing).
pub(crate) fn apply_changes(repo: &Repository, base_tree: Oid, changes: &[Change]) -> Result<Oid> {
    let lib = |operation, source| Error::Library {
        operation,
        mirror: repo.path().display().to_string(),
        source,
    };
    let mut root = Node::default();
    for change in changes {
        let path = RepoPath::parse(change.path())?;
        if path.is_root() {
            return Err(Error::InvalidPath {
                path: change.path().to_string(),
                reason: "a change needs a file path",
            });
        }
        let edit = match change {
            Change::Write { content, .. } => Edit::File(Some(
                repo.blob(content).map_err(|e| lib("writing a blob", e))?,
            )),
            Change::Delete { .. } => Edit::File(None),
        };
        insert(&mut root, &path, edit)?;
    }
    let base = repo
        .find_tree(base_tree)
        .map_err(|e| lib("reading the base tree", e))?;
    match write_node(repo, Some(&base), &root, "")? {
        Some(tree) => Ok(tree),
        // Everything was deleted: the empty tree.
        None => repo
            .treebuilder(None)
            .and_then(|b| b.write())
            .map_err(|e| lib("writing the empty tree", e)),
    }
}

fn insert(root: &mut Node, path: &RepoPath, edit: Edit) -> Result<()> {
    let parts: Vec<&str> = path.components().collect();
    let (file, dirs) = parts.split_last().ok_or_else(|| Error::InvalidPath {
        path: path.to_string(),
        reason: "a change needs a file path",
    })?;
    let conflict = || Error::PathConflict {
        path: path.to_string(),
        reason: "the same change set uses it both as a file and as a directory".to_string(),
    };
    let mut node = root;
    for dir in dirs {
        let entry = node
            .entries
            .entry((*dir).to_string())
            .or_insert_with(|| Edit::Dir(Node::default()));
        node = match entry {
            Edit::Dir(sub) => sub,
            Edit::File(_) => return Err(conflict()),
        };
    }
    if let Some(Edit::Dir(_)) = node.entries.get(*file) {
        return Err(conflict());
    }
    // A later change to the same file wins.
    node.entries.insert((*file).to_string(), edit);
    Ok(())
}

/// Rebuilds one directory; `None` when it ends up empty (git has no empty
/// directories, so the parent drops the entry).
fn write_node(
    repo: &Repository,
    base: Option<&Tree<'_>>,
    node: &Node,
    prefix: &str,
) -> Result<Option<Oid>> {
    let lib = |operation, source| Error::Library {
        operation,
        mirror: repo.path().display().to_string(),
        source,
    };
    let mut builder = repo
        .treebuilder(base)
        .map_err(|e| lib("building a tree", e))?;
    for (name, edit) in &node.entries {
        let full = path::join(prefix, name);
        let existing = builder
            .get(name)
            .map_err(|e| lib("reading a tree entry", e))?
            .map(|e| (e.id(), e.filemode(), e.kind()));
        match edit {
            Edit::File(Some(blob)) => {
                let mode = match existing {
                    Some((_, _, Some(ObjectType::Tree))) => {
                        return Err(Error::PathConflict {
                            path: full,
                            reason: "a directory is there, cannot write a file".to_string(),
                        });
                    }
                    Some((_, 0o160000, _)) => {
                        return Err(Error::PathConflict {
                            path: full,
                            reason: "a submodule is there, cannot write a file".to_string(),
                        });
                    }
                    // Writing over a link would change what the link's
                    // readers (Argo CD) see elsewhere; never done silently.
                    Some((_, 0o120000, _)) => {
                        return Err(Error::PathConflict {
                            path: full,
                            reason: "is a symbolic link; ferry does not write through links"
                                .to_string(),
                        });
                    }
                    Some((_, MODE_EXECUTABLE, _)) => MODE_EXECUTABLE,
                    _ => MODE_FILE,
                };
                builder
                    .insert(name, *blob, mode)
                    .map_err(|e| lib("inserting a blob", e))?;
            }
            Edit::File(None) => match existing {
                Some((_, _, Some(ObjectType::Tree))) => {
                    return Err(Error::PathConflict {
                        path: full,
                        reason: "is a directory; only files can be deleted".to_string(),
                    });
                }
                Some(_) => {
                    builder
                        .remove(name)
                        .map_err(|e| lib("removing a tree entry", e))?;
                }
                None => {}
            },
            Edit::Dir(sub) => {
                let sub_base = match existing {
                    Some((id, _, Some(ObjectType::Tree))) => {
                        Some(repo.find_tree(id).map_err(|e| lib("reading a tree", e))?)
                    }
                    Some(_) if only_deletions(sub) => continue,
                    Some((_, 0o120000, _)) => {
                        return Err(Error::PathConflict {
                            path: full,
                            reason: "is a symbolic link; ferry does not write through links"
                                .to_string(),
                        });
                    }
                    Some(_) => {
                        return Err(Error::PathConflict {
                            path: full,
                            reason: "a file is there, cannot create a directory".to_string(),
                        });
                    }
                    None => None,
                };
                match write_node(repo, sub_base.as_ref(), sub, &full)? {
                    Some(tree) => {
                        if existing.map(|(id, _, _)| id) != Some(tree) {
                            builder
                                .insert(name, tree, MODE_TREE)
                                .map_err(|e| lib("inserting a tree", e))?;
                        }
                    }
                    None => {
                        if existing.is_some() {
                            builder
                                .remove(name)
                                .map_err(|e| lib("removing a tree entry", e))?;
                        }
                    }
                }
            }
        }
    }
    if builder.is_empty() {
        return Ok(None);
    }
    builder
        .write()
        .map(Some)
        .map_err(|e| lib("writing a tree", e))
}

fn only_deletions(node: &Node) -> bool {
    node.entries.values().all(|e| match e {
        Edit::File(blob) => blob.is_none(),
        Edit::Dir(sub) => only_deletions(sub),
    })
}
