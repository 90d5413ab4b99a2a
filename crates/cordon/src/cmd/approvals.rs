//! `cordon approvals`, `approve`, `deny`: the human's side of a confirmation.

use crate::cli::{ApprovalsArgs, ApproveArgs, DenyArgs};
use anyhow::{Context, Result};
use cordon_core::approvals::{ApprovalRecord, Approvals, plain};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

fn approvals() -> Result<Approvals> {
    let home = cordon_core::home::cordon_home();
    Approvals::open(&home).with_context(|| format!("cannot open approvals in {}", home.display()))
}

/// Who decides: `--as`, else the login name.
pub(super) fn who(given: Option<&String>) -> String {
    given
        .cloned()
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

/// The exact call the agent wants to make, for the person deciding.
fn detail(record: &ApprovalRecord) -> Option<String> {
    record.action().map(|a| a.detail).filter(|d| !d.is_empty())
}

fn json(record: &ApprovalRecord) -> serde_json::Value {
    serde_json::json!({
        "id": record.id,
        "task": record.task,
        "gate": record.gate,
        "state": record.state,
        "summary": record.action().map_or_else(|| record.summary.clone(), |a| plain::summary(&a)),
        "detail": detail(record),
        "reason": record.reason,
        "created_at": rfc3339(record.created_at),
        "expires_at": rfc3339(record.expires_at),
        "approvers_required": record.approvers_required,
        "approvers": record.approvers,
        "action_hash": record.action_hash,
    })
}

/// The block one pending approval gets in the list (and in `cordon run`'s prompt).
pub(super) fn render(record: &ApprovalRecord) -> String {
    let mut text = format!("{}  {}\n", record.id, plain::line(record));
    if let Some(detail) = detail(record) {
        text.push_str(&format!("    {detail}\n"));
    }
    if !record.reason.is_empty() {
        text.push_str(&format!("    why: {}\n", record.reason));
    }
    if record.approvers_required > 1 {
        text.push_str(&format!(
            "    needs {} approvers; so far: {}\n",
            record.approvers_required,
            if record.approvers.is_empty() {
                "none".to_owned()
            } else {
                record.approvers.join(", ")
            }
        ));
    }
    text
}

fn render_list(pending: &[ApprovalRecord]) -> String {
    if pending.is_empty() {
        return "no pending approvals\n".to_owned();
    }
    let mut text: String = pending.iter().map(render).collect();
    text.push_str(
        "\napprove with `cordon approve ID`, refuse with `cordon deny ID --reason '…'`\n",
    );
    text
}

pub fn list(args: &ApprovalsArgs) -> Result<ExitCode> {
    let approvals = approvals()?;
    if args.watch {
        return watch(&approvals, args);
    }
    let pending = approvals.pending()?;
    let text = if args.json {
        pending.iter().map(|r| format!("{}\n", json(r))).collect()
    } else {
        render_list(&pending)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // `cordon approvals | head` is fine.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
    }
}

/// What became of an approval that left the pending list.
fn outcome(record: &ApprovalRecord) -> String {
    let by = record.decided_by.as_deref().unwrap_or("a human");
    match record.state.as_str() {
        "approved" => format!("approved by {}", record.approvers.join(" and ")),
        "denied" => format!(
            "denied by {by}: {}",
            record.note.as_deref().unwrap_or("no reason given")
        ),
        "consumed" => format!("approved by {} and used", record.approvers.join(" and ")),
        "pending" => "expired".to_owned(),
        other => other.to_owned(),
    }
}

fn watch(approvals: &Approvals, args: &ApprovalsArgs) -> Result<ExitCode> {
    crate::cmd::notify::deliver_in_background(cordon_core::home::cordon_home(), args.interval);
    let terminal = std::io::stdout().is_terminal() && !args.json;
    let mut shown: BTreeMap<String, ApprovalRecord> = BTreeMap::new();
    let mut last_screen = String::new();
    let mut first = true;
    loop {
        let pending = approvals.pending()?;
        let mut out = std::io::stdout().lock();
        if terminal {
            let screen = render_list(&pending);
            if screen != last_screen {
                // Home and clear: a redraw, not a scroll, so the list stays readable.
                write!(
                    out,
                    "\x1b[H\x1b[2Jcordon approvals — watching, Ctrl-C stops (updated {})\n\n{screen}",
                    plain::clock(now_secs())
                )?;
                last_screen = screen;
            }
        } else {
            let now: BTreeMap<String, ApprovalRecord> =
                pending.into_iter().map(|r| (r.id.clone(), r)).collect();
            for (id, record) in &now {
                if !shown.contains_key(id) {
                    if args.json {
                        writeln!(
                            out,
                            "{}",
                            serde_json::json!({"event": "pending", "approval": json(record)})
                        )?;
                    } else {
                        write!(out, "{}", render(record))?;
                    }
                }
            }
            for id in shown.keys().filter(|id| !now.contains_key(*id)) {
                let record = approvals.get(id)?;
                if args.json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"event": "decided", "approval": json(&record)})
                    )?;
                } else {
                    writeln!(out, "{id}  {}", outcome(&record))?;
                }
            }
            if first && now.is_empty() && !args.json {
                writeln!(out, "no pending approvals; waiting")?;
            }
            shown = now;
        }
        out.flush()?;
        drop(out);
        first = false;
        std::thread::sleep(args.interval);
    }
}

pub(super) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
