use crate::cli::ExplainArgs;
use anyhow::{Context, Result};
use cordon_core::policy::{PolicyEngine, compile};
use cordon_core::{Action, Decision};
use std::io::Read;
use std::process::ExitCode;

pub fn run(args: &ExplainArgs, policy: Option<&std::path::Path>) -> Result<ExitCode> {
    let (text, origin) = match args.file.as_deref() {
        Some(path) if path.as_os_str() != "-" => (
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?,
            path.display().to_string(),
        ),
        _ => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the action from stdin")?;
            (text, "stdin".to_owned())
        }
    };
    let action: Action = serde_json::from_str(&text).with_context(|| {
        format!("{origin}: not an action (see `cordon explain --help` for its fields)")
    })?;
    let (loaded, source) = super::load_manifest(policy)?;
    let engine = PolicyEngine::new(compile(&loaded)?, loaded.task_name())?;
    let (resolved, evaluation) = cordon_core::evaluate(&loaded.manifest, &engine, &action);
    let evaluation = evaluation?;
    let origins = &engine.compiled().origins;

    if args.json {
        let policies: Vec<serde_json::Value> = evaluation
            .policies
            .iter()
            .map(|id| {
                let origin = origins.get(id);
                serde_json::json!({
                    "id": id,
                    "source": origin.map(|o| o.source.as_str()),
                    "text": origin.map(|o| o.text.as_str()),
                })
            })
            .collect();
        let out = serde_json::json!({
            "decision": evaluation.decision,
            "reasons": evaluation.reasons,
            "policies": policies,
            "action": resolved,
            "manifest": super::describe_source(&source),
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }

    println!("manifest: {}", super::describe_source(&source));
    println!("action:   {}", resolved.describe());
    let headline = match evaluation.decision {
        Decision::Allow => "allow",
        Decision::Deny => "deny",
        Decision::Confirm => {
            "confirm (a human must sign this exact action; explain files no approval)"
        }
    };
    println!("verdict:  {headline}");
    if !evaluation.reasons.is_empty() {
        println!("reasons:");
        for reason in &evaluation.reasons {
            println!("  - {reason}");
        }
    }
    if evaluation.policies.is_empty() {
        println!("policies: none matched (Cedar denies what no policy permits)");
    } else {
        println!("policies:");
        for id in &evaluation.policies {
            match origins.get(id) {
                Some(origin) => {
                    println!("  {id}  (from {})", origin.source);
                    for line in origin.text.lines() {
                        println!("      {line}");
                    }
                }
                None => println!("  {id}"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
