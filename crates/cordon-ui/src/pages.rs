//! The pages: the pending queue, one approval, the tasks and one task's timeline.

use crate::html::esc;
use cordon_core::approvals::{ApprovalRecord, plain};
use cordon_core::audit::{AuditRecord, VerifyReport};
use std::time::{Duration, UNIX_EPOCH};

fn rfc3339(secs: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

fn what(record: &ApprovalRecord) -> String {
    record
        .action()
        .map_or_else(|| record.summary.clone(), |a| plain::summary(&a))
}

/// The queue's content; the page's script re-fetches exactly this.
pub fn queue(pending: &[ApprovalRecord]) -> String {
    if pending.is_empty() {
        return "<p>No approvals are waiting. This list updates by itself.</p>".to_owned();
    }
    let mut html = String::new();
    for r in pending {
        html.push_str(&format!(
            r#"<article class="card" id="pending-{id}">
<p class="what">{what}</p>
<p class="meta">task {task} · asked {asked} · expires {expires}{votes}</p>
<p><a href="/approvals/{id}">Review and decide<span class="visually-hidden"> on {id}</span></a></p>
</article>
"#,
            id = esc(&r.id),
            what = esc(&what(r)),
            task = esc(&r.task),
            asked = plain::clock(r.created_at),
            expires = plain::clock(r.expires_at),
            votes = if r.approvers_required > 1 {
                format!(
                    " · {} of {} approvers",
                    r.approvers.len(),
                    r.approvers_required
                )
            } else {
                String::new()
            },
        ));
    }
    html
}

pub fn queue_page(pending: &[ApprovalRecord]) -> String {
    format!(
        r#"<h2>Pending approvals</h2>
<div id="queue" aria-live="polite">{}</div>"#,
        queue(pending)
    )
}

/// One approval: what exactly, why, and the two decisions.
pub fn approval(r: &ApprovalRecord, csrf: &str, approver: &str, flash: Option<&str>) -> String {
    let detail = r.action().map(|a| a.detail).unwrap_or_default();
    let mut html = String::new();
    if let Some(flash) = flash {
        html.push_str(&format!(
            r#"<p class="flash" role="status">{}</p>"#,
            esc(flash)
        ));
    }
    html.push_str(&format!(
        r#"<h2>Approval {id}</h2>
<div class="card">
<p class="what">{what}</p>
<p class="meta">task {task} · gate {gate} · asked {asked} · expires {expires}</p>
<p>State: <span class="state" id="state">{state}</span>{by}</p>
{detail}
{reason}
<p class="meta">Action hash <code>{hash}</code></p>
</div>
"#,
        id = esc(&r.id),
        what = esc(&what(r)),
        task = esc(&r.task),
        gate = esc(&r.gate),
        asked = esc(&rfc3339(r.created_at)),
        expires = esc(&rfc3339(r.expires_at)),
        state = esc(&r.state),
        by = if r.approvers.is_empty() {
            String::new()
        } else {
            format!(" — approved by {}", esc(&r.approvers.join(", ")))
        },
        detail = if detail.is_empty() {
            String::new()
        } else {
            format!("<p>The exact call:</p><pre>{}</pre>", esc(&detail))
        },
        reason = if r.reason.is_empty() {
            String::new()
        } else {
            format!("<p>Why it needs you: {}</p>", esc(&r.reason))
        },
        hash = esc(&r.action_hash),
    ));
    if r.state == "denied" {
        html.push_str(&format!(
            "<p>Refused by {}: {}</p>",
            esc(r.decided_by.as_deref().unwrap_or("?")),
            esc(r.note.as_deref().unwrap_or(""))
        ));
    }
    if r.state == "pending" {
        html.push_str(&format!(
            r#"<form method="post" action="/approvals/{id}/approve" id="approve-form">
<input type="hidden" name="csrf" value="{csrf}">
<label for="approve-name">Your name</label>
<input type="text" id="approve-name" name="approver" value="{approver}" required autocomplete="name">
<label for="approve-note">Note (optional)</label>
<input type="text" id="approve-note" name="note">
<button type="submit" class="approve" id="approve">Approve this exact action once</button>
</form>
<form method="post" action="/approvals/{id}/deny" id="deny-form">
<input type="hidden" name="csrf" value="{csrf}">
<label for="deny-name">Your name</label>
<input type="text" id="deny-name" name="approver" value="{approver}" required autocomplete="name">
<label for="deny-reason">Reason (the agent reads this)</label>
<textarea id="deny-reason" name="reason" rows="2" required></textarea>
<button type="submit" class="deny" id="deny">Refuse</button>
</form>
"#,
            id = esc(&r.id),
            csrf = esc(csrf),
            approver = esc(approver),
        ));
    }
    html
}

pub fn tasks(rows: &[(String, Option<VerifyReport>)]) -> String {
    let mut html = String::from("<h2>Tasks and audit</h2>\n");
    if rows.is_empty() {
        html.push_str("<p>No audit chains yet.</p>");
        return html;
    }
    html.push_str("<table><thead><tr><th scope=\"col\">task</th><th scope=\"col\">chain</th></tr></thead><tbody>\n");
    for (task, report) in rows {
        html.push_str(&format!(
            "<tr><td><a href=\"/tasks/{t}\">{t}</a></td><td>{}</td></tr>\n",
            verification(report.as_ref()),
            t = esc(task)
        ));
    }
    html.push_str("</tbody></table>");
    html
}

fn verification(report: Option<&VerifyReport>) -> String {
    match report {
        None => r#"<span class="broken">cannot be checked</span>"#.to_owned(),
        Some(r) => match &r.problem {
            None => format!(
                r#"<span class="intact">intact</span> ({} records verified{})"#,
                r.verified,
                if r.torn_bytes.is_some() {
                    "; a torn last line from a crash"
                } else {
                    ""
                }
            ),
            Some(problem) => format!(
                r#"<span class="broken">TAMPERED</span>: {}"#,
                esc(&problem.to_string())
            ),
        },
    }
}

/// Newest first, at most `limit` records.
pub fn timeline(
    task: &str,
    report: Option<&VerifyReport>,
    records: &[AuditRecord],
    limit: usize,
) -> String {
    let mut html = format!(
        "<h2>Task {}</h2>\n<p>Audit chain: {}</p>\n",
        esc(task),
        verification(report)
    );
    html.push_str("<table><thead><tr><th scope=\"col\">#</th><th scope=\"col\">time</th><th scope=\"col\">decision</th><th scope=\"col\">action</th></tr></thead><tbody>\n");
    for record in records.iter().rev().take(limit) {
        let b = &record.body;
        let mut what = esc(&b.action.describe());
        if let Some(reason) = b.verdict.reasons.first() {
            what.push_str(&format!("<br><span class=\"meta\">{}</span>", esc(reason)));
        }
        if let Some(id) = &b.verdict.approval_id {
            what.push_str(&format!(
                " <a href=\"/approvals/{id}\">approval {id}</a>",
                id = esc(id)
            ));
        }
        html.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{what}</td></tr>\n",
            b.seq,
            esc(&b.time),
            esc(b.verdict.decision.as_str())
        ));
    }
    html.push_str("</tbody></table>");
    html
}
