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
    /// SHA-256 of a file's content or a symlink's target. Snapshots record it only for
    /// entries changed in the last moments before the snapshot (see [`RACY`]); the
    /// others are told by their inode and change time. Snapshots from before that
    /// hashed every file but large ones and build output (see `walk::unhashed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Inode number, recorded by snapshots that compare by change time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    /// Status change time (`ctime`), nanoseconds since 1970. The kernel sets it on every
    /// write, chmod, link or rename, and nothing can set it back, so an entry whose
    /// inode and ctime are as recorded has not changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctime_ns: Option<i128>,
}

/// How close to the snapshot a change must be for its time not to be trusted: file
/// times come from the kernel's coarse clock, so a second write within the same tick
/// would leave `ctime` as it was. Entries changed this recently are hashed instead, as
/// git does for its racily clean index entries.
const RACY: i128 = 2_000_000_000;

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
            mtime_ns: nanos(meta.mtime(), meta.mtime_nsec()),
            mode: meta.permissions().mode() & 0o7777,
            sha256,
            ino: None,
            ctime_ns: None,
        })
    }

    /// Record `path` for a snapshot taken at `now_ns`: by inode and change time, with
    /// no content read, unless it changed too recently for times to tell (then hashed).
    pub(crate) fn capture_by_time(
        rel: &str,
        path: &Path,
        meta: &Metadata,
        now_ns: i128,
    ) -> Result<Self, TaskError> {
        let ctime_ns = nanos(meta.ctime(), meta.ctime_nsec());
        let mtime_ns = nanos(meta.mtime(), meta.mtime_nsec());
        let racy = now_ns - ctime_ns.max(mtime_ns) < RACY;
        let mut entry = if racy {
            Self::capture(rel, path, meta)?
        } else {
            Self {
                kind: EntryKind::of(meta),
                size: meta.len(),
                mtime_ns,
                mode: meta.permissions().mode() & 0o7777,
                sha256: None,
                ino: None,
                ctime_ns: None,
            }
        };
        entry.ino = Some(meta.ino());
        entry.ctime_ns = Some(ctime_ns);
        Ok(entry)
    }

    /// Whether `path` is still what this entry recorded. Directories are the same
    /// while they are directories: their files are compared one by one.
    pub(crate) fn unchanged(&self, rel: &str, path: &Path) -> Result<bool, TaskError> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(TaskError::io("stat", path)(e)),
        };
        if let (Some(ino), Some(ctime_ns)) = (self.ino, self.ctime_ns) {
            let kind = EntryKind::of(&meta);
            if kind == EntryKind::Dir || self.kind == EntryKind::Dir {
                return Ok(kind == self.kind);
            }
            let same_inode = kind == self.kind
                && meta.ino() == ino
                && meta.len() == self.size
                && meta.permissions().mode() & 0o7777 == self.mode;
            if !same_inode {
                return Ok(false);
            }
            // An entry recorded racily was hashed because its times cannot be
            // trusted (a second write in the same clock tick leaves ctime as it was):
            // only its content says whether it is the same.
            if let Some(recorded) = &self.sha256 {
                return Ok(Self::capture(rel, path, &meta)?.sha256.as_ref() == Some(recorded));
            }
            return Ok(nanos(meta.ctime(), meta.ctime_nsec()) == ctime_ns);
        }
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

/// The real workspace as a task found it: by the moment it began (what tasks record
/// now), or entry by entry (what earlier tasks recorded, still read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Every entry below the workspace root (entry-by-entry snapshots).
    #[serde(default)]
    pub entries: BTreeMap<String, SnapshotEntry>,
    /// When the task began (moment snapshots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began: Option<Began>,
    /// The names in the workspace when the task began, without their details (moment
    /// snapshots, from the walk that looks for secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<Listing>,
}

/// Which paths existed when a task began.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Every workspace-relative path seen, sorted (searched by halves).
    pub entries: Vec<String>,
    /// Directories whose contents were not listed (build output, caches).
    pub unlisted: Vec<String>,
}

impl Listing {
    /// Whether `rel` existed then, when the listing can tell.
    fn existed(&self, rel: &str) -> Option<bool> {
        let inside_unlisted = self.unlisted.iter().any(|dir| {
            rel.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        });
        (!inside_unlisted).then(|| {
            self.entries
                .binary_search_by(|entry| entry.as_str().cmp(rel))
                .is_ok()
        })
    }
}

/// The moment a task began, as file systems record time: every change to a file after
/// it leaves a change time (`ctime`) at or past it, which nothing can set back. A
/// moment costs nothing per file, where recording every entry was most of the 40.8 ms
/// a 10,000-file workspace added to `cordon run` (BENCHMARKS.md); `apply` asks only
/// about the paths the task changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Began {
    /// The change time of a file written as the task began, in nanoseconds: the
    /// kernel's own clock, coarse as file times are.
    pub ctime_ns: i128,
    /// The workspace's file system keeps whole seconds only: times are compared in
    /// seconds (anything changed in the second the task began counts as changed).
    pub whole_seconds: bool,
}

impl Began {
    fn threshold(&self) -> i128 {
        if self.whole_seconds {
            self.ctime_ns - self.ctime_ns.rem_euclid(1_000_000_000)
        } else {
            self.ctime_ns
        }
    }

    fn since(&self, meta: &Metadata) -> bool {
        nanos(meta.ctime(), meta.ctime_nsec()) >= self.threshold()
    }

    /// Whether workspace path `rel` (at `path`) may have changed since the task began:
    /// it changed (or was made) since, or it is gone and it existed then (by the
    /// listing) or, where the listing cannot tell, the nearest directory still there
    /// had an entry added, removed or renamed since. Errs towards "changed": a false
    /// answer would let `apply` overwrite someone's work.
    pub(crate) fn changed(
        &self,
        listing: Option<&Listing>,
        rel: &str,
        path: &Path,
    ) -> Result<bool, TaskError> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => return Ok(self.since(&meta)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TaskError::io("stat", path)(e)),
        }
        if let Some(existed) = listing.and_then(|l| l.existed(rel)) {
            return Ok(existed);
        }
        let mut dir = path.parent();
        while let Some(at) = dir {
            match std::fs::symlink_metadata(at) {
                Ok(meta) => return Ok(self.since(&meta)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => dir = at.parent(),
                Err(e) => return Err(TaskError::io("stat", at)(e)),
            }
        }
        Ok(true)
    }
}

impl Snapshot {
    /// Record the workspace as it is now.
    ///
    /// Reads no file's content (but the few changed in the last two seconds): a
    /// workspace of 10,000 files cost 60 ms of hashing per `cordon run` before.
    pub fn capture(workspace: &Path) -> Result<Self, TaskError> {
        let now_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        let mut entries = BTreeMap::new();
        for (rel, path, meta) in walk::entries(workspace)? {
            let entry = SnapshotEntry::capture_by_time(&rel, &path, &meta, now_ns)?;
            entries.insert(rel, entry);
        }
        Ok(Self {
            entries,
            began: None,
            listing: None,
        })
    }

    /// The moment a task begins on `workspace`, marked by a file written in `scratch`
    /// (the task's own directory; the workspace itself is never written).
    pub fn began(
        workspace: &Path,
        scratch: &Path,
        listing: Option<Listing>,
    ) -> Result<Self, TaskError> {
        Ok(Self::from_moment(Began::mark(workspace, scratch)?, listing))
    }

    /// A moment snapshot from a moment marked earlier.
    pub fn from_moment(began: Began, listing: Option<Listing>) -> Self {
        Self {
            entries: BTreeMap::new(),
            began: Some(began),
            listing,
        }
    }
}

impl Began {
    /// Now, as file times tell it: the change time of a file written in `scratch`
    /// (and removed again), and whether `workspace` keeps whole seconds only.
    pub fn mark(workspace: &Path, scratch: &Path) -> Result<Self, TaskError> {
        // Unique per call: one supervisor starts several sandboxes at once (the MCP
        // servers it serves), each marking its own start.
        static MARKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let mark = MARKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let marker = scratch.join(format!(".began-{}-{mark}", std::process::id()));
        std::fs::write(&marker, b"").map_err(TaskError::io("write", &marker))?;
        let meta = std::fs::symlink_metadata(&marker).map_err(TaskError::io("stat", &marker));
        let _ = std::fs::remove_file(&marker);
        let meta = meta?;
        let root =
            std::fs::symlink_metadata(workspace).map_err(TaskError::io("stat", workspace))?;
        // A file system with one-second times shows no nanoseconds anywhere.
        let whole_seconds = root.ctime_nsec() == 0 && root.mtime_nsec() == 0;
        Ok(Self {
            ctime_ns: nanos(meta.ctime(), meta.ctime_nsec()),
            whole_seconds,
        })
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanoseconds)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_at(path: &Path, now_ns: i128) -> SnapshotEntry {
        let meta = std::fs::symlink_metadata(path).unwrap();
        SnapshotEntry::capture_by_time("f", path, &meta, now_ns).unwrap()
    }

    fn now_ns() -> i128 {
        i128::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos(),
        )
        .unwrap()
    }

    #[test]
    fn an_old_entry_is_told_by_inode_and_change_time_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "one").unwrap();
        // As if the snapshot were taken a minute after the last change.
        let entry = entry_at(&path, now_ns() + 60_000_000_000);
        assert_eq!(entry.sha256, None, "nothing read");
        assert!(entry.unchanged("f", &path).unwrap());
        // Same size, same inode, new content: the change time moved.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, "two").unwrap();
        assert!(!entry.unchanged("f", &path).unwrap());
        // Replaced by another file of the same size: another inode.
        let entry = entry_at(&path, now_ns() + 60_000_000_000);
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, "two").unwrap();
        assert!(!entry.unchanged("f", &path).unwrap());
        std::fs::remove_file(&path).unwrap();
        assert!(!entry.unchanged("f", &path).unwrap());
    }

    #[test]
    fn a_racy_entry_is_hashed_so_a_change_in_the_same_tick_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "one").unwrap();
        let entry = entry_at(&path, now_ns());
        assert!(entry.sha256.is_some(), "changed just now: hashed");
        assert!(entry.unchanged("f", &path).unwrap());
        std::fs::write(&path, "two").unwrap();
        assert!(!entry.unchanged("f", &path).unwrap());
    }

    #[test]
    fn a_moment_tells_what_changed_since_without_reading_the_workspace() {
        let ws = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir(ws.path().join("src")).unwrap();
        for name in ["kept", "edited", "deleted"] {
            std::fs::write(ws.path().join("src").join(name), name).unwrap();
        }
        std::fs::write(ws.path().join("alone"), "x").unwrap();
        // Past the coarse clock's tick, so what came before is plainly before.
        std::thread::sleep(std::time::Duration::from_millis(30));
        let snapshot = Snapshot::began(ws.path(), scratch.path(), None).unwrap();
        let began = snapshot.began.unwrap();
        assert!(snapshot.entries.is_empty());
        std::thread::sleep(std::time::Duration::from_millis(30));
        std::fs::write(ws.path().join("src/edited"), "new").unwrap();
        std::fs::remove_file(ws.path().join("src/deleted")).unwrap();
        std::fs::write(ws.path().join("src/created"), "new").unwrap();

        let changed = |rel: &str| began.changed(None, rel, &ws.path().join(rel)).unwrap();
        assert!(!changed("src/kept"));
        assert!(!changed("alone"));
        assert!(changed("src/edited"));
        assert!(changed("src/created"));
        // Gone, in a directory that lost an entry since: it may have been there.
        assert!(changed("src/deleted"));
        // Never there, in directories untouched since: the task made it.
        assert!(!changed("never"));
        assert!(!changed("new-dir/deeper/file"));
    }

    #[test]
    fn with_a_listing_a_file_made_by_the_task_is_told_from_one_deleted_underneath() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::write(ws.path().join("deleted"), "x").unwrap();
        std::fs::create_dir(ws.path().join("target")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let scratch = tempfile::tempdir().unwrap();
        let began = Snapshot::began(ws.path(), scratch.path(), None)
            .unwrap()
            .began
            .unwrap();
        let listing = Listing {
            entries: ["deleted", "target"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            unlisted: vec!["target".to_owned()],
        };
        std::thread::sleep(std::time::Duration::from_millis(30));
        // The directory changes (a file deleted, another made by someone else)...
        std::fs::remove_file(ws.path().join("deleted")).unwrap();
        std::fs::write(ws.path().join("theirs"), "x").unwrap();
        let changed = |rel: &str| {
            began
                .changed(Some(&listing), rel, &ws.path().join(rel))
                .unwrap()
        };
        // ...but a new file of the task's was not there then: no conflict.
        assert!(!changed("made-by-the-task"));
        assert!(changed("deleted"));
        assert!(changed("theirs"));
        // Under a directory not listed, the directory's change time decides.
        assert!(!changed("target/debug/out"));
    }

    #[test]
    fn whole_second_file_systems_compare_in_seconds() {
        let began = Began {
            ctime_ns: 1_700_000_000_400_000_000,
            whole_seconds: true,
        };
        assert_eq!(began.threshold(), 1_700_000_000_000_000_000);
        let fine = Began {
            whole_seconds: false,
            ..began
        };
        assert_eq!(fine.threshold(), began.ctime_ns);
    }

    #[test]
    fn snapshots_written_before_still_compare_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "one").unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let old = SnapshotEntry::capture("f", &path, &meta).unwrap();
        assert!(old.ino.is_none() && old.sha256.is_some());
        std::fs::write(&path, "one").unwrap();
        assert!(old.unchanged("f", &path).unwrap(), "same content");
        std::fs::write(&path, "two").unwrap();
        assert!(!old.unchanged("f", &path).unwrap());
    }
}
