//! Escape attempts against the process fences: ptrace, namespaces, mounts, the
//! network, other processes, dangerous syscalls.

use std::net::TcpListener;
use std::process::Command;

use super::support::{Env, python};

#[test]
fn ptrace_fails() {
    let env = Env::new();
    let (code, out) = env.run("strace -f true");
    assert_ne!(code, 0, "{out}");
    let (code, out) = env.run(&python("print(\"traceme\", call(101, 0, 0, 0, 0))"));
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("traceme (-1, 1)"),
        "PTRACE_TRACEME must fail with EPERM: {out}"
    );
}

#[test]
fn process_vm_readv_fails() {
    let env = Env::new();
    let (_, out) = env.run(&python("print(\"vm\", call(310, 1, 0, 0, 0, 0, 0))"));
    assert!(out.contains("vm (-1, 1)"), "{out}");
}

#[test]
fn new_namespaces_and_mounts_fail() {
    let env = Env::new();
    for script in [
        "unshare -r true",
        "unshare -U true",
        "unshare -m true",
        "unshare -n true",
        "mount -t tmpfs x /mnt",
        "mount -t tmpfs x /tmp",
        "mount --bind / /tmp",
        "umount /proc",
        "chroot / true",
    ] {
        let (code, out) = env.run(script);
        assert_ne!(code, 0, "`{script}` succeeded: {out}");
    }
    // clone(CLONE_NEWUSER | SIGCHLD) directly, and clone3 (must fall back to ENOSYS).
    let (_, out) = env.run(&python(
        "print(\"clone\", call(56, 0x10000000 | 17, 0, 0, 0, 0)); print(\"clone3\", call(435, 0, 0))",
    ));
    assert!(out.contains("clone (-1, 1)"), "{out}");
    assert!(out.contains("clone3 (-1, 38)"), "{out}");
}

#[test]
fn dangerous_syscalls_fail_with_eperm() {
    let env = Env::new();
    let calls = [
        ("io_uring_setup", "call(425, 8, 0)"),
        ("bpf", "call(321, 0, 0, 0)"),
        ("keyctl", "call(250, 0, 0, 0)"),
        ("add_key", "call(248, 0, 0, 0, 0, 0)"),
        ("perf_event_open", "call(298, 0, 0, -1, -1, 0)"),
        ("userfaultfd", "call(323, 0)"),
        (
            "setns",
            "call(308, os.open(\"/proc/self/ns/net\", os.O_RDONLY), 0)",
        ),
        ("open_tree", "call(428, -100, 0, 0)"),
        ("fsopen", "call(430, 0, 0)"),
        ("kexec_load", "call(246, 0, 0, 0, 0)"),
        ("tiocsti", "call(16, 0, 0x5412, 0)"),
    ];
    let body: String = calls
        .iter()
        .map(|(name, c)| format!("print(\"{name}\", {c}[1]);"))
        .collect();
    let (code, out) = env.run(&python(&body));
    assert_eq!(code, 0, "{out}");
    for (name, _) in calls {
        assert!(
            out.contains(&format!("{name} 1\n")),
            "{name} must fail with EPERM: {out}"
        );
    }
}

#[test]
fn an_x32_syscall_kills_the_process() {
    let env = Env::new();
    // getpid with the x32 bit set.
    let (code, out) = env.run(&python("call(0x40000000 | 39); print(\"survived\")"));
    assert_eq!(code, 128 + 31, "SIGSYS expected: {out}");
    assert!(!out.contains("survived"), "{out}");
}

#[test]
fn no_capabilities_no_new_privs_and_seccomp_are_in_force() {
    let env = Env::new();
    let (code, out) = env.run(
        "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status",
    );
    assert_eq!(code, 0, "{out}");
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert!(out.contains(&format!("{cap}:\t0000000000000000")), "{out}");
    }
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
}

#[test]
fn host_loopback_is_unreachable_but_inner_loopback_works() {
    let env = Env::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (code, out) = env.run(&format!(
        "(exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && echo CONNECTED-HOST; \
         timeout 3 bash -c '(exec 3<>/dev/tcp/1.1.1.1/80)' 2>/dev/null && echo CONNECTED-OUT; \
         python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); s.listen(); c = socket.create_connection(s.getsockname()); print(\"inner-ok\")'"
    ));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("CONNECTED"), "{out}");
    assert!(out.contains("inner-ok"), "{out}");
}

#[test]
fn the_sandbox_is_pid_1_and_no_host_process_is_visible() {
    let env = Env::new();
    let mut sleeper = Command::new("sleep").arg("300").spawn().unwrap();
    let host_pid = sleeper.id();
    let (code, out) = env.run(&format!(
        "echo self=$$; echo procs=$(ls -d /proc/[0-9]* | wc -l); ps -e -o pid=,comm=; \
         kill -9 {host_pid} 2>/dev/null && echo KILLED; kill -9 1 2>/dev/null; echo after-kill-1; hostname"
    ));
    let still_running = sleeper.try_wait().unwrap().is_none();
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("self=2"),
        "the command is pid 2 under our init: {out}"
    );
    assert!(!out.contains("sleep"), "{out}");
    assert!(!out.contains("KILLED"), "{out}");
    assert!(out.contains("after-kill-1"), "{out}");
    assert!(out.contains("cordon"), "{out}");
    let procs: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // init, bash, and the command substitution's subshell, ls and wc.
    assert!(procs <= 5, "{out}");
    assert!(still_running, "the host process was killed from inside");
}

#[test]
fn secret_environment_variables_are_not_passed() {
    let env = Env::new();
    let vars = cordon_sandbox::scrub_env(
        [
            ("PATH", super::support::PATH),
            ("GITHUB_TOKEN", "REAL-SECRET"),
            ("AWS_SECRET_ACCESS_KEY", "REAL-SECRET"),
            ("KEEP_ME", "fine"),
        ],
        &[],
    );
    let sandbox =
        cordon_sandbox::Sandbox::new(&env.workspace, &env.task, ["bash", "-c", "env"]).envs(vars);
    let (code, out) = env.run_sandbox(sandbox);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("KEEP_ME=fine"), "{out}");
    assert!(!out.contains("REAL-SECRET"), "{out}");
}

#[test]
fn the_supervisor_memory_behind_pid_1_is_unreadable() {
    // Init is a fork of the supervisor (this test binary, whose environment holds
    // CARGO_PKG_NAME): its environment and memory must stay out of reach.
    let env = Env::new();
    let (_, out) = env.run(
        "cat /proc/1/environ; echo; head -c 64 /proc/1/mem | od | head -2; cat /proc/1/maps | head -2; \
         ls -l /proc/1/cwd /proc/1/root /proc/1/fd/ 2>&1; echo done",
    );
    assert!(!out.contains("CARGO_PKG_NAME"), "{out}");
    assert!(!out.contains("cordon-sandbox"), "{out}");
    assert!(out.contains("done"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
}
