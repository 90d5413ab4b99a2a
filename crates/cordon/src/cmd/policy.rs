use crate::cli::PolicyCommand;
use anyhow::Result;
use cordon_core::policy::{SCHEMA, compile};
use std::process::ExitCode;

pub fn run(command: PolicyCommand, policy: Option<&std::path::Path>) -> Result<ExitCode> {
    match command {
        PolicyCommand::Schema => {
            print!("{SCHEMA}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Check { file, cedar } => {
            let (loaded, source) = super::load_manifest(file.as_deref().or(policy))?;
            let compiled = compile(&loaded)?;
            let m = &loaded.manifest;
            if cedar {
                for (id, origin) in &compiled.origins {
                    let kind = if origin.confirm {
                        "confirm trigger"
                    } else {
                        "policy"
                    };
                    println!("// {kind} {id} — from {}", origin.source);
                    println!("{}\n", origin.text.trim_end());
                }
            }
            println!("ok: {}", super::describe_source(&source));
            println!(
                "  task `{}`{}, ttl {}{}",
                loaded.task_name(),
                loaded
                    .environment()
                    .map(|e| format!(" in `{e}`"))
                    .unwrap_or_default(),
                humantime::format_duration(m.task.ttl.0),
                if m.task.read_only { ", read-only" } else { "" }
            );
            println!("  workspace {}", loaded.workspace().display());
            println!(
                "  {} allowed host(s), {} credential(s), {} resource(s), {} tool pattern(s)",
                m.network.allow.len(),
                m.credentials.len(),
                m.resources.len(),
                m.tools.allow.len()
            );
            let require: Vec<&str> = m.approval.require.iter().map(|e| e.0.as_str()).collect();
            println!(
                "  a human approves: {}",
                if require.is_empty() {
                    "nothing".to_owned()
                } else {
                    require.join(", ")
                }
            );
            println!(
                "  compiled to {} Cedar policies ({} confirmation triggers)",
                compiled.origins.len(),
                compiled.origins.values().filter(|o| o.confirm).count()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
