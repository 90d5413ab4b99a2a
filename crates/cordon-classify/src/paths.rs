//! Where a path points: the workspace, scratch space, home, or the rest of the system.
//!
//! All of it is lexical. Symlinks cannot be followed without I/O, so a link inside the
//! workspace that points elsewhere is judged as the workspace path it appears to be.

use crate::word::Arg;

/// A path argument resolved as far as the command line allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathRef {
    /// Normalised absolute path (may hold glob characters), when fully known.
    pub abs: Option<String>,
    /// The deepest directory known to contain whatever the path names: the path itself
    /// when known and glob-free, else the known prefix.
    pub base: Option<String>,
    /// Holds `*`, `?` or `[`: names many files.
    pub glob: bool,
    /// For a path only partly known: the unknown part is inside a name under `base`
    /// (`/tmp/test-$X`), so it cannot be `base` itself.
    pub below_base: bool,
}

/// Everything a path judgement needs to know about where commands run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Places {
    pub cwd: Option<String>,
    pub workspace: Option<String>,
    pub home: Option<String>,
}

const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/srv",
    "/sys",
    "/tmp",
    "/usr",
    "/var",
    "/var/lib",
    "/var/log",
    "/var/tmp",
    "/usr/local",
    "/usr/bin",
    "/usr/lib",
    "/Users",
    "/Applications",
    "/Library",
    "/System",
    "/private",
    "/nix",
    "/snap",
];

const SCRATCH_DIRS: &[&str] = &["/tmp", "/var/tmp", "/dev/shm"];

/// Directory names whose contents any build or package manager recreates.
const DISPOSABLE_DIRS: &[&str] = &[
    "target",
    "node_modules",
    "dist",
    "build",
    "out",
    ".next",
    ".nuxt",
    "__pycache__",
    "coverage",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".cache",
    ".turbo",
    ".parcel-cache",
    ".svelte-kit",
    ".gradle",
    "obj",
    ".eggs",
    "htmlcov",
    ".nyc_output",
    ".angular",
    ".expo",
    ".output",
    ".vercel",
    ".serverless",
    ".terraform",
    "tmp",
    ".tmp",
    "temp",
    "bazel-out",
    "bazel-bin",
    "cmake-build-debug",
    "cmake-build-release",
    "_build",
    ".dart_tool",
    ".pnpm-store",
    "DerivedData",
    ".docusaurus",
    "storybook-static",
    ".sass-cache",
    ".webpack",
    "public/build",
    ".hypothesis",
    "pip-wheel-metadata",
    "lib-cov",
    ".jest-cache",
    "jest_cache",
    ".stack-work",
    "elm-stuff",
    "bower_components",
    ".bundle",
    "vendor/bundle",
    "zig-cache",
    "zig-out",
    ".zig-cache",
    "__snapshots__.new",
];

/// File name patterns of build by-products, logs and editor leftovers.
const DISPOSABLE_SUFFIXES: &[&str] = &[
    ".pyc",
    ".pyo",
    ".o",
    ".class",
    ".log",
    ".tmp",
    ".temp",
    ".orig",
    ".rej",
    ".swp",
    ".swo",
    ".bak",
    ".DS_Store",
    "~",
    ".tsbuildinfo",
    ".profraw",
    ".gcda",
    ".gcno",
    ".egg-info",
    ".coverage",
    ".pid",
    ".snap.new",
    ".pending-snap",
];

pub(crate) fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Lexically normalises an absolute path: no `.`, no `..`, no doubled slashes.
pub(crate) fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    push_normalized(&mut out, path);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Appends the components of `path` to the normalised path `out` (empty for `/`).
fn push_normalized(out: &mut String, path: &str) {
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                let cut = out.rfind('/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                out.push('/');
                out.push_str(c);
            }
        }
    }
}

/// `rel` taken from `dir`, normalised.
fn join(dir: &str, rel: &str) -> String {
    let mut out = String::with_capacity(dir.len() + rel.len() + 1);
    push_normalized(&mut out, dir);
    push_normalized(&mut out, rel);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `path` is `dir` or below it.
pub(crate) fn within(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path.starts_with('/');
    }
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// `path` is strictly below `dir`.
pub(crate) fn below(path: &str, dir: &str) -> bool {
    within(path, dir) && path != dir
}

/// The glob-free leading directories of a normalised path.
fn glob_base(path: &str) -> String {
    let mut base = Vec::new();
    for comp in path.split('/').filter(|c| !c.is_empty()) {
        if has_glob(comp) {
            break;
        }
        base.push(comp);
    }
    format!("/{}", base.join("/"))
}

impl Places {
    /// Resolves a path argument against the working directory and home.
    pub fn resolve(&self, arg: &Arg) -> PathRef {
        match &arg.lit {
            Some(text) => self.resolve_text(text),
            None => {
                // Only the known prefix tells where the unknown part lands: its
                // directory part, resolved like any path.
                let prefix = arg.prefix.as_str();
                if prefix.is_empty() {
                    // `$X/…`: the variable may hold any path, absolute or not.
                    return PathRef {
                        abs: None,
                        base: None,
                        glob: true,
                        below_base: false,
                    };
                }
                let dir = match prefix.rfind('/') {
                    Some(0) => Some("/"),
                    Some(i) => prefix.get(..i),
                    None if prefix.starts_with('~') => None,
                    None => Some("."),
                };
                let base = dir
                    .filter(|d| !d.is_empty())
                    .and_then(|d| self.resolve_text(d).base);
                let name = prefix.rsplit('/').next().unwrap_or("");
                PathRef {
                    abs: None,
                    base,
                    glob: true,
                    below_base: !name.is_empty()
                        && name != "."
                        && name != ".."
                        && prefix.contains('/'),
                }
            }
        }
    }

    pub fn resolve_text(&self, text: &str) -> PathRef {
        let abs = if text.starts_with('/') {
            Some(normalize(text))
        } else if text == "~" || text.starts_with("~/") {
            self.home
                .as_deref()
                .map(|h| join(h, text.get(1..).unwrap_or("")))
        } else {
            self.cwd.as_deref().map(|c| join(c, text))
        };
        match abs {
            Some(abs) => {
                let glob = has_glob(&abs);
                let base = if glob { glob_base(&abs) } else { abs.clone() };
                PathRef {
                    abs: Some(abs),
                    base: Some(base),
                    glob,
                    below_base: false,
                }
            }
            None => PathRef {
                abs: None,
                base: None,
                glob: has_glob(text),
                below_base: false,
            },
        }
    }

    pub fn in_workspace(&self, path: &str) -> bool {
        self.workspace.as_deref().is_some_and(|w| within(path, w))
    }

    pub fn is_workspace_root(&self, path: &str) -> bool {
        self.workspace.as_deref() == Some(path)
    }

    pub fn is_home(&self, path: &str) -> bool {
        self.home.as_deref() == Some(path)
    }

    /// Inside the workspace or scratch space: where writes need no one's approval.
    pub fn writable(&self, path: &str) -> bool {
        self.in_workspace(path) || self.is_scratch(path) || is_null_device(path)
    }

    /// Scratch space, except the home directory: a home that happens to live under
    /// `/tmp` (a CI runner's, a throwaway user's) still holds shell rc files and
    /// everything else a home holds.
    pub fn is_scratch(&self, path: &str) -> bool {
        is_scratch(path) && !self.home.as_deref().is_some_and(|h| within(path, h))
    }

    /// Path relative to the workspace root, when inside it.
    pub fn relative<'p>(&self, path: &'p str) -> Option<&'p str> {
        let w = self.workspace.as_deref()?;
        if path == w {
            return Some("");
        }
        path.strip_prefix(w)?.strip_prefix('/')
    }
}

/// Strictly inside a scratch directory (`/tmp/x`, not `/tmp` itself).
pub(crate) fn is_scratch(path: &str) -> bool {
    SCRATCH_DIRS.iter().any(|d| below(path, d))
}

/// `/`, a top-level system directory, or one of the well-known ones below them.
pub(crate) fn is_system_dir(path: &str) -> bool {
    path == "/" || SYSTEM_DIRS.contains(&path)
}

pub(crate) fn is_null_device(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/stdin" | "/dev/zero"
    ) || path.starts_with("/dev/fd/")
        || path.starts_with("/proc/self/fd/")
}

/// A block device or raw memory: writing there destroys a disk.
pub(crate) fn is_block_device(path: &str) -> bool {
    let Some(dev) = path.strip_prefix("/dev/") else {
        return false;
    };
    [
        "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "disk", "md", "dm-", "loop", "mapper/", "mem",
        "kmem", "port", "rdisk", "sr",
    ]
    .iter()
    .any(|p| dev.starts_with(p))
}

/// Names a build output, cache or by-product that tools recreate.
pub(crate) fn is_disposable(rel: &str) -> bool {
    let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    let dir_hit = comps.iter().enumerate().any(|(i, c)| {
        DISPOSABLE_DIRS.contains(c)
            || c.ends_with(".egg-info")
            || comps
                .get(i + 1)
                .is_some_and(|next| DISPOSABLE_DIRS.contains(&format!("{c}/{next}").as_str()))
    });
    if dir_hit {
        return true;
    }
    comps.last().is_some_and(|last| {
        let name = last.trim_start_matches('*');
        DISPOSABLE_SUFFIXES
            .iter()
            .any(|s| last.ends_with(s) && (!name.is_empty() || *s == "~"))
    })
}

/// The glob covers everything in its directory (`*`, `.*`, `**`, `*/`).
pub(crate) fn covers_all(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    matches!(last, "*" | ".*" | "**" | "*.*" | ".[!.]*" | "{*,.*}" | "?*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places() -> Places {
        Places {
            cwd: Some("/work/app".into()),
            workspace: Some("/work/app".into()),
            home: Some("/home/dev".into()),
        }
    }

    #[test]
    fn resolves_relative_home_and_dotdot() {
        let p = places();
        assert_eq!(p.resolve_text("src").abs.as_deref(), Some("/work/app/src"));
        assert_eq!(p.resolve_text("~").abs.as_deref(), Some("/home/dev"));
        assert_eq!(p.resolve_text("../x").abs.as_deref(), Some("/work/x"));
        assert_eq!(p.resolve_text("/a//b/./c/").abs.as_deref(), Some("/a/b/c"));
        let g = p.resolve_text("dist/*.js");
        assert!(g.glob);
        assert_eq!(g.base.as_deref(), Some("/work/app/dist"));
    }

    #[test]
    fn disposable_names() {
        assert!(is_disposable("target"));
        assert!(is_disposable("web/node_modules/.cache"));
        assert!(is_disposable("**/*.pyc"));
        assert!(is_disposable("pkg.egg-info"));
        assert!(!is_disposable("src"));
        assert!(!is_disposable("src/main.rs"));
        assert!(!is_disposable(".git"));
    }

    #[test]
    fn scratch_is_below_tmp_only() {
        assert!(is_scratch("/tmp/x"));
        assert!(!is_scratch("/tmp"));
        assert!(!is_scratch("/tmpfoo"));
    }
}
