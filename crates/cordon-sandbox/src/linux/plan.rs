//! Everything the sandbox will do, prepared in the supervisor before the fork, so the
//! forked processes only execute it and every error can name a host path.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path, PathBuf};

use crate::{Sandbox, SandboxError};

/// Where init mounts the host's root while it builds the new one.
pub(crate) const OLD_ROOT: &str = "/oldroot";
/// Where init builds the new root before switching to it.
pub(crate) const NEW_ROOT: &str = "/newroot";

/// System directories bound read-only when they exist on the host.
const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc", "/opt",
];

/// Device nodes bound from the host's `/dev`.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// One step of building the new root. `src` paths are already under [`OLD_ROOT`] and
/// `dst` paths under [`NEW_ROOT`].
#[derive(Debug)]
pub(crate) enum MountOp {
    BindReadOnly { src: PathBuf, dst: PathBuf },
    BindWritable { src: PathBuf, dst: PathBuf },
    BindDevice { src: PathBuf, dst: PathBuf },
    Tmpfs { dst: PathBuf, data: &'static CStr },
    Devpts { dst: PathBuf },
    Proc { dst: PathBuf },
    Symlink { target: PathBuf, link: PathBuf },
    Overlay { dst: PathBuf, data: CString },
}

/// A mount step and how to name it in an error.
#[derive(Debug)]
pub(crate) struct Step {
    pub(crate) op: MountOp,
    pub(crate) what: String,
}

#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) steps: Vec<Step>,
    /// Paths (inside) to hide once the new root is in place.
    pub(crate) hide: Vec<PathBuf>,
    /// Directories (inside) where Landlock allows writes.
    pub(crate) writable_dirs: Vec<PathBuf>,
    /// Files (inside) where Landlock allows writes and device ioctls.
    pub(crate) writable_files: Vec<PathBuf>,
    pub(crate) cwd: PathBuf,
    pub(crate) hostname: String,
    pub(crate) exec_candidates: Vec<CString>,
    pub(crate) argv: Vec<CString>,
    pub(crate) envp: Vec<CString>,
    pub(crate) command: String,
    /// Where inside the gateway's listener is bound, if the sandbox has a way out.
    pub(crate) gateway_port: Option<u16>,
    /// More listeners inside, for clients that ignore proxy variables.
    pub(crate) transparent_ports: Vec<u16>,
    /// The command's own terminal, when it gets one.
    pub(crate) terminal: Option<TerminalPlan>,
}

/// How the command's pseudo-terminal starts: like the supervisor's terminal, so the
/// command sees the size and keys (erase, interrupt) the human has.
#[derive(Debug)]
pub(crate) struct TerminalPlan {
    pub(crate) modes: Option<rustix::termios::Termios>,
    pub(crate) size: rustix::termios::Winsize,
}

impl TerminalPlan {
    /// Read from standard input when it is a terminal; 80×24 and the kernel's default
    /// modes when it is not.
    fn from_stdin() -> Self {
        let stdin = rustix::stdio::stdin();
        let modes = rustix::termios::tcgetattr(stdin).ok();
        let size = rustix::termios::tcgetwinsize(stdin)
            .ok()
            .filter(|size| size.ws_row > 0 && size.ws_col > 0)
            .unwrap_or(rustix::termios::Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            });
        Self { modes, size }
    }
}

fn under(prefix: &str, path: &Path) -> PathBuf {
    let mut out = PathBuf::from(prefix);
    out.extend(
        path.components()
            .filter(|c| matches!(c, Component::Normal(_))),
    );
    out
}

fn cstring(bytes: Vec<u8>, what: &str) -> Result<CString, SandboxError> {
    CString::new(bytes).map_err(|_| SandboxError::Config(format!("{what} contains a NUL byte")))
}

/// An absolute, normalised path: no `.`/`..`, so the same string means the same place
/// inside and outside.
fn absolute(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    if !path.is_absolute() {
        return Err(SandboxError::Config(format!(
            "{what} `{}` is not an absolute path",
            path.display()
        )));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
    {
        return Err(SandboxError::Config(format!(
            "{what} `{}` contains `.` or `..`",
            path.display()
        )));
    }
    Ok(path.components().collect())
}

/// A host path that must exist, resolved through symlinks (so a symlinked workspace
/// is mounted where it really is, and the option string cannot be confused).
fn existing(path: &Path, what: &str) -> Result<PathBuf, SandboxError> {
    let path = absolute(path, what)?;
    std::fs::canonicalize(&path).map_err(|source| SandboxError::HostPath { path, source })
}

/// overlayfs splits its options on `,` and `:` and treats `\` as an escape.
fn overlay_safe(path: &Path) -> Result<&Path, SandboxError> {
    let bytes = path.as_os_str().as_bytes();
    if bytes
        .iter()
        .any(|b| matches!(b, b',' | b':' | b'\\' | b'\n'))
    {
        return Err(SandboxError::Config(format!(
            "`{}` cannot be an overlay layer: it contains `,`, `:`, `\\` or a newline",
            path.display()
        )));
    }
    Ok(path)
}

/// An overlay of host directory `lower` at its own path inside, changes in `upper`.
fn overlay(lower: &Path, upper: &Path, work: &Path) -> Result<MountOp, SandboxError> {
    let mut data = b"lowerdir=".to_vec();
    data.extend_from_slice(
        overlay_safe(&under(OLD_ROOT, lower))?
            .as_os_str()
            .as_bytes(),
    );
    data.extend_from_slice(b",upperdir=");
    data.extend_from_slice(
        overlay_safe(&under(OLD_ROOT, upper))?
            .as_os_str()
            .as_bytes(),
    );
    data.extend_from_slice(b",workdir=");
    data.extend_from_slice(overlay_safe(&under(OLD_ROOT, work))?.as_os_str().as_bytes());
    data.extend_from_slice(b",userxattr");
    Ok(MountOp::Overlay {
        dst: under(NEW_ROOT, lower),
        data: cstring(data, "the overlay options")?,
    })
}

pub(crate) fn build(sandbox: &Sandbox) -> Result<Plan, SandboxError> {
    let Some(argv0) = sandbox.argv.first() else {
        return Err(SandboxError::Config("no command given".to_owned()));
    };
    let workspace = existing(&sandbox.workspace, "the workspace")?;
    if !workspace.is_dir() {
        return Err(SandboxError::Config(format!(
            "the workspace `{}` is not a directory",
            workspace.display()
        )));
    }
    let task_dir = absolute(&sandbox.task_dir, "the task directory")?;
    for dir in [task_dir.join("upper"), task_dir.join("work")] {
        std::fs::create_dir_all(&dir).map_err(|source| SandboxError::HostPath {
            path: dir.clone(),
            source,
        })?;
    }
    let task_dir = existing(&task_dir, "the task directory")?;
    if task_dir.starts_with(&workspace) {
        return Err(SandboxError::Config(format!(
            "the task directory `{}` must not be inside the workspace `{}`",
            task_dir.display(),
            workspace.display()
        )));
    }

    let mut steps = Vec::new();
    let mut step = |op: MountOp, what: String| steps.push(Step { op, what });

    for dir in SYSTEM_DIRS {
        let host = Path::new(dir);
        let Ok(meta) = std::fs::symlink_metadata(host) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(host).map_err(|source| SandboxError::HostPath {
                path: host.to_path_buf(),
                source,
            })?;
            step(
                MountOp::Symlink {
                    target,
                    link: under(NEW_ROOT, host),
                },
                format!("symlink `{dir}`"),
            );
        } else if meta.is_dir() {
            step(
                MountOp::BindReadOnly {
                    src: under(OLD_ROOT, host),
                    dst: under(NEW_ROOT, host),
                },
                format!("bind `{dir}` read-only"),
            );
        }
    }

    step(
        MountOp::Tmpfs {
            dst: under(NEW_ROOT, Path::new("/tmp")),
            data: c"mode=1777",
        },
        "private `/tmp`".to_owned(),
    );

    let dev = Path::new("/dev");
    step(
        MountOp::Tmpfs {
            dst: under(NEW_ROOT, dev),
            data: c"mode=0755",
        },
        "tmpfs on `/dev`".to_owned(),
    );
    for name in DEVICES {
        let host = dev.join(name);
        step(
            MountOp::BindDevice {
                src: under(OLD_ROOT, &host),
                dst: under(NEW_ROOT, &host),
            },
            format!("bind `{}`", host.display()),
        );
    }
    step(
        MountOp::Devpts {
            dst: under(NEW_ROOT, &dev.join("pts")),
        },
        "devpts on `/dev/pts`".to_owned(),
    );
    step(
        MountOp::Tmpfs {
            dst: under(NEW_ROOT, &dev.join("shm")),
            data: c"mode=1777",
        },
        "tmpfs on `/dev/shm`".to_owned(),
    );
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        step(
            MountOp::Symlink {
                target: PathBuf::from(target),
                link: under(NEW_ROOT, &dev.join(link)),
            },
            format!("symlink `/dev/{link}`"),
        );
    }
    step(
        MountOp::Proc {
            dst: under(NEW_ROOT, Path::new("/proc")),
        },
        "proc on `/proc`".to_owned(),
    );

    let mut writable_dirs = vec![
        PathBuf::from("/tmp"),
        PathBuf::from("/dev/shm"),
        PathBuf::from("/dev/pts"),
    ];
    for path in &sandbox.read_only {
        let host = existing(path, "a read-only path")?;
        step(
            MountOp::BindReadOnly {
                src: under(OLD_ROOT, &host),
                dst: under(NEW_ROOT, &host),
            },
            format!("bind `{}` read-only", host.display()),
        );
    }
    for (host, inside) in &sandbox.files_at {
        let host = existing(host, "a file shown inside")?;
        let inside = absolute(inside, "the path a file is shown at")?;
        if !host.is_file() {
            return Err(SandboxError::Config(format!(
                "`{}` cannot be shown at `{}`: it is not a regular file",
                host.display(),
                inside.display()
            )));
        }
        step(
            MountOp::BindReadOnly {
                src: under(OLD_ROOT, &host),
                dst: under(NEW_ROOT, &inside),
            },
            format!("show `{}` at `{}`", host.display(), inside.display()),
        );
    }
    for path in &sandbox.writable {
        let host = existing(path, "a writable path")?;
        step(
            MountOp::BindWritable {
                src: under(OLD_ROOT, &host),
                dst: under(NEW_ROOT, &host),
            },
            format!("bind `{}` writable", host.display()),
        );
        writable_dirs.push(host);
    }

    for (dir, state) in &sandbox.copy_on_write {
        let host = existing(dir, "a copy-on-write directory")?;
        let state = absolute(state, "a copy-on-write state directory")?;
        for sub in ["upper", "work"] {
            let made = state.join(sub);
            std::fs::create_dir_all(&made)
                .map_err(|source| SandboxError::HostPath { path: made, source })?;
        }
        let state = existing(&state, "a copy-on-write state directory")?;
        if state.starts_with(&host) {
            return Err(SandboxError::Config(format!(
                "the state of `{}` must not be inside it (`{}`)",
                host.display(),
                state.display()
            )));
        }
        step(
            overlay(&host, &state.join("upper"), &state.join("work"))?,
            format!(
                "copy-on-write `{}` (upper `{}`)",
                host.display(),
                state.join("upper").display()
            ),
        );
        writable_dirs.push(host);
    }

    if sandbox.workspace_read_only {
        step(
            MountOp::BindReadOnly {
                src: under(OLD_ROOT, &workspace),
                dst: under(NEW_ROOT, &workspace),
            },
            format!("bind the workspace `{}` read-only", workspace.display()),
        );
    } else {
        step(
            overlay(&workspace, &task_dir.join("upper"), &task_dir.join("work"))?,
            format!(
                "overlay on `{}` (upper `{}`)",
                workspace.display(),
                task_dir.join("upper").display()
            ),
        );
        writable_dirs.push(workspace.clone());
    }
    let hide = sandbox
        .hide
        .iter()
        .map(|p| absolute(p, "a hidden path"))
        .collect::<Result<Vec<_>, _>>()?;
    let writable_files = DEVICES.iter().map(|name| dev.join(name)).collect();

    let cwd = match &sandbox.cwd {
        Some(cwd) => absolute(cwd, "the working directory")?,
        None => workspace,
    };

    let argv = sandbox
        .argv
        .iter()
        .map(|arg| cstring(arg.clone().into_vec(), "an argument"))
        .collect::<Result<Vec<_>, _>>()?;
    // One entry per name, the last one given: with two, getenv() would return the
    // first and a phantom set over a real secret would not hide it.
    let mut seen = std::collections::HashSet::new();
    let mut env: Vec<&(OsString, OsString)> = sandbox
        .env
        .iter()
        .rev()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect();
    env.reverse();
    let envp = env
        .into_iter()
        .map(|(k, v)| {
            if k.is_empty() || k.as_bytes().contains(&b'=') {
                return Err(SandboxError::Config(format!(
                    "invalid environment variable name `{}`",
                    k.to_string_lossy()
                )));
            }
            let mut kv = k.clone().into_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(kv, "an environment variable")
        })
        .collect::<Result<Vec<_>, _>>()?;

    let exec_candidates = exec_candidates(argv0, &sandbox.env)?;
    if sandbox.hostname.is_empty() || sandbox.hostname.len() > 64 {
        return Err(SandboxError::Config(format!(
            "invalid host name `{}`",
            sandbox.hostname
        )));
    }
    Ok(Plan {
        steps,
        hide,
        writable_dirs,
        writable_files,
        cwd,
        hostname: sandbox.hostname.clone(),
        exec_candidates,
        argv,
        envp,
        command: argv0.to_string_lossy().into_owned(),
        gateway_port: sandbox.gateway_port,
        transparent_ports: if sandbox.gateway_port.is_some() {
            sandbox.transparent_ports.clone()
        } else {
            Vec::new()
        },
        terminal: sandbox.terminal.then(TerminalPlan::from_stdin),
    })
}

/// Like `execvp`: a name without `/` is looked up in the sandbox's own `PATH`.
fn exec_candidates(
    argv0: &OsStr,
    env: &[(OsString, OsString)],
) -> Result<Vec<CString>, SandboxError> {
    if argv0.is_empty() {
        return Err(SandboxError::Config("the command is empty".to_owned()));
    }
    if argv0.as_bytes().contains(&b'/') {
        return Ok(vec![cstring(argv0.as_bytes().to_vec(), "the command")?]);
    }
    let path = env.iter().rev().find(|(k, _)| k == "PATH").map_or_else(
        || OsString::from("/usr/local/bin:/usr/bin:/bin"),
        |(_, v)| v.clone(),
    );
    path.as_bytes()
        .split(|b| *b == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            let mut full = dir.to_vec();
            full.push(b'/');
            full.extend_from_slice(argv0.as_bytes());
            cstring(full, "the command")
        })
        .collect()
}
