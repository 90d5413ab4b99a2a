//! What a webhook receives for a new pending approval.

use cordon_core::approvals::{ApprovalRecord, plain};
use serde_json::{Value, json};
use std::time::{Duration, UNIX_EPOCH};

/// Slack allows 3,000 characters in a section; the exact call rarely needs more.
const DETAIL_LIMIT: usize = 1_500;

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn what(record: &ApprovalRecord) -> String {
    record
        .action()
        .map_or_else(|| record.summary.clone(), |a| plain::summary(&a))
}

fn detail(record: &ApprovalRecord) -> String {
    record.action().map(|a| a.detail).unwrap_or_default()
}

/// The approval's page: `page_url` plus `/approvals/ID`.
pub fn link(page_url: Option<&str>, id: &str) -> Option<String> {
    page_url.map(|base| format!("{}/approvals/{id}", base.trim_end_matches('/')))
}

/// The generic payload: everything a receiver needs to show or route the request.
pub fn generic(record: &ApprovalRecord, link: Option<&str>) -> Value {
    json!({
        "type": "cordon.approval.pending",
        "id": record.id,
        "task": record.task,
        "gate": record.gate,
        "summary": what(record),
        "detail": detail(record),
        "reason": record.reason,
        "action_hash": record.action_hash,
        "created_at": rfc3339(record.created_at),
        "expires_at": rfc3339(record.expires_at),
        "approvers_required": record.approvers_required,
        "url": link,
        "approve_command": format!("cordon approve {}", record.id),
        "deny_command": format!("cordon deny {} --reason '…'", record.id),
    })
}

/// Slack's mrkdwn gives `<`, `>` and `&` meaning (links, `<!channel>`); the agent
/// controls the command text, so none of it may reach Slack unescaped.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn truncate(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(limit).collect();
    cut.push('…');
    cut
}

/// A Slack incoming-webhook message: `text` for notifications, `blocks` for the body.
pub fn slack(record: &ApprovalRecord, link: Option<&str>) -> Value {
    let what = escape(&what(record));
    let line = format!(
        "asked {}, expires {} · approval `{}` · action `{}…`",
        plain::clock(record.created_at),
        plain::clock(record.expires_at),
        record.id,
        record.action_hash.get(..12).unwrap_or(&record.action_hash)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&format!("Approval needed: task {}", record.task), 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{what}*")}}),
    ];
    let detail = detail(record);
    if !detail.is_empty() {
        // Triple backticks inside the command would close the code block early.
        let detail = escape(&truncate(&detail, DETAIL_LIMIT)).replace("```", "'''");
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("```{detail}```")}}));
    }
    if !record.reason.is_empty() {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(&truncate(&record.reason, DETAIL_LIMIT))}]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": line}]}));
    blocks.push(
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "Approve: `cordon approve {id}`   Refuse: `cordon deny {id} --reason '…'`",
            id = record.id
        )}}),
    );
    if let Some(link) = link {
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button",
            "text": {"type": "plain_text", "text": "Open in cordon"},
            "url": link,
        }]}));
    }
    json!({
        "text": format!("cordon: approval needed for task {}: {what} (expires {})", record.task, plain::clock(record.expires_at)),
        "blocks": blocks,
    })
}
