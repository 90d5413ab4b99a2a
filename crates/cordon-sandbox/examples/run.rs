//! Run a command in a sandbox by hand: `cargo run -p cordon-sandbox --example run --
//! WORKSPACE TASK_DIR CMD…`. The host environment is scrubbed and passed; `$HOME` is
//! visible read-only with the built-in secret paths hidden.
#![allow(clippy::print_stderr, reason = "a command-line example")]

use std::path::PathBuf;
use std::process::ExitCode;

use cordon_sandbox::{Sandbox, default_hidden_paths, scrub_env};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(workspace), Some(task)) = (args.next(), args.next()) else {
        eprintln!("usage: run WORKSPACE TASK_DIR CMD…");
        return ExitCode::from(2);
    };
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from);
    let cordon_home = home.join(".local/state/cordon");
    let sandbox = Sandbox::new(workspace, task, args)
        .envs(scrub_env(std::env::vars_os(), &[]))
        .read_only(&home)
        .hide_all(default_hidden_paths(&home, &cordon_home));
    match sandbox.run() {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(255)),
        Err(e) => {
            eprintln!("cordon-sandbox: {e}");
            ExitCode::from(125)
        }
    }
}
