use std::borrow::Cow;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use ferry_model::{FileInput, Loaded};

use crate::{Budget, ConfigError};

/// A YAML file of a source: its name in diagnostics, where it is, and its
/// size when listed.
#[derive(Debug)]
pub(crate) struct Entry {
    pub display: String,
    pub path: PathBuf,
    pub size: u64,
}

/// Every `*.yaml`/`*.yml` file below `root` (hidden directories skipped,
/// directory symlinks not followed), sorted by relative path; `root` may
/// also be a single file.
pub(crate) fn list(root: &Path) -> Result<Vec<Entry>, ConfigError> {
    let meta = fs::metadata(root).map_err(|e| ConfigError::Dir {
        path: root.display().to_string(),
        source: e,
    })?;
    if meta.is_file() {
        return Ok(vec![Entry {
            display: root.display().to_string(),
            path: root.to_owned(),
            size: meta.len(),
        }]);
    }
    let mut paths = Vec::new();
    collect(root, root, &mut paths)?;
    paths.sort();
    Ok(paths
        .into_iter()
        .map(|(rel, size)| {
            let display = if root == Path::new(".") {
                rel.clone()
            } else {
                format!(
                    "{}/{}",
                    root.display().to_string().trim_end_matches('/'),
                    rel
                )
            };
            Entry {
                display,
                path: root.join(&rel),
                size,
            }
        })
        .collect())
}

/// Checks the listing against the budget, then reads, parses and drops
/// the files one at a time (on every core) and validates the whole.
pub(crate) fn load(
    source: &str,
    entries: &[Entry],
    budget: &Budget,
) -> Result<Loaded, ConfigError> {
    let total: u64 = entries.iter().map(|e| e.size).sum();
    if entries.len() > budget.max_files || total > budget.max_bytes {
        return Err(ConfigError::Budget {
            what: source.to_owned(),
            files: entries.len(),
            bytes: total,
            max_files: budget.max_files,
            max_bytes: budget.max_bytes,
        });
    }
    let limits = ferry_model::Limits {
        max_nodes: budget.max_document_nodes,
    };
    Ok(ferry_model::load_each(
        entries.len(),
        limits,
        total >= 256 * 1024,
        |i| {
            let e = &entries[i];
            FileInput {
                path: e.display.clone(),
                text: read_one(&e.path, budget.max_file_bytes).map(Cow::Owned),
            }
        },
    ))
}

/// The text of one file, or why it is not read.
fn read_one(path: &Path, max_bytes: u64) -> Result<String, String> {
    let too_large = || {
        format!(
            "file is larger than {} (`configMaxFileBytes`); not read",
            crate::show_bytes(max_bytes)
        )
    };
    let file = fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    if len > max_bytes {
        return Err(too_large());
    }
    // Read at most one byte past the limit: a file that grew since it was
    // listed is refused, not read whole.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| "file is not valid UTF-8".into())
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> Result<(), ConfigError> {
    let entries = fs::read_dir(dir).map_err(|e| ConfigError::Dir {
        path: dir.display().to_string(),
        source: e,
    })?;
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let ty = entry.file_type()?;
        let path = entry.path();
        if ty.is_dir() {
            collect(root, &path, out)?;
        } else if (ty.is_file() || ty.is_symlink())
            && (name.ends_with(".yaml") || name.ends_with(".yml"))
        {
            // A symlink counts by its target; one to anything but a file is skipped.
            let size = match fs::metadata(&path) {
                Ok(m) if m.is_file() => m.len(),
                Ok(_) => continue,
                Err(_) if ty.is_symlink() => continue,
                // Unreadable here: listed anyway, so reading it reports why.
                Err(_) => 0,
            };
            if let Ok(rel) = path.strip_prefix(root) {
                out.push((rel.to_string_lossy().replace('\\', "/"), size));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[Entry], root: &Path) -> Vec<String> {
        let root = root.display().to_string();
        entries
            .iter()
            .map(|e| {
                e.display
                    .rsplit_once(&*root)
                    .map_or(e.display.clone(), |(_, r)| r.to_owned())
            })
            .collect()
    }

    #[test]
    fn reads_yaml_in_path_order_and_skips_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("b")).unwrap();
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join("b/z.yaml"), "a: 1\n").unwrap();
        fs::write(root.join("a.yml"), "a: 1\n").unwrap();
        fs::write(root.join("b/readme.md"), "x").unwrap();
        fs::write(root.join(".git/config.yaml"), "a: 1\n").unwrap();
        fs::write(root.join("bad.yaml"), [0xff, 0xfe, 0x00]).unwrap();
        let entries = list(root).unwrap();
        assert_eq!(names(&entries, root), ["/a.yml", "/b/z.yaml", "/bad.yaml"]);
        let loaded = load("test", &entries, &Budget::default()).unwrap();
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("bad.yaml:0:0: error: file is not valid UTF-8"),
            "{errors:?}"
        );
        assert_eq!(loaded.config.ignored.len(), 2);
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = list(Path::new("/nonexistent/ferry")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ferry"));
    }

    #[test]
    fn a_source_over_its_budget_is_refused_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        fs::write(dir.path().join("b.yaml"), "b: 2\n").unwrap();
        let entries = list(dir.path()).unwrap();
        let refused = |budget: Budget| match load("cfg", &entries, &budget) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{budget:?} must refuse 2 files of 10 bytes"),
        };
        let files = refused(Budget {
            max_files: 1,
            ..Budget::default()
        });
        assert!(
            files.starts_with("configuration cfg: 2 YAML files of 10 bytes in total are more than it may read (1 files, 128 MiB)"),
            "{files}"
        );
        let bytes = refused(Budget {
            max_bytes: 9,
            ..Budget::default()
        });
        assert!(bytes.contains("(100000 files, 9 bytes)"), "{bytes}");
        // Exactly at the limits is within them.
        let at = Budget {
            max_files: 2,
            max_bytes: 10,
            ..Budget::default()
        };
        assert!(!load("cfg", &entries, &at).unwrap().has_errors());
    }

    #[test]
    fn a_file_over_its_limit_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("big.yaml"), "a: 1\n".repeat(100)).unwrap();
        fs::write(dir.path().join("small.yaml"), "a: 1\n").unwrap();
        let budget = Budget {
            max_file_bytes: 100,
            ..Budget::default()
        };
        let loaded = load("test", &list(dir.path()).unwrap(), &budget).unwrap();
        let errors: Vec<String> = loaded.errors().map(|d| d.to_string()).collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("big.yaml:0:0: error: file is larger than 100 bytes (`configMaxFileBytes`); not read"), "{errors:?}");
    }
}
