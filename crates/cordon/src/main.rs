//! `cordon`: one binary for every gate. This file only parses the command line and
//! hands off; the logic lives in cordon-core and the gate crates.

mod cli;
mod cmd;
mod report;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CORDON_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = cli::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(error) => {
            report::error(&error);
            ExitCode::from(1)
        }
    }
}
