//! `cordon approvals`, `approve`, `deny`: the human's side of a confirmation.

use crate::cli::{ApprovalsArgs, ApproveArgs, DenyArgs};
use anyhow::{Context, Result};
use cordon_core::approvals::{ApprovalRecord, Approvals};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

fn approvals() -> Result<Approvals> {
    let home = cordon_core::home::cordon_home();
    Approvals::open(&home).with_context(|| format!("cannot open approvals in {}", home.display()))
}

fn who(given: Option<&String>) -> String {
    given
        .cloned()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn clock(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// The exact call the agent wants to make, for the person deciding.
fn detail(record: &ApprovalRecord) -> Option<String> {
    let action: serde_json::Value = serde_json::from_str(&record.action_json).ok()?;
    action.get("detail")?.as_str().map(str::to_owned)
}

pub fn list(args: &ApprovalsArgs) -> Result<ExitCode> {
    let pending = approvals()?.pending()?;
    if args.json {
        for record in &pending {
            println!(
                "{}",
                serde_json::json!({
                    "id": record.id,
                    "task": record.task,
                    "gate": record.gate,
                    "summary": record.summary,
                    "detail": detail(record),
                    "reason": record.reason,
                    "created_at": clock(record.created_at),
                    "expires_at": clock(record.expires_at),
                    "approvers_required": record.approvers_required,
                    "approvers": record.approvers,
                })
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    if pending.is_empty() {
        println!("no pending approvals");
        return Ok(ExitCode::SUCCESS);
    }
    for record in &pending {
        println!(
            "{}  {} (task {}, asked {}, expires {})",
            record.id,
            record.summary,
            record.task,
            clock(record.created_at),
            clock(record.expires_at)
        );
        if let Some(detail) = detail(record) {
            println!("    {detail}");
        }
        if !record.reason.is_empty() {
            println!("    why: {}", record.reason);
        }
        if record.approvers_required > 1 {
            println!(
                "    needs {} approvers; so far: {}",
                record.approvers_required,
                if record.approvers.is_empty() {
                    "none".to_owned()
                } else {
                    record.approvers.join(", ")
                }
            );
        }
    }
    println!("\napprove with `cordon approve ID`, refuse with `cordon deny ID --reason '…'`");
    Ok(ExitCode::SUCCESS)
}

pub fn approve(args: &ApproveArgs) -> Result<ExitCode> {
    let approver = who(args.approver.as_ref());
    let record = approvals()?
        .approve(&args.id, &approver, args.note.as_deref())
        .with_context(|| format!("cannot approve {}", args.id))?;
    if record.state == "approved" {
        println!(
            "approved {}: {}; the identical call passes once",
            record.id, record.summary
        );
    } else {
        println!(
            "recorded {approver}'s approval of {}; {} of {} approvers so far",
            record.id,
            record.approvers.len(),
            record.approvers_required
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn deny(args: &DenyArgs) -> Result<ExitCode> {
    let by = who(args.approver.as_ref());
    let record = approvals()?
        .deny(&args.id, &by, &args.reason)
        .with_context(|| format!("cannot deny {}", args.id))?;
    println!("denied {}: {}", record.id, record.summary);
    Ok(ExitCode::SUCCESS)
}
