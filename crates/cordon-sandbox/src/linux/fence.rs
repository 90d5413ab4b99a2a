//! The process-level fences applied by init after the new root is in place:
//! capabilities, Landlock and seccomp.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreatedAttr, RulesetStatus, Scope,
};
use rustix::thread::{CapabilitySet, CapabilitySets};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch, sock_filter,
};

use crate::SandboxError;

/// Drop every capability: bounding set, ambient set, then effective, permitted and
/// inheritable.
pub(crate) fn drop_capabilities() -> io::Result<()> {
    for bit in 0..64u32 {
        let cap = CapabilitySet::from_bits_retain(1u64 << bit);
        match rustix::thread::remove_capability_from_bounding_set(cap) {
            Ok(()) => {}
            // Past the last capability this kernel knows.
            Err(rustix::io::Errno::INVAL) => break,
            Err(e) => return Err(e.into()),
        }
    }
    rustix::thread::clear_ambient_capability_set()?;
    let empty = CapabilitySet::empty();
    rustix::thread::set_capabilities(
        None,
        CapabilitySets {
            effective: empty,
            permitted: empty,
            inheritable: empty,
        },
    )?;
    Ok(())
}

/// The Landlock ABI whose rights we ask for, best effort: on an older kernel the
/// rights it does not know are dropped, but a kernel without Landlock is an error.
/// V9 (Linux 7.1) brings `RESOLVE_UNIX`: connecting to a pathname unix socket is then
/// allowed only beneath the writable set (sockets the command made itself), so a host
/// service's socket under a read-only `$HOME` is out of reach wherever it lives.
const LANDLOCK_ABI: ABI = ABI::V9;

/// Why Landlock could not be applied.
pub(crate) enum LandlockFailure {
    /// The kernel enforced nothing.
    NotEnforced,
    Error(io::Error),
}

/// Read (and execute) everywhere; full access only beneath `writable_dirs`; write and
/// device ioctls on `writable_files`. Also scopes signals and abstract unix sockets to
/// the sandbox (ABI 6).
pub(crate) fn landlock(
    writable_dirs: &[PathBuf],
    writable_files: &[PathBuf],
) -> Result<(), LandlockFailure> {
    let err = |e: &dyn std::fmt::Display| LandlockFailure::Error(io::Error::other(e.to_string()));
    let all = AccessFs::from_all(LANDLOCK_ABI);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(all)
        .map_err(|e| err(&e))?
        .scope(Scope::from_all(LANDLOCK_ABI))
        .map_err(|e| err(&e))?
        .create()
        .map_err(|e| err(&e))?;
    let root = PathFd::new("/").map_err(|e| err(&e))?;
    ruleset = ruleset
        .add_rule(PathBeneath::new(root, AccessFs::from_read(LANDLOCK_ABI)))
        .map_err(|e| err(&e))?;
    for dir in writable_dirs {
        let fd = PathFd::new(dir).map_err(|e| err(&e))?;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, all))
            .map_err(|e| err(&e))?;
    }
    for file in writable_files {
        // A device missing on the host was not bound; nothing to allow.
        let Ok(fd) = PathFd::new(file) else { continue };
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, AccessFs::from_file(LANDLOCK_ABI)))
            .map_err(|e| err(&e))?;
    }
    let status = ruleset.restrict_self().map_err(|e| err(&e))?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(LandlockFailure::NotEnforced);
    }
    Ok(())
}

/// Syscalls that fail with `EPERM` inside the sandbox.
const DENIED: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_setns,
    libc::SYS_unshare,
    libc::SYS_bpf,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_perf_event_open,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_userfaultfd,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_iopl,
    libc::SYS_ioperm,
    libc::SYS_uselib,
];

/// `clone` flags that would create namespaces (a nested user namespace gives back
/// every capability inside it).
const NAMESPACE_FLAGS: &[i32] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

/// Terminal ioctls that inject input or reach the console.
const DENIED_IOCTLS: &[u64] = &[libc::TIOCSTI, libc::TIOCLINUX];

fn seccomp_err(e: impl std::fmt::Display) -> SandboxError {
    SandboxError::Config(format!("building the seccomp filter: {e}"))
}

fn masked_flag_rule(arg: u8, flag: u64) -> Result<SeccompRule, SandboxError> {
    let cond = SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Qword,
        SeccompCmpOp::MaskedEq(flag),
        flag,
    )
    .map_err(seccomp_err)?;
    SeccompRule::new(vec![cond]).map_err(seccomp_err)
}

/// The seccomp programs, in the order they are installed. Built in the supervisor.
///
/// 1. Deny list with `EPERM` (and namespace-creating `clone`, `TIOCSTI`); any other
///    architecture than x86_64, which covers the 32-bit `int 0x80` entry, kills the
///    process, and so does any x32 syscall number (bit 30 set).
/// 2. `clone3` fails with `ENOSYS`: its flags live in memory seccomp cannot read, and
///    `ENOSYS` makes the C library fall back to `clone`, which filter 1 inspects.
pub(crate) fn seccomp_programs() -> Result<Vec<BpfProgram>, SandboxError> {
    if std::env::consts::ARCH != "x86_64" {
        return Err(SandboxError::UnsupportedArch {
            arch: std::env::consts::ARCH,
        });
    }
    let arch = TargetArch::x86_64;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|&nr| (nr, Vec::new())).collect();
    rules.insert(
        libc::SYS_clone,
        NAMESPACE_FLAGS
            .iter()
            .map(|&f| masked_flag_rule(0, f as u64))
            .collect::<Result<_, _>>()?,
    );
    rules.insert(
        libc::SYS_ioctl,
        DENIED_IOCTLS
            .iter()
            .map(|&req| {
                let cond = SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, req)
                    .map_err(seccomp_err)?;
                SeccompRule::new(vec![cond]).map_err(seccomp_err)
            })
            .collect::<Result<_, _>>()?,
    );
    let deny = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(seccomp_err)?;
    let mut deny: BpfProgram = deny.try_into().map_err(seccomp_err)?;
    kill_x32(&mut deny)?;

    let clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .map_err(seccomp_err)?;
    Ok(vec![deny, clone3.try_into().map_err(seccomp_err)?])
}

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// seccompiler has no way to match a range of syscall numbers, so splice
/// `if nr >= X32_SYSCALL_BIT { kill }` right after its "load the syscall number"
/// instruction. Its program starts with a three-instruction architecture check, then
/// that load; every later jump is relative and forward, so inserting here moves none
/// of their targets.
fn kill_x32(program: &mut BpfProgram) -> Result<(), SandboxError> {
    let load_nr = program.get(3).cloned();
    if load_nr
        != Some(sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        })
    {
        return Err(SandboxError::Config(
            "unexpected seccomp program layout".to_owned(),
        ));
    }
    let check = [
        sock_filter {
            code: BPF_JMP_JGE_K,
            jt: 0,
            jf: 1,
            k: X32_SYSCALL_BIT,
        },
        sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_KILL_PROCESS,
        },
    ];
    program.splice(4..4, check);
    if program.len() > usize::from(u16::MAX) {
        return Err(SandboxError::Config("seccomp program too long".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_checks_the_architecture_then_kills_x32() {
        let programs = seccomp_programs().unwrap();
        let deny = programs.first().unwrap();
        // Architecture check: load arch, compare with x86_64, else kill.
        assert_eq!(
            deny.get(2).map(|i| i.k),
            Some(libc::SECCOMP_RET_KILL_PROCESS)
        );
        assert_eq!(
            deny.get(4).map(|i| (i.code, i.k)),
            Some((BPF_JMP_JGE_K, X32_SYSCALL_BIT))
        );
        assert_eq!(
            deny.get(5).map(|i| i.k),
            Some(libc::SECCOMP_RET_KILL_PROCESS)
        );
        assert_eq!(programs.len(), 2);
    }
}
