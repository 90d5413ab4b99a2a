//! The sandbox's network: loopback only, and the gateway listener handed to the
//! supervisor as the one way out.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::support::Env;

#[test]
fn spawn_returns_while_the_command_runs() {
    let env = Env::new();
    let started = Instant::now();
    let child = env.sandbox("sleep 30").spawn().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "spawn waited for the command to end"
    );
    child.kill().unwrap();
    assert_eq!(child.wait().unwrap(), 128 + 9);
}

#[test]
fn a_connection_to_the_gateway_port_is_accepted_outside_and_nowhere_else() {
    let env = Env::new();
    let script = r#"
        exec 3<>/dev/tcp/127.0.0.1/3128 || exit 11
        printf 'hello from inside\n' >&3
        read -r answer <&3
        [ "$answer" = "hello from outside" ] || exit 12
        python3 -c '
import errno, socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 3128)); print("bound")
except OSError as e:
    print(errno.errorcode[e.errno])
' >&2
    "#;
    let mut child = env
        .sandbox(script)
        .gateway_port(3128)
        .stderr(std::fs::File::create(env.out_dir.join("net.err")).unwrap())
        .spawn()
        .unwrap();
    let listener = child
        .take_gateway_listener()
        .expect("a listener was handed out");
    assert!(child.take_gateway_listener().is_none(), "handed out twice");
    let (mut stream, peer) = listener.accept().unwrap();
    assert!(peer.ip().is_loopback(), "{peer}");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut line = [0u8; 18];
    stream.read_exact(&mut line).unwrap();
    assert_eq!(&line, b"hello from inside\n");
    stream.write_all(b"hello from outside\n").unwrap();
    assert_eq!(child.wait().unwrap(), 0);
    let err = std::fs::read_to_string(env.out_dir.join("net.err")).unwrap();
    assert_eq!(err.trim(), "EADDRINUSE", "something inside took the port");
}

#[test]
fn without_a_gateway_port_there_is_no_listener_and_no_way_out() {
    let env = Env::new();
    let mut child = env
        .sandbox("exec 3<>/dev/tcp/127.0.0.1/3128 2>/dev/null && exit 0; exit 9")
        .spawn()
        .unwrap();
    assert!(child.take_gateway_listener().is_none());
    assert_eq!(child.wait().unwrap(), 9);
}

#[test]
fn a_file_shown_inside_is_readable_and_cannot_be_changed_or_removed() {
    let env = Env::new();
    let bundle = env.out_dir.join("bundle.pem");
    std::fs::write(&bundle, "-----BEGIN CERTIFICATE-----\n").unwrap();
    let (code, out) = env.run_sandbox(
        env.sandbox(
            "head -c 11 /tmp/.bundle.pem; echo; \
             echo x 2>/dev/null >> /tmp/.bundle.pem && echo appended; \
             rm -f /tmp/.bundle.pem 2>/dev/null && echo removed; \
             head -c 11 /etc/passwd >/dev/null && echo system-ok",
        )
        .read_only_at(&bundle, "/tmp/.bundle.pem"),
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "-----BEGIN \nsystem-ok\n");
    assert_eq!(
        std::fs::read_to_string(&bundle).unwrap(),
        "-----BEGIN CERTIFICATE-----\n"
    );
}
