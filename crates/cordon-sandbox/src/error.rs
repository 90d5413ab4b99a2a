//! Errors of the sandbox. Every failure to isolate is an error: the command never runs
//! unsandboxed.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A kernel facility the sandbox cannot work without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelFeature {
    /// Unprivileged user namespaces (`unshare(CLONE_NEWUSER | …)`).
    UserNamespaces,
    /// overlayfs mountable inside a user namespace (Linux ≥ 5.11).
    Overlayfs,
    /// The Landlock LSM (built in and enabled at boot, Linux ≥ 5.13).
    Landlock,
    /// seccomp filters.
    Seccomp,
    /// A `proc` mount inside the new pid namespace.
    Proc,
    /// `close_range(2)` (Linux ≥ 5.9).
    CloseRange,
}

impl fmt::Display for KernelFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UserNamespaces => "user namespaces",
            Self::Overlayfs => "overlayfs in a user namespace",
            Self::Landlock => "Landlock",
            Self::Seccomp => "seccomp filters",
            Self::Proc => "a proc mount in a new pid namespace",
            Self::CloseRange => "close_range",
        })
    }
}

/// The step of the sandbox setup that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetupStage {
    /// Preparing the helper process (signals, descriptors, parent-death signal).
    Prepare,
    /// Entering the new namespaces.
    Unshare,
    /// Writing the uid/gid maps of the new user namespace.
    IdMap,
    /// Building the new root file system.
    Mount,
    /// Switching to the new root.
    PivotRoot,
    /// Hiding a secret path.
    Hide,
    /// Bringing up loopback in the new network namespace.
    Loopback,
    /// Listening for the gateway on loopback inside the new network namespace.
    GatewayListener,
    /// Setting the host name in the new uts namespace.
    Hostname,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Dropping capabilities.
    Capabilities,
    /// Applying the Landlock ruleset.
    Landlock,
    /// Installing the seccomp filter.
    Seccomp,
    /// Forking the command.
    Fork,
    /// Changing to the working directory.
    Chdir,
    /// Opening the command's pseudo-terminal inside and making it the command's
    /// controlling terminal.
    Terminal,
}

impl fmt::Display for SetupStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Prepare => "prepare",
            Self::Unshare => "unshare",
            Self::IdMap => "uid/gid map",
            Self::Mount => "mount",
            Self::PivotRoot => "pivot_root",
            Self::Hide => "hide",
            Self::Loopback => "loopback",
            Self::GatewayListener => "gateway listener",
            Self::Hostname => "hostname",
            Self::NoNewPrivs => "no_new_privs",
            Self::Capabilities => "capabilities",
            Self::Landlock => "landlock",
            Self::Seccomp => "seccomp",
            Self::Fork => "fork",
            Self::Chdir => "chdir",
            Self::Terminal => "terminal",
        })
    }
}

/// Why a sandbox could not be started or waited for.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Not Linux.
    #[error("the sandbox needs Linux; this is `{os}`")]
    UnsupportedOs {
        /// The operating system this was built for.
        os: &'static str,
    },
    /// Linux, but an architecture without a seccomp filter.
    #[error("the sandbox's seccomp filter supports x86_64 only; this is `{arch}`")]
    UnsupportedArch {
        /// The architecture this was built for.
        arch: &'static str,
    },
    /// The kernel lacks something the sandbox needs.
    #[error("the kernel lacks {feature}: {detail}")]
    KernelMissing {
        /// What is missing.
        feature: KernelFeature,
        /// What was tried and what the kernel said.
        detail: String,
    },
    /// The sandbox description is unusable.
    #[error("invalid sandbox: {0}")]
    Config(String),
    /// A setup step failed inside the new namespaces.
    #[error("sandbox setup failed at {stage} ({what}): {source}")]
    Setup {
        /// The step.
        stage: SetupStage,
        /// What it was doing, with the path involved.
        what: String,
        /// The kernel's answer.
        source: io::Error,
    },
    /// The command could not be executed inside the sandbox.
    #[error("cannot run `{command}` in the sandbox: {source}")]
    Exec {
        /// `argv[0]`.
        command: String,
        /// The kernel's answer.
        source: io::Error,
    },
    /// Preparing a host path (workspace, task directory) failed.
    #[error("cannot use `{path}`: {source}")]
    HostPath {
        /// The path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// Talking to or waiting for the sandbox failed.
    #[error("sandbox supervision failed: {0}")]
    Io(#[from] io::Error),
}
