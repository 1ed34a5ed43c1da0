//! Applying a snapshot to a target application (SPEC §4.2).

use ferry_git::{Change, CommitSpec, Mirror, PushOptions, PushOutcome, PushTarget, TreeReader};
use ferry_release::ApplicationSnapshot;

use crate::error::{Error, Result};
use crate::join;
use crate::snapshot::PROMOTION;

/// One file a promotion changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Path in the repository.
    pub path: String,
    /// Contents before; `None` when the file is created.
    pub old: Option<String>,
    pub new: String,
}

/// The changes that make the application under `target_path` (in the tree
/// `reader` points at) hold `snapshot`: promoted values are written into
/// their files with every other byte kept, whole files are copied, and
/// files that exist only in the target are left alone. Nothing to change →
/// an empty list.
pub fn plan_changes(
    reader: &TreeReader,
    target_path: &str,
    snapshot: &ApplicationSnapshot,
) -> Result<Vec<FileChange>> {
    let revision = reader.commit_id().to_string();
    let dir = target_path.trim_matches('/');
    // Every target file in one batch from a partial mirror.
    let files: Vec<String> = snapshot
        .values
        .keys()
        .chain(snapshot.files.keys())
        .filter_map(|file| join(dir, file, PROMOTION).ok())
        .collect();
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    reader.prefetch(&files, &[])?;
    let mut out = Vec::new();
    for (file, values) in &snapshot.values {
        let path = join(dir, file, PROMOTION)?;
        let old = read_text(reader, &path)?.ok_or_else(|| Error::MissingTargetFile {
            file: path.clone(),
            revision: revision.clone(),
        })?;
        let edited = ferry_yamledit::apply(&old, values).map_err(|source| Error::Yaml {
            file: path.clone(),
            source,
        })?;
        if edited.changed {
            out.push(FileChange {
                path,
                old: Some(old),
                new: edited.text,
            });
        }
    }
    for (file, content) in &snapshot.files {
        let path = join(dir, file, PROMOTION)?;
        let old = read_text(reader, &path)?;
        if old.as_deref() != Some(content.as_str()) {
            out.push(FileChange {
                path,
                old,
                new: content.clone(),
            });
        }
    }
    Ok(out)
}

fn read_text(reader: &TreeReader, path: &str) -> Result<Option<String>> {
    crate::refuse_symlinks(reader, path, PROMOTION)?;
    match reader.read_file(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::NotText {
                file: path.to_owned(),
            }),
    }
}

/// Writes `snapshot` into the application under `target_path` as one
/// commit on `target`, pushed fast-forward only. On a lost race the changes
/// are planned again on the new tip; an existing commit with the same
/// trailers is reused instead of committing twice.
pub fn promote(
    mirror: &Mirror,
    target: &PushTarget,
    target_path: &str,
    snapshot: &ApplicationSnapshot,
    spec: &CommitSpec,
    options: &PushOptions,
) -> Result<PushOutcome> {
    let outcome = mirror.commit_and_push(target, spec, options, |reader| {
        plan_changes(reader, target_path, snapshot).map(|changes| {
            changes
                .into_iter()
                .map(|c| Change::Write {
                    path: c.path,
                    content: c.new.into_bytes(),
                })
                .collect::<Vec<_>>()
        })
    })?;
    Ok(outcome)
}

/// A unified diff of one change, as `git diff` shows it.
pub fn unified_diff(change: &FileChange) -> String {
    let old = change.old.as_deref().unwrap_or("");
    let diff = similar::TextDiff::from_lines(old, &change.new);
    let from = if change.old.is_some() {
        format!("a/{}", change.path)
    } else {
        "/dev/null".to_owned()
    };
    diff.unified_diff()
        .context_radius(3)
        .header(&from, &format!("b/{}", change.path))
        .to_string()
}
