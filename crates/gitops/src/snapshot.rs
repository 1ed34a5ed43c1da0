//! Reading an application's snapshot at a revision (SPEC §4.1).

use std::collections::BTreeMap;

use ferry_git::{EntryKind, TreeReader};
use ferry_model::jsonpath;
use ferry_model::resource::{TemplateBody, VersionSource};
use ferry_release::ApplicationSnapshot;
use ferry_yamledit::Value;

use crate::error::{Error, Result};
use crate::join;

/// Which application, where.
#[derive(Debug, Clone, Copy)]
pub struct AppSource<'a> {
    pub application: &'a str,
    pub repo_url: &'a str,
    /// The source path inside the repository.
    pub path: &'a str,
}

/// A snapshot plus the application's version at the same revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSnapshot {
    pub snapshot: ApplicationSnapshot,
    pub version: Option<String>,
}

/// The text of the file at `path`, refusing symbolic links on the way.
/// The template fields whose file names are checked, for error messages.
pub(crate) const PROMOTION: &str = "spec.promotion";
const VERSION_SOURCE: &str = "spec.versionSource.file";
/// Promotion of every file of the source directory (no `spec.promotion`).
const WHOLE_DIRECTORY: &str = "spec.promotion (absent: the whole directory)";

fn text(reader: &TreeReader, path: &str, field: &'static str) -> Result<Option<String>> {
    crate::refuse_symlinks(reader, path, field)?;
    match reader.read_file(path)? {
        None => Ok(None),
        Some(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::NotText {
                file: path.to_owned(),
            }),
    }
}

/// The values at every promotable path of the template (or whole files),
/// read from the tree `reader` points at.
pub fn read_snapshot(
    reader: &TreeReader,
    src: AppSource<'_>,
    template: &TemplateBody,
) -> Result<ReadSnapshot> {
    let revision = reader.commit_id().to_string();
    let mut snapshot = ApplicationSnapshot {
        application: src.application.to_owned(),
        repo_url: src.repo_url.to_owned(),
        path: src.path.to_owned(),
        revision: revision.clone(),
        values: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    let dir = src.path.trim_matches('/');
    prefetch(reader, dir, template)?;
    match &template.promotion {
        None => {
            // No promotion section: every file of the directory is promoted whole.
            crate::refuse_symlinks(reader, dir, WHOLE_DIRECTORY)?;
            if !dir.is_empty() && !reader.exists(dir)? {
                return Err(Error::MissingPath {
                    path: dir.to_owned(),
                    revision,
                });
            }
            for entry in reader.list_dir(dir, true)? {
                match entry.kind {
                    EntryKind::File => {}
                    EntryKind::Symlink => {
                        return Err(Error::Symlink {
                            field: WHOLE_DIRECTORY,
                            file: entry.path.clone(),
                            link: entry.path,
                        });
                    }
                    // As before: submodules are other repositories;
                    // executables are not configuration.
                    EntryKind::Executable | EntryKind::Submodule | EntryKind::Directory => {
                        continue;
                    }
                }
                let rel = entry
                    .path
                    .strip_prefix(dir)
                    .unwrap_or(&entry.path)
                    .trim_start_matches('/')
                    .to_owned();
                let content = text(reader, &entry.path, WHOLE_DIRECTORY)?.unwrap_or_default();
                snapshot.files.insert(rel, content);
            }
        }
        Some(files) => {
            for (file, spec) in files {
                let path = join(dir, file, PROMOTION)?;
                let content =
                    text(reader, &path, PROMOTION)?.ok_or_else(|| Error::MissingSourceFile {
                        application: src.application.to_owned(),
                        file: path.clone(),
                        revision: revision.clone(),
                    })?;
                if spec.is_whole_file() {
                    snapshot.files.insert(file.clone(), content);
                } else {
                    let paths: Vec<String> = spec
                        .json_paths
                        .iter()
                        .map(|p| jsonpath::normalize(p))
                        .collect();
                    let values = ferry_yamledit::snapshot(&content, &paths).map_err(|source| {
                        Error::Yaml {
                            file: path.clone(),
                            source,
                        }
                    })?;
                    snapshot.values.insert(file.clone(), values);
                }
            }
        }
    }
    let version = match &template.version_source {
        Some(vs) => read_version(reader, dir, vs)?,
        None => None,
    };
    Ok(ReadSnapshot { snapshot, version })
}

/// Fetches what [`read_snapshot`] will read from a partial mirror in a few
/// batches (see [`TreeReader::prefetch`]). A file name the template gets
/// wrong is left for the read itself to report.
fn prefetch(reader: &TreeReader, dir: &str, template: &TemplateBody) -> Result<()> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    match &template.promotion {
        None => dirs.push(dir.to_owned()),
        Some(promoted) => files.extend(
            promoted
                .keys()
                .filter_map(|file| join(dir, file, PROMOTION).ok()),
        ),
    }
    if let Some(vs) = &template.version_source
        && let Ok(path) = join(dir, &vs.file, VERSION_SOURCE)
    {
        files.push(path);
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let dirs: Vec<&str> = dirs.iter().map(String::as_str).collect();
    Ok(reader.prefetch(&files, &dirs)?)
}

/// The application's version (`versionSource`), as written; `None` when the
/// file or path is absent.
pub fn read_version(reader: &TreeReader, dir: &str, vs: &VersionSource) -> Result<Option<String>> {
    let path = join(dir, &vs.file, VERSION_SOURCE)?;
    let Some(content) = text(reader, &path, VERSION_SOURCE)? else {
        return Ok(None);
    };
    let located =
        ferry_yamledit::query(&content, &jsonpath::normalize(&vs.json_path)).map_err(|source| {
            Error::Yaml {
                file: path.clone(),
                source,
            }
        })?;
    Ok(located.into_iter().next().map(|l| match l.value {
        Value::Scalar(s) => s.text,
        other => other.to_json().to_string(),
    }))
}
