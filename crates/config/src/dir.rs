use std::fs;
use std::path::Path;

use ferry_model::SourceFile;

use crate::{ConfigError, SourceFiles};

/// Configuration files larger than this are refused (a configuration file
/// of this size is a mistake, and reading it whole would be costly).
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Every `*.yaml`/`*.yml` file below `root` (hidden directories skipped,
/// directory symlinks not followed), sorted by relative path.
pub(crate) fn read_tree(root: &Path) -> Result<SourceFiles, ConfigError> {
    let meta = fs::metadata(root).map_err(|e| ConfigError::Dir {
        path: root.display().to_string(),
        source: e,
    })?;
    let mut out = SourceFiles::default();
    if meta.is_file() {
        let name = root.display().to_string();
        read_one(root, name, &mut out);
        return Ok(out);
    }
    let mut paths = Vec::new();
    collect(root, root, &mut paths)?;
    paths.sort();
    for rel in paths {
        let display = if root == Path::new(".") {
            rel.clone()
        } else {
            format!(
                "{}/{}",
                root.display().to_string().trim_end_matches('/'),
                rel
            )
        };
        read_one(&root.join(&rel), display, &mut out);
    }
    Ok(out)
}

fn read_one(path: &Path, display: String, out: &mut SourceFiles) {
    match fs::metadata(path) {
        Ok(m) if m.len() > MAX_FILE_BYTES => {
            out.unreadable.push((
                display,
                format!("file is larger than {} MiB; not read", MAX_FILE_BYTES >> 20),
            ));
            return;
        }
        Err(e) => {
            out.unreadable.push((display, format!("cannot read: {e}")));
            return;
        }
        Ok(_) => {}
    }
    match fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => out.files.push(SourceFile {
                path: display,
                text,
            }),
            Err(_) => out
                .unreadable
                .push((display, "file is not valid UTF-8".into())),
        },
        Err(e) => out.unreadable.push((display, format!("cannot read: {e}"))),
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), ConfigError> {
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
            if ty.is_symlink() && fs::metadata(&path).map(|m| !m.is_file()).unwrap_or(true) {
                continue;
            }
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let files = read_tree(root).unwrap();
        let names: Vec<&str> = files
            .files
            .iter()
            .map(|f| {
                f.path
                    .rsplit_once(&*root.display().to_string())
                    .map_or(f.path.as_str(), |(_, r)| r)
            })
            .collect();
        assert_eq!(names, vec!["/a.yml", "/b/z.yaml"]);
        assert_eq!(files.unreadable.len(), 1);
        assert!(files.unreadable[0].1.contains("UTF-8"));
    }

    #[test]
    fn missing_directory_is_an_error() {
        let err = read_tree(Path::new("/nonexistent/ferry")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ferry"));
    }
}
