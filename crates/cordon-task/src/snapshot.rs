//! `snapshot.json`: the real workspace as it was when a task began, so `apply` can
//! tell which files changed underneath it.

use crate::TaskError;
use crate::walk;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// Files larger than this are recorded by size and mtime only.
const MAX_HASHED: u64 = 64 * 1024 * 1024;

/// The kind of a workspace entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (fifo, socket, device).
    Other,
}

impl EntryKind {
    pub(crate) fn of(meta: &Metadata) -> Self {
        let ft = meta.file_type();
        if ft.is_symlink() {
            Self::Symlink
        } else if ft.is_dir() {
            Self::Dir
        } else if ft.is_file() {
            Self::File
        } else {
            Self::Other
        }
    }
}

/// One entry as it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotEntry {
    /// File, directory, symlink.
    pub kind: EntryKind,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since 1970.
    pub mtime_ns: i128,
    /// Permission bits.
    pub mode: u32,
    /// SHA-256 of a file's content or a symlink's target; absent for directories,
    /// large files and build output (see `walk::unhashed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl SnapshotEntry {
    /// Record `path` as it is now.
    pub(crate) fn capture(rel: &str, path: &Path, meta: &Metadata) -> Result<Self, TaskError> {
        let kind = EntryKind::of(meta);
        let sha256 = match kind {
            EntryKind::File if meta.len() <= MAX_HASHED && !walk::unhashed(rel) => {
                Some(hash_file(path)?)
            }
            EntryKind::Symlink => {
                let target =
                    std::fs::read_link(path).map_err(TaskError::io("read the link", path))?;
                Some(hash_bytes(target.as_os_str().as_encoded_bytes()))
            }
            _ => None,
        };
        Ok(Self {
            kind,
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            mode: meta.permissions().mode() & 0o7777,
            sha256,
        })
    }

    /// Whether `path` is still what this entry recorded. Directories are the same
    /// while they are directories: their files are compared one by one.
    pub(crate) fn unchanged(&self, rel: &str, path: &Path) -> Result<bool, TaskError> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(TaskError::io("stat", path)(e)),
        };
        let now = Self::capture(rel, path, &meta)?;
        Ok(match (self.kind, now.kind) {
            (EntryKind::Dir, EntryKind::Dir) => true,
            (a, b) if a != b => false,
            _ => match (&self.sha256, &now.sha256) {
                (Some(a), Some(b)) => a == b && self.mode == now.mode,
                _ => {
                    self.size == now.size && self.mtime_ns == now.mtime_ns && self.mode == now.mode
                }
            },
        })
    }
}

/// The whole workspace, by relative path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every entry below the workspace root.
    pub entries: BTreeMap<String, SnapshotEntry>,
}

impl Snapshot {
    /// Record the workspace as it is now.
    pub fn capture(workspace: &Path) -> Result<Self, TaskError> {
        let mut entries = BTreeMap::new();
        for (rel, path, meta) in walk::entries(workspace)? {
            let entry = SnapshotEntry::capture(&rel, &path, &meta)?;
            entries.insert(rel, entry);
        }
        Ok(Self { entries })
    }
}

pub(crate) fn hash_bytes(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(crate) fn hash_file(path: &Path) -> Result<String, TaskError> {
    let mut file = std::fs::File::open(path).map_err(TaskError::io("read", path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(TaskError::io("read", path))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex::encode(hasher.finalize()))
}
