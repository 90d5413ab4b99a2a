//! The command's pseudo-terminal, inside: init opens it from the sandbox's own devpts,
//! and the command takes it as its controlling terminal.

use std::io;
use std::os::fd::OwnedFd;

use rustix::pty::OpenptFlags;
use rustix::termios::OptionalActions;

use super::plan::TerminalPlan;

/// A new terminal pair from `/dev/ptmx` (inside: the sandbox's devpts), with the
/// human's modes and size: (master, for the supervisor; slave, for the command).
pub(crate) fn open_inside(plan: &TerminalPlan) -> io::Result<(OwnedFd, OwnedFd)> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let master = rustix::pty::openpt(flags)?;
    rustix::pty::unlockpt(&master)?;
    // The peer by descriptor, not by name: no window where another process could
    // open `/dev/pts/N` first.
    let slave = rustix::pty::ioctl_tiocgptpeer(&master, flags)?;
    if let Some(modes) = &plan.modes {
        rustix::termios::tcsetattr(&slave, OptionalActions::Now, modes)?;
    }
    rustix::termios::tcsetwinsize(&slave, plan.size)?;
    Ok((master, slave))
}

/// In the command, before `execve`: a new session led by the command, `terminal` as
/// its controlling terminal (so Ctrl-C and window changes signal the command's
/// foreground group) and as its standard input, output and, when `stderr`, error.
pub(crate) fn become_controlled_by(terminal: &OwnedFd, stderr: bool) -> io::Result<()> {
    rustix::process::setsid()?;
    rustix::process::ioctl_tiocsctty(terminal)?;
    rustix::stdio::dup2_stdin(terminal)?;
    rustix::stdio::dup2_stdout(terminal)?;
    if stderr {
        rustix::stdio::dup2_stderr(terminal)?;
    }
    Ok(())
}
