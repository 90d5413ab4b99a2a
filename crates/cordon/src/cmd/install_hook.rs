//! `cordon install-hook` / `uninstall-hook`.

use crate::cli::InstallHookArgs;
use anyhow::{Context, Result};
use cordon_hook::install::{self, Change, Scope};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn scope(args: &InstallHookArgs) -> Scope {
    if args.project {
        Scope::Project
    } else if args.local {
        Scope::Local
    } else {
        Scope::User
    }
}

fn settings(args: &InstallHookArgs) -> Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .context("HOME is not set, so the user's settings cannot be found")?;
    let project = std::env::current_dir().context("cannot read the working directory")?;
    Ok(install::settings_path(
        super::hook::agent(args.agent),
        scope(args),
        &home,
        &project,
    )?)
}

pub fn install(args: &InstallHookArgs, policy: Option<&Path>) -> Result<ExitCode> {
    let agent = super::hook::agent(args.agent);
    let path = settings(args)?;
    let cordon = std::env::current_exe().context("cannot find cordon's own executable")?;
    let policy = match policy {
        Some(p) => Some(
            std::fs::canonicalize(p)
                .with_context(|| format!("the policy file {} cannot be found", p.display()))?,
        ),
        None => None,
    };
    let command = install::hook_command(&cordon, agent, policy.as_deref());
    if args.dry_run {
        println!("would install into {}:\n  {command}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    let change = install::install(&path, agent, &command)?;
    let verb = if change == Change::Replaced {
        "updated"
    } else {
        "installed"
    };
    println!(
        "{verb} cordon's {} hook in {}",
        agent.name(),
        path.display()
    );
    println!("  command: {command}");
    if agent == cordon_hook::Agent::Codex {
        println!("  Codex runs hooks only when they are enabled in ~/.codex/config.toml:");
        println!("    [features]\n    codex_hooks = true");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn uninstall(args: &InstallHookArgs) -> Result<ExitCode> {
    let agent = super::hook::agent(args.agent);
    let path = settings(args)?;
    if args.dry_run {
        println!("would remove cordon's hook from {}", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    match install::uninstall(&path, agent)? {
        Change::Removed(n) => println!(
            "removed cordon's {} hook from {} ({n} entr{})",
            agent.name(),
            path.display(),
            if n == 1 { "y" } else { "ies" }
        ),
        _ => println!("no cordon hook in {}; nothing changed", path.display()),
    }
    Ok(ExitCode::SUCCESS)
}
