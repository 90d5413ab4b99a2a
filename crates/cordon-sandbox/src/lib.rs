//! cordon's sandbox: run one command in fresh namespaces, on a fresh root, with a
//! copy-on-write workspace, hidden secrets, no network, Landlock and seccomp.
//!
//! # Security boundary
//!
//! A [`Sandbox`] starts its command as follows (see `linux/spawn.rs` for the code):
//!
//! 1. The supervisor forks a helper. The helper closes every descriptor it does not
//!    need, enters new user, mount, pid, net, ipc and uts namespaces, and the supervisor
//!    writes a single-line uid and gid map for it (its own ids, so no privilege is
//!    needed: this works for an ordinary user exactly as for root).
//! 2. The helper forks the sandbox init, pid 1 of the new pid namespace. Init builds a
//!    fresh root on tmpfs: system directories bind-mounted read-only, a private `/tmp`,
//!    a minimal `/dev`, a new `/proc`, and the workspace as an overlayfs mount (lower =
//!    the real workspace, upper and work = the task directory) at its host path. It then
//!    `pivot_root`s and detaches the old root, hides the secret paths, brings up
//!    loopback, hands a listener on it to the supervisor when asked
//!    ([`Sandbox::gateway_port`]), sets `no_new_privs`, drops every capability (bounding set too), applies
//!    Landlock (read-only outside the writable set) and the seccomp filter.
//! 3. Init forks the command (pid 2) and reaps every process until the command exits;
//!    its exit status (or 128 + the signal) becomes the sandbox's exit status. When init
//!    exits the kernel kills everything left in the pid namespace.
//!
//! Killing the supervisor kills the tree: the helper and init carry
//! `PR_SET_PDEATHSIG(SIGKILL)`, and init's death tears down the pid namespace.
//!
//! Any step that fails aborts the spawn with a [`SandboxError`]; nothing ever runs
//! unsandboxed.
//!
//! # Known limitations (see the crate README)
//!
//! * Without [`Sandbox::terminal`], stdin, stdout and stderr are inherited: a command
//!   on the host's terminal shares the host's session (`TIOCSTI` and `TIOCLINUX` are
//!   refused by seccomp; other terminal ioctls are not).
//! * Only x86_64 has a seccomp filter; other architectures are refused.
//! * `PR_SET_PDEATHSIG` fires when the supervisor *thread* that called
//!   [`Sandbox::spawn`] exits, so spawn from a thread that outlives the sandbox.

mod env;
mod error;
mod hide;
#[cfg(target_os = "linux")]
mod linux;
mod sandbox;
mod secrets;

pub use env::{looks_like_secret, scrub_env};
pub use error::{KernelFeature, SandboxError, SetupStage};
pub use hide::{default_hidden_paths, linked_secret_paths};
#[cfg(target_os = "linux")]
pub use linux::relay::{Human, Interjector, TerminalRelay, Typed};
pub use sandbox::{Sandbox, SandboxChild, SandboxKiller};
pub use secrets::{
    MAX_SCANNED, WORKSPACE_SECRETS, WorkspaceScan, scan_workspace, workspace_secrets,
};
