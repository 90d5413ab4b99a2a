//! `cordon check`: a command line through the classifier and the task's policy.

use crate::cli::CheckArgs;
use anyhow::{Context, Result};
use cordon_classify::{Classification, Finding, ShellContext, classify_shell};
use cordon_core::manifest::LoadedManifest;
use cordon_core::policy::{PolicyEngine, compile};
use cordon_core::{Action, Decision, Effect, Gate};
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What the hooks answer: `confirm` is spelled `ask`, as agents' hook protocols do.
#[derive(Debug, Serialize)]
struct Judgement {
    decision: &'static str,
    effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    reasons: Vec<String>,
    policies: Vec<String>,
    findings: Vec<Finding>,
}

fn spelled(decision: Decision) -> &'static str {
    match decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
        Decision::Confirm => "ask",
    }
}

fn strictness(decision: Decision) -> u8 {
    match decision {
        Decision::Allow => 0,
        Decision::Confirm => 1,
        Decision::Deny => 2,
    }
}

/// One action per finding. Reads and writes keep no host: the network allowlist is the
/// sandbox's and the gateway's to enforce, and a hook that asked about every `curl` of
/// a docs page or POST to a test API would be switched off. Where the effect is
/// dangerous (destroy, exfiltrate, publish) the host stays, so policy can name it.
fn action_for(command: &str, finding: &Finding) -> Action {
    let mut action = Action::new(Gate::Hook, "shell.exec", finding.effect).with_detail(command);
    action.path.clone_from(&finding.path);
    if !matches!(finding.effect, Effect::Read | Effect::Write) {
        action.host.clone_from(&finding.host);
    }
    action.target.clone_from(&finding.target);
    action
}

fn judge(
    command: &str,
    context: &ShellContext,
    loaded: &LoadedManifest,
    engine: &PolicyEngine,
) -> Judgement {
    let Classification {
        effect, findings, ..
    } = classify_shell(command, context);
    let mut decision = Decision::Allow;
    let mut reasons = Vec::new();
    let mut policies = Vec::new();
    let mut target = None;
    let actions: Vec<Action> = if findings.is_empty() {
        vec![Action::new(Gate::Hook, "shell.exec", Effect::Read).with_detail(command)]
    } else {
        findings.iter().map(|f| action_for(command, f)).collect()
    };
    for (index, action) in actions.iter().enumerate() {
        let (resolved, evaluation) = cordon_core::evaluate(&loaded.manifest, engine, action);
        let (verdict, why, ids) = match evaluation {
            Ok(e) => (e.decision, e.reasons, e.policies),
            Err(e) => (
                Decision::Deny,
                vec![format!(
                    "cordon could not decide ({e}); denied because cordon fails closed"
                )],
                vec!["builtin.fail-closed".to_owned()],
            ),
        };
        if verdict == Decision::Allow {
            continue;
        }
        if let Some(finding) = findings.get(index) {
            reasons.push(finding.reason.clone());
        }
        reasons.extend(why);
        policies.extend(ids);
        if strictness(verdict) > strictness(decision) {
            decision = verdict;
            target = resolved
                .target
                .as_ref()
                .map(|t| format!("{} {}", t.kind, t.id))
                .or_else(|| resolved.path.clone())
                .or_else(|| resolved.host.clone());
        }
    }
    let mut seen = std::collections::HashSet::new();
    reasons.retain(|r| seen.insert(r.clone()));
    policies.sort();
    policies.dedup();
    Judgement {
        decision: spelled(decision),
        effect,
        target,
        reasons,
        policies,
        findings,
    }
}

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
            let judgement = judge(&parsed.command, &context, &loaded, &engine);
            writeln!(out, "{}", serde_json::to_string(&judgement)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    let command = args.command.as_deref().unwrap_or_default();
    let judgement = judge(command, &context, &loaded, &engine);
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&judgement)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut headline = format!("{}: {}", judgement.decision, judgement.effect);
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
