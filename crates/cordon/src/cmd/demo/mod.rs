//! `cordon demo`: the incident, replayed against cordon.
//!
//! By default for real (a scripted agent in the sandbox, a local stand-in for the
//! provider behind the gateway); `--decision-path` replays the same calls against
//! `authorize()` alone, which needs no sandbox and is what a machine without one gets.

mod decisions;
mod incident;
mod provider;

use crate::cli::DemoArgs;
use anyhow::Result;
use std::process::ExitCode;

pub fn run(args: &DemoArgs) -> Result<ExitCode> {
    if args.decision_path {
        return decisions::run(args.keep);
    }
    match incident::run(args.keep)? {
        Some(code) => Ok(code),
        None => {
            println!("Replaying the same calls against the decision path alone instead:\n");
            decisions::run(args.keep)
        }
    }
}
