//! A throwaway workspace, task directory and fake home for each test.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use cordon_sandbox::{Sandbox, default_hidden_paths};
use tempfile::TempDir;

pub const PATH: &str = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";

pub struct Env {
    _root: TempDir,
    pub workspace: PathBuf,
    pub task: PathBuf,
    pub home: PathBuf,
    pub cordon_home: PathBuf,
    pub out_dir: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("cordon-sandbox-test")
            .tempdir()
            .unwrap();
        let base = root.path().canonicalize().unwrap();
        let workspace = base.join("ws");
        fs::create_dir_all(workspace.join("src")).unwrap();
        fs::write(workspace.join("README.md"), "real readme\n").unwrap();
        fs::write(workspace.join("src/main.rs"), "fn main() {}\n").unwrap();
        let home = base.join("home");
        fs::create_dir_all(home.join(".aws")).unwrap();
        fs::write(
            home.join(".aws/credentials"),
            "[default]\naws_secret_access_key = REAL-SECRET\n",
        )
        .unwrap();
        fs::create_dir_all(home.join(".ssh")).unwrap();
        fs::write(home.join(".ssh/id_ed25519"), "REAL-SECRET ssh key\n").unwrap();
        fs::write(home.join(".netrc"), "machine x password REAL-SECRET\n").unwrap();
        fs::write(home.join(".bashrc"), "# rc\n").unwrap();
        let cordon_home = home.join(".local/state/cordon");
        fs::create_dir_all(cordon_home.join("keys")).unwrap();
        fs::write(
            cordon_home.join("keys/approval.key"),
            "REAL-SECRET approval key\n",
        )
        .unwrap();
        let task = cordon_home.join("tasks/t1");
        let out_dir = base.join("out");
        fs::create_dir_all(&out_dir).unwrap();
        Self {
            _root: root,
            workspace,
            task,
            home,
            cordon_home,
            out_dir,
        }
    }

    /// `bash -c script` in a sandbox with the fake home visible read-only and the
    /// default secrets hidden.
    pub fn sandbox(&self, script: &str) -> Sandbox {
        Sandbox::new(&self.workspace, &self.task, ["bash", "-c", script])
            .env("PATH", PATH)
            .env("HOME", &self.home)
            .env("LANG", "C")
            .read_only(&self.home)
            .hide_all(default_hidden_paths(&self.home, &self.cordon_home))
    }

    /// Run the script; its exit code and its stdout and stderr together.
    pub fn run(&self, script: &str) -> (i32, String) {
        self.run_sandbox(self.sandbox(script))
    }

    pub fn run_sandbox(&self, sandbox: Sandbox) -> (i32, String) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let out_path = self
            .out_dir
            .join(format!("out-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
        let out = fs::File::create(&out_path).unwrap();
        let err = out.try_clone().unwrap();
        let code = sandbox.stdout(out).stderr(err).run().unwrap();
        let text = fs::read_to_string(&out_path).unwrap();
        (code, text)
    }

    pub fn upper(&self) -> PathBuf {
        self.task.join("upper")
    }
}

pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// A Python snippet that makes raw syscalls through ctypes; `sys(nr, args…)` prints
/// nothing and returns `(result, errno)`.
pub fn python(body: &str) -> String {
    let prelude = "import ctypes, os, sys\nlibc = ctypes.CDLL(None, use_errno=True)\nlibc.syscall.restype = ctypes.c_long\ndef call(nr, *args):\n    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])\n    return (r, ctypes.get_errno())\n";
    format!("python3 -c '{prelude}{body}'")
}
