//! `cordon run` on a terminal: the command gets a pseudo-terminal of its own inside
//! the sandbox, driven here by a scripted human (`tests/support/pty_driver.py`) on a
//! real pseudo-terminal, as a person at a shell would be.

use std::process::Command;

use serde_json::{Value, json};

use super::sandbox_run::Env;

/// What the scripted human saw.
pub(super) struct Seen {
    pub code: i64,
    pub screen: String,
    pub modes_restored: bool,
}

/// Runs `cordon ARGS` on a fresh terminal, playing `steps` (see the driver's doc).
pub(super) fn at_a_terminal(
    steps: &Value,
    cwd: &std::path::Path,
    envs: &[(&str, &std::ffi::OsStr)],
    args: &[&str],
) -> Seen {
    let driver = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_driver.py");
    let mut command = Command::new("python3");
    command
        .arg(driver)
        .arg(steps.to_string())
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_cordon"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("CORDON_LOG");
    for (name, value) in envs {
        command.env(name, value);
    }
    let out = command.output().expect("python3 runs the terminal driver");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the driver failed: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("the driver printed no report ({e}): {stderr}"));
    let screen = report["screen"].as_str().unwrap_or_default().to_owned();
    if let Some(failed) = report["failed"].as_str() {
        panic!("{failed}; the screen shows:\n{screen}");
    }
    Seen {
        code: report["code"].as_i64().unwrap_or(-1),
        screen,
        modes_restored: report["modes_restored"] == true,
    }
}

trait AtATerminal {
    fn run(&self, steps: &Value, args: &[&str]) -> Seen;
}

impl AtATerminal for Env {
    fn run(&self, steps: &Value, args: &[&str]) -> Seen {
        at_a_terminal(
            steps,
            &self.ws,
            &[
                ("HOME", self.home.as_os_str()),
                ("CORDON_HOME", self.cordon_home.as_os_str()),
            ],
            args,
        )
    }
}

#[test]
fn an_interactive_command_gets_its_own_terminal_with_keys_size_and_ctrl_c() {
    let env = Env::new();
    let script = r#"echo "tty $(tty) size $(stty size)"; echo ready; read -r line; echo "got <$line>"
        trap 'echo "now $(stty size)"' WINCH; echo waiting; while :; do sleep 0.05; done"#;
    let seen = env.run(
        &json!([
            ["expect", "ready"],
            ["send", "typed by hand\r"],
            ["expect", "waiting"],
            ["resize", 40, 120],
            ["expect", "now 40 120"],
            ["send", "\u{3}"],
        ]),
        &["run", "--", "bash", "-c", script],
    );
    // Its own terminal from the sandbox's devpts, the size the human's terminal has.
    assert!(
        seen.screen.contains("tty /dev/pts/0 size 24 80"),
        "{}",
        seen.screen
    );
    // Echoed once, by the command's terminal, not twice (the human's is raw).
    assert_eq!(
        seen.screen.matches("typed by hand").count(),
        2,
        "{}",
        seen.screen
    );
    assert!(
        seen.screen.contains("got <typed by hand>"),
        "{}",
        seen.screen
    );
    assert_eq!(
        seen.code, 130,
        "Ctrl-C interrupts the command: {}",
        seen.screen
    );
    assert!(seen.modes_restored, "the human's terminal was left raw");
}

#[test]
fn the_command_cannot_reach_the_humans_terminal() {
    // An attacker inside looks for the terminal cordon runs on: another pty, the
    // supervisor's descriptors, a process outside. Only its own terminal exists.
    let env = Env::new();
    let script = r#"echo "pts: $(ls /dev/pts | tr '\n' ' ')"
        for pid in $(ls /proc | grep -E '^[0-9]+$'); do
            ls -l /proc/$pid/fd 2>/dev/null | grep -o '/dev/pts/[0-9]*'
        done | sort -u | tr '\n' ' ' | sed 's/^/ttys: /'; echo
        echo probe >/dev/pts/1 2>/dev/null && echo "wrote to pts/1"
        echo "sid $(ps -o sid= -p $$ | tr -d ' ') processes $(ls /proc | grep -cE '^[0-9]+$')""#;
    let seen = env.run(
        &json!([["expect", "processes"]]),
        &["run", "--", "bash", "-c", script],
    );
    assert_eq!(seen.code, 0, "{}", seen.screen);
    assert!(seen.screen.contains("pts: 0 ptmx"), "{}", seen.screen);
    assert!(
        seen.screen.contains("ttys: /dev/pts/0 \r\n"),
        "{}",
        seen.screen
    );
    assert!(!seen.screen.contains("wrote to pts/1"), "{}", seen.screen);
    assert!(seen.screen.contains("sid 2 "), "{}", seen.screen);
}

#[test]
fn no_tty_passes_cordons_own_streams() {
    let env = Env::new();
    let seen = env.run(
        &json!([["expect", "done"]]),
        &[
            "run",
            "--no-tty",
            "--",
            "bash",
            "-c",
            "[ -t 0 ] && echo 'stdin is a terminal'; echo \"tty $(tty)\"; echo done",
        ],
    );
    assert_eq!(seen.code, 0, "{}", seen.screen);
    // The same terminal as cordon's, which is not in the sandbox's devpts: `tty`
    // cannot name it, and no own terminal was made.
    assert!(!seen.screen.contains("tty /dev/pts/0"), "{}", seen.screen);
    assert!(seen.modes_restored);
}
