//! What a task changed: the overlay's upper directory read against the real
//! workspace.
//!
//! overlayfs records a deletion as a *whiteout*, a character device 0:0 with the
//! deleted name, and a directory that replaced one below (`rm -r d; mkdir d`) as
//! *opaque*, marked with the `user.overlay.opaque` xattr (`trusted.overlay.opaque`
//! when mounted without `userxattr`). Everything else in the upper directory is a
//! file, link or directory as the command left it. Renamed directories
//! (`redirect_dir`) and metadata-only copies (`metacopy`) cannot occur: the sandbox
//! mounts with `userxattr`, which disables both.

use crate::snapshot::{EntryKind, hash_file};
use crate::{TaskError, is_protected};
use std::fs::{self, Metadata};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files larger than this are described by size, never diffed line by line.
const MAX_TEXT_DIFF: u64 = 1024 * 1024;

/// What a path holds on one side of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file.
    File {
        /// Size in bytes.
        size: u64,
        /// Permission bits.
        mode: u32,
    },
    /// A symbolic link.
    Symlink {
        /// Where it points.
        target: PathBuf,
    },
    /// A directory.
    Dir {
        /// Permission bits.
        mode: u32,
    },
    /// A fifo, socket or device (never applied).
    Other,
}

impl Content {
    fn of(path: &Path, meta: &Metadata) -> Result<Self, TaskError> {
        let mode = meta.permissions().mode() & 0o7777;
        Ok(match EntryKind::of(meta) {
            EntryKind::File => Self::File {
                size: meta.len(),
                mode,
            },
            EntryKind::Dir => Self::Dir { mode },
            EntryKind::Symlink => Self::Symlink {
                target: fs::read_link(path).map_err(TaskError::io("read the link", path))?,
            },
            EntryKind::Other => Self::Other,
        })
    }

    fn kind(&self) -> EntryKind {
        match self {
            Self::File { .. } => EntryKind::File,
            Self::Dir { .. } => EntryKind::Dir,
            Self::Symlink { .. } => EntryKind::Symlink,
            Self::Other => EntryKind::Other,
        }
    }
}

/// Added, modified or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Not in the real workspace; the task created it.
    Added,
    /// In both, with different content, target or permissions.
    Modified,
    /// In the real workspace; the task deleted it.
    Deleted,
}

impl ChangeKind {
    /// One letter, as `git status --short` prints it.
    #[must_use]
    pub fn letter(self) -> char {
        match self {
            Self::Added => 'A',
            Self::Modified => 'M',
            Self::Deleted => 'D',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Workspace-relative, `/`-separated.
    pub path: String,
    /// Added, modified, deleted.
    pub kind: ChangeKind,
    /// What the real workspace holds (absent for an addition).
    pub old: Option<Content>,
    /// What the task left (absent for a deletion).
    pub new: Option<Content>,
    /// A path a host later executes or trusts ([`is_protected`]).
    pub protected: bool,
}

/// Every change a task made, in path order (a deleted directory's contents are
/// listed one by one, before the directory itself).
pub fn changes(workspace: &Path, upper: &Path) -> Result<Vec<Change>, TaskError> {
    let mut out = Vec::new();
    if fs::symlink_metadata(upper).is_err() {
        return Ok(out);
    }
    scan(workspace, upper, "", false, &mut out)?;
    Ok(out)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

fn stat(path: &Path) -> Result<Option<Metadata>, TaskError> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        // A parent in the real workspace is a file or a link: nothing is below it.
        Err(e) if e.raw_os_error() == Some(20) => Ok(None),
        Err(e) => Err(TaskError::io("stat", path)(e)),
    }
}

fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        ["user.overlay.opaque", "trusted.overlay.opaque"]
            .iter()
            .any(|name| {
                let mut value = [0u8; 4];
                matches!(rustix::fs::lgetxattr(path, *name, &mut value), Ok(n) if value.get(..n) == Some(b"y"))
            })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        false
    }
}

/// Names in a directory, sorted; non-UTF-8 names are refused (see `walk::relative`).
fn names(dir: &Path) -> Result<Vec<String>, TaskError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(TaskError::io("read", dir))? {
        let entry = entry.map_err(TaskError::io("read", dir))?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| TaskError::Path {
                path: entry.path(),
                detail: "the name is not UTF-8; cordon cannot track it".to_owned(),
            })?;
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn push(
    out: &mut Vec<Change>,
    path: String,
    kind: ChangeKind,
    old: Option<Content>,
    new: Option<Content>,
) {
    let protected = is_protected(&path);
    out.push(Change {
        path,
        kind,
        old,
        new,
        protected,
    });
}

/// Everything below a real path the task deleted, deepest first, then the path.
fn deleted(
    ws_path: &Path,
    rel: &str,
    meta: &Metadata,
    out: &mut Vec<Change>,
) -> Result<(), TaskError> {
    if meta.is_dir() {
        for name in names(ws_path)? {
            let child = ws_path.join(&name);
            if let Some(child_meta) = stat(&child)? {
                deleted(&child, &join(rel, &name), &child_meta, out)?;
            }
        }
    }
    let old = Content::of(ws_path, meta)?;
    push(out, rel.to_owned(), ChangeKind::Deleted, Some(old), None);
    Ok(())
}

/// Whether two regular files have the same bytes.
fn same_bytes(a: &Path, b: &Path, size_a: u64, size_b: u64) -> Result<bool, TaskError> {
    Ok(size_a == size_b && hash_file(a)? == hash_file(b)?)
}

fn scan(
    ws: &Path,
    upper: &Path,
    rel: &str,
    opaque: bool,
    out: &mut Vec<Change>,
) -> Result<(), TaskError> {
    let upper_dir = upper.join(rel);
    let ws_dir = ws.join(rel);
    let upper_names = names(&upper_dir)?;
    if opaque
        && let Some(meta) = stat(&ws_dir)?
        && meta.is_dir()
    {
        // An opaque directory hides everything below it in the real workspace.
        for name in names(&ws_dir)? {
            if upper_names.binary_search(&name).is_err() {
                let child = ws_dir.join(&name);
                if let Some(child_meta) = stat(&child)? {
                    deleted(&child, &join(rel, &name), &child_meta, out)?;
                }
            }
        }
    }
    for name in upper_names {
        let child_rel = join(rel, &name);
        let up = upper_dir.join(&name);
        let real = ws_dir.join(&name);
        let Some(up_meta) = stat(&up)? else { continue };
        // Below an opaque directory a real entry of the same name is replaced, not
        // merged; comparing it with the task's still tells what changes.
        let real_meta = stat(&real)?;
        if is_whiteout(&up_meta) {
            if let Some(real_meta) = real_meta {
                deleted(&real, &child_rel, &real_meta, out)?;
            }
            continue;
        }
        let new = Content::of(&up, &up_meta)?;
        let old = real_meta
            .as_ref()
            .map(|m| Content::of(&real, m))
            .transpose()?;
        let replaced = match (&old, &new) {
            (Some(o), n) => o.kind() != n.kind(),
            (None, _) => false,
        };
        if replaced && let Some(real_meta) = &real_meta {
            deleted(&real, &child_rel, real_meta, out)?;
        }
        let old = if replaced { None } else { old };
        if let Content::Dir { .. } = new {
            if old.is_none() {
                push(out, child_rel.clone(), ChangeKind::Added, None, Some(new));
            }
            let child_opaque = opaque || replaced || is_opaque(&up);
            scan(ws, upper, &child_rel, child_opaque, out)?;
            continue;
        }
        match (&old, &new) {
            (None, _) => push(out, child_rel, ChangeKind::Added, None, Some(new)),
            (Some(Content::File { size: a, mode: ma }), Content::File { size: b, mode: mb }) => {
                if ma != mb || !same_bytes(&real, &up, *a, *b)? {
                    push(out, child_rel, ChangeKind::Modified, old, Some(new));
                }
            }
            (Some(o), n) => {
                if o != n {
                    push(out, child_rel, ChangeKind::Modified, old, Some(new));
                }
            }
        }
    }
    Ok(())
}

/// A change for a person: unified diff for text, sizes for anything else.
pub fn render_diff(change: &Change, workspace: &Path, upper: &Path) -> Result<String, TaskError> {
    let real = workspace.join(&change.path);
    let up = upper.join(&change.path);
    let old_text = text_of(change.old.as_ref(), &real)?;
    let new_text = text_of(change.new.as_ref(), &up)?;
    let mut out = String::new();
    match (old_text, new_text) {
        (Side::Text(old), Side::Text(new)) => {
            let (a, b) = match change.kind {
                ChangeKind::Added => ("/dev/null".to_owned(), format!("b/{}", change.path)),
                ChangeKind::Deleted => (format!("a/{}", change.path), "/dev/null".to_owned()),
                ChangeKind::Modified => {
                    (format!("a/{}", change.path), format!("b/{}", change.path))
                }
            };
            let diff = similar::TextDiff::from_lines(&old, &new);
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(3)
                    .header(&a, &b)
                    .to_string(),
            );
            if let (Some(Content::File { mode: ma, .. }), Some(Content::File { mode: mb, .. })) =
                (&change.old, &change.new)
                && ma != mb
            {
                out.push_str(&format!("mode {ma:o} → {mb:o}\n"));
            }
        }
        (old, new) => {
            out.push_str(&format!("{} → {}\n", old.describe(), new.describe()));
        }
    }
    Ok(out)
}

enum Side {
    Text(String),
    Described(String),
}

impl Side {
    fn describe(&self) -> String {
        match self {
            Self::Text(text) => format!("text, {} bytes", text.len()),
            Self::Described(what) => what.clone(),
        }
    }
}

fn text_of(content: Option<&Content>, path: &Path) -> Result<Side, TaskError> {
    Ok(match content {
        None => Side::Text(String::new()),
        Some(Content::File { size, .. }) if *size <= MAX_TEXT_DIFF => {
            let bytes = fs::read(path).map_err(TaskError::io("read", path))?;
            match String::from_utf8(bytes) {
                Ok(text) if !text.contains('\0') => Side::Text(text),
                _ => Side::Described(format!("binary, {size} bytes")),
            }
        }
        Some(Content::File { size, .. }) => Side::Described(format!("{size} bytes")),
        Some(Content::Symlink { target }) => {
            Side::Described(format!("symlink to `{}`", target.display()))
        }
        Some(Content::Dir { .. }) => Side::Described("directory".to_owned()),
        Some(Content::Other) => Side::Described("special file".to_owned()),
    })
}
