//! Secrets inside the workspace: files matching `**/.env*`, `*.pem`, `*.key`, `id_*`
//! private keys and the manifest's `hide` patterns, found by walking the workspace
//! before the sandbox starts, plus every hard link to a hidden file.
//!
//! The sandbox then covers each path found ([`Sandbox::hide`](crate::Sandbox::hide)):
//! an empty read-only file or directory appears in its place. A symlink to a hidden
//! file resolves to the covered file; a hard link to it made before the run is found
//! here by its inode; one made inside fails, since the covered path is a mount point
//! (`link(2)` across mounts is `EXDEV`); `/proc/self/root` leads into the same mounts.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use walkdir::DirEntryExt;

use crate::SandboxError;

/// Patterns hidden in every workspace, matched against workspace-relative paths.
pub const WORKSPACE_SECRETS: &[&str] = &["**/.env*", "**/*.pem", "**/*.key"];

/// SSH-style private keys: `id_*` names are hidden when they have no extension
/// (`id_rsa`, `id_ed25519_sk`) or their content starts like a private key. Hiding every
/// `id_*` would blank source files such as `id_map.rs` and break builds.
const KEY_NAMES: &str = "**/id_*";

/// Directories not descended into: build output and package caches, large and
/// rebuilt by tools, not where people keep credentials.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules"];

/// More entries than this and the scan gives up, and so does the sandbox: a secret
/// past the bound would not be hidden.
pub const MAX_SCANNED: usize = 500_000;

/// Entries below each exact hidden path read for their inodes (to find hard links).
const MAX_INODE_SCAN: usize = 20_000;

fn glob(pattern: &str) -> Result<globset::Glob, SandboxError> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| SandboxError::Config(format!("invalid hide pattern `{pattern}`: {e}")))
}

/// A manifest pattern as a workspace-relative glob: `*.pem` anywhere (like
/// `.gitignore`), `config/master.key` from the workspace root. Absolute patterns must
/// lie in the workspace.
fn workspace_pattern(workspace: &Path, pattern: &str) -> Result<String, SandboxError> {
    let pattern = pattern.trim_end_matches('/');
    if let Some(rest) = Path::new(pattern)
        .strip_prefix(workspace)
        .ok()
        .and_then(Path::to_str)
    {
        return Ok(rest.to_owned());
    }
    if pattern.starts_with('/') || pattern.starts_with('~') {
        return Err(SandboxError::Config(format!(
            "the hide pattern `{pattern}` is a glob outside the workspace `{}`; outside it, hide exact paths",
            workspace.display()
        )));
    }
    let pattern = pattern.trim_start_matches("./");
    Ok(if pattern.contains('/') || pattern.starts_with("**") {
        pattern.to_owned()
    } else {
        format!("**/{pattern}")
    })
}

fn looks_like_private_key(path: &Path) -> bool {
    let mut head = [0u8; 128];
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    let n = file.read(&mut head).unwrap_or(0);
    let head = head.get(..n).unwrap_or_default();
    head.windows(11).any(|w| w == b"PRIVATE KEY")
}

/// `(device, inode)` of every regular file at or below the exact hidden paths, so hard
/// links to them inside the workspace are hidden too.
fn hidden_inodes(paths: &[PathBuf]) -> HashSet<(u64, u64)> {
    let mut inodes = HashSet::new();
    for path in paths {
        let walker = walkdir::WalkDir::new(path).follow_links(false).max_depth(8);
        for entry in walker.into_iter().flatten().take(MAX_INODE_SCAN) {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                inodes.insert((meta.dev(), meta.ino()));
            }
        }
    }
    inodes
}

/// The paths in `workspace` to hide: matches of [`WORKSPACE_SECRETS`], of `id_*`
/// private keys and of `patterns` (the manifest's `hide`), and every hard link to
/// one of them or to a file below `hidden` (the exact hidden paths, such as
/// `~/.ssh`). Symlinked directories are followed, so a secret reached through one is
/// hidden at the path the sandbox resolves it to.
///
/// Fails (and so must the sandbox) when the workspace cannot be read completely or
/// holds more than [`MAX_SCANNED`] entries.
pub fn workspace_secrets(
    workspace: &Path,
    patterns: &[&str],
    hidden: &[PathBuf],
) -> Result<Vec<PathBuf>, SandboxError> {
    Ok(scan_workspace(workspace, patterns, hidden)?.secrets)
}

/// What one walk of the workspace found.
#[derive(Debug, Default)]
pub struct WorkspaceScan {
    /// The paths to hide (see [`workspace_secrets`]).
    pub secrets: Vec<PathBuf>,
    /// Every entry seen, workspace-relative: what existed when the scan ran, which is
    /// what a task needs to tell a file it made from one deleted underneath it.
    pub listed: Vec<String>,
    /// Directories seen but not listed (build output, package caches, hidden ones).
    pub unlisted: Vec<String>,
}

/// [`workspace_secrets`], with the names the walk saw on the way: they cost nothing
/// more to keep.
pub fn scan_workspace(
    workspace: &Path,
    patterns: &[&str],
    hidden: &[PathBuf],
) -> Result<WorkspaceScan, SandboxError> {
    let mut listed = Vec::new();
    let mut unlisted = Vec::new();
    let mut globs = Vec::new();
    for pattern in WORKSPACE_SECRETS {
        globs.push(glob(pattern)?);
    }
    for pattern in patterns {
        globs.push(glob(&workspace_pattern(workspace, pattern)?)?);
    }
    let secrets = set(globs)?;
    let keys = set([glob(KEY_NAMES)?])?;

    let mut found = Vec::new();
    let mut inodes = hidden_inodes(hidden);
    // Every regular file by the inode number the directory listing gives (no `stat`
    // per file: that was most of a 10,000-file workspace's cost); the few whose number
    // is a hidden file's are checked with a `stat` at the end.
    // (inode, where): the path is kept once, as the listing's, unless its name is not
    // UTF-8 (the listing's lossy copy would not lead back to it).
    let mut files: Vec<(u64, Result<usize, PathBuf>)> = Vec::new();
    let mut walker = walkdir::WalkDir::new(workspace)
        .min_depth(1)
        .follow_links(true)
        .into_iter();
    let mut scanned = 0usize;
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(entry) => entry,
            // A symlink loop leads back into what is scanned anyway.
            Err(e) if e.loop_ancestor().is_some() => continue,
            // A dangling symlink points at nothing to hide.
            Err(e)
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => {
                let path = e.path().unwrap_or(workspace).to_path_buf();
                return Err(SandboxError::HostPath {
                    path,
                    source: e
                        .into_io_error()
                        .unwrap_or_else(|| std::io::Error::other("walk failed")),
                });
            }
        };
        scanned += 1;
        if scanned > MAX_SCANNED {
            return Err(SandboxError::Config(format!(
                "the workspace `{}` has more than {MAX_SCANNED} entries; cordon cannot check them all for secrets",
                workspace.display()
            )));
        }
        let Ok(rel) = entry.path().strip_prefix(workspace) else {
            continue;
        };
        let is_dir = entry.file_type().is_dir();
        listed.push(rel.to_string_lossy().into_owned());
        let matched = secrets.is_match(rel)
            || (keys.is_match(rel)
                && rel.extension().is_none_or(|e| e != "pub")
                && (rel.extension().is_none() || looks_like_private_key(entry.path())));
        if matched {
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
            {
                inodes.insert((meta.dev(), meta.ino()));
            }
            found.push(entry.path().to_path_buf());
            if is_dir {
                unlisted.push(rel.to_string_lossy().into_owned());
                walker.skip_current_dir();
            }
            continue;
        }
        let name = entry.file_name();
        if is_dir
            && (SKIPPED_DIRS.iter().any(|d| name == *d)
                || (name == "objects" && rel.parent().is_some_and(|p| p.ends_with(".git"))))
        {
            unlisted.push(rel.to_string_lossy().into_owned());
            walker.skip_current_dir();
            continue;
        }
        if entry.file_type().is_file() {
            // A followed symlink's listing number is the link's own, not its target's.
            let ino = if entry.path_is_symlink() {
                entry.metadata().map_or(0, |m| m.ino())
            } else {
                entry.ino()
            };
            let at = match rel.to_str() {
                Some(_) => Ok(listed.len() - 1),
                None => Err(entry.path().to_path_buf()),
            };
            files.push((ino, at));
        }
    }
    let numbers: HashSet<u64> = inodes.iter().map(|(_, ino)| *ino).collect();
    for (ino, at) in files {
        if !numbers.contains(&ino) {
            continue;
        }
        let path = match at {
            Ok(index) => match listed.get(index) {
                Some(rel) => workspace.join(rel),
                None => continue,
            },
            Err(path) => path,
        };
        if let Ok(meta) = std::fs::metadata(&path)
            && meta.nlink() > 1
            && inodes.contains(&(meta.dev(), meta.ino()))
        {
            found.push(path);
        }
    }
    Ok(WorkspaceScan {
        secrets: found,
        listed,
        unlisted,
    })
}

fn set(globs: impl IntoIterator<Item = globset::Glob>) -> Result<GlobSet, SandboxError> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| SandboxError::Config(format!("invalid hide patterns: {e}")))
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
