//! Walking a directory tree the same way everywhere: no symlinks followed, names kept
//! as workspace-relative `/`-separated strings, and a bound on the entries.

use crate::TaskError;
use std::path::{Path, PathBuf};

/// More entries than this and cordon refuses to snapshot or review a tree: beyond it
/// the cost is no longer a few milliseconds, and a review nobody can read is no review.
pub(crate) const MAX_ENTRIES: usize = 500_000;

/// Directories whose files are recorded by size and mtime only: build output and
/// content-addressed stores, large and rewritten wholesale.
const UNHASHED_DIRS: &[&str] = &["target", "node_modules", ".git/objects"];

/// The `/`-separated path of `path` below `root`; non-UTF-8 names are refused rather
/// than mangled, since a mangled name would apply to the wrong file.
pub(crate) fn relative(root: &Path, path: &Path) -> Result<String, TaskError> {
    let rel = path.strip_prefix(root).map_err(|_| TaskError::Path {
        path: path.to_path_buf(),
        detail: format!("is not below `{}`", root.display()),
    })?;
    let mut out = String::new();
    for component in rel.components() {
        let std::path::Component::Normal(name) = component else {
            return Err(TaskError::Path {
                path: path.to_path_buf(),
                detail: "is not a plain relative path".to_owned(),
            });
        };
        let name = name.to_str().ok_or_else(|| TaskError::Path {
            path: path.to_path_buf(),
            detail: "the name is not UTF-8; cordon cannot track it".to_owned(),
        })?;
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(name);
    }
    Ok(out)
}

/// Whether a relative path lies in a directory recorded without content hashes.
pub(crate) fn unhashed(rel: &str) -> bool {
    UNHASHED_DIRS.iter().any(|dir| {
        rel.strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            || rel.contains(&format!("/{dir}/"))
    })
}

/// Every entry below `root` (not `root` itself), parents before children, in a
/// stable order.
pub(crate) fn entries(root: &Path) -> Result<Vec<(String, PathBuf, std::fs::Metadata)>, TaskError> {
    let mut out = Vec::new();
    let walker = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            TaskError::Io {
                action: "read",
                source: e
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
                path,
            }
        })?;
        if out.len() >= MAX_ENTRIES {
            return Err(TaskError::TooLarge {
                workspace: root.to_path_buf(),
                limit: MAX_ENTRIES,
            });
        }
        let meta = entry.metadata().map_err(|e| TaskError::Io {
            action: "stat",
            path: entry.path().to_path_buf(),
            source: e
                .into_io_error()
                .unwrap_or_else(|| std::io::Error::other("stat failed")),
        })?;
        let rel = relative(root, entry.path())?;
        out.push((rel, entry.into_path(), meta));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heavy_directories_are_unhashed_at_any_depth() {
        assert!(unhashed("target/debug/x"));
        assert!(unhashed("web/node_modules/a/b.js"));
        assert!(unhashed(".git/objects/ab/cdef"));
        assert!(!unhashed("targets/x"));
        assert!(!unhashed("src/target.rs"));
        assert!(!unhashed(".git/config"));
    }
}
