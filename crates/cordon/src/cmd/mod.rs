//! One function per subcommand.

mod approvals;
mod audit;
mod check;
mod confine;
mod demo;
mod egress;
mod explain;
mod gateway;
mod hook;
mod init;
mod install_hook;
mod mcp;
mod mcp_bridge;
mod mcp_sandbox;
pub mod notify;
mod policy;
mod profiles;
mod prompt;
mod run;
mod tasks;
mod ui;

use crate::cli::{Cli, Command};
use anyhow::{Context, Result};
use cordon_core::manifest::{self, LoadedManifest, ManifestSource};
use std::path::Path;
use std::process::ExitCode;

pub fn run(cli: Cli) -> Result<ExitCode> {
    let policy = cli.policy.policy.as_deref();
    match cli.command {
        Command::Demo(args) => demo::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Policy(command) => policy::run(command, policy),
        Command::Explain(args) => explain::run(&args, policy),
        Command::Check(args) => check::run(&args, policy),
        Command::Run(args) => run::run(&args, policy),
        Command::Tasks(args) => tasks::list(&args),
        Command::Diff(args) => tasks::diff(&args),
        Command::Apply(args) => tasks::apply(&args),
        Command::Discard(args) => tasks::discard(&args),
        Command::Audit(command) => audit::run(command),
        Command::Hook(args) => Ok(hook::run(&args, policy)),
        Command::InstallHook(args) => install_hook::install(&args, policy),
        Command::UninstallHook(args) => install_hook::uninstall(&args),
        Command::Approvals(args) => approvals::list(&args),
        Command::Approve(args) => approvals::approve(&args),
        Command::Deny(args) => approvals::deny(&args),
        Command::Gateway(args) => gateway::run(&args, policy),
        Command::Notify(args) => notify::run(&args),
        Command::Ui(args) => ui::run(&args),
        Command::Mcp(args) => mcp::run(&args, policy),
    }
}

/// The manifest every command uses: `--policy`, else discovered, else the default.
fn load_manifest(explicit: Option<&Path>) -> Result<(LoadedManifest, ManifestSource)> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    Ok(manifest::discover(explicit, &cwd)?)
}

fn describe_source(source: &ManifestSource) -> String {
    match source {
        ManifestSource::Explicit(p) | ManifestSource::Discovered(p) => p.display().to_string(),
        ManifestSource::BuiltinDefault => {
            "built-in default profile (no cordon.toml found; `cordon init` writes one)".to_owned()
        }
    }
}
