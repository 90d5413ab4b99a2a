//! More escape attempts, each the honest try of someone looking for a way out: raw
//! packets, DNS and IPv6 to the host, kernel tunables, devices, cgroups, descriptors
//! left open by the supervisor, the host's pathname unix sockets, signals to everything
//! visible, and what /proc tells about the host.

use std::os::unix::net::UnixListener;
use std::process::Command;

use super::support::{Env, python};

#[test]
fn raw_and_packet_sockets_need_a_capability_the_sandbox_lacks() {
    let env = Env::new();
    let (code, out) = env.run(&python(
        "import socket\n\
         for name, fam, kind in [(\"raw\", socket.AF_INET, socket.SOCK_RAW), (\"packet\", socket.AF_PACKET, socket.SOCK_RAW)]:\n    \
             try:\n        socket.socket(fam, kind, 255 if fam == socket.AF_INET else 0); print(name, \"OPENED\")\n    \
             except OSError as e: print(name, e.errno)",
    ));
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("OPENED"), "{out}");
    assert!(
        out.contains("raw 1") && out.contains("packet 1"),
        "EPERM expected: {out}"
    );
}

#[test]
fn dns_and_udp_and_ipv6_lead_nowhere() {
    let env = Env::new();
    // A host service on IPv6 loopback: the sandbox's ::1 is its own.
    let host = std::net::TcpListener::bind("[::1]:0");
    let port = host.as_ref().map_or(1, |l| l.local_addr().unwrap().port());
    let (code, out) = env.run(&format!(
        "getent hosts example.com && echo RESOLVED; \
         python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
try:\n    s.sendto(b\"x\", (\"8.8.8.8\", 53)); print(\"UDP-SENT\")\n\
except OSError as e: print(\"udp\", e.errno)'; \
         (exec 3<>/dev/tcp/::1/{port}) 2>/dev/null && echo CONNECTED-V6; \
         cat /etc/resolv.conf 2>/dev/null | grep -c nameserver; echo done"
    ));
    assert_eq!(code, 0, "{out}");
    for leak in ["RESOLVED", "UDP-SENT", "CONNECTED-V6"] {
        assert!(!out.contains(leak), "{leak}: {out}");
    }
    assert!(out.contains("udp 101"), "ENETUNREACH expected: {out}");
}

#[test]
fn kernel_tunables_cgroups_and_devices_cannot_be_touched() {
    let env = Env::new();
    let (code, out) = env.run(
        "for f in /proc/sys/kernel/core_pattern /proc/sys/kernel/modprobe /proc/sysrq-trigger \
                  /sys/kernel/uevent_helper /sys/fs/cgroup/cgroup.procs; do \
           (echo '|/tmp/x' > $f) 2>/dev/null && echo WROTE $f; done; \
         for d in /dev/mem /dev/kmem /dev/port /dev/sda /dev/vda /dev/kvm /dev/fuse; do \
           [ -e $d ] && echo PRESENT $d; done; \
         mknod /tmp/mem c 1 1 2>/dev/null && echo MKNOD; \
         mkfifo /tmp/fifo && echo fifo-ok",
    );
    assert_eq!(code, 0, "{out}");
    for leak in ["WROTE", "PRESENT", "MKNOD"] {
        assert!(!out.contains(leak), "{leak}: {out}");
    }
    // Harmless things that look alike still work.
    assert!(out.contains("fifo-ok"), "{out}");
}

#[test]
fn no_descriptor_of_the_supervisor_is_left_open_inside() {
    let env = Env::new();
    let (code, out) = env.run("ls -l /proc/self/fd/ | awk 'NR > 1 {print $9, $11}'");
    assert_eq!(code, 0, "{out}");
    let fds: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    // stdin, stdout, stderr, and the descriptor `ls` opened to read the directory.
    assert!(fds.len() <= 4, "descriptors leaked into the sandbox: {out}");
    assert!(!out.contains("socket:"), "a socket leaked in: {out}");
}

#[test]
fn a_host_socket_in_a_hidden_place_does_not_answer() {
    let env = Env::new();
    let dir = env.home.join(".docker/run");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("docker.sock");
    let _daemon = UnixListener::bind(&socket).unwrap();
    let (code, out) = env.run(&format!(
        "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX)\n\
try:\n    s.connect(\"{}\"); print(\"REACHED\")\n\
except OSError as e: print(\"refused\", e.errno)'",
        socket.display()
    ));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("refused"), "{out}");
}

#[test]
fn signalling_everything_visible_cannot_reach_the_host() {
    let env = Env::new();
    let mut canary = Command::new("sleep").arg("300").spawn().unwrap();
    let (_, out) = env.run("kill -9 -1; echo survived");
    let alive = canary.try_wait().unwrap().is_none();
    canary.kill().unwrap();
    canary.wait().unwrap();
    assert!(alive, "kill -1 inside reached a host process: {out}");
}

#[test]
fn proc_shows_no_host_process_and_no_secret_behind_the_mounts() {
    let env = Env::new();
    let (code, out) = env.run(
        "echo environ=$(cat /proc/1/environ 2>/dev/null | tr '\\0' '\\n' | grep -c .); \
         echo procs=$(ls /proc | grep -cE '^[0-9]+$'); \
         echo through-mounts=$(grep -rs REAL-SECRET /proc/self/root/\"$HOME\" 2>/dev/null | grep -c .)",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("environ=0"),
        "init's environment is not readable: {out}"
    );
    let procs: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("procs="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(procs < 10, "only the sandbox's own processes: {out}");
    assert!(out.contains("through-mounts=0"), "{out}");
}
