//! Writing a task's changes into the real workspace.

use crate::changes::{Change, ChangeKind, Content, changes};
use crate::snapshot::{Snapshot, SnapshotEntry};
use crate::store::tempfile_in;
use crate::{Task, TaskError, TaskState};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// What `apply` may override.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Write even where the real workspace changed since the task began.
    pub force: bool,
    /// Write protected paths too (git hooks, shell rc files, CI, agent settings).
    pub include_protected: bool,
}

/// A path changed both by the task and, since it began, in the real workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// Workspace-relative.
    pub path: String,
}

/// What `apply` did.
#[derive(Debug, Clone)]
pub struct ApplyReport {
    /// Every change written.
    pub changes: Vec<Change>,
    /// Paths that had changed underneath and were overwritten (with `force`).
    pub overridden: Vec<Conflict>,
}

/// Write every change of `task` into its real workspace and mark it applied.
///
/// Nothing is written unless every check passes: the task is finished, no protected
/// path is changed (unless [`ApplyOptions::include_protected`]), and no changed path
/// changed in the real workspace since the task began (unless
/// [`ApplyOptions::force`]). Each file is written to a temporary file in its
/// directory and renamed into place.
pub fn apply(task: &mut Task, options: ApplyOptions) -> Result<ApplyReport, TaskError> {
    let state_error = |detail: &str| TaskError::State {
        id: task.meta.id.clone(),
        state: task.meta.display_state(),
        detail: detail.to_owned(),
    };
    if task.is_live() {
        return Err(state_error(
            "its command is still running; wait for it or stop it",
        ));
    }
    if task.meta.state == TaskState::Applied {
        return Err(state_error("its changes are already in the workspace"));
    }
    let workspace = task.meta.workspace.clone();
    let upper = task.upper();
    let all = changes(&workspace, &upper)?;

    let protected: Vec<String> = all
        .iter()
        .filter(|c| c.protected)
        .map(|c| c.path.clone())
        .collect();
    if !protected.is_empty() && !options.include_protected {
        return Err(TaskError::Protected { paths: protected });
    }
    let special: Vec<String> = all
        .iter()
        .filter(|c| matches!(c.new, Some(Content::Other)))
        .map(|c| c.path.clone())
        .collect();
    if let Some(path) = special.first() {
        return Err(TaskError::Path {
            path: workspace.join(path),
            detail: "the task left a fifo, socket or device here; cordon applies files, links and directories only"
                .to_owned(),
        });
    }
    let snapshot = task.snapshot()?;
    let conflicts = conflicts(&snapshot, &workspace, &upper, &all)?;
    if !conflicts.is_empty() && !options.force {
        return Err(TaskError::Conflicts {
            paths: conflicts.into_iter().map(|c| c.path).collect(),
        });
    }

    // Deletions first, deepest first, so a path that changes kind is free when its
    // new content arrives; then additions and modifications, parents first.
    let mut deletions: Vec<&Change> = all
        .iter()
        .filter(|c| c.kind == ChangeKind::Deleted)
        .collect();
    deletions.sort_by_key(|c| std::cmp::Reverse(c.path.matches('/').count()));
    for change in deletions {
        let path = workspace.join(&change.path);
        guard_parents(&workspace, &change.path)?;
        let result = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        result.map_err(TaskError::io("remove", &path))?;
    }
    for change in all.iter().filter(|c| c.kind != ChangeKind::Deleted) {
        guard_parents(&workspace, &change.path)?;
        let target = workspace.join(&change.path);
        let source = upper.join(&change.path);
        match &change.new {
            Some(Content::Dir { mode }) => write_dir(&target, *mode)?,
            Some(Content::File { mode, .. }) => write_file(&source, &target, *mode)?,
            Some(Content::Symlink { target: link }) => write_symlink(link, &target)?,
            Some(Content::Other) | None => {}
        }
    }
    task.meta.state = TaskState::Applied;
    task.meta.applied_changes = Some(all.len());
    task.save()?;
    Ok(ApplyReport {
        changes: all,
        overridden: conflicts,
    })
}

/// Paths the task changed that also changed underneath it, to something other than
/// what the task left.
fn conflicts(
    snapshot: &Snapshot,
    workspace: &Path,
    upper: &Path,
    all: &[Change],
) -> Result<Vec<Conflict>, TaskError> {
    let mut out = Vec::new();
    for change in all {
        let real = workspace.join(&change.path);
        let moved = match (&snapshot.began, snapshot.entries.get(&change.path)) {
            (Some(began), _) => began.changed(snapshot.listing.as_ref(), &change.path, &real)?,
            (None, Some(entry)) => !entry.unchanged(&change.path, &real)?,
            // Not there when the task began: a conflict if it is there now.
            (None, None) => fs::symlink_metadata(&real).is_ok(),
        };
        if moved && !same_as_task(change, &real, upper)? {
            out.push(Conflict {
                path: change.path.clone(),
            });
        }
    }
    out.dedup();
    Ok(out)
}

/// Whether the real path already holds exactly what the task left there.
fn same_as_task(change: &Change, real: &Path, upper: &Path) -> Result<bool, TaskError> {
    let meta = fs::symlink_metadata(real);
    Ok(match (&change.new, meta) {
        (None, Err(_)) => true,
        (Some(Content::Dir { .. }), Ok(meta)) => meta.is_dir(),
        (Some(_), Ok(meta)) => {
            let up = upper.join(&change.path);
            let entry = SnapshotEntry::capture(
                &change.path,
                &up,
                &fs::symlink_metadata(&up).map_err(TaskError::io("stat", &up))?,
            )?;
            entry.sha256.is_some() && {
                let now = SnapshotEntry::capture(&change.path, real, &meta)?;
                now.kind == entry.kind && now.sha256 == entry.sha256
            }
        }
        _ => false,
    })
}

/// Refuse to write through a symlink in the real workspace: every parent of `rel`
/// must be a real directory (or not exist yet).
fn guard_parents(workspace: &Path, rel: &str) -> Result<(), TaskError> {
    let mut path = workspace.to_path_buf();
    let mut parts: Vec<&str> = rel.split('/').collect();
    parts.pop();
    for part in parts {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(TaskError::Path {
                    path,
                    detail: "is a symlink in the workspace; cordon will not write through it"
                        .to_owned(),
                });
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(TaskError::io("stat", &path)(e)),
        }
    }
    Ok(())
}

fn write_dir(target: &Path, mode: u32) -> Result<(), TaskError> {
    match fs::symlink_metadata(target) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(TaskError::Path {
            path: target.to_path_buf(),
            detail: "is in the way of a directory the task created".to_owned(),
        }),
        Err(_) => {
            fs::create_dir_all(target).map_err(TaskError::io("create", target))?;
            fs::set_permissions(target, fs::Permissions::from_mode(mode & 0o777))
                .map_err(TaskError::io("chmod", target))
        }
    }
}

fn dir_of(target: &Path) -> Result<&Path, TaskError> {
    let dir = target.parent().ok_or_else(|| TaskError::Path {
        path: target.to_path_buf(),
        detail: "has no parent directory".to_owned(),
    })?;
    fs::create_dir_all(dir).map_err(TaskError::io("create", dir))?;
    Ok(dir)
}

/// Copy `source` (untrusted: opened without following links) to a temporary file
/// beside `target`, flush it, and rename it over `target`.
fn write_file(source: &Path, target: &Path, mode: u32) -> Result<(), TaskError> {
    let dir = dir_of(target)?;
    let mut input = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow())
        .open(source)
        .map_err(TaskError::io("read", source))?;
    let (temp, mut output) = tempfile_in(dir)?;
    let result = std::io::copy(&mut input, &mut output)
        .and_then(|_| output.flush())
        .and_then(|()| fs::set_permissions(&temp, fs::Permissions::from_mode(mode & 0o777)))
        .and_then(|()| output.sync_all());
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(TaskError::io("write", &temp)(e));
    }
    fs::rename(&temp, target).map_err(|e| {
        let _ = fs::remove_file(&temp);
        TaskError::io("rename", target)(e)
    })
}

fn write_symlink(link: &Path, target: &Path) -> Result<(), TaskError> {
    let dir = dir_of(target)?;
    let (temp, file) = tempfile_in(dir)?;
    drop(file);
    fs::remove_file(&temp).map_err(TaskError::io("remove", &temp))?;
    std::os::unix::fs::symlink(link, &temp).map_err(TaskError::io("create the link", &temp))?;
    fs::rename(&temp, target).map_err(|e| {
        let _ = fs::remove_file(&temp);
        TaskError::io("rename", target)(e)
    })
}

fn nofollow() -> i32 {
    #[cfg(target_os = "linux")]
    {
        i32::try_from(rustix::fs::OFlags::NOFOLLOW.bits()).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}
