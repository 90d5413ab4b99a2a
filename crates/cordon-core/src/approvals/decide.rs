//! The human's side: approve or refuse, each decision signed with the installation's
//! secret key.

use super::signed::{Decision, SignedDecision};
use super::{
    ApprovalError, ApprovalRecord, Approvals, as_i64, as_u64, now_secs, stored_action_hash,
};
use crate::store::{Db, params};

/// What a decision is checked against before it is signed.
struct Filed {
    task: String,
    action_hash: String,
    expires_at: u64,
    approvers_required: u32,
}

/// The approval `id` as filed, if it can still be decided. Called inside the decision's
/// transaction; PostgreSQL locks the row, so two approvers voting at once take turns
/// and the second sees the first's vote when it counts.
fn pending(db: &mut dyn Db, id: &str, now: u64) -> Result<Filed, ApprovalError> {
    let sql = format!(
        "SELECT task, action_hash, action_json, state, expires_at, approvers_required
         FROM approvals WHERE id = ?1{}",
        db.dialect().for_update()
    );
    let row = db
        .query_opt(&sql, params![id])?
        .ok_or_else(|| ApprovalError::NotFound(id.to_owned()))?;
    let (task, action_hash, action_json, state, expires_at, approvers_required) = (
        row.text(0)?,
        row.text(1)?,
        row.text(2)?,
        row.text(3)?,
        row.int(4)?,
        row.u32(5)?,
    );
    if state != "pending" {
        return Err(ApprovalError::NotPending {
            id: id.to_owned(),
            state,
        });
    }
    if expires_at <= as_i64(now) {
        return Err(ApprovalError::Expired(id.to_owned()));
    }
    // The person deciding was shown `action_json`; sign only if the hash is that.
    if stored_action_hash(&task, &action_json).as_deref() != Some(action_hash.as_str()) {
        return Err(ApprovalError::Tampered(id.to_owned()));
    }
    Ok(Filed {
        task,
        action_hash,
        expires_at: as_u64(expires_at),
        approvers_required,
    })
}

impl Approvals {
    /// Records one human's signed approval; the approval is granted once enough
    /// distinct people have approved. Returns the record after the vote.
    pub fn approve(
        &self,
        id: &str,
        approver: &str,
        note: Option<&str>,
    ) -> Result<ApprovalRecord, ApprovalError> {
        let key = self.keys.secret()?;
        let now = now_secs();
        self.store.transaction(|db| {
            let filed = pending(db, id, now)?;
            let signature = SignedDecision {
                approval: id,
                task: &filed.task,
                action_hash: &filed.action_hash,
                decision: Decision::Approve,
                approver,
                note,
                decided_at: now,
                expires_at: filed.expires_at,
            }
            .sign(key);
            let inserted = db.execute(
                "INSERT INTO approval_votes (approval_id, approver, decided_at, note, signature)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![id, approver, as_i64(now), note, &signature],
            )?;
            if inserted == 0 {
                return Err(ApprovalError::SameApprover {
                    id: id.to_owned(),
                    approver: approver.to_owned(),
                });
            }
            let count = db
                .query_opt(
                    "SELECT COUNT(*) FROM approval_votes WHERE approval_id = ?1",
                    params![id],
                )?
                .map_or(Ok(0), |row| row.u32(0))?;
            if count >= filed.approvers_required {
                db.execute(
                    "UPDATE approvals SET state = 'approved', decided_by = ?2, note = ?3, decided_at = ?4
                     WHERE id = ?1",
                    params![id, approver, note, as_i64(now)],
                )?;
            }
            Ok(())
        })?;
        self.get(id)
    }

    /// Refuses an approval with a signed reason, which travels back to the agent.
    pub fn deny(&self, id: &str, by: &str, reason: &str) -> Result<ApprovalRecord, ApprovalError> {
        let key = self.keys.secret()?;
        let now = now_secs();
        self.store.transaction(|db| {
            let filed = pending(db, id, now)?;
            let signature = SignedDecision {
                approval: id,
                task: &filed.task,
                action_hash: &filed.action_hash,
                decision: Decision::Deny,
                approver: by,
                note: Some(reason),
                decided_at: now,
                expires_at: filed.expires_at,
            }
            .sign(key);
            db.execute(
                "UPDATE approvals SET state = 'denied', decided_by = ?2, note = ?3, decided_at = ?4, signature = ?5
                 WHERE id = ?1 AND state = 'pending'",
                params![id, by, reason, as_i64(now), &signature],
            )?;
            Ok::<_, ApprovalError>(())
        })?;
        self.get(id)
    }
}
