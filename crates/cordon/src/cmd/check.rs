//! `cordon check`: a command line through the classifier and the task's policy.

use crate::cli::CheckArgs;
use anyhow::{Context, Result};
use cordon_classify::ShellContext;
use cordon_core::policy::{PolicyEngine, compile};
use cordon_hook::{Judgement, PolicyOnly, ToolCall, judge, spelled};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn home_dir() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

pub fn run(args: &CheckArgs, policy: Option<&Path>) -> Result<ExitCode> {
    let (loaded, _) = super::load_manifest(policy)?;
    let engine = PolicyEngine::new(compile(&loaded)?, loaded.task_name())?;
    let cwd = match &args.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().context("cannot read the working directory")?,
    };
    let context = ShellContext {
        cwd,
        workspace: loaded.workspace(),
        home: home_dir(),
    };
    let decider = PolicyOnly {
        manifest: loaded,
        engine,
    };
    let cordon_home = cordon_core::home::cordon_home();
    let judge_command = |command: &str| -> Judgement {
        let call = ToolCall::Shell {
            command: command.to_owned(),
        };
        judge(&call, &context, &cordon_home, &decider)
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();

    if args.jsonl {
        #[derive(serde::Deserialize)]
        struct Line {
            command: String,
        }
        for (number, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("cannot read stdin")?;
            if line.trim().is_empty() {
                continue;
            }
            let parsed: Line = serde_json::from_str(&line).with_context(|| {
                format!("stdin line {}: expected {{\"command\": \"…\"}}", number + 1)
            })?;
            let judgement = judge_command(&parsed.command);
            writeln!(out, "{}", serde_json::to_string(&judgement)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let command = args.command.as_deref().unwrap_or_default();
    let judgement = judge_command(command);
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&judgement)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut headline = format!("{}: {}", spelled(judgement.decision), judgement.effect);
    if let Some(target) = &judgement.target {
        headline.push_str(&format!(" {target}"));
    }
    writeln!(out, "{headline}")?;
    for reason in &judgement.reasons {
        writeln!(out, "  - {reason}")?;
    }
    if !judgement.policies.is_empty() {
        writeln!(out, "  policies: {}", judgement.policies.join(", "))?;
    }
    Ok(ExitCode::SUCCESS)
}
