//! The command's own terminal (`Sandbox::terminal`): opened inside, its master handed
//! to the supervisor, the command in a new session with it as controlling terminal.

use std::fs::File;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cordon_sandbox::SandboxChild;

use super::support::Env;

/// Everything the command writes to its terminal, read on a thread until the
/// command's side closes.
struct Screen {
    master: File,
    chunks: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Screen {
    fn of(child: &mut SandboxChild) -> Self {
        let master = File::from(child.take_terminal().expect("a terminal was handed out"));
        assert!(child.take_terminal().is_none(), "handed out twice");
        let mut reader = master.try_clone().unwrap();
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every descriptor of the command's side is closed.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                if tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            master,
            chunks,
            seen: String::new(),
        }
    }

    fn wait_for(&mut self, needle: &str) -> &str {
        let until = Instant::now() + Duration::from_secs(20);
        while !self.seen.contains(needle) {
            let left = until.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!(
                    "`{needle}` never appeared; the screen shows:\n{}",
                    self.seen
                ),
            }
        }
        &self.seen
    }

    fn rest(mut self) -> String {
        while let Ok(chunk) = self.chunks.recv_timeout(Duration::from_secs(20)) {
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
        self.seen
    }

    fn type_keys(&mut self, keys: &[u8]) {
        self.master.write_all(keys).unwrap();
    }
}

#[test]
fn the_command_gets_a_terminal_of_its_own_in_a_new_session() {
    let env = Env::new();
    let script = r#"
        [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo "all three are terminals"
        echo "name $(tty)"
        echo "size $(stty size)"
        echo "session $(ps -o sid= -p $$ | tr -d ' ') pid $$"
        echo "fds $(readlink /proc/$$/fd/0) $(readlink /proc/$$/fd/1) $(readlink /proc/$$/fd/2)"
    "#;
    let mut child = env.sandbox(script).terminal().spawn().unwrap();
    let screen = Screen::of(&mut child);
    assert_eq!(child.wait().unwrap(), 0);
    let seen = screen.rest();
    assert!(seen.contains("all three are terminals"), "{seen}");
    // From the sandbox's own devpts: the name exists inside.
    assert!(seen.contains("name /dev/pts/0"), "{seen}");
    assert!(seen.contains("size 24 80"), "{seen}");
    assert!(
        seen.contains("session 2 pid 2"),
        "not a session leader: {seen}"
    );
    assert!(
        seen.contains("fds /dev/pts/0 /dev/pts/0 /dev/pts/0"),
        "{seen}"
    );
    // The kernel's line discipline turns the command's newlines into CR LF.
    assert!(seen.contains("\r\n"), "{seen:?}");
}

#[test]
fn ctrl_c_typed_on_the_terminal_interrupts_the_command() {
    let env = Env::new();
    let mut child = env
        .sandbox("echo ready; sleep 30; echo 'not interrupted'")
        .terminal()
        .spawn()
        .unwrap();
    let mut screen = Screen::of(&mut child);
    screen.wait_for("ready");
    screen.type_keys(b"\x03");
    assert_eq!(child.wait().unwrap(), 128 + 2, "{}", screen.rest());
}

#[test]
fn typed_lines_reach_the_command_and_are_echoed() {
    let env = Env::new();
    let mut child = env
        .sandbox("echo ready; read -r line; echo \"got <$line>\"")
        .terminal()
        .spawn()
        .unwrap();
    let mut screen = Screen::of(&mut child);
    screen.wait_for("ready");
    screen.type_keys(b"hello there\r");
    assert_eq!(child.wait().unwrap(), 0);
    let seen = screen.rest();
    assert!(seen.contains("hello there\r\n"), "not echoed: {seen:?}");
    assert!(seen.contains("got <hello there>"), "{seen:?}");
}

#[test]
fn a_window_change_reaches_the_command() {
    let env = Env::new();
    let script = "trap 'echo \"now $(stty size)\"; exit 0' WINCH; echo ready; \
                  while :; do sleep 0.05; done";
    let mut child = env.sandbox(script).terminal().spawn().unwrap();
    let mut screen = Screen::of(&mut child);
    screen.wait_for("ready");
    let size = rustix::termios::Winsize {
        ws_row: 50,
        ws_col: 132,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&screen.master, size).unwrap();
    screen.wait_for("now 50 132");
    assert_eq!(child.wait().unwrap(), 0);
}

#[test]
fn ctrl_z_does_not_leave_the_command_stopped_for_ever() {
    // No shell outside the sandbox could continue it: init does.
    let env = Env::new();
    let mut child = env
        .sandbox("echo ready; sleep 1; echo finished")
        .terminal()
        .spawn()
        .unwrap();
    let mut screen = Screen::of(&mut child);
    screen.wait_for("ready");
    screen.type_keys(b"\x1a");
    screen.wait_for("finished");
    assert_eq!(child.wait().unwrap(), 0);
}

#[test]
fn stderr_can_stay_apart_from_the_terminal() {
    let env = Env::new();
    let err = env.out_dir.join("stderr");
    let mut child = env
        .sandbox("echo to-terminal; echo to-stderr >&2; [ -t 2 ] || echo 'stderr is no terminal'")
        .terminal()
        .stderr(File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let screen = Screen::of(&mut child);
    assert_eq!(child.wait().unwrap(), 0);
    let seen = screen.rest();
    assert!(seen.contains("to-terminal"), "{seen}");
    assert!(seen.contains("stderr is no terminal"), "{seen}");
    assert!(!seen.contains("to-stderr"), "{seen}");
    assert_eq!(std::fs::read_to_string(err).unwrap(), "to-stderr\n");
}

#[test]
fn without_a_terminal_none_is_handed_out() {
    let env = Env::new();
    let mut child = env.sandbox("true").spawn().unwrap();
    assert!(child.take_terminal().is_none());
    assert_eq!(child.wait().unwrap(), 0);
}
