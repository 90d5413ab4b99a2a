//! A real PostgreSQL server for the tests of one test binary, and a fresh database for
//! each test that asks.
//!
//! `scripts/test` installs Debian's `postgresql`; the server binaries are under
//! `/usr/lib/postgresql/<version>/bin` (not on PATH, and this machine has an unrelated
//! `/usr/local/bin/initdb`). PostgreSQL refuses to run as root, so as root the server
//! runs as the `postgres` user the package creates, through `setpriv`. It listens only
//! on a unix socket in its own directory, and dies with the test binary
//! (`--pdeathsig`): a test run leaves no server behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub struct Server {
    socket_dir: PathBuf,
}

const INSTALL: &str =
    "install PostgreSQL's server with `apt-get install postgresql` (./scripts/test does)";

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The Debian server binaries of the newest installed version.
fn bin_dir() -> Result<PathBuf, String> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no /usr/lib/postgresql ({e}): {INSTALL}"))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no server under /usr/lib/postgresql/*/bin: {INSTALL}"))
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .is_ok_and(|uid| uid == 0)
}

/// `postgres`'s uid and gid from /etc/passwd.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
        })
        .ok_or_else(|| format!("running as root and there is no `postgres` user: {INSTALL}"))
}

/// A command that runs as the server's user.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut command = Command::new("setpriv");
        command
            .args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            // The postmaster dies with the thread that started it (see `start`).
            .args(["--pdeathsig", "KILL"])
            .arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Directories left by earlier runs whose test binary is gone.
fn remove_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("cordon-test-pg-"))
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn start() -> Result<Server, String> {
    let bin = bin_dir()?;
    let parent = std::env::temp_dir();
    remove_stale(&parent);
    let root = parent.join(format!("cordon-test-pg-{}", std::process::id()));
    let data = root.join("data");
    let socket_dir = root.join("sock");
    for dir in [&data, &socket_dir] {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if is_root() {
        let (uid, gid) = postgres_user()?;
        for dir in [&data, &socket_dir] {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", dir.display()))?;
        }
    }
    let initdb = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "cordon", "--no-sync", "-E", "UTF8"])
        .args(["--locale=C.UTF-8", "--no-instructions"])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}: {INSTALL}"))?;
    if !initdb.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&initdb.stderr)
        ));
    }
    // PR_SET_PDEATHSIG fires when the *thread* that forked exits, and each test runs
    // on a thread of its own: fork from one that lives as long as the binary.
    let (tx, rx) = std::sync::mpsc::channel();
    let log = root.join("server.log");
    let spawn_data = data.clone();
    let spawn_socket = socket_dir.clone();
    std::thread::spawn(move || {
        let spawned = std::fs::File::create(&log).and_then(|log| {
            as_server_user(&bin.join("postgres"))
                .arg("-D")
                .arg(&spawn_data)
                .arg("-k")
                .arg(&spawn_socket)
                .args(["-c", "listen_addresses=", "-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
                .args(["-c", "max_connections=200"])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
        });
        let _ = tx.send(spawned.map(|_| ()).map_err(|e| e.to_string()));
        loop {
            std::thread::park();
        }
    });
    rx.recv()
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let server = Server { socket_dir };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match postgres::Client::connect(&server.url("postgres"), postgres::NoTls) {
            Ok(_) => return Ok(server),
            Err(e) if Instant::now() > deadline => {
                let log = std::fs::read_to_string(root.join("server.log")).unwrap_or_default();
                return Err(format!("postgres did not come up: {e}\n{log}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

impl Server {
    /// The binary's server, started on first use. Fails the test, never skips it.
    pub fn get() -> &'static Server {
        match SERVER.get_or_init(start) {
            Ok(server) => server,
            Err(e) => panic!("the PostgreSQL tests need a real server: {e}"),
        }
    }

    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://cordon@/{database}?host={}",
            self.socket_dir.display()
        )
    }

    /// A new, empty database; its URL.
    pub fn fresh_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = postgres::Client::connect(&self.url("postgres"), postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot reach the test server: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
        self.url(&name)
    }
}

/// A fresh database on the binary's server.
pub fn fresh_database() -> String {
    Server::get().fresh_database()
}
